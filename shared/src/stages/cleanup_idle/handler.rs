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

use std::collections::BTreeMap;
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
use crate::aws::access::{
    need, need_because, Call, ANY, CLEANUP_BUCKET, CLEANUP_EVENT_BUS, CLEANUP_MANIFEST_OBJECT,
    CLEANUP_NOTICE_TOPIC, CLEANUP_OBJECT, CLEANUP_REPORT_OBJECT, LOG_GROUP, SAGEMAKER_ANY,
};
use crate::aws::sdk_error;
use crate::footprint::unix_millis_now;
use crate::stages::{Lookup, Stage, StageFunction};
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
    /// Grace-period notices.
    pub sns: aws_sdk_sns::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub clock: Clock,
}

impl Deps {
    /// Clients from `sdk` (and `s3`, built with the stage's S3 settings), each with the stage's guard.
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
            sns: crate::guarded_client!(aws_sdk_sns, Stage::CleanupIdle, sdk),
            events: crate::guarded_client!(aws_sdk_eventbridge, Stage::CleanupIdle, sdk),
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
    let executed = execute(deps, config, &plan, &run_id, &at).await;
    let mut report = CleanupReport::new(
        run_id.clone(),
        at,
        config.dry_run,
        deps.region.clone(),
        &plan,
        executed.records,
    );
    report.notices = executed.notices;
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

pub fn rfc3339(t: Epoch) -> String {
    DateTime::from_secs(t)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| t.to_string())
}

