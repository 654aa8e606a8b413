//! Library errors. Every variant maps to a stable `error_type` name (see [`Error::error_type`]) that the
//! state machine's Retry/Catch clauses match on; renaming one is a breaking change for deployed definitions.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The typed source an error carries: for a failed SDK call, the SDK's own error
/// (`SdkError<GetObjectError>`, ...), which a caller can downcast instead of parsing the message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No contract file was found for the object (searched locations listed).
    #[error("no data contract found for {key}: looked in {searched:?}")]
    ContractNotFound { key: String, searched: Vec<String> },

    /// The contract exists but cannot be parsed or compiled (bad YAML/JSON/DQDL, bad regex, ...).
    #[error("invalid data contract {source_name}: {message}")]
    ContractInvalid { source_name: String, message: String },

    /// The contract uses a rule or option greenpipe does not implement. Never silently ignored.
    #[error("unsupported rule in contract {source_name}: {rule}")]
    UnsupportedRule { source_name: String, rule: String },

    /// The data format or compression cannot be determined or is not supported.
    #[error("unsupported format: {0}")]
    UnsupportedFormat(String),

    /// The object is larger than the configured limit; it was not read.
    #[error("object {key} is {size} bytes, over the limit of {limit} bytes")]
    ObjectTooLarge { key: String, size: u64, limit: u64 },

    /// The input event is not one of the accepted shapes.
    #[error("invalid event: {0}")]
    InvalidEvent(String),

    /// Configuration is missing or malformed (names the variable).
    #[error("configuration error: {0}")]
    Config(String),

    /// Registering the dataset in the Glue Data Catalog would change the table's schema in a way that breaks
    /// data already registered (removed column, changed type, ...), and the contract's
    /// `catalog.allow_breaking` is false. Nothing was changed; the report lists every change.
    #[error("breaking schema change to Glue table {table} refused (catalog.allow_breaking is false): {}; report: {report}", .changes.join("; "))]
    SchemaChangeRefused {
        table: String,
        changes: Vec<String>,
        report: String,
    },

    /// The object's key does not fit the table layout its contract's `catalog` section declares (location,
    /// partition keys such as `dt=2026-11-27/`).
    #[error("object key {key} does not match the catalog layout: {message}")]
    KeyLayoutMismatch { key: String, message: String },

    /// A SageMaker job for the same data and settings is still running (started by another execution of
    /// the same data). Retrying later finds it finished, and then adopts or replaces it.
    #[error("{kind} job {job} for this data is {status}")]
    JobInProgress {
        kind: &'static str,
        job: String,
        status: String,
    },
    /// The contract asks SageMaker for an image, instance type, instance count or runtime outside what
    /// the stack allows (its allow-lists and caps). Nothing was started.
    #[error("refused: {0}")]
    PlanRefused(String),

    /// The Feature Store feature group named by the contract or request does not exist.
    #[error("feature group {0} not found")]
    FeatureGroupNotFound(String),

    /// The contract's `features` mapping does not fit the feature group's definition (a feature the group
    /// does not define, a column the contract does not declare, an event time feature of Integral type).
    #[error("feature mapping does not fit feature group {group}: {message}")]
    FeatureGroupMismatch { group: String, message: String },

    /// An offline (bulk) load was asked for a feature group without an offline store.
    #[error("feature group {0} has no offline store: an offline load needs one")]
    OfflineStoreMissing(String),

    /// The data cannot be read to the end (corrupt compression, unreadable Parquet, oversized record).
    #[error("data unreadable: {0}")]
    DataUnreadable(String),

    /// AWS throttled us; safe to retry with backoff.
    #[error("throttled: {message}")]
    Throttled {
        message: String,
        /// The SDK's error when an SDK call failed (see [`Error::sdk_source`]).
        #[source]
        source: Option<BoxError>,
    },

    /// A transient failure (network, 5xx, timeout); safe to retry.
    #[error("retryable: {message}")]
    Retryable {
        message: String,
        #[source]
        source: Option<BoxError>,
    },

    /// A non-retryable AWS error (access denied, missing bucket, ...).
    #[error("aws error: {message}")]
    Aws {
        message: String,
        #[source]
        source: Option<BoxError>,
    },

    /// One of greenpipe's own values (a report, a response, an execution input) did not serialise to
    /// JSON: a bug, not bad input or a failed AWS call.
    #[error("serialising {what}: {source}")]
    Serialize {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    /// A bug: greenpipe's own code panicked (in the handler or on one of its worker threads). Caught at the
    /// handler boundary so the invocation fails with this stable name instead of a runtime-specific one;
    /// nothing after the panic ran (no report, no copy, no execution started), and retrying the same
    /// input would panic again.
    #[error("internal error (a bug in greenpipe, please report it): {0}")]
    Internal(String),

    /// A bug: an AWS request greenpipe built lacks a field the SDK requires (the SDK refused to build
    /// it; nothing was sent). Reported as `InternalError`, like a panic.
    #[cfg(feature = "aws")]
    #[error("internal error (a bug in greenpipe, please report it): building an AWS request: {0}")]
    RequestBuild(#[from] aws_smithy_types::error::operation::BuildError),

    /// Local I/O failure (CLI reading a file, temp files).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Every `error_type` name this crate can raise. The state machine tests check that Retry/Catch
    /// only name errors from this list (or `States.*`).
    pub const ERROR_TYPES: &'static [&'static str] = &[
        "ContractNotFound",
        "ContractInvalid",
        "UnsupportedRule",
        "UnsupportedFormat",
        "ObjectTooLarge",
        "InvalidEvent",
        "ConfigError",
        "SchemaChangeRefused",
        "KeyLayoutMismatch",
        "JobInProgress",
        "PlanRefused",
        "FeatureGroupNotFound",
        "FeatureGroupMismatch",
        "OfflineStoreMissing",
        "DataUnreadable",
        "Throttled",
        "Retryable",
        "AwsError",
        "SerializationError",
        "InternalError",
        "IoError",
    ];

    /// The stable name the state machine matches on.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::ContractNotFound { .. } => "ContractNotFound",
            Error::ContractInvalid { .. } => "ContractInvalid",
            Error::UnsupportedRule { .. } => "UnsupportedRule",
            Error::UnsupportedFormat(_) => "UnsupportedFormat",
            Error::ObjectTooLarge { .. } => "ObjectTooLarge",
            Error::InvalidEvent(_) => "InvalidEvent",
            Error::Config(_) => "ConfigError",
            Error::SchemaChangeRefused { .. } => "SchemaChangeRefused",
            Error::KeyLayoutMismatch { .. } => "KeyLayoutMismatch",
            Error::JobInProgress { .. } => "JobInProgress",
            Error::PlanRefused(_) => "PlanRefused",
            Error::FeatureGroupNotFound(_) => "FeatureGroupNotFound",
            Error::FeatureGroupMismatch { .. } => "FeatureGroupMismatch",
            Error::OfflineStoreMissing(_) => "OfflineStoreMissing",
            Error::DataUnreadable(_) => "DataUnreadable",
            Error::Throttled { .. } => "Throttled",
            Error::Retryable { .. } => "Retryable",
            Error::Aws { .. } => "AwsError",
            Error::Serialize { .. } => "SerializationError",
            Error::Internal(_) => "InternalError",
            #[cfg(feature = "aws")]
            Error::RequestBuild(_) => "InternalError",
            Error::Io(_) => "IoError",
        }
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Throttled { .. } | Error::Retryable { .. } | Error::JobInProgress { .. }
        )
    }

    /// Map an I/O error from a data source. Sources (the S3 adapter) wrap a greenpipe [`Error`] inside the
    /// `io::Error` so that throttling and transient failures keep their type through `std::io::Read`.
    pub fn from_source_io(e: std::io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(err) = inner.downcast::<Error>() {
                    return *err;
                }
            }
            return Error::retryable("source read failed");
        }
        Error::Io(e)
    }

    /// A panic's payload as an [`Error::Internal`] naming `what` was running.
    pub fn from_panic(what: &str, payload: &(dyn std::any::Any + Send)) -> Error {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        Error::Internal(format!("{what} panicked: {message}"))
    }

    #[cfg(feature = "aws")]
    /// For `map_err` on awaiting a blocking task running `what`: its panic is an [`Error::Internal`]; a
    /// cancelled task (the runtime shutting down) is `Retryable`.
    pub fn from_join(what: impl Into<String>) -> impl FnOnce(tokio::task::JoinError) -> Error {
        let what = what.into();
        move |e| match e.try_into_panic() {
            Ok(payload) => Error::from_panic(&what, payload.as_ref()),
            Err(e) => Error::retryable(format!("{what} stopped: {e}")),
        }
    }

    /// AWS throttled a request (no SDK error behind it: a per-entry error of a batch call, say).
    pub fn throttled(message: impl Into<String>) -> Self {
        Error::Throttled {
            message: message.into(),
            source: None,
        }
    }

    /// A transient failure with no SDK error behind it.
    pub fn retryable(message: impl Into<String>) -> Self {
        Error::Retryable {
            message: message.into(),
            source: None,
        }
    }

    /// A non-retryable AWS failure with no SDK error behind it (an answer missing a field it must have).
    pub fn aws(message: impl Into<String>) -> Self {
        Error::Aws {
            message: message.into(),
            source: None,
        }
    }

    /// This `Throttled`, `Retryable` or `AwsError` with `source` as its cause (the error that a body
    /// read or a parse of an AWS answer failed with). Other errors are returned as they are.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        if let Error::Throttled { source: s, .. }
        | Error::Retryable { source: s, .. }
        | Error::Aws { source: s, .. } = &mut self
        {
            *s = Some(source.into());
        }
        self
    }

    /// The SDK error behind a failed AWS call, if this error is one: `Throttled`, `Retryable` or
    /// `AwsError` from [`crate::aws::sdk_error`]. Downcast it to the operation's `SdkError` type.
    pub fn sdk_source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Error::Throttled { source, .. } | Error::Retryable { source, .. } | Error::Aws { source, .. } => {
                source.as_deref()
            }
            _ => None,
        }
    }

    /// For `map_err` on a `serde_json` serialisation of `what`.
    pub fn serialize(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Error {
        let what = what.into();
        move |source| Error::Serialize { what, source }
    }

    pub fn contract_invalid(source_name: impl Into<String>, message: impl fmt::Display) -> Self {
        Error::ContractInvalid {
            source_name: source_name.into(),
            message: message.to_string(),
        }
    }
}

