//! Loader diagnostics, history shape, clocks, limits and task plumbing.

mod common;

use greenpipe_statemachine::{
    async_trait, load, substitute, EventType, ExecutionStatus, HistoryEvent, ItemReaderRequest, NoTasks,
    ResultWriterRequest, RunContext, TaskError, TaskRunner,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn problems(def: Value) -> Vec<String> {
    match load(&def.to_string()) {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    }
}

fn assert_problem(def: Value, needle: &str) {
    let p = problems(def);
    assert!(
        p.iter().any(|m| m.contains(needle)),
        "no problem containing {needle:?} in {p:#?}"
    );
}

fn pass_end() -> Value {
    json!({"Type": "Pass", "End": true})
}

#[test]
fn load_errors_name_state_and_field() {
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Magic", "End": true}}}),
        "state 'A', field 'Type': unknown state type 'Magic'",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}),
        "state 'A', field 'Next': 'B' is not a state",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Resource": "x"}}}),
        "state 'A', field 'Resource': unsupported field for a Pass state",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "InputPath": "$.a["}}}),
        "state 'A', field 'InputPath': invalid JSONPath",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": "States.Nope()"}}}}),
        "state 'A', field 'Parameters'",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "ResultPath": "$.a[*]"}}}),
        "field 'ResultPath': '$.a[*]' must be a reference path",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}),
        "state 'A', field 'Next'",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A", "End": true}}}),
        "field 'End': cannot be used together with 'Next'",
    );
    assert_problem(
        json!({"StartAt": "Z", "States": {"A": pass_end()}}),
        "field 'StartAt': 'Z' is not a state",
    );
    assert_problem(
        json!({"States": {"A": pass_end()}}),
        "field 'StartAt': is required",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true}]}}}),
        "state 'A', field 'Choices': [0]: a top-level choice rule needs 'Next'",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "B"}]}}}),
        "field 'Choices': 'B' is not a state",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A"}}}),
        "field 'Next': is not allowed",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}}}),
        "exactly one of Seconds",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Timestamp": "tomorrow", "End": true}}}),
        "field 'Timestamp'",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}),
        "field 'Resource': is required",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${Fn}", "End": true}}}),
        "DefinitionSubstitutions",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "TimeoutSeconds": 5, "HeartbeatSeconds": 10}}}),
        "field 'HeartbeatSeconds': must be smaller",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}}}),
        "States.ALL must be in the last entry of Retry",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "Catch": [{"ErrorEquals": ["States.ALL", "X"], "Next": "A"}]}}}),
        "States.ALL must appear alone",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
        "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5, "JitterStrategy": "HALF"}]}}}),
        "BackoffRate must be a number >= 1.0",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true, "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2"},
        "ItemProcessor": {"StartAt": "I", "States": {"I": pass_end()}}}}}),
        "field 'ItemReader': is only allowed when ProcessorConfig.Mode is DISTRIBUTED",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Assign": {"x": 1}}}}),
        "variables (Assign) are not supported",
    );
    assert_problem(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": pass_end()}}),
        "field 'QueryLanguage'",
    );
    assert_problem(json!([1, 2]), "must be a JSON object");
    assert!(load("{ not json")
        .unwrap_err()
        .to_string()
        .contains("not valid JSON"));
}

#[test]
fn nested_problems_carry_the_nesting_chain() {
    let def = json!({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Ok", "States": {"Ok": pass_end()}},
        {"StartAt": "Inner", "States": {"Inner": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "Deep", "States": {"Deep": {"Type": "Pass", "Next": "Nowhere"}}}}}}]}}});
    assert_problem(
        def,
        "state 'Par/Branches[1]/Inner/ItemProcessor/Deep', field 'Next': 'Nowhere' is not a state",
    );
}

#[test]
fn every_problem_is_reported() {
    let p = problems(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "X"}, "B": {"Type": "Nope"}, "C": {"Type": "Pass", "End": true, "Bogus": 1}}}));
    assert_eq!(p.len(), 3, "{p:#?}");
}

#[test]
fn unreachable_states_are_warnings() {
    let sm =
        load(&json!({"StartAt": "A", "States": {"A": pass_end(), "Lost": pass_end()}}).to_string()).unwrap();
    assert_eq!(sm.warnings().len(), 1);
    assert_eq!(sm.warnings()[0].state.as_deref(), Some("Lost"));
}

