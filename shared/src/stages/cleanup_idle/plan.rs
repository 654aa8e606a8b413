//! The planner: inventory in, actions with reasons out. Pure: no clock (the caller passes `now`), no
//! AWS calls, so every decision is unit- and property-tested.
//!
//! Each resource goes through its kind's rule (idle? expired? over budget? orphaned?). A resource the
//! rule picks becomes a [`PlanItem`]; then the safety filters decide whether it is acted on, in this
//! order: managed scope (unmanaged ones are only counted), keep tags, minimum age, the per-run cap
//! (objects have their own cap). Items are ordered most expensive first (endpoints, notebooks, apps,
//! jobs, then orphans, log groups, buckets, objects) so the cap spends itself where it saves most.
//!
//! With a grace period ([`CleanupConfig::grace`]) the deletes and stops of SageMaker resources go in two
//! runs: the first marks ([`Decision::Mark`]: tag [`MARK_TAG`] and notify), a later one acts once the
//! mark's time has passed and the rule still picks the resource. A mark on a resource no rule picks any
//! more (or one opted out since) is cleared ([`Action::ClearMark`]).

use std::collections::BTreeSet;

use serde::Serialize;

use super::config::{CleanupConfig, ACTIVITY_TAG, BUDGET_TAG, MARK_TAG};
use super::handler::rfc3339;
use super::inventory::{Detail, Epoch, Inventory, Resource, ResourceKind};
use super::listing::billed_studio_app;
use crate::footprint::{self, Footprint};

/// What cleanup does (or would do) to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Save a restore manifest, then DeleteEndpoint.
    DeleteEndpoint,
    StopNotebookInstance,
    DeleteStudioApp,
    /// UpdateDomain / UpdateUserProfile: Studio's own idle shutdown ENABLED, with the configured timeout,
    /// for the app types left off.
    EnableStudioIdleShutdown,
    StopJob,
    DeleteEndpointConfig,
    DeleteModel,
    SetLogRetention,
    PutLifecycle,
    /// A finding without a change (a bucket without lifecycle rules when putting one is not enabled).
    ReportOnly,
    /// A busy endpoint whose instances are mostly unused: a smaller type of the same family would hold
    /// its peak. Reported with what it would save; applying it is the owner's call.
    RightSize,
    DeleteObject,
    /// Remove a grace-period mark ([`MARK_TAG`]) from a resource no longer picked.
    ClearMark,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::DeleteEndpoint => "delete-endpoint",
            Action::StopNotebookInstance => "stop-notebook-instance",
            Action::DeleteStudioApp => "delete-studio-app",
            Action::EnableStudioIdleShutdown => "enable-studio-idle-shutdown",
            Action::StopJob => "stop-job",
            Action::DeleteEndpointConfig => "delete-endpoint-config",
            Action::DeleteModel => "delete-model",
            Action::SetLogRetention => "set-log-retention",
            Action::PutLifecycle => "put-lifecycle",
            Action::ReportOnly => "report-only",
            Action::RightSize => "right-size",
            Action::DeleteObject => "delete-object",
            Action::ClearMark => "clear-mark",
        }
    }

    /// Whether a grace period delays the action: the deletes and stops of SageMaker resources, which a
    /// run can tag. (Jobs over their budget are stopped at once: a budget is the owner's own limit.
    /// Settings, log retention, lifecycle rules and expired objects are not someone's running work.)
    pub fn graced(self) -> bool {
        matches!(
            self,
            Action::DeleteEndpoint
                | Action::StopNotebookInstance
                | Action::DeleteStudioApp
                | Action::DeleteEndpointConfig
                | Action::DeleteModel
        )
    }
}

/// A mark's value: `<action>@<RFC 3339 time after which it may be taken>` (`acts_after`, as
/// [`Decision::Mark`] holds it).
pub fn mark_value(action: Action, acts_after: &str) -> String {
    format!("{}@{acts_after}", action.name())
}

