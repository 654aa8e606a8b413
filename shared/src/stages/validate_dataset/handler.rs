//! The validate-dataset stage: for each object an event names, find its contract, validate it, write
//! the report, quarantine invalid data, and start the pipeline for valid data.
//!
//! Per object, in this order (each step idempotent, so duplicated or retried events are harmless):
//! 1. Objects under the contracts, reports or quarantine prefixes are ignored (no loops).
//! 2. HeadObject pins the version (or ETag when the bucket is unversioned); objects over
//!    `GREENPIPE_MAX_OBJECT_BYTES` fail with `ObjectTooLarge` before a byte is read.
//! 3. If the report `<reports><key>/<version-or-etag>.json` already exists, it is reused: the object was
//!    validated (and, if invalid, quarantined) before. Otherwise the contract is found and the object
//!    validated; an invalid object is copied to `<quarantine><key>/<version>/<file>` with tags saying why;
//!    then the report is written. The report is written last, so it marks the object as done.
//! 4. Valid objects start the state machine (when configured) with an execution name derived from
//!    bucket, key and version-or-etag: a duplicate finds the execution already there
//!    (`ExecutionAlreadyExists`, or the same running execution returned), and nothing new runs.
//!
//! Invalid data is an outcome (`"valid": false` with the report and quarantine keys), not an error.
//! Errors carry stable `error_type` names (see [`crate::Error`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::SqsBatchResponse;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, TaggingDirective};
use aws_sdk_s3::Client as S3Client;
use aws_sdk_sfn::Client as SfnClient;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::access::{
    need, need_because, Call, CONTRACT_OBJECT, DATA_BUCKET, DATA_OBJECT, HEAD_DATA, LIST_CONTRACTS,
    NOT_FOUND_NEEDS_LIST, QUARANTINE_OBJECT, REPORT_OBJECT, STATE_MACHINE, VERSIONED_READ,
};
use crate::aws::contracts::ContractStore;
use crate::aws::s3::{s3_uri, S3Object};
use crate::aws::{copy_source, sdk_error, Config};
use crate::events::{parse_invocation, Invocation, ObjectRef};
use crate::pipeline::{execution_name, quarantine_key, report_key, Dataset, Measured, Status};
use crate::stages::{Lookup, Stage, StageFunction, MEMORY_VARIABLE};
use crate::validate::report::ValidationReport;
use crate::{Error, Result};

/// S3 tag values: at most 256 characters.
const TAG_VALUE_MAX: usize = 256;
/// S3 allows at most 10,000 parts per multipart upload.
const MAX_PARTS: u64 = 10_000;
/// Part copies in flight at once during a multipart copy.
const COPY_CONCURRENCY: usize = 4;
/// Everything an invocation needs, built once per cold start.
pub struct Deps {
    pub config: Config,
    pub s3: S3Client,
    pub sfn: SfnClient,
    contracts: ContractStore,
    /// The function's configured memory, for the measurement passed to the run report.
    pub memory_mb: Option<u32>,
}

impl Deps {
    /// Clients from `sdk` (the standard chain: `AWS_ENDPOINT_URL`, `AWS_REGION`, credentials, ...), each
    /// with the stage's guard.
    pub fn new(config: Config, sdk: &SdkConfig) -> Deps {
        Deps {
            s3: config.stage_s3_client(Stage::ValidateDataset, sdk),
            sfn: crate::guarded_client!(aws_sdk_sfn, Stage::ValidateDataset, sdk),
            contracts: ContractStore::new(config.contracts_cache_ttl),
            config,
            memory_mb: None,
        }
    }
}

/// The result for one object; a direct invocation returns it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub status: Status,
    pub bucket: String,
    pub key: String,
    /// Present for validated objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_key: Option<String>,
    /// True when an existing report for this exact version was reused (nothing re-validated).
    #[serde(default)]
    pub reused_report: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_key: Option<String>,
    /// The pipeline execution for this object version (started now or by an earlier delivery: Step
    /// Functions does not always tell which, as it answers a repeated start of a running execution with
    /// that execution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// Why the object is invalid or was ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The object's size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// This object's share of the invocation, up to starting its execution (the same figure the
    /// execution input carries as `dataset.validation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measured>,
}