#[test]
fn introspection() {
    let sm = load(&json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
            "Retry": [{"ErrorEquals": ["Throttled"]}], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
            "F": {"Type": "Fail", "Error": "X"}}}],
        "Catch": [{"ErrorEquals": ["DatasetInvalid"], "Next": "Done"}]}, "Done": {"Type": "Succeed"}}})
    .to_string())
    .unwrap();
    assert_eq!(
        sm.task_resources(),
        vec![(
            "P/Branches[0]/T".to_string(),
            "arn:aws:states:::lambda:invoke".to_string()
        )]
    );
    let names: Vec<String> = sm.matched_error_names().into_iter().collect();
    assert_eq!(names, vec!["DatasetInvalid", "States.ALL", "Throttled"]);
    assert!(sm.states().contains(&("P/Branches[0]/F".to_string(), "Fail")));
}

#[test]
fn substitutions() {
    let vars: HashMap<String, String> = [
        (
            "FnArn".to_string(),
            "arn:aws:lambda:us-east-1:1:function:f".to_string(),
        ),
        ("Q".to_string(), "a\"b".to_string()),
    ]
    .into_iter()
    .collect();
    let out = substitute(
        r#"{"Resource": "${FnArn}", "x": "${Q}", "keep": "$.a", "brace": "${not closed"}"#,
        &vars,
    )
    .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Resource"], "arn:aws:lambda:us-east-1:1:function:f");
    assert_eq!(v["x"], "a\"b");
    assert_eq!(v["brace"], "${not closed");
    let err = substitute(
        r#"{"a": "${Missing}", "b": "${Missing}", "c": "${Other}"}"#,
        &vars,
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 2);
    assert!(err.to_string().contains("${Missing}"));
}

fn ctx() -> RunContext<'static> {
    RunContext::new(Arc::new(NoTasks))
        .fast()
        .with_execution_name("exec-1")
}

#[tokio::test]
async fn history_is_shaped_like_get_execution_history() {
    let sm = load(
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"r": 1}, "Next": "B"},
        "B": {"Type": "Succeed"}}})
        .to_string(),
    )
    .unwrap();
    let exec = sm.run(json!({"in": true}), &ctx()).await;
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    assert_eq!(exec.name, "exec-1");
    assert_eq!(
        exec.execution_arn,
        "arn:aws:states:us-east-1:123456789012:execution:local:exec-1"
    );
    let h = exec.history_json();
    let events = h["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(
        events[0]["executionStartedEventDetails"]["input"],
        "{\"in\":true}"
    );
    assert_eq!(
        events[0]["executionStartedEventDetails"]["inputDetails"],
        json!({"truncated": false})
    );
    assert!(events[0]["executionStartedEventDetails"]["roleArn"].is_string());
    assert_eq!(events[1]["stateEnteredEventDetails"]["name"], "A");
    assert_eq!(events[1]["previousEventId"], 0);
    assert_eq!(events[2]["stateExitedEventDetails"]["output"], "{\"r\":1}");
    assert_eq!(events[2]["previousEventId"], 2);
    assert_eq!(events[5]["executionSucceededEventDetails"]["output"], "{\"r\":1}");
    assert!(events[0]["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn failure_history_and_parallel_map_events() {
    let sm = load(
        &json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "M", "Branches": [{"StartAt": "X", "States": {"X": pass_end()}}]},
        "M": {"Type": "Map", "Next": "F", "ItemProcessor": {"StartAt": "I", "States": {"I": pass_end()}}},
        "F": {"Type": "Fail", "Error": "E", "Cause": "C"}}})
        .to_string(),
    )
    .unwrap();
    let exec = sm.run(json!([1, 2]), &ctx()).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert_eq!(
        (exec.error.as_deref(), exec.cause.as_deref()),
        (Some("E"), Some("C"))
    );
    let types: Vec<&str> = exec.history.iter().map(|e| e.event_type.as_str()).collect();
    for t in [
        "ParallelStateStarted",
        "ParallelStateSucceeded",
        "MapStateStarted",
        "MapIterationStarted",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    let last = exec.history.last().unwrap();
    assert_eq!(last.detail(), Some(&json!({"error": "E", "cause": "C"})));
    let map_started = exec
        .history
        .iter()
        .find(|e| e.event_type == EventType::MapStateStarted)
        .unwrap();
    assert_eq!(
        map_started.detail(),
        Some(&json!({"length": 1})),
        "the Parallel output [[1, 2]] has one item"
    );
}

