//! register-catalog end to end: objects validated by the real validate-dataset handler, then registered by
//! the real register-catalog handler, with the real SDK clients against moto's S3 and Glue Data Catalog.
//! Each test has its own bucket and Glue database, so tests run in parallel against one server.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_glue::types::Table;
use greenpipe::aws::Config;
use greenpipe::stages::register_catalog::handler::{
    CatalogReport, Deps, PartitionAction, Registration, ReportOutcome, TableAction,
};
use greenpipe::stages::register_catalog::ChangeKind;
use greenpipe::stages::{
    function_handler, register_catalog::RegisterCatalog, validate_dataset::ValidateDataset,
};
use greenpipe_tests::{gzip, repo_root, unique_name, Aws};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

const LAZY_SIMPLE: &str = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";
const TEXT_INPUT: &str = "org.apache.hadoop.mapred.TextInputFormat";
const TEXT_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";

const SALES_CSV: &str = "id,day,amount,region\n1,2026-11-27,10.5,eu\n2,2026-11-27,3.25,us\n";

fn sales_contract(db: &str, extra_columns: &str, catalog_extra: &str) -> String {
    format!(
        r#"
name: sales
version: "3"
format: {{ type: csv }}
columns:
  - {{ name: id, type: int, nullable: false }}
  - {{ name: day, type: date, nullable: false }}
  - {{ name: amount, type: float }}
  - {{ name: region, type: string }}
{extra_columns}
catalog:
  database: {db}
  partition_keys: [{{ name: dt, type: date }}]
{catalog_extra}
"#
    )
}

/// One test's world: a bucket, a Glue database name, both stages' dependencies.
struct World {
    aws: Aws,
    glue: aws_sdk_glue::Client,
    bucket: String,
    db: String,
    validate: greenpipe::stages::validate_dataset::Deps,
    register: Arc<Deps>,
}

impl World {
    async fn new(versioned: bool) -> World {
        let aws = Aws::new().await;
        let bucket = aws.bucket(versioned).await;
        let config = Config {
            s3_force_path_style: true,
            // Contracts are replaced within a test: always list afresh.
            contracts_cache_ttl: Duration::ZERO,
            ..Config::default()
        };
        World {
            glue: aws_sdk_glue::Client::new(&aws.sdk),
            validate: greenpipe::stages::validate_dataset::Deps::new(config.clone(), &aws.sdk),
            register: Arc::new(Deps::new(config, &aws.sdk)),
            db: unique_name("gp_db").replace('-', "_"),
            bucket,
            aws,
        }
    }

    async fn contract(&self, key: &str, body: &str) {
        self.aws.put(&self.bucket, key, body.to_string()).await;
    }

    /// Upload an object and validate it with the real validate-dataset handler; returns its outcome.
    async fn upload_valid(&self, key: &str, body: impl Into<Vec<u8>>) -> Value {
        self.aws.put(&self.bucket, key, body).await;
        let payload = json!({"bucket": self.bucket, "key": key});
        let outcome = function_handler::<ValidateDataset>(
            &self.validate,
            LambdaEvent::new(payload, Context::default()),
        )
        .await
        .unwrap_or_else(|d| panic!("validate {key}: {}: {}", d.error_type, d.error_message));
        assert_eq!(outcome["status"], "valid", "{outcome}");
        outcome
    }

    async fn register(&self, input: Value) -> Result<Registration, Diagnostic> {
        register_with(&self.register, input).await
    }

    async fn register_ok(&self, input: Value) -> Registration {
        self.register(input)
            .await
            .unwrap_or_else(|d| panic!("register-catalog failed: {}: {}", d.error_type, d.error_message))
    }

    async fn table(&self, name: &str) -> Table {
        self.glue
            .get_table()
            .database_name(&self.db)
            .name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetTable {name}: {e:?}"))
            .table
            .expect("table")
    }

    async fn partitions(&self, table: &str) -> Vec<aws_sdk_glue::types::Partition> {
        self.glue
            .get_partitions()
            .database_name(&self.db)
            .table_name(table)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetPartitions {table}: {e:?}"))
            .partitions
            .unwrap_or_default()
    }

