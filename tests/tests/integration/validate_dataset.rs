//! validate-dataset end to end: every event shape through the real Lambda handler, the real SDK clients,
//! moto's S3 and Step Functions. Each test has its own bucket (and state machine), so tests run in
//! parallel against one server.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use greenpipe::aws::Config;
use greenpipe::pipeline::{execution_name, Dataset, Status};
use greenpipe::stages::validate_dataset::{Deps, Outcome};
use greenpipe::stages::{function_handler, validate_dataset::ValidateDataset};
use greenpipe::validate::report::ValidationReport;
use greenpipe_tests::{gzip, repo_root, Aws};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

const SALES_CONTRACT: &str = r#"
name: sales
version: "3"
format:
  type: csv
columns:
  - name: id
    type: int
    nullable: false
    unique: true
  - name: day
    type: date
    nullable: false
  - name: amount
    type: float
    min: 0
  - name: region
    type: string
    allowed: [eu, us, apac]
row_count:
  min: 1
"#;

const GOOD_CSV: &str =
    "id,day,amount,region\n1,2026-01-01,10.5,eu\n2,2026-01-01,3.25,us\n3,2026-01-02,0,apac\n";
const BAD_CSV: &str =
    "id,day,amount,region\n1,2026-01-01,10.5,eu\n2,2026-01-01,-3.25,mars\n3,2026-01-02,0,apac\n";

/// One test's world: a bucket with the sales contract, clients, and the handler's dependencies.
struct Stage {
    aws: Aws,
    bucket: String,
    deps: Deps,
    state_machine: Option<String>,
}

impl Stage {
    async fn new(versioned: bool, with_state_machine: bool) -> Stage {
        Stage::with_config(versioned, with_state_machine, |_| {}).await
    }

    async fn with_config(
        versioned: bool,
        with_state_machine: bool,
        tweak: impl FnOnce(&mut Config),
    ) -> Stage {
        let aws = Aws::new().await;
        let bucket = aws.bucket(versioned).await;
        aws.put(&bucket, "contracts/incoming/sales.yaml", SALES_CONTRACT)
            .await;
        let state_machine = if with_state_machine {
            Some(aws.state_machine().await)
        } else {
            None
        };
        let mut config = Config {
            state_machine_arn: state_machine.clone(),
            s3_force_path_style: true,
            ..Config::default()
        };
        tweak(&mut config);
        let deps = Deps::new(config, &aws.sdk);
        Stage {
            aws,
            bucket,
            deps,
            state_machine,
        }
    }

    /// Invoke the real Lambda handler.
    async fn invoke(&self, payload: Value) -> Result<Value, Diagnostic> {
        function_handler::<ValidateDataset>(&self.deps, LambdaEvent::new(payload, Context::default())).await
    }

    async fn invoke_ok(&self, payload: Value) -> Value {
        match self.invoke(payload).await {
            Ok(v) => v,
            Err(d) => panic!("handler failed: {}: {}", d.error_type, d.error_message),
        }
    }

    async fn invoke_err(&self, payload: Value) -> Diagnostic {
        match self.invoke(payload).await {
            Ok(v) => panic!("expected an error, got {v}"),
            Err(d) => d,
        }
    }

    async fn direct(&self, key: &str) -> Outcome {
        outcome(self.invoke_ok(json!({"bucket": self.bucket, "key": key})).await)
    }

    /// Put an object with metadata, content type and tags (to check they stay untouched).
    async fn put_tagged(&self, key: &str, body: &[u8]) -> Option<String> {
        self.aws
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .content_type("text/csv")
            .metadata("uploaded-by", "greenpipe-tests")
            .tagging("team=data&stage=raw")
            .send()
            .await
            .unwrap()
            .version_id()
            .map(str::to_string)
    }

    async fn report(&self, report_key: &str) -> ValidationReport {
        let bytes = self
            .aws
            .get(&self.bucket, report_key)
            .await
            .expect("report written");
        serde_json::from_slice(&bytes).expect("report is a ValidationReport")
    }

    async fn executions(&self) -> Vec<aws_sdk_sfn::types::ExecutionListItem> {
        self.aws
            .executions(self.state_machine.as_deref().expect("state machine"))
            .await
    }

    /// The source object is exactly as uploaded: bytes, content type, metadata, tags, one version.
    async fn assert_source_untouched(&self, key: &str, body: &[u8]) {
        assert_eq!(
            self.aws.get(&self.bucket, key).await.as_deref(),
            Some(body),
            "bytes of {key}"
        );
        let head = self
            .aws
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_type(), Some("text/csv"));
        assert_eq!(
            head.metadata().cloned().unwrap_or_default(),
            HashMap::from([("uploaded-by".to_string(), "greenpipe-tests".to_string())])
        );
        let tags = self.aws.tags(&self.bucket, key).await;
        assert_eq!(
            tags,
            HashMap::from([("team".into(), "data".into()), ("stage".into(), "raw".into())])
        );
        let versions = self
            .aws
            .s3
            .list_object_versions()
            .bucket(&self.bucket)
            .prefix(key)
            .send()
            .await
            .unwrap();
        let same_key = versions
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key))
            .count();
        assert!(
            same_key <= 1,
            "{key} has {same_key} versions: the source was rewritten"
        );
    }
}