#[tokio::test]
async fn fast_clock_skips_waits_but_advances_time() {
    let sm = load(
        &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}).to_string(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let exec = sm.run(json!({}), &ctx()).await;
    assert!(exec.succeeded());
    assert!(started.elapsed() < Duration::from_secs(5));
    let t = |i: usize| {
        greenpipe_statemachine::time::format_rfc3339(std::time::SystemTime::UNIX_EPOCH)
            .len()
            .min(exec.history[i].timestamp.len())
    };
    assert!(t(0) > 0);
    assert!(
        exec.stop_date > exec.start_date,
        "virtual time advanced: {} -> {}",
        exec.start_date,
        exec.stop_date
    );
}

#[tokio::test(start_paused = true)]
async fn real_clock_waits_and_machine_timeout() {
    let sm = load(
        &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": true}}}).to_string(),
    )
    .unwrap();
    let before = tokio::time::Instant::now();
    let exec = sm.run(json!({}), &RunContext::new(Arc::new(NoTasks))).await;
    assert!(exec.succeeded());
    assert!(before.elapsed() >= Duration::from_secs(2));

    let sm = load(&json!({"TimeoutSeconds": 1, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": true}}}).to_string())
        .unwrap();
    let exec = sm.run(json!({}), &RunContext::new(Arc::new(NoTasks))).await;
    assert_eq!(exec.status, ExecutionStatus::TimedOut);
    assert_eq!(exec.error.as_deref(), Some("States.Timeout"));
    assert_eq!(
        exec.history.last().unwrap().event_type,
        EventType::ExecutionTimedOut
    );
}

#[tokio::test]
async fn endless_loops_hit_the_history_limit() {
    let sm =
        load(&json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}).to_string()).unwrap();
    let mut c = ctx();
    c.max_events = 500;
    let exec = sm.run(json!({}), &c).await;
    assert_eq!(exec.error.as_deref(), Some("States.Runtime"));
    assert!(exec.cause.unwrap().contains("maximum number of history events"));
    assert!(exec.history.len() <= 502);
}

#[tokio::test]
async fn payload_limit_gives_data_limit_exceeded() {
    let sm = load(
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A",
        "Parameters": {"s.$": "States.Format('{}{}', $.s, $.s)"}}}})
        .to_string(),
    )
    .unwrap();
    let mut c = ctx();
    c.payload_limit = 10_000;
    let exec = sm.run(json!({"s": "x"}), &c).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert!(
        matches!(
            exec.error.as_deref(),
            Some("States.DataLimitExceeded" | "States.IntrinsicFailure")
        ),
        "{:?}",
        exec.error
    );
    let exec = load(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#)
        .unwrap()
        .run(json!({"big": "y".repeat(20_000)}), &c)
        .await;
    assert_eq!(exec.error.as_deref(), Some("States.DataLimitExceeded"));
}

/// Values that grow deeper on every loop iteration stop at a clean error, not a stack overflow.
#[tokio::test]
async fn ever_deeper_values_fail_cleanly() {
    let sm = load(
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A",
        "Parameters": {"v.$": "States.Array($.v)"}}}})
        .to_string(),
    )
    .unwrap();
    let exec = sm.run(json!({"v": 0}), &ctx()).await;
    assert_eq!(exec.status, ExecutionStatus::Failed);
    assert!(
        matches!(
            exec.error.as_deref(),
            Some("States.DataLimitExceeded" | "States.IntrinsicFailure")
        ),
        "{:?}",
        exec.error
    );
}

#[tokio::test]
async fn context_object_and_observer() {
    let seen = Mutex::new(Vec::new());
    let observer = |e: &HistoryEvent| seen.lock().unwrap().push(e.event_type);
    let extra = json!({"Execution": {"Custom": "c"}, "Extra": 1});
    let sm = load(&json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Parameters": {
        "name.$": "$$.Execution.Name", "id.$": "$$.Execution.Id", "custom.$": "$$.Execution.Custom", "extra.$": "$$.Extra",
        "sm.$": "$$.StateMachine.Name", "start.$": "$$.Execution.StartTime", "entered.$": "$$.State.EnteredTime"}}}})
    .to_string())
    .unwrap();
    let c = RunContext::new(Arc::new(NoTasks))
        .fast()
        .with_execution_name("n1")
        .with_state_machine_arn("arn:aws:states:eu-west-1:111122223333:stateMachine:pipeline")
        .with_context(&extra)
        .with_observer(&observer);
    let exec = sm.run(json!({}), &c).await;
    let out = exec.output.unwrap();
    assert_eq!(out["name"], "n1");
    assert_eq!(
        out["id"],
        "arn:aws:states:eu-west-1:111122223333:execution:pipeline:n1"
    );
    assert_eq!(out["custom"], "c");
    assert_eq!(out["extra"], 1);
    assert_eq!(out["sm"], "pipeline");
    assert!(
        greenpipe_statemachine::time::format_rfc3339(std::time::SystemTime::now()).len()
            == out["start"].as_str().unwrap().len()
    );
    assert_eq!(seen.lock().unwrap().len(), exec.history.len());
}