    async fn catalog_reports(&self) -> Vec<String> {
        let mut keys = self.aws.keys(&self.bucket, "greenpipe/reports/").await;
        keys.retain(|k| k.ends_with(".catalog.json"));
        keys
    }
}

async fn register_with(deps: &Deps, input: Value) -> Result<Registration, Diagnostic> {
    let out = function_handler::<RegisterCatalog>(deps, LambdaEvent::new(input, Context::default())).await?;
    Ok(serde_json::from_value(out.clone()).unwrap_or_else(|e| panic!("not a Registration ({e}): {out}")))
}

fn columns(table: &Table) -> Vec<(String, String)> {
    table
        .storage_descriptor()
        .expect("storage descriptor")
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.r#type().unwrap_or_default().to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn param<'a>(table: &'a Table, key: &str) -> Option<&'a str> {
    table.parameters().and_then(|p| p.get(key)).map(String::as_str)
}

fn serde_param<'a>(table: &'a Table, key: &str) -> Option<&'a str> {
    table
        .storage_descriptor()
        .and_then(|sd| sd.serde_info())
        .and_then(|s| s.parameters())
        .and_then(|p| p.get(key))
        .map(String::as_str)
}

fn serde_library(table: &Table) -> Option<&str> {
    table
        .storage_descriptor()
        .and_then(|sd| sd.serde_info())
        .and_then(|s| s.serialization_library())
}

