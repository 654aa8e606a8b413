//! The plan-training and plan-transform stages: decide whether to train and transform, and build the
//! SageMaker requests the state machine sends ([`crate::stages::plan`] holds the pure builders).
//!
//! **plan-training** (input `{dataset, executionName, features?}`):
//! 1. The contract the data was validated with (`dataset.contract.source`) is read; no `training`
//!    section → `train: false`.
//! 2. The "last trained" marker (`s3://<artifacts bucket>/<state prefix><dataset>/last-training.json`,
//!    written by report-run after a successful training) is read. Same data fingerprint and same
//!    training settings → `train: false`, `modelName` = the last trained model (recreated from its
//!    artifacts if something deleted it).
//! 3. Otherwise the request is built: deterministic job name, right-sized instance, managed spot with
//!    checkpoints and `MaxWaitTimeInSeconds`, warm start from the marker's model artifacts when
//!    configured. SageMaker is asked whether a job of that name exists: a completed one (a run that
//!    trained but died before its report) is adopted, not run again; a failed or stopped one gets a
//!    successor named `<name>-2`, `-3`, ...; a running one is `JobInProgress` (retried later).
//!
//! **plan-transform** (input `{dataset, plan, model?}`): the model is the one just created, else the
//! last trained one (`plan.modelName`), else `transform.model_name` from the contract, else
//! `GREENPIPE_TRANSFORM_MODEL`; none → `transform: false`. The same existing-job rule applies: a
//! completed job with the same name (same data, model and settings) is not run again.
//!
//! Outputs always carry every key the state machine reads (`request: {}` when nothing runs).

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_s3::Client as S3Client;
use aws_sdk_sagemaker::error::ProvideErrorMetadata;
use aws_sdk_sagemaker::types::{ContainerDefinition, Tag as SmTag};
use aws_sdk_sagemaker::Client as SageMakerClient;
use serde::Deserialize;
use serde_json::{json, Value};

use super::limits::JobLimits;
use super::names::{sanitize, with_attempt};
use super::schedule::{self, ScheduleSection};
use super::training::{plan_training, TrainingInput};
use super::transform::{plan_transform, TransformPlanInput};
use super::{managed_tags, DataSize, TrainingSection, TransformSection};
use crate::aws::access::{
    need, need_because, Call, ARTIFACTS_BUCKET, CONTRACT_OBJECT, GET_CONTRACT, HEAD_DATA, MARKER_OBJECT,
    MODEL, NOT_FOUND_NEEDS_LIST, SAGEMAKER_ROLE, TRAINING_JOB, TRANSFORM_JOB, TUNING_JOB,
};
use crate::aws::contracts::contract_at;
use crate::aws::s3::{put_json, s3_uri};
use crate::aws::{sdk_error, Config};
use crate::contract::{Compression, Contract, FormatSpec};
use crate::footprint::Arch;
use crate::pipeline::{Dataset, LastTrained};
use crate::stages::{invoke, Lookup, Stage, StageFunction};
use crate::{Error, Result};

/// Failed or stopped jobs of the same data tolerated before giving up (`<name>-2` ... `<name>-10`).
const MAX_ATTEMPTS: u32 = 10;

/// Settings of the plan-training, plan-transform and report-run stages.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanConfig {
    /// The shared settings (S3 path style, reports prefix).
    pub base: Config,
    /// `GREENPIPE_SAGEMAKER_ROLE_ARN`: execution role of jobs and models when the contract names none.
    pub role_arn: Option<String>,
    /// `GREENPIPE_ARTIFACTS_BUCKET`: models, checkpoints, transform output, markers and run reports.
    /// Default: the dataset's bucket.
    pub artifacts_bucket: Option<String>,
    /// `GREENPIPE_MODELS_PREFIX` (default `greenpipe/models/`).
    pub models_prefix: String,
    /// `GREENPIPE_CHECKPOINTS_PREFIX` (default `greenpipe/checkpoints/`).
    pub checkpoints_prefix: String,
    /// `GREENPIPE_TRANSFORM_PREFIX` (default `greenpipe/transform/`).
    pub transform_prefix: String,
    /// `GREENPIPE_STATE_PREFIX` (default `greenpipe/state/`): the "last trained" markers.
    pub state_prefix: String,
    /// `GREENPIPE_TRANSFORM_MODEL`: the model batch transform uses when none was ever trained.
    pub transform_model: Option<String>,
    /// `GREENPIPE_NOMINAL_LAMBDA_MS` (default 1000) and `GREENPIPE_NOMINAL_LAMBDA_MEMORY_MB` (default
    /// 512): the invocation the run report assumes for a Lambda stage whose output carries no
    /// `durationMs` / `memoryMb`.
    pub nominal_lambda_ms: u64,
    pub nominal_lambda_memory_mb: u32,
    /// `GREENPIPE_LAMBDA_ARCH` (`arm64`, default, or `x86_64`).
    pub lambda_arch: Arch,
    /// What a contract may ask SageMaker for (`GREENPIPE_ALLOWED_IMAGE_REPOSITORIES`,
    /// `GREENPIPE_ALLOWED_INSTANCE_TYPES`, `GREENPIPE_MAX_INSTANCE_COUNT`, `GREENPIPE_MAX_RUNTIME_SECONDS`).
    pub limits: JobLimits,
    /// `GREENPIPE_CARBON_FORECAST_URL` (+ `_TOKEN`, `_ZONE`): the carbon-intensity forecast API a
    /// contract's `schedule` is planned with ([`super::schedule`]).
    pub carbon_api: Option<CarbonApi>,
}

/// A carbon-intensity forecast API (Electricity Maps' v3 forecast format).
#[derive(Clone, PartialEq)]
pub struct CarbonApi {
    /// E.g. `https://api.electricitymaps.com/v3/carbon-intensity/forecast`.
    pub url: String,
    /// Sent as the `auth-token` header.
    pub token: Option<String>,
    /// Default: the region's zone ([`super::schedule::zone_for_region`]).
    pub zone: Option<String>,
}

