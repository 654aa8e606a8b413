//! write-features end to end: feature groups created in moto (SageMaker control plane, S3), records
//! written by the real write-features handler / stage to the loopback Feature Store runtime
//! (`greenpipe_tests::featurestore`, which reads the group definitions from moto), then read back with
//! the SDK's GetRecord / BatchGetRecord. Each test has its own bucket, feature group and server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sagemaker::types::{
    FeatureDefinition, FeatureType as SmFeatureType, OfflineStoreConfig, OnlineStoreConfig, S3StorageConfig,
};
use aws_sdk_sagemakerfeaturestoreruntime::types::FeatureValue;
use greenpipe::aws::Config;
use greenpipe::pipeline::Dataset;
use greenpipe::stages::write_features::handler::{self, Deps, Mode, Request, Response};
use greenpipe::stages::write_features::{FeatureGroup, FeatureType};
use greenpipe::stages::{function_handler, write_features::WriteFeatures};
use greenpipe_tests::featurestore::{Faults, FeatureStore};
use greenpipe_tests::{gzip, unique_name, Aws};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

const FEATURES: [(&str, FeatureType); 5] = [
    ("order_id", FeatureType::Integral),
    ("order_ts", FeatureType::String),
    ("amount", FeatureType::Fractional),
    ("country", FeatureType::String),
    ("qty", FeatureType::Integral),
];

/// One row of test data.
#[derive(Clone)]
struct Order {
    id: i64,
    ts: String,
    amount: f64,
    country: &'static str,
    qty: i64,
}

fn orders(n: i64) -> Vec<Order> {
    let countries = ["FR", "US", "DE", "JP"];
    (1..=n)
        .map(|id| Order {
            id,
            ts: format!(
                "2026-11-27T{:02}:{:02}:{:02}Z",
                8 + id % 3,
                id % 60,
                (id * 7) % 60
            ),
            amount: id as f64 + 0.25,
            country: countries[(id % 4) as usize],
            qty: id % 9 + 1,
        })
        .collect()
}

fn csv(rows: &[Order]) -> String {
    let mut s = "order_id,order_ts,amount,country,qty\n".to_string();
    for o in rows {
        s.push_str(&format!(
            "{},{},{},{},{}\n",
            o.id, o.ts, o.amount, o.country, o.qty
        ));
    }
    s
}

fn jsonl(rows: &[Order]) -> String {
    rows.iter()
        .map(|o| {
            json!({"order_id": o.id, "order_ts": o.ts, "amount": o.amount, "country": o.country, "qty": o.qty})
                .to_string()
                + "\n"
        })
        .collect()
}

fn parquet(rows: &[Order]) -> Vec<u8> {
    let features: Vec<(String, FeatureType)> = FEATURES.iter().map(|(n, t)| (n.to_string(), *t)).collect();
    let values: Vec<Vec<Option<String>>> = rows
        .iter()
        .map(|o| {
            vec![
                Some(o.id.to_string()),
                Some(o.ts.clone()),
                Some(o.amount.to_string()),
                Some(o.country.to_string()),
                Some(o.qty.to_string()),
            ]
        })
        .collect();
    greenpipe::stages::write_features::offline::parquet_file(&features, &values, 0).expect("parquet input")
}

/// What GetRecord must return for an order.
fn expected(o: &Order) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("order_id".to_string(), o.id.to_string()),
        ("order_ts".to_string(), o.ts.clone()),
        ("amount".to_string(), o.amount.to_string()),
        ("country".to_string(), o.country.to_string()),
        ("qty".to_string(), o.qty.to_string()),
    ])
}

fn contract(group: &str, extra: &str) -> String {
    format!(
        r#"
name: orders
columns:
  - {{ name: order_id, type: int }}
  - {{ name: order_ts, type: timestamp }}
  - {{ name: amount, type: float }}
  - {{ name: country, type: string }}
  - {{ name: qty, type: int }}
features:
  feature_group: {group}
  record_identifier: order_id
{extra}
"#
    )
}

struct World {
    aws: Aws,
    bucket: String,
    group: String,
    sagemaker: aws_sdk_sagemaker::Client,
    store: FeatureStore,
    deps: Arc<Deps>,
    runtime: aws_sdk_sagemakerfeaturestoreruntime::Client,
}

