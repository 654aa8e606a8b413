//! cleanup-idle: the Lambda entry point over [`greenpipe::stages::cleanup_idle::handler`], which holds the logic
//! (inventory, plan, actions, report) and its documentation; the decisions themselves are in
//! [`greenpipe::stages::cleanup_idle`].

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

pub use greenpipe::stages::cleanup_idle::handler::Deps;
pub use greenpipe::stages::cleanup_idle::CleanupConfig;

/// Handle one scheduled invocation (or a direct JSON override). Returns the cleanup report. Errors
/// (`ConfigError`, `InvalidEvent`, and `AwsError`/`Throttled`/`Retryable` when the report cannot be
/// written) become a [`Diagnostic`] with the stable `error_type`; per-resource failures are in the report.
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    // Boxed: the run's future (many SDK calls) is too deep to lay out inline in the runtime's.
    let report = Box::pin(greenpipe::stages::cleanup_idle::handler::handle(
        deps,
        event.payload,
    ))
    .await
    .map_err(Diagnostic::from)?;
    serde_json::to_value(&report).map_err(|e| Diagnostic {
        error_type: "AwsError".into(),
        error_message: format!("serialising the report: {e}"),
    })
}