/// A mark's action name and time; `None` when the value is not one.
pub fn parse_mark(value: &str) -> Option<(&str, Epoch)> {
    let (action, at) = value.split_once('@')?;
    let micros = crate::validate::values::parse_timestamp(at.as_bytes())?;
    Some((action, micros.div_euclid(1_000_000)))
}

/// Why a picked resource is left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    Kept,
    TooYoung,
    CapReached,
    /// Marked by an earlier run; its grace period has not passed.
    InGrace,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    Act,
    /// Nothing to change; listed for the reader.
    Report,
    /// Grace period: tag the resource with the action and `acts_after` (RFC 3339), notify, act later.
    Mark {
        acts_after: String,
    },
    Skip {
        why: SkipReason,
        detail: String,
    },
}

/// Cost, energy and emissions a running resource would spend per day; what stopping it avoids.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Avoided {
    pub instance_hours: f64,
    #[serde(flatten)]
    pub footprint: Footprint,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanItem {
    pub kind: ResourceKind,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    pub action: Action,
    pub reason: String,
    #[serde(flatten)]
    pub decision: Decision,
    /// Per day, for resources that cost while they run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avoided_per_day: Option<Avoided>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub items: Vec<PlanItem>,
    /// Resources listed and examined (all kinds).
    pub examined: usize,
    /// Picked by a rule but outside the managed scope: never acted on, only counted.
    pub unmanaged: usize,
}

impl Plan {
    pub fn acting(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.decision == Decision::Act)
    }
}

const DAY_HOURS: f64 = 24.0;

/// Plan a run over `inventory` at `now` (Unix seconds); `region` prices the footprint.
pub fn plan(inventory: &Inventory, config: &CleanupConfig, now: Epoch, region: &str) -> Plan {
    let resources = &inventory.resources;
    // Endpoint configs any endpoint uses, and models any listed config or running transform job uses:
    // those are never orphans. (A model of a config deleted in this run becomes an orphan next run.)
    let used_configs: BTreeSet<&str> = resources
        .iter()
        .filter_map(|r| match &r.detail {
            Detail::Endpoint { config_name, .. } => Some(config_name.as_str()),
            _ => None,
        })
        .collect();
    let used_models: BTreeSet<&str> = resources
        .iter()
        .flat_map(|r| match &r.detail {
            Detail::EndpointConfig { model_names } => model_names.iter().map(String::as_str).collect(),
            Detail::Job {
                model_name: Some(m), ..
            } => vec![m.as_str()],
            _ => Vec::new(),
        })
        .collect();

    let mut picked: Vec<(&Resource, Action, String, Option<Avoided>)> = resources
        .iter()
        .filter_map(|r| rule(r, config, now, region, &used_configs, &used_models))
        .map(|(r, action, reason)| {
            let avoided = match action {
                Action::RightSize => right_size(r, region).map(|(_, saving)| saving),
                _ => avoided_per_day(r, region),
            };
            (r, action, reason, avoided)
        })
        .collect();
    picked.sort_by(|a, b| (a.0.kind, &a.0.id).cmp(&(b.0.kind, &b.0.id)));

    let mut out = Plan {
        examined: resources.len(),
        ..Plan::default()
    };
    let (mut actions, mut object_deletes) = (0u32, 0u32);
    for (r, action, reason, avoided) in picked {
        if r.kind.scoped_by_tag()
            && config.scope == super::config::Scope::Managed
            && !config.is_managed(&r.tags)
        {
            out.unmanaged += 1;
            continue;
        }
        let decision = if let Some(tag) = config.keep_tag(&r.tags) {
            skip(SkipReason::Kept, format!("tagged {tag}"))
        } else if let Some(young) = too_young(r, config, now) {
            skip(SkipReason::TooYoung, young)
        } else if matches!(action, Action::ReportOnly | Action::RightSize) {
            Decision::Report
        } else if let Some(graced) = grace(r, action, config, now) {
            graced
        } else if r.kind == ResourceKind::Object {
            if object_deletes < config.max_object_deletes {
                object_deletes += 1;
                Decision::Act
            } else {
                skip(
                    SkipReason::CapReached,
                    format!("object cap of {} reached", config.max_object_deletes),
                )
            }
        } else if actions < config.max_actions {
            actions += 1;
            Decision::Act
        } else {
            skip(
                SkipReason::CapReached,
                format!("action cap of {} reached", config.max_actions),
            )
        };
        out.items.push(PlanItem {
            kind: r.kind,
            id: r.id.clone(),
            arn: r.arn.clone(),
            action,
            reason,
            decision,
            avoided_per_day: avoided,
        });
    }
    clear_stale_marks(resources, config, &mut out);
    out
}

