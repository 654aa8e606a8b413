//! The report-run stage: the last state of every execution, on success and on the failure path.
//! It lists what the run left in the artifacts bucket (the jobs' output and checkpoints) for the
//! report's storage line, and reads a completed training job's use of its instances from CloudWatch
//! ([`super::utilisation`]) into the report and the marker, for plan-training to size the next job.
//!
//! Input: the whole state (`$`) plus `{"status": "SUCCEEDED" | "FAILED", "execution": {"Name",
//! "StartTime"}}` (`$.error` set on the failure path). It builds the run report
//! ([`super::run_report`]): stages, durations, job facts, records written, skips, the error, and
//! $ / kWh / kgCO2e per stage and in total; writes it to
//! `s3://<artifacts bucket>/<reports prefix>runs/<execution name>.json`; logs it and prints one EMF line
//! per stage and one for the total (CloudWatch turns them into metrics); and, when the run trained and
//! created a model, writes the "last trained" marker plan-training reads next time. Output:
//! `{"reportUri", "status", "totals": {"usd", "kwh", "kgco2e", "embodiedKgco2e", "excludes"?},
//! "stages": [{"stage", "status", "seconds"?, "measured"?, "usd"?, "kgco2e"?, "unmodelled"?}],
//! "markerUri"?}`: the report's lines in brief, for whoever started the run.

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_cloudwatch::Client as CloudWatchClient;
use aws_sdk_s3::Client as S3Client;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::{Instant, SystemTime};

use super::run_report::{build, emf_lines, last_trained, written_prefixes, ReportSettings, Stored};
use super::utilisation;
use crate::aws::access::{need, need_because, Call, ANY, ARTIFACTS_BUCKET, MARKER_OBJECT, RUN_REPORT_OBJECT};
use crate::aws::s3::{list_all, put_json, s3_uri};
use crate::aws::sdk_error;
use crate::footprint::unix_millis_now;
use crate::pipeline::{Dataset, Measured, Utilisation};
use crate::stages::plan::handler::PlanConfig;
use crate::stages::{Lookup, Stage, StageFunction, MEMORY_VARIABLE};
use crate::{Error, Result};

/// Everything an invocation needs, built once per cold start: S3 (the report, the marker, the listing
/// of what the run wrote) and CloudWatch (the training job's utilisation).
pub struct Deps {
    pub config: PlanConfig,
    pub s3: S3Client,
    pub cloudwatch: CloudWatchClient,
    /// Region of the SDK configuration (the footprint's grid factor).
    pub region: String,
    /// The function's configured memory (its own line of the report).
    pub memory_mb: Option<u32>,
}

impl Deps {
    /// The S3 client from `sdk`, with the stage's guard.
    pub fn new(config: PlanConfig, sdk: &SdkConfig) -> Deps {
        Deps {
            s3: config.base.stage_s3_client(Stage::ReportRun, sdk),
            cloudwatch: crate::guarded_client!(aws_sdk_cloudwatch, Stage::ReportRun, sdk),
            region: sdk
                .region()
                .map_or_else(|| "us-east-1".to_string(), |r| r.to_string()),
            config,
            memory_mb: None,
        }
    }

    fn report_settings(&self, started: Instant, stored: Vec<Stored>) -> ReportSettings {
        ReportSettings {
            region: self.region.clone(),
            nominal_lambda_ms: self.config.nominal_lambda_ms,
            nominal_lambda_memory_mb: self.config.nominal_lambda_memory_mb,
            lambda_arch: self.config.lambda_arch,
            own: Some(Measured {
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
                memory_mb: self.memory_mb,
                init_ms: None,
                count: 1,
            }),
            stored,
            utilisation: None,
            utilisation_unread: None,
        }
    }
}

/// The report-run handler (see the module docs). `now_ms`: the report's time, Unix milliseconds.
#[tracing::instrument(skip_all)]
pub async fn report_run_handler(deps: &Deps, event: Value) -> Result<Value> {
    report_run_at(deps, event, unix_millis_now()).await
}

