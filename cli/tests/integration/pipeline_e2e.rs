//! The whole pipeline, end to end, as a user runs it against an emulator: `greenpipe run
//! s3://bucket/prefix --emulator <moto>` executes statemachine/pipeline.asl.json with every stage's real
//! handler in process and every AWS call sent through the SDK — S3, Glue and SageMaker to moto's server,
//! Feature Store runtime (which moto lacks) to the loopback server, through the standard
//! `AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME` setting.
//!
//! Shown here: the catalog table and partition exist, every row is readable back from the feature
//! store, the training job was created as planned (managed spot, MaxWait ≥ MaxRuntime, checkpoints),
//! the model and the transform job exist, the run report is in S3; a second run over unchanged data
//! skips training; a run over invalid data takes the failure path, writes its report, and starts nothing
//! downstream. The run report has every Lambda stage's own measured duration at the memory the template
//! gives it; a training instance type the footprint table does not know leaves the run SUCCEEDED with an
//! unmodelled line.

use std::collections::BTreeMap;
use std::process::Output;

use aws_sdk_sagemaker::types::FeatureType;
use greenpipe_tests::cloudwatch::CloudWatch;
use greenpipe_tests::featurestore::{create_feature_group, Faults, FeatureStore};
use greenpipe_tests::{emulator, unique_name, Aws};
use serde_json::Value;

use crate::common::{describe, greenpipe_on_emulator, stdout_json};

const ROLE: &str = "arn:aws:iam::123456789012:role/greenpipe-sagemaker";
const ROWS: usize = 24;
const COUNTRIES: [&str; 3] = ["US", "CA", "GB"];
/// The states after validation that do the work: all run for valid data, none for invalid data.
const DOWNSTREAM: [&str; 7] = [
    "RegisterCatalog",
    "WriteFeatures",
    "PlanTraining",
    "Train",
    "CreateModel",
    "PlanTransform",
    "Transform",
];

fn contract(group: &str, database: &str) -> String {
    contract_named("orders", group, database, "")
}

/// The contract under another `name`, with `training_extra` added to its training section.
fn contract_named(name: &str, group: &str, database: &str, training_extra: &str) -> String {
    format!(
        r#"
name: {name}
format: {{ type: csv, header: true }}
columns:
  - {{ name: order_id, type: int, nullable: false, unique: true, min: 1 }}
  - {{ name: order_ts, type: timestamp, nullable: false }}
  - {{ name: amount, type: float, nullable: false, min: 0 }}
  - {{ name: country, type: string, allowed: [US, CA, GB] }}
  - {{ name: qty, type: int, min: 1 }}
catalog:
  database: {database}
  partition_keys: [{{ name: dt, type: date }}]
features:
  feature_group: {group}
  record_identifier: order_id
  event_time_column: order_ts
training:
  image: 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1
  role_arn: {ROLE}
  max_runtime_seconds: 1800
  hyperparameters: {{ num_round: 50 }}
{training_extra}"#
    )
}

/// Row `i`; `salt` makes this test's data (and so its fingerprint and training job name) its own, so
/// reruns against a long-lived emulator start from nothing.
fn row(i: usize, salt: usize) -> (String, String, String, String, String) {
    (
        i.to_string(),
        format!("2026-11-27T10:{:02}:{:02}Z", i / 60, i % 60),
        format!("{}.25", i * 3 + salt),
        COUNTRIES[i % COUNTRIES.len()].to_string(),
        (i % 5 + 1).to_string(),
    )
}

fn csv(salt: usize) -> String {
    let mut out = String::from("order_id,order_ts,amount,country,qty\n");
    for i in 1..=ROWS {
        let (id, ts, amount, country, qty) = row(i, salt);
        out.push_str(&format!("{id},{ts},{amount},{country},{qty}\n"));
    }
    out
}

struct World {
    aws: Aws,
    bucket: String,
    group: String,
    database: String,
    sagemaker: aws_sdk_sagemaker::Client,
    glue: aws_sdk_glue::Client,
    store: FeatureStore,
    /// CloudWatch (moto does not speak its current protocol): the training jobs' utilisation.
    cw: CloudWatch,
}