/// With a grace period, a graced action waits for its mark: `None` when the resource carries a mark for
/// this action whose time has passed (the action goes ahead, within the cap); otherwise a new mark, or
/// a skip while the mark's time is still ahead.
fn grace(r: &Resource, action: Action, config: &CleanupConfig, now: Epoch) -> Option<Decision> {
    if config.grace.is_zero() || !action.graced() {
        return None;
    }
    let grace = config.grace.as_secs().min(i64::MAX as u64) as i64;
    match r.tags.get(MARK_TAG).and_then(|v| parse_mark(v)) {
        Some((marked, at)) if marked == action.name() && at <= now => None,
        Some((marked, at)) if marked == action.name() => Some(skip(
            SkipReason::InGrace,
            format!(
                "marked ({MARK_TAG}): {marked} after {} ({} from now) if still idle; tag {} to keep it",
                rfc3339(at),
                human(at - now),
                super::config::KEEP_TAG
            ),
        )),
        _ => Some(Decision::Mark {
            acts_after: rfc3339(now.saturating_add(grace)),
        }),
    }
}

/// A mark on a resource this plan neither acts on, marks, nor holds in its grace period or behind the
/// cap (in use again, kept, or no longer picked at all) is cleared, so that a later idle spell starts a
/// new grace period with a new notice rather than acting on an old one. Only resources in scope: the
/// role may tag no others.
fn clear_stale_marks(resources: &[Resource], config: &CleanupConfig, out: &mut Plan) {
    let holding: BTreeSet<(ResourceKind, &str)> = out
        .items
        .iter()
        .filter(|i| match &i.decision {
            Decision::Act | Decision::Mark { .. } => true,
            Decision::Skip { why, .. } => matches!(why, SkipReason::InGrace | SkipReason::CapReached),
            Decision::Report => false,
        })
        .map(|i| (i.kind, i.id.as_str()))
        .collect();
    let stale: Vec<PlanItem> = resources
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                ResourceKind::Endpoint
                    | ResourceKind::NotebookInstance
                    | ResourceKind::StudioApp
                    | ResourceKind::EndpointConfig
                    | ResourceKind::Model
            )
        })
        .filter(|r| config.scope == super::config::Scope::All || config.is_managed(&r.tags))
        .filter(|r| !holding.contains(&(r.kind, r.id.as_str())))
        .filter_map(|r| {
            let mark = r.tags.get(MARK_TAG)?;
            let why = match config.keep_tag(&r.tags) {
                Some(tag) => format!("opted out (tagged {tag})"),
                None => "no longer picked (in use again, or its rule no longer applies)".to_string(),
            };
            Some(PlanItem {
                kind: r.kind,
                id: r.id.clone(),
                arn: r.arn.clone(),
                action: Action::ClearMark,
                reason: format!("marked {mark:?} but {why}: the mark is removed"),
                decision: Decision::Act,
                avoided_per_day: None,
            })
        })
        .collect();
    out.items.extend(stale);
}

fn skip(why: SkipReason, detail: String) -> Decision {
    Decision::Skip { why, detail }
}