pub async fn report_run_at(deps: &Deps, state: Value, now_ms: u64) -> Result<Value> {
    let started = Instant::now();
    if !state.is_object() {
        return Err(Error::InvalidEvent(
            "report-run expects the execution's state object".into(),
        ));
    }
    let dataset: Option<Dataset> = state
        .get("dataset")
        .and_then(|d| serde_json::from_value(d.clone()).ok());
    let bucket = match (&deps.config.artifacts_bucket, &dataset) {
        (Some(b), _) => b.clone(),
        (None, Some(d)) => d.bucket.clone(),
        (None, None) => {
            return Err(Error::InvalidEvent(
                "report-run: no dataset in the state and GREENPIPE_ARTIFACTS_BUCKET is not set: nowhere to write the report".into(),
            ))
        }
    };
    let stored = list_written(&deps.s3, &bucket, &state).await?;
    // Advisory: metrics that cannot be read leave the report without them, and say why.
    let (utilisation, unread) = match training_utilisation(&deps.cloudwatch, &state).await {
        Ok(u) => (u, None),
        Err(e) => {
            tracing::warn!(error = %e, "training utilisation not read");
            (None, Some(e.to_string()))
        }
    };
    let mut settings = deps.report_settings(started, stored);
    settings.utilisation = utilisation.clone();
    settings.utilisation_unread = unread;
    let report = build(&state, &settings, now_ms)?;
    let pipeline = dataset.as_ref().and_then(Dataset::name).unwrap_or_default();

    let key = deps.config.run_report_key(&report.execution);
    put_json(&deps.s3, &bucket, &key, &report).await?;
    let report_uri = s3_uri(&bucket, &key, None);

    let mut marker_uri = None;
    let name = dataset.as_ref().and_then(Dataset::name);
    if let (Some(mut marker), Some(name)) = (last_trained(&state, now_ms), name) {
        marker.utilisation = utilisation;
        let marker_key = deps.config.marker_key(&name);
        put_json(&deps.s3, &bucket, &marker_key, &marker).await?;
        tracing::info!(
            model = marker.model_name,
            fingerprint = marker.fingerprint,
            "recorded last trained model"
        );
        marker_uri = Some(s3_uri(&bucket, &marker_key, None));
    }

    // EMF goes to the function's log, where CloudWatch Logs turns it into metrics.
    crate::telemetry::emit_emf(&emf_lines(&report, &pipeline, now_ms)?);
    tracing::info!(
        execution = report.execution,
        status = report.status,
        report = report_uri,
        usd = report.totals.usd,
        kwh = report.totals.kwh,
        kgco2e = report.totals.kgco2e,
        skips = report.skips.len(),
        "run report written"
    );
    let stages: Vec<Value> = report
        .stages
        .iter()
        .map(|s| {
            let mut line = json!({"stage": s.stage, "status": s.status});
            if let Some(seconds) = s.duration_seconds {
                line["seconds"] = json!(seconds);
            }
            if let Some(measured) = s.measured {
                line["measured"] = json!(measured);
            }
            if let Some(f) = &s.footprint {
                line["usd"] = json!(f.usd);
                line["kgco2e"] = json!(f.kg_co2e + f.embodied_kg_co2e);
            }
            if let Some(why) = &s.unmodelled {
                line["unmodelled"] = json!(why);
            }
            if let Some(window) = &s.carbon_window {
                line["carbonWindow"] = window.clone();
            }
            line
        })
        .collect();
    let mut totals = json!({
        "usd": report.totals.usd,
        "kwh": report.totals.kwh,
        "kgco2e": report.totals.kgco2e,
        "embodiedKgco2e": report.totals.embodied_kgco2e,
    });
    if report.totals.carbon_avoided_kgco2e != 0.0 {
        totals["carbonAvoidedKgco2e"] = json!(report.totals.carbon_avoided_kgco2e);
    }
    if !report.totals.excludes.is_empty() {
        totals["excludes"] = json!(report.totals.excludes);
    }
    let mut out = json!({
        "reportUri": report_uri,
        "status": report.status,
        "totals": totals,
        "stages": stages,
    });
    if let Some(uri) = marker_uri {
        out["markerUri"] = json!(uri);
    }
    Ok(out)
}

