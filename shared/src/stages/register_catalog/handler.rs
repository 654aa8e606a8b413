//! The register-catalog stage: make a validated object queryable through the Glue Data Catalog, straight
//! from its data contract (no crawler).
//!
//! Input: the pipeline's execution input ([`Dataset`]) or validate-dataset's direct
//! [`Outcome`](crate::stages::validate_dataset::Outcome): bucket, key, version / ETag, report key,
//! fingerprint, contract. Per invocation:
//! 1. The contract the object was validated against is read from `contract.source`; an input without
//!    one (a hand-made `{bucket, key}`) gets the contract validate-dataset would find
//!    ([`ContractStore::contract_of`]). A contract without a `catalog` section means the dataset is not
//!    catalogued (`action: skipped`).
//! 2. The table is planned from the contract ([`crate::stages::register_catalog`]): columns and Hive types, SerDe and
//!    input/output formats, location, partition keys, and the object's partition from its key.
//! 3. GetTable. Missing: CreateTable (and CreateDatabase first when the database is missing too).
//!    Present: the differences are classified ([`super::diff`]). None: nothing is written
//!    (`unchanged`). Only compatible ones, or breaking ones with `allow_breaking: true`: UpdateTable at
//!    the version read (a concurrent update makes it fail as `Retryable`, and the retry compares again),
//!    and a report. Breaking ones otherwise: a report and [`Error::SchemaChangeRefused`]; the table is
//!    not touched. Reports go next to the validation report: `<report key without .json>.catalog.json`.
//! 4. BatchCreatePartition for the object's partition; an existing partition is success (`exists`).
//!    Facts about the object (fingerprint, version, report) are partition parameters, never table
//!    parameters, so registering another object of the same dataset never changes the table.
//!
//! Every step is idempotent: a second invocation with the same input makes no change.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_glue::types::{DatabaseInput, Table};
use aws_sdk_glue::Client as GlueClient;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::Client as S3Client;
use serde::{Deserialize, Serialize};

use super::layout::{self, PartitionRef};
use super::{classify, dataset_prefix, is_breaking, CatalogSection, Change, TableDef, TablePlan};
use crate::aws::access::{
    need, Call, GET_CONTRACT, GLUE_CATALOG, GLUE_DATABASE, GLUE_TABLE, HEAD_DATA, LIST_CONTRACTS,
    REPORT_OBJECT,
};
use crate::aws::contracts::{ContractStore, SourcedContract};
use crate::aws::s3::{s3_uri, S3Object};
use crate::aws::{sdk_error, Config, THROTTLING_CODES};
use crate::contract::{Compression, FormatSpec};
use crate::pipeline::{report_key, Dataset};
use crate::stages::{Lookup, Stage, StageFunction};
use crate::{Error, Result};

/// Glue error codes that mean "try again": the retry re-reads the catalog and decides afresh.
const GLUE_RETRYABLE_CODES: &[&str] = &[
    "ConcurrentModificationException",
    "OperationTimeoutException",
    "ResourceNotReadyException",
    "FederationSourceRetryableException",
    "InternalServiceException",
];

/// Everything an invocation needs, built once per cold start.
pub struct Deps {
    /// The same settings as validate-dataset (contracts bucket and prefix, reports prefix, ...).
    pub config: Config,
    pub s3: S3Client,
    pub glue: GlueClient,
    contracts: ContractStore,
}

impl Deps {
    /// Clients from `sdk`, each with the stage's guard.
    pub fn new(config: Config, sdk: &SdkConfig) -> Deps {
        Deps {
            s3: config.stage_s3_client(Stage::RegisterCatalog, sdk),
            glue: crate::guarded_client!(aws_sdk_glue, Stage::RegisterCatalog, sdk),
            contracts: ContractStore::new(config.contracts_cache_ttl),
            config,
        }
    }
}

/// What happened to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableAction {
    Created,
    Updated,
    Unchanged,
    /// The contract has no `catalog` section: nothing to register.
    Skipped,
}

/// What happened to the object's partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionAction {
    Created,
    /// It was already registered (by an earlier run, or another object in the same folder).
    Exists,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOutcome {
    pub values: Vec<String>,
    pub location: String,
    pub action: PartitionAction,
}