fn too_young(r: &Resource, config: &CleanupConfig, now: Epoch) -> Option<String> {
    let min = config.min_age.as_secs() as i64;
    match r.created {
        None => Some("creation time unknown".into()),
        Some(created) if now - created < min => Some(format!(
            "age {} under the minimum {}",
            human(now - created),
            human(min)
        )),
        Some(_) => None,
    }
}

/// The kind's rule: `Some` when the resource should be acted on (before the safety filters).
fn rule<'a>(
    r: &'a Resource,
    c: &CleanupConfig,
    now: Epoch,
    region: &str,
    used_configs: &BTreeSet<&str>,
    used_models: &BTreeSet<&str>,
) -> Option<(&'a Resource, Action, String)> {
    let age = r.created.map(|t| now - t);
    let secs = |d: std::time::Duration| d.as_secs() as i64;
    let picked = match &r.detail {
        Detail::Endpoint {
            status,
            variants,
            invocations,
            ..
        } => {
            let window = secs(c.endpoint_idle);
            let idle = status == "InService" && *invocations == Some(0.0) && age.is_some_and(|a| a >= window);
            if !idle {
                // Busy (or not judged idle): right-sized when its instances' peak fits a smaller type.
                return right_size(r, region).map(|(why, _)| {
                    (
                        r,
                        Action::RightSize,
                        format!("busy but under-used over {}: {why}", human(window)),
                    )
                });
            }
            idle.then(|| {
                let names: Vec<String> = variants
                    .iter()
                    .map(|v| match v.shadow {
                        true => format!("{} (shadow)", v.name),
                        false => v.name.clone(),
                    })
                    .collect();
                (
                    Action::DeleteEndpoint,
                    format!(
                        "no invocations in {} on {} variant(s) ({})",
                        human(window),
                        variants.len(),
                        names.join(", ")
                    ),
                )
            })
        }
        Detail::Notebook {
            status,
            last_activity,
            ..
        } => match last_activity {
            _ if status != "InService" => None,
            // Only the notebook's own activity signal can show it idle; without one it is someone's
            // work in progress as far as cleanup can tell.
            None => Some((
                Action::ReportOnly,
                format!(
                    "InService with no activity signal (tag {ACTIVITY_TAG}, kept by greenpipe's notebook \
                     lifecycle configuration): never stopped"
                ),
            )),
            Some(last) => {
                let quiet = now - *last;
                (quiet >= secs(c.notebook_idle)).then(|| {
                    (
                        Action::StopNotebookInstance,
                        format!(
                            "InService, no Jupyter activity for {} (threshold {}; tag {ACTIVITY_TAG})",
                            human(quiet),
                            human(secs(c.notebook_idle))
                        ),
                    )
                })
            }
        },
        Detail::StudioApp {
            status,
            app_type,
            last_activity,
            idle_shutdown,
            ..
        } => {
            // Canvas and RStudio sessions are judged by their user activity only: their creation time
            // says nothing about use.
            let activity = match app_type.as_str() {
                "Canvas" | "RSession" => *last_activity,
                _ => last_activity.or(r.created),
            };
            let quiet = activity.map(|t| now - t);
            let running = billed_studio_app(app_type) && status == "InService";
            if running && quiet.is_some_and(|q| q >= secs(c.studio_app_idle)) {
                Some((
                    Action::DeleteStudioApp,
                    format!(
                        "{app_type} app idle for {} (threshold {})",
                        human(quiet.unwrap_or(0)),
                        human(secs(c.studio_app_idle))
                    ),
                ))
            } else if running && *idle_shutdown == Some(false) {
                Some((
                    Action::ReportOnly,
                    format!(
                        "{app_type} app with Studio's idle shutdown off (its user profile or domain): \
                         only this cleanup stops it when idle"
                    ),
                ))
            } else {
                None
            }
        }
        Detail::StudioIdleShutdown { level, off } => (!off.is_empty()).then(|| {
            let what = format!("Studio idle shutdown off for {} ({level})", off.join(", "));
            match c.studio_idle_shutdown_minutes {
                Some(minutes) => (
                    Action::EnableStudioIdleShutdown,
                    format!("{what}: enable it, {minutes} minutes"),
                ),
                None => (
                    Action::ReportOnly,
                    format!("{what}: set GREENPIPE_CLEANUP_STUDIO_IDLE_SHUTDOWN_MINUTES to enable it"),
                ),
            }
        }),
        Detail::Job { status, started, .. } => {
            let budget = r
                .tags
                .get(BUDGET_TAG)
                .and_then(|h| h.parse::<f64>().ok())
                .filter(|h| h.is_finite() && *h >= 0.0)
                .map_or(secs(c.job_budget), |h| (h * 3600.0) as i64);
            let running = started.or(r.created).map(|t| now - t);
            (status == "InProgress" && running.is_some_and(|t| t > budget)).then(|| {
                (
                    Action::StopJob,
                    format!(
                        "running {}, over its budget of {}",
                        human(running.unwrap_or(0)),
                        human(budget)
                    ),
                )
            })
        }
        Detail::EndpointConfig { .. } => {
            let orphan =
                !used_configs.contains(r.id.as_str()) && age.is_some_and(|a| a >= secs(c.orphan_age));
            orphan.then(|| {
                (
                    Action::DeleteEndpointConfig,
                    format!("no endpoint uses it; age {}", human(age.unwrap_or(0))),
                )
            })
        }
        Detail::Model => {
            let orphan = !used_models.contains(r.id.as_str()) && age.is_some_and(|a| a >= secs(c.orphan_age));
            orphan.then(|| {
                (
                    Action::DeleteModel,
                    format!(
                        "no endpoint config or running transform job uses it; age {}",
                        human(age.unwrap_or(0))
                    ),
                )
            })
        }
        Detail::LogGroup { retention_days } => {
            let ours = c.log_group_prefixes.iter().any(|p| r.id.starts_with(p.as_str()));
            (ours && retention_days.is_none()).then(|| {
                (
                    Action::SetLogRetention,
                    format!(
                        "no retention: logs kept forever; set to {} days",
                        c.log_retention_days
                    ),
                )
            })
        }
        Detail::Bucket { lifecycle_rules, .. } => {
            (c.buckets.contains(&r.id) && *lifecycle_rules == 0).then(|| {
                if c.put_lifecycle {
                    (
                        Action::PutLifecycle,
                        format!(
                            "no lifecycle rules; expire {} after {} and abort stale multipart uploads",
                            c.prefixes.join(", "),
                            human(secs(c.retention))
                        ),
                    )
                } else {
                    (
                        Action::ReportOnly,
                        "no lifecycle rules or Intelligent-Tiering: objects are kept forever in S3 Standard"
                            .into(),
                    )
                }
            })
        }
        Detail::Object { bucket, key, .. } => {
            let ours = c.buckets.contains(bucket) && c.prefixes.iter().any(|p| key.starts_with(p.as_str()));
            let retention = c.retention_of(key);
            let expired = age.is_some_and(|a| a >= secs(retention));
            (ours && expired).then(|| {
                (
                    Action::DeleteObject,
                    format!(
                        "last modified {} ago, past the retention of {}",
                        human(age.unwrap_or(0)),
                        human(secs(retention))
                    ),
                )
            })
        }
    };
    picked.map(|(a, why)| (r, a, why))
}