/// The Lambda handler: parse the invocation and process the objects it names.
///
/// - direct `{bucket, key, versionId?}` → the [`Outcome`];
/// - S3 notification / EventBridge → `{"outcomes": [...]}`, or the first error (the event is retried
///   whole; objects already done are then reused, not redone);
/// - SQS batch → `{"batchItemFailures": [...]}` naming only the messages that failed.
#[tracing::instrument(skip_all)]
pub async fn handle(deps: &Deps, event: Value) -> Result<Value> {
    match parse_invocation(event)? {
        Invocation::Direct {
            object,
            start_execution,
        } => to_json(&process_object(deps, &object, start_execution).await?),
        Invocation::Objects(objects) => {
            let mut outcomes = Vec::with_capacity(objects.len());
            let mut first_error = None;
            for object in &objects {
                match process_object(deps, object, true).await {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(e) => {
                        tracing::error!(
                            bucket = object.bucket,
                            key = object.key,
                            error_type = e.error_type(),
                            "{e}"
                        );
                        first_error.get_or_insert(e);
                    }
                }
            }
            match first_error {
                Some(e) => Err(e),
                None => Ok(serde_json::json!({ "outcomes": outcomes })),
            }
        }
        Invocation::Sqs(items) => {
            let mut response = SqsBatchResponse::default();
            for item in items {
                let result = match item.objects {
                    Ok(objects) => process_all(deps, &objects).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    tracing::error!(message_id = item.message_id, error_type = e.error_type(), "{e}");
                    response.add_failure(item.message_id);
                }
            }
            to_json(&response)
        }
    }
}

async fn process_all(deps: &Deps, objects: &[ObjectRef]) -> Result<()> {
    for object in objects {
        process_object(deps, object, true).await?;
    }
    Ok(())
}

/// Validate one object (see the module docs for the steps).
#[tracing::instrument(skip(deps), fields(bucket = %object.bucket, key = %object.key))]
pub async fn process_object(deps: &Deps, object: &ObjectRef, start_execution: bool) -> Result<Outcome> {
    let started = Instant::now();
    let config = &deps.config;
    let mut outcome = Outcome {
        status: Status::Ignored,
        bucket: object.bucket.clone(),
        key: object.key.clone(),
        valid: None,
        version_id: None,
        etag: None,
        report_key: None,
        reused_report: false,
        quarantine_key: None,
        execution_arn: None,
        rows: None,
        violation_count: None,
        fingerprint: None,
        contract: None,
        reason: None,
        size: None,
        measured: None,
    };
    if config.is_own_key(&object.key) {
        tracing::info!("ignored: under greenpipe's own prefixes");
        outcome.reason = Some("under greenpipe's contracts, reports or quarantine prefix".into());
        return Ok(outcome);
    }

    let source = S3Object::open(
        &deps.s3,
        &object.bucket,
        &object.key,
        object.version_id.as_deref(),
    )
    .await?;
    if let Some(limit) = config.max_object_bytes {
        if source.len_bytes() > limit {
            return Err(Error::ObjectTooLarge {
                key: source.uri(),
                size: source.len_bytes(),
                limit,
            });
        }
    }
    let report_key = report_key(&config.reports_prefix, &object.key, source.identity());
    outcome.version_id = source.version_id().map(str::to_string);
    outcome.etag = Some(source.e_tag_unquoted().to_string());
    outcome.size = Some(source.len_bytes());
    outcome.report_key = Some(report_key.clone());

    let quarantine_key = quarantine_key(&config.quarantine_prefix, &object.key, source.identity());
    let report = match read_report(&deps.s3, &object.bucket, &report_key).await? {
        Some(report) => {
            tracing::info!(report_key, "report exists for this version: reusing it");
            outcome.reused_report = true;
            report
        }
        None => {
            let report = validate(deps, &source).await?;
            if !report.valid {
                quarantine(deps, &source, &quarantine_key, &report_key, &report).await?;
            }
            write_report(&deps.s3, &object.bucket, &report_key, &report).await?;
            report
        }
    };

    outcome.valid = Some(report.valid);
    outcome.rows = Some(report.rows);
    outcome.violation_count = Some(report.violation_count);
    outcome.fingerprint = Some(report.fingerprint.clone());
    outcome.contract = Some(report.contract.source.clone());
    outcome.measured = Some(Measured {
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        memory_mb: deps.memory_mb,
        init_ms: None,
        count: 1,
    });
    if !report.valid {
        outcome.status = Status::Invalid;
        outcome.quarantine_key = Some(quarantine_key);
        outcome.reason = Some(invalid_reason(&report));
        tracing::info!(reason = outcome.reason, "invalid: quarantined");
        return Ok(outcome);
    }
    outcome.status = Status::Valid;
    if let (Some(arn), true) = (&config.state_machine_arn, start_execution) {
        let input = Dataset {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            version_id: source.version_id().map(str::to_string),
            etag: Some(source.e_tag_unquoted().to_string()),
            report_key: Some(report_key),
            fingerprint: Some(report.fingerprint.clone()),
            rows: Some(report.rows),
            size: Some(source.len_bytes()),
            // Up to the start of the execution: what follows (one request) is not counted.
            validation: outcome.measured,
            contract: Some(report.contract.clone()),
            valid: None,
            status: None,
        };
        outcome.execution_arn = Some(start_pipeline(&deps.sfn, arn, &input, source.identity()).await?);
    }
    tracing::info!(rows = report.rows, "valid");
    Ok(outcome)
}

