//! Running a loaded state machine: the caller's plug-ins (task runner, clock), the execution
//! result, and the interpreter loop with data flow (InputPath → Parameters → result →
//! ResultSelector → ResultPath → OutputPath), Retry and Catch.

use crate::error::{names, StatesError, TaskError};
use crate::history::{self, EventType, History, HistoryEvent, Thread};
use crate::intrinsics::{size_within, EvalEnv};
use crate::paths::set_reference;
use crate::rng::SplitMix64;
use crate::states::{Graph, Kind, PathField, ResultPath, State, Transition};
use crate::template::{compact, Template};
use crate::StateMachine;
use async_trait::async_trait;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Step Functions' quota on events in one execution's history.
pub const DEFAULT_MAX_EVENTS: usize = 25_000;
/// Step Functions' payload quota (256 KiB) for inputs, outputs and results.
pub const DEFAULT_PAYLOAD_LIMIT: usize = 262_144;
const DEFAULT_STATE_MACHINE_ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:local";
const DEFAULT_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/local";

/// What an ItemReader asks the caller for (Distributed Map): the resource (e.g.
/// `arn:aws:states:::s3:listObjectsV2` or `...:s3:getObject`), its evaluated Parameters, and the
/// ReaderConfig (with `MaxItemsPath` resolved to `MaxItems`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemReaderRequest {
    pub resource: String,
    pub parameters: Value,
    pub reader_config: Value,
}

/// What a ResultWriter asks the caller to store (Distributed Map).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultWriterRequest {
    pub resource: String,
    pub parameters: Value,
    pub writer_config: Value,
    pub map_run_arn: String,
    /// Outputs of the iterations that succeeded, in item order.
    pub succeeded: Vec<Value>,
    /// `{"Index", "Error", "Cause"}` for each iteration that failed.
    pub failed: Vec<Value>,
}

/// Runs Task resources (Lambda functions, service integrations, activities). Errors carry the
/// error name that Retry/Catch match.
#[async_trait]
pub trait TaskRunner: Send + Sync {
    async fn invoke(&self, resource: &str, params: Value, state: &str) -> Result<Value, TaskError>;

    /// [`TaskRunner::invoke`] for runners that report progress: a `.sync` integration calls
    /// `submitted` with the response of its create call once the job is accepted, which the history
    /// records as a `TaskSubmitted` event (as Step Functions does) while the runner waits for the job.
    async fn invoke_observed(
        &self,
        resource: &str,
        params: Value,
        state: &str,
        submitted: &(dyn Fn(Value) + Send + Sync),
    ) -> Result<Value, TaskError> {
        let _ = submitted;
        self.invoke(resource, params, state).await
    }

    /// Lists the items of a Distributed Map's ItemReader (e.g. an S3 listing or a parsed object).
    async fn read_items(&self, request: &ItemReaderRequest, state: &str) -> Result<Vec<Value>, TaskError> {
        Err(TaskError::new(
            names::ITEM_READER_FAILED,
            format!(
                "state '{state}': no item reader is configured for {}",
                request.resource
            ),
        ))
    }

    /// Stores a Distributed Map's results; returns the ResultWriterDetails-style output.
    async fn write_results(&self, request: &ResultWriterRequest, state: &str) -> Result<Value, TaskError> {
        Err(TaskError::new(
            names::RESULT_WRITER_FAILED,
            format!(
                "state '{state}': no result writer is configured for {}",
                request.resource
            ),
        ))
    }
}

/// A runner for definitions without Task states: every invocation fails.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTasks;

#[async_trait]
impl TaskRunner for NoTasks {
    async fn invoke(&self, resource: &str, _params: Value, state: &str) -> Result<Value, TaskError> {
        Err(TaskError::new(
            names::TASK_FAILED,
            format!("state '{state}': no task runner for resource {resource}"),
        ))
    }
}

/// Time as the executor sees it: Wait states and retry intervals sleep through it.
#[async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
    async fn sleep(&self, duration: Duration);
}