/// The result, returned as JSON: `{database, table, action, partition: {values, location, action}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    pub action: TableAction,
    /// Present for partitioned tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionOutcome>,
    /// The schema changes applied (`updated`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// The catalog report written for an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_key: Option<String>,
    /// Why nothing was registered (`skipped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The catalog report: written for every schema change, applied or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogReport {
    pub database: String,
    pub table: String,
    /// `updated` or `refused`.
    pub outcome: ReportOutcome,
    pub allow_breaking: bool,
    /// The object being registered (`s3://bucket/key`) and its version or ETag.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// The contract the table was planned from.
    pub contract: String,
    /// Glue's VersionId of the table the changes were compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version_id: Option<String>,
    pub changes: Vec<Change>,
    /// The table as it was.
    pub previous: TableDef,
    /// The table as the contract wants it (what was, or would have been, written).
    pub proposed: TableDef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportOutcome {
    Updated,
    Refused,
}

/// Register one object's table and partition (see the module docs).
#[tracing::instrument(skip(deps), fields(bucket = %request.bucket, key = %request.key))]
pub async fn register(deps: &Deps, request: &Dataset) -> Result<Registration> {
    let config = &deps.config;
    if request.bucket.is_empty() || request.key.is_empty() {
        return Err(Error::InvalidEvent("bucket and key must not be empty".into()));
    }
    let uri = s3_uri(&request.bucket, &request.key, None);
    if request.rejected() {
        return Err(Error::InvalidEvent(format!(
            "{uri} did not pass validation: it is not registered in the catalog"
        )));
    }
    if config.is_own_key(&request.key) {
        return Err(Error::InvalidEvent(format!(
            "{uri} is under greenpipe's contracts, reports or quarantine prefix"
        )));
    }

    let contracts_bucket = config.contracts_bucket.as_deref().unwrap_or(&request.bucket);
    let loaded = deps
        .contracts
        .contract_of(&deps.s3, request, contracts_bucket, &config.contracts_prefix)
        .await?;
    let Some(section) = CatalogSection::from_contract(&loaded.contract, &loaded.source)? else {
        tracing::info!(contract = loaded.source, "no catalog section: skipped");
        return Ok(Registration {
            database: None,
            table: None,
            action: TableAction::Skipped,
            partition: None,
            changes: Vec::new(),
            report_key: None,
            reason: Some(format!("contract {} has no catalog section", loaded.source)),
        });
    };
    let format = loaded
        .contract
        .format
        .clone()
        .or_else(|| FormatSpec::from_extension(&request.key))
        .ok_or_else(|| {
            Error::UnsupportedFormat(format!(
                "cannot tell the format of {uri}: the contract names none and the extension is not known"
            ))
        })?;
    let compression = loaded
        .contract
        .compression
        .unwrap_or_else(|| Compression::from_extension(&request.key));
    let prefix = dataset_prefix(&config.contracts_prefix, &loaded.key);
    let layout = layout::resolve(&section, prefix.as_deref(), &request.bucket, &request.key)?;
    let plan = TablePlan::new(
        &loaded.contract,
        &section,
        &format,
        compression,
        &layout.table_location,
        &loaded.source,
    )?;

    let (action, changes, report_key) = ensure_table(deps, &plan, request, &loaded).await?;
    let partition = match &layout.partition {
        Some(partition) => {
            let parameters = partition_parameters(request, &loaded);
            let action = add_partition(&deps.glue, &plan, partition, parameters).await?;
            Some(PartitionOutcome {
                values: partition.values.clone(),
                location: partition.location.clone(),
                action,
            })
        }
        None => None,
    };
    tracing::info!(
        table = plan.qualified_name(),
        action = ?action,
        partition = ?partition.as_ref().map(|p| p.action),
        "registered"
    );
    Ok(Registration {
        database: Some(plan.database.clone()),
        table: Some(plan.table.name.clone()),
        action,
        partition,
        changes,
        report_key,
        reason: None,
    })
}