/// Find the contract and run the engine on a blocking thread (it reads through `S3Object::read_at`).
async fn validate(deps: &Deps, source: &S3Object) -> Result<ValidationReport> {
    let contracts_bucket = deps.config.contracts_bucket.as_deref().unwrap_or(source.bucket());
    let contract = deps
        .contracts
        .contract_for(
            &deps.s3,
            contracts_bucket,
            &deps.config.contracts_prefix,
            source.key(),
        )
        .await?;
    let reader = source.clone();
    let task_contract = Arc::clone(&contract);
    let mut report = tokio::task::spawn_blocking(move || {
        let name = reader.key().to_string();
        task_contract
            .validator
            .validate(&reader, &name, &|_bytes_read| {})
    })
    .await
    .map_err(Error::from_join(format!("validation of {}", source.uri())))??;
    report.source = source.uri();
    report.source_version = Some(source.identity().to_string());
    if report.contract.source.is_empty() {
        report.contract.source = contract.source.clone();
    }
    Ok(report)
}

async fn read_report(s3: &S3Client, bucket: &str, key: &str) -> Result<Option<ValidationReport>> {
    let what = format!("GetObject {}", s3_uri(bucket, key, None));
    let response = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(r) => r,
        Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => return Ok(None),
        Err(e) => return Err(sdk_error(&what, e)),
    };
    let bytes = response
        .body
        .collect()
        .await
        .map_err(|e| Error::retryable(format!("{what}: body read failed: {e}")).with_source(e))?
        .into_bytes();
    match serde_json::from_slice(&bytes) {
        Ok(report) => Ok(Some(report)),
        Err(e) => {
            // Not ours or from an incompatible version: validate again and overwrite it.
            tracing::warn!(report = key, "existing report unreadable ({e}); validating again");
            Ok(None)
        }
    }
}