/// What a day of the resource running costs, for resources billed per instance-hour.
fn avoided_per_day(r: &Resource, region: &str) -> Option<Avoided> {
    let units: Vec<(Option<&str>, u32)> = match &r.detail {
        Detail::Endpoint { variants, .. } => variants
            .iter()
            .map(|v| {
                (
                    v.instance_type.as_deref(),
                    if v.serverless { 0 } else { v.instance_count },
                )
            })
            .collect(),
        Detail::Notebook { instance_type, .. } => vec![(Some(instance_type.as_str()), 1)],
        Detail::StudioApp { instance_type, .. } => vec![(instance_type.as_deref(), 1)],
        Detail::Job {
            instance_type,
            instance_count,
            ..
        } => vec![(instance_type.as_deref(), *instance_count)],
        _ => return None,
    };
    let mut total = Avoided::default();
    let mut notes = Vec::new();
    for (instance_type, count) in units {
        match instance_type {
            _ if count == 0 => {
                notes.push("serverless: billed per request, nothing idle to avoid".to_string())
            }
            None => notes.push("instance type unknown".to_string()),
            Some(t) => match footprint::endpoint_hours(t, count, DAY_HOURS, region) {
                Ok(e) => {
                    total.instance_hours += e.instance_hours().unwrap_or(0.0);
                    total.footprint += e.footprint;
                }
                Err(e) => notes.push(e.to_string()),
            },
        }
    }
    notes.dedup();
    total.note = (!notes.is_empty()).then(|| notes.join("; "));
    Some(total)
}

