//! Runs every definition in `tests/corpus/` (Pass/Choice/Map/Parallel/Wait/Fail/Succeed only, so
//! the same files can run on moto's or AWS's executor) and `tests/corpus_tasks/` (Task states,
//! served by a scripted [`TaskRunner`]) and compares with the expected outcome.
//!
//! File format: `{"comment", "definition", "input", "expected": {"status", "output" | "error",
//! "cause", "cause_contains"}}`, plus for task cases `"tasks": {resource: [outcome, ...] | {"rules":
//! [...], "default": outcome}}`, `"items"` (ItemReader listing), `"invocations"`,
//! `"expect_reader"`, `"history_includes"` and `"history_types"`.

mod common;

use greenpipe_statemachine::{async_trait, load, ItemReaderRequest, RunContext, TaskError, TaskRunner};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Serves task resources from a case's `tasks` script.
struct Scripted {
    tasks: Value,
    items: Option<Vec<Value>>,
    calls: Mutex<HashMap<String, usize>>,
    reader_requests: Mutex<Vec<ItemReaderRequest>>,
}

fn subset(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w.iter().all(|(k, v)| h.get(k).is_some_and(|x| subset(v, x))),
        _ => want == have,
    }
}

impl Scripted {
    async fn perform(&self, outcome: &Value, params: Value) -> Result<Value, TaskError> {
        if let Some(s) = outcome.get("sleep_seconds").and_then(Value::as_u64) {
            tokio::time::sleep(std::time::Duration::from_secs(s)).await;
        }
        if let Some(e) = outcome.get("error").and_then(Value::as_str) {
            let cause = outcome.get("cause").and_then(Value::as_str).unwrap_or_default();
            return Err(TaskError::new(e, cause));
        }
        if outcome.get("echo") == Some(&json!(true)) {
            return Ok(params);
        }
        if outcome.get("lambda_invoke") == Some(&json!(true)) {
            let payload = params.get("Payload").cloned().unwrap_or(Value::Null);
            return Ok(json!({"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}));
        }
        Ok(outcome.get("result").cloned().unwrap_or(Value::Null))
    }
}

#[async_trait]
impl TaskRunner for Scripted {
    async fn invoke(&self, resource: &str, params: Value, _state: &str) -> Result<Value, TaskError> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let c = calls.entry(resource.to_string()).or_insert(0);
            *c += 1;
            *c - 1
        };
        let Some(script) = self.tasks.get(resource) else {
            return Err(TaskError::new("Test.UnknownResource", resource));
        };
        let outcome = match script {
            Value::Array(seq) => seq
                .get(n.min(seq.len().saturating_sub(1)))
                .cloned()
                .unwrap_or(Value::Null),
            Value::Object(o) => {
                let rules = o
                    .get("rules")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                rules
                    .into_iter()
                    .find(|r| r.get("when").is_some_and(|w| subset(w, &params)))
                    .or_else(|| o.get("default").cloned())
                    .unwrap_or(Value::Null)
            }
            _ => Value::Null,
        };
        self.perform(&outcome, params).await
    }

    async fn read_items(&self, request: &ItemReaderRequest, _state: &str) -> Result<Vec<Value>, TaskError> {
        self.reader_requests.lock().unwrap().push(request.clone());
        self.items
            .clone()
            .ok_or_else(|| TaskError::new("Test.NoItems", "no items in the case"))
    }
}

async fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Value = serde_json::from_str(&text).map_err(|e| format!("bad case JSON: {e}"))?;
    let def = serde_json::to_string(&case["definition"]).unwrap();
    let sm = load(&def).map_err(|e| format!("load failed: {e}"))?;
    let runner = Arc::new(Scripted {
        tasks: case.get("tasks").cloned().unwrap_or(json!({})),
        items: case.get("items").and_then(Value::as_array).cloned(),
        calls: Mutex::new(HashMap::new()),
        reader_requests: Mutex::new(Vec::new()),
    });
    let ctx = RunContext::new(runner.clone())
        .fast()
        .with_execution_name("corpus");
    let exec = sm.run(case["input"].clone(), &ctx).await;
    let want = &case["expected"];
    let status = serde_json::to_value(exec.status).unwrap();
    let mut errs = Vec::new();
    if status != want["status"] {
        errs.push(format!(
            "status {status} (error {:?}, cause {:?}, output {:?}), want {}",
            exec.error, exec.cause, exec.output, want["status"]
        ));
    }
    if let Some(out) = want.get("output") {
        if exec.output.as_ref() != Some(out) {
            errs.push(format!("output {:?}, want {out}", exec.output));
        }
    }
    if let Some(e) = want.get("error") {
        if &json!(exec.error) != e {
            errs.push(format!("error {:?}, want {e}", exec.error));
        }
    }
    if let Some(c) = want.get("cause") {
        if &json!(exec.cause) != c {
            errs.push(format!("cause {:?}, want {c}", exec.cause));
        }
    }
    if let Some(c) = want.get("cause_contains").and_then(Value::as_str) {
        if !exec.cause.as_deref().unwrap_or_default().contains(c) {
            errs.push(format!("cause {:?} lacks {c:?}", exec.cause));
        }
    }
    if let Some(inv) = case.get("invocations").and_then(Value::as_object) {
        let calls = runner.calls.lock().unwrap();
        for (res, n) in inv {
            let got = calls.get(res).copied().unwrap_or(0);
            if json!(got) != *n {
                errs.push(format!("{res} invoked {got} times, want {n}"));
            }
        }
    }
    if let Some(r) = case.get("expect_reader") {
        let reqs = runner.reader_requests.lock().unwrap();
        let got = reqs.first().map(|r| serde_json::to_value(r).unwrap());
        if got.as_ref() != Some(r) {
            errs.push(format!("item reader request {got:?}, want {r}"));
        }
    }
    let types: Vec<Value> = exec
        .history
        .iter()
        .map(|e| serde_json::to_value(e.event_type).unwrap())
        .collect();
    if let Some(inc) = case.get("history_includes").and_then(Value::as_array) {
        for t in inc {
            if !types.contains(t) {
                errs.push(format!("history lacks {t}: {types:?}"));
            }
        }
    }
    if let Some(all) = case.get("history_types") {
        if &Value::Array(types.clone()) != all {
            errs.push(format!("history types {types:?}, want {all}"));
        }
    }
    // Every history is well formed: ids count up from 1 and point backwards.
    for (i, e) in exec.history.iter().enumerate() {
        if e.id != i as u64 + 1 || e.previous_event_id >= e.id {
            errs.push(format!(
                "malformed event {i}: id {} previous {}",
                e.id, e.previous_event_id
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

async fn run_dir(dir: &str) -> usize {
    let root = common::manifest_dir().join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = run_case(f).await {
            failures.push(format!("{}: {e}", f.file_name().unwrap().to_string_lossy()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    files.len()
}

#[tokio::test(start_paused = true)]
async fn corpus_without_tasks() {
    assert!(run_dir("tests/corpus").await >= 60);
}

#[tokio::test(start_paused = true)]
async fn corpus_with_tasks() {
    assert!(run_dir("tests/corpus_tasks").await >= 15);
}

/// The task-free corpus must not contain Task states, so that other executors can run it.
#[test]
fn corpus_has_no_task_states() {
    let root = common::manifest_dir().join("tests/corpus");
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let case: Value = serde_json::from_str(&text).unwrap();
        let sm = load(&case["definition"].to_string()).unwrap();
        assert!(sm.task_resources().is_empty(), "{} has Task states", p.display());
    }
}