async fn write_report(s3: &S3Client, bucket: &str, key: &str, report: &ValidationReport) -> Result<()> {
    let body = serde_json::to_vec_pretty(report).map_err(Error::serialize(format!("report {key}")))?;
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

/// The first reason the report gives: the fatal error, else the first failed rule, else the first
/// violation.
pub fn invalid_reason(report: &ValidationReport) -> String {
    if let Some(fatal) = &report.fatal {
        return format!("{}: {}", fatal.kind, fatal.message);
    }
    if let Some(rule) = report.rules.iter().find(|r| !r.passed) {
        return rule.rule.clone();
    }
    report
        .violations
        .first()
        .map(|v| v.rule.clone())
        .unwrap_or_else(|| "invalid".into())
}

/// Make `value` a legal S3 tag value: letters, digits, spaces and `_ . : / = + - @`, at most 256
/// characters (others become `_`). Kept to ASCII, which every S3-compatible store accepts.
pub fn sanitize_tag_value(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(TAG_VALUE_MAX)
        .collect()
}

/// The `x-amz-tagging` header value (URL query encoding) for the quarantine copy.
fn quarantine_tagging(reason: &str, report_key: &str, identity: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let tags = [
        ("greenpipe:status", "quarantined".to_string()),
        ("greenpipe:reason", sanitize_tag_value(reason)),
        ("greenpipe:report", sanitize_tag_value(report_key)),
        ("greenpipe:source-version", sanitize_tag_value(identity)),
    ];
    tags.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, KEEP),
                percent_encoding::utf8_percent_encode(v, KEEP)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Server-side copy of the pinned source version to `quarantine_key`, tagged with why. The source is only
/// read. Objects over the multipart threshold (S3's CopyObject limit is 5 GiB) are copied in parts.
async fn quarantine(
    deps: &Deps,
    source: &S3Object,
    quarantine_key: &str,
    report_key: &str,
    report: &ValidationReport,
) -> Result<()> {
    let tagging = quarantine_tagging(&invalid_reason(report), report_key, source.identity());
    let copy_from = copy_source(source.bucket(), source.key(), source.version_id());
    // Unversioned: refuse to copy a newer object written under the same key since we read it.
    // (moto ignores x-amz-copy-source-if-match on CopyObject; AWS honours it.)
    let if_match = source.version_id().is_none().then(|| source.e_tag().to_string());
    let what = format!(
        "copy {} to {}",
        source.uri(),
        s3_uri(source.bucket(), quarantine_key, None)
    );
    if source.len_bytes() > deps.config.multipart_copy_threshold {
        return multipart_copy(deps, source, quarantine_key, &copy_from, if_match, &tagging).await;
    }
    deps.s3
        .copy_object()
        .bucket(source.bucket())
        .key(quarantine_key)
        .copy_source(&copy_from)
        .set_copy_source_if_match(if_match)
        .tagging_directive(TaggingDirective::Replace)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| sdk_error(&what, e))?;
    Ok(())
}

async fn multipart_copy(
    deps: &Deps,
    source: &S3Object,
    key: &str,
    copy_from: &str,
    if_match: Option<String>,
    tagging: &str,
) -> Result<()> {
    let bucket = source.bucket();
    let what = format!("multipart copy {} to {}", source.uri(), s3_uri(bucket, key, None));
    let size = source.len_bytes();
    let part_bytes = deps
        .config
        .multipart_copy_part_bytes
        .max(size.div_ceil(MAX_PARTS))
        .max(1);
    // CopyObject keeps content type and metadata by itself; a multipart upload must be given them.
    let upload = deps
        .s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .set_content_type(source.content_type().map(str::to_string))
        .set_content_encoding(source.content_encoding().map(str::to_string))
        .set_metadata(Some(source.metadata().clone()))
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| sdk_error(&what, e))?;
    let upload_id = upload
        .upload_id()
        .ok_or_else(|| Error::aws(format!("{what}: no upload id")))?
        .to_string();

    let copied = copy_parts(
        deps, bucket, key, copy_from, if_match, &upload_id, size, part_bytes,
    )
    .await;
    let result = match copied {
        Ok(parts) => deps
            .s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(&what, e)),
        Err(e) => Err(e),
    };
    if result.is_err() {
        // Don't leave billed, invisible parts behind.
        if let Err(e) = deps
            .s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .send()
            .await
        {
            tracing::warn!("{what}: abort failed: {}", sdk_error("AbortMultipartUpload", e));
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn copy_parts(
    deps: &Deps,
    bucket: &str,
    key: &str,
    copy_from: &str,
    if_match: Option<String>,
    upload_id: &str,
    size: u64,
    part_bytes: u64,
) -> Result<Vec<CompletedPart>> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut parts = Vec::new();
    let mut next_offset = 0u64;
    let mut part_number = 0i32;
    while next_offset < size || !tasks.is_empty() {
        while next_offset < size && tasks.len() < COPY_CONCURRENCY {
            part_number += 1;
            let (start, end) = (next_offset, (next_offset + part_bytes).min(size) - 1);
            next_offset = end + 1;
            let request = deps
                .s3
                .upload_part_copy()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(part_number)
                .copy_source(copy_from)
                .copy_source_range(format!("bytes={start}-{end}"))
                .set_copy_source_if_match(if_match.clone());
            let what = format!("UploadPartCopy part {part_number} of s3://{bucket}/{key}");
            tasks.spawn(async move {
                let output = request.send().await.map_err(|e| sdk_error(&what, e))?;
                let e_tag = output
                    .copy_part_result()
                    .and_then(|r| r.e_tag())
                    .map(str::to_string);
                Ok::<_, Error>(
                    CompletedPart::builder()
                        .part_number(part_number)
                        .set_e_tag(e_tag)
                        .build(),
                )
            });
        }
        if let Some(joined) = tasks.join_next().await {
            let part = joined.map_err(Error::from_join("part copy"))??;
            parts.push(part);
        }
    }
    parts.sort_by_key(|p| p.part_number());
    Ok(parts)
}

/// StartExecution, idempotent by name; returns the execution ARN. Step Functions (and moto, which
/// copies its rules) answers a start whose name is taken with the running execution when the input is
/// the same, and with `ExecutionAlreadyExists` when that execution has finished or the input differs:
/// both mean the pipeline already ran or runs for this object version.
async fn start_pipeline(
    sfn: &SfnClient,
    state_machine_arn: &str,
    input: &Dataset,
    identity: &str,
) -> Result<String> {
    let name = execution_name(&input.bucket, &input.key, identity);
    let body = serde_json::to_string(input).map_err(Error::serialize("the execution input"))?;
    match sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(&name)
        .input(body)
        .send()
        .await
    {
        Ok(output) => {
            tracing::info!(execution = output.execution_arn(), "started pipeline");
            Ok(output.execution_arn().to_string())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_execution_already_exists()) =>
        {
            tracing::info!(
                execution = name,
                "pipeline execution already exists: not starting another"
            );
            Ok(execution_arn(state_machine_arn, &name))
        }
        Err(e) => Err(sdk_error(
            &format!("StartExecution {name} on {state_machine_arn}"),
            e,
        )),
    }
}

/// `arn:...:stateMachine:<machine>` + name → `arn:...:execution:<machine>:<name>`.
fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

fn to_json<T: Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(Error::serialize("the response"))
}

