//! cleanup-idle's actions: carry out the plan, each item with its own outcome (one failure never stops
//! the others); nothing changes in a dry run. An endpoint is deleted only after its restore manifest is
//! in S3.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::types::AppType;

use super::endpoint_restore::build_manifest;
use super::handler::Deps;
use super::listing::{app_lifecycle, idle_shutdown_off};
use super::notice;
use super::{Action, ActionRecord, CleanupConfig, Decision, Outcome, Plan, PlanItem, ResourceKind};
use crate::aws::sdk_error;
use crate::{Error, Result};

/// DeleteObjects takes at most 1,000 keys per request.
const MAX_DELETE_KEYS: usize = 1000;

/// What a run did: a record per plan item, and the grace-period notices sent.
pub struct Executed {
    pub records: Vec<ActionRecord>,
    pub notices: Vec<String>,
}

/// Carry out the plan: every item gets its own outcome; nothing is changed in a dry run. Marks
/// (grace period) are made with the rest, then notified ([`notice::notify`]).
pub async fn execute(deps: &Deps, c: &CleanupConfig, plan: &Plan, run_id: &str, at: &str) -> Executed {
    let mut records: Vec<ActionRecord> = plan
        .items
        .iter()
        .map(|i| ActionRecord::pending(i, c.dry_run))
        .collect();
    if c.dry_run {
        return Executed {
            records,
            notices: Vec::new(),
        };
    }
    let mut objects: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for (i, item) in plan.items.iter().enumerate() {
        if let Decision::Mark { acts_after } = &item.decision {
            if let Err(e) = notice::mark(deps, item, acts_after).await {
                records[i].outcome = failed(&e);
            }
            continue;
        }
        if item.decision != Decision::Act {
            continue;
        }
        if item.action == Action::DeleteObject {
            if let Some((bucket, key)) = item.id.split_once('/') {
                objects
                    .entry(bucket.to_string())
                    .or_default()
                    .push((i, key.to_string()));
            }
            continue;
        }
        match act(deps, c, item, run_id, at).await {
            Ok(Acted::Done { manifest }) => records[i].manifest = manifest,
            Ok(Acted::Held { why }) => {
                records[i].outcome = Outcome::Reported;
                records[i].reason = format!("{}; not deleted: {why}", records[i].reason);
            }
            Err(e) => records[i].outcome = failed(&e),
        }
    }
    for (bucket, keys) in objects {
        delete_objects(deps, &bucket, &keys, &mut records).await;
    }
    let notices = notice::notify(deps, c, plan, run_id, &mut records).await;
    Executed { records, notices }
}

fn failed(e: &Error) -> Outcome {
    Outcome::Failed {
        error_type: e.error_type().to_string(),
        message: e.to_string(),
    }
}

/// What one action came to.
enum Acted {
    /// Done; for endpoints, the restore manifest's URI.
    Done { manifest: Option<String> },
    /// Left as it is, and why (reported, not failed): an endpoint whose manifest cannot carry all its
    /// settings.
    Held { why: String },
}