fn outcome(v: Value) -> Outcome {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not an Outcome ({e}): {v}"))
}

fn outcomes(v: Value) -> Vec<Outcome> {
    serde_json::from_value(v["outcomes"].clone()).unwrap_or_else(|e| panic!("no outcomes ({e}): {v}"))
}

/// URL-encode a key the way S3 event notifications do: space → `+`, reserved bytes → `%XX`, `/` kept.
fn event_key(key: &str) -> String {
    let mut out = String::new();
    for &b in key.as_bytes() {
        match b {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn fixture(name: &str) -> Value {
    let path = repo_root().join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// An S3 ObjectCreated:Put notification, built from the sample event in `events/`.
fn s3_event(bucket: &str, key: &str, version: Option<&str>) -> Value {
    let mut event = fixture("s3-put.json");
    let s3 = &mut event["Records"][0]["s3"];
    s3["bucket"]["name"] = json!(bucket);
    s3["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
    s3["object"]["key"] = json!(event_key(key));
    s3["object"]["versionId"] = json!(version);
    event
}

/// An EventBridge "Object Created" event, built from the sample event in `events/`.
fn eventbridge_event(bucket: &str, key: &str, version: Option<&str>) -> Value {
    let mut event = fixture("eventbridge-object-created.json");
    event["resources"] = json!([format!("arn:aws:s3:::{bucket}")]);
    event["detail"]["bucket"]["name"] = json!(bucket);
    event["detail"]["object"]["key"] = json!(event_key(key));
    event["detail"]["object"]["version-id"] = json!(version);
    event
}

fn sqs_batch(bodies: &[(&str, String)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| {
            json!({"messageId": id, "receiptHandle": format!("handle-{id}"), "body": body,
                   "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                   "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:gp",
                   "awsRegion": "us-east-1"})
        })
        .collect();
    json!({ "Records": records })
}

fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures: {response}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect()
}

/// Replace the bucket name of a sample event file with the test's bucket.
fn fixture_for(name: &str, bucket: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join("events").join(name)).unwrap();
    serde_json::from_str(&text.replace("greenpipe-example-bucket", bucket)).unwrap()
}

// ---------------------------------------------------------------------------------------------------
// Event shapes, end to end.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_put_sample_event_validates_reports_and_starts_the_pipeline() {
    let stage = Stage::new(true, true).await;
    // The sample event's key is URL-encoded: spaces as `+`, a literal `+` as %2B, unicode, `%` as %25.
    let key = "incoming/sales/2026-01/daily sales + returns café 100%.csv";
    let version = stage.put_tagged(key, GOOD_CSV.as_bytes()).await;
    let mut event = fixture_for("s3-put.json", &stage.bucket);
    assert_eq!(
        event["Records"][0]["s3"]["object"]["key"],
        json!("incoming/sales/2026-01/daily+sales+%2B+returns+caf%C3%A9+100%25.csv")
    );
    event["Records"][0]["s3"]["object"]["versionId"] = json!(version);

    let outcomes = outcomes(stage.invoke_ok(event).await);
    assert_eq!(outcomes.len(), 1);
    let o = &outcomes[0];
    assert_eq!((o.status.clone(), o.valid), (Status::Valid, Some(true)), "{o:?}");
    assert_eq!(o.key, key);
    assert_eq!(o.version_id, version);
    assert_eq!(o.rows, Some(3));
    assert!(!o.reused_report);
    let version = version.unwrap();
    let report_key = format!("greenpipe/reports/{key}/{version}.json");
    assert_eq!(o.report_key.as_deref(), Some(report_key.as_str()));

    let report = stage.report(&report_key).await;
    assert!(report.valid);
    assert_eq!(report.rows, 3);
    assert_eq!(report.source, format!("s3://{}/{key}", stage.bucket));
    assert_eq!(report.source_version.as_deref(), Some(version.as_str()));
    assert!(
        report.contract.source.ends_with("contracts/incoming/sales.yaml"),
        "{:?}",
        report.contract
    );
    assert!(
        report.fingerprint.starts_with("xxh3-128:"),
        "{}",
        report.fingerprint
    );

    // One execution, named from bucket/key/version, with the report in its input.
    let executions = stage.executions().await;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].name(), execution_name(&stage.bucket, key, &version));
    assert_eq!(o.execution_arn.as_deref(), Some(executions[0].execution_arn()));
    let described = stage
        .aws
        .sfn
        .describe_execution()
        .execution_arn(executions[0].execution_arn())
        .send()
        .await
        .unwrap();
    let input: Dataset = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input.key, key);
    assert_eq!(input.version_id.as_deref(), Some(version.as_str()));
    assert_eq!(input.report_key.as_deref(), Some(report_key.as_str()));
    assert_eq!(input.fingerprint.as_deref(), Some(report.fingerprint.as_str()));
    assert_eq!(input.rows, Some(3));
    assert_eq!(input.contract_source(), Some(report.contract.source.as_str()));

    // Nothing quarantined; the source untouched.
    assert!(stage
        .aws
        .keys(&stage.bucket, "greenpipe/quarantine/")
        .await
        .is_empty());
    stage.assert_source_untouched(key, GOOD_CSV.as_bytes()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_sample_event() {
    let stage = Stage::new(true, true).await;
    let key = "incoming/sales/2026-01/eventbridge dayé.csv";
    let version = stage.put_tagged(key, GOOD_CSV.as_bytes()).await;
    let mut event = fixture_for("eventbridge-object-created.json", &stage.bucket);
    assert_eq!(event["detail"]["object"]["key"], json!(event_key(key)));
    event["detail"]["object"]["version-id"] = json!(version);

    let o = &outcomes(stage.invoke_ok(event).await)[0];
    assert_eq!(o.status, Status::Valid, "{o:?}");
    assert_eq!(o.key, key);
    assert_eq!(stage.executions().await.len(), 1);
    stage.assert_source_untouched(key, GOOD_CSV.as_bytes()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_sample_batch_wrapping_s3_eventbridge_and_test_events() {
    let stage = Stage::new(true, true).await;
    let s3_key = "incoming/sales/2026-01/from sqs #1.csv";
    let eb_key = "incoming/sales/2026-01/from sqs eventbridge.csv";
    let v1 = stage.put_tagged(s3_key, GOOD_CSV.as_bytes()).await;
    let v2 = stage.put_tagged(eb_key, BAD_CSV.as_bytes()).await;
    // The bodies are JSON strings: patch the version ids inside them.
    let mut event = fixture_for("sqs-batch.json", &stage.bucket);
    let records = event["Records"].as_array_mut().unwrap();
    let mut body0: Value = serde_json::from_str(records[0]["body"].as_str().unwrap()).unwrap();
    body0["Records"][0]["s3"]["object"]["versionId"] = json!(v1);
    records[0]["body"] = json!(body0.to_string());
    let mut body1: Value = serde_json::from_str(records[1]["body"].as_str().unwrap()).unwrap();
    body1["detail"]["object"]["version-id"] = json!(v2);
    records[1]["body"] = json!(body1.to_string());

    let response = stage.invoke_ok(event).await;
    assert_eq!(failures(&response), Vec::<String>::new(), "{response}");
    // Valid one: report + execution. Invalid one: report + quarantine, no execution.
    assert_eq!(
        stage
            .aws
            .keys(&stage.bucket, &format!("greenpipe/reports/{s3_key}/"))
            .await
            .len(),
        1
    );
    assert_eq!(
        stage
            .aws
            .keys(&stage.bucket, &format!("greenpipe/reports/{eb_key}/"))
            .await
            .len(),
        1
    );
    assert_eq!(
        stage
            .aws
            .keys(&stage.bucket, &format!("greenpipe/quarantine/{eb_key}/"))
            .await
            .len(),
        1
    );
    let quarantined = stage
        .aws
        .keys(&stage.bucket, &format!("greenpipe/quarantine/{eb_key}/"))
        .await;
    assert_eq!(
        stage.aws.get(&stage.bucket, &quarantined[0]).await.as_deref(),
        Some(BAD_CSV.as_bytes())
    );
    assert_eq!(stage.executions().await.len(), 1);
    stage.assert_source_untouched(s3_key, GOOD_CSV.as_bytes()).await;
    stage.assert_source_untouched(eb_key, BAD_CSV.as_bytes()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_sample_invocation_returns_the_outcome() {
    let stage = Stage::new(true, true).await;
    let key = "incoming/sales/2026-01/direct day.csv";
    let version = stage.put_tagged(key, GOOD_CSV.as_bytes()).await;
    let event = fixture_for("direct.json", &stage.bucket);

    let o = outcome(stage.invoke_ok(event.clone()).await);
    assert_eq!(o.status, Status::Valid);
    assert_eq!(o.version_id, version);
    // A direct invocation (normally a task of a running execution) starts nothing by default ...
    assert_eq!(o.execution_arn, None);
    assert!(stage.executions().await.is_empty());
    // ... unless asked to; the second call reuses the report.
    let mut start = event.clone();
    start["startExecution"] = json!(true);
    let o = outcome(stage.invoke_ok(start).await);
    assert!(o.reused_report);
    assert!(o.execution_arn.is_some());
    assert_eq!(stage.executions().await.len(), 1);
}

// ---------------------------------------------------------------------------------------------------
// Invalid data: quarantined, reported, source untouched, nothing started.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_data_is_quarantined_with_tags_and_a_report() {
    let stage = Stage::new(true, true).await;
    let key = "incoming/sales/2026-02/bad rows.csv";
    let version = stage.put_tagged(key, BAD_CSV.as_bytes()).await.unwrap();

    let o = &outcomes(
        stage
            .invoke_ok(s3_event(&stage.bucket, key, Some(&version)))
            .await,
    )[0];
    assert_eq!(
        (o.status.clone(), o.valid),
        (Status::Invalid, Some(false)),
        "{o:?}"
    );
    let file = key.rsplit('/').next().unwrap();
    let quarantine_key = format!("greenpipe/quarantine/{key}/{version}/{file}");
    let report_key = format!("greenpipe/reports/{key}/{version}.json");
    assert_eq!(o.quarantine_key.as_deref(), Some(quarantine_key.as_str()));
    assert_eq!(o.report_key.as_deref(), Some(report_key.as_str()));
    assert!(o.violation_count.unwrap() >= 2, "{o:?}");

    let report = stage.report(&report_key).await;
    assert!(!report.valid);
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.row == 2 && v.column.as_deref() == Some("amount")),
        "{report:?}"
    );
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.row == 2 && v.column.as_deref() == Some("region")),
        "{report:?}"
    );

    // The quarantine copy: same bytes, same content type and metadata, tagged with why.
    assert_eq!(
        stage.aws.get(&stage.bucket, &quarantine_key).await.as_deref(),
        Some(BAD_CSV.as_bytes())
    );
    let head = stage
        .aws
        .s3
        .head_object()
        .bucket(&stage.bucket)
        .key(&quarantine_key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/csv"));
    let tags = stage.aws.tags(&stage.bucket, &quarantine_key).await;
    assert_eq!(
        tags.get("greenpipe:status").map(String::as_str),
        Some("quarantined"),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("greenpipe:report").map(String::as_str),
        Some(report_key.as_str()),
        "{tags:?}"
    );
    assert_eq!(tags.get("greenpipe:source-version"), Some(&version), "{tags:?}");
    let reason = tags.get("greenpipe:reason").expect("reason tag");
    let first_failed = report.rules.iter().find(|r| !r.passed).expect("a failed rule");
    assert_eq!(
        reason,
        &greenpipe::stages::validate_dataset::handler::sanitize_tag_value(&first_failed.rule)
    );

    stage.assert_source_untouched(key, BAD_CSV.as_bytes()).await;
    assert!(
        stage.executions().await.is_empty(),
        "invalid data must not start the pipeline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unversioned_bucket_uses_the_etag() {
    let stage = Stage::new(false, true).await;
    let key = "incoming/sales/plain.csv";
    let (version, etag) = stage.aws.put(&stage.bucket, key, GOOD_CSV).await;
    assert_eq!(version, None);
    let o = &outcomes(stage.invoke_ok(s3_event(&stage.bucket, key, None)).await)[0];
    assert_eq!(o.status, Status::Valid);
    assert_eq!(
        o.report_key.as_deref(),
        Some(format!("greenpipe/reports/{key}/{etag}.json").as_str())
    );
    let executions = stage.executions().await;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].name(), execution_name(&stage.bucket, key, &etag));

    // New content under the same key is a new object: validated again, a second execution.
    let (_, etag2) = stage
        .aws
        .put(&stage.bucket, key, format!("{GOOD_CSV}4,2026-01-03,1,eu\n"))
        .await;
    let o = &outcomes(stage.invoke_ok(s3_event(&stage.bucket, key, None)).await)[0];
    assert!(!o.reused_report);
    assert_eq!(o.rows, Some(4));
    assert_eq!(
        o.report_key.as_deref(),
        Some(format!("greenpipe/reports/{key}/{etag2}.json").as_str())
    );
    assert_eq!(stage.executions().await.len(), 2);
}

