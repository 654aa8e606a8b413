//! Task resources for `greenpipe exec`: where each Task state's work happens.
//!
//! In this order:
//! 1. `--task STATE=FILE.json`: the state's result is the file's JSON; nothing is called.
//! 2. Lambda functions (a function ARN as the Resource, or `arn:aws:states:::lambda:invoke` with
//!    `Parameters.FunctionName`), by the function's name (the part after `function:`, without qualifier):
//!    - `--lambda NAME=URL`: the Lambda Invoke API at URL (`cargo lambda watch`, an emulator);
//!    - greenpipe's own functions (`validate-dataset`): the real handler, in this process, with its
//!      dependencies built from the environment on first use;
//!    - any other function: Lambda Invoke with the standard AWS configuration (`AWS_ENDPOINT_URL`, ...).
//!
//! 3. SageMaker's optimized integrations (`createTrainingJob[.sync]`, `createModel`,
//!    `createTransformJob[.sync]`, see [`crate::sagemaker`]) through the SDK with the standard AWS
//!    configuration; or, when the runner plans instead of calling ([`Tasks::planning`]), the request is
//!    checked, recorded and answered with a labelled planned result.
//!
//! Other service integrations are refused before the run starts ([`unsupported`]).
//!
//! Errors follow Step Functions: a function error fails the task with the function's `errorType` as the
//! error name and its error object (JSON text) as the cause; Lambda service errors are `Lambda.<Code>`;
//! network failures `Lambda.SdkClientException`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use greenpipe::stages::{LocalFunction, Stage};
use greenpipe_statemachine::{async_trait, names, Clock, SystemClock, TaskError, TaskRunner};
use serde_json::{json, Map, Value};
use tokio::sync::OnceCell;

use crate::deployed::emulator::Deployment;
use crate::sagemaker::{self, Api, SageMaker};

/// The optimized Lambda integration (request-response); `.waitForTaskToken` is not supported.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
/// Region for `--lambda` endpoints when the environment names none (local endpoints ignore it).
const LOCAL_REGION: &str = "us-east-1";
/// The account in planned results' ARNs (nothing was created in any account).
const PLANNED_ACCOUNT: &str = "000000000000";

/// greenpipe's Lambda functions that run in this process, by function name: every deployed stage but
/// cleanup-idle, which no state machine invokes.
fn own_function(name: &str) -> Option<Stage> {
    Stage::by_name(name).filter(|s| *s != Stage::CleanupIdle)
}

/// AWS services the function calls besides S3 (which `greenpipe run` embeds) and SageMaker's control
/// plane (which `greenpipe run` answers as an empty account, so plan-training and plan-transform run and
/// plan their jobs): without an endpoint for them, a planning runner plans the function's task instead of
/// running it. write-features calls the Feature Store only for a contract with a `features` section
/// (`contract_has`); otherwise it reads S3 alone.
fn needs_besides_s3(stage: Stage) -> Option<(&'static str, Option<&'static str>)> {
    match stage {
        Stage::RegisterCatalog => Some(("Glue", None)),
        Stage::WriteFeatures => Some(("Feature Store", Some("features"))),
        _ => None,
    }
}

/// A step that was planned, not run: what would have been sent, and why it was not.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub state: String,
    pub resource: String,
    /// The request (SageMaker API fields, or the Lambda payload) exactly as it would be sent.
    pub request: Value,
    pub reason: String,
}

/// Why a Task resource cannot run under `greenpipe exec`, or `None` when it can.
pub fn unsupported(resource: &str) -> Option<String> {
    if resource == LAMBDA_INVOKE || function_arn_name(resource).is_some() || Api::parse(resource).is_some() {
        return None;
    }
    Some(format!(
        "resource {resource} is not supported by `greenpipe exec` yet: only Lambda functions (function ARNs \
         and {LAMBDA_INVOKE}), SageMaker createTrainingJob[.sync], createModel, createTransformJob[.sync] and \
         createHyperParameterTuningJob[.sync], \
         and --task overrides are"
    ))
}

/// Load-time problems of a definition's Task states for this runner: each Task state's Parameters
/// checked against the integration it names (`{"States": ...}` walked through branches and
/// item processors). Each problem names the state and the field.
pub fn check_definition(definition: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    walk_states(definition, &mut |name, state| {
        let resource = state["Resource"].as_str().unwrap_or_default();
        if let Some(api) = Api::parse(resource) {
            for p in sagemaker::check_template(api, state.get("Parameters")) {
                problems.push(format!("state '{name}': {p}"));
            }
        }
    });
    problems
}