impl World {
    async fn new(faults: Faults) -> World {
        let aws = Aws::new().await;
        let bucket = aws.bucket(false).await;
        let sagemaker = aws_sdk_sagemaker::Client::new(&aws.sdk);
        let group = unique_name("orders-fg");
        let definitions: Vec<FeatureDefinition> = FEATURES
            .iter()
            .map(|(n, t)| {
                FeatureDefinition::builder()
                    .feature_name(*n)
                    .feature_type(match t {
                        FeatureType::Integral => SmFeatureType::Integral,
                        FeatureType::Fractional => SmFeatureType::Fractional,
                        FeatureType::String => SmFeatureType::String,
                    })
                    .build()
            })
            .collect();
        sagemaker
            .create_feature_group()
            .feature_group_name(&group)
            .record_identifier_feature_name("order_id")
            .event_time_feature_name("order_ts")
            .set_feature_definitions(Some(definitions))
            .online_store_config(OnlineStoreConfig::builder().enable_online_store(true).build())
            .offline_store_config(
                OfflineStoreConfig::builder()
                    .s3_storage_config(
                        S3StorageConfig::builder()
                            .s3_uri(format!("s3://{bucket}/offline"))
                            .build(),
                    )
                    .build(),
            )
            .role_arn("arn:aws:iam::123456789012:role/featurestore")
            .send()
            .await
            .expect("CreateFeatureGroup");
        let store = FeatureStore::start(faults, Some(sagemaker.clone()))
            .await
            .expect("loopback feature store");
        let config = Config {
            s3_force_path_style: true,
            contracts_cache_ttl: Duration::ZERO,
            ..Config::default()
        };
        let deps = Deps::new(config, &aws.sdk).with_featurestore_endpoint(&aws.sdk, &store.endpoint());
        let runtime = handler::featurestore_client(&aws.sdk, Some(&store.endpoint()));
        World {
            aws,
            bucket,
            group,
            sagemaker,
            store,
            deps: Arc::new(deps),
            runtime,
        }
    }

    async fn contract(&self, extra: &str) {
        self.aws
            .put(
                &self.bucket,
                "contracts/orders.yaml",
                contract(&self.group, extra),
            )
            .await;
    }

    fn request(&self, key: &str) -> Request {
        Request {
            dataset: Dataset {
                bucket: self.bucket.clone(),
                key: key.to_string(),
                ..Dataset::default()
            },
            ..Request::default()
        }
    }

    async fn write(&self, request: &Request, deadline: Option<SystemTime>) -> Response {
        handler::write(&self.deps, request, deadline)
            .await
            .expect("write-features")
    }

