//! write-features: the Lambda entry point over [`greenpipe::stages::write_features::handler`], which holds the logic
//! (contract mapping, feature group check, streaming PutRecord writer, offline sink, continuation) and its
//! documentation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

pub use greenpipe::aws::Config;
pub use greenpipe::stages::write_features::handler::Deps;

/// Handle one invocation. The context's deadline bounds the run: near it the writer stops taking rows and
/// returns a continuation. Errors become a [`Diagnostic`] whose `error_type` is the stable name the state
/// machine's Retry/Catch match on (`FeatureGroupNotFound`, `OfflineStoreMissing`, `Throttled`, ...).
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let deadline = deadline_of(event.context.deadline);
    Box::pin(greenpipe::stages::write_features::handler::handle(
        deps,
        event.payload,
        deadline,
    ))
    .await
    .map_err(Diagnostic::from)
}

/// The context's deadline (milliseconds since the epoch; 0 when unknown, as in local invocations).
pub fn deadline_of(deadline_ms: u64) -> Option<SystemTime> {
    (deadline_ms > 0).then(|| UNIX_EPOCH + Duration::from_millis(deadline_ms))
}