fn walk_states(graph: &Value, f: &mut dyn FnMut(&str, &Value)) {
    let Some(states) = graph["States"].as_object() else {
        return;
    };
    for (name, state) in states {
        if state["Type"] == "Task" {
            f(name, state);
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            walk_states(branch, f);
        }
        for key in ["ItemProcessor", "Iterator"] {
            if state.get(key).is_some() {
                walk_states(&state[key], f);
            }
        }
    }
}

/// The function name of `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
fn function_arn_name(resource: &str) -> Option<&str> {
    let rest = resource.strip_prefix("arn:")?;
    let (_, after) = rest.split_once(":function:")?;
    let name = after.split(':').next().unwrap_or_default();
    (rest.split(':').nth(1) == Some("lambda") && !name.is_empty()).then_some(name)
}

/// The bare name and the qualifier of a `FunctionName` value: a name, `name:qualifier`, a partial ARN
/// (`ACCOUNT:function:name`) or a full ARN, each with an optional qualifier.
fn split_function_name(function: &str) -> (&str, Option<&str>) {
    let tail = function
        .split_once(":function:")
        .map_or(function, |(_, after)| after);
    match tail.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier)),
        None => (tail, None),
    }
}

/// One Lambda invocation, whichever resource form asked for it.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    /// As given (name or ARN); sent as `FunctionName` to the configured AWS endpoint.
    function: String,
    /// The bare name: what `--lambda` and greenpipe's own functions are matched on.
    name: String,
    /// Sent separately only when `function` does not carry it already.
    qualifier: Option<String>,
    payload: Value,
    event: bool,
    tail_log: bool,
    client_context: Option<String>,
}

impl Call {
    /// A function ARN as the Task's Resource: the effective Parameters are the payload.
    fn direct(resource: &str, payload: Value) -> Option<Call> {
        let name = function_arn_name(resource)?;
        Some(Call {
            function: resource.to_string(),
            name: name.to_string(),
            qualifier: None,
            payload,
            event: false,
            tail_log: false,
            client_context: None,
        })
    }

    /// `arn:aws:states:::lambda:invoke`: the fields of the Lambda Invoke API.
    fn integration(params: Value) -> Result<Call, String> {
        let Value::Object(mut p) = params else {
            return Err(format!("Parameters must be an object, got {params}"));
        };
        let text = |p: &mut Map<String, Value>, field: &str| -> Result<Option<String>, String> {
            match p.remove(field) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(format!("'{field}' must be a string, got {other}")),
            }
        };
        let function = text(&mut p, "FunctionName")?.ok_or("'FunctionName' is required")?;
        let qualifier = text(&mut p, "Qualifier")?;
        let event = match text(&mut p, "InvocationType")?.as_deref() {
            None | Some("RequestResponse") => false,
            Some("Event") => true,
            Some(other) => return Err(format!("InvocationType '{other}' is not supported")),
        };
        let tail_log = match text(&mut p, "LogType")?.as_deref() {
            None | Some("None") => false,
            Some("Tail") => true,
            Some(other) => return Err(format!("LogType '{other}' is not valid")),
        };
        let client_context = text(&mut p, "ClientContext")?;
        // An absent payload reaches the function as `{}`, as with Lambda.
        let payload = p.remove("Payload").unwrap_or_else(|| json!({}));
        if let Some(field) = p.keys().next() {
            return Err(format!("the field '{field}' is not supported by {LAMBDA_INVOKE}"));
        }
        let (name, own_qualifier) = split_function_name(&function);
        if name.is_empty() {
            return Err(format!("'FunctionName' {function:?} names no function"));
        }
        if own_qualifier.is_some() && qualifier.is_some() {
            return Err("'FunctionName' carries a qualifier and 'Qualifier' is set too".into());
        }
        Ok(Call {
            name: name.to_string(),
            function,
            qualifier,
            payload,
            event,
            tail_log,
            client_context,
        })
    }
}

/// What an invocation returned, whoever served it.
#[derive(Debug)]
struct Invoked {
    payload: Value,
    status_code: i32,
    executed_version: String,
    request_id: String,
    log_result: Option<String>,
}

impl Invoked {
    /// The optimized integration's result: the Invoke response with the payload parsed.
    fn integration_result(self) -> Value {
        let mut result = json!({
            "ExecutedVersion": self.executed_version,
            "Payload": self.payload,
            "SdkHttpMetadata": {"HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": self.request_id},
            "StatusCode": self.status_code,
        });
        if let Some(log) = self.log_result {
            result["LogResult"] = Value::String(log);
        }
        result
    }
}