/// A small real Parquet file: `id INT64 NOT NULL, score DOUBLE`.
fn parquet_file(rows: &[(i64, Option<f64>)]) -> Vec<u8> {
    use parquet::data_type::{DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    let schema =
        Arc::new(parse_message_type("message schema { REQUIRED INT64 id; OPTIONAL DOUBLE score; }").unwrap());
    let mut buf = Vec::new();
    let mut writer =
        SerializedFileWriter::new(&mut buf, schema, Arc::new(WriterProperties::builder().build())).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let mut column = group.next_column().unwrap().unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    column.typed::<Int64Type>().write_batch(&ids, None, None).unwrap();
    column.close().unwrap();
    let mut column = group.next_column().unwrap().unwrap();
    let scores: Vec<f64> = rows.iter().filter_map(|r| r.1).collect();
    let levels: Vec<i16> = rows.iter().map(|r| i16::from(r.1.is_some())).collect();
    column
        .typed::<DoubleType>()
        .write_batch(&scores, Some(&levels), None)
        .unwrap();
    column.close().unwrap();
    group.close().unwrap();
    writer.close().unwrap();
    buf
}

#[tokio::test]
async fn csv_table_and_partition_from_the_contract() {
    let w = World::new(false).await;
    w.contract("contracts/sales.yaml", &sales_contract(&w.db, "", ""))
        .await;
    let outcome = w.upload_valid("sales/dt=2026-11-27/part-0.csv", SALES_CSV).await;

    let reg = w.register_ok(outcome.clone()).await;
    assert_eq!(reg.action, TableAction::Created);
    assert_eq!(reg.database.as_deref(), Some(w.db.as_str()));
    assert_eq!(reg.table.as_deref(), Some("sales"));
    let partition = reg.partition.expect("partition");
    assert_eq!(partition.values, ["2026-11-27"]);
    assert_eq!(partition.action, PartitionAction::Created);
    let partition_location = format!("s3://{}/sales/dt=2026-11-27/", w.bucket);
    assert_eq!(partition.location, partition_location);

    let table = w.table("sales").await;
    assert_eq!(
        columns(&table),
        pairs(&[
            ("id", "bigint"),
            ("day", "date"),
            ("amount", "double"),
            ("region", "string")
        ])
    );
    let keys: Vec<(&str, Option<&str>)> = table
        .partition_keys()
        .iter()
        .map(|c| (c.name(), c.r#type()))
        .collect();
    assert_eq!(keys, [("dt", Some("date"))]);
    let sd = table.storage_descriptor().unwrap();
    assert_eq!(sd.location(), Some(format!("s3://{}/sales/", w.bucket).as_str()));
    assert_eq!(sd.input_format(), Some(TEXT_INPUT));
    assert_eq!(sd.output_format(), Some(TEXT_OUTPUT));
    assert!(!sd.compressed());
    assert_eq!(serde_library(&table), Some(LAZY_SIMPLE));
    assert_eq!(serde_param(&table, "field.delim"), Some(","));
    assert_eq!(serde_param(&table, "serialization.null.format"), Some(""));
    assert_eq!(table.table_type(), Some("EXTERNAL_TABLE"));
    assert_eq!(param(&table, "classification"), Some("csv"));
    assert_eq!(param(&table, "skip.header.line.count"), Some("1"));
    assert_eq!(param(&table, "compressionType"), Some("none"));
    assert_eq!(
        param(&table, "greenpipe:contract"),
        Some(format!("s3://{}/contracts/sales.yaml", w.bucket).as_str())
    );
    assert_eq!(
        param(&table, "greenpipe:fingerprint"),
        None,
        "per-object facts stay off the table"
    );

    let partitions = w.partitions("sales").await;
    assert_eq!(partitions.len(), 1);
    let p = &partitions[0];
    assert_eq!(p.values(), ["2026-11-27"]);
    let psd = p.storage_descriptor().unwrap();
    assert_eq!(psd.location(), Some(partition_location.as_str()));
    assert_eq!(psd.columns().len(), 4);
    assert_eq!(
        psd.serde_info().and_then(|s| s.serialization_library()),
        Some(LAZY_SIMPLE)
    );
    let pp = p.parameters().unwrap();
    assert_eq!(
        pp["greenpipe:fingerprint"],
        outcome["fingerprint"].as_str().unwrap()
    );
    assert_eq!(pp["greenpipe:rows"], "2");
    assert_eq!(pp["greenpipe:contract-version"], "3");
    assert_eq!(
        pp["greenpipe:report"],
        format!("s3://{}/{}", w.bucket, outcome["reportKey"].as_str().unwrap())
    );
    assert!(w.catalog_reports().await.is_empty());
}

#[tokio::test]
async fn second_run_changes_nothing_and_partitions_are_added_once() {
    let w = World::new(false).await;
    w.contract("contracts/sales.yaml", &sales_contract(&w.db, "", ""))
        .await;
    let outcome = w.upload_valid("sales/dt=2026-11-27/part-0.csv", SALES_CSV).await;
    assert_eq!(w.register_ok(outcome.clone()).await.action, TableAction::Created);
    let before = w.table("sales").await;

    let again = w.register_ok(outcome.clone()).await;
    assert_eq!(again.action, TableAction::Unchanged);
    assert!(again.changes.is_empty());
    assert_eq!(again.partition.unwrap().action, PartitionAction::Exists);
    let after = w.table("sales").await;
    assert_eq!(after.version_id(), before.version_id());
    assert_eq!(after.update_time(), before.update_time());
    assert_eq!(after.parameters(), before.parameters());
    assert_eq!(w.partitions("sales").await.len(), 1);

    // Two objects of a new partition registered at the same time: one partition, one creator.
    let a = w.upload_valid("sales/dt=2026-11-28/a.csv", SALES_CSV).await;
    let b = w.upload_valid("sales/dt=2026-11-28/b.csv", SALES_CSV).await;
    let (ra, rb) = tokio::join!(
        register_with(&w.register, a.clone()),
        register_with(&w.register, b)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.action, TableAction::Unchanged);
    assert_eq!(rb.action, TableAction::Unchanged);
    let mut actions = [ra.partition.unwrap().action, rb.partition.unwrap().action];
    actions.sort_by_key(|a| *a == PartitionAction::Exists);
    assert_eq!(actions, [PartitionAction::Created, PartitionAction::Exists]);
    let again = w.register_ok(a).await;
    assert_eq!(again.partition.unwrap().action, PartitionAction::Exists);
    let mut values: Vec<Vec<String>> = w
        .partitions("sales")
        .await
        .iter()
        .map(|p| p.values().to_vec())
        .collect();
    values.sort();
    assert_eq!(values, [["2026-11-27"], ["2026-11-28"]]);
    assert_eq!(w.table("sales").await.version_id(), before.version_id());
}

#[tokio::test]
async fn jsonl_gzip_unpartitioned_table_from_the_execution_input() {
    let w = World::new(true).await;
    let contract = json!({
        "name": "events",
        "format": {"type": "jsonl"},
        "columns": [
            {"name": "event_id", "type": "string", "nullable": false},
            {"name": "userId", "type": "int"},
            {"name": "at", "type": "timestamp"},
            {"name": "is_mobile", "type": "bool"}
        ],
        "catalog": {"database": w.db, "table": "Click_Events", "description": "clicks"}
    });
    w.contract("contracts/events.json", &contract.to_string()).await;
    let data = "{\"event_id\":\"a\",\"userId\":1,\"at\":\"2026-11-27T10:00:00Z\",\"is_mobile\":true}\n\
                {\"event_id\":\"b\",\"userId\":2,\"at\":\"2026-11-27T10:00:01Z\",\"is_mobile\":false}\n";
    let outcome = w
        .upload_valid("events/2026/11/e.jsonl.gz", gzip(data.as_bytes()))
        .await;

    // The execution input validate-dataset starts the pipeline with (the sample event's shape).
    let sample: Value =
        serde_json::from_slice(&std::fs::read(repo_root().join("events/register-catalog.json")).unwrap())
            .unwrap();
    let mut input = sample.clone();
    for field in [
        "bucket",
        "key",
        "versionId",
        "etag",
        "reportKey",
        "fingerprint",
        "rows",
    ] {
        input[field] = outcome[field].clone();
    }
    assert!(input["versionId"].is_string(), "versioned bucket: {outcome}");
    input["contract"] = json!({"name": "events", "source": outcome["contract"]});

    let reg = w.register_ok(input.clone()).await;
    assert_eq!(reg.action, TableAction::Created);
    assert_eq!(reg.table.as_deref(), Some("click_events"));
    assert_eq!(reg.partition, None);
    let table = w.table("click_events").await;
    assert_eq!(
        columns(&table),
        pairs(&[
            ("event_id", "string"),
            ("userid", "bigint"),
            ("at", "timestamp"),
            ("is_mobile", "boolean")
        ])
    );
    assert!(table.partition_keys().is_empty());
    assert_eq!(table.description(), Some("clicks"));
    let sd = table.storage_descriptor().unwrap();
    assert_eq!(sd.location(), Some(format!("s3://{}/events/", w.bucket).as_str()));
    assert_eq!(sd.input_format(), Some(TEXT_INPUT));
    assert!(sd.compressed());
    assert_eq!(serde_library(&table), Some("org.openx.data.jsonserde.JsonSerDe"));
    assert_eq!(param(&table, "classification"), Some("json"));
    assert_eq!(param(&table, "compressionType"), Some("gzip"));
    assert_eq!(param(&table, "skip.header.line.count"), None);
    assert!(w.partitions("click_events").await.is_empty());

    let again = w.register_ok(input).await;
    assert_eq!(again.action, TableAction::Unchanged);
    assert_eq!(w.table("click_events").await.version_id(), table.version_id());
}

#[tokio::test]
async fn parquet_table_at_an_explicit_location() {
    let w = World::new(false).await;
    let contract = format!(
        r#"
name: scores
format: {{ type: parquet }}
columns:
  - {{ name: id, type: int, nullable: false }}
  - {{ name: score, type: float }}
catalog:
  database: {}
  location: s3://{}/lake/scores/
  partition_keys: [{{ name: region }}, {{ name: day, type: date }}]
"#,
        w.db, w.bucket
    );
    w.contract("contracts/lake.yaml", &contract).await;
    let body = parquet_file(&[(1, Some(0.5)), (2, None), (3, Some(2.0))]);
    let outcome = w
        .upload_valid("lake/scores/region=eu%20west/day=2026-11-27/part-0.parquet", body)
        .await;

    let reg = w.register_ok(outcome).await;
    assert_eq!(reg.action, TableAction::Created);
    assert_eq!(reg.table.as_deref(), Some("scores"));
    let partition = reg.partition.unwrap();
    assert_eq!(partition.values, ["eu west", "2026-11-27"]);
    assert_eq!(
        partition.location,
        format!("s3://{}/lake/scores/region=eu%20west/day=2026-11-27/", w.bucket)
    );

    let table = w.table("scores").await;
    assert_eq!(columns(&table), pairs(&[("id", "bigint"), ("score", "double")]));
    let keys: Vec<(&str, Option<&str>)> = table
        .partition_keys()
        .iter()
        .map(|c| (c.name(), c.r#type()))
        .collect();
    assert_eq!(keys, [("region", Some("string")), ("day", Some("date"))]);
    let sd = table.storage_descriptor().unwrap();
    assert_eq!(
        sd.location(),
        Some(format!("s3://{}/lake/scores/", w.bucket).as_str())
    );
    assert_eq!(
        sd.input_format(),
        Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
    );
    assert_eq!(
        sd.output_format(),
        Some("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
    );
    assert_eq!(
        serde_library(&table),
        Some("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")
    );
    assert_eq!(serde_param(&table, "serialization.format"), Some("1"));
    assert_eq!(param(&table, "classification"), Some("parquet"));
    let partitions = w.partitions("scores").await;
    assert_eq!(partitions.len(), 1);
    assert_eq!(partitions[0].values(), ["eu west", "2026-11-27"]);
}

#[tokio::test]
async fn compatible_change_updates_the_table() {
    let w = World::new(false).await;
    w.contract("contracts/sales.yaml", &sales_contract(&w.db, "", ""))
        .await;
    let first = w.upload_valid("sales/dt=2026-11-27/part-0.csv", SALES_CSV).await;
    w.register_ok(first).await;
    let before = w.table("sales").await;

    // Someone adds a parameter by hand: greenpipe keeps it.
    let mut input = aws_sdk_glue::types::TableInput::builder()
        .name("sales")
        .set_table_type(before.table_type().map(str::to_string))
        .set_storage_descriptor(before.storage_descriptor().cloned())
        .set_partition_keys(Some(before.partition_keys().to_vec()));
    let mut params = before.parameters().cloned().unwrap_or_default();
    params.insert("owner_team".into(), "ml-platform".into());
    input = input.set_parameters(Some(params));
    w.glue
        .update_table()
        .database_name(&w.db)
        .table_input(input.build().unwrap())
        .send()
        .await
        .unwrap();
    let by_hand = w.table("sales").await;
    assert_ne!(by_hand.version_id(), before.version_id());

    // The contract gains a nullable column at the end.
    let added = "  - { name: channel, type: string }";
    w.contract("contracts/sales.yaml", &sales_contract(&w.db, added, ""))
        .await;
    let data = "id,day,amount,region,channel\n3,2026-11-28,1.5,eu,web\n";
    let outcome = w.upload_valid("sales/dt=2026-11-28/part-0.csv", data).await;
    let reg = w.register_ok(outcome.clone()).await;
    assert_eq!(reg.action, TableAction::Updated);
    assert_eq!(reg.changes.len(), 1);
    assert!(!reg.changes[0].breaking);
    assert!(matches!(
        &reg.changes[0].kind,
        ChangeKind::AddedColumn { column, nullable: true, .. } if column == "channel"
    ));
    assert_eq!(reg.partition.unwrap().action, PartitionAction::Created);

    let after = w.table("sales").await;
    assert_ne!(after.version_id(), by_hand.version_id());
    assert_eq!(
        columns(&after).last(),
        Some(&("channel".to_string(), "string".to_string()))
    );
    assert_eq!(param(&after, "owner_team"), Some("ml-platform"));
    assert_eq!(param(&after, "classification"), Some("csv"));

    let report_key = reg.report_key.expect("report");
    assert_eq!(
        report_key,
        outcome["reportKey"]
            .as_str()
            .unwrap()
            .replace(".json", ".catalog.json")
    );
    let report: CatalogReport =
        serde_json::from_slice(&w.aws.get(&w.bucket, &report_key).await.expect("report written")).unwrap();
    assert_eq!(report.outcome, ReportOutcome::Updated);
    assert_eq!(report.previous_version_id.as_deref(), by_hand.version_id());
    assert_eq!(report.proposed.columns.len(), 5);
    assert_eq!(report.previous.columns.len(), 4);

    // Nothing left to do.
    let again = w.register_ok(outcome).await;
    assert_eq!(again.action, TableAction::Unchanged);
    assert_eq!(w.table("sales").await.version_id(), after.version_id());
}

#[tokio::test]
async fn breaking_changes_are_refused_with_a_report_unless_allowed() {
    let w = World::new(false).await;
    w.contract("contracts/sales.yaml", &sales_contract(&w.db, "", ""))
        .await;
    let first = w.upload_valid("sales/dt=2026-11-27/part-0.csv", SALES_CSV).await;
    w.register_ok(first).await;
    let before = w.table("sales").await;

    // An added column that is not nullable: old rows have no value for it.
    let required = "  - { name: channel, type: string, nullable: false }";
    w.contract("contracts/sales.yaml", &sales_contract(&w.db, required, ""))
        .await;
    let data = "id,day,amount,region,channel\n3,2026-11-28,1.5,eu,web\n";
    let outcome = w.upload_valid("sales/dt=2026-11-28/part-0.csv", data).await;
    let err = w.register(outcome).await.unwrap_err();
    assert_eq!(err.error_type, "SchemaChangeRefused");
    assert!(
        err.error_message.contains("not nullable"),
        "{}",
        err.error_message
    );

    // Removed column and changed type.
    let contract = sales_contract(&w.db, "", "")
        .replace("  - { name: region, type: string }\n", "")
        .replace("{ name: amount, type: float }", "{ name: amount, type: string }");
    w.contract("contracts/sales.yaml", &contract).await;
    let outcome = w.upload_valid("sales/dt=2026-11-29/part-0.csv", SALES_CSV).await;
    let err = w.register(outcome.clone()).await.unwrap_err();
    assert_eq!(err.error_type, "SchemaChangeRefused");
    assert!(
        err.error_message.contains("removed column `region`"),
        "{}",
        err.error_message
    );
    assert!(
        err.error_message
            .contains("column `amount` changed type from double to string"),
        "{}",
        err.error_message
    );
    let unchanged = w.table("sales").await;
    assert_eq!(unchanged.version_id(), before.version_id());
    assert_eq!(columns(&unchanged), columns(&before));
    let partitions = w.partitions("sales").await;
    assert_eq!(partitions.len(), 1, "no partition for a refused registration");

    let report_key = outcome["reportKey"]
        .as_str()
        .unwrap()
        .replace(".json", ".catalog.json");
    assert!(err.error_message.contains(&report_key), "{}", err.error_message);
    let report: CatalogReport =
        serde_json::from_slice(&w.aws.get(&w.bucket, &report_key).await.expect("report written")).unwrap();
    assert_eq!(report.outcome, ReportOutcome::Refused);
    assert!(!report.allow_breaking);
    assert_eq!(report.table, "sales");
    assert!(report
        .changes
        .iter()
        .any(|c| c.breaking
            && matches!(&c.kind, ChangeKind::RemovedColumn { column, .. } if column == "region")));
    assert!(report.changes.iter().any(|c| c.breaking
        && matches!(&c.kind, ChangeKind::ChangedType { column, from, to }
            if column == "amount" && from == "double" && to == "string")));
    assert_eq!(w.catalog_reports().await.len(), 2);

    // The contract's policy allows it: applied.
    w.contract(
        "contracts/sales.yaml",
        &format!("{contract}  allow_breaking: true\n"),
    )
    .await;
    let reg = w.register_ok(outcome).await;
    assert_eq!(reg.action, TableAction::Updated);
    assert!(reg.changes.iter().any(|c| c.breaking));
    let after = w.table("sales").await;
    assert_eq!(
        columns(&after),
        pairs(&[("id", "bigint"), ("day", "date"), ("amount", "string")])
    );
    assert_ne!(after.version_id(), before.version_id());
    let report: CatalogReport =
        serde_json::from_slice(&w.aws.get(&w.bucket, &report_key).await.unwrap()).unwrap();
    assert_eq!(report.outcome, ReportOutcome::Updated);
    assert!(report.allow_breaking);
    assert_eq!(w.partitions("sales").await.len(), 2);
}

#[tokio::test]
async fn contracts_without_a_catalog_section_are_skipped() {
    let w = World::new(false).await;
    let contract = "name: plain\ncolumns:\n  - { name: id, type: int }\n";
    w.contract("contracts/plain.yaml", contract).await;
    let outcome = w.upload_valid("plain/x.csv", "id\n1\n").await;
    let reg = w.register_ok(outcome).await;
    assert_eq!(reg.action, TableAction::Skipped);
    assert!(reg.reason.unwrap().contains("no catalog section"));
    let err = w.glue.get_database().name(&w.db).send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_entity_not_found_exception());
}

#[tokio::test]
async fn typed_errors_for_bad_inputs() {
    let w = World::new(false).await;
    w.contract("contracts/sales.yaml", &sales_contract(&w.db, "", ""))
        .await;

    // Not in a dt=... folder: the layout does not match; nothing is created.
    let outcome = w.upload_valid("sales/part-0.csv", SALES_CSV).await;
    let err = w.register(outcome).await.unwrap_err();
    assert_eq!(err.error_type, "KeyLayoutMismatch");
    assert!(
        err.error_message.contains("sales/dt=<YYYY-MM-DD>/<file>"),
        "{}",
        err.error_message
    );
    let err = w.glue.get_database().name(&w.db).send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_entity_not_found_exception());

    // validate-dataset said invalid: never registered.
    let err = w
        .register(json!({
            "status": "invalid", "valid": false, "bucket": w.bucket, "key": "sales/dt=2026-11-27/x.csv"
        }))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent");
    let err = w.register(json!({"bucket": w.bucket})).await.unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent");

    // No contract for the key.
    let err = w
        .register(json!({"bucket": w.bucket, "key": "unknown/x.csv", "etag": "e"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "ContractNotFound");

    // A broken catalog section is a contract error.
    w.contract(
        "contracts/broken.yaml",
        &format!(
            "columns:\n  - {{ name: id, type: int }}\ncatalog:\n  database: {}\n  tabel: x\n",
            w.db
        ),
    )
    .await;
    let err = w
        .register(json!({"bucket": w.bucket, "key": "broken/x.csv", "etag": "e"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "ContractInvalid");
    assert!(err.error_message.contains("tabel"), "{}", err.error_message);
}

#[tokio::test]
async fn the_contract_the_data_was_validated_against_is_the_one_registered() {
    let w = World::new(false).await;
    let contract = |table: &str| {
        json!({
            "name": "events",
            "format": {"type": "jsonl"},
            "columns": [{"name": "event_id", "type": "string"}],
            "catalog": {"database": w.db, "table": table}
        })
        .to_string()
    };
    w.contract("contracts/events.json", &contract("validated_events"))
        .await;
    let outcome = w
        .upload_valid("events/2026/11/e.jsonl", "{\"event_id\":\"a\"}\n")
        .await;
    // A more specific contract appears after validation: a search would now find it first.
    w.contract("contracts/events/2026.json", &contract("newer_events"))
        .await;

    // The execution input names the contract it was validated against: that one is registered.
    let mut input = json!({"contract": {"name": "events", "source": outcome["contract"]}});
    for field in ["bucket", "key", "etag", "reportKey", "fingerprint", "rows"] {
        input[field] = outcome[field].clone();
    }
    let reg = w.register_ok(input).await;
    assert_eq!(reg.table.as_deref(), Some("validated_events"), "{reg:?}");
    // validate-dataset's outcome names it by its source alone, read the same way.
    let reg = w.register_ok(outcome.clone()).await;
    assert_eq!(reg.table.as_deref(), Some("validated_events"), "{reg:?}");

    // A hand-made {bucket, key} names none: the contract is found as validate-dataset would find it now.
    let reg = w
        .register_ok(json!({"bucket": w.bucket, "key": outcome["key"], "etag": outcome["etag"]}))
        .await;
    assert_eq!(reg.table.as_deref(), Some("newer_events"), "{reg:?}");

    // A named contract that is gone is ContractNotFound, not a silent search.
    let err = w
        .register(json!({"bucket": w.bucket, "key": outcome["key"],
                         "contract": {"source": format!("s3://{}/contracts/gone.json", w.bucket)}}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "ContractNotFound", "{}", err.error_message);
}
