//! A burst of uploads against the deployed concurrency: validate-dataset (reserved concurrency 50) can
//! start executions faster than the stages after it (10 each) can serve them, and Lambda answers the
//! excess with `TooManyRequestsException`. The definition's retry budget for that error must outlast the
//! burst, or executions fail for nothing but their timing.
//!
//! Modelled on the local executor with the real `statemachine/pipeline.asl.json` and its real Retry
//! fields, in virtual time (tokio's paused clock): each function is a task runner with the reserved
//! concurrency `infra/template.yaml` gives it, which throttles when full (as Lambda does) and otherwise
//! takes a fixed time per invocation. A hundred uploads arrive at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenpipe::stages::Stage;
use greenpipe_statemachine::{
    async_trait, load, substitute, RunContext, StateMachine, TaskError, TaskRunner,
};
use greenpipe_tests::repo_root;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

const UPLOADS: usize = 100;

/// One deployed function: its reserved concurrency, what an invocation takes, what it returns.
struct Function {
    slots: Semaphore,
    limit: usize,
    takes: Duration,
    output: Value,
    busiest: AtomicUsize,
}

struct Lambda {
    functions: HashMap<String, Function>,
    throttled: AtomicUsize,
    invocations: AtomicUsize,
}

#[async_trait]
impl TaskRunner for Lambda {
    async fn invoke(&self, resource: &str, _params: Value, state: &str) -> Result<Value, TaskError> {
        let name = resource.rsplit(':').next().unwrap_or_default();
        let f = self
            .functions
            .get(name)
            .ok_or_else(|| TaskError::new("States.Runtime", format!("{state}: no function {name}")))?;
        // Lambda does not queue a synchronous invocation over the reserved concurrency: it refuses it.
        let Ok(_slot) = f.slots.try_acquire() else {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(TaskError::new(
                "Lambda.TooManyRequestsException",
                format!("Rate Exceeded: {name} is at its reserved concurrency"),
            ));
        };
        let running = f.limit - f.slots.available_permits();
        f.busiest.fetch_max(running, Ordering::Relaxed);
        self.invocations.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(f.takes).await;
        Ok(f.output.clone())
    }
}

fn reserved_concurrency() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(repo_root().join("infra/template.yaml")).unwrap();
    let template: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter_map(|(id, r)| {
            let n = r["Properties"]["ReservedConcurrentExecutions"].as_u64()?;
            Some((id.as_str()?.to_string(), n as usize))
        })
        .collect()
}

fn definition() -> StateMachine {
    let text = std::fs::read_to_string(repo_root().join("statemachine/pipeline.asl.json")).unwrap();
    let subs: HashMap<String, String> = Stage::ALL
        .into_iter()
        .filter(|s| s.in_pipeline())
        .map(|s| {
            let id = s.function_id();
            (
                format!("{id}Arn"),
                format!("arn:aws:lambda:us-east-1:123456789012:function:{id}"),
            )
        })
        .collect();
    load(&substitute(&text, &subs).unwrap()).unwrap()
}

fn lambda(limits: &BTreeMap<String, usize>) -> Lambda {
    // Per invocation: a mid-size dataset's feature writes take a minute; the control-plane stages a
    // second or two. A stage without an answer here answers `{}` in a second.
    let answer = |stage: Stage| match stage {
        Stage::RegisterCatalog => (2, json!({"action": "created"})),
        Stage::WriteFeatures => (60, json!({"written": 10000, "failed": 0})),
        Stage::PlanTraining => (1, json!({"train": false, "modelName": "m", "request": {}})),
        Stage::PlanTransform => (1, json!({"transform": false, "request": {}})),
        Stage::ReportRun => (1, json!({"reportUri": "s3://b/greenpipe/reports/runs/r.json"})),
        _ => (1, json!({})),
    };
    let functions = Stage::ALL
        .into_iter()
        .filter(|s| s.in_pipeline())
        .map(|stage| {
            let name = stage.function_id();
            let (seconds, output) = answer(stage);
            let limit = limits[&name];
            (
                name,
                Function {
                    slots: Semaphore::new(limit),
                    limit,
                    takes: Duration::from_secs(seconds),
                    output,
                    busiest: AtomicUsize::new(0),
                },
            )
        })
        .collect();
    Lambda {
        functions,
        throttled: AtomicUsize::new(0),
        invocations: AtomicUsize::new(0),
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_burst_of_uploads_outlasts_the_stages_reserved_concurrency() {
    let limits = reserved_concurrency();
    assert!(
        limits["ValidateDatasetFunction"] > limits["WriteFeaturesFunction"],
        "the burst this test models: validation starts executions faster than write-features serves them ({limits:?})"
    );
    let sm = Arc::new(definition());
    let runner = Arc::new(lambda(&limits));
    let started = tokio::time::Instant::now();
    let outcomes: Arc<Mutex<Vec<String>>> = Arc::default();
    tokio::task::LocalSet::new()
        .run_until(async {
            let mut runs = tokio::task::JoinSet::new();
            for i in 0..UPLOADS {
                let (sm, runner, outcomes) = (sm.clone(), runner.clone(), outcomes.clone());
                runs.spawn_local(async move {
                    let input = json!({
                        "bucket": "data", "key": format!("incoming/sales/{i}.csv"), "etag": "e",
                        "reportKey": format!("greenpipe/reports/incoming/sales/{i}.csv/e.json"),
                        "fingerprint": format!("xxh3-128:{i:032x}"), "rows": 10000,
                        "contract": {"name": "sales", "source": "s3://data/contracts/incoming/sales.yaml"}
                    });
                    let ctx = RunContext::new(runner).with_execution_name(format!("gp-{i}"));
                    let execution = sm.run(input, &ctx).await;
                    let status = if execution.succeeded() {
                        "SUCCEEDED".to_string()
                    } else {
                        format!(
                            "{:?}: {:?} {:?}",
                            execution.status, execution.error, execution.cause
                        )
                    };
                    outcomes.lock().unwrap().push(status);
                });
            }
            while let Some(joined) = runs.join_next().await {
                joined.unwrap();
            }
        })
        .await;

    let outcomes = outcomes.lock().unwrap().clone();
    let failed: Vec<&String> = outcomes.iter().filter(|o| *o != "SUCCEEDED").collect();
    let throttled = runner.throttled.load(Ordering::Relaxed);
    let took = started.elapsed();
    println!(
        "{UPLOADS} executions: {} succeeded, {} failed; {throttled} throttled invocations retried; \
         {} invocations; the burst drained in {:.0} s of (virtual) time",
        outcomes.len() - failed.len(),
        failed.len(),
        runner.invocations.load(Ordering::Relaxed),
        took.as_secs_f64()
    );
    assert_eq!(outcomes.len(), UPLOADS);
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    assert!(throttled > 0, "the burst must have met the concurrency limit");
    for (name, f) in &runner.functions {
        assert!(f.busiest.load(Ordering::Relaxed) <= f.limit, "{name}");
    }
    // Every stage ran once per execution (no duplicate work from the retries).
    assert_eq!(runner.invocations.load(Ordering::Relaxed), UPLOADS * 5);
}