/// Real time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// `--fast`: sleeps return at once, and the clock jumps forward by the skipped time so
/// timestamps and `Timestamp` waits stay consistent.
#[derive(Debug, Default)]
pub struct FastClock {
    skipped: Mutex<Duration>,
    /// Set by [`FastClock::starting_at`]: (when the clock was made, the time it showed then).
    base: Option<(std::time::Instant, SystemTime)>,
}

impl FastClock {
    /// A fast clock that shows `t` now and runs on from there (a run planned as if it started at `t`).
    pub fn starting_at(t: SystemTime) -> FastClock {
        FastClock {
            skipped: Mutex::default(),
            base: Some((std::time::Instant::now(), t)),
        }
    }
}

#[async_trait]
impl Clock for FastClock {
    fn now(&self) -> SystemTime {
        let skipped = self.skipped.lock().map(|d| *d).unwrap_or_default();
        let now = match self.base {
            Some((made, shown)) => shown.checked_add(made.elapsed()).unwrap_or(shown),
            None => SystemTime::now(),
        };
        now.checked_add(skipped).unwrap_or(now)
    }

    async fn sleep(&self, duration: Duration) {
        if let Ok(mut s) = self.skipped.lock() {
            *s = s.saturating_add(duration);
        }
        tokio::task::yield_now().await;
    }
}

/// Everything a run needs from the caller.
pub struct RunContext<'a> {
    pub tasks: Arc<dyn TaskRunner>,
    pub clock: Arc<dyn Clock>,
    /// Execution name (`$$.Execution.Name`); a UUID when `None`.
    pub execution_name: Option<String>,
    pub state_machine_arn: String,
    pub role_arn: String,
    /// Extra context object data, merged over the generated `$$` (objects merge recursively).
    pub context: Option<&'a Value>,
    /// Called for every history event as it is recorded (live timelines).
    pub observer: Option<&'a (dyn Fn(&HistoryEvent) + Send + Sync)>,
    /// The execution fails with States.Runtime once its history reaches this many events.
    pub max_events: usize,
    /// Payload size quota (bytes, approximate); beyond it `States.DataLimitExceeded`.
    pub payload_limit: usize,
}

impl<'a> RunContext<'a> {
    pub fn new(tasks: Arc<dyn TaskRunner>) -> Self {
        RunContext {
            tasks,
            clock: Arc::new(SystemClock),
            execution_name: None,
            state_machine_arn: DEFAULT_STATE_MACHINE_ARN.to_string(),
            role_arn: DEFAULT_ROLE_ARN.to_string(),
            context: None,
            observer: None,
            max_events: DEFAULT_MAX_EVENTS,
            payload_limit: DEFAULT_PAYLOAD_LIMIT,
        }
    }

    /// Waits and retry intervals take no time (see [`FastClock`]).
    pub fn fast(mut self) -> Self {
        self.clock = Arc::new(FastClock::default());
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_execution_name(mut self, name: impl Into<String>) -> Self {
        self.execution_name = Some(name.into());
        self
    }

    pub fn with_state_machine_arn(mut self, arn: impl Into<String>) -> Self {
        self.state_machine_arn = arn.into();
        self
    }

    pub fn with_role_arn(mut self, arn: impl Into<String>) -> Self {
        self.role_arn = arn.into();
        self
    }

    pub fn with_context(mut self, context: &'a Value) -> Self {
        self.context = Some(context);
        self
    }

    pub fn with_observer(mut self, observer: &'a (dyn Fn(&HistoryEvent) + Send + Sync)) -> Self {
        self.observer = Some(observer);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
}

/// The finished execution, shaped like DescribeExecution plus the history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub start_date: String,
    pub stop_date: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip)]
    pub history: Vec<HistoryEvent>,
}

impl Execution {
    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded
    }

    /// The history as GetExecutionHistory returns it: `{"events": [...]}`.
    pub fn history_json(&self) -> Value {
        json!({ "events": self.history })
    }
}

/// Retries a retrier made (drives the backoff) and retries per error name (capped by MaxAttempts).
type RetryCounter = (u64, Vec<(Option<String>, u64)>);

pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub(crate) enum Step {
    Next(String, Value),
    End(Value),
}

/// One running execution.
pub(crate) struct Exec<'r> {
    pub rc: &'r RunContext<'r>,
    pub history: History<'r>,
    pub base_context: Value,
    pub sm_name: String,
    pub region: String,
    pub account: String,
}

