//! The cleanup-idle stage: list (every listing paginated to the end), plan ([`super::plan`]),
//! act (or not, in a dry run), report.
//!
//! Input: an EventBridge Scheduler / scheduled-rule event (`detail` may carry overrides), a bare JSON
//! object of [`Overrides`], or `null`/`{}`. Output: the [`CleanupReport`], also written to
//! `s3://<report bucket>/<prefix>reports/<run id>.json` and summarised as EMF lines on stdout.
//!
//! Safety: a listing that fails is recorded and the run goes on without it; when endpoints or endpoint
//! configs cannot all be described, nothing is judged an orphan (a config we could not see might be in
//! use). A resource whose tags cannot be read is left out (its keep tag is unknown). Each action has its
//! own outcome; one failure never stops the others. An endpoint is deleted only after its restore
//! manifest is in S3.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde::Deserialize;
use serde_json::Value;

use super::actions::execute;
use super::listing::collect;
use super::{plan, CleanupConfig, CleanupReport, Epoch, Overrides};
use crate::aws::sdk_error;
use crate::footprint::unix_millis_now;
use crate::stages::Stage;
use crate::{Error, Result};

/// Where "now" comes from. Tests fix it so that ages are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    System,
    Fixed(Epoch),
}

impl Clock {
    pub fn now(self) -> Epoch {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            Clock::Fixed(t) => t,
        }
    }
}

/// Everything an invocation needs, built once per cold start.
pub struct Deps {
    pub config: CleanupConfig,
    pub region: String,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub s3: aws_sdk_s3::Client,
    pub clock: Clock,
}

impl Deps {
    /// Configuration from the environment, SDK clients from the standard chain.
    pub async fn from_env() -> Result<Deps> {
        let config = CleanupConfig::from_env()?;
        let base = crate::aws::Config::from_env()?;
        let sdk = crate::aws::load_sdk_config().await;
        Ok(Deps::new(config, &sdk, base.s3_client(&sdk)))
    }

    pub fn new(config: CleanupConfig, sdk: &SdkConfig, s3: aws_sdk_s3::Client) -> Deps {
        Deps {
            config,
            region: sdk
                .region()
                .map_or_else(|| "us-east-1".to_string(), |r| r.to_string()),
            sagemaker: crate::guarded_client!(aws_sdk_sagemaker, Stage::CleanupIdle, sdk),
            cloudwatch: crate::guarded_client!(aws_sdk_cloudwatch, Stage::CleanupIdle, sdk),
            logs: crate::guarded_client!(aws_sdk_cloudwatchlogs, Stage::CleanupIdle, sdk),
            s3: crate::aws::access::guard_s3(Stage::CleanupIdle, &s3),
            clock: Clock::System,
        }
    }
}

/// The event: a scheduled event whose `detail` holds overrides, or the overrides themselves.
pub fn parse_event(event: &Value) -> Result<Overrides> {
    let overrides = match event {
        Value::Null => return Ok(Overrides::default()),
        Value::Object(map) if map.contains_key("detail-type") || map.contains_key("source") => {
            match map.get("detail") {
                None | Some(Value::Null) => return Ok(Overrides::default()),
                Some(Value::Object(_)) => map["detail"].clone(),
                Some(other) => {
                    return Err(Error::InvalidEvent(format!(
                        "detail must be an object, got {other}"
                    )))
                }
            }
        }
        Value::Object(_) => event.clone(),
        other => {
            return Err(Error::InvalidEvent(format!(
                "expected a scheduled event or a JSON object of overrides, got {other}"
            )))
        }
    };
    Overrides::deserialize(overrides).map_err(|e| Error::InvalidEvent(format!("overrides: {e}")))
}

/// One invocation: overrides, inventory, plan, actions, report (S3 + EMF).
pub async fn handle(deps: &Deps, event: Value) -> Result<CleanupReport> {
    let config = deps.config.with_event_overrides(&parse_event(&event)?)?;
    let report = run(deps, &config).await?;
    // Metrics as CloudWatch EMF lines in the function's log (stdout), not extra API calls.
    match report.emf_lines(unix_millis_now()) {
        Ok(lines) => crate::telemetry::emit_emf(&lines),
        Err(e) => tracing::warn!(error = %e, "cleanup EMF metrics not emitted"),
    }
    Ok(report)
}

/// A run with an explicit configuration (the CLI's entry point).
pub async fn run(deps: &Deps, config: &CleanupConfig) -> Result<CleanupReport> {
    let now = deps.clock.now();
    let at = rfc3339(now);
    let run_id = format!("cleanup-{}", at.replace([':', '-'], ""));
    let inventory = collect(deps, config, now).await;
    let plan = plan(&inventory, config, now, &deps.region);
    let records = execute(deps, config, &plan, &run_id, &at).await;
    let mut report = CleanupReport::new(
        run_id.clone(),
        at,
        config.dry_run,
        deps.region.clone(),
        &plan,
        records,
    );
    report.inventory_errors = inventory.errors;
    report.listing_pages = inventory.pages;

    if let Some(bucket) = &config.report_bucket {
        let key = format!("{}reports/{run_id}.json", config.report_prefix);
        report.report_uri = Some(format!("s3://{bucket}/{key}"));
        let body = serde_json::to_vec_pretty(&report).map_err(Error::serialize("the cleanup report"))?;
        deps.s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| sdk_error(&format!("PutObject s3://{bucket}/{key}"), e))?;
    }
    tracing::info!(
        run_id = %report.run_id,
        dry_run = report.dry_run,
        done = report.totals.done,
        would_do = report.totals.would_do,
        failed = report.totals.failed,
        "cleanup finished"
    );
    Ok(report)
}

pub(crate) fn rfc3339(t: Epoch) -> String {
    DateTime::from_secs(t)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| t.to_string())
}
