//! The S3 adapter against moto: ranged reads, pinning to the version / ETag seen at open, and error
//! mapping through `io::Error` back to greenpipe's typed errors.

use greenpipe::aws::S3Object;
use greenpipe::validate::RandomAccess;
use greenpipe::Error;
use greenpipe_tests::Aws;

/// Run `f` on a blocking thread, as the engine does (S3Object::read_at blocks on the runtime).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranged_reads_return_exact_bytes() {
    let aws = Aws::new().await;
    let bucket = aws.bucket(true).await;
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (version, etag) = aws.put(&bucket, "dir/a b+c.bin", data.clone()).await;

    let object = S3Object::open(&aws.s3, &bucket, "dir/a b+c.bin", None)
        .await
        .unwrap();
    assert_eq!(object.len(), data.len() as u64);
    assert_eq!(object.version_id(), version.as_deref());
    assert_eq!(object.e_tag_unquoted(), etag);
    assert_eq!(object.identity(), version.as_deref().unwrap());

    let expected = data.clone();
    blocking(move || {
        for (offset, len) in [
            (0u64, 10usize),
            (99_990, 10),
            (99_990, 100),
            (12_345, 54_321),
            (100_000, 5),
            (200_000, 1),
        ] {
            let got = object.read_at(offset, len).unwrap();
            let start = (offset as usize).min(expected.len());
            let end = (offset as usize + len).min(expected.len());
            assert_eq!(&got[..], &expected[start..end], "offset {offset} len {len}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versioned_reads_stay_on_the_version_opened() {
    let aws = Aws::new().await;
    let bucket = aws.bucket(true).await;
    aws.put(&bucket, "k.csv", b"old contents".to_vec()).await;
    let object = S3Object::open(&aws.s3, &bucket, "k.csv", None).await.unwrap();
    aws.put(&bucket, "k.csv", b"NEW CONTENTS, longer".to_vec()).await;

    let got = blocking(move || object.read_at(0, 100).unwrap()).await;
    assert_eq!(&got[..], b"old contents");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unversioned_reads_refuse_a_replaced_object() {
    let aws = Aws::new().await;
    let bucket = aws.bucket(false).await;
    let (version, etag) = aws.put(&bucket, "k.csv", b"old contents".to_vec()).await;
    assert_eq!(version, None);
    let object = S3Object::open(&aws.s3, &bucket, "k.csv", None).await.unwrap();
    assert_eq!(object.version_id(), None);
    assert_eq!(object.identity(), etag);
    aws.put(&bucket, "k.csv", b"new contents".to_vec()).await;

    let err = blocking(move || object.read_at(0, 100).unwrap_err()).await;
    // The greenpipe error survives the trip through io::Error.
    let err = Error::from_source_io(err);
    assert_eq!(err.error_type(), "AwsError", "{err}");
    assert!(err.to_string().contains("PreconditionFailed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_errors_are_typed() {
    let aws = Aws::new().await;
    let bucket = aws.bucket(true).await;
    aws.put(&bucket, "k.csv", b"x".to_vec()).await;

    let missing = S3Object::open(&aws.s3, &bucket, "nope.csv", None)
        .await
        .unwrap_err();
    assert_eq!(missing.error_type(), "AwsError", "{missing}");
    assert!(missing.to_string().contains("nope.csv"), "{missing}");
    let bad_version = S3Object::open(&aws.s3, &bucket, "k.csv", Some("no-such-version"))
        .await
        .unwrap_err();
    assert_eq!(bad_version.error_type(), "AwsError", "{bad_version}");
    let no_bucket = S3Object::open(&aws.s3, "gp-no-such-bucket-x", "k.csv", None)
        .await
        .unwrap_err();
    assert_eq!(no_bucket.error_type(), "AwsError", "{no_bucket}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_retryable() {
    // A port nothing listens on: connection refused → Retryable (after the SDK's own retries).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(greenpipe::aws::https_client())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("t", "t", None, None, "t"))
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let err = S3Object::open(&s3, "b", "k", None).await.unwrap_err();
    assert_eq!(err.error_type(), "Retryable", "{err}");
}