/// Create the table, or bring it in line with the contract (see the module docs, step 3).
async fn ensure_table(
    deps: &Deps,
    plan: &TablePlan,
    request: &Dataset,
    contract: &SourcedContract,
) -> Result<(TableAction, Vec<Change>, Option<String>)> {
    let existing = match get_table(&deps.glue, plan).await? {
        Some(table) => table,
        None => {
            if create_table(&deps.glue, plan).await? {
                tracing::info!(table = plan.qualified_name(), "created table");
                return Ok((TableAction::Created, Vec::new(), None));
            }
            // Created concurrently (another object of the same new dataset): compare with it.
            get_table(&deps.glue, plan).await?.ok_or_else(|| {
                Error::retryable(format!(
                    "Glue table {} already exists but cannot be read yet",
                    plan.qualified_name()
                ))
            })?
        }
    };
    let previous = TableDef::from_glue(&existing);
    let changes = classify(&previous, plan);
    if changes.is_empty() {
        return Ok((TableAction::Unchanged, changes, None));
    }

    let proposed = plan.merged_with(&previous);
    let refused = is_breaking(&changes) && !plan.allow_breaking;
    let report_key = catalog_report_key(deps, request).await?;
    let report = CatalogReport {
        database: plan.database.clone(),
        table: plan.table.name.clone(),
        outcome: if refused {
            ReportOutcome::Refused
        } else {
            ReportOutcome::Updated
        },
        allow_breaking: plan.allow_breaking,
        source: s3_uri(&request.bucket, &request.key, None),
        source_version: identity(request).map(str::to_string),
        contract: contract.source.clone(),
        previous_version_id: existing.version_id().map(str::to_string),
        changes: changes.clone(),
        previous,
        proposed,
    };
    if refused {
        write_report(&deps.s3, &request.bucket, &report_key, &report).await?;
        tracing::warn!(
            table = plan.qualified_name(),
            report_key,
            "breaking schema change refused"
        );
        return Err(Error::SchemaChangeRefused {
            table: plan.qualified_name(),
            changes: changes
                .iter()
                .filter(|c| c.breaking)
                .map(|c| c.message.clone())
                .collect(),
            report: s3_uri(&request.bucket, &report_key, None),
        });
    }
    update_table(&deps.glue, plan, &report.proposed, existing.version_id()).await?;
    // Written after the update: a retry after a failed write finds the table updated and changes nothing.
    write_report(&deps.s3, &request.bucket, &report_key, &report).await?;
    tracing::info!(
        table = plan.qualified_name(),
        changes = changes.len(),
        breaking = is_breaking(&changes),
        "updated table"
    );
    Ok((TableAction::Updated, changes, Some(report_key)))
}

async fn get_table(glue: &GlueClient, plan: &TablePlan) -> Result<Option<Table>> {
    match glue
        .get_table()
        .set_catalog_id(plan.catalog_id.clone())
        .database_name(&plan.database)
        .name(&plan.table.name)
        .send()
        .await
    {
        Ok(out) => Ok(out.table),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_entity_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(glue_error(&format!("GetTable {}", plan.qualified_name()), e)),
    }
}

/// CreateTable (creating the database first when Glue says it is missing). `false` when the table
/// already exists.
async fn create_table(glue: &GlueClient, plan: &TablePlan) -> Result<bool> {
    let input = plan.table.to_table_input()?;
    let what = format!("CreateTable {}", plan.qualified_name());
    let mut created_database = false;
    loop {
        let result = glue
            .create_table()
            .set_catalog_id(plan.catalog_id.clone())
            .database_name(&plan.database)
            .table_input(input.clone())
            .send()
            .await;
        match result {
            Ok(_) => return Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_already_exists_exception()) =>
            {
                return Ok(false)
            }
            Err(e)
                if !created_database
                    && e.as_service_error()
                        .is_some_and(|se| se.is_entity_not_found_exception()) =>
            {
                create_database(glue, plan).await?;
                created_database = true;
            }
            Err(e) => return Err(glue_error(&what, e)),
        }
    }
}

