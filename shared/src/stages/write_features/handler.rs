//! The write-features stage: write a validated object's rows to its SageMaker Feature Store feature group.
//!
//! Input: the pipeline's execution input ([`Dataset`]) or validate-dataset's outcome (bucket, key,
//! version / ETag, report key, fingerprint, contract), plus optional `featureGroup` (overrides the contract), `eventTime` (the run's
//! fixed event time), `mode` (`online`, the default, or `offline`), `targetStores`, `concurrency`, and the
//! `continuation` a previous invocation returned. Per invocation:
//! 1. The contract the object was validated against is read from `contract.source` (without one, the
//!    contract validate-dataset would find: [`ContractStore::contract_of`]); its `features` section
//!    ([`FeaturesSection`]) maps columns to features. A contract without one: `skipped`.
//! 2. The feature group's definition comes from `DescribeFeatureGroup`, cached per cold start; the
//!    mapping is checked against it (feature names and types) before any row is read.
//! 3. Online: rows are streamed ([`super::rows`]) and written with PutRecord
//!    ([`super::writer`]) until the data ends or the Lambda deadline (minus a safety margin)
//!    is near; then the output carries a `continuation` for the next invocation (`done: false`).
//!    Offline: records are written as Parquet files into the group's offline store layout
//!    ([`super::offline`]); a group without an offline store is refused
//!    ([`Error::OfflineStoreMissing`]).
//! 4. Rows that could not be written are listed, one JSON line each (row, record id, error type,
//!    message), in a failure report next to the validation report:
//!    `<reports prefix><key>/<version or etag>.features[.<first row>].jsonl`.
//!
//! Event times come from the data or from a fixed run time (the request's `eventTime`, else the object's
//! LastModified), so running the same input twice writes the same records.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_s3::Client as S3Client;
use aws_sdk_sagemaker::Client as SageMakerClient;
use aws_sdk_sagemakerfeaturestoreruntime::Client as FeatureStoreClient;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::offline::{self, Buffer, Hour};
use super::rows::{read_rows, Resume, Row, RowSpec};
use super::writer::{write_online, Failure, WriteOptions, WriteOutcome};
use super::{
    format_event_time, parse_event_time, FeatureGroup, FeatureType, FeaturesSection, Mapping, TargetStore,
    DEFAULT_CONCURRENCY, MAX_CONCURRENCY,
};
use crate::aws::access::Guard;
use crate::aws::access::{
    need, need_because, Call, CONTRACT_OBJECT, DATA_OBJECT, FEATURE_GROUP, HEAD_DATA, LIST_CONTRACTS,
    OFFLINE_OBJECT, REPORT_OBJECT, VERSIONED_READ,
};
use crate::aws::contracts::ContractStore;
use crate::aws::s3::{s3_uri, S3Object};
use crate::aws::{sdk_error, Config};
use crate::contract::{Compression, Contract, FormatSpec};
use crate::pipeline::{report_key, Dataset};
use crate::stages::{Lookup, Stage, StageFunction};
use crate::validate::RandomAccess;
use crate::{Error, Result};

/// The most Parquet page bytes write-features holds at once, whatever the contract allows validation:
/// at about 4.2 bytes of memory per page byte (docs/contracts.md, "limits"), 32 MiB of pages is about
/// 170 MB of the function's 256 MB, leaving the rest for the records in flight and the offline sink.
/// A file over it fails as `DataUnreadable` rather than running the function out of memory.
const MAX_PARQUET_PAGE_BYTES: u64 = 32 << 20;

/// Settings of write-features beyond the shared [`Config`], read once from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeaturesConfig {
    /// `GREENPIPE_FEATURES_SAFETY_SECONDS` (default 15): no new row is taken this long before the Lambda
    /// deadline; the writes in flight drain and the report is written in that time.
    pub safety_margin: Duration,
    /// `GREENPIPE_FEATURES_CONCURRENCY` (optional): in-flight PutRecord requests when neither the request
    /// nor the contract sets it (default 32).
    pub concurrency: Option<usize>,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        FeaturesConfig {
            safety_margin: Duration::from_secs(15),
            concurrency: None,
        }
    }
}