/// Records calls; fails a configurable number of times first.
struct Recorder {
    fail_first: usize,
    calls: Mutex<Vec<(String, Value, String)>>,
    hang: bool,
}

#[async_trait]
impl TaskRunner for Recorder {
    async fn invoke(&self, resource: &str, params: Value, state: &str) -> Result<Value, TaskError> {
        let n = {
            let mut c = self.calls.lock().unwrap();
            c.push((resource.to_string(), params.clone(), state.to_string()));
            c.len()
        };
        if self.hang {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if n <= self.fail_first {
            return Err(TaskError::new("Retryable", format!("attempt {n}")));
        }
        Ok(params)
    }

    async fn write_results(&self, request: &ResultWriterRequest, _state: &str) -> Result<Value, TaskError> {
        Ok(
            json!({"MapRunArn": request.map_run_arn, "ResultWriterDetails": {"Bucket": request.parameters["Bucket"],
            "Key": "results"}, "n": request.succeeded.len()}),
        )
    }
}

fn recorder(fail_first: usize, hang: bool) -> Arc<Recorder> {
    Arc::new(Recorder {
        fail_first,
        calls: Mutex::new(Vec::new()),
        hang,
    })
}

#[tokio::test]
async fn retry_count_and_task_token_reach_the_task() {
    let sm = load(&json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"retry.$": "$$.State.RetryCount", "token.$": "$$.Task.Token"},
        "Retry": [{"ErrorEquals": ["Retryable"], "MaxAttempts": 5}], "End": true}}})
    .to_string())
    .unwrap();
    let r = recorder(2, false);
    let exec = sm.run(json!({}), &RunContext::new(r.clone()).fast()).await;
    assert!(exec.succeeded(), "{:?}", exec.cause);
    let calls = r.calls.lock().unwrap();
    let retries: Vec<&Value> = calls.iter().map(|c| &c.1["retry"]).collect();
    assert_eq!(retries, [&json!(0), &json!(1), &json!(2)]);
    assert!(calls[0].1["token"].as_str().is_some_and(|t| t.len() >= 32));
    assert_eq!(calls[0].2, "T");
    let types: Vec<&str> = exec.history.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types.iter().filter(|t| **t == "TaskFailed").count(), 2);
    let sched = exec
        .history
        .iter()
        .find(|e| e.event_type == EventType::TaskScheduled)
        .unwrap();
    assert_eq!(sched.detail().unwrap()["resourceType"], "lambda");
    assert_eq!(sched.detail().unwrap()["resource"], "invoke");
}

