//! `greenpipe features` as a user runs it: the binary, the feature group's definition from moto's
//! SageMaker (DescribeFeatureGroup), records sent to the loopback Feature Store runtime through the
//! standard `AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME` setting. Checks the written records, the
//! summary and `--json` outcome, per-row failures with exit 1, and exit 2 for a missing feature group.

use std::path::Path;
use std::process::Output;

use aws_sdk_sagemaker::types::FeatureType;
use greenpipe_tests::featurestore::{create_feature_group, Faults, FeatureStore};
use greenpipe_tests::{unique_name, Aws};

use crate::common::{describe, greenpipe_on_emulator, stdout_json};

struct World {
    group: String,
    store: FeatureStore,
    dir: tempfile::TempDir,
}

impl World {
    async fn new(faults: Faults) -> World {
        let aws = Aws::new().await;
        let sagemaker = aws_sdk_sagemaker::Client::new(&aws.sdk);
        let group = unique_name("cli-fg");
        let features = [
            ("id", FeatureType::String),
            ("ts", FeatureType::String),
            ("score", FeatureType::Fractional),
            ("clicks", FeatureType::Integral),
        ];
        create_feature_group(
            &sagemaker,
            &group,
            "id",
            "ts",
            &features,
            "s3://greenpipe-cli-tests/offline",
        )
        .await
        .expect("CreateFeatureGroup");
        let store = FeatureStore::start(faults, Some(sagemaker))
            .await
            .expect("loopback feature store");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("contract.yaml"),
            "name: clicks\nformat: { type: csv }\ncolumns:\n  - { name: id, type: string }\n  \
             - { name: ts, type: timestamp }\n  - { name: score, type: float }\n  - { name: clicks, type: string }\n\
             features:\n  record_identifier: id\n  event_time_column: ts\n",
        )
        .expect("contract");
        World { group, store, dir }
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write data");
        path.display().to_string()
    }

    /// `greenpipe features FILE --contract ... --feature-group ... ARGS`.
    async fn run(&self, file: &str, group: &str, args: &[&str]) -> Output {
        self.run_with(file, group, args, &[]).await
    }

    async fn run_with(&self, file: &str, group: &str, args: &[&str], env: &[(&str, String)]) -> Output {
        let mut command = greenpipe_on_emulator();
        command
            .args(["features", file, "--contract"])
            .arg(self.dir.path().join("contract.yaml"))
            .args(["--feature-group", group, "--no-progress"])
            .args(args)
            .env(
                "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME",
                self.store.endpoint(),
            )
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        // The loopback server runs on this test's runtime: wait for the binary off its worker threads.
        tokio::task::spawn_blocking(move || command.output().expect("run the greenpipe binary"))
            .await
            .expect("join")
    }
}

fn rows(n: usize) -> String {
    let mut s = String::from("id,ts,score,clicks\n");
    for i in 0..n {
        s.push_str(&format!(
            "u{i},2026-11-27T08:{:02}:00Z,{}.5,{}\n",
            i % 60,
            i,
            i * 2
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_every_row_and_says_so() {
    let w = World::new(Faults::default()).await;
    let file = w.file("clicks.csv", &rows(500));

    let out = w.run(&file, &w.group, &["--concurrency", "8"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.starts_with(&format!(
            "OK feature group {}: 500 rows read, 500 written, 0 failed",
            w.group
        )),
        "{summary}"
    );
    assert_eq!(w.store.online_len(&w.group), 500);
    let record: Vec<(String, String)> = w.store.record(&w.group, "u7").expect("u7 written");
    assert!(
        record.contains(&("score".to_string(), "7.5".to_string())),
        "{record:?}"
    );
    assert!(
        record.contains(&("clicks".to_string(), "14".to_string())),
        "{record:?}"
    );
    assert!(
        record.contains(&("ts".to_string(), "2026-11-27T08:07:00Z".to_string())),
        "{record:?}"
    );

    // Again, with --json: the same records (same event times), nothing new, nothing failed.
    let before = w.store.counters().accepted_writes();
    let out = w.run(&file, &w.group, &["--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let outcome = stdout_json(&out);
    assert_eq!(outcome["written"], 500, "{outcome:#}");
    assert_eq!(outcome["failed"], 0, "{outcome:#}");
    assert_eq!(outcome["featureGroup"], w.group.as_str(), "{outcome:#}");
    assert_eq!(w.store.online_len(&w.group), 500);
    assert_eq!(w.store.counters().accepted_writes(), before + 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_and_bad_rows_are_listed_with_exit_1() {
    let w = World::new(Faults {
        throttle_rate: 0.2,
        error_rate: 0.05,
        seed: 7,
        ..Faults::default()
    })
    .await;
    let mut data = rows(200);
    data.push_str("u-bad-time,yesterday,1.0,1\n");
    data.push_str(",2026-11-27T09:00:00Z,1.0,1\n");
    data.push_str("u-bad-int,2026-11-27T09:00:00Z,1.0,many\n");
    let file = w.file("mixed.csv", &data);
    let failures = w.dir.path().join("failures.jsonl");

    let out = w
        .run(
            &file,
            &w.group,
            &["--json", "--failures", &failures.display().to_string()],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let outcome = stdout_json(&out);
    assert_eq!(outcome["written"], 200, "{outcome:#}");
    assert_eq!(outcome["failed"], 3, "{outcome:#}");
    assert!(
        outcome["retries"].as_u64().unwrap_or(0) > 0,
        "faults were injected: {outcome:#}"
    );
    // Every good row exactly once, despite the retries.
    assert_eq!(w.store.online_len(&w.group), 200);
    let lines = std::fs::read_to_string(&failures).expect("--failures file");
    let types: Vec<String> = lines
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            format!("{}:{}", v["row"], v["errorType"].as_str().unwrap_or_default())
        })
        .collect();
    assert_eq!(
        types,
        [
            "201:InvalidEventTime",
            "202:MissingRecordIdentifier",
            "203:TypeMismatch"
        ],
        "{lines}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_feature_group_is_exit_2_with_its_error_type() {
    let w = World::new(Faults::default()).await;
    let file = w.file("clicks.csv", &rows(3));
    // moto answers DescribeFeatureGroup for a missing group with an HTML 500; the loopback server answers
    // it as the service does (ResourceNotFound), so the control plane goes there for this case.
    let control = [("AWS_ENDPOINT_URL_SAGEMAKER", w.store.endpoint())];
    let out = w.run_with(&file, "no-such-group", &[], &control).await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no-such-group") && stderr.contains("FeatureGroupNotFound"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    assert!(Path::new(&file).exists());
}