impl FeaturesConfig {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the settings through `lookup` (the environment, or a deployed function's variables).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let num = |name: &str| -> Result<Option<u64>> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| Error::Config(format!("{name} must be a whole number, not {v:?}")))
                })
                .transpose()
        };
        let concurrency = num("GREENPIPE_FEATURES_CONCURRENCY")?.map(|c| c as usize);
        if concurrency.is_some_and(|c| c == 0 || c > MAX_CONCURRENCY) {
            return Err(Error::Config(format!(
                "GREENPIPE_FEATURES_CONCURRENCY must be 1..={MAX_CONCURRENCY}"
            )));
        }
        Ok(FeaturesConfig {
            safety_margin: num("GREENPIPE_FEATURES_SAFETY_SECONDS")?
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_secs(15)),
            concurrency,
        })
    }
}

/// Everything an invocation needs, built once per cold start.
pub struct Deps {
    pub config: Config,
    pub features: FeaturesConfig,
    pub s3: S3Client,
    pub sagemaker: SageMakerClient,
    pub featurestore: FeatureStoreClient,
    contracts: ContractStore,
    /// DescribeFeatureGroup answers, per group name, for the life of the process.
    groups: Mutex<HashMap<String, Arc<FeatureGroup>>>,
}

impl Deps {
    /// Clients from `sdk`. The Feature Store runtime client takes its endpoint from the standard chain
    /// too (`AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME` for a service-specific one).
    pub fn new(config: Config, sdk: &SdkConfig) -> Deps {
        Deps {
            s3: config.stage_s3_client(Stage::WriteFeatures, sdk),
            sagemaker: crate::guarded_client!(aws_sdk_sagemaker, Stage::WriteFeatures, sdk),
            featurestore: featurestore_client(sdk, None),
            contracts: ContractStore::new(config.contracts_cache_ttl),
            groups: Mutex::default(),
            features: FeaturesConfig::default(),
            config,
        }
    }

    /// Send Feature Store runtime requests to `endpoint` (tests, local runs).
    pub fn with_featurestore_endpoint(mut self, sdk: &SdkConfig, endpoint: &str) -> Deps {
        self.featurestore = featurestore_client(sdk, Some(endpoint));
        self
    }

    /// The feature group's definition (cached).
    pub async fn feature_group(&self, name: &str) -> Result<Arc<FeatureGroup>> {
        if let Some(g) = self.groups.lock().await.get(name) {
            return Ok(g.clone());
        }
        let group = Arc::new(describe_feature_group(&self.sagemaker, name).await?);
        self.groups.lock().await.insert(name.to_string(), group.clone());
        Ok(group)
    }
}

/// The Feature Store runtime client: the writer retries itself (see [`super::writer`]), so the
/// SDK's retries are off; each attempt has a timeout.
///
/// Stalled-stream protection is off: PutRecord bodies are a few hundred bytes and every attempt is already
/// bounded by the attempt timeout, while the per-request throughput monitor cost about 5 % of the writer's
/// CPU (profiled with `perf record` on `greenpipe features`, bench/features.sh).
///
/// HTTP goes through [`Http1Client`](crate::aws::http1::Http1Client): each connection driven in the request's
/// own task, requests of one scheduler pass written together (see its module).
pub fn featurestore_client(sdk: &SdkConfig, endpoint: Option<&str>) -> FeatureStoreClient {
    use aws_sdk_sagemakerfeaturestoreruntime::config::StalledStreamProtectionConfig;
    let mut conf = aws_sdk_sagemakerfeaturestoreruntime::config::Builder::from(sdk)
        .retry_config(aws_sdk_sagemakerfeaturestoreruntime::config::retry::RetryConfig::disabled())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .timeout_config(
            aws_sdk_sagemakerfeaturestoreruntime::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(3))
                .build(),
        );
    if let Some(endpoint) = endpoint {
        conf = conf.endpoint_url(endpoint);
    }
    conf = conf
        .interceptor(Guard(Stage::WriteFeatures))
        .interceptor(user_agent::OncePerClient::default())
        .http_client(crate::aws::http1::Http1Client::default());
    FeatureStoreClient::from_conf(conf.build())
}