fn merge_into(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge_into(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, e) => *b = e.clone(),
    }
}

fn entered(kind: &Kind) -> EventType {
    match kind {
        Kind::Pass(_) => EventType::PassStateEntered,
        Kind::Task(_) => EventType::TaskStateEntered,
        Kind::Choice(_) => EventType::ChoiceStateEntered,
        Kind::Wait(_) => EventType::WaitStateEntered,
        Kind::Succeed => EventType::SucceedStateEntered,
        Kind::Fail(_) => EventType::FailStateEntered,
        Kind::Parallel(_) => EventType::ParallelStateEntered,
        Kind::Map(_) => EventType::MapStateEntered,
    }
}

fn exited(kind: &Kind) -> Option<EventType> {
    Some(match kind {
        Kind::Pass(_) => EventType::PassStateExited,
        Kind::Task(_) => EventType::TaskStateExited,
        Kind::Choice(_) => EventType::ChoiceStateExited,
        Kind::Wait(_) => EventType::WaitStateExited,
        Kind::Succeed => EventType::SucceedStateExited,
        Kind::Fail(_) => return None,
        Kind::Parallel(_) => EventType::ParallelStateExited,
        Kind::Map(_) => EventType::MapStateExited,
    })
}

pub(crate) fn error_details(e: &StatesError) -> Value {
    let mut m = Map::new();
    if let Some(x) = &e.error {
        m.insert("error".into(), Value::String(x.clone()));
    }
    if let Some(c) = &e.cause {
        m.insert("cause".into(), Value::String(c.clone()));
    }
    Value::Object(m)
}

impl StateMachine {
    /// Runs one execution to completion. Never panics on any definition or input; all failures
    /// end up in the returned [`Execution`].
    pub async fn run(&self, input: Value, ctx: &RunContext<'_>) -> Execution {
        let start = ctx.clock.now();
        // Checked first: everything below clones and serialises the input.
        let too_big = size_within(&input, ctx.payload_limit).is_none();
        let input = if too_big { Value::Null } else { input };
        let name = ctx
            .execution_name
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let sm_arn = ctx.state_machine_arn.clone();
        let parts: Vec<&str> = sm_arn.split(':').collect();
        let region = parts.get(3).copied().unwrap_or("us-east-1").to_string();
        let account = parts.get(4).copied().unwrap_or("123456789012").to_string();
        let sm_name = parts.get(6).copied().unwrap_or("local").to_string();
        let exec_arn = format!("arn:aws:states:{region}:{account}:execution:{sm_name}:{name}");
        let mut base_context = json!({
            "Execution": {
                "Id": exec_arn,
                "Input": input,
                "Name": name,
                "RoleArn": ctx.role_arn,
                "StartTime": crate::time::format_rfc3339(start),
                "RedriveCount": 0,
            },
            "StateMachine": {"Id": sm_arn, "Name": sm_name},
        });
        if let Some(extra) = ctx.context {
            merge_into(&mut base_context, extra);
        }
        let exec = Exec {
            rc: ctx,
            history: History::new(ctx.observer),
            base_context,
            sm_name,
            region,
            account,
        };
        let mut th = Thread { last: 0 };
        exec.history.record(
            &mut th,
            start,
            EventType::ExecutionStarted,
            Some((
                "executionStartedEventDetails",
                Value::Object({
                    let mut m = history::payload("input", &input);
                    m.insert("roleArn".into(), Value::String(ctx.role_arn.clone()));
                    m
                }),
            )),
        );
        // AWS starts the first state's chain at 0, not at ExecutionStarted.
        let mut state_th = Thread { last: 0 };
        let outcome = if too_big {
            Err(Some(StatesError::new(
                names::DATA_LIMIT_EXCEEDED,
                "The execution input exceeds the payload size limit",
            )))
        } else {
            let run = exec.run_graph(&self.root, input.clone(), &mut state_th);
            match self.timeout_seconds {
                Some(t) => match tokio::time::timeout(Duration::from_secs(t), run).await {
                    Ok(r) => r.map_err(Some),
                    Err(_) => Err(None),
                },
                None => run.await.map_err(Some),
            }
        };
        th.last = th.last.max(state_th.last);
        let now = ctx.clock.now();
        let (status, output, error) = match outcome {
            Ok(out) => {
                exec.history.record(
                    &mut th,
                    now,
                    EventType::ExecutionSucceeded,
                    Some((
                        "executionSucceededEventDetails",
                        Value::Object(history::payload("output", &out)),
                    )),
                );
                (ExecutionStatus::Succeeded, Some(out), None)
            }
            Err(Some(e)) => {
                exec.history.record(
                    &mut th,
                    now,
                    EventType::ExecutionFailed,
                    Some(("executionFailedEventDetails", error_details(&e))),
                );
                (ExecutionStatus::Failed, None, Some(e))
            }
            Err(None) => {
                let e = StatesError::new(
                    names::TIMEOUT,
                    "The execution exceeded the state machine's TimeoutSeconds",
                );
                exec.history.record(
                    &mut th,
                    now,
                    EventType::ExecutionTimedOut,
                    Some(("executionTimedOutEventDetails", error_details(&e))),
                );
                (ExecutionStatus::TimedOut, None, Some(e))
            }
        };
        let (error, cause) = match error {
            Some(e) => (e.error, e.cause),
            None => (None, None),
        };
        Execution {
            execution_arn: exec_arn,
            state_machine_arn: sm_arn,
            name,
            status,
            start_date: crate::time::format_rfc3339(start),
            stop_date: crate::time::format_rfc3339(now),
            input,
            output,
            error,
            cause,
            history: exec.history.into_events(),
        }
    }
}