impl std::fmt::Debug for CarbonApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarbonApi")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("zone", &self.zone)
            .finish()
    }
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            base: Config::default(),
            role_arn: None,
            artifacts_bucket: None,
            models_prefix: "greenpipe/models/".into(),
            checkpoints_prefix: "greenpipe/checkpoints/".into(),
            transform_prefix: "greenpipe/transform/".into(),
            state_prefix: "greenpipe/state/".into(),
            transform_model: None,
            nominal_lambda_ms: 1000,
            nominal_lambda_memory_mb: 512,
            lambda_arch: Arch::Arm64,
            limits: JobLimits::default(),
            carbon_api: None,
        }
    }
}

impl PlanConfig {
    /// The call tables' placeholders these settings decide (see `aws::access::values`); `bucket` is the
    /// data bucket, the default for the artifacts and contracts buckets.
    pub fn placeholders(&self, bucket: &str) -> BTreeMap<&'static str, String> {
        let mut v = BTreeMap::from([
            ("artifacts_bucket", self.artifacts_bucket(bucket).to_string()),
            ("state", self.state_prefix.clone()),
            ("reports", self.base.reports_prefix.clone()),
            ("contracts", self.base.contracts_prefix.clone()),
            (
                "contracts_bucket",
                self.base
                    .contracts_bucket
                    .clone()
                    .unwrap_or_else(|| bucket.to_string()),
            ),
        ]);
        if let Some(role) = &self.role_arn {
            v.insert("sagemaker_role", role.clone());
        }
        v
    }

    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let d = PlanConfig::default();
        let prefix = |name: &str, default: String| -> Result<String> {
            match get(name) {
                None => Ok(default),
                Some(v) if v.trim_matches('/').is_empty() => Err(Error::Config(format!(
                    "{name}={v:?} must name a folder, not the bucket root"
                ))),
                Some(v) => Ok(format!("{}/", v.trim_matches('/'))),
            }
        };
        let number = |name: &str, default: u64| -> Result<u64> {
            get(name).map_or(Ok(default), |v| {
                v.replace('_', "")
                    .parse()
                    .map_err(|_| Error::Config(format!("{name}={v:?} is not a whole number")))
            })
        };
        let memory = number(
            "GREENPIPE_NOMINAL_LAMBDA_MEMORY_MB",
            u64::from(d.nominal_lambda_memory_mb),
        )?;
        let memory = u32::try_from(memory)
            .ok()
            .filter(|m| (128..=10_240).contains(m))
            .ok_or_else(|| {
                Error::Config(format!(
                    "GREENPIPE_NOMINAL_LAMBDA_MEMORY_MB={memory} is not within 128..=10240"
                ))
            })?;
        let lambda_arch = match get("GREENPIPE_LAMBDA_ARCH").as_deref() {
            None | Some("arm64") => Arch::Arm64,
            Some("x86_64") => Arch::X86_64,
            Some(other) => {
                return Err(Error::Config(format!(
                    "GREENPIPE_LAMBDA_ARCH={other:?} is not arm64 or x86_64"
                )))
            }
        };
        let list = |name: &str| -> Vec<String> {
            get(name)
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let cap = |name: &str| -> Result<Option<u32>> {
            get(name)
                .map(|v| {
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| Error::Config(format!("{name}={v:?} is not a whole number above 0")))
                })
                .transpose()
        };
        let limits = JobLimits {
            image_repositories: list("GREENPIPE_ALLOWED_IMAGE_REPOSITORIES"),
            instance_types: list("GREENPIPE_ALLOWED_INSTANCE_TYPES"),
            max_instance_count: cap("GREENPIPE_MAX_INSTANCE_COUNT")?,
            max_runtime_seconds: cap("GREENPIPE_MAX_RUNTIME_SECONDS")?,
        };
        Ok(PlanConfig {
            base: Config::from_lookup(&lookup)?,
            role_arn: get("GREENPIPE_SAGEMAKER_ROLE_ARN"),
            artifacts_bucket: get("GREENPIPE_ARTIFACTS_BUCKET"),
            models_prefix: prefix("GREENPIPE_MODELS_PREFIX", d.models_prefix)?,
            checkpoints_prefix: prefix("GREENPIPE_CHECKPOINTS_PREFIX", d.checkpoints_prefix)?,
            transform_prefix: prefix("GREENPIPE_TRANSFORM_PREFIX", d.transform_prefix)?,
            state_prefix: prefix("GREENPIPE_STATE_PREFIX", d.state_prefix)?,
            transform_model: get("GREENPIPE_TRANSFORM_MODEL"),
            nominal_lambda_ms: number("GREENPIPE_NOMINAL_LAMBDA_MS", d.nominal_lambda_ms)?,
            nominal_lambda_memory_mb: memory,
            lambda_arch,
            limits,
            carbon_api: get("GREENPIPE_CARBON_FORECAST_URL").map(|url| CarbonApi {
                url,
                token: get("GREENPIPE_CARBON_FORECAST_TOKEN"),
                zone: get("GREENPIPE_CARBON_FORECAST_ZONE"),
            }),
        })
    }

    /// The bucket for artifacts, markers and reports of a dataset in `dataset_bucket`.
    pub fn artifacts_bucket<'a>(&'a self, dataset_bucket: &'a str) -> &'a str {
        self.artifacts_bucket.as_deref().unwrap_or(dataset_bucket)
    }

    /// Key of the "last trained" marker of a dataset.
    pub fn marker_key(&self, dataset: &str) -> String {
        format!("{}{}/last-training.json", self.state_prefix, sanitize(dataset))
    }

    /// Key of a run report.
    pub fn run_report_key(&self, execution: &str) -> String {
        let name: String = execution
            .chars()
            .map(|c| if c == '/' || c.is_control() { '_' } else { c })
            .collect();
        format!("{}runs/{name}.json", self.base.reports_prefix)
    }
}

/// Everything an invocation needs, built once per cold start (shared by the three functions).
pub struct Deps {
    pub config: PlanConfig,
    pub s3: S3Client,
    pub sagemaker: SageMakerClient,
    /// Region of the SDK configuration (the footprint's grid factor).
    pub region: String,
}