/// Every SDK operation the stage sends, with what each needs from its role (see `aws::access`).
const CALLS: &[Call] = &[
    Call {
        operation: "sagemaker:ListEndpoints",
        needs: &[need("sagemaker:ListEndpoints", ANY)],
    },
    Call {
        operation: "sagemaker:DescribeEndpoint",
        needs: &[need("sagemaker:DescribeEndpoint", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DescribeEndpointConfig",
        needs: &[need("sagemaker:DescribeEndpointConfig", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:ListEndpointConfigs",
        needs: &[need("sagemaker:ListEndpointConfigs", ANY)],
    },
    Call {
        operation: "sagemaker:ListModels",
        needs: &[need("sagemaker:ListModels", ANY)],
    },
    Call {
        operation: "sagemaker:DescribeModel",
        needs: &[need("sagemaker:DescribeModel", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:ListNotebookInstances",
        needs: &[need("sagemaker:ListNotebookInstances", ANY)],
    },
    Call {
        operation: "sagemaker:ListApps",
        needs: &[need("sagemaker:ListApps", ANY)],
    },
    Call {
        operation: "sagemaker:DescribeApp",
        needs: &[need("sagemaker:DescribeApp", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:ListDomains",
        needs: &[need("sagemaker:ListDomains", ANY)],
    },
    Call {
        operation: "sagemaker:DescribeDomain",
        needs: &[need("sagemaker:DescribeDomain", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:ListUserProfiles",
        needs: &[need("sagemaker:ListUserProfiles", ANY)],
    },
    Call {
        operation: "sagemaker:DescribeUserProfile",
        needs: &[need("sagemaker:DescribeUserProfile", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:ListSpaces",
        needs: &[need("sagemaker:ListSpaces", ANY)],
    },
    Call {
        operation: "sagemaker:ListTrainingJobs",
        needs: &[need("sagemaker:ListTrainingJobs", ANY)],
    },
    Call {
        operation: "sagemaker:ListProcessingJobs",
        needs: &[need("sagemaker:ListProcessingJobs", ANY)],
    },
    Call {
        operation: "sagemaker:ListTransformJobs",
        needs: &[need("sagemaker:ListTransformJobs", ANY)],
    },
    Call {
        operation: "sagemaker:DescribeTrainingJob",
        needs: &[need("sagemaker:DescribeTrainingJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DescribeProcessingJob",
        needs: &[need("sagemaker:DescribeProcessingJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DescribeTransformJob",
        needs: &[need("sagemaker:DescribeTransformJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:ListTags",
        needs: &[need("sagemaker:ListTags", SAGEMAKER_ANY)],
    },
    Call {
        operation: "cloudwatch:GetMetricData",
        needs: &[need("cloudwatch:GetMetricData", ANY)],
    },
    Call {
        operation: "sagemaker:DeleteEndpoint",
        needs: &[need("sagemaker:DeleteEndpoint", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DeleteEndpointConfig",
        needs: &[need("sagemaker:DeleteEndpointConfig", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DeleteModel",
        needs: &[need("sagemaker:DeleteModel", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:StopNotebookInstance",
        needs: &[need("sagemaker:StopNotebookInstance", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DeleteApp",
        needs: &[need("sagemaker:DeleteApp", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:UpdateDomain",
        needs: &[need("sagemaker:UpdateDomain", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:UpdateUserProfile",
        needs: &[need("sagemaker:UpdateUserProfile", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:AddTags",
        needs: &[need_because(
            "sagemaker:AddTags",
            SAGEMAKER_ANY,
            "grace period: mark a resource before acting on it",
        )],
    },
    Call {
        operation: "sagemaker:DeleteTags",
        needs: &[need_because(
            "sagemaker:DeleteTags",
            SAGEMAKER_ANY,
            "grace period: clear a mark",
        )],
    },
    Call {
        operation: "sns:Publish",
        needs: &[need_because(
            "sns:Publish",
            CLEANUP_NOTICE_TOPIC,
            "grace period: notify of marks",
        )],
    },
    Call {
        operation: "events:PutEvents",
        needs: &[need_because(
            "events:PutEvents",
            CLEANUP_EVENT_BUS,
            "grace period: an event per mark",
        )],
    },
    Call {
        operation: "sagemaker:StopTrainingJob",
        needs: &[need("sagemaker:StopTrainingJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:StopProcessingJob",
        needs: &[need("sagemaker:StopProcessingJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:StopTransformJob",
        needs: &[need("sagemaker:StopTransformJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "logs:DescribeLogGroups",
        needs: &[need("logs:DescribeLogGroups", ANY)],
    },
    Call {
        operation: "logs:ListTagsForResource",
        needs: &[need("logs:ListTagsForResource", LOG_GROUP)],
    },
    Call {
        operation: "logs:PutRetentionPolicy",
        needs: &[need("logs:PutRetentionPolicy", LOG_GROUP)],
    },
    Call {
        operation: "s3:ListBuckets",
        needs: &[need("s3:ListAllMyBuckets", ANY)],
    },
    Call {
        operation: "s3:GetBucketTagging",
        needs: &[need("s3:GetBucketTagging", CLEANUP_BUCKET)],
    },
    Call {
        operation: "s3:GetBucketLifecycleConfiguration",
        needs: &[need("s3:GetLifecycleConfiguration", CLEANUP_BUCKET)],
    },
    Call {
        operation: "s3:PutBucketLifecycleConfiguration",
        needs: &[need("s3:PutLifecycleConfiguration", CLEANUP_BUCKET)],
    },
    Call {
        operation: "s3:ListObjectsV2",
        needs: &[need("s3:ListBucket", CLEANUP_BUCKET)],
    },
    Call {
        operation: "s3:DeleteObjects",
        needs: &[need("s3:DeleteObject", CLEANUP_OBJECT)],
    },
    Call {
        operation: "s3:PutObject",
        needs: &[
            need("s3:PutObject", CLEANUP_REPORT_OBJECT),
            need_because(
                "s3:PutObject",
                CLEANUP_MANIFEST_OBJECT,
                "restore manifest before a delete",
            ),
        ],
    },
];

/// cleanup-idle as a Lambda function (`functions/cleanup-idle`): its answer is the run's report.
pub struct CleanupIdle;

impl StageFunction for CleanupIdle {
    const STAGE: Stage = Stage::CleanupIdle;
    const CALLS: &'static [Call] = CALLS;
    type Deps = Deps;
    /// A scheduled event (overrides in `detail`) or the overrides alone: read by [`parse_event`].
    type Request = Value;
    type Response = CleanupReport;
    const EXPECTS: &'static str = "an EventBridge Scheduler event or a JSON object of overrides";

    fn deps(env: Lookup<'_>, sdk: &SdkConfig) -> Result<Deps> {
        let s3 = crate::aws::Config::from_lookup(env)?.s3_client(sdk);
        Ok(Deps::new(CleanupConfig::from_lookup(env)?, sdk, s3))
    }

    fn placeholders(env: Lookup<'_>, bucket: &str) -> Result<BTreeMap<&'static str, String>> {
        Ok(CleanupConfig::from_lookup(env)?.placeholders(bucket))
    }

    async fn handle(deps: &Deps, event: Value, _deadline: Option<SystemTime>) -> Result<CleanupReport> {
        handle(deps, event).await
    }
}