impl<'r> Exec<'r> {
    pub fn now(&self) -> SystemTime {
        self.rc.clock.now()
    }

    pub fn record(&self, th: &mut Thread, ty: EventType, details: Option<(&str, Value)>) -> u64 {
        self.history.record(th, self.now(), ty, details)
    }

    pub fn env<'v>(&self, input: &'v Value, context: &'v Value) -> EvalEnv<'v> {
        EvalEnv {
            input,
            context,
            limit: self.rc.payload_limit,
        }
    }

    /// Adds AWS's "An error occurred while executing the state ..." prefix to data-processing errors.
    pub fn at(&self, st: &State, entered_id: u64, mut e: StatesError) -> StatesError {
        if matches!(e.name(), Some(names::RUNTIME | names::INTRINSIC_FAILURE)) {
            let cause = e.cause.take().unwrap_or_default();
            e.cause = Some(format!(
                "An error occurred while executing the state '{}' (entered at the event id #{entered_id}). {cause}",
                st.name
            ));
        }
        e
    }

    pub fn state_context(&self, st: &State, entered_at: SystemTime, retry_count: u64) -> Value {
        let mut c = self.base_context.clone();
        if let Some(o) = c.as_object_mut() {
            o.insert(
                "State".into(),
                json!({
                    "Name": st.name,
                    "EnteredTime": crate::time::format_rfc3339(entered_at),
                    "RetryCount": retry_count,
                }),
            );
            if matches!(st.kind, Kind::Task(_)) {
                o.insert(
                    "Task".into(),
                    json!({"Token": uuid::Uuid::new_v4().simple().to_string()}),
                );
            }
        }
        c
    }

    fn limit_error(&self) -> StatesError {
        StatesError::runtime(format!(
            "The execution reached the maximum number of history events ({}).",
            self.rc.max_events
        ))
    }