impl Deps {
    /// The dependencies of `stage` (plan-training or plan-transform): its clients carry its own
    /// [`Guard`](crate::aws::access::Guard).
    pub fn new(stage: Stage, config: PlanConfig, sdk: &SdkConfig) -> Deps {
        Deps {
            s3: config.base.stage_s3_client(stage, sdk),
            sagemaker: crate::guarded_client!(aws_sdk_sagemaker, stage, sdk),
            region: sdk
                .region()
                .map_or_else(|| "us-east-1".to_string(), |r| r.to_string()),
            config,
        }
    }
}

/// plan-training's input: the dataset (`$.dataset`) and the execution's name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanTrainingInput {
    pub dataset: Dataset,
    #[serde(default)]
    pub execution_name: Option<String>,
    /// When the execution started and when this state was entered (`$$.Execution.StartTime`,
    /// `$$.State.EnteredTime`): the clock of a contract's `schedule`. Default: now.
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub now: Option<String>,
}

/// plan-transform's input: the dataset, plan-training's plan and the model CreateModel made.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanTransformInput {
    pub dataset: Dataset,
    #[serde(default)]
    pub plan: Value,
    #[serde(default)]
    pub model: Option<Value>,
    /// As plan-training's.
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub now: Option<String>,
}

/// The dataset's contract, format and size.
struct Loaded {
    r: Dataset,
    /// `contract.source`: the contract the data was validated against.
    source: String,
    name: String,
    contract: Contract,
    format: FormatSpec,
    compression: Compression,
    uri: String,
}

impl Loaded {
    async fn load(deps: &Deps, r: Dataset) -> Result<Loaded> {
        let source = r.require_contract_source()?.to_string();
        let contract = contract_at(&deps.s3, &source).await?;
        let name = r.name().unwrap_or_default();
        let format = contract
            .format
            .clone()
            .or_else(|| FormatSpec::from_extension(&r.key))
            .ok_or_else(|| {
                Error::UnsupportedFormat(format!(
                    "cannot tell the format of s3://{}/{}: the contract names none and the extension is not known",
                    r.bucket, r.key
                ))
            })?;
        let compression = contract
            .compression
            .unwrap_or_else(|| Compression::from_extension(&r.key));
        Ok(Loaded {
            uri: s3_uri(&r.bucket, &r.key, None),
            source,
            name,
            contract,
            format,
            compression,
            r,
        })
    }

    async fn size(&self, s3: &S3Client) -> Result<DataSize> {
        let head = s3
            .head_object()
            .bucket(&self.r.bucket)
            .key(&self.r.key)
            .set_version_id(self.r.version_id.clone())
            .send()
            .await
            .map_err(|e| sdk_error(&format!("HeadObject {}", self.uri), e))?;
        Ok(DataSize {
            bytes: head
                .content_length()
                .and_then(|l| u64::try_from(l).ok())
                .unwrap_or(0),
            rows: self.r.rows,
        })
    }

    fn schedule_section(&self) -> Result<Option<ScheduleSection>> {
        self.contract
            .schedule
            .as_ref()
            .map(|v| ScheduleSection::from_value(v, &self.source))
            .transpose()
    }

    fn training_section(&self) -> Result<Option<TrainingSection>> {
        self.contract
            .training
            .as_ref()
            .map(|v| TrainingSection::from_value(v, &self.source))
            .transpose()
    }
}

/// The execution's clock as the Task passed it (`now`, `startedAt`), else this machine's.
struct Clock {
    now: i64,
    started: i64,
}

impl Clock {
    fn from(now: Option<&str>, started: Option<&str>) -> Result<Clock> {
        let parse = |what: &str, v: Option<&str>| -> Result<Option<i64>> {
            v.map(|t| {
                schedule::parse_time(t)
                    .ok_or_else(|| Error::InvalidEvent(format!("{what} {t:?} is not an RFC 3339 time")))
            })
            .transpose()
        };
        let now = parse("now", now)?.unwrap_or_else(|| (crate::footprint::unix_millis_now() / 1000) as i64);
        let started = parse("startedAt", started)?.unwrap_or(now).min(now);
        Ok(Clock { now, started })
    }
}

/// When a job of `instance_type` x `count` running `duration_seconds` should start under the
/// contract's `schedule` (see [`schedule`]): the forecast API when configured, else the contract's
/// profile, else the region's flat annual factor.
async fn carbon_start(
    deps: &Deps,
    section: &ScheduleSection,
    clock: &Clock,
    instance: (&str, u32),
    duration_seconds: i64,
    duration_basis: String,
    data_bytes: u64,
) -> schedule::Decision {
    let deadline = section.deadline(clock.started);
    let hours = schedule::hours_needed(clock.now, deadline);
    let mut forecast_error = None;
    let mut forecast = None;
    if let Some(api) = &deps.config.carbon_api {
        match forecast_from_api(api, &deps.region, hours).await {
            Ok(f) => forecast = Some(f),
            Err(e) => {
                tracing::warn!(error = e, "carbon forecast API not used");
                forecast_error = Some(e);
            }
        }
    }
    let forecast = forecast.unwrap_or_else(|| match &section.profile {
        Some(p) => schedule::Forecast::from_profile(p, clock.now, hours),
        None => {
            let factor = crate::footprint::coefficients()
                .ok()
                .and_then(|c| c.grid_factor(&deps.region).ok().map(|g| (c.version.clone(), g)));
            match factor {
                Some((version, kg)) => schedule::Forecast::flat(
                    format!(
                        "greenpipe default: {}'s annual grid factor, flat (coefficients {version}, CCF)",
                        deps.region
                    ),
                    kg * 1000.0,
                    clock.now,
                    hours,
                ),
                None => schedule::Forecast::flat(
                    format!("no grid factor for {}: flat", deps.region),
                    0.0,
                    clock.now,
                    hours,
                ),
            }
        }
    });
    let (instance_type, count) = instance;
    let kwh = crate::footprint::instance_usage(
        instance_type,
        count,
        duration_seconds as f64,
        duration_seconds as f64,
        &deps.region,
        None,
    )
    .ok()
    .map(|e| e.footprint.kwh);
    let job = schedule::Job {
        duration_seconds,
        duration_basis,
        kwh,
    };
    let mut decision = schedule::decide(section, &forecast, forecast_error, &job, clock.now, clock.started);
    if let (Some(kwh), false) = (kwh, section.regions.is_empty()) {
        let coefficients = crate::footprint::coefficients().ok();
        let gb = data_bytes as f64 / 1e9;
        decision.regions = schedule::compare_regions(
            kwh,
            &deps.region,
            &section.regions,
            |r| coefficients.and_then(|c| c.grid_factor(r).ok()),
            |to| {
                crate::footprint::data_transfer(gb, &deps.region, to)
                    .ok()
                    .map(|e| (e.footprint.kg_co2e, e.footprint.usd))
            },
        );
    }
    decision
}