/// The SDK builds its two user-agent headers anew for every request: it formats the SDK, OS, language,
/// app and feature metrics, about 5 % of the writer's CPU per PutRecord (profiled with `perf record` on
/// `greenpipe features`, bench/features.sh). Within one client they come out the same every time, so
/// [`OncePerClient`](user_agent::OncePerClient) keeps the headers the SDK's own interceptor put on the
/// first request and sets those on every later one, with the SDK's interceptor turned off for it (through
/// the config bag's `DisableInterceptor`, as the SDK's presigning does). Same bytes on the wire;
/// `X-Amz-User-Agent` is still set before signing, so it is still signed.
mod user_agent {
    use std::sync::OnceLock;

    use aws_runtime::user_agent::UserAgentInterceptor;
    use aws_smithy_runtime_api::box_error::BoxError;
    use aws_smithy_runtime_api::client::interceptors::context::{
        BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
        BeforeTransmitInterceptorContextRef,
    };
    use aws_smithy_runtime_api::client::interceptors::{
        disable_interceptor, dyn_dispatch_hint, DisableInterceptor, Intercept,
    };
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::config_bag::ConfigBag;

    const USER_AGENT: &str = "user-agent";
    const X_AMZ_USER_AGENT: &str = "x-amz-user-agent";

    /// The `User-Agent` and `X-Amz-User-Agent` values of the client's first request that had both.
    #[derive(Debug, Default)]
    pub(super) struct OncePerClient(OnceLock<(String, String)>);

    #[dyn_dispatch_hint]
    impl Intercept for OncePerClient {
        fn name(&self) -> &'static str {
            "greenpipe::OncePerClient"
        }

        /// Once the headers are known, the SDK's interceptor is off for this request.
        fn read_before_execution(
            &self,
            _context: &BeforeSerializationInterceptorContextRef<'_>,
            cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            if self.0.get().is_some() {
                cfg.interceptor_state()
                    .store_put(disable_interceptor::<UserAgentInterceptor>(
                        "greenpipe: user agent built once per client",
                    ));
            }
            Ok(())
        }

        /// The known headers, on a request whose SDK interceptor was turned off above (not on one that
        /// started before they were known: the SDK's interceptor sets them there).
        fn modify_before_signing(
            &self,
            context: &mut BeforeTransmitInterceptorContextMut<'_>,
            _runtime_components: &RuntimeComponents,
            cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            if cfg.load::<DisableInterceptor<UserAgentInterceptor>>().is_some() {
                if let Some((user_agent, amz)) = self.0.get() {
                    let headers = context.request_mut().headers_mut();
                    headers.insert(USER_AGENT, user_agent.clone());
                    headers.insert(X_AMZ_USER_AGENT, amz.clone());
                }
            }
            Ok(())
        }

        /// Keeps the headers of the first signed request that has both.
        fn read_before_transmit(
            &self,
            context: &BeforeTransmitInterceptorContextRef<'_>,
            _runtime_components: &RuntimeComponents,
            _cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            if self.0.get().is_none() {
                let headers = context.request().headers();
                if let (Some(user_agent), Some(amz)) =
                    (headers.get(USER_AGENT), headers.get(X_AMZ_USER_AGENT))
                {
                    let _ = self.0.set((user_agent.to_string(), amz.to_string()));
                }
            }
            Ok(())
        }
    }
}