impl World {
    async fn new() -> World {
        let aws = Aws::new().await;
        let bucket = aws.bucket(false).await;
        let sagemaker = aws_sdk_sagemaker::Client::new(&aws.sdk);
        let glue = aws_sdk_glue::Client::new(&aws.sdk);
        let group = unique_name("orders-fg");
        let database = unique_name("e2e").replace('-', "_");
        let features = [
            ("order_id", FeatureType::Integral),
            ("order_ts", FeatureType::String),
            ("amount", FeatureType::Fractional),
            ("country", FeatureType::String),
            ("qty", FeatureType::Integral),
        ];
        let offline = format!("s3://{bucket}/offline");
        create_feature_group(&sagemaker, &group, "order_id", "order_ts", &features, &offline)
            .await
            .expect("CreateFeatureGroup");
        let store = FeatureStore::start(Faults::default(), Some(sagemaker.clone()))
            .await
            .expect("loopback feature store");
        aws.put(&bucket, "contracts/orders.yaml", contract(&group, &database))
            .await;
        World {
            aws,
            bucket,
            group,
            database,
            sagemaker,
            glue,
            store,
            cw: CloudWatch::start().await,
        }
    }

    /// `greenpipe run s3://<bucket>/<prefix> --emulator <moto> --json`, as a user would run it.
    async fn run(&self, prefix: &str) -> Output {
        self.run_with(prefix, &[]).await
    }

    /// [`World::run`] with more arguments.
    async fn run_with(&self, prefix: &str, extra: &[&str]) -> Output {
        let mut command = greenpipe_on_emulator();
        command
            .args(["run", &format!("s3://{}/{prefix}", self.bucket)])
            .args(extra)
            .args(["--emulator", &emulator().endpoint, "--json"])
            .env(
                "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME",
                self.store.endpoint(),
            )
            .env("AWS_ENDPOINT_URL_CLOUDWATCH", &self.cw.endpoint)
            .env("GREENPIPE_CONTRACTS_CACHE_SECONDS", "0")
            .env("GREENPIPE_ARTIFACTS_BUCKET", &self.bucket);
        // The loopback feature store is served by this test's runtime: wait off its worker threads.
        tokio::task::spawn_blocking(move || command.output().expect("run the greenpipe binary"))
            .await
            .expect("join")
    }

    async fn training_jobs(&self) -> Vec<String> {
        let out = self
            .sagemaker
            .list_training_jobs()
            .max_results(100)
            .send()
            .await
            .expect("ListTrainingJobs");
        out.training_job_summaries()
            .iter()
            .filter_map(|j| j.training_job_name())
            .filter(|n| n.starts_with("orders-"))
            .map(str::to_string)
            .collect()
    }

    /// The run report a run's `reportUri` names, read back from the bucket.
    async fn report(&self, run: &Value) -> Value {
        let uri = run["reportUri"].as_str().expect("report uri");
        let key = uri
            .strip_prefix(&format!("s3://{}/", self.bucket))
            .expect("the report is in the artifacts bucket");
        serde_json::from_slice(&self.aws.get(&self.bucket, key).await.expect("run report object"))
            .expect("the run report is JSON")
    }

    async fn partitions(&self) -> Vec<Vec<String>> {
        let out = self
            .glue
            .get_partitions()
            .database_name(&self.database)
            .table_name("orders")
            .send()
            .await
            .expect("GetPartitions");
        let mut values: Vec<Vec<String>> = out.partitions().iter().map(|p| p.values().to_vec()).collect();
        values.sort();
        values
    }
}

/// The one run of a `--json` document.
fn only_run(out: &Output) -> Value {
    let doc = stdout_json(out);
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "one dataset, one execution: {doc:#}");
    runs[0].clone()
}

