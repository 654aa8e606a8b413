//! Task: hands its Parameters to the caller's [`crate::TaskRunner`], with TimeoutSeconds
//! (and HeartbeatSeconds for callback/activity tasks, the only ones that heartbeat) enforced in
//! real time as `States.Timeout` / `States.HeartbeatTimeout`.

use crate::error::{names, StatesError};
use crate::executor::{error_details, Exec};
use crate::history::{self, EventType, Thread};
use crate::intrinsics::size_within;
use crate::load::F;
use crate::paths::Path;
use crate::states::State;
use serde_json::{json, Value};
use std::time::Duration;

const MAX_SECONDS: u64 = 99_999_999;

#[derive(Debug)]
enum Secs {
    Lit(u64),
    Path(Path),
}

#[derive(Debug)]
pub(crate) struct Task {
    pub resource: String,
    timeout: Option<Secs>,
    heartbeat: Option<Secs>,
}

fn secs(f: &mut F<'_>, lit: &str, path: &str) -> Option<Secs> {
    f.exclusive(lit, path);
    if f.has(lit) {
        return f.uint(lit, 1, MAX_SECONDS).map(Secs::Lit);
    }
    f.ref_path(path).map(Secs::Path)
}

pub(crate) fn parse(f: &mut F<'_>) -> Option<Task> {
    let resource = match f.string("Resource") {
        Some(r) if r.starts_with("arn:") => r,
        Some(r) if r.contains("${") => {
            f.err(
                "Resource",
                format!("'{r}' still holds a ${{...}} placeholder: pass DefinitionSubstitutions"),
            );
            return None;
        }
        Some(r) => {
            f.err("Resource", format!("'{r}' is not an ARN"));
            return None;
        }
        None => {
            f.err("Resource", "is required for a Task state");
            return None;
        }
    };
    let timeout = secs(f, "TimeoutSeconds", "TimeoutSecondsPath");
    let heartbeat = secs(f, "HeartbeatSeconds", "HeartbeatSecondsPath");
    if let (Some(Secs::Lit(t)), Some(Secs::Lit(h))) = (&timeout, &heartbeat) {
        if h >= t {
            f.err("HeartbeatSeconds", "must be smaller than TimeoutSeconds");
        }
    }
    Some(Task {
        resource,
        timeout,
        heartbeat,
    })
}

/// `resourceType`/`resource` as history events show them: `lambda`/`invoke` for
/// `arn:aws:states:::lambda:invoke`, `aws-sdk:s3`/`listObjectsV2` for SDK integrations.
fn resource_parts(resource: &str) -> (String, String) {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        if let Some((ty, name)) = rest.rsplit_once(':') {
            return (ty.to_string(), name.to_string());
        }
    }
    if resource.contains(":activity:") {
        return ("activity".into(), resource.to_string());
    }
    ("lambda".into(), resource.to_string())
}

fn uses_heartbeats(resource: &str) -> bool {
    resource.ends_with(".waitForTaskToken") || resource.contains(":activity:")
}

impl Task {
    fn resolve(&self, s: &Option<Secs>, field: &str, input: &Value) -> Result<Option<u64>, StatesError> {
        match s {
            None => Ok(None),
            Some(Secs::Lit(n)) => Ok(Some(*n)),
            Some(Secs::Path(p)) => {
                let v = p.eval(input, &Value::Null).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                        p.text(),
                        crate::template::compact(input)
                    ))
                })?;
                match v.as_u64().filter(|n| (1..=MAX_SECONDS).contains(n)) {
                    Some(n) => Ok(Some(n)),
                    None => Err(StatesError::runtime(format!(
                        "The value of '{field}' must be a positive integer, got {v}"
                    ))),
                }
            }
        }
    }
}