/// A query value: everything but RFC 3986's unreserved characters percent-encoded.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The forecast API's hourly forecast for the region's zone, `hours` ahead (at most 72).
async fn forecast_from_api(
    api: &CarbonApi,
    region: &str,
    hours: usize,
) -> std::result::Result<schedule::Forecast, String> {
    let zone = api
        .zone
        .as_deref()
        .or_else(|| schedule::zone_for_region(region))
        .ok_or_else(|| format!("no forecast zone for region {region}: set GREENPIPE_CARBON_FORECAST_ZONE"))?;
    let sep = if api.url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{sep}zone={}&horizonHours={}",
        api.url,
        percent_encoding::utf8_percent_encode(zone, QUERY_VALUE),
        hours.min(72)
    );
    let headers: Vec<(&str, &str)> = api
        .token
        .as_deref()
        .map(|t| ("auth-token", t))
        .into_iter()
        .collect();
    let (status, body) = crate::aws::http1::get(&url, &headers, std::time::Duration::from_secs(5)).await?;
    if status != 200 {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(format!("GET {} answered {status}: {text}", api.url));
    }
    schedule::parse_forecast(&body, format!("forecast API {} (zone {zone})", api.url))
}

/// The plan-training handler on the JSON a Task sends (see the module docs): [`invoke`] of
/// [`PlanTraining`], as the deployed function runs it.
pub async fn plan_training_handler(deps: &Deps, event: Value) -> Result<Value> {
    invoke::<PlanTraining>(deps, event, None).await
}

