//! What makes a stage a Lambda function: [`StageFunction`], implemented once in each stage's folder, and
//! the code every function shares around it: the runtime loop ([`serve`], all of a function's `main.rs`),
//! the invocation ([`function_handler`]) and, for `greenpipe exec` and `run`, any stage in this process
//! ([`Stage::local`](super::Stage::local)).

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::{Mutex, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::Stage;
use crate::aws::access::Call;
use crate::pipeline::Measured;
use crate::{Error, Result};

/// Lambda's variable for the function's configured memory.
pub const MEMORY_VARIABLE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";

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
    /// Whether a response that is a JSON object gets the invocation's measurement as `invocation`
    /// ([`Measured`]: handler time, memory, cold start), which report-run reads. validate-dataset
    /// passes its own in the execution input instead.
    const REPORTS_INVOCATION: bool = true;

    /// One invocation: the parsed request, and the invocation's deadline if known.
    fn handle(
        deps: &Self::Deps,
        request: Self::Request,
        deadline: Option<SystemTime>,
    ) -> impl Future<Output = Result<Self::Response>> + Send;
}

/// What a function knows of where it runs, for the [`Measured`] it adds to its responses: its
/// configured memory and, until the first invocation reports it, its cold start.
#[derive(Debug, Default)]
pub struct Host {
    memory_mb: Option<u32>,
    init_ms: Mutex<Option<f64>>,
}

impl Host {
    /// Memory from the function's settings (Lambda sets `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub fn from_env(env: Lookup<'_>) -> Host {
        Host {
            memory_mb: env(MEMORY_VARIABLE).and_then(|m| m.trim().parse().ok()),
            init_ms: Mutex::new(None),
        }
    }

    /// This process's host: [`serve`] sets it with the cold start; elsewhere it is read from the
    /// process environment on first use.
    pub fn process() -> &'static Host {
        PROCESS_HOST.get_or_init(|| Host::from_env(&|name| std::env::var(name).ok()))
    }

    /// The measurement of an invocation that started at `started`; the cold start goes to the first.
    pub fn measure(&self, started: Instant) -> Measured {
        Measured {
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            memory_mb: self.memory_mb,
            init_ms: self.init_ms.lock().ok().and_then(|mut i| i.take()),
            count: 1,
        }
    }
}

static PROCESS_HOST: OnceLock<Host> = OnceLock::new();

/// One invocation of `F` from the JSON the runtime (or a local run) hands over: the payload parsed into
/// `F::Request`, the handler, its response as JSON with the invocation's [`Measured`] when it is an
/// object. A panic is `InternalError` ([`catch_panic`]).
pub async fn invoke<F: StageFunction>(
    deps: &F::Deps,
    payload: Value,
    deadline: Option<SystemTime>,
) -> Result<Value> {
    invoke_on::<F>(Host::process(), deps, payload, deadline).await
}

async fn invoke_on<F: StageFunction>(
    host: &Host,
    deps: &F::Deps,
    payload: Value,
    deadline: Option<SystemTime>,
) -> Result<Value> {
    let started = Instant::now();
    catch_panic(F::STAGE.name(), async move {
        let request = serde_json::from_value::<F::Request>(payload)
            .map_err(|e| Error::InvalidEvent(format!("{} expects {}: {e}", F::STAGE.name(), F::EXPECTS)))?;
        let response = F::handle(deps, request, deadline).await?;
        let mut value = serde_json::to_value(&response).map_err(Error::serialize("the response"))?;
        if let (true, Value::Object(fields)) = (F::REPORTS_INVOCATION, &mut value) {
            let measured = serde_json::to_value(host.measure(started))
                .map_err(Error::serialize("the invocation's measurement"))?;
            fields.insert("invocation".into(), measured);
        }
        Ok(value)
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
    let started = Instant::now();
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = crate::aws::load_sdk_config().await;
    let env = |name: &str| std::env::var(name).ok();
    let deps = F::deps(&env, &sdk)?;
    let host = Host::from_env(&env);
    if let Ok(mut init) = host.init_ms.lock() {
        *init = Some(started.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = PROCESS_HOST.set(host);
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

struct Local<F: StageFunction>(F::Deps, Host);

impl<F: StageFunction> LocalFunction for Local<F> {
    fn invoke(
        &self,
        event: Value,
        deadline: Option<SystemTime>,
    ) -> Pin<Box<dyn Future<Output = Result<Value>> + Send + '_>> {
        Box::pin(invoke_on::<F>(&self.1, &self.0, event, deadline))
    }
}

/// `F` in this process, with the dependencies and memory its settings (`env`) give.
pub(super) fn local<F: StageFunction + 'static>(
    env: Lookup<'_>,
    sdk: &SdkConfig,
) -> Result<Box<dyn LocalFunction>> {
    Ok(Box::new(Local::<F>(F::deps(env, sdk)?, Host::from_env(env))))
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
        assert_eq!(ok.unwrap()["where"], "nowhere");
    }

    #[tokio::test]
    async fn an_object_response_carries_its_measurement_and_the_cold_start_goes_to_the_first() {
        let host = Host::from_env(&|name| (name == MEMORY_VARIABLE).then(|| "512".to_string()));
        *host.init_ms.lock().unwrap() = Some(42.0);
        let first = invoke_on::<Panicking>(&host, &(), serde_json::json!({"where": "nowhere"}), None)
            .await
            .unwrap();
        let measured: Measured = serde_json::from_value(first["invocation"].clone()).unwrap();
        assert_eq!(measured.memory_mb, Some(512));
        assert_eq!(measured.init_ms, Some(42.0));
        assert_eq!(measured.count, 1);
        assert!(measured.duration_ms >= 0.0 && measured.duration_ms < 60_000.0);
        let second = invoke_on::<Panicking>(&host, &(), serde_json::json!({"where": "nowhere"}), None)
            .await
            .unwrap();
        assert!(second["invocation"].get("initMs").is_none(), "{second}");
        // A response that is not an object is left as it is.
        let scalar = invoke_on::<Panicking>(
            &host,
            &(),
            serde_json::json!({"where": "handler", "index": 1}),
            None,
        )
        .await
        .unwrap();
        assert_eq!(scalar, serde_json::json!(2));
    }
}