/// The [`TaskRunner`] of `greenpipe exec`.
pub struct Tasks {
    /// State name → fixed result (`--task`).
    overrides: HashMap<String, Value>,
    /// Function name → client for its endpoint (`--lambda`).
    endpoints: HashMap<String, aws_sdk_lambda::Client>,
    sdk: OnceCell<SdkConfig>,
    lambda: OnceCell<aws_sdk_lambda::Client>,
    /// greenpipe's own functions, each built on its first invocation.
    own: BTreeMap<Stage, OnceCell<Box<dyn LocalFunction>>>,
    sagemaker: OnceCell<SageMaker>,
    local_requests: AtomicU64,
    clock: Arc<dyn Clock>,
    /// Plan (record and answer) instead of calling services without an endpoint here.
    planning: bool,
    planned: Mutex<Vec<Planned>>,
    /// Run each stage as deployed: its role's credentials, its environment from the template.
    deployed: Option<Arc<Deployment>>,
    /// Each stage's memory in the built-in template, for stages run here without a deployment.
    memory: BTreeMap<Stage, u32>,
}

impl Tasks {
    /// `endpoints` maps function names to Lambda Invoke endpoint URLs. Local endpoints do not check
    /// signatures, so their clients sign with placeholder credentials: no AWS account is needed.
    pub fn new(overrides: HashMap<String, Value>, endpoints: &[(String, String)]) -> Tasks {
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .ok()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| LOCAL_REGION.to_string());
        let endpoints = endpoints
            .iter()
            .map(|(name, url)| {
                let config = aws_sdk_lambda::Config::builder()
                    .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
                    .http_client(greenpipe::aws::https_client())
                    .endpoint_url(url)
                    // Retries are the state machine's business (its Retry fields); the SDK would also
                    // re-send a function error that `cargo lambda watch` reports as HTTP 500.
                    .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
                    .region(aws_sdk_lambda::config::Region::new(region.clone()))
                    .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                        "greenpipe-exec",
                        "local-endpoint",
                        None,
                        None,
                        "greenpipe-exec",
                    ))
                    .build();
                (name.clone(), aws_sdk_lambda::Client::from_conf(config))
            })
            .collect();
        Tasks {
            overrides,
            endpoints,
            sdk: OnceCell::new(),
            lambda: OnceCell::new(),
            own: Stage::ALL.into_iter().map(|s| (s, OnceCell::new())).collect(),
            sagemaker: OnceCell::new(),
            local_requests: AtomicU64::new(0),
            clock: Arc::new(SystemClock),
            planning: false,
            planned: Mutex::new(Vec::new()),
            deployed: None,
            memory: crate::deployed::deployed_memory(),
        }
    }

    /// The run's clock: `.sync` integrations pause on it between Describe calls.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Tasks {
        self.clock = clock;
        self
    }

    /// Plan instead of calling: SageMaker integrations and greenpipe functions that need a service other
    /// than S3 are checked and recorded ([`Tasks::planned`]), and answered with a labelled planned
    /// result; nothing is sent to those services.
    pub fn planning(mut self, planning: bool) -> Tasks {
        self.planning = planning;
        self
    }

    /// Run every stage as `deployment` deploys it (see [`crate::deployed`]).
    pub fn deployed_as(mut self, deployment: Arc<Deployment>) -> Tasks {
        self.deployed = Some(deployment);
        self
    }

    /// The steps planned so far, in the order they were reached.
    pub fn planned(&self) -> Vec<Planned> {
        self.planned.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn plan(&self, state: &str, resource: &str, request: &Value, reason: String) {
        if let Ok(mut planned) = self.planned.lock() {
            planned.push(Planned {
                state: state.to_string(),
                resource: resource.to_string(),
                request: request.clone(),
                reason,
            });
        }
    }

    async fn run_sagemaker(
        &self,
        api: Api,
        resource: &str,
        params: Value,
        state: &str,
        submitted: &(dyn Fn(Value) + Send + Sync),
    ) -> Result<Value, TaskError> {
        if self.planning {
            sagemaker::check_request(api, &params, state)?;
            let region = self
                .sdk()
                .await
                .region()
                .map_or("us-east-1", |r| r.as_ref())
                .to_string();
            self.plan(
                state,
                resource,
                &params,
                "no SageMaker endpoint is configured".into(),
            );
            return Ok(sagemaker::planned_result(api, &params, &region, PLANNED_ACCOUNT));
        }
        let runner = self
            .sagemaker
            .get_or_init(|| async {
                SageMaker {
                    client: aws_sdk_sagemaker::Client::new(match &self.deployed {
                        Some(d) => &d.state_machine,
                        None => self.sdk().await,
                    }),
                    clock: self.clock.clone(),
                }
            })
            .await;
        runner.run(api, params, state, submitted).await
    }

    /// The stage's SDK configuration: its role's credentials when running as deployed.
    async fn stage_sdk(&self, stage: Stage) -> &SdkConfig {
        match &self.deployed {
            Some(d) => &d.stage(stage).sdk,
            None => self.sdk().await,
        }
    }

    /// The stage's environment: the template's variables for it when running as deployed, else this
    /// process's, with the memory the template gives the function (as Lambda sets it).
    fn env(&self, stage: Stage) -> impl Fn(&str) -> Option<String> + '_ {
        move |name| match &self.deployed {
            Some(d) => d.stage(stage).environment.get(name).cloned(),
            None => std::env::var(name).ok().or_else(|| {
                (name == greenpipe::stages::MEMORY_VARIABLE)
                    .then(|| self.memory.get(&stage).map(u32::to_string))
                    .flatten()
            }),
        }
    }

    /// Whether the contract a stage's payload names (`contract.source`) has `section`; a contract that
    /// cannot be read counts as having it (the stage is planned, not run into an error here).
    async fn contract_has(&self, payload: &Value, section: &str) -> bool {
        let Some(source) = payload.pointer("/contract/source").and_then(Value::as_str) else {
            return true;
        };
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(self.sdk().await)
                .force_path_style(true)
                .build(),
        );
        match greenpipe::aws::contracts::contract_at(&s3, source).await {
            Ok(contract) => match section {
                "features" => contract.features.is_some(),
                "training" => contract.training.is_some(),
                "catalog" => contract.catalog.is_some(),
                _ => true,
            },
            Err(_) => true,
        }
    }

    async fn sdk(&self) -> &SdkConfig {
        self.sdk.get_or_init(greenpipe::aws::load_sdk_config).await
    }

    async fn invoke_lambda(&self, call: &Call) -> Result<Invoked, TaskError> {
        if let Some(client) = self.endpoints.get(&call.name) {
            // Local endpoints serve functions by their bare name.
            let qualifier = call
                .qualifier
                .as_deref()
                .or(split_function_name(&call.function).1);
            return sdk_invoke(client, &call.name, qualifier, call).await;
        }
        if let Some(own) = own_function(&call.name) {
            return self.invoke_own(own, call).await;
        }
        let client = self
            .lambda
            .get_or_init(|| async { aws_sdk_lambda::Client::new(self.sdk().await) })
            .await;
        sdk_invoke(client, &call.function, call.qualifier.as_deref(), call).await
    }

    /// The invocation's deadline: as deployed, the function's `Timeout` from now (so that write-features
    /// hands over to a continuation as it would in Lambda); otherwise none.
    fn deadline(&self, own: Stage) -> Option<SystemTime> {
        self.deployed
            .as_ref()
            .map(|d| SystemTime::now() + d.stage(own).timeout)
    }

    /// Run one of greenpipe's handlers in this process, as its Lambda function would: the stage's
    /// dependencies built from its environment on first use, its errors by their stable names.
    async fn invoke_own(&self, own: Stage, call: &Call) -> Result<Invoked, TaskError> {
        if !own.in_pipeline() {
            return Err(TaskError::new(
                names::RUNTIME,
                format!("{own} runs on its schedule, not as a task of the pipeline"),
            ));
        }
        let cell = &self.own[&own];
        let function = cell
            .get_or_try_init(|| async {
                let sdk = self.stage_sdk(own).await;
                own.local(&self.env(own), sdk)
            })
            .await
            .map_err(|e| function_error(e.error_type(), &e.to_string()))?;
        let output = function
            .invoke(call.payload.clone(), self.deadline(own))
            .await
            .map_err(|e| function_error(e.error_type(), &e.to_string()))?;
        let n = self.local_requests.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Invoked {
            payload: if call.event {
                Value::String(String::new())
            } else {
                output
            },
            status_code: if call.event { 202 } else { 200 },
            executed_version: "$LATEST".into(),
            request_id: format!("greenpipe-exec-{n}"),
            log_result: None,
        })
    }
}