/// Plan the training of `input.dataset`, or say why there is none.
#[tracing::instrument(skip_all)]
pub async fn plan_training_for(deps: &Deps, input: PlanTrainingInput) -> Result<Value> {
    let fingerprint = input.dataset.fingerprint()?.to_string();
    let clock = Clock::from(input.now.as_deref(), input.started_at.as_deref())?;
    let ds = Loaded::load(deps, input.dataset).await?;
    let schedule_section = ds.schedule_section()?;
    let now = schedule::format_time(clock.now);
    let no_training = |reason: String, model: String| {
        json!({"train": false, "reason": reason, "fingerprint": fingerprint, "trainingJobName": "",
               "modelName": model, "request": {}, "modelRequest": {}, "startAt": now, "schedule": null,
               "tune": false, "tuningRequest": {}})
    };
    let Some(section) = ds.training_section()? else {
        let model = deps.config.transform_model.clone().unwrap_or_default();
        let reason = format!("contract {} has no training section", ds.source);
        tracing::info!(dataset = ds.name, reason, "no training");
        return Ok(no_training(reason, model));
    };
    let bucket = deps.config.artifacts_bucket(&ds.r.bucket).to_string();
    let marker_key = deps.config.marker_key(&ds.name);
    let marker = read_marker(&deps.s3, &bucket, &marker_key).await?;
    let size = ds.size(&deps.s3).await?;
    let models_uri = format!("s3://{bucket}/{}", deps.config.models_prefix);
    let checkpoints_uri = format!("s3://{bucket}/{}", deps.config.checkpoints_prefix);
    let plan = plan_training(
        &section,
        &TrainingInput {
            dataset: &ds.name,
            fingerprint: &fingerprint,
            data_uri: &ds.uri,
            format: &ds.format,
            compression: ds.compression,
            size,
            default_role_arn: deps.config.role_arn.as_deref(),
            models_uri: &models_uri,
            checkpoints_uri: &checkpoints_uri,
            previous_model_data_url: marker.as_ref().map(|m| m.model_data_url.as_str()),
            last_utilisation: marker
                .as_ref()
                .and_then(|m| m.utilisation.as_ref().map(|u| (m.training_job_name.as_str(), u))),
            region: &deps.region,
            last_tuning_job: marker.as_ref().and_then(|m| m.tuning_job_name.as_deref()),
        },
    )?;
    let r = &plan.request;
    deps.config.limits.check_training(
        &r.algorithm_specification.training_image,
        &r.resource_config.instance_type,
        r.resource_config.instance_count,
        r.stopping_condition.max_runtime_in_seconds,
    )?;

    if let Some(m) = marker
        .as_ref()
        .filter(|m| m.fingerprint == fingerprint && m.settings_hash == plan.settings_hash)
    {
        ensure_model(
            deps,
            &m.model_name,
            m.image.as_deref(),
            m.role_arn.as_deref(),
            &m.model_data_url,
            &ds.name,
            &fingerprint,
        )
        .await?;
        let reason = format!("fingerprint unchanged since {}", m.training_job_name);
        tracing::info!(
            dataset = ds.name,
            model = m.model_name,
            reason,
            "training skipped"
        );
        return Ok(no_training(reason, m.model_name.clone()));
    }
    let reason = match &marker {
        None => "new data: no model trained before".to_string(),
        Some(m) if m.fingerprint != fingerprint => format!("new data since {}", m.training_job_name),
        Some(m) => format!(
            "training settings changed since {} (settings {} → {})",
            m.training_job_name, m.settings_hash, plan.settings_hash
        ),
    };

    let base = plan.request.training_job_name.clone();
    let mut attempt = 1;
    let (request, model_request) = loop {
        let name = with_attempt(&base, attempt);
        match describe_training_job(&deps.sagemaker, &name).await? {
            None => {
                let mut model_request = plan.model_request.clone();
                model_request.model_name = name.clone();
                break (plan.request.renamed(&name), model_request);
            }
            Some(job) if job.status == "Completed" => {
                // Trained by an earlier run that ended before its report: adopt it.
                let image = plan.model_request.primary_container.image.clone();
                let role = plan.model_request.execution_role_arn.clone();
                let url = job.model_data_url.ok_or_else(|| {
                    Error::aws(format!("completed training job {name} has no ModelArtifacts"))
                })?;
                ensure_model(
                    deps,
                    &name,
                    Some(&image),
                    Some(&role),
                    &url,
                    &ds.name,
                    &fingerprint,
                )
                .await?;
                let adopted = LastTrained {
                    fingerprint: fingerprint.clone(),
                    settings_hash: plan.settings_hash.clone(),
                    training_job_name: name.clone(),
                    model_name: name.clone(),
                    model_data_url: url,
                    image: Some(image),
                    role_arn: Some(role),
                    execution: input.execution_name.clone(),
                    trained_at: crate::validate::values::format_timestamp(
                        crate::footprint::unix_millis_now() as i64 * 1000,
                    ),
                    utilisation: None,
                    tuning_job_name: None,
                };
                put_json(&deps.s3, &bucket, &marker_key, &adopted).await?;
                let reason =
                    format!("training job {name} already completed for this data; its model is used");
                tracing::info!(dataset = ds.name, job = name, "adopted completed training job");
                return Ok(no_training(reason, name));
            }
            Some(job) if matches!(job.status.as_str(), "Failed" | "Stopped") => {
                attempt += 1;
                if attempt > MAX_ATTEMPTS {
                    return Err(Error::aws(format!(
                        "training for this data failed or was stopped {MAX_ATTEMPTS} times ({base} .. {name}); fix the cause, then delete the marker or change the data"
                    )));
                }
            }
            Some(job) => {
                return Err(Error::JobInProgress {
                    kind: "training",
                    job: name,
                    status: job.status,
                })
            }
        }
    };
    let name = request.training_job_name.clone();
    // Tuning: the same existence rule by the tuning job's name (a completed one is adopted).
    let tuning = match plan.tuning.clone() {
        None => None,
        Some(t) => match resolve_tuning(
            deps,
            t,
            &model_request,
            &ds.name,
            &fingerprint,
            &plan.settings_hash,
        )
        .await?
        {
            Tuning::Run(t) => Some(*t),
            Tuning::Adopted {
                model,
                marker,
                reason,
            } => {
                put_json(
                    &deps.s3,
                    &bucket,
                    &marker_key,
                    &LastTrained {
                        execution: input.execution_name.clone(),
                        ..*marker
                    },
                )
                .await?;
                return Ok(no_training(reason, model));
            }
        },
    };
    let carbon = match &schedule_section {
        Some(section) => {
            let (duration, basis) = training_duration(
                request.stopping_condition.max_runtime_in_seconds,
                marker.as_ref(),
                size.bytes,
            );
            let resources = &request.resource_config;
            let instance = (resources.instance_type.as_str(), resources.instance_count);
            Some(carbon_start(deps, section, &clock, instance, duration, basis, size.bytes).await)
        }
        None => None,
    };
    let start_at = carbon.as_ref().map_or(now.clone(), |d| d.start_at.clone());
    tracing::info!(
        dataset = ds.name,
        job = name,
        instance = request.resource_config.instance_type,
        spot = request.enable_managed_spot_training,
        warm_start = plan.warm_start,
        start_at,
        reason,
        "training planned"
    );
    Ok(json!({
        "train": true,
        "reason": reason,
        "fingerprint": fingerprint,
        "trainingJobName": name,
        "modelName": model_request.model_name,
        "request": request,
        "modelRequest": model_request,
        "settingsHash": plan.settings_hash,
        "sizing": plan.sizing,
        "warmStart": plan.warm_start,
        "startAt": start_at,
        "schedule": carbon,
        "tune": tuning.is_some(),
        "tuningJobName": tuning.as_ref().map_or("", |t| t.hyper_parameter_tuning_job_name.as_str()),
        "tuningRequest": tuning.map_or_else(|| json!({}), |t| json!(t)),
    }))
}

/// The plan-transform handler on the JSON a Task sends: [`invoke`] of [`PlanTransform`].
pub async fn plan_transform_handler(deps: &Deps, event: Value) -> Result<Value> {
    invoke::<PlanTransform>(deps, event, None).await
}

