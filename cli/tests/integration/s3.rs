//! `greenpipe validate s3://...` against moto's S3: the binary gets the emulator only through the standard
//! AWS environment (AWS_ENDPOINT_URL, region, credentials), as a user would configure it.

use std::process::Output;

use greenpipe_tests::{gzip, Aws};

use crate::common::{describe, greenpipe_on_emulator, root, stdout_json};

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Run the binary with the emulator as its AWS endpoint and nothing from the user's own AWS setup.
fn greenpipe(args: &[&str]) -> Output {
    greenpipe_on_emulator()
        .args(args)
        .output()
        .expect("run the greenpipe binary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validates_s3_objects_with_literal_keys() {
    let aws = Aws::new().await;
    let bucket = aws.bucket(false).await;
    // A key a person would type: spaces, '+' and '%' are taken literally (no URL-decoding on the CLI).
    let valid_key = "raw/sales 2026+11%27.csv";
    let invalid_key = "raw/sales-invalid.csv.gz";
    aws.put(&bucket, valid_key, read("samples/sales.csv")).await;
    aws.put(&bucket, invalid_key, gzip(&read("samples/sales-invalid.csv")))
        .await;

    let valid_uri = format!("s3://{bucket}/{valid_key}");
    let out = greenpipe(&["validate", &valid_uri, "-c", "contracts/sales.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let r = stdout_json(&out);
    assert_eq!(r["valid"], true);
    assert_eq!(r["rows"], 200);
    assert_eq!(r["source"], valid_uri.as_str());

    let invalid_uri = format!("s3://{bucket}/{invalid_key}");
    let out = greenpipe(&["validate", &invalid_uri, "-c", "contracts/sales.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let r = stdout_json(&out);
    assert_eq!(r["valid"], false);
    assert_eq!(r["compression"], "gzip");
    assert_eq!(r["rows"], 40);

    let out = greenpipe(&["validate", &invalid_uri, "-c", "contracts/sales.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(": INVALID"),
        "{}",
        describe(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_object_exits_2_with_an_aws_error() {
    let aws = Aws::new().await;
    let bucket = aws.bucket(false).await;
    let out = greenpipe(&[
        "validate",
        &format!("s3://{bucket}/no/such.csv"),
        "-c",
        "contracts/sales.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error [AwsError]") && err.contains("no/such.csv"),
        "{}",
        describe(&out)
    );
    assert!(out.stdout.is_empty(), "{}", describe(&out));
}
