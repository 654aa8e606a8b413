//! A training job a SageMaker Debugger rule stopped (the contract's `training.debugger`, StopTraining
//! action) through the real `statemachine/pipeline.asl.json` on greenpipe's executor: Step Functions'
//! `.sync` integration fails the Train task with `States.TaskFailed` and the job's description as the
//! Cause. A job a rule stopped (a rule's evaluation `IssuesFound`) that saved a model is kept: the run
//! creates the model from its artifacts and succeeds, and the run report says which rule stopped it and
//! what that saved against MaxRuntime. A job stopped otherwise (no rule found an issue) fails the run.
//! The stages are scripted here (what each returns), so the definition's own path is what is tested;
//! report-run's builder then reads the state it was given.

use std::sync::Mutex;

use greenpipe::stages::report_run::run_report::{build, last_trained, ReportSettings};
use greenpipe::stages::Stage;
use greenpipe_statemachine::{async_trait, load, substitute, RunContext, TaskError, TaskRunner};
use greenpipe_tests::repo_root;
use serde_json::{json, Value};

const ARTIFACTS: &str = "s3://b/greenpipe/models/sales/sales-ab-123/output/model.tar.gz";

/// Answers each Task state by name; Train fails as a stopped `.sync` job does.
struct Scripted {
    stopped: Value,
    /// (state, parameters) of each Task invoked.
    calls: Mutex<Vec<(String, Value)>>,
}

#[async_trait]
impl TaskRunner for Scripted {
    async fn invoke(&self, _resource: &str, params: Value, state: &str) -> Result<Value, TaskError> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((state.to_string(), params.clone()));
        }
        match state {
            "PlanTraining" => Ok(json!({
                "train": true, "tune": false, "startAt": "2026-01-01T00:00:00Z", "fingerprint": "blake3:ab",
                "settingsHash": "123", "modelName": "sales-ab-123", "trainingJobName": "sales-ab-123",
                "request": {"TrainingJobName": "sales-ab-123"},
                "modelRequest": {"ModelName": "sales-ab-123", "ExecutionRoleArn": "arn:aws:iam::1:role/sm",
                                  "PrimaryContainer": {"Image": "img:1"}, "Tags": []},
            })),
            "Train" => Err(TaskError::new("States.TaskFailed", self.stopped.to_string())),
            "CreateModel" => Ok(json!({"ModelArn": "arn:aws:sagemaker:us-east-1:1:model/sales-ab-123"})),
            "PlanTransform" => {
                Ok(json!({"transform": false, "startAt": "2026-01-01T00:00:00Z", "request": {}}))
            }
            "WriteFeatures" => Ok(json!({"written": 0})),
            _ => Ok(json!({})),
        }
    }
}

fn stopped_job(rule_status: &str) -> Value {
    json!({
        "TrainingJobName": "sales-ab-123", "TrainingJobStatus": "Stopped",
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "TrainingTimeInSeconds": 900, "BillableTimeInSeconds": 900,
        "ModelArtifacts": {"S3ModelArtifacts": ARTIFACTS},
        "DebugRuleEvaluationStatuses": [
            {"RuleConfigurationName": "LossNotDecreasing", "RuleEvaluationStatus": rule_status},
            {"RuleConfigurationName": "Overfit", "RuleEvaluationStatus": "NoIssuesFound"}
        ]
    })
}

async fn run(stopped: Value) -> (greenpipe_statemachine::Execution, Vec<(String, Value)>) {
    let text = std::fs::read_to_string(repo_root().join("statemachine/pipeline.asl.json")).unwrap();
    let subs: std::collections::HashMap<String, String> = Stage::ALL
        .into_iter()
        .filter(|s| s.in_pipeline())
        .map(|s| {
            let id = s.function_id();
            (
                format!("{id}Arn"),
                format!("arn:aws:lambda:us-east-1:1:function:{id}"),
            )
        })
        .collect();
    let sm = load(&substitute(&text, &subs).unwrap()).unwrap();
    let runner = std::sync::Arc::new(Scripted {
        stopped,
        calls: Mutex::new(Vec::new()),
    });
    let input = json!({"bucket": "b", "key": "incoming/sales/a.csv", "etag": "e", "fingerprint": "blake3:ab",
                       "contract": {"name": "sales", "source": "s3://b/contracts/sales.yaml"}});
    let execution = sm.run(input, &RunContext::new(runner.clone()).fast()).await;
    let calls = runner.calls.lock().unwrap().clone();
    (execution, calls)
}

fn settings() -> ReportSettings {
    ReportSettings {
        region: "us-east-1".into(),
        nominal_lambda_ms: 1000,
        nominal_lambda_memory_mb: 512,
        lambda_arch: greenpipe::footprint::Arch::Arm64,
        own: None,
        stored: Vec::new(),
        utilisation: None,
        utilisation_unread: None,
    }
}

#[tokio::test]
async fn a_job_a_debugger_rule_stopped_keeps_its_model_and_the_run_succeeds() {
    let (execution, calls) = run(stopped_job("IssuesFound")).await;
    assert!(execution.succeeded(), "{execution:#?}");
    let model = calls
        .iter()
        .find(|(s, _)| s == "CreateModel")
        .expect("the model is created");
    assert_eq!(model.1["PrimaryContainer"]["ModelDataUrl"], ARTIFACTS);
    let (_, state) = calls.iter().find(|(s, _)| s == "ReportRun").expect("reported");
    assert_eq!(state["status"], "SUCCEEDED");
    assert!(state["error"].is_null(), "{state:#}");
    let report = build(state, &settings(), 1_796_688_000_000).expect("report");
    assert_eq!(report.status, "SUCCEEDED");
    let training = report.stages.iter().find(|s| s.stage == "training").unwrap();
    assert_eq!(training.status, "stopped");
    let early = training.early_stop.as_ref().expect("the early stop");
    assert_eq!(early["rules"], json!(["LossNotDecreasing"]));
    assert_eq!(early["savedSeconds"], 2700.0);
    // The model is the run's result: the next run with the same data does not train again.
    let marker = last_trained(state, 1_796_688_000_000).expect("a marker");
    assert_eq!(marker.model_data_url, ARTIFACTS);
}

#[tokio::test]
async fn a_job_stopped_without_a_rule_s_finding_fails_the_run() {
    let (execution, calls) = run(stopped_job("NoIssuesFound")).await;
    assert!(!execution.succeeded(), "{execution:#?}");
    assert!(calls.iter().all(|(s, _)| s != "CreateModel"), "{calls:?}");
    let (_, state) = calls.iter().find(|(s, _)| s == "ReportRun").expect("reported");
    assert_eq!(state["status"], "FAILED");
    assert!(last_trained(state, 1_796_688_000_000).is_none());
    // A cause that is not a job description (an API error) fails the run too, without parsing it.
    let (execution, _) = run(json!("not JSON")).await;
    assert!(!execution.succeeded());
}