/// DescribeFeatureGroup → [`FeatureGroup`].
pub async fn describe_feature_group(client: &SageMakerClient, name: &str) -> Result<FeatureGroup> {
    let out = match client
        .describe_feature_group()
        .feature_group_name(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_not_found()) => {
            return Err(Error::FeatureGroupNotFound(name.to_string()))
        }
        Err(e) => return Err(sdk_error(&format!("DescribeFeatureGroup {name}"), e)),
    };
    let missing = |what: &str| Error::aws(format!("DescribeFeatureGroup {name}: no {what} in the answer"));
    let mut features = Vec::new();
    for f in out.feature_definitions() {
        let fname = f.feature_name().ok_or_else(|| missing("FeatureName"))?;
        let ty = match f.feature_type().map(|t| t.as_str()) {
            Some("Integral") => FeatureType::Integral,
            Some("Fractional") => FeatureType::Fractional,
            Some("String") => FeatureType::String,
            other => {
                return Err(Error::aws(format!(
                    "DescribeFeatureGroup {name}: feature {fname} has unknown type {other:?}"
                )))
            }
        };
        features.push((fname.to_string(), ty));
    }
    let offline_uri = out
        .offline_store_config()
        .and_then(|c| c.s3_storage_config())
        .map(|s3| match s3.resolved_output_s3_uri() {
            Some(resolved) => resolved.trim_end_matches('/').to_string(),
            None => {
                // The service's layout: <S3Uri>/<account>/sagemaker/<region>/offline-store/<group>-<epoch>/data
                let arn: Vec<&str> = out.feature_group_arn().unwrap_or("").split(':').collect();
                let (region, account) = (
                    arn.get(3).copied().unwrap_or(""),
                    arn.get(4).copied().unwrap_or(""),
                );
                let created = out.creation_time().map(|t| t.secs()).unwrap_or(0);
                format!(
                    "{}/{account}/sagemaker/{region}/offline-store/{name}-{created}/data",
                    s3.s3_uri().unwrap_or_default().trim_end_matches('/')
                )
            }
        });
    Ok(FeatureGroup {
        name: out.feature_group_name().unwrap_or(name).to_string(),
        record_identifier: out
            .record_identifier_feature_name()
            .ok_or_else(|| missing("RecordIdentifierFeatureName"))?
            .to_string(),
        event_time: out
            .event_time_feature_name()
            .ok_or_else(|| missing("EventTimeFeatureName"))?
            .to_string(),
        features,
        offline_uri,
        online: out
            .online_store_config()
            .and_then(|c| c.enable_online_store())
            .unwrap_or(false),
    })
}

/// Online (PutRecord) or offline (Parquet files in the offline store).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Online,
    Offline,
}

/// Counts over every invocation of one object so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub read: u64,
    pub written: u64,
    pub failed: u64,
    /// Invocations so far and their time in [`write`], milliseconds: the run report's measured
    /// write-features line covers every part of a run, not only the last.
    #[serde(default)]
    pub invocations: u64,
    #[serde(default)]
    pub duration_ms: u64,
}

/// Where the next invocation resumes; pass it back as the input's `continuation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Continuation {
    #[serde(flatten)]
    pub resume: Resume,
    /// The object version (or ETag) read so far: a continuation never applies to other content.
    pub identity: String,
    /// The run's event time (microseconds), kept so every part of a run uses the same one.
    pub event_time_micros: i64,
    pub totals: Totals,
}

/// The invocation's input: the pipeline's [`Dataset`] (the execution input), with write-features' own
/// options beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    #[serde(flatten)]
    pub dataset: Dataset,
    /// Overrides the contract's `features.feature_group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_group: Option<String>,
    /// The run's event time (ISO 8601 or epoch seconds) for contracts without `event_time_column`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_stores: Option<Vec<TargetStore>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation: Option<Continuation>,
}

/// The result: this invocation's counts, the running totals, and either `done: true` or a continuation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub bucket: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_group: Option<String>,
    pub mode: Mode,
    /// Rows taken by this invocation (each is written or failed).
    pub read: u64,
    pub written: u64,
    pub failed: u64,
    /// Rows this invocation skipped because earlier invocations of the same run had done them.
    pub skipped: u64,
    pub retries: u64,
    pub totals: Totals,
    pub done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation: Option<Continuation>,
    /// `s3://` URI of this invocation's failure report (JSON Lines), when rows failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_report: Option<String>,
    /// Offline mode: the Parquet files written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offline_files: Vec<String>,
    /// Why nothing was written (`done: true`, no features section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One job, independent of Lambda: used by the stage and by the CLI.
pub struct Job {
    pub source: Arc<dyn RandomAccess>,
    /// Object key or path (gives format and compression when the contract does not).
    pub name: String,
    pub contract: Contract,
    pub contract_source: String,
    pub section: FeaturesSection,
    pub group: Arc<FeatureGroup>,
    pub mode: Mode,
    pub resume: Resume,
    pub run_event_micros: i64,
    /// Identifies the object's content (version or ETag): offline file names derive from it.
    pub identity: String,
    pub options: WriteOptions,
}

/// What a job did.
#[derive(Debug, Clone, Default)]
pub struct JobOutcome {
    pub write: WriteOutcome,
    pub offline_files: Vec<String>,
}