/// One action.
async fn act(deps: &Deps, c: &CleanupConfig, item: &PlanItem, run_id: &str, at: &str) -> Result<Acted> {
    let sm = &deps.sagemaker;
    let id = item.id.as_str();
    match item.action {
        Action::DeleteEndpoint => {
            let bucket = c.report_bucket.as_deref().ok_or_else(|| {
                Error::Config("GREENPIPE_CLEANUP_REPORT_BUCKET is not set: no manifest, no delete".into())
            })?;
            let (manifest, uncaptured) = build_manifest(sm, id, at, &item.reason).await?;
            if !uncaptured.is_empty() {
                return Ok(Acted::Held {
                    why: format!(
                        "its restore manifest cannot carry {} (the endpoint could not come back as it is)",
                        uncaptured.join("; ")
                    ),
                });
            }
            let key = format!("{}manifests/{id}/{run_id}.json", c.report_prefix);
            let body = serde_json::to_vec_pretty(&manifest).map_err(Error::serialize("restore manifest"))?;
            deps.s3
                .put_object()
                .bucket(bucket)
                .key(&key)
                .content_type("application/json")
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| sdk_error(&format!("PutObject s3://{bucket}/{key}"), e))?;
            sm.delete_endpoint()
                .endpoint_name(id)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("DeleteEndpoint {id}"), e))?;
            return Ok(Acted::Done {
                manifest: Some(format!("s3://{bucket}/{key}")),
            });
        }
        Action::StopNotebookInstance => {
            sm.stop_notebook_instance()
                .notebook_instance_name(id)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("StopNotebookInstance {id}"), e))?;
            // The notebook stays: its mark goes, so that its next idle spell gets a notice of its own.
            // (Best effort: the stop is done; a mark left behind is cleared by the next run.)
            if !c.grace.is_zero() {
                if let Err(e) = notice::clear(deps, item).await {
                    tracing::warn!(notebook = id, error = %e, "mark not cleared after the stop");
                }
            }
        }
        Action::DeleteStudioApp => {
            let parts: Vec<&str> = id.splitn(4, '/').collect();
            let [domain, owner, app_type, app] = parts[..] else {
                return Err(Error::InvalidEvent(format!("malformed Studio app id {id}")));
            };
            let (user, space) = match owner.split_once(':') {
                Some(("user", u)) => (Some(u.to_string()), None),
                Some(("space", s)) => (None, Some(s.to_string())),
                _ => (None, None),
            };
            sm.delete_app()
                .domain_id(domain)
                .set_user_profile_name(user)
                .set_space_name(space)
                .app_type(AppType::from(app_type))
                .app_name(app)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error(&format!("DeleteApp {id}"), e))?
        }
        Action::StopJob => match item.kind {
            ResourceKind::TrainingJob => sm
                .stop_training_job()
                .training_job_name(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error(&format!("StopTrainingJob {id}"), e))?,
            ResourceKind::ProcessingJob => sm
                .stop_processing_job()
                .processing_job_name(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error(&format!("StopProcessingJob {id}"), e))?,
            _ => sm
                .stop_transform_job()
                .transform_job_name(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error(&format!("StopTransformJob {id}"), e))?,
        },
        Action::DeleteEndpointConfig => sm
            .delete_endpoint_config()
            .endpoint_config_name(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error(&format!("DeleteEndpointConfig {id}"), e))?,
        Action::DeleteModel => sm
            .delete_model()
            .model_name(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error(&format!("DeleteModel {id}"), e))?,
        Action::SetLogRetention => deps
            .logs
            .put_retention_policy()
            .log_group_name(id)
            .retention_in_days(c.log_retention_days)
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error(&format!("PutRetentionPolicy {id}"), e))?,
        Action::PutLifecycle => put_lifecycle(deps, c, id).await?,
        Action::EnableStudioIdleShutdown => enable_idle_shutdown(deps, c, id).await?,
        Action::ClearMark => notice::clear(deps, item).await?,
        Action::ReportOnly | Action::RightSize | Action::DeleteObject => {}
    }
    Ok(Acted::Done { manifest: None })
}

/// Turn Studio's own idle shutdown on for a domain's default (`id` = domain) or a user profile
/// (`domain/user:profile`). The settings are read again first and only the app types still off are
/// sent, each with only its `AppLifecycleManagement` (UpdateDomain and UpdateUserProfile change the
/// settings given and keep the rest); a user's own bounds (min/max) are kept and the timeout kept
/// within them.
async fn enable_idle_shutdown(deps: &Deps, c: &CleanupConfig, id: &str) -> Result<()> {
    use aws_sdk_sagemaker::types::{
        AppLifecycleManagement, CodeEditorAppSettings, IdleSettings, JupyterLabAppSettings,
        LifecycleManagement, UserSettings,
    };
    let minutes = c
        .studio_idle_shutdown_minutes
        .ok_or_else(|| Error::Config("GREENPIPE_CLEANUP_STUDIO_IDLE_SHUTDOWN_MINUTES is not set".into()))?;
    let sm = &deps.sagemaker;
    let profile = id.split_once("/user:");
    let current = match profile {
        None => {
            sm.describe_domain()
                .domain_id(id)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("DescribeDomain {id}"), e))?
                .default_user_settings
        }
        Some((domain, user)) => {
            sm.describe_user_profile()
                .domain_id(domain)
                .user_profile_name(user)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("DescribeUserProfile {id}"), e))?
                .user_settings
        }
    };
    let off = idle_shutdown_off(current.as_ref(), profile.is_none());
    if off.is_empty() {
        return Ok(());
    }
    let enabled = |now: Option<&AppLifecycleManagement>| {
        let idle = now.and_then(|l| l.idle_settings());
        let (min, max) = (
            idle.and_then(|i| i.min_idle_timeout_in_minutes()),
            idle.and_then(|i| i.max_idle_timeout_in_minutes()),
        );
        let mut timeout = minutes;
        if let Some(min) = min {
            timeout = timeout.max(min);
        }
        if let Some(max) = max {
            timeout = timeout.min(max);
        }
        AppLifecycleManagement::builder()
            .idle_settings(
                IdleSettings::builder()
                    .lifecycle_management(LifecycleManagement::Enabled)
                    .idle_timeout_in_minutes(timeout)
                    .set_min_idle_timeout_in_minutes(min)
                    .set_max_idle_timeout_in_minutes(max)
                    .build(),
            )
            .build()
    };
    let mut settings = UserSettings::builder();
    for app_type in &off {
        let lifecycle = enabled(app_lifecycle(current.as_ref(), app_type));
        settings = match app_type.as_str() {
            "JupyterLab" => settings.jupyter_lab_app_settings(
                JupyterLabAppSettings::builder()
                    .app_lifecycle_management(lifecycle)
                    .build(),
            ),
            _ => settings.code_editor_app_settings(
                CodeEditorAppSettings::builder()
                    .app_lifecycle_management(lifecycle)
                    .build(),
            ),
        };
    }
    match profile {
        None => sm
            .update_domain()
            .domain_id(id)
            .default_user_settings(settings.build())
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error(&format!("UpdateDomain {id}"), e)),
        Some((domain, user)) => sm
            .update_user_profile()
            .domain_id(domain)
            .user_profile_name(user)
            .user_settings(settings.build())
            .send()
            .await
            .map(drop)
            .map_err(|e| sdk_error(&format!("UpdateUserProfile {id}"), e)),
    }
}