    /// GetRecord through the SDK, as a map.
    async fn get(&self, id: &str) -> Option<BTreeMap<String, String>> {
        let out = self
            .runtime
            .get_record()
            .feature_group_name(&self.group)
            .record_identifier_value_as_string(id)
            .send()
            .await
            .expect("GetRecord");
        out.record.map(|r| {
            r.iter()
                .map(|f: &FeatureValue| {
                    (
                        f.feature_name().unwrap_or_default().to_string(),
                        f.value_as_string().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
    }

    async fn failure_lines(&self, response: &Response) -> Vec<Value> {
        let Some(uri) = &response.failure_report else {
            return Vec::new();
        };
        let key = uri
            .strip_prefix(&format!("s3://{}/", self.bucket))
            .expect("report in the object's bucket");
        let body = self.aws.get(&self.bucket, key).await.expect("failure report");
        String::from_utf8(body)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_readable_back_csv_jsonl_parquet() {
    let world = World::new(Faults::default()).await;
    world.contract("  event_time_column: order_ts").await;
    let data = orders(60);
    // Each format writes a third of the ids, so a wrong reader cannot pass on another's records.
    let parts = [
        ("orders/a.csv", csv(&data[..20]).into_bytes(), &data[..20]),
        (
            "orders/b.jsonl.gz",
            gzip(jsonl(&data[20..40]).as_bytes()),
            &data[20..40],
        ),
        ("orders/c.parquet", parquet(&data[40..]), &data[40..]),
    ];
    for (key, body, rows) in &parts {
        world.aws.put(&world.bucket, key, body.clone()).await;
        let out = world.write(&world.request(key), None).await;
        assert_eq!(
            (out.read, out.written, out.failed, out.done),
            (rows.len() as u64, rows.len() as u64, 0, true),
            "{key}: {out:?}"
        );
        assert!(out.failure_report.is_none());
    }
    for o in &data {
        assert_eq!(
            world.get(&o.id.to_string()).await,
            Some(expected(o)),
            "order {}",
            o.id
        );
    }
    assert_eq!(world.get("9999").await, None);
    // BatchGetRecord over the same wire format.
    let batch = world
        .runtime
        .batch_get_record()
        .identifiers(
            aws_sdk_sagemakerfeaturestoreruntime::types::BatchGetRecordIdentifier::builder()
                .feature_group_name(&world.group)
                .record_identifiers_value_as_string("1")
                .record_identifiers_value_as_string("45")
                .feature_names("amount")
                .build(),
        )
        .send()
        .await
        .expect("BatchGetRecord");
    let amounts: BTreeSet<String> = batch
        .records()
        .iter()
        .flat_map(|r| {
            r.record()
                .iter()
                .map(|f| f.value_as_string().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(amounts, BTreeSet::from(["1.25".to_string(), "45.25".to_string()]));
    let counters = world.store.counters();
    assert_eq!(counters.accepted_writes(), 60);
    assert!(counters.writes.values().all(|&n| n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_every_record_written_exactly_once_or_reported() {
    let faults = Faults {
        throttle_rate: 0.20,
        error_rate: 0.05,
        seed: 42,
        ..Faults::default()
    };
    let world = World::new(faults).await;
    world
        .contract("  event_time_column: order_ts\n  concurrency: 16")
        .await;
    let data = orders(400);
    world
        .aws
        .put(&world.bucket, "orders/faulty.csv", csv(&data))
        .await;
    let out = world.write(&world.request("orders/faulty.csv"), None).await;
    let counters = world.store.counters();
    assert!(
        counters.throttled > 40 && counters.server_errors > 5,
        "{counters:?}"
    );
    assert!(out.retries > 0);
    // Every PutRecord, first attempt or retry, carried the same user agent (built once per client, see
    // `featurestore_client`), each header once, with X-Amz-User-Agent signed.
    assert_eq!(counters.user_agents.len(), 1, "{:?}", counters.user_agents);
    let (ua, &requests) = counters.user_agents.iter().next().expect("one user agent");
    assert_eq!(requests, counters.put_requests);
    assert!(
        ua.user_agent
            .as_deref()
            .is_some_and(|v| v.starts_with("aws-sdk-rust/") && !v.contains(" | ")),
        "{ua:?}"
    );
    assert!(
        ua.x_amz_user_agent.as_deref().is_some_and(|v| {
            v.starts_with("aws-sdk-rust/")
                && v.contains("api/sagemakerfeaturestoreruntime")
                && !v.contains(" | ")
        }),
        "{ua:?}"
    );
    assert!(ua.signed, "{ua:?}");
    assert_eq!(out.read, 400);
    assert_eq!(out.written + out.failed, 400, "{out:?}");
    // Never double-counted: a record counted written was accepted exactly once by the store.
    assert!(
        counters.writes.values().all(|&n| n == 1),
        "a record was written twice"
    );
    assert_eq!(counters.accepted_writes(), out.written);
    let failed: BTreeSet<String> = world
        .failure_lines(&out)
        .await
        .iter()
        .map(|l| l["recordId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed.len() as u64, out.failed);
    world.store.set_faults(Faults::default());
    for o in &data {
        let id = o.id.to_string();
        let got = world.get(&id).await;
        assert!(
            got.as_ref() == Some(&expected(o)) || (got.is_none() && failed.contains(&id)),
            "order {id} neither written nor reported"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_mid_file_resumes_with_no_gap_and_no_duplicate() {
    let world = World::new(Faults {
        latency: Duration::from_millis(15),
        ..Faults::default()
    })
    .await;
    world
        .contract("  event_time_column: order_ts\n  concurrency: 4")
        .await;
    let data = orders(150);
    world.aws.put(&world.bucket, "orders/big.csv", csv(&data)).await;
    world
        .aws
        .put(
            &world.bucket,
            "orders/big.jsonl.gz",
            gzip(jsonl(&data).as_bytes()),
        )
        .await;
    let mut deps = Deps::new(
        Config {
            s3_force_path_style: true,
            contracts_cache_ttl: Duration::ZERO,
            ..Config::default()
        },
        &world.aws.sdk,
    )
    .with_featurestore_endpoint(&world.aws.sdk, &world.store.endpoint());
    deps.features.safety_margin = Duration::from_millis(300);
    for key in ["orders/big.csv", "orders/big.jsonl.gz"] {
        world.store.reset_counters();
        let mut request = world.request(key);
        let mut invocations = 0;
        let mut written = 0;
        let last = loop {
            invocations += 1;
            assert!(invocations < 40, "{key}: no progress");
            let deadline = SystemTime::now() + Duration::from_millis(500);
            let out = handler::write(&deps, &request, Some(deadline)).await.unwrap();
            written += out.written;
            assert_eq!(out.read, out.written + out.failed);
            match &out.continuation {
                Some(c) => {
                    assert_eq!(c.totals.written, written);
                    assert_eq!(out.skipped + out.read, c.resume.next_row, "{key}");
                    if key.ends_with(".csv") {
                        assert!(c.resume.byte_offset.is_some());
                    }
                    request.continuation = Some(c.clone());
                }
                None => break out,
            }
        };
        assert!(invocations >= 2, "{key}: the deadline never hit");
        assert_eq!(
            (last.totals.read, last.totals.written, last.totals.failed),
            (150, 150, 0),
            "{key}"
        );
        let counters = world.store.counters();
        assert_eq!(counters.writes.len(), 150, "{key}: a gap");
        assert!(counters.writes.values().all(|&n| n == 1), "{key}: a duplicate");
    }
    for o in &data {
        assert_eq!(world.get(&o.id.to_string()).await, Some(expected(o)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_invocation_twice_writes_the_same_records() {
    let world = World::new(Faults::default()).await;
    // No event time column: every record gets the run's event time (the object's LastModified).
    world.contract("").await;
    let mut data = orders(30);
    data[4].country = "";
    let mut body = csv(&data);
    body.push_str(",2026-11-27T10:00:00Z,1.5,FR,1\n"); // row 31: no record id
    world.aws.put(&world.bucket, "orders/rerun.csv", body).await;
    let payload = serde_json::to_value(world.request("orders/rerun.csv")).unwrap();
    let mut context = Context::default();
    context.deadline = (SystemTime::now() + Duration::from_secs(60))
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let invoke = || async {
        let out = function_handler::<WriteFeatures>(
            &world.deps,
            LambdaEvent::new(payload.clone(), context.clone()),
        )
        .await
        .expect("handler");
        serde_json::from_value::<Response>(out).unwrap()
    };
    let first = invoke().await;
    let after_first: Vec<_> = {
        let mut v = Vec::new();
        for o in &data {
            v.push(world.get(&o.id.to_string()).await.expect("written"));
        }
        v
    };
    let second = invoke().await;
    assert_eq!((first.written, first.failed, first.done), (30, 1, true));
    assert_eq!((second.written, second.failed), (first.written, first.failed));
    assert_eq!(first.failure_report, second.failure_report);
    assert_eq!(
        world.failure_lines(&first).await,
        world.failure_lines(&second).await
    );
    for (o, before) in data.iter().zip(&after_first) {
        assert_eq!(world.get(&o.id.to_string()).await.as_ref(), Some(before));
    }
    let event_times: BTreeSet<&String> = after_first.iter().map(|r| &r["order_ts"]).collect();
    assert_eq!(event_times.len(), 1, "one run event time");
    assert!(
        !after_first[4].contains_key("country"),
        "an empty value is left out of the record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_failure_lines_not_a_crash() {
    let world = World::new(Faults::default()).await;
    world.contract("  event_time_column: order_ts").await;
    let body = "order_id,order_ts,amount,country,qty\n\
                1,2026-11-27T10:00:00Z,1.5,FR,1\n\
                ,2026-11-27T10:00:00Z,1.5,FR,1\n\
                3,,1.5,FR,1\n\
                4,last tuesday,1.5,FR,1\n\
                5,2026-11-27T10:00:00Z,lots,FR,1\n\
                6,2026-11-27T10:00:00Z,1.5,FR,2.5\n\
                7,2026-11-27T10:00:00.5Z,2,US,3\n";
    world.aws.put(&world.bucket, "orders/bad.csv", body).await;
    let out = world.write(&world.request("orders/bad.csv"), None).await;
    assert_eq!((out.read, out.written, out.failed), (7, 2, 5));
    let lines = world.failure_lines(&out).await;
    let got: Vec<(u64, String)> = lines
        .iter()
        .map(|l| {
            (
                l["row"].as_u64().unwrap(),
                l["errorType"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (2, "MissingRecordIdentifier"),
            (3, "MissingEventTime"),
            (4, "InvalidEventTime"),
            (5, "TypeMismatch"),
            (6, "TypeMismatch"),
        ]
        .map(|(r, t)| (r, t.to_string()))
    );
    assert!(out
        .failure_report
        .as_deref()
        .unwrap()
        .ends_with(".features.jsonl"));
    assert_eq!(
        world.get("7").await.unwrap()["order_ts"],
        "2026-11-27T10:00:00.500Z"
    );

    // An unknown feature group is a typed error, before any row is read. (moto answers DescribeFeatureGroup
    // for a missing group with an HTML 500; the loopback server answers it as the service does.)
    let mut deps = Deps::new(
        Config {
            s3_force_path_style: true,
            ..Config::default()
        },
        &world.aws.sdk,
    );
    deps.sagemaker = aws_sdk_sagemaker::Client::from_conf(
        aws_sdk_sagemaker::config::Builder::from(&world.aws.sdk)
            .endpoint_url(world.store.endpoint())
            .build(),
    );
    let known = handler::describe_feature_group(&deps.sagemaker, &world.group)
        .await
        .unwrap();
    assert_eq!(known.features.len(), 5);
    let mut request = world.request("orders/bad.csv");
    request.feature_group = Some("no-such-group".into());
    let err = handler::write(&deps, &request, None).await.unwrap_err();
    assert_eq!(err.error_type(), "FeatureGroupNotFound", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_validates_records_like_the_service() {
    let world = World::new(Faults::default()).await;
    let put = |record: Vec<(&'static str, &'static str)>| {
        let client = world.runtime.clone();
        let group = world.group.clone();
        async move {
            let values: Vec<FeatureValue> = record
                .into_iter()
                .map(|(n, v)| FeatureValue::builder().feature_name(n).value_as_string(v).build())
                .collect();
            client
                .put_record()
                .feature_group_name(group)
                .set_record(Some(values))
                .send()
                .await
        }
    };
    use aws_sdk_sagemakerfeaturestoreruntime::error::ProvideErrorMetadata;
    let code = |r: Result<_, aws_sdk_sagemakerfeaturestoreruntime::error::SdkError<_, _>>| {
        let e: aws_sdk_sagemakerfeaturestoreruntime::error::SdkError<
            aws_sdk_sagemakerfeaturestoreruntime::operation::put_record::PutRecordError,
            _,
        > = r
            .map(|_: aws_sdk_sagemakerfeaturestoreruntime::operation::put_record::PutRecordOutput| ())
            .unwrap_err();
        e.code().unwrap_or("").to_string()
    };
    assert_eq!(
        code(
            put(vec![
                ("order_id", "1"),
                ("order_ts", "2026-11-27T10:00:00Z"),
                ("nope", "x")
            ])
            .await
        ),
        "ValidationError"
    );
    assert_eq!(code(put(vec![("order_id", "1")]).await), "ValidationError");
    assert_eq!(
        code(put(vec![("order_ts", "2026-11-27T10:00:00Z")]).await),
        "ValidationError"
    );
    assert_eq!(
        code(put(vec![("order_id", "x"), ("order_ts", "2026-11-27T10:00:00Z")]).await),
        "ValidationError"
    );
    assert_eq!(
        code(put(vec![("order_id", "1"), ("order_ts", "2026-11-27 10:00")]).await),
        "ValidationError"
    );
    // The latest record by event time wins; an older one does not replace it.
    put(vec![
        ("order_id", "1"),
        ("order_ts", "2026-11-27T10:00:00Z"),
        ("qty", "2"),
    ])
    .await
    .unwrap();
    put(vec![
        ("order_id", "1"),
        ("order_ts", "2026-11-27T09:00:00Z"),
        ("qty", "1"),
    ])
    .await
    .unwrap();
    assert_eq!(world.get("1").await.unwrap()["qty"], "2");
    world
        .runtime
        .delete_record()
        .feature_group_name(&world.group)
        .record_identifier_value_as_string("1")
        .event_time("2026-11-27T11:00:00Z")
        .send()
        .await
        .unwrap();
    assert_eq!(world.get("1").await, None);
    let missing = world
        .runtime
        .get_record()
        .feature_group_name("no-such-group")
        .record_identifier_value_as_string("1")
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .as_service_error()
        .is_some_and(|e| e.is_resource_not_found()));
    world.store.set_faults(Faults {
        throttle_rate: 1.0,
        ..Faults::default()
    });
    let throttled = put(vec![("order_id", "2"), ("order_ts", "2026-11-27T10:00:00Z")]).await;
    assert_eq!(code(throttled), "ThrottlingException");
    let _ = &world.sagemaker;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_sink_writes_parquet_in_the_offline_store_layout() {
    let world = World::new(Faults::default()).await;
    world.contract("  event_time_column: order_ts").await;
    let data = orders(50);
    world
        .aws
        .put(&world.bucket, "orders/history.csv", csv(&data))
        .await;
    let mut request = world.request("orders/history.csv");
    request.mode = Mode::Offline;
    let out = world.write(&request, None).await;
    assert_eq!((out.read, out.written, out.failed, out.done), (50, 50, 0, true));
    assert_eq!(
        world.store.counters().put_requests,
        0,
        "no PutRecord in offline mode"
    );
    let described = world
        .sagemaker
        .describe_feature_group()
        .feature_group_name(&world.group)
        .send()
        .await
        .unwrap();
    let resolved = described
        .offline_store_config()
        .and_then(|c| c.s3_storage_config())
        .and_then(|s| s.resolved_output_s3_uri())
        .unwrap()
        .to_string();
    let prefix = resolved
        .strip_prefix(&format!("s3://{}/", world.bucket))
        .unwrap()
        .to_string();
    let keys = world.aws.keys(&world.bucket, &prefix).await;
    // Event hours 08, 09 and 10 of 2026-11-27.
    assert_eq!(keys.len(), 3, "{keys:?}");
    let mut ids = BTreeSet::new();
    for key in &keys {
        let rest = key.strip_prefix(&format!("{prefix}/")).unwrap();
        assert!(rest.starts_with("year=2026/month=11/day=27/hour="), "{key}");
        assert!(rest.ends_with(".parquet"), "{key}");
        let body = world.aws.get(&world.bucket, key).await.unwrap();
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::record::RowAccessor;
        let reader = SerializedFileReader::new(bytes::Bytes::from(body)).unwrap();
        let names: Vec<String> = reader
            .metadata()
            .file_metadata()
            .schema()
            .get_fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "order_id",
                "order_ts",
                "amount",
                "country",
                "qty",
                "api_invocation_time",
                "write_time",
                "is_deleted"
            ]
        );
        for row in reader.get_row_iter(None).unwrap() {
            let row = row.unwrap();
            let id = row.get_long(0).unwrap();
            let o = &data[(id - 1) as usize];
            assert_eq!(row.get_string(1).unwrap(), &o.ts);
            assert_eq!(row.get_double(2).unwrap(), o.amount);
            let hour = &o.ts[11..13];
            assert!(rest.contains(&format!("hour={hour}/")), "{id} in {key}");
            assert!(!row.get_bool(7).unwrap());
            ids.insert(id);
        }
    }
    assert_eq!(ids.len(), 50);
    // A rerun overwrites the same files.
    world.write(&request, None).await;
    assert_eq!(world.aws.keys(&world.bucket, &prefix).await, keys);

    // A group without an offline store is refused with a typed error.
    let no_offline = FeatureGroup {
        name: "online-only".into(),
        record_identifier: "order_id".into(),
        event_time: "order_ts".into(),
        features: FEATURES.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        offline_uri: None,
        online: true,
    };
    let job = handler::Job {
        source: Arc::new(
            greenpipe::aws::S3Object::open(&world.deps.s3, &world.bucket, "orders/history.csv", None)
                .await
                .unwrap(),
        ),
        name: "orders/history.csv".into(),
        contract: greenpipe::contract::parse_contract(contract("online-only", "").as_bytes(), "c.yaml")
            .unwrap(),
        contract_source: "c.yaml".into(),
        section: serde_json::from_value(json!({"event_time_column": "order_ts"})).unwrap(),
        group: Arc::new(no_offline),
        mode: Mode::Offline,
        resume: Default::default(),
        run_event_micros: 0,
        identity: "x".into(),
        options: Default::default(),
    };
    let err = handler::run_job(&world.deps.featurestore, &world.deps.s3, job, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "OfflineStoreMissing");
}