// ---------------------------------------------------------------------------------------------------
// Duplicates.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_event_ten_times_starts_exactly_one_execution() {
    let stage = Stage::new(true, true).await;
    let key = "incoming/sales/2026-03/dup.csv";
    let version = stage.put_tagged(key, GOOD_CSV.as_bytes()).await.unwrap();
    let event = s3_event(&stage.bucket, key, Some(&version));

    let mut arns = Vec::new();
    for i in 0..10 {
        let o = &outcomes(stage.invoke_ok(event.clone()).await)[0];
        assert_eq!(o.status, Status::Valid);
        assert_eq!(o.reused_report, i > 0, "delivery {i}: {o:?}");
        arns.push(o.execution_arn.clone().expect("execution arn"));
        if i == 0 {
            // Let the (Pass-only) execution finish, so later deliveries meet ExecutionAlreadyExists.
            let status = stage.aws.wait_for_execution(&arns[0]).await;
            assert_eq!(status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
        }
    }
    arns.dedup();
    assert_eq!(arns.len(), 1, "{arns:?}");
    let executions = stage.executions().await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0].execution_arn(), arns[0]);
    assert_eq!(stage.aws.keys(&stage.bucket, "greenpipe/reports/").await.len(), 1);
    stage.assert_source_untouched(key, GOOD_CSV.as_bytes()).await;

    // The same event through EventBridge and SQS is still the same object version: nothing new.
    stage
        .invoke_ok(eventbridge_event(&stage.bucket, key, Some(&version)))
        .await;
    let response = stage.invoke_ok(sqs_batch(&[("m1", event.to_string())])).await;
    assert!(failures(&response).is_empty());
    assert_eq!(stage.executions().await.len(), 1);

    // A new version of the key is new data: one more execution.
    let v2 = stage
        .put_tagged(key, format!("{GOOD_CSV}4,2026-01-03,1,eu\n").as_bytes())
        .await
        .unwrap();
    stage.invoke_ok(s3_event(&stage.bucket, key, Some(&v2))).await;
    assert_eq!(stage.executions().await.len(), 2);
    assert_eq!(stage.aws.keys(&stage.bucket, "greenpipe/reports/").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_while_the_execution_runs_start_nothing_new() {
    // A long Wait keeps the execution RUNNING: Step Functions then answers a repeated start (same name,
    // same input) with the running execution itself.
    let mut stage = Stage::new(true, false).await;
    let arn = stage
        .aws
        .state_machine_with(
            r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 120, "End": true}}}"#,
        )
        .await;
    stage.deps = Deps::new(
        Config {
            state_machine_arn: Some(arn.clone()),
            s3_force_path_style: true,
            ..Config::default()
        },
        &stage.aws.sdk,
    );
    stage.state_machine = Some(arn);
    let key = "incoming/sales/running.csv";
    let version = stage.put_tagged(key, GOOD_CSV.as_bytes()).await;
    let event = s3_event(&stage.bucket, key, version.as_deref());
    let mut arns = Vec::new();
    for _ in 0..5 {
        arns.push(
            outcomes(stage.invoke_ok(event.clone()).await)[0]
                .execution_arn
                .clone()
                .unwrap(),
        );
    }
    arns.dedup();
    assert_eq!(arns.len(), 1, "{arns:?}");
    let executions = stage.executions().await;
    assert_eq!(executions.len(), 1);
    assert_eq!(
        executions[0].status(),
        &aws_sdk_sfn::types::ExecutionStatus::Running
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_version_keeps_its_own_quarantine_copy() {
    let stage = Stage::new(true, false).await;
    let key = "incoming/sales/twice-bad.csv";
    let last = BAD_CSV.trim_end().lines().last().unwrap();
    let second = format!("{}\n{last}\n", BAD_CSV.trim_end());
    let mut copies = Vec::new();
    for body in [BAD_CSV.to_string(), second] {
        let version = stage.put_tagged(key, body.as_bytes()).await.unwrap();
        let o = &outcomes(
            stage
                .invoke_ok(s3_event(&stage.bucket, key, Some(&version)))
                .await,
        )[0];
        assert_eq!(o.status, Status::Invalid, "{o:?}");
        copies.push((o.quarantine_key.clone().unwrap(), body));
    }
    assert_ne!(copies[0].0, copies[1].0);
    for (quarantined, body) in copies {
        assert_eq!(
            stage.aws.get(&stage.bucket, &quarantined).await.as_deref(),
            Some(body.as_bytes()),
            "{quarantined}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_invalid_event_does_not_redo_the_quarantine() {
    let stage = Stage::new(true, false).await;
    let key = "incoming/sales/dup-bad.csv";
    let version = stage.put_tagged(key, BAD_CSV.as_bytes()).await.unwrap();
    let event = s3_event(&stage.bucket, key, Some(&version));
    stage.invoke_ok(event.clone()).await;
    let quarantine_key = format!("greenpipe/quarantine/{key}/{version}/dup-bad.csv");
    let before = stage
        .aws
        .s3
        .head_object()
        .bucket(&stage.bucket)
        .key(&quarantine_key)
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        let o = &outcomes(stage.invoke_ok(event.clone()).await)[0];
        assert!(o.reused_report);
        assert_eq!(o.status, Status::Invalid);
    }
    let after = stage
        .aws
        .s3
        .head_object()
        .bucket(&stage.bucket)
        .key(&quarantine_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        before.version_id(),
        after.version_id(),
        "quarantine copy rewritten"
    );
    assert_eq!(
        before.last_modified(),
        after.last_modified(),
        "quarantine copy rewritten"
    );
}

// ---------------------------------------------------------------------------------------------------
// SQS partial batch failures.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_batch_reports_only_the_bad_message() {
    let stage = Stage::new(true, true).await;
    let good1 = "incoming/sales/q/good one.csv";
    let good2 = "incoming/sales/q/good two.csv";
    let v1 = stage.put_tagged(good1, GOOD_CSV.as_bytes()).await;
    let v2 = stage.put_tagged(good2, GOOD_CSV.as_bytes()).await;
    let orphan = "unknown-dataset/x.csv";
    let v3 = stage.put_tagged(orphan, GOOD_CSV.as_bytes()).await;
    let bad_bodies = [
        ("malformed body", "{\"Records\": [".to_string()),
        ("not an S3 event", json!({"hello": "world"}).to_string()),
        (
            "missing contract",
            s3_event(&stage.bucket, orphan, v3.as_deref()).to_string(),
        ),
        (
            "missing object",
            s3_event(&stage.bucket, "incoming/sales/q/deleted.csv", None).to_string(),
        ),
    ];
    for (what, bad) in bad_bodies {
        let batch = sqs_batch(&[
            ("ok-1", s3_event(&stage.bucket, good1, v1.as_deref()).to_string()),
            ("bad", bad),
            (
                "ok-2",
                eventbridge_event(&stage.bucket, good2, v2.as_deref()).to_string(),
            ),
        ]);
        let response = stage.invoke_ok(batch).await;
        assert_eq!(failures(&response), vec!["bad".to_string()], "{what}: {response}");
    }
    // The good messages were processed (once: later batches reused the reports).
    assert_eq!(stage.executions().await.len(), 2);
}

// ---------------------------------------------------------------------------------------------------
// Typed errors.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_problems_are_typed_errors() {
    let stage = Stage::new(true, false).await;
    stage
        .aws
        .put(&stage.bucket, "no-contract/2026/x.csv", GOOD_CSV)
        .await;
    let d = stage
        .invoke_err(json!({"bucket": stage.bucket, "key": "no-contract/2026/x.csv"}))
        .await;
    assert_eq!(d.error_type, "ContractNotFound", "{}", d.error_message);
    assert!(
        d.error_message
            .contains("contracts/no-contract/2026.{yaml,yml,json,dqdl}"),
        "{}",
        d.error_message
    );
    assert!(
        d.error_message
            .contains("contracts/no-contract.{yaml,yml,json,dqdl}"),
        "{}",
        d.error_message
    );

    let cases = [
        (
            "malformed",
            "malformed.yaml",
            "columns: [ {name: id, type: int\n",
            "ContractInvalid",
        ),
        (
            "unknownfield",
            "unknownfield.yaml",
            "name: x\ncolums: []\n",
            "ContractInvalid",
        ),
        ("badjson", "badjson.json", "{\"name\": ", "ContractInvalid"),
        (
            "unsupported",
            "unsupported.dqdl",
            "Rules = [ CustomSql \"select count(*) from primary\" > 0 ]",
            "UnsupportedRule",
        ),
    ];
    for (dataset, file, text, want) in cases {
        stage
            .aws
            .put(&stage.bucket, &format!("contracts/{file}"), text)
            .await;
        let key = format!("{dataset}/x.csv");
        stage.aws.put(&stage.bucket, &key, GOOD_CSV).await;
        let d = stage
            .invoke_err(json!({"bucket": stage.bucket, "key": key}))
            .await;
        assert_eq!(d.error_type, want, "{dataset}: {}", d.error_message);
        assert!(stage
            .aws
            .keys(&stage.bucket, &format!("greenpipe/reports/{dataset}/"))
            .await
            .is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_added_later_is_found_without_a_cold_start() {
    let stage = Stage::new(true, false).await;
    stage.aws.put(&stage.bucket, "late/x.csv", GOOD_CSV).await;
    let d = stage
        .invoke_err(json!({"bucket": stage.bucket, "key": "late/x.csv"}))
        .await;
    assert_eq!(d.error_type, "ContractNotFound");
    stage
        .aws
        .put(&stage.bucket, "contracts/late.yaml", SALES_CONTRACT)
        .await;
    assert_eq!(stage.direct("late/x.csv").await.status, Status::Valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn most_specific_contract_wins_and_dqdl_contracts_work() {
    let stage = Stage::new(true, false).await;
    // contracts/incoming/sales.yaml (from Stage) vs a stricter one for one sub-folder.
    stage
        .aws
        .put(
            &stage.bucket,
            "contracts/incoming/sales/strict.dqdl",
            "Rules = [ RowCount > 5 ]",
        )
        .await;
    stage
        .aws
        .put(&stage.bucket, "incoming/sales/strict/x.csv", GOOD_CSV)
        .await;
    stage
        .aws
        .put(&stage.bucket, "incoming/sales/loose/x.csv", GOOD_CSV)
        .await;
    let strict = stage.direct("incoming/sales/strict/x.csv").await;
    assert_eq!(strict.status, Status::Invalid, "{strict:?}");
    assert!(strict
        .contract
        .as_deref()
        .unwrap()
        .ends_with("contracts/incoming/sales/strict.dqdl"));
    let loose = stage.direct("incoming/sales/loose/x.csv").await;
    assert_eq!(loose.status, Status::Valid, "{loose:?}");
    assert!(loose
        .contract
        .as_deref()
        .unwrap()
        .ends_with("contracts/incoming/sales.yaml"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_too_large_is_rejected_before_reading() {
    let stage = Stage::with_config(true, false, |c| c.max_object_bytes = Some(32)).await;
    stage
        .aws
        .put(&stage.bucket, "incoming/sales/big.csv", GOOD_CSV)
        .await;
    let d = stage
        .invoke_err(json!({"bucket": stage.bucket, "key": "incoming/sales/big.csv"}))
        .await;
    assert_eq!(d.error_type, "ObjectTooLarge", "{}", d.error_message);
    assert!(stage.aws.keys(&stage.bucket, "greenpipe/").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_format_and_aws_errors_are_typed() {
    let stage = Stage::new(true, false).await;
    // A contract without a format: the format comes from the key's extension, and .xlsx is not one.
    stage
        .aws
        .put(&stage.bucket, "contracts/sheets.yaml", "name: sheets\n")
        .await;
    stage.aws.put(&stage.bucket, "sheets/q1.xlsx", "PK\x03\x04").await;
    let d = stage
        .invoke_err(json!({"bucket": stage.bucket, "key": "sheets/q1.xlsx"}))
        .await;
    assert_eq!(d.error_type, "UnsupportedFormat", "{}", d.error_message);

    let d = stage
        .invoke_err(json!({"bucket": stage.bucket, "key": "incoming/sales/missing.csv"}))
        .await;
    assert_eq!(d.error_type, "AwsError", "{}", d.error_message);
    let d = stage
        .invoke_err(json!({"bucket": stage.bucket, "key": "sheets/q1.xlsx", "versionId": "nope"}))
        .await;
    assert_eq!(d.error_type, "AwsError", "{}", d.error_message);
    for bad in [
        json!({"nothing": 1}),
        json!([1, 2]),
        json!({"Records": [{"eventSource": "aws:s3"}]}),
    ] {
        let d = stage.invoke_err(bad).await;
        assert_eq!(d.error_type, "InvalidEvent", "{}", d.error_message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_prefixes_are_ignored() {
    let stage = Stage::new(true, true).await;
    for key in [
        "greenpipe/reports/incoming/sales/x.csv/v.json",
        "greenpipe/quarantine/incoming/sales/x.csv",
        "contracts/other.yaml",
    ] {
        stage.aws.put(&stage.bucket, key, BAD_CSV).await;
        let o = &outcomes(stage.invoke_ok(s3_event(&stage.bucket, key, None)).await)[0];
        assert_eq!(o.status, Status::Ignored, "{key}: {o:?}");
        assert_eq!(o.valid, None);
    }
    // S3's test event and non-create events name nothing to do.
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": stage.bucket});
    assert!(outcomes(stage.invoke_ok(test_event).await).is_empty());
    let mut deleted = s3_event(&stage.bucket, "incoming/sales/gone.csv", None);
    deleted["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
    assert!(outcomes(stage.invoke_ok(deleted).await).is_empty());
    let reports = stage.aws.keys(&stage.bucket, "greenpipe/reports/").await;
    assert_eq!(
        reports,
        vec!["greenpipe/reports/incoming/sales/x.csv/v.json".to_string()]
    );
    assert!(stage.executions().await.is_empty());
}

// ---------------------------------------------------------------------------------------------------
// Bad data files through the handler: always a report (invalid) and a quarantine copy, never a crash.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_files_are_quarantined_with_a_report() {
    let stage = Stage::new(true, true).await;
    stage
        .aws
        .put(
            &stage.bucket,
            "contracts/events.yaml",
            "name: events\nformat:\n  type: jsonl\ncolumns:\n  - name: id\n    type: int\n",
        )
        .await;
    let good_gz = gzip(GOOD_CSV.as_bytes());
    let mut corrupt_gz = good_gz.clone();
    let mid = corrupt_gz.len() / 2;
    corrupt_gz[mid..mid + 4].copy_from_slice(b"\xde\xad\xbe\xef");
    let truncated_gz = good_gz[..good_gz.len() - 10].to_vec();
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        // (key, bytes, expect a fatal error in the report)
        ("incoming/sales/bad/corrupt.csv.gz", corrupt_gz, true),
        ("incoming/sales/bad/truncated.csv.gz", truncated_gz, true),
        ("incoming/sales/bad/empty.csv", Vec::new(), false),
        (
            "incoming/sales/bad/header-only.csv",
            b"id,day,amount,region\n".to_vec(),
            false,
        ),
        (
            "incoming/sales/bad/ragged.csv",
            b"id,day,amount,region\n1,2026-01-01,1\n".to_vec(),
            false,
        ),
        (
            "incoming/sales/bad/invalid-utf8.csv",
            b"id,day,amount,region\n1,2026-01-01,1,\xff\xfe\n".to_vec(),
            false,
        ),
        (
            "events/bad/not-objects.jsonl",
            b"{\"id\": 1}\n[1, 2]\n\"text\"\n".to_vec(),
            false,
        ),
    ];
    for (key, bytes, want_fatal) in &cases {
        stage.aws.put(&stage.bucket, key, bytes.clone()).await;
        let o = stage.direct(key).await;
        assert_eq!(
            (o.status.clone(), o.valid),
            (Status::Invalid, Some(false)),
            "{key}: {o:?}"
        );
        let report = stage.report(o.report_key.as_deref().unwrap()).await;
        assert!(!report.valid, "{key}");
        if *want_fatal {
            assert!(
                report.fatal.is_some(),
                "{key}: expected a fatal error in {report:?}"
            );
        }
        let copy = stage
            .aws
            .get(&stage.bucket, o.quarantine_key.as_deref().unwrap())
            .await;
        assert_eq!(
            copy.as_deref(),
            Some(&bytes[..]),
            "{key}: quarantine copy differs"
        );
        assert_eq!(
            stage.aws.get(&stage.bucket, key).await.as_deref(),
            Some(&bytes[..]),
            "{key}: source changed"
        );
    }
    // A good gzip file passes.
    stage
        .aws
        .put(&stage.bucket, "incoming/sales/good.csv.gz", good_gz)
        .await;
    assert_eq!(
        stage.direct("incoming/sales/good.csv.gz").await.status,
        Status::Valid
    );
    assert!(
        stage.executions().await.is_empty(),
        "direct invocations start nothing by default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_invalid_object_is_quarantined_with_multipart_copy() {
    // Lower the multipart threshold (5 GiB in production) to exercise UploadPartCopy on ~11 MiB.
    const MIB: u64 = 1 << 20;
    let stage = Stage::with_config(true, false, |c| {
        c.multipart_copy_threshold = 5 * MIB;
        c.multipart_copy_part_bytes = 5 * MIB;
    })
    .await;
    let mut csv = String::from("id,day,amount,region\n");
    let mut i = 0u64;
    while (csv.len() as u64) < 11 * MIB {
        i += 1;
        let region = if i == 70_000 { "mars" } else { "eu" };
        csv.push_str(&format!("{i},2026-01-01,{}.5,{region}\n", i % 1000));
    }
    let key = "incoming/sales/big/large.csv";
    stage.put_tagged(key, csv.as_bytes()).await;
    let o = stage.direct(key).await;
    assert_eq!(o.status, Status::Invalid, "{o:?}");
    assert_eq!(o.violation_count, Some(1));
    let quarantine_key = o.quarantine_key.unwrap();
    let copy = stage.aws.get(&stage.bucket, &quarantine_key).await.unwrap();
    assert!(
        copy == csv.as_bytes(),
        "multipart quarantine copy differs ({} vs {} bytes)",
        copy.len(),
        csv.len()
    );
    let head = stage
        .aws
        .s3
        .head_object()
        .bucket(&stage.bucket)
        .key(&quarantine_key)
        .send()
        .await
        .unwrap();
    assert!(
        head.e_tag().unwrap().contains("-3"),
        "expected a 3-part upload, ETag {:?}",
        head.e_tag()
    );
    assert_eq!(head.content_type(), Some("text/csv"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("uploaded-by"))
            .map(String::as_str),
        Some("greenpipe-tests")
    );
    let tags = stage.aws.tags(&stage.bucket, &quarantine_key).await;
    assert_eq!(
        tags.get("greenpipe:status").map(String::as_str),
        Some("quarantined"),
        "{tags:?}"
    );
    stage.assert_source_untouched(key, csv.as_bytes()).await;
}