#[async_trait]
impl TaskRunner for Tasks {
    async fn invoke(&self, resource: &str, params: Value, state: &str) -> Result<Value, TaskError> {
        self.invoke_observed(resource, params, state, &|_| {}).await
    }

    async fn invoke_observed(
        &self,
        resource: &str,
        params: Value,
        state: &str,
        submitted: &(dyn Fn(Value) + Send + Sync),
    ) -> Result<Value, TaskError> {
        if let Some(result) = self.overrides.get(state) {
            return Ok(result.clone());
        }
        if let Some(api) = Api::parse(resource) {
            return self.run_sagemaker(api, resource, params, state, submitted).await;
        }
        let (call, integration) = if resource == LAMBDA_INVOKE {
            let call = Call::integration(params).map_err(|e| {
                TaskError::new(names::RUNTIME, format!("state '{state}': {LAMBDA_INVOKE}: {e}"))
            })?;
            (call, true)
        } else if let Some(call) = Call::direct(resource, params) {
            (call, false)
        } else {
            let why =
                unsupported(resource).unwrap_or_else(|| format!("resource {resource} is not supported"));
            return Err(TaskError::new(names::RUNTIME, format!("state '{state}': {why}")));
        };
        let mut needs = own_function(&call.name)
            .filter(|_| self.planning && !self.endpoints.contains_key(&call.name))
            .and_then(needs_besides_s3);
        if let Some((_, Some(section))) = needs {
            if !self.contract_has(&call.payload, section).await {
                needs = None;
            }
        }
        let invoked = match needs.map(|(service, _)| service) {
            Some(service) => {
                self.plan(
                    state,
                    resource,
                    &call.payload,
                    format!(
                        "{} calls {service}, and no {service} endpoint is configured",
                        call.name
                    ),
                );
                planned_invocation(&call, service)
            }
            None => self.invoke_lambda(&call).await?,
        };
        Ok(if integration {
            invoked.integration_result()
        } else {
            invoked.payload
        })
    }
}

