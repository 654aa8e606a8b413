//! What makes a stage a Lambda function: [`StageFunction`], implemented once in each stage's folder, and
//! the code every function shares around it: the runtime loop ([`serve`], all of a function's `main.rs`),
//! the invocation ([`function_handler`]) and, for `greenpipe exec` and `run`, any stage in this process
//! ([`Stage::local`](super::Stage::local)).

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::Stage;
use crate::aws::access::Call;
use crate::{Error, Result};

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

    /// What the stage is invoked with. [`invoke`] parses the runtime's payload into it, so a malformed
    /// event is an `InvalidEvent` naming [`Self::EXPECTS`], not the runtime's unmarshal error. A stage
    /// whose input has several shapes (validate-dataset's triggers, cleanup-idle's schedule or
    /// overrides, report-run's whole execution state) takes the JSON and reads it itself.
    type Request: DeserializeOwned + Send;
    /// What it answers (the Task state's result).
    type Response: Serialize + Send;
    /// The request's shape in words, for the `InvalidEvent` message.
    const EXPECTS: &'static str;

    /// One invocation: the parsed request, and the invocation's deadline if known.
    fn handle(
        deps: &Self::Deps,
        request: Self::Request,
        deadline: Option<SystemTime>,
    ) -> impl Future<Output = Result<Self::Response>> + Send;
}

/// One invocation of `F` from the JSON the runtime (or a local run) hands over: the payload parsed into
/// `F::Request`, the handler, its response as JSON. A panic is `InternalError` ([`catch_panic`]).
pub async fn invoke<F: StageFunction>(
    deps: &F::Deps,
    payload: Value,
    deadline: Option<SystemTime>,
) -> Result<Value> {
    catch_panic(F::STAGE.name(), async move {
        let request = serde_json::from_value::<F::Request>(payload)
            .map_err(|e| Error::InvalidEvent(format!("{} expects {}: {e}", F::STAGE.name(), F::EXPECTS)))?;
        let response = F::handle(deps, request, deadline).await?;
        serde_json::to_value(&response).map_err(Error::serialize("the response"))
    })
    .await
}

/// One invocation through `F`'s handler. Errors become a [`Diagnostic`] whose `error_type` is the stable
/// name the state machine's Retry/Catch match on ([`crate::Error::error_type`]); a panic is
/// `InternalError` ([`catch_panic`]).
pub async fn function_handler<F: StageFunction>(
    deps: &F::Deps,
    event: LambdaEvent<Value>,
) -> std::result::Result<Value, Diagnostic> {
    let deadline = deadline_of(event.context.deadline);
    // Boxed: a stage's future (its SDK calls) is too deep to lay out inline inside the runtime's.
    Box::pin(invoke::<F>(deps, event.payload, deadline))
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

/// `fut`'s output, or [`Error::Internal`] if polling it panics: the stage's own name for a bug, where the
/// Lambda runtime would report the panic payload's type name (`alloc::boxed::Box<dyn core::any::Any +
/// Send>`), which no Retry or Catch can name. (A panic on a worker thread reaches the handler as a
/// `JoinError`; [`Error::from_join`] names it the same way.) Nothing is retried: the same input would
/// panic again.
pub async fn catch_panic<T>(what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
    let mut fut = pin!(fut);
    std::future::poll_fn(
        |cx| match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => Poll::Ready(Err(Error::from_panic(what, payload.as_ref()))),
        },
    )
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
        Box::pin(invoke::<F>(&self.0, event, deadline))
    }
}

pub(super) fn local<F: StageFunction + 'static>(
    env: Lookup<'_>,
    sdk: &SdkConfig,
) -> Result<Box<dyn LocalFunction>> {
    Ok(Box::new(Local::<F>(F::deps(env, sdk)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stage whose handler panics where the event says: in the handler itself, or on a worker thread.
    struct Panicking;

    impl StageFunction for Panicking {
        const STAGE: Stage = Stage::ReportRun;
        const CALLS: &'static [Call] = &[];
        type Deps = ();
        type Request = Value;
        type Response = Value;
        const EXPECTS: &'static str = "anything";

        fn deps(_env: Lookup<'_>, _sdk: &SdkConfig) -> Result<()> {
            Ok(())
        }

        fn placeholders(_env: Lookup<'_>, _bucket: &str) -> Result<BTreeMap<&'static str, String>> {
            Ok(BTreeMap::new())
        }

        async fn handle(_deps: &(), event: Value, _deadline: Option<SystemTime>) -> Result<Value> {
            let index = event["index"].as_u64().unwrap_or(0) as usize;
            match event["where"].as_str() {
                Some("handler") => Ok(Value::from([1, 2, 3][index])),
                Some("worker") => tokio::task::spawn_blocking(move || Value::from(vec![0u8; 2][index]))
                    .await
                    .map_err(Error::from_join("the worker")),
                _ => Ok(event),
            }
        }
    }

    fn event(payload: Value) -> LambdaEvent<Value> {
        LambdaEvent::new(payload, lambda_runtime::Context::default())
    }

    #[tokio::test]
    async fn a_panic_is_an_internal_error_wherever_it_happens() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let in_handler =
            function_handler::<Panicking>(&(), event(serde_json::json!({"where": "handler", "index": 7})))
                .await;
        let on_worker =
            function_handler::<Panicking>(&(), event(serde_json::json!({"where": "worker", "index": 9})))
                .await;
        let local = local::<Panicking>(&|_| None, &SdkConfig::builder().build())
            .unwrap()
            .invoke(serde_json::json!({"where": "handler", "index": 5}), None)
            .await;
        std::panic::set_hook(quiet);

        let in_handler = in_handler.unwrap_err();
        assert_eq!(in_handler.error_type, "InternalError");
        assert!(
            in_handler
                .error_message
                .contains("report-run panicked: index out of bounds"),
            "{}",
            in_handler.error_message
        );
        let on_worker = on_worker.unwrap_err();
        assert_eq!(on_worker.error_type, "InternalError");
        assert!(
            on_worker
                .error_message
                .contains("the worker panicked: index out of bounds"),
            "{}",
            on_worker.error_message
        );
        assert!(matches!(local, Err(Error::Internal(m)) if m.contains("report-run panicked")));

        // The same function still answers the next invocation.
        let ok = function_handler::<Panicking>(&(), event(serde_json::json!({"where": "nowhere"}))).await;
        assert_eq!(ok.unwrap(), serde_json::json!({"where": "nowhere"}));
    }
}