/// CreateDatabase; one that already exists is success.
async fn create_database(glue: &GlueClient, plan: &TablePlan) -> Result<()> {
    let what = format!("CreateDatabase {}", plan.database);
    let input = DatabaseInput::builder().name(&plan.database).build()?;
    match glue
        .create_database()
        .set_catalog_id(plan.catalog_id.clone())
        .database_input(input)
        .send()
        .await
    {
        Ok(_) => {
            tracing::info!(database = plan.database, "created database");
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(glue_error(&what, e)),
    }
}

/// UpdateTable to `table`, only if the table is still at `version_id` (Glue's optimistic locking).
async fn update_table(
    glue: &GlueClient,
    plan: &TablePlan,
    table: &TableDef,
    version_id: Option<&str>,
) -> Result<()> {
    glue.update_table()
        .set_catalog_id(plan.catalog_id.clone())
        .database_name(&plan.database)
        .table_input(table.to_table_input()?)
        .set_version_id(version_id.map(str::to_string))
        .send()
        .await
        .map_err(|e| glue_error(&format!("UpdateTable {}", plan.qualified_name()), e))?;
    Ok(())
}

/// BatchCreatePartition with the object's partition; a partition that already exists is success.
async fn add_partition(
    glue: &GlueClient,
    plan: &TablePlan,
    partition: &PartitionRef,
    parameters: BTreeMap<String, String>,
) -> Result<PartitionAction> {
    let what = format!(
        "BatchCreatePartition {} {:?}",
        plan.qualified_name(),
        partition.values
    );
    let out = glue
        .batch_create_partition()
        .set_catalog_id(plan.catalog_id.clone())
        .database_name(&plan.database)
        .table_name(&plan.table.name)
        .partition_input_list(plan.partition_input(partition, parameters)?)
        .send()
        .await
        .map_err(|e| glue_error(&what, e))?;
    let Some(error) = out.errors().first() else {
        return Ok(PartitionAction::Created);
    };
    let detail = error.error_detail();
    let code = detail.and_then(|d| d.error_code()).unwrap_or("Unknown");
    let message = detail.and_then(|d| d.error_message()).unwrap_or("");
    if code == "AlreadyExistsException" {
        return Ok(PartitionAction::Exists);
    }
    Err(partition_error(&what, code, message))
}

/// A per-entry error of BatchCreatePartition, typed like an SDK error (see [`crate::aws::sdk_error`]).
fn partition_error(what: &str, code: &str, message: &str) -> Error {
    let text = format!("{what}: {code}: {message}");
    if THROTTLING_CODES.contains(&code) {
        Error::throttled(text)
    } else if GLUE_RETRYABLE_CODES.contains(&code) {
        Error::retryable(text)
    } else {
        Error::aws(text)
    }
}

/// [`crate::aws::sdk_error`], plus Glue's own transient error codes (sent with HTTP 400) as `Retryable`.
fn glue_error<E>(what: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err.as_service_error().and_then(|e| e.code()) {
        Some(code) if GLUE_RETRYABLE_CODES.contains(&code) => {
            let message = err.as_service_error().and_then(|e| e.message()).unwrap_or("");
            Error::retryable(format!("{what}: {code}: {message}")).with_source(err)
        }
        _ => sdk_error(what, err),
    }
}

/// Facts about the object that registered the partition.
fn partition_parameters(request: &Dataset, contract: &SourcedContract) -> BTreeMap<String, String> {
    let mut parameters = BTreeMap::from([(
        "greenpipe:source".to_string(),
        s3_uri(&request.bucket, &request.key, None),
    )]);
    let optional = [
        ("greenpipe:source-version", identity(request).map(str::to_string)),
        ("greenpipe:fingerprint", request.fingerprint.clone()),
        ("greenpipe:rows", request.rows.map(|r| r.to_string())),
        (
            "greenpipe:report",
            request
                .report_key
                .as_ref()
                .map(|k| s3_uri(&request.bucket, k, None)),
        ),
        ("greenpipe:contract-version", contract.contract.version.clone()),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            parameters.insert(key.to_string(), value);
        }
    }
    parameters
}

/// The object's version id, else its ETag.
fn identity(request: &Dataset) -> Option<&str> {
    request.version_id.as_deref().or(request.etag.as_deref())
}

/// `<validation report key without .json>.catalog.json`. Without a report key in the input, the
/// validation report's key is derived as validate-dataset does (HeadObject when neither version nor ETag
/// was given).
async fn catalog_report_key(deps: &Deps, request: &Dataset) -> Result<String> {
    let validation_report = match &request.report_key {
        Some(key) => key.clone(),
        None => {
            let identity = match identity(request) {
                Some(identity) => identity.to_string(),
                None => S3Object::open(&deps.s3, &request.bucket, &request.key, None)
                    .await?
                    .identity()
                    .to_string(),
            };
            report_key(&deps.config.reports_prefix, &request.key, &identity)
        }
    };
    Ok(catalog_report_key_for(&validation_report))
}

/// `r/k/v1.json` → `r/k/v1.catalog.json`.
pub fn catalog_report_key_for(validation_report_key: &str) -> String {
    let stem = validation_report_key
        .strip_suffix(".json")
        .unwrap_or(validation_report_key);
    format!("{stem}.catalog.json")
}

async fn write_report(s3: &S3Client, bucket: &str, key: &str, report: &CatalogReport) -> Result<()> {
    let body =
        serde_json::to_vec_pretty(report).map_err(Error::serialize(format!("catalog report {key}")))?;
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .map_err(|e| sdk_error(&format!("PutObject {}", s3_uri(bucket, key, None)), e))?;
    Ok(())
}

