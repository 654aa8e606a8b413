//! Every sample event in `events/` fed, as written, to the Lambda handler that events/README.md says
//! takes it, against moto's server (S3, Glue, SageMaker, Step Functions) and the loopback Feature Store
//! runtime. These are the files users pass to `cargo lambda invoke --data-file`, so a change to a
//! handler's input that would break them fails here.
//!
//! The only rewriting is what pointing an event at real objects takes, and what the README tells users
//! to do: the sample bucket name becomes this test's bucket, and the object versions and ETags the
//! events name (and the sizes) become those of the objects uploaded here (at the keys the events name, URL-decoded as
//! S3 and EventBridge encode them). Everything else — shapes, keys, names, plans — is the file's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_sagemaker::types::FeatureType;
use greenpipe::aws::Config;
use greenpipe::stages::cleanup_idle::{Area, CleanupConfig};
use greenpipe::stages::plan::handler::PlanConfig;
use greenpipe::stages::write_features::handler;
use greenpipe::stages::Stage;
use greenpipe::stages::{
    cleanup_idle::CleanupIdle, function_handler, plan::PlanTraining, plan::PlanTransform,
    register_catalog::RegisterCatalog, report_run::ReportRun, validate_dataset::ValidateDataset,
    write_features::WriteFeatures,
};
use greenpipe_tests::featurestore::{create_feature_group, Faults, FeatureStore};
use greenpipe_tests::{repo_root, unique_name, Aws};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

const SAMPLE_BUCKET: &str = "greenpipe-example-bucket";
const ROLE: &str = "arn:aws:iam::123456789012:role/greenpipe-sagemaker";

/// (file, function) of every sample event (see [`greenpipe_tests::sample_events`]).
fn documented() -> Vec<(String, String)> {
    greenpipe_tests::sample_events()
}

fn read_event(file: &str) -> Value {
    let path = repo_root().join("events").join(file);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read event")).expect("event is JSON")
}

/// S3 and EventBridge notifications URL-encode object keys (space as `+`).
fn decode_key(key: &str) -> String {
    let plus = key.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .expect("UTF-8 key")
        .into_owned()
}

/// A notification's object node (`s3.object` / `detail.object`): it has a size or sequencer, no bucket.
fn is_notification_object(map: &serde_json::Map<String, Value>) -> bool {
    (map.contains_key("sequencer") || map.contains_key("size")) && !map.contains_key("bucket")
}

/// Calls `f` with every object node that names an object key (decoded), including inside SQS bodies.
fn visit_keys(v: &mut Value, f: &mut dyn FnMut(&str, &mut serde_json::Map<String, Value>)) {
    match v {
        Value::Object(map) => {
            if let Some(key) = map.get("key").and_then(Value::as_str).map(str::to_string) {
                let key = if is_notification_object(map) {
                    decode_key(&key)
                } else {
                    key
                };
                f(&key, map);
            }
            if let Some(Value::String(body)) = map.get("body") {
                if let Ok(mut inner) = serde_json::from_str::<Value>(body) {
                    visit_keys(&mut inner, f);
                    map.insert("body".into(), Value::String(inner.to_string()));
                }
            }
            for (_, child) in map.iter_mut() {
                visit_keys(child, f);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| visit_keys(i, f)),
        _ => {}
    }
}

/// Replace `from` by `to` in every string of the event.
fn replace_text(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(items) => items.iter_mut().for_each(|i| replace_text(i, from, to)),
        Value::Object(map) => map.values_mut().for_each(|i| replace_text(i, from, to)),
        _ => {}
    }
}

fn rename_bucket(v: &mut Value, bucket: &str) {
    replace_text(v, SAMPLE_BUCKET, bucket);
}

/// Every data object any sample event names.
fn event_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (file, _) in documented() {
        let mut event = read_event(&file);
        visit_keys(&mut event, &mut |key, _| {
            keys.insert(key.to_string());
        });
    }
    keys
}

/// A feature group for the bundled sales contract's columns.
async fn create_group(sagemaker: &aws_sdk_sagemaker::Client, name: &str, bucket: &str) -> Result<(), String> {
    let features = [
        ("order_id", FeatureType::Integral),
        ("customer_id", FeatureType::String),
        ("country", FeatureType::String),
        ("amount", FeatureType::Fractional),
        ("quantity", FeatureType::Integral),
        ("order_ts", FeatureType::String),
    ];
    let offline = format!("s3://{bucket}/offline");
    create_feature_group(sagemaker, name, "order_id", "order_ts", &features, &offline).await
}