/// Plan the batch transform of `input.dataset` with `input.model`, or say why there is none.
#[tracing::instrument(skip_all)]
pub async fn plan_transform_for(deps: &Deps, input: PlanTransformInput) -> Result<Value> {
    let fingerprint = input.dataset.fingerprint()?.to_string();
    let clock = Clock::from(input.now.as_deref(), input.started_at.as_deref())?;
    let ds = Loaded::load(deps, input.dataset).await?;
    let schedule_section = ds.schedule_section()?;
    let section = ds
        .training_section()?
        .map(|s| s.transform)
        .unwrap_or_else(TransformSection::default);
    let now = schedule::format_time(clock.now);
    let none = |reason: String| {
        json!({"transform": false, "reason": reason, "transformJobName": "", "modelName": "", "request": {},
               "startAt": now, "schedule": null})
    };
    if !section.enabled {
        return Ok(none(
            "batch transform is disabled in the contract (training.transform.enabled: false)".into(),
        ));
    }
    let plan_model = input
        .plan
        .get("modelName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let created = input
        .model
        .as_ref()
        .and_then(|m| m.get("ModelArn"))
        .and_then(Value::as_str)
        .map(|arn| {
            plan_model.map_or_else(
                || arn.rsplit('/').next().unwrap_or(arn).to_string(),
                str::to_string,
            )
        });
    let (model, why) = match (created, plan_model, &section.model_name, &deps.config.transform_model) {
        (Some(m), _, _, _) => (m, "the model this run trained"),
        (None, Some(m), _, _) => (m.to_string(), "the last trained model"),
        (None, None, Some(m), _) => (m.clone(), "the contract's transform.model_name"),
        (None, None, None, Some(m)) => (m.clone(), "GREENPIPE_TRANSFORM_MODEL"),
        _ => {
            return Ok(none(
                "no model: none trained yet and neither transform.model_name nor GREENPIPE_TRANSFORM_MODEL is set".into(),
            ))
        }
    };
    let size = ds.size(&deps.s3).await?;
    let bucket = deps.config.artifacts_bucket(&ds.r.bucket);
    let transform_uri = format!("s3://{bucket}/{}", deps.config.transform_prefix);
    let plan = plan_transform(
        &section,
        &TransformPlanInput {
            dataset: &ds.name,
            fingerprint: &fingerprint,
            model_name: &model,
            data_uri: &ds.uri,
            format: &ds.format,
            compression: ds.compression,
            size,
            transform_uri: &transform_uri,
        },
    )?;
    let resources = &plan.request.transform_resources;
    deps.config
        .limits
        .check_transform(&resources.instance_type, resources.instance_count)?;
    let base = plan.request.transform_job_name.clone();
    let mut attempt = 1;
    let request = loop {
        let name = with_attempt(&base, attempt);
        match describe_transform_job(&deps.sagemaker, &name).await? {
            None => break plan.request.renamed(&name),
            Some(status) if status == "Completed" => {
                let mut out = none(format!(
                    "transform job {name} already ran this data with model {model} and these settings"
                ));
                out["transformJobName"] = json!(name);
                out["modelName"] = json!(model);
                return Ok(out);
            }
            Some(status) if matches!(status.as_str(), "Failed" | "Stopped") => {
                attempt += 1;
                if attempt > MAX_ATTEMPTS {
                    return Err(Error::aws(format!(
                        "batch transform of this data failed or was stopped {MAX_ATTEMPTS} times ({base} .. {name})"
                    )));
                }
            }
            Some(status) => {
                return Err(Error::JobInProgress {
                    kind: "transform",
                    job: name,
                    status,
                })
            }
        }
    };
    let reason = format!("model {model} ({why})");
    let carbon = match &schedule_section {
        Some(schedule) => {
            let duration = (schedule.transform_hours * 3600.0).round() as i64;
            let basis = format!(
                "the contract's schedule.transform_hours ({})",
                schedule.transform_hours
            );
            let resources = &request.transform_resources;
            let instance = (resources.instance_type.as_str(), resources.instance_count);
            Some(carbon_start(deps, schedule, &clock, instance, duration, basis, size.bytes).await)
        }
        None => None,
    };
    let start_at = carbon.as_ref().map_or(now.clone(), |d| d.start_at.clone());
    tracing::info!(
        dataset = ds.name,
        job = request.transform_job_name,
        start_at,
        reason,
        "transform planned"
    );
    Ok(json!({
        "transform": true,
        "reason": reason,
        "transformJobName": request.transform_job_name,
        "modelName": model,
        "request": request,
        "sizing": plan.sizing,
        "startAt": start_at,
        "schedule": carbon,
    }))
}

enum Tuning {
    /// Run this request.
    Run(Box<super::tuning::CreateTuningJob>),
    /// A tuning job of that name completed (a run that tuned but died before its report): its best
    /// training job's model is used, and this marker records it.
    Adopted {
        model: String,
        marker: Box<LastTrained>,
        reason: String,
    },
}

/// The tuning job to run, or the completed one to adopt: `<name>`, `<name>-2`, ... as for training jobs.
async fn resolve_tuning(
    deps: &Deps,
    mut request: super::tuning::CreateTuningJob,
    model_request: &super::training::CreateModel,
    dataset: &str,
    fingerprint: &str,
    settings_hash: &str,
) -> Result<Tuning> {
    let base = request.hyper_parameter_tuning_job_name.clone();
    for attempt in 1..=MAX_ATTEMPTS {
        let name = with_attempt(&base, attempt);
        let described = match deps
            .sagemaker
            .describe_hyper_parameter_tuning_job()
            .hyper_parameter_tuning_job_name(&name)
            .send()
            .await
        {
            Ok(d) => d,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| is_not_found(se.code(), se.message())) =>
            {
                request.hyper_parameter_tuning_job_name = name;
                return Ok(Tuning::Run(Box::new(request)));
            }
            Err(e) => return Err(sdk_error(&format!("DescribeHyperParameterTuningJob {name}"), e)),
        };
        let status = described
            .hyper_parameter_tuning_job_status()
            .map_or("Unknown", |s| s.as_str())
            .to_string();
        match status.as_str() {
            "Completed" => {
                let best = described
                    .best_training_job()
                    .and_then(|b| b.training_job_name())
                    .ok_or_else(|| {
                        Error::aws(format!("completed tuning job {name} has no best training job"))
                    })?
                    .to_string();
                let output = &request.training_job_definition.output_data_config.s3_output_path;
                let url = format!("{output}{best}/output/model.tar.gz");
                let image = model_request.primary_container.image.clone();
                let role = model_request.execution_role_arn.clone();
                ensure_model(
                    deps,
                    &model_request.model_name,
                    Some(&image),
                    Some(&role),
                    &url,
                    dataset,
                    fingerprint,
                )
                .await?;
                let marker = LastTrained {
                    fingerprint: fingerprint.to_string(),
                    settings_hash: settings_hash.to_string(),
                    training_job_name: best,
                    model_name: model_request.model_name.clone(),
                    model_data_url: url,
                    image: Some(image),
                    role_arn: Some(role),
                    execution: None,
                    trained_at: crate::validate::values::format_timestamp(
                        crate::footprint::unix_millis_now() as i64 * 1000,
                    ),
                    utilisation: None,
                    tuning_job_name: Some(name.clone()),
                };
                return Ok(Tuning::Adopted {
                    model: model_request.model_name.clone(),
                    marker: Box::new(marker),
                    reason: format!(
                        "tuning job {name} already completed for this data; its best model is used"
                    ),
                });
            }
            "Failed" | "Stopped" => continue,
            _ => {
                return Err(Error::JobInProgress {
                    kind: "tuning",
                    job: name,
                    status,
                })
            }
        }
    }
    Err(Error::aws(format!(
        "tuning for this data failed or was stopped {MAX_ATTEMPTS} times ({base} ..); fix the cause, then delete the marker or change the data"
    )))
}