#[cfg(feature = "aws")]
impl From<Error> for lambda_runtime::Diagnostic {
    fn from(e: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_listed() {
        let samples = [
            Error::ContractNotFound {
                key: "k".into(),
                searched: vec![],
            },
            Error::contract_invalid("c", "m"),
            Error::UnsupportedRule {
                source_name: "c".into(),
                rule: "r".into(),
            },
            Error::UnsupportedFormat("x".into()),
            Error::ObjectTooLarge {
                key: "k".into(),
                size: 2,
                limit: 1,
            },
            Error::InvalidEvent("e".into()),
            Error::Config("c".into()),
            Error::SchemaChangeRefused {
                table: "db.t".into(),
                changes: vec!["removed column x".into()],
                report: "s3://b/r.json".into(),
            },
            Error::KeyLayoutMismatch {
                key: "k".into(),
                message: "m".into(),
            },
            Error::JobInProgress {
                kind: "training",
                job: "j".into(),
                status: "InProgress".into(),
            },
            Error::PlanRefused("p".into()),
            Error::FeatureGroupNotFound("g".into()),
            Error::FeatureGroupMismatch {
                group: "g".into(),
                message: "m".into(),
            },
            Error::OfflineStoreMissing("g".into()),
            Error::DataUnreadable("d".into()),
            Error::throttled("t"),
            Error::retryable("r"),
            Error::aws("a"),
            Error::serialize("v")(serde_json::from_str::<u8>("x").unwrap_err()),
            Error::from_panic("stage", &"boom"),
            Error::Io(std::io::Error::other("io")),
        ];
        for e in &samples {
            assert!(
                Error::ERROR_TYPES.contains(&e.error_type()),
                "{} not listed",
                e.error_type()
            );
        }
        assert_eq!(samples.len(), Error::ERROR_TYPES.len());
        #[cfg(feature = "aws")]
        {
            let build = aws_smithy_types::error::operation::BuildError::missing_field("bucket", "no bucket");
            let e = Error::from(build);
            assert_eq!(e.error_type(), "InternalError");
            assert!(e.to_string().contains("bucket"), "{e}");
        }
    }

    #[test]
    fn aws_failures_keep_their_cause() {
        let cause = std::io::Error::other("connection reset");
        let e = Error::retryable("GetObject s3://b/k: body read failed").with_source(cause);
        assert_eq!(e.error_type(), "Retryable");
        assert_eq!(e.to_string(), "retryable: GetObject s3://b/k: body read failed");
        let source = std::error::Error::source(&e).expect("a source");
        assert_eq!(source.to_string(), "connection reset");
        assert!(e.sdk_source().is_some_and(|s| s.is::<std::io::Error>()));
        // Other variants are left as they are.
        let e = Error::Config("x".into()).with_source(std::io::Error::other("y"));
        assert!(std::error::Error::source(&e).is_none());
    }
}