    /// Runs a graph from StartAt to a terminal state.
    pub fn run_graph<'s>(
        &'s self,
        graph: &'s Graph,
        input: Value,
        th: &'s mut Thread,
    ) -> BoxFut<'s, Result<Value, StatesError>> {
        Box::pin(async move {
            let mut name = graph.start_at.clone();
            let mut input = input;
            loop {
                if self.history.len() >= self.rc.max_events {
                    return Err(self.limit_error());
                }
                let Some(st) = graph.states.get(&name) else {
                    return Err(StatesError::runtime(format!("state '{name}' does not exist")));
                };
                match self.run_state(st, input, th).await? {
                    Step::Next(n, v) => {
                        name = n;
                        input = v;
                    }
                    Step::End(v) => return Ok(v),
                }
            }
        })
    }

    async fn run_state(&self, st: &State, raw: Value, th: &mut Thread) -> Result<Step, StatesError> {
        let entered_at = self.now();
        let mut details = history::payload("input", &raw);
        details.insert("name".into(), Value::String(st.name.clone()));
        let entered_id = self.record(
            th,
            entered(&st.kind),
            Some(("stateEnteredEventDetails", Value::Object(details))),
        );
        // Per retrier: retries made (drives the backoff) and retries per error name (capped by
        // MaxAttempts) — AWS's documented accounting for retriers listing several errors.
        let mut counters: Vec<RetryCounter> = vec![(0, Vec::new()); st.retry.len()];
        let mut retries = 0u64;
        let mut rng: Option<SplitMix64> = None;
        loop {
            let ctx = self.state_context(st, entered_at, retries);
            let attempt = self.attempt(st, &raw, &ctx, th, entered_id).await;
            let attempt = attempt.and_then(|(out, next)| {
                if size_within(&out, self.rc.payload_limit).is_none() {
                    Err(StatesError::new(
                        names::DATA_LIMIT_EXCEEDED,
                        format!(
                            "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                            st.name
                        ),
                    ))
                } else {
                    Ok((out, next))
                }
            });
            match attempt {
                Ok((out, next)) => {
                    if let Some(ty) = exited(&st.kind) {
                        let mut d = history::payload("output", &out);
                        d.insert("name".into(), Value::String(st.name.clone()));
                        self.record(th, ty, Some(("stateExitedEventDetails", Value::Object(d))));
                    }
                    let next = next.or_else(|| match &st.transition {
                        Transition::Next(n) => Some(n.clone()),
                        _ => None,
                    });
                    return Ok(match next {
                        Some(n) => Step::Next(n, out),
                        None => Step::End(out),
                    });
                }
                Err(err) => {
                    if let Some(i) = st.retry.iter().position(|r| err.matches(&r.error_equals)) {
                        let r = &st.retry[i];
                        let (total, per_error) = &mut counters[i];
                        let slot = match per_error.iter().position(|(n, _)| *n == err.error) {
                            Some(k) => k,
                            None => {
                                per_error.push((err.error.clone(), 0));
                                per_error.len() - 1
                            }
                        };
                        if per_error[slot].1 < r.max_attempts {
                            let u = rng.get_or_insert_with(SplitMix64::from_entropy).unit_f64();
                            let delay = r.delay_seconds(*total, u);
                            per_error[slot].1 += 1;
                            *total += 1;
                            retries += 1;
                            self.rc
                                .clock
                                .sleep(Duration::try_from_secs_f64(delay).unwrap_or_default())
                                .await;
                            if self.history.len() >= self.rc.max_events {
                                return Err(self.limit_error());
                            }
                            continue;
                        }
                    }
                    if let Some(c) = st.catch.iter().find(|c| err.matches(&c.error_equals)) {
                        let out = apply_result_path(&raw, &c.result_path, err.to_output())
                            .map_err(|e| self.at(st, entered_id, e))?;
                        return Ok(Step::Next(c.next.clone(), out));
                    }
                    return Err(err);
                }
            }
        }
    }

    /// One try of a state: its output and, for Choice, the chosen next state.
    async fn attempt(
        &self,
        st: &State,
        raw: &Value,
        ctx: &Value,
        th: &mut Thread,
        entered_id: u64,
    ) -> Result<(Value, Option<String>), StatesError> {
        let site = |e: StatesError| self.at(st, entered_id, e);
        let effective = apply_input_path(&st.input_path, raw, ctx).map_err(site)?;
        match &st.kind {
            Kind::Pass(p) => {
                let result = match (&p.result, &st.parameters) {
                    (Some(r), _) => r.clone(),
                    (None, Some(t)) => t.eval(&self.env(&effective, ctx)).map_err(site)?,
                    (None, None) => effective,
                };
                self.finish(st, raw, result, ctx).map_err(site).map(|v| (v, None))
            }
            Kind::Task(t) => {
                let params = self.parameters(st, effective.clone(), ctx).map_err(site)?;
                let result = self
                    .run_task(st, t, params, &effective, ctx, th, entered_id)
                    .await?;
                let result = self.select(st, result, ctx).map_err(site)?;
                self.finish(st, raw, result, ctx).map_err(site).map(|v| (v, None))
            }
            Kind::Choice(c) => {
                let next = c.choose(&effective, ctx).map_err(site)?;
                let out = apply_output_path(&st.output_path, effective, ctx).map_err(site)?;
                Ok((out, Some(next)))
            }
            Kind::Wait(w) => {
                let d = w.duration(&effective, self.now()).map_err(site)?;
                self.rc.clock.sleep(d).await;
                let out = apply_output_path(&st.output_path, effective, ctx).map_err(site)?;
                Ok((out, None))
            }
            Kind::Succeed => {
                let out = apply_output_path(&st.output_path, effective, ctx).map_err(site)?;
                Ok((out, None))
            }
            Kind::Fail(f) => Err(f.error(raw, ctx, self).map_err(site)?),
            Kind::Parallel(p) => {
                let params = self.parameters(st, effective, ctx).map_err(site)?;
                let result = self.run_parallel(p, params, th).await?;
                let result = self.select(st, result, ctx).map_err(site)?;
                self.finish(st, raw, result, ctx).map_err(site).map(|v| (v, None))
            }
            Kind::Map(m) => {
                let result = self.run_map(st, m, effective, ctx, th, entered_id).await?;
                let result = self.select(st, result, ctx).map_err(site)?;
                self.finish(st, raw, result, ctx).map_err(site).map(|v| (v, None))
            }
        }
    }

    fn parameters(&self, st: &State, effective: Value, ctx: &Value) -> Result<Value, StatesError> {
        match &st.parameters {
            Some(t) => t.eval(&self.env(&effective, ctx)),
            None => Ok(effective),
        }
    }

    fn select(&self, st: &State, result: Value, ctx: &Value) -> Result<Value, StatesError> {
        match &st.result_selector {
            Some(t) => t.eval(&self.env(&result, ctx)),
            None => Ok(result),
        }
    }

    /// ResultPath then OutputPath.
    fn finish(&self, st: &State, raw: &Value, result: Value, ctx: &Value) -> Result<Value, StatesError> {
        let combined = apply_result_path(raw, &st.result_path, result)?;
        apply_output_path(&st.output_path, combined, ctx)
    }

    /// Evaluates a template that is optional, for sub-fields such as ItemReader Parameters.
    pub fn eval_opt(&self, t: Option<&Template>, input: &Value, ctx: &Value) -> Result<Value, StatesError> {
        match t {
            Some(t) => t.eval(&self.env(input, ctx)),
            None => Ok(Value::Object(Map::new())),
        }
    }
}

