//! The cleanup report: every action or would-be action with its reason and outcome, totals, and what the
//! run avoided per day (instance-hours, dollars, kWh, kgCO2e from [`crate::footprint`]). Written to S3 as
//! JSON, printed as a table by the CLI, and summarised as CloudWatch EMF lines.

use serde::{Deserialize, Serialize};

use super::inventory::ResourceKind;
use super::plan::{Action, Avoided, Decision, Plan, PlanItem, SkipReason};
use crate::footprint::{self, EmfMetric, EmfUnit, Footprint, FootprintError};

/// What happened to one picked resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Dry run: this would have been done.
    DryRun,
    Done,
    Failed {
        error_type: String,
        message: String,
    },
    Skipped {
        why: SkipReason,
        detail: String,
    },
    /// A finding with nothing to change.
    Reported,
    /// Grace period: tagged with the planned action and time, and notified.
    Marked {
        acts_after: String,
    },
    /// Dry run: this would have been marked.
    WouldMark {
        acts_after: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRecord {
    pub kind: ResourceKind,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    pub action: Action,
    pub reason: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// `s3://` URI of the restore manifest (deleted endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avoided_per_day: Option<Avoided>,
}

impl ActionRecord {
    /// The record of a plan item before anything is executed (skips and findings are final already).
    pub fn pending(item: &PlanItem, dry_run: bool) -> ActionRecord {
        let outcome = match &item.decision {
            Decision::Act if dry_run => Outcome::DryRun,
            Decision::Act => Outcome::Done,
            Decision::Report => Outcome::Reported,
            Decision::Mark { acts_after } if dry_run => Outcome::WouldMark {
                acts_after: acts_after.clone(),
            },
            Decision::Mark { acts_after } => Outcome::Marked {
                acts_after: acts_after.clone(),
            },
            Decision::Skip { why, detail } => Outcome::Skipped {
                why: *why,
                detail: detail.clone(),
            },
        };
        ActionRecord {
            kind: item.kind,
            resource: item.id.clone(),
            arn: item.arn.clone(),
            action: item.action,
            reason: item.reason.clone(),
            outcome,
            manifest: None,
            avoided_per_day: item.avoided_per_day.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Resources listed.
    pub examined: usize,
    /// Picked by a rule and in scope (the records below).
    pub picked: usize,
    pub done: usize,
    pub would_do: usize,
    pub failed: usize,
    pub kept: usize,
    pub too_young: usize,
    pub cap_reached: usize,
    pub reported: usize,
    /// Marked for a later run (grace period), or would be in a dry run.
    pub marked: usize,
    pub would_mark: usize,
    /// Marked earlier, grace period not over.
    pub in_grace: usize,
    /// Picked by a rule but not managed by greenpipe: left alone, not listed.
    pub unmanaged: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanupReport {
    pub run_id: String,
    /// RFC 3339.
    pub at: String,
    pub dry_run: bool,
    pub region: String,
    pub actions: Vec<ActionRecord>,
    pub totals: Totals,
    /// Sum over done (or, in a dry run, would-be) actions: what stopping those resources avoids per day.
    pub avoided_per_day: Avoided,
    /// Sum over the right-sizing recommendations: what switching those endpoints would save per day.
    pub right_size_savings_per_day: Avoided,
    /// The grace-period notices sent (SNS, EventBridge), or why they were not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    /// Listings that failed (the rest of the run went on).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inventory_errors: Vec<String>,
    /// Pages fetched per listing API.
    pub listing_pages: std::collections::BTreeMap<String, u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_uri: Option<String>,
}

impl CleanupReport {
    pub fn new(
        run_id: String,
        at: String,
        dry_run: bool,
        region: String,
        plan: &Plan,
        actions: Vec<ActionRecord>,
    ) -> Self {
        let mut totals = Totals {
            examined: plan.examined,
            picked: actions.len(),
            unmanaged: plan.unmanaged,
            ..Totals::default()
        };
        let mut avoided = Avoided::default();
        let mut right_size = Avoided::default();
        for a in &actions {
            if let (Action::RightSize, Outcome::Reported, Some(x)) =
                (a.action, &a.outcome, &a.avoided_per_day)
            {
                right_size.footprint += x.footprint;
            }
            match &a.outcome {
                Outcome::Done | Outcome::DryRun => {
                    if a.outcome == Outcome::Done {
                        totals.done += 1;
                    } else {
                        totals.would_do += 1;
                    }
                    if let Some(x) = &a.avoided_per_day {
                        avoided.instance_hours += x.instance_hours;
                        avoided.footprint += x.footprint;
                    }
                }
                Outcome::Failed { .. } => totals.failed += 1,
                Outcome::Reported => totals.reported += 1,
                Outcome::Marked { .. } => totals.marked += 1,
                Outcome::WouldMark { .. } => totals.would_mark += 1,
                Outcome::Skipped { why, .. } => match why {
                    SkipReason::Kept => totals.kept += 1,
                    SkipReason::TooYoung => totals.too_young += 1,
                    SkipReason::CapReached => totals.cap_reached += 1,
                    SkipReason::InGrace => totals.in_grace += 1,
                },
            }
        }
        CleanupReport {
            run_id,
            at,
            dry_run,
            region,
            actions,
            totals,
            avoided_per_day: avoided,
            right_size_savings_per_day: right_size,
            notices: Vec::new(),
            inventory_errors: Vec::new(),
            listing_pages: Default::default(),
            report_uri: None,
        }
    }

    /// EMF lines: avoided footprint per day, and action counts, dimension `Job=cleanup-idle, Mode`.
    pub fn emf_lines(&self, timestamp_ms: u64) -> Result<Vec<String>, FootprintError> {
        let mode = if self.dry_run { "dry-run" } else { "act" };
        let dims = [("Job", "cleanup-idle"), ("Mode", mode)];
        let a = &self.avoided_per_day;
        let counts = [
            ("ActionsDone", self.totals.done),
            ("ActionsWouldDo", self.totals.would_do),
            ("ActionsFailed", self.totals.failed),
            (
                "ActionsSkipped",
                self.totals.kept + self.totals.too_young + self.totals.cap_reached,
            ),
            ("Marked", self.totals.marked + self.totals.would_mark),
            ("InGrace", self.totals.in_grace),
        ];
        let count_metrics: Vec<EmfMetric<'_>> = counts
            .iter()
            .map(|(name, n)| EmfMetric {
                name,
                value: *n as f64,
                unit: EmfUnit::Count,
            })
            .collect();
        Ok(vec![
            footprint::footprint_emf_line(
                "AvoidedPerDay",
                &dims,
                &a.footprint,
                Some(a.instance_hours),
                timestamp_ms,
            )?,
            footprint::emf_line(footprint::NAMESPACE, &dims, &count_metrics, timestamp_ms)?,
        ])
    }

    /// A plain-text table for terminals: one line per record, then totals.
    pub fn table(&self) -> String {
        let mut rows: Vec<[String; 5]> = vec![[
            "KIND".into(),
            "RESOURCE".into(),
            "ACTION".into(),
            "OUTCOME".into(),
            "REASON".into(),
        ]];
        for a in &self.actions {
            let outcome = match &a.outcome {
                Outcome::DryRun => "would do".to_string(),
                Outcome::Done => "done".to_string(),
                Outcome::Failed { error_type, .. } => format!("FAILED ({error_type})"),
                Outcome::Skipped { why, detail } => format!(
                    "skipped: {}",
                    match why {
                        SkipReason::Kept => detail.clone(),
                        SkipReason::TooYoung => "too young".into(),
                        SkipReason::CapReached => "cap reached".into(),
                        SkipReason::InGrace => detail.clone(),
                    }
                ),
                Outcome::Reported => "reported".to_string(),
                Outcome::Marked { acts_after } => format!("marked: acts after {acts_after}"),
                Outcome::WouldMark { acts_after } => format!("would mark: acts after {acts_after}"),
            };
            let mut reason = a.reason.clone();
            if let Outcome::Failed { message, .. } = &a.outcome {
                reason = format!("{reason} | {message}");
            }
            rows.push([
                a.kind.name().into(),
                a.resource.clone(),
                a.action.name().into(),
                outcome,
                reason,
            ]);
        }
        let widths: Vec<usize> = (0..4)
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for r in &rows {
            for (i, w) in widths.iter().enumerate() {
                out.push_str(&format!("{:<w$}  ", r[i], w = *w));
            }
            out.push_str(&r[4]);
            out.push('\n');
        }
        let t = &self.totals;
        let a = &self.avoided_per_day;
        out.push_str(&format!(
            "\n{} mode: {} examined, {} picked: {} done, {} would do, {} failed, {} kept, {} too young, {} over the cap, {} reported; {} unmanaged left alone\n",
            if self.dry_run { "dry-run" } else { "act" },
            t.examined, t.picked, t.done, t.would_do, t.failed, t.kept, t.too_young, t.cap_reached, t.reported, t.unmanaged
        ));
        if t.marked + t.would_mark + t.in_grace > 0 {
            out.push_str(&format!(
                "grace period: {} marked, {} would mark, {} waiting out an earlier mark\n",
                t.marked, t.would_mark, t.in_grace
            ));
        }
        for n in &self.notices {
            out.push_str(&format!("notice: {n}\n"));
        }
        out.push_str(&format!(
            "avoided per day: {:.1} instance-hours, ${:.2}, {:.3} kWh, {:.3} kgCO2e\n",
            a.instance_hours, a.footprint.usd, a.footprint.kwh, a.footprint.kg_co2e
        ));
        let r = &self.right_size_savings_per_day;
        if r.footprint.usd > 0.0 {
            out.push_str(&format!(
                "right-sizing would save per day: ${:.2}, {:.3} kWh, {:.3} kgCO2e (${:.2} a month)\n",
                r.footprint.usd,
                r.footprint.kwh,
                r.footprint.kg_co2e + r.footprint.embodied_kg_co2e,
                r.footprint.usd * 730.0 / 24.0
            ));
        }
        for e in &self.inventory_errors {
            out.push_str(&format!("listing failed: {e}\n"));
        }
        if let Some(uri) = &self.report_uri {
            out.push_str(&format!("report: {uri}\n"));
        }
        out
    }
}

/// Avoided footprint, for callers that add their own figures.
pub fn add_avoided(a: &mut Avoided, hours: f64, f: Footprint) {
    a.instance_hours += hours;
    a.footprint += f;
}

/// A restore manifest: everything needed to recreate a deleted endpoint (models with containers and
/// roles, the endpoint config, tags). Written to S3 before the endpoint is deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreManifest {
    /// Format version (1).
    pub version: u32,
    pub endpoint_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_arn: Option<String>,
    #[serde(default)]
    pub endpoint_tags: Vec<Tag>,
    pub endpoint_config: EndpointConfigSpec,
    pub models: Vec<ModelSpec>,
    /// RFC 3339 time of the deletion.
    pub deleted_at: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConfigSpec {
    pub name: String,
    pub production_variants: Vec<VariantSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantSpec {
    pub variant_name: String,
    pub model_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_instance_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_variant_weight: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless_memory_mb: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless_max_concurrency: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_container: Option<ContainerSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerSpec>,
    #[serde(default)]
    pub enable_network_isolation: bool,
    /// The model's VPC (its containers' network): restored as it was, never dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_config: Option<VpcSpec>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcSpec {
    pub security_group_ids: Vec<String>,
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_data_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub environment: std::collections::BTreeMap<String, String>,
}
