//! What several stages share to talk to AWS: S3 objects as a
//! [`RandomAccess`](crate::validate::RandomAccess) source, configuration, contract loading,
//! the HTTP/1 client, SDK error mapping, and the per-stage table of allowed calls ([`access`]). Each
//! stage's own SDK calls live in its folder under [`crate::stages`].
//!
//! Everything here uses the official SDK clients directly (no traits in between): tests run the same code
//! against moto's server on 127.0.0.1.

pub mod access;
pub mod config;
pub mod contracts;
pub mod http1;
pub mod s3;

pub use config::Config;
pub use s3::S3Object;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use crate::Error;

/// The HTTPS client of every SDK client greenpipe builds: the SDK's own hyper client (connection pool,
/// timeouts, HTTP/2 by ALPN), with rustls on ring instead of the SDK default's aws-lc-rs, which is the
/// largest single part of a function's binary (workspace `Cargo.toml`). Platform root certificates.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The SDK configuration from the standard chain (environment, profiles, `AWS_ENDPOINT_URL`, region),
/// sending through [`https_client`]. What every function loads once per cold start.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// Error codes AWS services use for throttling (S3 answers `SlowDown` with a 503).
pub(crate) const THROTTLING_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "ProvisionedThroughputExceededException",
    "KmsThrottlingException",
];

/// Map an SDK error to a greenpipe [`Error`]: throttling → `Throttled`, 5xx / timeouts / network
/// failures → `Retryable`, anything else → `Aws` with the service's error code. `what` names the call,
/// e.g. `GetObject s3://bucket/key`. The SDK error itself is the error's source
/// ([`Error::sdk_source`]). (The SDK has already retried transient failures by the time this runs.)
pub fn sdk_error<E>(what: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let (class, message) = match &err {
        SdkError::TimeoutError(_) => (Class::Retryable, format!("{what}: timed out")),
        SdkError::DispatchFailure(f) if !f.is_user() => (
            Class::Retryable,
            format!("{what}: request failed: {}", error_chain(&err)),
        ),
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("Unknown");
            let message = ctx.err().message().unwrap_or("");
            let status = status.unwrap_or(0);
            let text = format!(
                "{what}: {code} (HTTP {status}){}{message}",
                if message.is_empty() { "" } else { ": " }
            );
            if status == 429 || THROTTLING_CODES.contains(&code) {
                (Class::Throttled, text)
            } else if status >= 500 {
                (Class::Retryable, text)
            } else {
                (Class::Aws, text)
            }
        }
        SdkError::ResponseError(_) if status.is_some_and(|s| s >= 500) => {
            (Class::Retryable, format!("{what}: {}", error_chain(&err)))
        }
        // An answer the SDK could not read as the service's error (an emulator's 403 in the wrong
        // format, say): the status still tells what happened.
        _ => match status {
            Some(status) => (
                Class::Aws,
                format!("{what}: HTTP {status}: {}", error_chain(&err)),
            ),
            None => (Class::Aws, format!("{what}: {}", error_chain(&err))),
        },
    };
    class.error(message, Some(Box::new(err)))
}

/// Which of the three AWS failure kinds an error is (its `error_type`: `Throttled`, `Retryable`,
/// `AwsError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Throttled,
    Retryable,
    Aws,
}

impl Class {
    pub(crate) fn error(self, message: String, source: Option<crate::error::BoxError>) -> Error {
        match self {
            Class::Throttled => Error::Throttled { message, source },
            Class::Retryable => Error::Retryable { message, source },
            Class::Aws => Error::Aws { message, source },
        }
    }
}

/// Whether an AWS error code means throttling.
pub(crate) fn is_throttling_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

/// An error and its sources on one line.
pub(crate) fn error_text(err: &dyn std::error::Error) -> String {
    error_chain(err)
}

/// The error and its sources on one line (SDK errors put the useful part in the sources).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Characters left as they are in the key part of an `x-amz-copy-source` value.
const COPY_SOURCE_KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `x-amz-copy-source` for CopyObject / UploadPartCopy: `bucket/url-encoded-key[?versionId=...]`.
pub(crate) fn copy_source(bucket: &str, key: &str, version_id: Option<&str>) -> String {
    let key = percent_encoding::utf8_percent_encode(key, COPY_SOURCE_KEEP);
    match version_id {
        Some(v) => format!(
            "{bucket}/{key}?versionId={}",
            percent_encoding::utf8_percent_encode(v, COPY_SOURCE_KEEP)
        ),
        None => format!("{bucket}/{key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_copy_sources() {
        assert_eq!(copy_source("b", "a dir/x+y%.csv", None), "b/a%20dir/x%2By%25.csv");
        assert_eq!(copy_source("b", "k?#", Some("v1.2")), "b/k%3F%23?versionId=v1.2");
        assert_eq!(copy_source("b", "é", None), "b/%C3%A9");
    }
}