fn not_found(field: &str, path: &str, doc: &Value) -> StatesError {
    StatesError::runtime(format!(
        "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
        compact(doc)
    ))
}

pub(crate) fn apply_input_path(p: &PathField, raw: &Value, ctx: &Value) -> Result<Value, StatesError> {
    match p {
        PathField::Root => Ok(raw.clone()),
        PathField::Null => Ok(Value::Object(Map::new())),
        PathField::Path(path) => path
            .eval(raw, ctx)
            .ok_or_else(|| not_found("InputPath", path.text(), raw)),
    }
}

pub(crate) fn apply_output_path(p: &PathField, v: Value, ctx: &Value) -> Result<Value, StatesError> {
    match p {
        PathField::Root => Ok(v),
        PathField::Null => Ok(Value::Object(Map::new())),
        PathField::Path(path) => path
            .eval(&v, ctx)
            .ok_or_else(|| not_found("OutputPath", path.text(), &v)),
    }
}

pub(crate) fn apply_result_path(raw: &Value, p: &ResultPath, result: Value) -> Result<Value, StatesError> {
    match p {
        ResultPath::Root => Ok(result),
        ResultPath::Discard => Ok(raw.clone()),
        ResultPath::Path(path) => {
            let mut doc = raw.clone();
            set_reference(&mut doc, path, result)
                .map_err(|e| StatesError::new(names::RESULT_PATH_MATCH_FAILURE, e))?;
            Ok(doc)
        }
    }
}
