//! plan-training: the Lambda entry point over [`greenpipe::stages::plan::handler`], which holds the logic
//! (contract, last-trained marker, request builder) and its documentation.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

pub use greenpipe::stages::plan::handler::{Deps, PlanConfig};

/// Handle one invocation. Errors become a [`Diagnostic`] whose `error_type` is the stable name the state
/// machine's Retry/Catch match on (`ContractInvalid`, `ConfigError`, `Throttled`, `Retryable`, ...).
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    // Boxed: the stage's future (several SDK calls) is too deep to lay out inline in the runtime's.
    Box::pin(greenpipe::stages::plan::handler::plan_training_handler(
        deps,
        event.payload,
    ))
    .await
    .map_err(Diagnostic::from)
}