/// Every SDK operation the stage sends, with what each needs from its role (see `aws::access`).
const CALLS: &[Call] = &[
    LIST_CONTRACTS,
    Call {
        operation: "s3:GetObject",
        needs: &[
            need("s3:GetObject", CONTRACT_OBJECT),
            need("s3:GetObject", DATA_OBJECT),
            need_because("s3:GetObjectVersion", DATA_OBJECT, VERSIONED_READ),
            need_because(
                "s3:GetObject",
                REPORT_OBJECT,
                "an existing report marks the version as done",
            ),
            need_because("s3:ListBucket", DATA_BUCKET, NOT_FOUND_NEEDS_LIST),
        ],
    },
    HEAD_DATA,
    Call {
        operation: "s3:PutObject",
        needs: &[need("s3:PutObject", REPORT_OBJECT)],
    },
    Call {
        operation: "s3:CopyObject",
        needs: &[
            need("s3:GetObject", DATA_OBJECT),
            need_because("s3:GetObjectVersion", DATA_OBJECT, VERSIONED_READ),
            need("s3:PutObject", QUARANTINE_OBJECT),
            need_because(
                "s3:PutObjectTagging",
                QUARANTINE_OBJECT,
                "the copy is tagged with why",
            ),
        ],
    },
    Call {
        operation: "s3:CreateMultipartUpload",
        needs: &[
            need("s3:PutObject", QUARANTINE_OBJECT),
            need_because(
                "s3:PutObjectTagging",
                QUARANTINE_OBJECT,
                "the copy is tagged with why",
            ),
        ],
    },
    Call {
        operation: "s3:UploadPartCopy",
        needs: &[
            need("s3:GetObject", DATA_OBJECT),
            need_because("s3:GetObjectVersion", DATA_OBJECT, VERSIONED_READ),
            need("s3:PutObject", QUARANTINE_OBJECT),
        ],
    },
    Call {
        operation: "s3:CompleteMultipartUpload",
        needs: &[need("s3:PutObject", QUARANTINE_OBJECT)],
    },
    Call {
        operation: "s3:AbortMultipartUpload",
        needs: &[need("s3:AbortMultipartUpload", QUARANTINE_OBJECT)],
    },
    Call {
        operation: "states:StartExecution",
        needs: &[need("states:StartExecution", STATE_MACHINE)],
    },
];