/// The answer of a planned function: labelled, and empty of results.
fn planned_invocation(call: &Call, service: &str) -> Invoked {
    Invoked {
        payload: json!({
            "planned": true,
            "function": call.name,
            "reason": format!("not run: it needs {service}, which has no local endpoint"),
        }),
        status_code: 200,
        executed_version: "$LATEST".into(),
        request_id: "greenpipe-planned".into(),
        log_result: None,
    }
}

/// Lambda Invoke through the SDK (an endpoint from `--lambda`, or the configured AWS endpoint).
async fn sdk_invoke(
    client: &aws_sdk_lambda::Client,
    function: &str,
    qualifier: Option<&str>,
    call: &Call,
) -> Result<Invoked, TaskError> {
    let body = serde_json::to_vec(&call.payload)
        .map_err(|e| TaskError::new(names::RUNTIME, format!("the payload cannot be serialised: {e}")))?;
    let out = client
        .invoke()
        .function_name(function)
        .set_qualifier(qualifier.map(str::to_string))
        .invocation_type(if call.event {
            InvocationType::Event
        } else {
            InvocationType::RequestResponse
        })
        .set_log_type(call.tail_log.then_some(LogType::Tail))
        .set_client_context(call.client_context.clone())
        .payload(Blob::new(body))
        .send()
        .await
        .map_err(|e| service_error(function, e))?;
    let bytes = out.payload().map(Blob::as_ref).unwrap_or_default();
    if out.function_error().is_some() {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let error_type = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| v.get("errorType").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| "Lambda.Unknown".to_string());
        return Err(TaskError::new(error_type, text));
    }
    let payload = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        // Empty (asynchronous invocations) or not JSON: kept as text, as Step Functions does.
        Err(_) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    };
    Ok(Invoked {
        payload,
        status_code: out.status_code(),
        executed_version: out.executed_version().unwrap_or("$LATEST").to_string(),
        request_id: out.request_id().unwrap_or_default().to_string(),
        log_result: out.log_result().map(str::to_string),
    })
}

/// A function's error as Step Functions reports it: the error type is the error name, the error object
/// is the cause.
fn function_error(error_type: &str, message: &str) -> TaskError {
    let cause = json!({"errorMessage": message, "errorType": error_type}).to_string();
    TaskError::new(error_type, cause)
}