/// Expire greenpipe's prefixes after the retention and abort multipart uploads left for 7 days. Only
/// ever put on a bucket that had no lifecycle configuration (PutBucketLifecycleConfiguration replaces).
async fn put_lifecycle(deps: &Deps, c: &CleanupConfig, bucket: &str) -> Result<()> {
    use aws_sdk_s3::types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration,
        LifecycleRule, LifecycleRuleFilter,
    };
    let days = (c.retention.as_secs() / 86_400).max(1) as i32;
    let mut rules = Vec::new();
    for (i, prefix) in c.prefixes.iter().enumerate() {
        rules.push(
            LifecycleRule::builder()
                .id(format!("greenpipe-expire-{i}"))
                .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
                .status(ExpirationStatus::Enabled)
                .expiration(LifecycleExpiration::builder().days(days).build())
                .build()?,
        );
    }
    rules.push(
        LifecycleRule::builder()
            .id("greenpipe-abort-multipart")
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .status(ExpirationStatus::Enabled)
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(7)
                    .build(),
            )
            .build()?,
    );
    let conf = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()?;
    deps.s3
        .put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(conf)
        .send()
        .await
        .map(drop)
        .map_err(|e| sdk_error(&format!("PutBucketLifecycleConfiguration {bucket}"), e))
}

/// DeleteObjects in batches of 1,000; each key gets its own outcome from the response.
async fn delete_objects(deps: &Deps, bucket: &str, keys: &[(usize, String)], records: &mut [ActionRecord]) {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    for chunk in keys.chunks(MAX_DELETE_KEYS) {
        let ids: Vec<ObjectIdentifier> = chunk
            .iter()
            .filter_map(|(_, k)| ObjectIdentifier::builder().key(k).build().ok())
            .collect();
        let delete = match Delete::builder().set_objects(Some(ids)).quiet(false).build() {
            Ok(d) => d,
            Err(e) => {
                let err = Error::from(e);
                chunk.iter().for_each(|(i, _)| records[*i].outcome = failed(&err));
                continue;
            }
        };
        match deps
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
        {
            Ok(out) => {
                let errors: HashMap<&str, String> = out
                    .errors()
                    .iter()
                    .map(|e| {
                        (
                            e.key().unwrap_or_default(),
                            format!(
                                "{}: {}",
                                e.code().unwrap_or("Error"),
                                e.message().unwrap_or_default()
                            ),
                        )
                    })
                    .collect();
                for (i, key) in chunk {
                    if let Some(message) = errors.get(key.as_str()) {
                        records[*i].outcome = Outcome::Failed {
                            error_type: "AwsError".into(),
                            message: format!("DeleteObjects s3://{bucket}/{key}: {message}"),
                        };
                    }
                }
            }
            Err(e) => {
                let err = sdk_error(&format!("DeleteObjects {bucket}"), e);
                chunk.iter().for_each(|(i, _)| records[*i].outcome = failed(&err));
            }
        }
    }
}