/// Run a job: map, check, stream and write (online or offline).
pub async fn run_job(
    featurestore: &FeatureStoreClient,
    s3: &S3Client,
    job: Job,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<JobOutcome> {
    let available: Option<Vec<String>> = (!job.contract.columns.is_empty())
        .then(|| job.contract.columns.iter().map(|c| c.name.clone()).collect());
    let mapping = Mapping::plan(
        &job.section,
        &job.group,
        available.as_deref(),
        job.run_event_micros,
    )?;
    if format_event_time(
        0,
        job.group
            .feature_type(&job.group.event_time)
            .unwrap_or(FeatureType::String),
    )
    .is_none()
    {
        return Err(Error::FeatureGroupMismatch {
            group: job.group.name.clone(),
            message: format!("event time feature {:?} is Integral", job.group.event_time),
        });
    }
    let format = job
        .contract
        .format
        .clone()
        .or_else(|| FormatSpec::from_extension(&job.name))
        .ok_or_else(|| {
            Error::UnsupportedFormat(format!(
                "cannot tell the format of {}: the contract names none and the extension is not known",
                job.name
            ))
        })?;
    let compression = job
        .contract
        .compression
        .unwrap_or_else(|| Compression::from_extension(&job.name));
    let spec = RowSpec {
        format,
        compression,
        columns: mapping.columns.clone(),
        csv_names: job.contract.columns.iter().map(|c| c.name.clone()).collect(),
        max_record_bytes: job
            .contract
            .max_record_bytes
            .unwrap_or(job.contract.limits.default_max_record_bytes),
        max_expanded_bytes: job.contract.limits.max_expanded_bytes,
        limits: job.contract.limits.clone(),
        max_parquet_page_bytes: MAX_PARQUET_PAGE_BYTES,
    };
    if job.mode == Mode::Offline && job.group.offline_uri.is_none() {
        return Err(Error::OfflineStoreMissing(job.group.name.clone()));
    }

    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Row>>(8);
    let source = job.source.clone();
    let resume = job.resume;
    let reader = tokio::task::spawn_blocking(move || {
        read_rows(source.as_ref(), &spec, resume, &mut |batch| {
            tx.blocking_send(batch).is_ok()
        })
    });
    let result = match job.mode {
        Mode::Online => write_online(
            featurestore,
            &job.group,
            &mapping,
            &job.options,
            job.resume,
            rx,
            progress,
        )
        .await
        .map(|write| JobOutcome {
            write,
            offline_files: Vec::new(),
        }),
        Mode::Offline => write_offline(s3, &job, &mapping, rx, progress).await,
    };
    let read = reader.await.map_err(Error::from_join("the row reader"))?;
    let outcome = result?;
    // A read error ends the rows early: unless the deadline stopped the writer first, it fails the job
    // (a rerun from the same input writes the same records again, idempotently).
    if outcome.write.continuation.is_none() {
        read?;
    }
    Ok(outcome)
}

async fn write_offline(
    s3: &S3Client,
    job: &Job,
    mapping: &Mapping,
    mut rx: tokio::sync::mpsc::Receiver<Vec<Row>>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<JobOutcome> {
    let uri = job.group.offline_uri.as_deref().unwrap_or_default();
    let (bucket, prefix) = offline::split_s3_uri(uri)
        .ok_or_else(|| Error::aws(format!("offline store location {uri:?} is not an s3:// URI")))?;
    let mut out = JobOutcome::default();
    let mut buffer = Buffer::new(&job.group);
    let mut parts: HashMap<Hour, usize> = HashMap::new();
    while let Some(batch) = rx.recv().await {
        for row in batch {
            out.write.read += 1;
            let record = row
                .values
                .map_err(|m| super::RowError::new("InvalidRecord", m))
                .and_then(|values| mapping.record(values));
            match record {
                Ok(record) => {
                    let id = record[0].1.clone();
                    match buffer.push(record) {
                        Ok(hour) => {
                            if buffer
                                .parts
                                .get(&hour)
                                .is_some_and(|p| p.len() >= offline::ROWS_PER_FILE)
                            {
                                let rows = buffer.parts.remove(&hour).unwrap_or_default();
                                let n = rows.len() as u64;
                                let key = flush(s3, job, &bucket, &prefix, hour, &rows, &mut parts).await?;
                                out.offline_files.push(key);
                                out.write.written += n;
                            }
                        }
                        Err(e) => push_failure(
                            &mut out.write,
                            &job.options,
                            row.index,
                            Some(id),
                            e.error_type(),
                            e.to_string(),
                        ),
                    }
                }
                Err(e) => push_failure(
                    &mut out.write,
                    &job.options,
                    row.index,
                    None,
                    &e.error_type,
                    e.message,
                ),
            }
        }
        progress(out.write.read);
    }
    for (hour, rows) in std::mem::take(&mut buffer.parts) {
        let n = rows.len() as u64;
        let key = flush(s3, job, &bucket, &prefix, hour, &rows, &mut parts).await?;
        out.offline_files.push(key);
        out.write.written += n;
    }
    progress(out.write.read);
    Ok(out)
}

fn push_failure(
    out: &mut WriteOutcome,
    opts: &WriteOptions,
    index: u64,
    id: Option<String>,
    ty: &str,
    message: String,
) {
    out.failed += 1;
    if out.failures.len() < opts.max_failure_lines {
        out.failures.push(Failure {
            row: index + 1,
            record_id: id,
            error_type: ty.to_string(),
            message,
        });
    }
}

async fn flush(
    s3: &S3Client,
    job: &Job,
    bucket: &str,
    prefix: &str,
    hour: Hour,
    rows: &[Vec<Option<String>>],
    parts: &mut HashMap<Hour, usize>,
) -> Result<String> {
    let part = parts.entry(hour).or_default();
    *part += 1;
    let key = offline::file_key(prefix, hour, job.run_event_micros, &job.identity, *part);
    let features = job.group.features.clone();
    let rows = rows.to_vec();
    let write_micros = job.run_event_micros;
    let body = tokio::task::spawn_blocking(move || offline::parquet_file(&features, &rows, write_micros))
        .await
        .map_err(Error::from_join("the Parquet writer"))??;
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .body(body.into())
        .send()
        .await
        .map_err(|e| sdk_error(&format!("PutObject {}", s3_uri(bucket, &key, None)), e))?;
    Ok(s3_uri(bucket, &key, None))
}

/// Write one object's features (see the module docs).
#[tracing::instrument(skip(deps, deadline), fields(bucket = %request.dataset.bucket, key = %request.dataset.key))]
pub async fn write(deps: &Deps, request: &Request, deadline: Option<SystemTime>) -> Result<Response> {
    let started = Instant::now();
    let config = &deps.config;
    if request.dataset.bucket.is_empty() || request.dataset.key.is_empty() {
        return Err(Error::InvalidEvent("bucket and key must not be empty".into()));
    }
    let uri = s3_uri(&request.dataset.bucket, &request.dataset.key, None);
    if request.dataset.rejected() {
        return Err(Error::InvalidEvent(format!(
            "{uri} did not pass validation: its features are not written"
        )));
    }
    if config.is_own_key(&request.dataset.key) {
        return Err(Error::InvalidEvent(format!(
            "{uri} is under greenpipe's contracts, reports or quarantine prefix"
        )));
    }
    let mut response = Response {
        bucket: request.dataset.bucket.clone(),
        key: request.dataset.key.clone(),
        mode: request.mode,
        ..Response::default()
    };
    let contracts_bucket = config
        .contracts_bucket
        .as_deref()
        .unwrap_or(&request.dataset.bucket);
    let loaded = deps
        .contracts
        .contract_of(
            &deps.s3,
            &request.dataset,
            contracts_bucket,
            &config.contracts_prefix,
        )
        .await?;
    let Some(section) = FeaturesSection::from_contract(&loaded.contract, &loaded.source)? else {
        response.done = true;
        response.reason = Some(format!("contract {} has no features section", loaded.source));
        return Ok(response);
    };
    let group_name = request
        .feature_group
        .clone()
        .or_else(|| section.feature_group.clone())
        .ok_or_else(|| {
            Error::contract_invalid(
                &loaded.source,
                "features: no feature_group (set it in the contract or the input's featureGroup)",
            )
        })?;
    response.feature_group = Some(group_name.clone());
    let group = deps.feature_group(&group_name).await?;

    let object = S3Object::open(
        &deps.s3,
        &request.dataset.bucket,
        &request.dataset.key,
        request.dataset.version_id.as_deref(),
    )
    .await?;
    let identity = object.identity().to_string();
    if let Some(c) = &request.continuation {
        if c.identity != identity {
            return Err(Error::InvalidEvent(format!(
                "the continuation is for version/ETag {} of {uri}, but the object is now {identity}",
                c.identity
            )));
        }
    }
    let run_event_micros = match (&request.continuation, &request.event_time) {
        (Some(c), _) => c.event_time_micros,
        (None, Some(t)) => parse_event_time(t).ok_or_else(|| {
            Error::InvalidEvent(format!("eventTime {t:?} is not a timestamp or epoch seconds"))
        })?,
        (None, None) => object
            .last_modified_micros()
            .ok_or_else(|| Error::aws(format!("HeadObject {uri}: no LastModified")))?,
    };
    let resume = request
        .continuation
        .as_ref()
        .map(|c| c.resume)
        .unwrap_or_default();
    let before = request
        .continuation
        .as_ref()
        .map(|c| c.totals)
        .unwrap_or_default();

    let now = Instant::now();
    let until = |margin: Duration| {
        deadline.map(|d| {
            let left = d.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
            now + left.saturating_sub(margin)
        })
    };
    let margin = deps.features.safety_margin;
    let options = WriteOptions {
        concurrency: request
            .concurrency
            .or(section.concurrency)
            .or(deps.features.concurrency)
            .unwrap_or(DEFAULT_CONCURRENCY)
            .clamp(1, MAX_CONCURRENCY),
        target_stores: request
            .target_stores
            .clone()
            .or_else(|| section.target_stores.clone()),
        deadline: until(margin),
        drain_deadline: until(margin / 3),
        ..WriteOptions::default()
    };
    let report_stem = match &request.dataset.report_key {
        Some(k) => k.strip_suffix(".json").unwrap_or(k).to_string(),
        None => {
            let k = report_key(&config.reports_prefix, &request.dataset.key, &identity);
            k.strip_suffix(".json").unwrap_or(&k).to_string()
        }
    };
    let job = Job {
        source: Arc::new(object),
        name: request.dataset.key.clone(),
        contract: loaded.contract.clone(),
        contract_source: loaded.source.clone(),
        section,
        group: group.clone(),
        mode: request.mode,
        resume,
        run_event_micros,
        identity: identity.clone(),
        options,
    };
    let outcome = run_job(&deps.featurestore, &deps.s3, job, &|_| {}).await?;
    let w = &outcome.write;
    let totals = Totals {
        read: before.read + w.read,
        written: before.written + w.written,
        failed: before.failed + w.failed,
        invocations: before.invocations + 1,
        // Up to here: the failure report and the response that follow take a request or two.
        duration_ms: before.duration_ms + started.elapsed().as_millis() as u64,
    };
    if w.failed > 0 {
        let key = if resume.next_row == 0 {
            format!("{report_stem}.features.jsonl")
        } else {
            format!("{report_stem}.features.{}.jsonl", resume.next_row)
        };
        write_failures(&deps.s3, &request.dataset.bucket, &key, &w.failures).await?;
        response.failure_report = Some(s3_uri(&request.dataset.bucket, &key, None));
    }
    response.read = w.read;
    response.written = w.written;
    response.failed = w.failed;
    response.skipped = resume.next_row;
    response.retries = w.retries;
    response.totals = totals;
    response.offline_files = outcome.offline_files.clone();
    response.continuation = w.continuation.map(|resume| Continuation {
        resume,
        identity,
        event_time_micros: run_event_micros,
        totals,
    });
    response.done = response.continuation.is_none();
    tracing::info!(
        group = group.name,
        read = w.read,
        written = w.written,
        failed = w.failed,
        retries = w.retries,
        done = response.done,
        "features written"
    );
    Ok(response)
}

/// The failure report: one JSON object per line.
pub fn failure_lines(failures: &[Failure]) -> Vec<u8> {
    let mut body = Vec::with_capacity(failures.len() * 128);
    for f in failures {
        if serde_json::to_writer(&mut body, f).is_ok() {
            body.push(b'\n');
        }
    }
    body
}

async fn write_failures(s3: &S3Client, bucket: &str, key: &str, failures: &[Failure]) -> Result<()> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/x-ndjson")
        .body(failure_lines(failures).into())
        .send()
        .await
        .map_err(|e| sdk_error(&format!("PutObject {}", s3_uri(bucket, key, None)), e))?;
    Ok(())
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
        ],
    },
    HEAD_DATA,
    Call {
        operation: "s3:PutObject",
        needs: &[
            need("s3:PutObject", REPORT_OBJECT),
            need_because(
                "s3:PutObject",
                OFFLINE_OBJECT,
                "offline (bulk) loads write Parquet files",
            ),
        ],
    },
    Call {
        operation: "sagemaker:DescribeFeatureGroup",
        needs: &[need("sagemaker:DescribeFeatureGroup", FEATURE_GROUP)],
    },
    Call {
        operation: "sagemaker:PutRecord",
        needs: &[need("sagemaker:PutRecord", FEATURE_GROUP)],
    },
];