/// A variant is under-used when its instances' peaks stay below these shares (percent).
pub const UNDER_USED_CPU: f64 = 30.0;
pub const UNDER_USED_MEMORY: f64 = 40.0;
/// The share of the smaller type the observed peak may fill.
pub const RIGHT_SIZE_TARGET: f64 = 0.7;
const MONTH_DAYS: f64 = 730.0 / 24.0;

/// One variant's right-sizing verdict: a smaller type and its saving per day, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantSizing {
    pub variant: String,
    /// `None` for a serverless variant.
    pub instance_type: Option<String>,
    pub instance_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocations: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilisation: Option<super::inventory::InstanceUse>,
    /// The cheaper type of the same family that holds the peak, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended: Option<String>,
    /// Per day, when switched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saving_per_day: Option<Footprint>,
    /// The recommendation in words, or why there is none.
    pub verdict: String,
}

/// Each variant of an InService endpoint judged for right-sizing: a CPU instance variant whose peaks
/// stay under [`UNDER_USED_CPU`] and [`UNDER_USED_MEMORY`] gets the cheapest smaller type of the same
/// family (same processor architecture, same image) that holds them at no more than
/// [`RIGHT_SIZE_TARGET`]; every other variant says why not. Empty for an endpoint not InService.
pub fn right_sizing(r: &Resource, region: &str) -> Vec<VariantSizing> {
    let Detail::Endpoint { status, variants, .. } = &r.detail else {
        return Vec::new();
    };
    if status != "InService" {
        return Vec::new();
    }
    let table = footprint::coefficients().ok();
    variants
        .iter()
        .map(|v| {
            let mut out = VariantSizing {
                variant: v.name.clone(),
                instance_type: v.instance_type.clone(),
                instance_count: v.instance_count,
                invocations: v.invocations,
                utilisation: v.utilisation,
                recommended: None,
                saving_per_day: None,
                verdict: String::new(),
            };
            out.verdict = match judge(v, table, region) {
                Ok((smaller, day, verdict)) => {
                    out.recommended = Some(smaller);
                    out.saving_per_day = Some(day);
                    verdict
                }
                Err(why) => why,
            };
            out
        })
        .collect()
}

