//! report-run: the Lambda entry point over [`greenpipe::stages::report_run::handler`], which holds the logic
//! (run report, footprint, EMF lines, last-trained marker) and its documentation.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

pub use greenpipe::stages::plan::handler::PlanConfig;
pub use greenpipe::stages::report_run::Deps;

/// Handle one invocation. Errors become a [`Diagnostic`] whose `error_type` is the stable name the state
/// machine's Retry/Catch match on (`InvalidEvent`, `Throttled`, `Retryable`, ...).
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    // Boxed: the stage's future (several SDK calls) is too deep to lay out inline in the runtime's.
    Box::pin(greenpipe::stages::report_run::report_run_handler(
        deps,
        event.payload,
    ))
    .await
    .map_err(Diagnostic::from)
}