struct World {
    aws: Aws,
    bucket: String,
    group: String,
    database: String,
    state_machine: String,
    store: FeatureStore,
    /// key → (version id, ETag, size) of the uploaded object.
    objects: BTreeMap<String, (String, String, usize)>,
    sample_rows: usize,
}

impl World {
    async fn new() -> World {
        let aws = Aws::new().await;
        let bucket = aws.bucket(true).await;
        let sagemaker = aws_sdk_sagemaker::Client::new(&aws.sdk);
        let group = unique_name("sales-fg");
        let database = unique_name("events").replace('-', "_");
        create_group(&sagemaker, &group, &bucket)
            .await
            .expect("CreateFeatureGroup");
        let store = FeatureStore::start(Faults::default(), Some(sagemaker))
            .await
            .expect("loopback feature store");
        World::finish(aws, bucket, group, database, store).await
    }

    /// The contract, the objects every event names, and the state machine validate-dataset starts.
    async fn finish(aws: Aws, bucket: String, group: String, database: String, store: FeatureStore) -> World {
        // The bundled sales contract, with this test's own catalog, feature group and training
        // sections in place of the sample's (and no schedule: nothing waits here).
        let mut contract: serde_yaml::Value = serde_yaml::from_str(
            &std::fs::read_to_string(repo_root().join("contracts/sales.yaml")).expect("contract"),
        )
        .expect("the bundled contract is YAML");
        let sections: serde_yaml::Value = serde_yaml::from_str(&format!(
            "catalog:\n  database: {database}\n  partition_keys: [{{ name: dt, type: date }}]\n\
             features:\n  feature_group: {group}\n  record_identifier: order_id\n  event_time_column: order_ts\n  \
             features: [order_id, customer_id, country, amount, quantity, order_ts]\n\
             training:\n  image: 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1\n  \
             role_arn: {ROLE}\n  transform:\n    model_name: sales-4c1b2a4f0e6b-5d1e7a\n"
        ))
        .expect("sections");
        let map = contract.as_mapping_mut().expect("a mapping");
        map.remove("schedule");
        for (k, v) in sections.as_mapping().expect("a mapping") {
            map.insert(k.clone(), v.clone());
        }
        let contract = serde_yaml::to_string(&contract).expect("YAML");
        aws.put(&bucket, "contracts/incoming/sales.yaml", contract).await;
        let sample = std::fs::read(repo_root().join("samples/sales.csv")).expect("sample");
        let sample_rows = sample.iter().filter(|b| **b == b'\n').count() - 1;
        let mut objects = BTreeMap::new();
        for key in event_keys() {
            let (version, etag) = aws.put(&bucket, &key, sample.clone()).await;
            objects.insert(
                key,
                (
                    version.expect("versioned bucket"),
                    etag.trim_matches('"').to_string(),
                    sample.len(),
                ),
            );
        }
        let state_machine = aws.state_machine().await;
        World {
            aws,
            bucket,
            group,
            database,
            state_machine,
            store,
            objects,
            sample_rows,
        }
    }

    /// The sample event, pointed at this test's bucket and objects. A sample version id is replaced
    /// wherever the event repeats it (a continuation's `identity`, a report key).
    fn event(&self, file: &str) -> Value {
        let mut event = read_event(file);
        rename_bucket(&mut event, &self.bucket);
        let mut versions: BTreeMap<String, String> = BTreeMap::new();
        visit_keys(&mut event, &mut |key, map| {
            let Some((version, etag, size)) = self.objects.get(key) else {
                return;
            };
            for field in ["versionId", "version-id"] {
                if let Some(sample) = map.get(field).and_then(Value::as_str) {
                    versions.insert(sample.to_string(), version.clone());
                    map.insert(field.into(), json!(version));
                }
            }
            for field in ["eTag", "etag"] {
                if map.contains_key(field) {
                    map.insert(field.into(), json!(etag));
                }
            }
            if map.contains_key("size") {
                map.insert("size".into(), json!(size));
            }
        });
        for (sample, real) in &versions {
            replace_text(&mut event, sample, real);
        }
        event
    }

    fn config(&self) -> Config {
        Config {
            s3_force_path_style: true,
            contracts_cache_ttl: std::time::Duration::ZERO,
            ..Config::default()
        }
    }

    fn plan_config(&self) -> PlanConfig {
        PlanConfig {
            base: self.config(),
            ..PlanConfig::default()
        }
    }
}