#[tokio::test(start_paused = true)]
async fn heartbeat_timeout_for_callback_tasks() {
    let sm = load(&json!({"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "HeartbeatSeconds": 5, "TimeoutSeconds": 60,
        "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "H"}], "End": true}, "H": {"Type": "Pass", "End": true}}})
    .to_string())
    .unwrap();
    let exec = sm.run(json!({}), &RunContext::new(recorder(0, true))).await;
    assert_eq!(
        exec.output,
        Some(
            json!({"Error": "States.HeartbeatTimeout", "Cause": "The task did not complete within 5 seconds"})
        )
    );
}

#[tokio::test]
async fn item_reader_failure_and_result_writer() {
    let def = |writer: bool| {
        let mut m = json!({"Type": "Map", "End": true,
            "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}});
        if writer {
            m["ItemReader"] = Value::Null;
            m.as_object_mut().unwrap().remove("ItemReader");
            m["ResultWriter"] =
                json!({"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out"}});
        }
        json!({"StartAt": "M", "States": {"M": m}}).to_string()
    };
    let exec = load(&def(false)).unwrap().run(json!({}), &ctx()).await;
    assert_eq!(exec.error.as_deref(), Some("States.ItemReaderFailed"));
    let exec = load(&def(true))
        .unwrap()
        .run(json!([1, 2, 3]), &RunContext::new(recorder(0, false)).fast())
        .await;
    let out = exec.output.expect("output");
    assert_eq!(
        out["ResultWriterDetails"],
        json!({"Bucket": "out", "Key": "results"})
    );
    assert_eq!(out["n"], 3);
    assert!(out["MapRunArn"].as_str().unwrap().contains(":mapRun:local/M:"));
}

/// The reader request carries evaluated Parameters and MaxItemsPath resolved to MaxItems.
#[tokio::test]
async fn item_reader_request_is_evaluated() {
    struct Reader(Mutex<Option<ItemReaderRequest>>);
    #[async_trait]
    impl TaskRunner for Reader {
        async fn invoke(&self, _: &str, p: Value, _: &str) -> Result<Value, TaskError> {
            Ok(p)
        }
        async fn read_items(&self, r: &ItemReaderRequest, _: &str) -> Result<Vec<Value>, TaskError> {
            *self.0.lock().unwrap() = Some(r.clone());
            Ok((0..10).map(|i| json!(i)).collect())
        }
    }
    let sm = load(&json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket.$": "$.b", "Key": "k.csv"},
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItemsPath": "$.max"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}}})
    .to_string())
    .unwrap();
    let reader = Arc::new(Reader(Mutex::new(None)));
    let exec = sm
        .run(
            json!({"b": "bucket", "max": 4}),
            &RunContext::new(reader.clone()).fast(),
        )
        .await;
    assert_eq!(exec.output, Some(json!([0, 1, 2, 3])));
    let req = reader.0.lock().unwrap().clone().unwrap();
    assert_eq!(req.parameters, json!({"Bucket": "bucket", "Key": "k.csv"}));
    assert_eq!(
        req.reader_config,
        json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 4})
    );
}

/// Deterministic mutation fuzzing over the corpus: whatever the definition and input, load and run
/// return (they never panic or hang).
#[tokio::test]
async fn mutated_definitions_never_panic() {
    let mut seed: u64 = 0x1234_5678_9abc_def0;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let atoms = [
        json!(null),
        json!(true),
        json!(-1),
        json!(0),
        json!(2.5),
        json!(""),
        json!("$"),
        json!("$$.Map.Item.Value"),
        json!("$.a[?(@.b > 1)]"),
        json!("States.Format('{}', $)"),
        json!("States.ArrayRange(1, 5, 1)"),
        json!([]),
        json!({}),
        json!("Pass"),
        json!("Choice"),
        json!("Map"),
        json!("Parallel"),
        json!("2020-01-01T00:00:00Z"),
        json!(["States.ALL"]),
        json!({"Variable": "$.a", "IsPresent": true, "Next": "P"}),
    ];
    fn paths(v: &Value, at: &mut Vec<Vec<String>>, cur: &mut Vec<String>) {
        if let Value::Object(o) = v {
            for (k, x) in o {
                cur.push(k.clone());
                at.push(cur.clone());
                paths(x, at, cur);
                cur.pop();
            }
        }
    }
    let root = common::manifest_dir().join("tests/corpus");
    let mut cases: Vec<Value> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    cases.sort_by_key(|c| c["comment"].to_string());
    let mut loaded = 0;
    for round in 0..2000 {
        let case = &cases[round % cases.len()];
        let mut def = case["definition"].clone();
        let mut all = Vec::new();
        paths(&def, &mut all, &mut Vec::new());
        for _ in 0..(1 + next() % 3) {
            let target = &all[(next() as usize) % all.len()];
            let parent: String = target[..target.len() - 1]
                .iter()
                .map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1")))
                .collect();
            if let Some(o) = def.pointer_mut(&parent).and_then(Value::as_object_mut) {
                let key = target.last().unwrap();
                if next() % 4 == 0 {
                    o.remove(key);
                } else {
                    o.insert(key.clone(), atoms[(next() as usize) % atoms.len()].clone());
                }
            }
        }
        let input = if next() % 2 == 0 {
            case["input"].clone()
        } else {
            atoms[(next() as usize) % atoms.len()].clone()
        };
        if let Ok(sm) = load(&def.to_string()) {
            loaded += 1;
            let mut c = ctx();
            c.max_events = 300;
            let _ = tokio::time::timeout(Duration::from_secs(10), sm.run(input, &c))
                .await
                .expect("run finished");
        }
    }
    assert!(loaded > 50, "mutations should still load sometimes ({loaded})");
}