/// write-features as a Lambda function (`functions/write-features`). The invocation's deadline bounds
/// the run: near it the writer stops taking rows and returns a continuation.
pub struct WriteFeatures;

impl StageFunction for WriteFeatures {
    const STAGE: Stage = Stage::WriteFeatures;
    const CALLS: &'static [Call] = CALLS;
    type Deps = Deps;
    type Request = Request;
    type Response = Response;
    const EXPECTS: &'static str =
        "the execution input {bucket, key, versionId?, etag?, contract?, ...} with \
        featureGroup?, eventTime?, mode?, targetStores?, concurrency?, continuation?";

    fn deps(env: Lookup<'_>, sdk: &SdkConfig) -> Result<Deps> {
        let mut deps = Deps::new(Config::from_lookup(env)?, sdk);
        deps.features = FeaturesConfig::from_lookup(env)?;
        Ok(deps)
    }

    fn placeholders(env: Lookup<'_>, bucket: &str) -> Result<BTreeMap<&'static str, String>> {
        Ok(Config::from_lookup(env)?.placeholders(bucket))
    }

    async fn handle(deps: &Deps, request: Request, deadline: Option<SystemTime>) -> Result<Response> {
        write(deps, &request, deadline).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn reads_execution_input_and_continuation() {
        let input = json!({
            "bucket": "b", "key": "sales/x.csv", "etag": "abc", "fingerprint": "blake3:00",
            "contract": {"name": "sales"}, "featureGroup": "sales-fg", "eventTime": "2026-11-27T00:00:00Z",
            "continuation": {"nextRow": 40, "byteOffset": 1234, "identity": "abc", "eventTimeMicros": 5,
                             "totals": {"read": 40, "written": 39, "failed": 1}}
        });
        let r: Request = serde_json::from_value(input).unwrap();
        assert_eq!(r.mode, Mode::Online);
        let c = r.continuation.unwrap();
        assert_eq!(c.resume.next_row, 40);
        assert_eq!(c.resume.byte_offset, Some(1234));
        assert_eq!(c.totals.failed, 1);
        let offline: Request = serde_json::from_value(
            json!({"bucket": "b", "key": "k", "mode": "offline", "targetStores": ["OfflineStore"]}),
        )
        .unwrap();
        assert_eq!(offline.mode, Mode::Offline);
        assert_eq!(offline.target_stores, Some(vec![TargetStore::OfflineStore]));
        assert!(
            serde_json::from_value::<Request>(json!({"bucket": "b", "key": "k", "mode": "bulk"})).is_err()
        );
    }

    #[test]
    fn continuation_round_trips() {
        let c = Continuation {
            resume: Resume {
                next_row: 7,
                byte_offset: None,
            },
            identity: "v1".into(),
            event_time_micros: 1,
            totals: Totals::default(),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["nextRow"], 7);
        assert!(v.get("byteOffset").is_none());
        assert_eq!(serde_json::from_value::<Continuation>(v).unwrap(), c);
    }

    #[test]
    fn failure_lines_are_json_lines() {
        let body = failure_lines(&[
            Failure {
                row: 3,
                record_id: None,
                error_type: "MissingRecordIdentifier".into(),
                message: "m".into(),
            },
            Failure {
                row: 9,
                record_id: Some("r9".into()),
                error_type: "ValidationError".into(),
                message: "bad".into(),
            },
        ]);
        let lines: Vec<Value> = String::from_utf8(body)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            json!({"row": 3, "errorType": "MissingRecordIdentifier", "message": "m"})
        );
        assert_eq!(lines[1]["recordId"], "r9");
    }
}