/// validate-dataset as a Lambda function (`functions/validate-dataset`).
pub struct ValidateDataset;

impl StageFunction for ValidateDataset {
    const STAGE: Stage = Stage::ValidateDataset;
    const CALLS: &'static [Call] = CALLS;
    type Deps = Deps;
    /// Any of the trigger shapes (S3 notification, EventBridge, SQS, SNS, direct), told apart and read
    /// by [`crate::events::parse_invocation`].
    type Request = Value;
    /// One [`Outcome`], or a batch's outcomes (and an SQS batch's item failures).
    type Response = Value;
    const EXPECTS: &'static str = "an S3, EventBridge, SQS or SNS event, or {bucket, key}";

    /// Its measurement goes into the execution input (`dataset.validation`), not its response.
    const REPORTS_INVOCATION: bool = false;

    fn deps(env: Lookup<'_>, sdk: &SdkConfig) -> Result<Deps> {
        let mut deps = Deps::new(Config::from_lookup(env)?, sdk);
        deps.memory_mb = env(MEMORY_VARIABLE).and_then(|m| m.trim().parse().ok());
        Ok(deps)
    }

    fn placeholders(env: Lookup<'_>, bucket: &str) -> Result<BTreeMap<&'static str, String>> {
        Ok(Config::from_lookup(env)?.placeholders(bucket))
    }

    async fn handle(deps: &Deps, event: Value, _deadline: Option<SystemTime>) -> Result<Value> {
        handle(deps, event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::report::{FatalError, RuleOutcome};

    #[test]
    fn tag_values_are_sanitised() {
        assert_eq!(
            sanitize_tag_value("ColumnValues \"age\" <= 120"),
            "ColumnValues _age_ _= 120"
        );
        assert_eq!(sanitize_tag_value(&"x".repeat(300)).len(), 256);
        assert_eq!(sanitize_tag_value("ok:/=+-@._ 1"), "ok:/=+-@._ 1");
        let tagging = quarantine_tagging("r 1", "rep/k.json", "v");
        assert_eq!(
            tagging,
            "greenpipe%3Astatus=quarantined&greenpipe%3Areason=r%201&greenpipe%3Areport=rep%2Fk.json&\
             greenpipe%3Asource-version=v"
        );
    }

    #[test]
    fn reasons() {
        let mut report = ValidationReport::default();
        assert_eq!(invalid_reason(&report), "invalid");
        report.rules.push(RuleOutcome {
            rule: "IsComplete \"id\"".into(),
            passed: false,
            failed_rows: 1,
            measured: None,
            message: None,
        });
        assert_eq!(invalid_reason(&report), "IsComplete \"id\"");
        report.fatal = Some(FatalError {
            kind: "DecodeError".into(),
            message: "corrupt gzip".into(),
            byte_offset: None,
            row: None,
        });
        assert_eq!(invalid_reason(&report), "DecodeError: corrupt gzip");
    }

    #[test]
    fn execution_arns() {
        assert_eq!(
            execution_arn("arn:aws:states:us-east-1:123456789012:stateMachine:pipe", "n"),
            "arn:aws:states:us-east-1:123456789012:execution:pipe:n"
        );
        assert_eq!(report_key("r/", "a b/x.csv", "v1"), "r/a b/x.csv/v1.json");
        assert_eq!(quarantine_key("q/", "a b/x.csv", "v1"), "q/a b/x.csv/v1/x.csv");
        assert_ne!(
            quarantine_key("q/", "k.csv", "v1"),
            quarantine_key("q/", "k.csv", "v2")
        );
        let long = "d/".repeat(510);
        let report = report_key("r/", &long, "v1");
        assert!(report.starts_with("r/_hashed/") && report.ends_with("/v1.json") && report.len() < 100);
        assert_eq!(report, report_key("r/", &long, "v1"));
        let near = format!("{}f.csv", "d/".repeat(500));
        assert_eq!(quarantine_key("q/", &near, "v"), format!("q/{near}/v/f.csv"));
        let over = format!("{}f.csv", "d/".repeat(510));
        let hashed = quarantine_key("q/", &over, "v");
        assert!(
            hashed.starts_with("q/_hashed/") && hashed.ends_with("/v/f.csv"),
            "{hashed}"
        );
    }
}