/// A failed Invoke call: `Lambda.<Code>` for the service's errors, `Lambda.SdkClientException` when no
/// answer came (as Step Functions names them, so the usual Retry on those names works locally too).
///
/// `cargo lambda watch` reports a function error as HTTP 500 with the error object as the body (where
/// Lambda answers 200 with `X-Amz-Function-Error`): such a body is taken as the function's error.
fn service_error<E>(function: &str, err: SdkError<E>) -> TaskError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let body = err
        .raw_response()
        .and_then(|r| r.body().bytes())
        .unwrap_or_default();
    let error_type = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("errorType").and_then(Value::as_str).map(str::to_string));
    if let Some(error_type) = error_type {
        return TaskError::new(error_type, String::from_utf8_lossy(body).into_owned());
    }
    let name = match err.as_service_error().and_then(|e| e.code()) {
        Some(code) => format!("Lambda.{code}"),
        None => "Lambda.SdkClientException".to_string(),
    };
    TaskError::new(name, format!("Invoke {function}: {}", DisplayErrorContext(&err)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_arns_name_their_function() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:validate-dataset";
        assert_eq!(function_arn_name(arn), Some("validate-dataset"));
        assert_eq!(
            function_arn_name(&format!("{arn}:live")),
            Some("validate-dataset")
        );
        assert_eq!(function_arn_name(LAMBDA_INVOKE), None);
        assert_eq!(
            function_arn_name("arn:aws:states:::sagemaker:createTrainingJob.sync"),
            None
        );
        assert_eq!(function_arn_name("arn:aws:lambda:us-east-1:1:function:"), None);
        assert_eq!(unsupported(arn), None);
        assert_eq!(unsupported(LAMBDA_INVOKE), None);
        let why = unsupported("arn:aws:states:::glue:startJobRun.sync").unwrap_or_default();
        assert!(
            why.contains("glue:startJobRun.sync") && why.contains("--task"),
            "{why}"
        );
        assert!(unsupported("arn:aws:states:::lambda:invoke.waitForTaskToken").is_some());
    }

    #[test]
    fn function_names_in_every_form() {
        assert_eq!(split_function_name("notify"), ("notify", None));
        assert_eq!(split_function_name("notify:live"), ("notify", Some("live")));
        assert_eq!(
            split_function_name("123456789012:function:notify"),
            ("notify", None)
        );
        assert_eq!(
            split_function_name("arn:aws:lambda:eu-west-1:123456789012:function:notify:7"),
            ("notify", Some("7"))
        );
    }

    #[test]
    fn integration_parameters() {
        let call = Call::integration(json!({"FunctionName": "arn:aws:lambda:us-east-1:1:function:f",
                                            "Payload": {"a": 1}}))
        .unwrap();
        assert_eq!(call.name, "f");
        assert_eq!(call.payload, json!({"a": 1}));
        assert!(!call.event);
        let call = Call::integration(json!({"FunctionName": "f", "InvocationType": "Event"})).unwrap();
        assert_eq!(call.payload, json!({}));
        assert!(call.event);
        for (bad, says) in [
            (json!({"Payload": {}}), "'FunctionName' is required"),
            (json!({"FunctionName": 3}), "must be a string"),
            (
                json!({"FunctionName": "f", "Extra": 1}),
                "'Extra' is not supported",
            ),
            (json!({"FunctionName": "f", "InvocationType": "DryRun"}), "DryRun"),
            (json!({"FunctionName": "f:1", "Qualifier": "2"}), "qualifier"),
            (json!([1]), "must be an object"),
        ] {
            let err = Call::integration(bad.clone()).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn integration_result_has_the_aws_shape() {
        let r = Invoked {
            payload: json!({"ok": true}),
            status_code: 200,
            executed_version: "$LATEST".into(),
            request_id: "r1".into(),
            log_result: None,
        }
        .integration_result();
        assert_eq!(r["Payload"], json!({"ok": true}));
        assert_eq!(r["StatusCode"], 200);
        assert_eq!(r["ExecutedVersion"], "$LATEST");
        assert_eq!(r["SdkResponseMetadata"]["RequestId"], "r1");
        assert!(r.get("LogResult").is_none());
    }

    #[test]
    fn function_errors_name_the_error_type() {
        let e = function_error("ContractNotFound", "no contract for k");
        assert_eq!(e.error, "ContractNotFound");
        let cause: Value = serde_json::from_str(&e.cause).unwrap();
        assert_eq!(
            cause,
            json!({"errorMessage": "no contract for k", "errorType": "ContractNotFound"})
        );
    }
}