/// Every SDK operation the stage sends, with what each needs from its role (see `aws::access`).
const CALLS: &[Call] = &[
    LIST_CONTRACTS,
    GET_CONTRACT,
    HEAD_DATA,
    Call {
        operation: "s3:PutObject",
        needs: &[need("s3:PutObject", REPORT_OBJECT)],
    },
    Call {
        operation: "glue:GetTable",
        needs: &[
            need("glue:GetTable", GLUE_CATALOG),
            need("glue:GetTable", GLUE_DATABASE),
            need("glue:GetTable", GLUE_TABLE),
        ],
    },
    Call {
        operation: "glue:CreateDatabase",
        needs: &[
            need("glue:CreateDatabase", GLUE_CATALOG),
            need("glue:CreateDatabase", GLUE_DATABASE),
        ],
    },
    Call {
        operation: "glue:CreateTable",
        needs: &[
            need("glue:CreateTable", GLUE_CATALOG),
            need("glue:CreateTable", GLUE_DATABASE),
            need("glue:CreateTable", GLUE_TABLE),
        ],
    },
    Call {
        operation: "glue:UpdateTable",
        needs: &[
            need("glue:UpdateTable", GLUE_CATALOG),
            need("glue:UpdateTable", GLUE_DATABASE),
            need("glue:UpdateTable", GLUE_TABLE),
        ],
    },
    Call {
        operation: "glue:BatchCreatePartition",
        needs: &[
            need("glue:BatchCreatePartition", GLUE_CATALOG),
            need("glue:BatchCreatePartition", GLUE_DATABASE),
            need("glue:BatchCreatePartition", GLUE_TABLE),
        ],
    },
];

/// register-catalog as a Lambda function (`functions/register-catalog`).
pub struct RegisterCatalog;

impl StageFunction for RegisterCatalog {
    const STAGE: Stage = Stage::RegisterCatalog;
    const CALLS: &'static [Call] = CALLS;
    type Deps = Deps;
    type Request = Dataset;
    type Response = Registration;
    const EXPECTS: &'static str =
        "the execution input {bucket, key, versionId?, etag?, reportKey?, fingerprint?, contract?}";

    fn deps(env: Lookup<'_>, sdk: &SdkConfig) -> Result<Deps> {
        Ok(Deps::new(Config::from_lookup(env)?, sdk))
    }

    fn placeholders(env: Lookup<'_>, bucket: &str) -> Result<BTreeMap<&'static str, String>> {
        Ok(Config::from_lookup(env)?.placeholders(bucket))
    }

    async fn handle(deps: &Deps, request: Dataset, _deadline: Option<SystemTime>) -> Result<Registration> {
        register(deps, &request).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_execution_input_and_outcome() {
        let execution_input = json!({
            "bucket": "b", "key": "sales/dt=2026-11-27/x.csv", "versionId": null, "etag": "abc",
            "reportKey": "greenpipe/reports/sales/dt=2026-11-27/x.csv/abc.json",
            "fingerprint": "blake3:00", "rows": 3,
            "contract": {"name": "sales", "source": "s3://b/contracts/sales.yaml"}
        });
        let r: Dataset = serde_json::from_value(execution_input).unwrap();
        assert_eq!(r.etag.as_deref(), Some("abc"));
        assert_eq!(r.rows, Some(3));
        assert_eq!(identity(&r), Some("abc"));
        let outcome = json!({
            "status": "valid", "bucket": "b", "key": "k.csv", "valid": true, "versionId": "v1",
            "etag": "e", "reusedReport": false, "contract": "s3://b/contracts/k.yaml"
        });
        let r: Dataset = serde_json::from_value(outcome).unwrap();
        assert_eq!(r.status, Some(crate::pipeline::Status::Valid));
        assert_eq!(r.contract_source(), Some("s3://b/contracts/k.yaml"));
        assert_eq!(identity(&r), Some("v1"));
    }

    #[test]
    fn report_keys() {
        assert_eq!(
            catalog_report_key_for("r/k.csv/v1.json"),
            "r/k.csv/v1.catalog.json"
        );
        assert_eq!(catalog_report_key_for("r/odd"), "r/odd.catalog.json");
    }

    #[test]
    fn partition_errors_are_typed() {
        assert_eq!(
            partition_error("w", "ThrottlingException", "slow").error_type(),
            "Throttled"
        );
        assert_eq!(
            partition_error("w", "InternalServiceException", "x").error_type(),
            "Retryable"
        );
        let err = partition_error("BatchCreatePartition db.t", "InvalidInputException", "bad value");
        assert_eq!(err.error_type(), "AwsError");
        assert!(
            err.to_string().contains("InvalidInputException: bad value"),
            "{err}"
        );
    }
}