/// Training's expected run for the carbon window: the last job's (its one-minute utilisation samples),
/// scaled to this data's size and capped at `max_runtime`; else `max_runtime` (the window then surely
/// fits before the deadline).
fn training_duration(max_runtime: u32, marker: Option<&LastTrained>, bytes: u64) -> (i64, String) {
    let cap = i64::from(max_runtime);
    match marker.and_then(|m| m.utilisation.as_ref().map(|u| (m, u))) {
        Some((m, u)) if u.samples > 0 && u.data_bytes > 0 => {
            let last = u.samples as f64 * 60.0;
            let scaled = (last * bytes as f64 / u.data_bytes as f64).round() as i64;
            (
                scaled.clamp(60, cap.max(60)),
                format!(
                    "{}'s run ({} min on {} bytes) scaled to {bytes} bytes, at most max_runtime_seconds ({cap})",
                    m.training_job_name, u.samples, u.data_bytes
                ),
            )
        }
        _ => (
            cap,
            format!("max_runtime_seconds ({cap}): no earlier run to go by"),
        ),
    }
}

/// The marker, or None when there is none yet. A marker that does not parse is an error, not a reason
/// to retrain silently.
pub async fn read_marker(s3: &S3Client, bucket: &str, key: &str) -> Result<Option<LastTrained>> {
    let uri = s3_uri(bucket, key, None);
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| {
                    Error::retryable(format!("GetObject {uri}: body read failed: {e}")).with_source(e)
                })?
                .into_bytes();
            serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::aws(format!("last-training marker {uri} is not valid: {e}")).with_source(e)
            })
        }
        Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => Ok(None),
        Err(e) => Err(sdk_error(&format!("GetObject {uri}"), e)),
    }
}

struct JobState {
    status: String,
    model_data_url: Option<String>,
}

/// SageMaker's answer for a name that does not exist: `ResourceNotFound`, or (for some Describe calls,
/// and in emulators) a `ValidationException` saying it could not find it.
fn is_not_found(code: Option<&str>, message: Option<&str>) -> bool {
    let message = message.unwrap_or("").to_ascii_lowercase();
    code == Some("ResourceNotFound")
        || (code == Some("ValidationException")
            && (message.contains("could not find")
                || message.contains("does not exist")
                || message.contains("not found")))
}

async fn describe_training_job(sm: &SageMakerClient, name: &str) -> Result<Option<JobState>> {
    match sm.describe_training_job().training_job_name(name).send().await {
        Ok(out) => Ok(Some(JobState {
            status: out
                .training_job_status()
                .map_or_else(|| "Unknown".to_string(), |s| s.as_str().to_string()),
            model_data_url: out
                .model_artifacts()
                .and_then(|a| a.s3_model_artifacts())
                .map(str::to_string),
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| is_not_found(se.code(), se.message())) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error(&format!("DescribeTrainingJob {name}"), e)),
    }
}

async fn describe_transform_job(sm: &SageMakerClient, name: &str) -> Result<Option<String>> {
    match sm.describe_transform_job().transform_job_name(name).send().await {
        Ok(out) => Ok(Some(
            out.transform_job_status()
                .map_or_else(|| "Unknown".to_string(), |s| s.as_str().to_string()),
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| is_not_found(se.code(), se.message())) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error(&format!("DescribeTransformJob {name}"), e)),
    }
}

/// Make sure model `name` exists; recreate it from its artifacts if it was deleted (e.g. by a cleanup of
/// unused models). Without image or role to recreate it, a missing model is an error.
async fn ensure_model(
    deps: &Deps,
    name: &str,
    image: Option<&str>,
    role: Option<&str>,
    model_data_url: &str,
    dataset: &str,
    fingerprint: &str,
) -> Result<()> {
    match deps.sagemaker.describe_model().model_name(name).send().await {
        Ok(_) => return Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| is_not_found(se.code(), se.message())) => {}
        Err(e) => return Err(sdk_error(&format!("DescribeModel {name}"), e)),
    }
    let (Some(image), Some(role)) = (image, role.or(deps.config.role_arn.as_deref())) else {
        return Err(Error::aws(format!(
            "model {name} no longer exists and the marker does not say how to recreate it (image, role)"
        )));
    };
    let container = ContainerDefinition::builder()
        .image(image)
        .model_data_url(model_data_url)
        .build();
    let tags: Vec<SmTag> = managed_tags(dataset, fingerprint, &BTreeMap::new())
        .into_iter()
        .map(|t| SmTag::builder().key(t.key).value(t.value).build())
        .collect();
    deps.sagemaker
        .create_model()
        .model_name(name)
        .execution_role_arn(role)
        .primary_container(container)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| sdk_error(&format!("CreateModel {name}"), e))?;
    tracing::warn!(
        model = name,
        model_data_url,
        "model was missing: recreated from its artifacts"
    );
    Ok(())
}

/// Every SDK operation the stage sends, with what each needs from its role (see `aws::access`).
const TRAINING_CALLS: &[Call] = &[
    Call {
        operation: "s3:GetObject",
        needs: &[
            need("s3:GetObject", CONTRACT_OBJECT),
            need("s3:GetObject", MARKER_OBJECT),
            need_because("s3:ListBucket", ARTIFACTS_BUCKET, NOT_FOUND_NEEDS_LIST),
        ],
    },
    HEAD_DATA,
    Call {
        operation: "s3:PutObject",
        needs: &[need_because(
            "s3:PutObject",
            MARKER_OBJECT,
            "a completed job of an earlier run is adopted and recorded",
        )],
    },
    Call {
        operation: "sagemaker:DescribeTrainingJob",
        needs: &[need("sagemaker:DescribeTrainingJob", TRAINING_JOB)],
    },
    Call {
        operation: "sagemaker:DescribeHyperParameterTuningJob",
        needs: &[need("sagemaker:DescribeHyperParameterTuningJob", TUNING_JOB)],
    },
    Call {
        operation: "sagemaker:DescribeModel",
        needs: &[need("sagemaker:DescribeModel", MODEL)],
    },
    Call {
        operation: "sagemaker:CreateModel",
        needs: &[
            need("sagemaker:CreateModel", MODEL),
            need_because("sagemaker:AddTags", MODEL, "the model is created with tags"),
            need_because(
                "iam:PassRole",
                SAGEMAKER_ROLE,
                "the model runs under the SageMaker role",
            ),
        ],
    },
];

