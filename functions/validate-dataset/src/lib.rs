//! validate-dataset: the Lambda entry point over [`greenpipe::stages::validate_dataset::handler`], which holds the
//! logic (event shapes, contract lookup, report, quarantine, pipeline start) and its documentation.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

pub use greenpipe::aws::Config;
pub use greenpipe::stages::validate_dataset::Deps;

/// Handle one invocation. Errors become a [`Diagnostic`] whose `error_type` is the stable name the state
/// machine's Retry/Catch match on (`ContractNotFound`, `Throttled`, ...).
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    // Boxed: the handler's future is deep (SDK calls inside the stage), too deep for the compiler to lay
    // out inline inside the runtime's own futures.
    Box::pin(greenpipe::stages::validate_dataset::handle(deps, event.payload))
        .await
        .map_err(Diagnostic::from)
}