/// state → outcome (`ran`, `planned`, `failed`, `skipped`) from the run's timeline.
fn outcomes(run: &Value) -> BTreeMap<String, String> {
    run["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|s| {
            (
                s["state"].as_str().unwrap_or_default().to_string(),
                s["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn assert_outcome(run: &Value, state: &str, want: &str) {
    let all = outcomes(run);
    assert_eq!(
        all.get(state).map(String::as_str),
        Some(want),
        "state {state}: {all:#?}\nplan: {:#}\nerror: {} {}",
        run["output"]["plan"],
        run["error"],
        run["cause"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_pipeline_then_skip_on_unchanged_data_then_failure_path_on_invalid_data() {
    let w = World::new().await;
    let key = "orders/dt=2026-11-27/part-0.csv";
    let salt = w
        .bucket
        .bytes()
        .fold(0usize, |h, b| (h * 31 + b as usize) % 100_000);
    w.aws.put(&w.bucket, key, csv(salt)).await;

    // ---- Run 1: everything runs, nothing is planned.
    let out = w.run("orders/dt=2026-11-27/").await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let run = only_run(&out);
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    assert_eq!(
        run["planned"].as_array().map(Vec::len),
        Some(0),
        "with an emulator nothing is only planned: {run:#}"
    );
    for state in DOWNSTREAM.iter().chain(&["ReportRun"]) {
        assert_outcome(&run, state, "ran");
    }
    assert_outcome(&run, "KeepLastModel", "skipped");
    assert_outcome(&run, "RunFailed", "skipped");

    // Glue: the table from the contract, no crawler; the object's partition.
    let table = w
        .glue
        .get_table()
        .database_name(&w.database)
        .name("orders")
        .send()
        .await
        .expect("GetTable")
        .table
        .expect("table");
    let sd = table.storage_descriptor().expect("storage descriptor");
    let columns: Vec<(String, String)> = sd
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.r#type().unwrap_or_default().to_string()))
        .collect();
    assert_eq!(
        columns,
        [
            ("order_id", "bigint"),
            ("order_ts", "timestamp"),
            ("amount", "double"),
            ("country", "string"),
            ("qty", "bigint"),
        ]
        .map(|(n, t)| (n.to_string(), t.to_string())),
        "{table:#?}"
    );
    assert_eq!(sd.location(), Some(format!("s3://{}/orders/", w.bucket).as_str()));
    assert_eq!(w.partitions().await, vec![vec!["2026-11-27".to_string()]]);

    // Feature Store: every row, with its values, readable back.
    assert_eq!(w.store.online_len(&w.group), ROWS);
    for i in 1..=ROWS {
        let (id, ts, amount, country, qty) = row(i, salt);
        let record: BTreeMap<String, String> = w
            .store
            .record(&w.group, &id)
            .unwrap_or_else(|| panic!("record {id} missing"))
            .into_iter()
            .collect();
        let want: BTreeMap<String, String> = [
            ("order_id", id),
            ("order_ts", ts),
            ("amount", amount),
            ("country", country),
            ("qty", qty),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(record, want);
    }

    // SageMaker: the training job as planned — managed spot, MaxWait ≥ MaxRuntime, checkpoints.
    let jobs = w.training_jobs().await;
    let job_name = run["output"]["plan"]["request"]["TrainingJobName"]
        .as_str()
        .expect("planned job name")
        .to_string();
    assert!(jobs.contains(&job_name), "{job_name} not in {jobs:?}");
    let job = w
        .sagemaker
        .describe_training_job()
        .training_job_name(&job_name)
        .send()
        .await
        .expect("DescribeTrainingJob");
    assert_eq!(job.enable_managed_spot_training(), Some(true), "{job:#?}");
    // No debugger section, no Debugger (closed to new customers: asking for it would fail the job).
    assert!(job.debug_rule_configurations().is_empty() && job.debug_hook_config().is_none());
    let stop = job.stopping_condition().expect("stopping condition");
    assert_eq!(stop.max_runtime_in_seconds(), Some(1800));
    assert!(
        stop.max_wait_time_in_seconds().unwrap_or(0) >= 1800,
        "MaxWait must cover MaxRuntime: {stop:?}"
    );
    let checkpoint = job
        .checkpoint_config()
        .and_then(|c| c.s3_uri())
        .expect("checkpoint config");
    assert_eq!(
        checkpoint,
        format!("s3://{}/greenpipe/checkpoints/orders/{job_name}/", w.bucket)
    );
    assert_eq!(job.role_arn(), Some(ROLE));
    let channel = &job.input_data_config()[0];
    assert_eq!(
        channel
            .data_source()
            .and_then(|d| d.s3_data_source())
            .and_then(|s| s.s3_uri()),
        Some(format!("s3://{}/{key}", w.bucket).as_str()),
        "{channel:#?}"
    );

    // The model, then the batch transform over the dataset with it.
    let model_name = run["output"]["plan"]["modelRequest"]["ModelName"]
        .as_str()
        .expect("planned model name");
    w.sagemaker
        .describe_model()
        .model_name(model_name)
        .send()
        .await
        .expect("DescribeModel: the model was created");
    let transform_name = run["output"]["transformPlan"]["request"]["TransformJobName"]
        .as_str()
        .expect("planned transform job name");
    let transform = w
        .sagemaker
        .describe_transform_job()
        .transform_job_name(transform_name)
        .send()
        .await
        .expect("DescribeTransformJob");
    assert_eq!(transform.model_name(), Some(model_name));

    // The run report, in S3.
    let report_uri = run["reportUri"].as_str().expect("report uri").to_string();
    let report_key = report_uri
        .strip_prefix(&format!("s3://{}/", w.bucket))
        .expect("report in the artifacts bucket");
    let report: Value =
        serde_json::from_slice(&w.aws.get(&w.bucket, report_key).await.expect("run report object"))
            .expect("run report is JSON");
    let text = report.to_string();
    assert!(
        text.contains(&job_name),
        "report names the training job: {report:#}"
    );
    assert!(
        text.contains(transform_name),
        "report names the transform job: {report:#}"
    );
    // Every Lambda stage measured itself, at the memory infra/template.yaml gives its function.
    for (stage, memory_mb) in [
        ("validation", 1024.0),
        ("catalog", 128.0),
        ("features", 256.0),
        ("plan", 128.0),
        ("transformPlan", 128.0),
        ("report", 128.0),
    ] {
        let line = stage_line(&report, stage);
        assert_eq!(line["measured"], true, "{stage}: {line:#}");
        assert_eq!(line["invocations"], 1, "{stage}: {line:#}");
        let seconds = line["durationSeconds"].as_f64().unwrap_or(-1.0);
        assert!(seconds > 0.0 && seconds < 60.0, "{stage}: {line:#}");
        assert_eq!(
            line["basis"]["compute"]["memory_gb"].as_f64(),
            Some(memory_mb / 1024.0),
            "{stage}: {line:#}"
        );
    }
    // report-run asked CloudWatch for the training job's per-host utilisation (none published here).
    let training_line = stage_line(&report, "training");
    assert!(
        training_line.get("utilisationUnread").is_none(),
        "{training_line:#}"
    );
    assert!(
        w.cw.requests().iter().any(|r| r
            .queries
            .iter()
            .any(|q| q.namespace == "/aws/sagemaker/TrainingJobs"
                && q.dimensions == [("Host".to_string(), format!("{job_name}/algo-1"))])),
        "{:?}",
        w.cw.requests()
    );
    // Training and transform: instance-hours with their embodied share (moto's jobs take no time, so
    // the share is zero here; the unit tests compute it); data read within the region.
    for job in ["training", "transform"] {
        let basis = &stage_line(&report, job)["basis"]["embodied"];
        assert!(
            basis["host_kg_co2e"].as_f64().is_some_and(|kg| kg > 1000.0),
            "{job}: {report:#}"
        );
    }
    assert!(report["totals"]["embodiedKgco2e"].is_number(), "{report:#}");
    assert!(report["totals"].get("excludes").is_none(), "{report:#}");
    assert!(
        report["usage"][1]["quantity"]
            .as_str()
            .is_some_and(|q| q.contains("read by 4 (validation, features, training, transform)")),
        "{report:#}"
    );

    // ---- Run 2, same data: training is skipped, no new training job.
    let out = w.run("orders/dt=2026-11-27/").await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let again = only_run(&out);
    assert_eq!(again["status"], "SUCCEEDED", "{again:#}");
    assert_eq!(again["output"]["plan"]["train"], false, "{again:#}");
    assert!(
        again["output"]["plan"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unchanged")),
        "{:#}",
        again["output"]["plan"]
    );
    assert_outcome(&again, "Train", "skipped");
    assert_outcome(&again, "CreateModel", "skipped");
    assert_outcome(&again, "KeepLastModel", "ran");
    assert_eq!(w.training_jobs().await, jobs, "no new training job");
    assert_eq!(w.store.online_len(&w.group), ROWS, "the same records, no more");
    assert_eq!(w.partitions().await, vec![vec!["2026-11-27".to_string()]]);

    // ---- Run 3, invalid data: the failure path, its report, nothing downstream.
    let bad_key = "orders/dt=2026-11-28/part-0.csv";
    let bad =
        "order_id,order_ts,amount,country,qty\n901,2026-11-28T10:00:00Z,1.5,US,1\n902,not-a-time,2.5,XX,0\n";
    w.aws.put(&w.bucket, bad_key, bad).await;
    let out = w.run("orders/dt=2026-11-28/").await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let failed = only_run(&out);
    assert_eq!(failed["status"], "FAILED", "{failed:#}");
    assert_eq!(failed["validation"]["valid"], false, "{failed:#}");
    assert_outcome(&failed, "DatasetRejected", "ran");
    assert_outcome(&failed, "RunFailed", "ran");
    assert_outcome(&failed, "ReportRun", "ran");
    for state in DOWNSTREAM {
        assert_outcome(&failed, state, "skipped");
    }
    // The failure report: the run report of that execution, saying it failed.
    let reports = w.aws.keys(&w.bucket, "greenpipe/reports/runs/").await;
    assert_eq!(reports.len(), 2, "one report per execution: {reports:?}");
    let failure_key = reports
        .iter()
        .find(|k| format!("s3://{}/{k}", w.bucket) != report_uri)
        .expect("the failed run's report");
    let failure: Value =
        serde_json::from_slice(&w.aws.get(&w.bucket, failure_key).await.expect("report")).expect("JSON");
    assert_eq!(failure["status"], "FAILED", "{failure:#}");
    // validate-dataset's own outcome: the validation report and the quarantined copy; source untouched.
    assert_eq!(
        w.aws.get(&w.bucket, bad_key).await.as_deref(),
        Some(bad.as_bytes())
    );
    assert!(
        !w.aws
            .keys(&w.bucket, "greenpipe/quarantine/orders/dt=2026-11-28/")
            .await
            .is_empty(),
        "the invalid object is quarantined"
    );
    // Nothing downstream: no partition, no records, no training job.
    assert_eq!(w.partitions().await, vec![vec!["2026-11-27".to_string()]]);
    assert_eq!(w.store.online_len(&w.group), ROWS);
    assert!(w.store.record(&w.group, "901").is_none());
    assert_eq!(w.training_jobs().await, jobs, "no training job for invalid data");

    // ---- Run 4, a training instance type the footprint table does not know: SUCCEEDED all the same,
    // the training line unmodelled with the reason, the totals saying what they leave out, the marker
    // written.
    w.aws
        .put(
            &w.bucket,
            "contracts/ordersm7i.yaml",
            contract_named(
                "ordersm7i",
                &w.group,
                &w.database,
                "  instance_type: ml.m7i.xlarge\n",
            ),
        )
        .await;
    w.aws
        .put(&w.bucket, "ordersm7i/dt=2026-11-29/part-0.csv", csv(salt + 1))
        .await;
    let out = w.run("ordersm7i/dt=2026-11-29/").await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let unknown = only_run(&out);
    assert_eq!(unknown["status"], "SUCCEEDED", "{unknown:#}");
    assert_outcome(&unknown, "Train", "ran");
    assert_eq!(
        unknown["output"]["plan"]["request"]["ResourceConfig"]["InstanceType"],
        "ml.m7i.xlarge"
    );
    let report = w.report(&unknown).await;
    let training = stage_line(&report, "training");
    assert_eq!(training["status"], "succeeded", "{training:#}");
    assert!(training.get("footprint").is_none(), "{training:#}");
    assert!(
        training["unmodelled"]
            .as_str()
            .is_some_and(|u| u.contains("ml.m7i.xlarge")),
        "{training:#}"
    );
    let excludes = report["totals"]["excludes"].as_array().expect("excludes");
    assert_eq!(excludes.len(), 1, "{report:#}");
    assert!(excludes[0].as_str().is_some_and(|e| e.starts_with("training: ")));
    assert!(
        stage_line(&report, "transform").get("footprint").is_some(),
        "{report:#}"
    );
    assert!(
        unknown["output"]["report"]["markerUri"].is_string(),
        "{unknown:#}"
    );
}

/// The run report's line for `stage`.
fn stage_line<'a>(report: &'a Value, stage: &str) -> &'a Value {
    report["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|l| l["stage"] == stage))
        .unwrap_or_else(|| panic!("no {stage} line: {report:#}"))
}

/// A contract's `schedule` on the execution's clock (issue 23, item 3): `greenpipe run --at` starts the
/// clock at midnight; with a 6-hour deadline and a profile cleanest from 03:00, plan-training plans the
/// 30-minute job for 03:00, the Wait state holds until then (skipped locally, not slept: the timeline
/// says until when), the job runs, and the run report's training line carries the window. The
/// transform, planned at 03:00 on the same clock, is already in the clean hour and does not wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_waits_for_the_cleanest_hour_on_the_execution_s_clock() {
    let w = World::new().await;
    let mut profile = vec!["300"; 24];
    profile[3] = "20";
    profile[5] = "30";
    let contract = format!(
        "{}schedule:\n  deadline_hours: 6\n  profile: {{ source: \"e2e profile\", g_per_kwh: [{}] }}\n",
        contract_named("orderscarbon", &w.group, &w.database, ""),
        profile.join(", ")
    );
    w.aws
        .put(&w.bucket, "contracts/orderscarbon.yaml", contract)
        .await;
    let salt = std::process::id() as usize % 1000 + 7;
    w.aws
        .put(&w.bucket, "orderscarbon/dt=2026-12-08/part-0.csv", csv(salt))
        .await;
    let out = w
        .run_with("orderscarbon/dt=2026-12-08/", &["--at", "2026-12-08T00:00:00Z"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let run = only_run(&out);
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    let plan = &run["output"]["plan"];
    assert_eq!(plan["startAt"], "2026-12-08T03:00:00Z", "{plan:#}");
    assert_eq!(plan["schedule"]["forecastSource"], "e2e profile");
    assert_eq!(plan["schedule"]["expectedGPerKwh"], 20.0);
    assert_eq!(plan["schedule"]["nowGPerKwh"], 300.0);
    let steps = run["timeline"].as_array().expect("timeline");
    let wait = steps
        .iter()
        .find(|s| s["state"] == "WaitForCleanerGridTraining")
        .expect("the training wait");
    assert_eq!(wait["outcome"], "ran");
    assert!(
        wait["waitedUntil"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-12-08T03:00:00")),
        "{wait:#}"
    );
    let skipped = wait["skippedSeconds"].as_i64().expect("skipped seconds");
    assert!((10_790..=10_800).contains(&skipped), "{wait:#}");
    assert!(
        wait["durationMs"].as_u64().unwrap() < 5_000,
        "not slept: {wait:#}"
    );
    assert_outcome(&run, "Train", "ran");
    let transform_plan = &run["output"]["transformPlan"];
    assert_eq!(transform_plan["schedule"]["waitSeconds"], 0, "{transform_plan:#}");
    assert_outcome(&run, "Transform", "ran");

    let report = w.report(&run).await;
    let training = stage_line(&report, "training");
    assert_eq!(
        training["carbonWindow"]["startAt"], "2026-12-08T03:00:00Z",
        "{training:#}"
    );
    let avoided = report["totals"]["carbonAvoidedKgco2e"].as_f64().expect("avoided");
    assert!(avoided > 0.0, "{report:#}");
}

/// Debugger opt-in (issue 23, item 1): a contract's `training.debugger` puts the built-in rules with the
/// StopTraining action and the profiler in the CreateTrainingJob request the state machine sends; moto
/// keeps the rules and the hook, and returns them from DescribeTrainingJob. Without the section nothing
/// of Debugger is sent (run 1 of the whole-pipeline test checks the request it sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_s_debugger_rules_and_profiler_reach_create_training_job() {
    let w = World::new().await;
    w.aws
        .put(
            &w.bucket,
            "contracts/ordersdebug.yaml",
            contract_named("ordersdebug", &w.group, &w.database, "  debugger: {}\n"),
        )
        .await;
    let salt = std::process::id() as usize % 1000 + 11;
    w.aws
        .put(&w.bucket, "ordersdebug/dt=2026-12-08/part-0.csv", csv(salt))
        .await;
    let out = w.run("ordersdebug/dt=2026-12-08/").await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let run = only_run(&out);
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    assert_outcome(&run, "Train", "ran");
    let request = &run["output"]["plan"]["request"];
    let name = request["TrainingJobName"].as_str().expect("job name");
    assert_eq!(
        request["ProfilerConfig"]["ProfilingIntervalInMilliseconds"], 500,
        "{request:#}"
    );
    assert_eq!(
        request["ProfilerRuleConfigurations"][0]["RuleConfigurationName"],
        "LowGPUUtilization"
    );
    let job = w
        .sagemaker
        .describe_training_job()
        .training_job_name(name)
        .send()
        .await
        .expect("DescribeTrainingJob");
    let rules: Vec<(&str, &str)> = job
        .debug_rule_configurations()
        .iter()
        .map(|r| {
            (
                r.rule_configuration_name().unwrap_or_default(),
                r.rule_evaluator_image().unwrap_or_default(),
            )
        })
        .collect();
    let image = "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest";
    assert_eq!(rules, vec![("LossNotDecreasing", image), ("Overfit", image)]);
    let stop = job.debug_rule_configurations()[0]
        .rule_parameters()
        .and_then(|p| p.get("action_json"))
        .expect("the StopTraining action");
    assert!(stop.contains("StopTraining") && stop.contains(name), "{stop}");
    assert!(
        job.debug_hook_config()
            .and_then(|h| h.s3_output_path())
            .is_some_and(|p| p.ends_with("/greenpipe/models/ordersdebug/")),
        "{:?}",
        job.debug_hook_config()
    );
}

/// Tuning (issue 23, item 1): a contract's `training.tuning` runs a tuning job instead of one training
/// job, with automatic early stopping, its small budget and the ranges; the model is created from the
/// best training job's artifacts, the run report has a tuning line, and the marker remembers the tuning
/// job, so that the next tuning (new data) warm-starts from it (TransferLearning).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuning_stops_trials_early_and_the_next_tuning_warm_starts_from_the_last() {
    let w = World::new().await;
    let tuning = "  tuning:\n    objective: { metric: \"validation:rmse\", type: Minimize }\n    \
                  ranges:\n      eta: { min: 0.05, max: 0.5 }\n      max_depth: { min: 3, max: 8, type: integer }\n    \
                  max_jobs: 4\n";
    w.aws
        .put(
            &w.bucket,
            "contracts/orderstuned.yaml",
            contract_named("orderstuned", &w.group, &w.database, tuning),
        )
        .await;
    let salt = std::process::id() as usize % 1000 + 23;
    w.aws
        .put(&w.bucket, "orderstuned/dt=2026-12-08/part-0.csv", csv(salt))
        .await;
    let out = w.run("orderstuned/dt=2026-12-08/").await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let first = only_run(&out);
    assert_eq!(first["status"], "SUCCEEDED", "{first:#}");
    assert_outcome(&first, "Tune", "ran");
    assert_outcome(&first, "Train", "skipped");
    assert_outcome(&first, "CreateModel", "ran");
    let plan = &first["output"]["plan"];
    let tuning_name = plan["tuningJobName"]
        .as_str()
        .expect("tuning job name")
        .to_string();
    assert!(plan["tuningRequest"].get("WarmStartConfig").is_none(), "{plan:#}");
    let job = w
        .sagemaker
        .describe_hyper_parameter_tuning_job()
        .hyper_parameter_tuning_job_name(&tuning_name)
        .send()
        .await
        .expect("DescribeHyperParameterTuningJob");
    let config = job.hyper_parameter_tuning_job_config().expect("config");
    assert_eq!(
        config.training_job_early_stopping_type().map(|t| t.as_str()),
        Some("Auto")
    );
    assert_eq!(
        config
            .resource_limits()
            .and_then(|l| l.max_number_of_training_jobs()),
        Some(4)
    );
    let best = job
        .best_training_job()
        .and_then(|b| b.training_job_name())
        .expect("best training job")
        .to_string();
    let model_name = plan["modelName"].as_str().unwrap();
    let model = w
        .sagemaker
        .describe_model()
        .model_name(model_name)
        .send()
        .await
        .expect("the model");
    assert_eq!(
        model.primary_container().and_then(|c| c.model_data_url()),
        Some(
            format!(
                "s3://{}/greenpipe/models/orderstuned/{best}/output/model.tar.gz",
                w.bucket
            )
            .as_str()
        )
    );
    let report = w.report(&first).await;
    let line = stage_line(&report, "tuning");
    assert_eq!(line["status"], "succeeded", "{line:#}");
    assert_eq!(line["job"]["HyperParameterTuningJobName"], tuning_name.as_str());
    assert!(
        stage_line(&report, "training")["reason"]
            .as_str()
            .is_some_and(|r| r.contains("best training job")),
        "{report:#}"
    );

    // New data: the next tuning job warm-starts from this one.
    w.aws
        .put(&w.bucket, "orderstuned/dt=2026-12-09/part-0.csv", csv(salt + 1))
        .await;
    let out = w.run("orderstuned/dt=2026-12-09/").await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let second = only_run(&out);
    assert_eq!(second["status"], "SUCCEEDED", "{second:#}");
    assert_eq!(
        second["output"]["plan"]["tuningRequest"]["WarmStartConfig"],
        serde_json::json!({"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": tuning_name}],
                           "WarmStartType": "TransferLearning"})
    );
}