/// Every SDK operation the stage sends, with what each needs from its role (see `aws::access`).
const TRANSFORM_CALLS: &[Call] = &[
    GET_CONTRACT,
    HEAD_DATA,
    Call {
        operation: "sagemaker:DescribeTransformJob",
        needs: &[need("sagemaker:DescribeTransformJob", TRANSFORM_JOB)],
    },
];

/// plan-training as a Lambda function (`functions/plan-training`).
pub struct PlanTraining;

impl StageFunction for PlanTraining {
    const STAGE: Stage = Stage::PlanTraining;
    const CALLS: &'static [Call] = TRAINING_CALLS;
    type Deps = Deps;
    type Request = PlanTrainingInput;
    /// The plan: `{train, reason, request, modelRequest, ...}` as the definition's Train? reads it.
    type Response = Value;
    const EXPECTS: &'static str =
        "{dataset: {bucket, key, fingerprint, contract: {name, source}, ...}, executionName}";

    fn deps(env: Lookup<'_>, sdk: &SdkConfig) -> Result<Deps> {
        Ok(Deps::new(Stage::PlanTraining, PlanConfig::from_lookup(env)?, sdk))
    }

    fn placeholders(env: Lookup<'_>, bucket: &str) -> Result<BTreeMap<&'static str, String>> {
        Ok(PlanConfig::from_lookup(env)?.placeholders(bucket))
    }

    async fn handle(deps: &Deps, input: PlanTrainingInput, _deadline: Option<SystemTime>) -> Result<Value> {
        plan_training_for(deps, input).await
    }
}

/// plan-transform as a Lambda function (`functions/plan-transform`).
pub struct PlanTransform;

impl StageFunction for PlanTransform {
    const STAGE: Stage = Stage::PlanTransform;
    const CALLS: &'static [Call] = TRANSFORM_CALLS;
    type Deps = Deps;
    type Request = PlanTransformInput;
    /// `{transform, reason, request, ...}` as the definition's Transform? reads it.
    type Response = Value;
    const EXPECTS: &'static str = "{dataset: {...}, plan: {...}, model?: {ModelArn}}";

    fn deps(env: Lookup<'_>, sdk: &SdkConfig) -> Result<Deps> {
        Ok(Deps::new(
            Stage::PlanTransform,
            PlanConfig::from_lookup(env)?,
            sdk,
        ))
    }

    fn placeholders(env: Lookup<'_>, bucket: &str) -> Result<BTreeMap<&'static str, String>> {
        Ok(PlanConfig::from_lookup(env)?.placeholders(bucket))
    }

    async fn handle(deps: &Deps, input: PlanTransformInput, _deadline: Option<SystemTime>) -> Result<Value> {
        plan_transform_for(deps, input).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn config_from_env() {
        let vars: HashMap<&str, &str> = HashMap::from([
            ("GREENPIPE_SAGEMAKER_ROLE_ARN", "arn:aws:iam::1:role/r"),
            ("GREENPIPE_STATE_PREFIX", "/st"),
            ("GREENPIPE_NOMINAL_LAMBDA_MS", "1_500"),
            ("GREENPIPE_LAMBDA_ARCH", "x86_64"),
            ("GREENPIPE_ALLOWED_INSTANCE_TYPES", "ml.m5.large, ml.m5.xlarge,"),
            ("GREENPIPE_MAX_INSTANCE_COUNT", "2"),
        ]);
        let c = PlanConfig::from_lookup(|n| vars.get(n).map(|v| v.to_string())).unwrap();
        assert_eq!(c.role_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(c.state_prefix, "st/");
        assert_eq!(c.nominal_lambda_ms, 1500);
        assert_eq!(c.lambda_arch, Arch::X86_64);
        assert_eq!(c.limits.instance_types, ["ml.m5.large", "ml.m5.xlarge"]);
        assert_eq!(c.limits.max_instance_count, Some(2));
        assert!(c.limits.image_repositories.is_empty() && c.limits.max_runtime_seconds.is_none());
        assert_eq!(c.marker_key("Sales EU"), "st/Sales-EU/last-training.json");
        assert_eq!(c.run_report_key("exec/1"), "greenpipe/reports/runs/exec_1.json");
        for (k, v) in [
            ("GREENPIPE_NOMINAL_LAMBDA_MEMORY_MB", "64"),
            ("GREENPIPE_LAMBDA_ARCH", "sparc"),
            ("GREENPIPE_MODELS_PREFIX", "/"),
            ("GREENPIPE_MAX_INSTANCE_COUNT", "0"),
            ("GREENPIPE_MAX_RUNTIME_SECONDS", "1h"),
        ] {
            let err = PlanConfig::from_lookup(|n| (n == k).then(|| v.to_string())).unwrap_err();
            assert_eq!(err.error_type(), "ConfigError", "{k}");
        }
    }

    #[test]
    fn s3_uris_and_not_found() {
        use crate::aws::contracts::parse_s3_uri;
        assert_eq!(parse_s3_uri("s3://b/k/x.yaml").unwrap(), ("b", "k/x.yaml"));
        assert!(parse_s3_uri("s3://b").is_err());
        assert!(parse_s3_uri("https://b/k").is_err());
        assert!(is_not_found(Some("ResourceNotFound"), None));
        assert!(is_not_found(
            Some("ValidationException"),
            Some("Could not find model 'x'.")
        ));
        assert!(!is_not_found(Some("ValidationException"), Some("bad name")));
    }
}
