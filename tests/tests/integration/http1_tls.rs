//! The Feature Store client's own HTTP/1.1 client (shared/src/aws/http1.rs) over TLS, the only way it runs
//! in AWS: a PutRecord through the real SDK client to a loopback HTTPS server whose certificate a test CA
//! signed, trusted through `SSL_CERT_FILE` (which the platform-roots loader reads); and the same to a
//! server with a certificate no one trusts, which must fail the handshake, not send anything.
//!
//! Its own test binary: the client's TLS settings are loaded once per process, after the variable is set.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use aws_sdk_sagemakerfeaturestoreruntime::types::FeatureValue;
use greenpipe::stages::write_features::handler::featurestore_client;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn fixture(name: &str) -> PathBuf {
    greenpipe_tests::repo_root().join("tests/fixtures/tls").join(name)
}

/// An HTTPS server on 127.0.0.1 with the named certificate; answers every request `200 {}`; counts the
/// requests it read.
async fn https_server(cert: &str, key: &str) -> (u16, Arc<AtomicUsize>) {
    let certs = vec![CertificateDer::from_pem_file(fixture(cert)).expect("certificate")];
    let key = PrivateKeyDer::from_pem_file(fixture(key)).expect("key");
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, count) = (acceptor.clone(), count.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = tls.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    buf.drain(..end + 4 + length);
                    count.fetch_add(1, Ordering::SeqCst);
                    let body = "{}";
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if tls.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_record_over_tls_trusts_only_known_roots() {
    // Before the client's TLS settings are first built (once per process).
    std::env::set_var("SSL_CERT_FILE", fixture("ca.pem"));
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(greenpipe::aws::https_client())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    let put = |client: aws_sdk_sagemakerfeaturestoreruntime::Client| async move {
        client
            .put_record()
            .feature_group_name("greenpipe-orders")
            .record(
                FeatureValue::builder()
                    .feature_name("order_id")
                    .value_as_string("1")
                    .build(),
            )
            .send()
            .await
    };

    let (port, requests) = https_server("server.pem", "server.key").await;
    let trusted = featurestore_client(&sdk, Some(&format!("https://localhost:{port}")));
    for _ in 0..3 {
        put(trusted.clone()).await.expect("PutRecord over TLS");
    }
    assert_eq!(requests.load(Ordering::SeqCst), 3);

    let (port, requests) = https_server("untrusted.pem", "untrusted.key").await;
    let untrusted = featurestore_client(&sdk, Some(&format!("https://localhost:{port}")));
    let err = put(untrusted)
        .await
        .expect_err("an untrusted certificate must fail");
    let text = format!(
        "{}",
        aws_sdk_sagemakerfeaturestoreruntime::error::DisplayErrorContext(&err)
    );
    assert!(
        text.contains("certificate") || text.contains("UnknownIssuer"),
        "{text}"
    );
    assert_eq!(
        requests.load(Ordering::SeqCst),
        0,
        "nothing is sent over an untrusted connection"
    );
}
