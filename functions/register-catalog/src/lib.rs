//! register-catalog: the Lambda entry point over [`greenpipe::stages::register_catalog::handler`], which holds the logic
//! (contract lookup, table planning, schema-change policy, Glue calls) and its documentation.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

pub use greenpipe::aws::Config;
pub use greenpipe::stages::register_catalog::Deps;

/// Handle one invocation. Errors become a [`Diagnostic`] whose `error_type` is the stable name the state
/// machine's Retry/Catch match on (`SchemaChangeRefused`, `KeyLayoutMismatch`, `Throttled`, ...).
pub async fn function_handler(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    // Boxed: the stage's future (several SDK calls) is too deep to lay out inline in the runtime's.
    Box::pin(greenpipe::stages::register_catalog::handle(deps, event.payload))
        .await
        .map_err(Diagnostic::from)
}