/// A variant's smaller type, its saving per day and the sentence saying so; or why there is none.
fn judge(
    v: &super::inventory::Variant,
    table: Option<&footprint::Coefficients>,
    region: &str,
) -> Result<(String, Footprint, String), String> {
    let current = match (&v.instance_type, v.serverless) {
        (Some(t), false) => t.as_str(),
        _ => return Err("serverless: billed per request, nothing to right-size".into()),
    };
    let u = v.utilisation.ok_or("no utilisation figures for the window")?;
    let (Some(cpu), Some(memory)) = (u.cpu, u.memory) else {
        return Err("CPU or memory utilisation not published for the window".into());
    };
    let c = table.ok_or("footprint table unavailable")?;
    let now_type = c
        .instance_type(current)
        .map_err(|_| format!("{current} is not in the footprint table"))?;
    if now_type.gpu.is_some() {
        return Err(format!("{current} is a GPU type: not judged"));
    }
    if cpu.peak >= UNDER_USED_CPU || memory.peak >= UNDER_USED_MEMORY {
        return Err(format!(
            "peaked at {:.0} % CPU and {:.0} % memory: not under-used (thresholds {UNDER_USED_CPU:.0} % / {UNDER_USED_MEMORY:.0} %)",
            cpu.peak, memory.peak
        ));
    }
    let family = current.rsplit_once('.').map_or(current, |(f, _)| f);
    let need_vcpus = cpu.peak / 100.0 * f64::from(now_type.vcpus) / RIGHT_SIZE_TARGET;
    let need_gib = memory.peak / 100.0 * now_type.memory_gib / RIGHT_SIZE_TARGET;
    let (smaller, t) = c
        .sagemaker
        .instance_types
        .iter()
        .filter(|(name, t)| {
            name.rsplit_once('.').map_or(name.as_str(), |(f, _)| f) == family
                && t.gpu.is_none()
                && t.usd_per_hour < now_type.usd_per_hour
                && f64::from(t.vcpus) >= need_vcpus
                && t.memory_gib >= need_gib
        })
        .min_by(|a, b| a.1.usd_per_hour.total_cmp(&b.1.usd_per_hour))
        .ok_or_else(|| {
            format!(
                "peaked at {:.0} % CPU and {:.0} % memory, but no cheaper {family} type holds that at {:.0} %",
                cpu.peak,
                memory.peak,
                RIGHT_SIZE_TARGET * 100.0
            )
        })?;
    let count = v.instance_count.max(1);
    let before = footprint::endpoint_hours(current, count, DAY_HOURS, region).map_err(|e| e.to_string())?;
    let after = footprint::endpoint_hours(smaller, count, DAY_HOURS, region).map_err(|e| e.to_string())?;
    let day = Footprint {
        usd: before.footprint.usd - after.footprint.usd,
        kwh: before.footprint.kwh - after.footprint.kwh,
        kg_co2e: before.footprint.kg_co2e - after.footprint.kg_co2e,
        embodied_kg_co2e: before.footprint.embodied_kg_co2e - after.footprint.embodied_kg_co2e,
    };
    let verdict = format!(
        "{} on {count} × {current} peaked at {:.0} % CPU and {:.0} % memory ({} invocations): \
         {count} × {smaller} ({} vCPUs, {} GiB) would peak near {:.0} % / {:.0} %, saving ${:.2}, \
         {:.3} kWh and {:.4} kgCO2e a month",
        v.name,
        cpu.peak,
        memory.peak,
        v.invocations.map_or("?".to_string(), |n| format!("{n:.0}")),
        t.vcpus,
        t.memory_gib,
        cpu.peak * f64::from(now_type.vcpus) / f64::from(t.vcpus),
        memory.peak * now_type.memory_gib / t.memory_gib,
        day.usd * MONTH_DAYS,
        day.kwh * MONTH_DAYS,
        (day.kg_co2e + day.embodied_kg_co2e) * MONTH_DAYS,
    );
    Ok((smaller.clone(), day, verdict))
}

/// The endpoint's right-sizing as one plan item's reason and saving; `None` when no variant has a
/// smaller type.
fn right_size(r: &Resource, region: &str) -> Option<(String, Avoided)> {
    let mut reasons = Vec::new();
    let mut saving = Avoided::default();
    for v in right_sizing(r, region) {
        if let Some(day) = v.saving_per_day {
            saving.footprint += day;
            reasons.push(v.verdict);
        }
    }
    if reasons.is_empty() {
        return None;
    }
    saving.note = Some(
        "per day, if switched (a new endpoint config and UpdateEndpoint, blue/green); not applied by cleanup"
            .into(),
    );
    Some((reasons.join("; "), saving))
}

/// `90 s`, `5 min`, `3.2 h`, `4.5 d`.
pub fn human(secs: i64) -> String {
    let s = secs.max(0) as f64;
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}
