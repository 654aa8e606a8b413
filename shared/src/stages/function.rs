//! What makes a stage a Lambda function: [`StageFunction`], implemented once in each stage's folder, and
//! the code every function shares around it: the runtime loop ([`serve`], all of a function's `main.rs`),
//! the invocation ([`function_handler`]) and, for `greenpipe exec` and `run`, any stage in this process
//! ([`Stage::local`](super::Stage::local)).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use super::Stage;
use crate::aws::access::Call;
use crate::Result;

/// A function's settings by name: the process environment when deployed, a deployed function's
/// variables in `greenpipe exec` and the role checks.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One deployed stage: its table of calls, the dependencies its cold start builds, and its handler.
pub trait StageFunction {
    const STAGE: Stage;
    /// Every SDK operation the stage's code can send, with what each needs from its role
    /// ([`crate::aws::access`]). Its clients' guards refuse anything else.
    const CALLS: &'static [Call];
    /// The clients and settings built once per process (cold start), shared by its invocations.
    type Deps: Send + Sync + 'static;

    /// The dependencies from the function's settings (`env`) and the SDK configuration.
    fn deps(env: Lookup<'_>, sdk: &SdkConfig) -> Result<Self::Deps>;

    /// The values of the `{placeholders}` in [`Self::CALLS`]' resources that the stage's settings decide
    /// (prefixes, buckets), read by the same readers as [`Self::deps`]. `bucket` is the data bucket,
    /// the default for the stage's other buckets.
    fn placeholders(env: Lookup<'_>, bucket: &str) -> Result<BTreeMap<&'static str, String>>;

    /// One invocation: the event as the runtime received it (the handler parses it, so a malformed one
    /// is an `InvalidEvent`, not the runtime's unmarshal error), and the invocation's deadline if known.
    fn handle(
        deps: &Self::Deps,
        event: Value,
        deadline: Option<SystemTime>,
    ) -> impl Future<Output = Result<Value>> + Send;
}

/// One invocation through `F`'s handler. Errors become a [`Diagnostic`] whose `error_type` is the stable
/// name the state machine's Retry/Catch match on ([`crate::Error::error_type`]).
pub async fn function_handler<F: StageFunction>(
    deps: &F::Deps,
    event: LambdaEvent<Value>,
) -> std::result::Result<Value, Diagnostic> {
    let deadline = deadline_of(event.context.deadline);
    // Boxed: a stage's future (its SDK calls) is too deep to lay out inline inside the runtime's.
    Box::pin(F::handle(deps, event.payload, deadline))
        .await
        .map_err(Diagnostic::from)
}

/// The function's process: its dependencies from the environment and the standard AWS configuration
/// chain, then the Lambda runtime loop, one invocation at a time.
pub async fn serve<F: StageFunction>() -> std::result::Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = crate::aws::load_sdk_config().await;
    let deps = F::deps(&|name| std::env::var(name).ok(), &sdk)?;
    lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<Value>| {
        function_handler::<F>(&deps, event)
    }))
    .await
}

/// The context's deadline (milliseconds since the epoch; 0 when unknown, as in local invocations).
pub fn deadline_of(deadline_ms: u64) -> Option<SystemTime> {
    (deadline_ms > 0).then(|| UNIX_EPOCH + Duration::from_millis(deadline_ms))
}

/// A stage's handler with its dependencies, whichever the stage: what `greenpipe exec` runs in process.
pub trait LocalFunction: Send + Sync {
    fn invoke(
        &self,
        event: Value,
        deadline: Option<SystemTime>,
    ) -> Pin<Box<dyn Future<Output = Result<Value>> + Send + '_>>;
}

struct Local<F: StageFunction>(F::Deps);

impl<F: StageFunction> LocalFunction for Local<F> {
    fn invoke(
        &self,
        event: Value,
        deadline: Option<SystemTime>,
    ) -> Pin<Box<dyn Future<Output = Result<Value>> + Send + '_>> {
        Box::pin(F::handle(&self.0, event, deadline))
    }
}

pub(super) fn local<F: StageFunction + 'static>(
    env: Lookup<'_>,
    sdk: &SdkConfig,
) -> Result<Box<dyn LocalFunction>> {
    Ok(Box::new(Local::<F>(F::deps(env, sdk)?)))
}