impl Exec<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_task(
        &self,
        st: &State,
        t: &Task,
        params: Value,
        effective: &Value,
        _ctx: &Value,
        th: &mut Thread,
        entered_id: u64,
    ) -> Result<Value, StatesError> {
        let timeout = t
            .resolve(&t.timeout, "TimeoutSecondsPath", effective)
            .map_err(|e| self.at(st, entered_id, e))?;
        let heartbeat = t
            .resolve(&t.heartbeat, "HeartbeatSecondsPath", effective)
            .map_err(|e| self.at(st, entered_id, e))?;
        let lambda_arn = t.resource.starts_with("arn:aws:lambda:");
        let (rtype, rname) = resource_parts(&t.resource);
        let base = json!({"resourceType": rtype, "resource": rname});
        let with = |extra: Value| -> Value {
            let mut m = base.as_object().cloned().unwrap_or_default();
            if let Value::Object(e) = extra {
                m.extend(e);
            }
            Value::Object(m)
        };
        if lambda_arn {
            let mut d = history::payload("input", &params);
            d.insert("resource".into(), Value::String(t.resource.clone()));
            if let Some(s) = timeout {
                d.insert("timeoutInSeconds".into(), json!(s));
            }
            self.record(
                th,
                EventType::LambdaFunctionScheduled,
                Some(("lambdaFunctionScheduledEventDetails", Value::Object(d))),
            );
            self.record(th, EventType::LambdaFunctionStarted, None);
        } else {
            let mut d = json!({"region": self.region, "parameters": history::text(&params)});
            if let Some(s) = timeout {
                d["timeoutInSeconds"] = json!(s);
            }
            if let Some(s) = heartbeat {
                d["heartbeatInSeconds"] = json!(s);
            }
            self.record(
                th,
                EventType::TaskScheduled,
                Some(("taskScheduledEventDetails", with(d))),
            );
            self.record(
                th,
                EventType::TaskStarted,
                Some(("taskStartedEventDetails", base.clone())),
            );
        }
        // Heartbeats only exist for callback and activity tasks; the shorter limit wins.
        let hb = heartbeat.filter(|_| uses_heartbeats(&t.resource));
        let limit = match (timeout, hb) {
            (Some(t), Some(h)) if h < t => Some((h, names::HEARTBEAT_TIMEOUT)),
            (Some(t), _) => Some((t, names::TIMEOUT)),
            (None, Some(h)) => Some((h, names::HEARTBEAT_TIMEOUT)),
            (None, None) => None,
        };
        // TaskSubmitted is recorded live, in this task's thread, while the runner waits on the job.
        let thread = std::sync::Mutex::new(*th);
        let on_submitted = |out: Value| {
            if let Ok(mut thread) = thread.lock() {
                let d = with(Value::Object(history::payload("output", &out)));
                self.record(
                    &mut thread,
                    EventType::TaskSubmitted,
                    Some(("taskSubmittedEventDetails", d)),
                );
            }
        };
        let call = self
            .rc
            .tasks
            .invoke_observed(&t.resource, params, &st.name, &on_submitted);
        let outcome = match limit {
            Some((secs, name)) => match tokio::time::timeout(Duration::from_secs(secs), call).await {
                Ok(r) => r.map_err(StatesError::from),
                Err(_) => Err(StatesError::new(
                    name,
                    format!("The task did not complete within {secs} seconds"),
                )),
            },
            None => call.await.map_err(StatesError::from),
        };
        if let Ok(thread) = thread.lock() {
            *th = *thread;
        }
        // Check the result before it is serialised into the history.
        let outcome = outcome.and_then(|v| match size_within(&v, self.rc.payload_limit) {
            Some(_) => Ok(v),
            None => Err(StatesError::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The task result of state '{}' exceeds the payload size limit",
                    st.name
                ),
            )),
        });
        match outcome {
            Ok(v) => {
                if lambda_arn {
                    self.record(
                        th,
                        EventType::LambdaFunctionSucceeded,
                        Some((
                            "lambdaFunctionSucceededEventDetails",
                            Value::Object(history::payload("output", &v)),
                        )),
                    );
                } else {
                    let d = Value::Object(history::payload("output", &v));
                    self.record(
                        th,
                        EventType::TaskSucceeded,
                        Some(("taskSucceededEventDetails", with(d))),
                    );
                }
                Ok(v)
            }
            Err(e) => {
                let timed_out =
                    matches!(e.name(), Some(names::TIMEOUT | names::HEARTBEAT_TIMEOUT)) && limit.is_some();
                let (ty, key) = match (lambda_arn, timed_out) {
                    (true, true) => (
                        EventType::LambdaFunctionTimedOut,
                        "lambdaFunctionTimedOutEventDetails",
                    ),
                    (true, false) => (
                        EventType::LambdaFunctionFailed,
                        "lambdaFunctionFailedEventDetails",
                    ),
                    (false, true) => (EventType::TaskTimedOut, "taskTimedOutEventDetails"),
                    (false, false) => (EventType::TaskFailed, "taskFailedEventDetails"),
                };
                let d = if lambda_arn {
                    error_details(&e)
                } else {
                    with(error_details(&e))
                };
                self.record(th, ty, Some((key, d)));
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_parts_like_history_events() {
        assert_eq!(
            resource_parts("arn:aws:states:::lambda:invoke"),
            ("lambda".into(), "invoke".into())
        );
        assert_eq!(
            resource_parts("arn:aws:states:::sagemaker:createTrainingJob.sync"),
            ("sagemaker".into(), "createTrainingJob.sync".into())
        );
        assert_eq!(
            resource_parts("arn:aws:states:::aws-sdk:s3:listObjectsV2"),
            ("aws-sdk:s3".into(), "listObjectsV2".into())
        );
        assert!(uses_heartbeats(
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        ));
        assert!(!uses_heartbeats("arn:aws:states:::lambda:invoke"));
    }
}