fn lambda_event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

fn files_for(function: &str) -> Vec<String> {
    let files: Vec<String> = documented()
        .into_iter()
        .filter(|(_, f)| f == function)
        .map(|(file, _)| file)
        .collect();
    assert!(!files.is_empty(), "no sample event for {function}");
    files
}

#[test]
fn every_event_file_belongs_to_a_function() {
    // sample_events() fails on a file that is neither named after a function nor listed.
    let events = documented();
    let on_disk = std::fs::read_dir(repo_root().join("events"))
        .expect("events/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .count();
    assert_eq!(events.len(), on_disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_dataset_takes_every_trigger_shape() {
    let w = World::new().await;
    let deps = greenpipe::stages::validate_dataset::Deps::new(
        Config {
            state_machine_arn: Some(w.state_machine.clone()),
            ..w.config()
        },
        &w.aws.sdk,
    );
    for file in files_for("validate-dataset") {
        let event = w.event(&file);
        let out = function_handler::<ValidateDataset>(&deps, lambda_event(event.clone()))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        if file.starts_with("sqs") {
            assert_eq!(out["batchItemFailures"], json!([]), "{file}: {out:#}");
        }
        let outcomes: Vec<Value> = match out.get("outcomes") {
            Some(list) => list.as_array().expect("outcomes").clone(),
            None if out.get("batchItemFailures").is_some() => Vec::new(),
            None => vec![out.clone()],
        };
        for outcome in &outcomes {
            let key = outcome["key"].as_str().expect("key");
            assert!(w.objects.contains_key(key), "{file}: unexpected key {key:?}");
            assert_eq!(outcome["valid"], true, "{file}: {outcome:#}");
            assert_eq!(
                outcome["versionId"],
                json!(w.objects[key].0),
                "{file}: the event's version was validated: {outcome:#}"
            );
            // A direct invocation is a Step Functions task (the per-object Map): it starts nothing.
            assert_eq!(
                outcome["executionArn"].is_string(),
                !file.starts_with("direct"),
                "{file}: {outcome:#}"
            );
        }
    }
    // Every object an event names was validated (a report per object version).
    let reports = w.aws.keys(&w.bucket, "greenpipe/reports/").await;
    for key in w
        .objects
        .keys()
        .filter(|k| k.starts_with("incoming/sales/2026-01/"))
    {
        assert!(
            reports
                .iter()
                .any(|r| r.starts_with(&format!("greenpipe/reports/{key}"))),
            "no report for {key}: {reports:?}"
        );
    }
    let executions = w.aws.executions(&w.state_machine).await;
    assert_eq!(
        executions.len(),
        4,
        "one execution per notified object (not for the direct invocation): {executions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_catalog_takes_its_task_input() {
    let w = World::new().await;
    let deps = greenpipe::stages::register_catalog::Deps::new(w.config(), &w.aws.sdk);
    for file in files_for("register-catalog") {
        let out = function_handler::<RegisterCatalog>(&deps, lambda_event(w.event(&file)))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        let glue = aws_sdk_glue::Client::new(&w.aws.sdk);
        let partitions = glue
            .get_partitions()
            .database_name(&w.database)
            .table_name("sales")
            .send()
            .await
            .expect("GetPartitions");
        let values: Vec<Vec<String>> = partitions
            .partitions()
            .iter()
            .map(|p| p.values().to_vec())
            .collect();
        assert_eq!(values, vec![vec!["2026-11-27".to_string()]], "{file}: {out:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_features_takes_its_task_input() {
    let w = World::new().await;
    // The event names its feature group (`featureGroup`), and resumes from row 120 of the sample.
    let sagemaker = aws_sdk_sagemaker::Client::new(&w.aws.sdk);
    create_group(&sagemaker, "sales-orders", &w.bucket)
        .await
        .expect("CreateFeatureGroup sales-orders");
    let deps = Arc::new(
        handler::Deps::new(w.config(), &w.aws.sdk)
            .with_featurestore_endpoint(&w.aws.sdk, &w.store.endpoint()),
    );
    for file in files_for("write-features") {
        let out = function_handler::<WriteFeatures>(&deps, lambda_event(w.event(&file)))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        let event = read_event(&file);
        let group = event["featureGroup"].as_str().unwrap_or(&w.group);
        let next = event["continuation"]["nextRow"].as_u64().unwrap_or(0) as usize;
        let carried = &event["continuation"]["totals"];
        assert_eq!(out["done"], true, "{file}: {out:#}");
        assert_eq!(out["failed"], 0, "{file}: {out:#}");
        assert_eq!(out["written"], json!(w.sample_rows - next), "{file}: {out:#}");
        assert_eq!(
            out["totals"]["written"],
            json!(w.sample_rows - next + carried["written"].as_u64().unwrap_or(0) as usize),
            "{file}: the continuation's totals carry on: {out:#}"
        );
        // Only the rows from the continuation on: none before it was written again.
        assert_eq!(w.store.online_len(group), w.sample_rows - next, "{file}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_training_plan_transform_and_report_run_take_their_task_inputs() {
    let w = World::new().await;
    let deps = greenpipe::stages::plan::handler::Deps::new(Stage::PlanTraining, w.plan_config(), &w.aws.sdk);
    let transform =
        greenpipe::stages::plan::handler::Deps::new(Stage::PlanTransform, w.plan_config(), &w.aws.sdk);
    let report = greenpipe::stages::report_run::Deps::new(w.plan_config(), &w.aws.sdk);

    for file in files_for("plan-training") {
        let plan = function_handler::<PlanTraining>(&deps, lambda_event(w.event(&file)))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        assert_eq!(plan["train"], true, "{file}: {plan:#}");
        let request = &plan["request"];
        assert_eq!(request["EnableManagedSpotTraining"], true, "{file}: {plan:#}");
        assert_eq!(
            request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"],
            json!(format!(
                "s3://{}/incoming/sales/dt=2026-11-27/part-0000.csv",
                w.bucket
            )),
            "{file}: {plan:#}"
        );
    }

    for file in files_for("plan-transform") {
        let plan = function_handler::<PlanTransform>(&transform, lambda_event(w.event(&file)))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        assert_eq!(plan["transform"], true, "{file}: {plan:#}");
        let request = &plan["request"];
        assert_eq!(
            request["ModelName"], "sales-4c1b2a4f0e6b-5d1e7a",
            "{file}: {plan:#}"
        );
        assert_eq!(request["TransformInput"]["SplitType"], "Line", "{file}: {plan:#}");
    }

    for file in files_for("report-run") {
        let out = function_handler::<ReportRun>(&report, lambda_event(w.event(&file)))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        let uri = out["reportUri"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: {out:#}"));
        let key = uri
            .strip_prefix(&format!("s3://{}/", w.bucket))
            .expect("report in the dataset's bucket");
        let report: Value = serde_json::from_slice(&w.aws.get(&w.bucket, key).await.expect("report object"))
            .expect("report JSON");
        let want = if file.contains("failed") {
            "FAILED"
        } else {
            "SUCCEEDED"
        };
        assert_eq!(report["status"], want, "{file}: {report:#}");
        if want == "SUCCEEDED" {
            // The sample carries each function's own measurement, as a real run's state does.
            for stage in ["validation", "catalog", "features"] {
                let line = report["stages"]
                    .as_array()
                    .and_then(|s| s.iter().find(|l| l["stage"] == stage))
                    .unwrap_or_else(|| panic!("{file}: no {stage} line"));
                assert_eq!(line["measured"], true, "{file}: {line:#}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_idle_takes_the_scheduled_event() {
    let w = World::new().await;
    w.aws.put(&w.bucket, "greenpipe/tmp/left-over.json", "{}").await;
    let config = CleanupConfig {
        // This test's bucket only: other tests share the emulator.
        areas: [Area::Objects].into_iter().collect(),
        buckets: vec![w.bucket.clone()],
        report_bucket: Some(w.bucket.clone()),
        retention: std::time::Duration::ZERO,
        min_age: std::time::Duration::ZERO,
        dry_run: false,
        ..CleanupConfig::default()
    };
    let deps =
        greenpipe::stages::cleanup_idle::Deps::new(config, &w.aws.sdk, w.config().s3_client(&w.aws.sdk));
    for file in files_for("cleanup-idle") {
        let out = function_handler::<CleanupIdle>(&deps, lambda_event(w.event(&file)))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        // The event's detail asks for a dry run, over the configured act mode.
        assert_eq!(out["dry_run"], true, "{file}: {out:#}");
        assert!(
            out.to_string().contains("greenpipe/tmp/left-over.json"),
            "{file}: {out:#}"
        );
        assert!(
            w.aws
                .get(&w.bucket, "greenpipe/tmp/left-over.json")
                .await
                .is_some(),
            "a dry run deletes nothing"
        );
    }
}