/// The objects and bytes under each prefix the run wrote to ([`written_prefixes`]) in the artifacts
/// bucket, following pagination. Prefixes elsewhere are not the planner's and are left out.
async fn list_written(s3: &S3Client, artifacts_bucket: &str, state: &Value) -> Result<Vec<Stored>> {
    let mut stored = Vec::new();
    for (what, uri) in written_prefixes(state) {
        let Some((bucket, prefix)) = uri.strip_prefix("s3://").and_then(|rest| rest.split_once('/')) else {
            continue;
        };
        if bucket != artifacts_bucket {
            tracing::warn!(
                uri,
                "not in the artifacts bucket: not counted as the run's storage"
            );
            continue;
        }
        let listed = list_all(s3, bucket, prefix).await?;
        stored.push(Stored {
            what: what.to_string(),
            objects: listed.len() as u64,
            bytes: listed
                .iter()
                .map(|o| o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
                .sum(),
            uri,
        });
    }
    Ok(stored)
}

/// A completed training job's use of its instances over its run, from the per-host series SageMaker
/// publishes to CloudWatch; `None` when the run trained nothing or no data points came back.
async fn training_utilisation(cloudwatch: &CloudWatchClient, state: &Value) -> Result<Option<Utilisation>> {
    let Some(training) = state
        .get("training")
        .filter(|t| {
            matches!(
                t.get("TrainingJobStatus").and_then(Value::as_str),
                Some("Completed" | "Stopped")
            )
        })
        .filter(|t| !super::run_report::planned_stand_in(t))
    else {
        return Ok(None);
    };
    let text = |p: &str| training.pointer(p).and_then(Value::as_str);
    let (Some(job), Some(instance_type), Some((start, end))) = (
        text("/TrainingJobName"),
        text("/ResourceConfig/InstanceType"),
        utilisation::window(training),
    ) else {
        return Ok(None);
    };
    let count = training
        .pointer("/ResourceConfig/InstanceCount")
        .and_then(Value::as_u64)
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(1);
    let queries = utilisation::queries(job, count);
    let requests: Vec<MetricDataQuery> = queries
        .iter()
        .map(|q| {
            let metric = Metric::builder()
                .namespace(utilisation::NAMESPACE)
                .metric_name(q.metric)
                .dimensions(Dimension::builder().name("Host").value(&q.host).build())
                .build();
            MetricDataQuery::builder()
                .id(&q.id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(utilisation::PERIOD_SECONDS)
                        .stat(q.stat)
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();
    let mut values: HashMap<String, Vec<f64>> = HashMap::new();
    let mut pages = cloudwatch
        .get_metric_data()
        .set_metric_data_queries(Some(requests))
        .start_time(DateTime::from_millis(start))
        .end_time(DateTime::from_millis(end))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error(&format!("GetMetricData for training job {job}"), e))?;
        for result in page.metric_data_results() {
            if let Some(id) = result.id() {
                values
                    .entry(id.to_string())
                    .or_default()
                    .extend_from_slice(result.values());
            }
        }
    }
    let data_bytes = state
        .pointer("/dataset/size")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let summary = utilisation::summarise(instance_type, count, data_bytes, &queries, &values);
    tracing::info!(
        job,
        samples = summary.as_ref().map_or(0, |u| u.samples),
        "training utilisation"
    );
    Ok(summary)
}

/// Every SDK operation the stage sends, with what each needs from its role (see `aws::access`).
const CALLS: &[Call] = &[
    Call {
        operation: "s3:PutObject",
        needs: &[
            need("s3:PutObject", RUN_REPORT_OBJECT),
            need_because("s3:PutObject", MARKER_OBJECT, "the last-trained marker"),
        ],
    },
    Call {
        operation: "cloudwatch:GetMetricData",
        needs: &[need_because(
            "cloudwatch:GetMetricData",
            ANY,
            "the training job's utilisation (GetMetricData has no resource-level permissions)",
        )],
    },
    Call {
        operation: "s3:ListObjectsV2",
        needs: &[need_because(
            "s3:ListBucket",
            ARTIFACTS_BUCKET,
            "what the run left (jobs' output, checkpoints) for the storage line",
        )],
    },
];

/// report-run as a Lambda function (`functions/report-run`).
pub struct ReportRun;

impl StageFunction for ReportRun {
    const STAGE: Stage = Stage::ReportRun;
    const CALLS: &'static [Call] = CALLS;
    type Deps = Deps;
    /// The execution's whole state (`dataset`, `plan`, `training`, `error`, ...: whatever the run
    /// reached), read field by field: a failed run has only some of them.
    type Request = Value;
    type Response = Value;
    const EXPECTS: &'static str = "the execution's state object";

    fn deps(env: Lookup<'_>, sdk: &SdkConfig) -> Result<Deps> {
        let mut deps = Deps::new(PlanConfig::from_lookup(env)?, sdk);
        deps.memory_mb = env(MEMORY_VARIABLE).and_then(|m| m.trim().parse().ok());
        Ok(deps)
    }

    fn placeholders(env: Lookup<'_>, bucket: &str) -> Result<BTreeMap<&'static str, String>> {
        Ok(PlanConfig::from_lookup(env)?.placeholders(bucket))
    }

    async fn handle(deps: &Deps, event: Value, _deadline: Option<SystemTime>) -> Result<Value> {
        report_run_handler(deps, event).await
    }
}
