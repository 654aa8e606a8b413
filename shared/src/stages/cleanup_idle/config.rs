//! Settings of the cleanup-idle job: read once per cold start from the environment (failing fast with
//! the variable's name), then optionally overridden per invocation by the event (see [`Overrides`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// CloudWatch Logs accepts only these retention periods (days).
pub const LOG_RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/// What cleanup looks at. Disabled kinds are not even listed (no API calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    Endpoints,
    Notebooks,
    StudioApps,
    /// Studio's own idle shutdown (domains and user profiles), and the apps it leaves on.
    StudioSettings,
    Jobs,
    Orphans,
    Objects,
    Buckets,
    LogGroups,
}

impl Area {
    pub const ALL: [Area; 9] = [
        Area::Endpoints,
        Area::Notebooks,
        Area::StudioApps,
        Area::StudioSettings,
        Area::Jobs,
        Area::Orphans,
        Area::Objects,
        Area::Buckets,
        Area::LogGroups,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Area::Endpoints => "endpoints",
            Area::Notebooks => "notebooks",
            Area::StudioApps => "studio-apps",
            Area::StudioSettings => "studio-settings",
            Area::Jobs => "jobs",
            Area::Orphans => "orphans",
            Area::Objects => "objects",
            Area::Buckets => "buckets",
            Area::LogGroups => "log-groups",
        }
    }

    fn parse(s: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// Which SageMaker resources cleanup may act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Only resources carrying the managed tag (the default).
    Managed,
    /// Every resource in the account and region (still honouring keep tags, age and the cap).
    All,
}

/// Cleanup settings. Durations are whole seconds internally; the environment speaks hours and days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanupConfig {
    /// `GREENPIPE_CLEANUP_DRY_RUN` (default `true`): report what would be done, change nothing.
    pub dry_run: bool,
    /// `GREENPIPE_CLEANUP_SCOPE` (`managed` | `all`, default `managed`).
    pub scope: Scope,
    /// `GREENPIPE_CLEANUP_MANAGED_TAG` (default `greenpipe:managed=true`): `key=value` (or just `key`,
    /// any value) marking the SageMaker resources greenpipe manages.
    pub managed_tag: (String, Option<String>),
    /// `GREENPIPE_CLEANUP_KEEP_TAGS` (default `greenpipe:keep`): comma-separated tag keys; a resource
    /// carrying any of them (with a value other than `false`) is never touched. `greenpipe:keep` is
    /// always included.
    pub keep_tags: Vec<String>,
    /// `GREENPIPE_CLEANUP_MIN_AGE_HOURS` (default 24): nothing younger is touched.
    #[serde(with = "secs")]
    pub min_age: Duration,
    /// `GREENPIPE_CLEANUP_ENDPOINT_IDLE_HOURS` (default 24): an endpoint with no invocation on any
    /// production variant for this long is idle.
    #[serde(with = "secs")]
    pub endpoint_idle: Duration,
    /// `GREENPIPE_CLEANUP_NOTEBOOK_IDLE_HOURS` (default 3): an InService notebook instance whose last
    /// Jupyter activity ([`ACTIVITY_TAG`]) is older is stopped. (Formerly: not modified
    /// for this long is stopped.
    #[serde(with = "secs")]
    pub notebook_idle: Duration,
    /// `GREENPIPE_CLEANUP_STUDIO_APP_IDLE_HOURS` (default 3): a Studio app without user activity for this
    /// long is deleted (its space's storage stays).
    #[serde(with = "secs")]
    pub studio_app_idle: Duration,
    /// `GREENPIPE_CLEANUP_STUDIO_IDLE_SHUTDOWN_MINUTES` (60..=525600, unset by default): turn on Studio's
    /// own idle shutdown (JupyterLab and Code Editor) with this timeout on every domain whose default
    /// leaves it off and every user profile that turns it off. Unset: those are only reported.
    pub studio_idle_shutdown_minutes: Option<i32>,
    /// `GREENPIPE_CLEANUP_JOB_BUDGET_HOURS` (default 24): a training, processing or transform job
    /// running longer is stopped. A job's `greenpipe:budget-hours` tag overrides it.
    #[serde(with = "secs")]
    pub job_budget: Duration,
    /// `GREENPIPE_CLEANUP_ORPHAN_DAYS` (default 7): models and endpoint configs no endpoint uses, older
    /// than this, are deleted.
    #[serde(with = "secs")]
    pub orphan_age: Duration,
    /// `GREENPIPE_CLEANUP_MAX_ACTIONS` (default 20): at most this many resources (objects excepted) are
    /// acted on per run; the rest are reported as `cap-reached`.
    pub max_actions: u32,
    /// `GREENPIPE_CLEANUP_MAX_OBJECT_DELETES` (default 1000): the same cap for expired objects.
    pub max_object_deletes: u32,
    /// `GREENPIPE_CLEANUP_BUCKETS` (comma-separated): the buckets greenpipe manages (their prefixes are
    /// swept, their lifecycle checked). Empty: no S3 cleanup.
    pub buckets: Vec<String>,
    /// `GREENPIPE_CLEANUP_PREFIXES` (default `greenpipe/reports/,greenpipe/quarantine/,greenpipe/tmp/`):
    /// greenpipe's own prefixes in those buckets; only objects under them are ever deleted.
    pub prefixes: Vec<String>,
    /// `GREENPIPE_CLEANUP_RETENTION_DAYS` (default 30): objects under the prefixes older than this are
    /// deleted.
    #[serde(with = "secs")]
    pub retention: Duration,
    /// `GREENPIPE_CLEANUP_PUT_LIFECYCLE` (default `false`): give a managed bucket without lifecycle rules
    /// one (expire the prefixes after the retention, abort incomplete multipart uploads after 7 days)
    /// instead of only reporting it.
    pub put_lifecycle: bool,
    /// `GREENPIPE_CLEANUP_LOG_GROUP_PREFIXES` (default `/aws/lambda/greenpipe-,/aws/vendedlogs/states/greenpipe`):
    /// greenpipe's log groups; those without retention get one.
    pub log_group_prefixes: Vec<String>,
    /// `GREENPIPE_CLEANUP_LOG_RETENTION_DAYS` (default 30; one of CloudWatch's allowed values).
    pub log_retention_days: i32,
    /// `GREENPIPE_CLEANUP_REPORT_BUCKET`: where reports and endpoint restore manifests go. Required to
    /// delete endpoints (no manifest, no delete).
    pub report_bucket: Option<String>,
    /// `GREENPIPE_CLEANUP_REPORT_PREFIX` (default `greenpipe/cleanup/`): reports at
    /// `<prefix>reports/<run>.json`, manifests at `<prefix>manifests/<endpoint>/<run>.json`.
    pub report_prefix: String,
    /// `GREENPIPE_CLEANUP_AREAS` (comma-separated, default all): endpoints, notebooks, studio-apps, jobs,
    /// orphans, objects, buckets, log-groups.
    pub areas: BTreeSet<Area>,
    /// `GREENPIPE_CLEANUP_PAGE_SIZE` (optional): page size of every listing (the services' default
    /// otherwise). Every listing is paginated to the end either way.
    pub page_size: Option<i32>,
    /// `GREENPIPE_REPORTS_PREFIX` (default `greenpipe/reports/`): validation reports, which mark an
    /// object version as done. Objects under it are kept at least [`IDEMPOTENCY_WINDOW`], whatever the
    /// retention, so a late duplicate of an S3 event still finds its report and starts nothing.
    pub reports_prefix: String,
    /// `GREENPIPE_CLEANUP_GRACE_HOURS` (default 0: off): with a grace period, a run that picks an endpoint,
    /// notebook instance, Studio app, endpoint config or model does not act on it: it tags it
    /// [`MARK_TAG`] (the planned action and the time after which it is taken) and notifies; a later run
    /// acts only once that time has passed and only if the resource is still picked. A marked resource
    /// that is no longer picked (busy again, or opted out) has its mark removed, so its next idle spell
    /// starts a new grace period with a new notice.
    #[serde(with = "secs")]
    pub grace: Duration,
    /// `GREENPIPE_CLEANUP_NOTICE_TOPIC_ARN` (optional): the SNS topic told of every mark (one message per
    /// run). Notices that cannot be sent undo the run's marks.
    pub notice_topic_arn: Option<String>,
    /// `GREENPIPE_CLEANUP_NOTICE_EVENT_BUS` (optional, e.g. `default`): the EventBridge bus that gets an
    /// event per marked resource (source `greenpipe.cleanup`, detail-type `Cleanup Planned`).
    pub notice_event_bus: Option<String>,
    /// `GREENPIPE_CLEANUP_EVENT_OVERRIDES` (`tighten`, default, or `any`): what an invocation's event
    /// may change. With `tighten` it may only make the run safer (see
    /// [`CleanupConfig::with_event_overrides`]); the stack's own settings decide the rest.
    pub event_overrides: EventOverrides,
}

/// What an invocation's event may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventOverrides {
    Tighten,
    Any,
}

/// How long a validation report must outlive its object's events: EventBridge delivers an event for up
/// to an hour (the template's MaximumEventAgeInSeconds) and Lambda retries an asynchronous invocation for
/// up to six; a day covers both with room.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl Default for CleanupConfig {
    fn default() -> Self {
        const HOUR: u64 = 3600;
        CleanupConfig {
            dry_run: true,
            scope: Scope::Managed,
            managed_tag: ("greenpipe:managed".into(), Some("true".into())),
            keep_tags: vec![KEEP_TAG.into()],
            min_age: Duration::from_secs(24 * HOUR),
            endpoint_idle: Duration::from_secs(24 * HOUR),
            notebook_idle: Duration::from_secs(3 * HOUR),
            studio_app_idle: Duration::from_secs(3 * HOUR),
            studio_idle_shutdown_minutes: None,
            job_budget: Duration::from_secs(24 * HOUR),
            orphan_age: Duration::from_secs(7 * 24 * HOUR),
            max_actions: 20,
            max_object_deletes: 1000,
            buckets: Vec::new(),
            prefixes: vec![
                "greenpipe/reports/".into(),
                "greenpipe/quarantine/".into(),
                "greenpipe/tmp/".into(),
            ],
            retention: Duration::from_secs(30 * 24 * HOUR),
            put_lifecycle: false,
            log_group_prefixes: vec![
                "/aws/lambda/greenpipe-".into(),
                "/aws/vendedlogs/states/greenpipe".into(),
            ],
            log_retention_days: 30,
            report_bucket: None,
            report_prefix: "greenpipe/cleanup/".into(),
            areas: Area::ALL.into_iter().collect(),
            page_size: None,
            reports_prefix: "greenpipe/reports/".into(),
            grace: Duration::ZERO,
            notice_topic_arn: None,
            notice_event_bus: None,
            event_overrides: EventOverrides::Tighten,
        }
    }
}

/// The tag that always opts a resource out.
pub const KEEP_TAG: &str = "greenpipe:keep";
/// Per-job budget override, in hours.
pub const BUDGET_TAG: &str = "greenpipe:budget-hours";
/// A notebook instance's last Jupyter activity (RFC 3339, or seconds since the epoch), kept by the
/// notebook's lifecycle configuration: the only signal cleanup judges a notebook's idleness by.
pub const ACTIVITY_TAG: &str = "greenpipe:last-activity";
/// A grace-period mark: `<action>@<RFC 3339 time>`, the action a run planned and the time after which a
/// later run may take it (see [`CleanupConfig::grace`]).
pub const MARK_TAG: &str = "greenpipe:cleanup-at";

/// Per-invocation overrides (the event's JSON, camelCase). Unknown fields are refused so a typo never
/// silently runs with defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Overrides {
    pub dry_run: Option<bool>,
    pub scope: Option<Scope>,
    pub keep_tags: Option<Vec<String>>,
    pub min_age_hours: Option<f64>,
    pub endpoint_idle_hours: Option<f64>,
    pub notebook_idle_hours: Option<f64>,
    pub studio_app_idle_hours: Option<f64>,
    pub job_budget_hours: Option<f64>,
    pub orphan_days: Option<f64>,
    pub max_actions: Option<u32>,
    pub max_object_deletes: Option<u32>,
    pub buckets: Option<Vec<String>>,
    pub prefixes: Option<Vec<String>>,
    pub retention_days: Option<f64>,
    pub put_lifecycle: Option<bool>,
    pub log_retention_days: Option<i32>,
    pub areas: Option<Vec<Area>>,
    pub grace_hours: Option<f64>,
}

impl CleanupConfig {
    /// The call table's placeholders these settings decide (see `aws::access::values`); `bucket` is the
    /// data bucket, the default report bucket and the bucket checked when none is listed.
    pub fn placeholders(&self, bucket: &str) -> BTreeMap<&'static str, String> {
        let mut v = BTreeMap::from([
            (
                "cleanup_report_bucket",
                self.report_bucket.clone().unwrap_or_else(|| bucket.to_string()),
            ),
            ("cleanup_reports", self.report_prefix.clone()),
            (
                "cleanup_bucket",
                self.buckets
                    .first()
                    .cloned()
                    .unwrap_or_else(|| bucket.to_string()),
            ),
            ("cleanup_prefix", self.prefixes.join(",")),
        ]);
        if let Some(topic) = &self.notice_topic_arn {
            v.insert("cleanup_notice_topic", topic.clone());
        }
        if let Some(bus) = &self.notice_event_bus {
            v.insert("cleanup_event_bus", bus.clone());
        }
        v
    }

    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read through `lookup` (the environment or a map in tests); empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let d = CleanupConfig::default();
        let hours = |name: &str, default: Duration| -> Result<Duration> {
            get(name).map_or(Ok(default), |v| duration(name, &v, 3600.0))
        };
        let days = |name: &str, default: Duration| -> Result<Duration> {
            get(name).map_or(Ok(default), |v| duration(name, &v, 86_400.0))
        };
        let list = |name: &str| get(name).map(|v| split_list(&v));
        let config = CleanupConfig {
            dry_run: get("GREENPIPE_CLEANUP_DRY_RUN")
                .map(|v| parse_bool("GREENPIPE_CLEANUP_DRY_RUN", &v))
                .transpose()?
                .unwrap_or(true),
            scope: match get("GREENPIPE_CLEANUP_SCOPE").as_deref() {
                None | Some("managed") => Scope::Managed,
                Some("all") => Scope::All,
                Some(v) => {
                    return Err(Error::Config(format!(
                        "GREENPIPE_CLEANUP_SCOPE={v:?} must be `managed` or `all`"
                    )))
                }
            },
            managed_tag: match get("GREENPIPE_CLEANUP_MANAGED_TAG") {
                None => d.managed_tag.clone(),
                Some(v) => match v.split_once('=') {
                    Some((k, _)) if k.trim().is_empty() => {
                        return Err(Error::Config(format!(
                            "GREENPIPE_CLEANUP_MANAGED_TAG={v:?} needs a tag key (key=value)"
                        )))
                    }
                    Some((k, val)) => (k.trim().to_string(), Some(val.trim().to_string())),
                    None => (v, None),
                },
            },
            keep_tags: with_keep_tag(list("GREENPIPE_CLEANUP_KEEP_TAGS").unwrap_or_default()),
            min_age: hours("GREENPIPE_CLEANUP_MIN_AGE_HOURS", d.min_age)?,
            endpoint_idle: hours("GREENPIPE_CLEANUP_ENDPOINT_IDLE_HOURS", d.endpoint_idle)?,
            notebook_idle: hours("GREENPIPE_CLEANUP_NOTEBOOK_IDLE_HOURS", d.notebook_idle)?,
            studio_app_idle: hours("GREENPIPE_CLEANUP_STUDIO_APP_IDLE_HOURS", d.studio_app_idle)?,
            studio_idle_shutdown_minutes: get("GREENPIPE_CLEANUP_STUDIO_IDLE_SHUTDOWN_MINUTES")
                .map(|v| match parse_u32("GREENPIPE_CLEANUP_STUDIO_IDLE_SHUTDOWN_MINUTES", &v)? {
                    // SageMaker's bounds for IdleTimeoutInMinutes.
                    n @ 60..=525_600 => Ok(n as i32),
                    _ => Err(Error::Config(format!(
                        "GREENPIPE_CLEANUP_STUDIO_IDLE_SHUTDOWN_MINUTES={v:?} must be 60..=525600 (SageMaker's bounds)"
                    ))),
                })
                .transpose()?,
            job_budget: hours("GREENPIPE_CLEANUP_JOB_BUDGET_HOURS", d.job_budget)?,
            orphan_age: days("GREENPIPE_CLEANUP_ORPHAN_DAYS", d.orphan_age)?,
            max_actions: get("GREENPIPE_CLEANUP_MAX_ACTIONS")
                .map(|v| parse_u32("GREENPIPE_CLEANUP_MAX_ACTIONS", &v))
                .transpose()?
                .unwrap_or(d.max_actions),
            max_object_deletes: get("GREENPIPE_CLEANUP_MAX_OBJECT_DELETES")
                .map(|v| parse_u32("GREENPIPE_CLEANUP_MAX_OBJECT_DELETES", &v))
                .transpose()?
                .unwrap_or(d.max_object_deletes),
            buckets: list("GREENPIPE_CLEANUP_BUCKETS").unwrap_or_default(),
            prefixes: match list("GREENPIPE_CLEANUP_PREFIXES") {
                None => d.prefixes.clone(),
                Some(p) => normalise_prefixes("GREENPIPE_CLEANUP_PREFIXES", p)?,
            },
            retention: days("GREENPIPE_CLEANUP_RETENTION_DAYS", d.retention)?,
            put_lifecycle: get("GREENPIPE_CLEANUP_PUT_LIFECYCLE")
                .map(|v| parse_bool("GREENPIPE_CLEANUP_PUT_LIFECYCLE", &v))
                .transpose()?
                .unwrap_or(false),
            log_group_prefixes: list("GREENPIPE_CLEANUP_LOG_GROUP_PREFIXES")
                .unwrap_or(d.log_group_prefixes.clone()),
            log_retention_days: get("GREENPIPE_CLEANUP_LOG_RETENTION_DAYS")
                .map(|v| parse_retention("GREENPIPE_CLEANUP_LOG_RETENTION_DAYS", &v))
                .transpose()?
                .unwrap_or(d.log_retention_days),
            report_bucket: get("GREENPIPE_CLEANUP_REPORT_BUCKET"),
            report_prefix: get("GREENPIPE_CLEANUP_REPORT_PREFIX")
                .map(|v| {
                    normalise_prefixes("GREENPIPE_CLEANUP_REPORT_PREFIX", vec![v]).map(|mut p| p.remove(0))
                })
                .transpose()?
                .unwrap_or(d.report_prefix.clone()),
            areas: match list("GREENPIPE_CLEANUP_AREAS") {
                None => d.areas.clone(),
                Some(names) => names
                    .iter()
                    .map(|n| {
                        Area::parse(n).ok_or_else(|| {
                            Error::Config(format!(
                                "GREENPIPE_CLEANUP_AREAS: unknown area {n:?} (one of: {})",
                                Area::ALL.map(Area::name).join(", ")
                            ))
                        })
                    })
                    .collect::<Result<_>>()?,
            },
            page_size: get("GREENPIPE_CLEANUP_PAGE_SIZE")
                .map(|v| match parse_u32("GREENPIPE_CLEANUP_PAGE_SIZE", &v)? {
                    n @ 1..=100 => Ok(n as i32),
                    _ => Err(Error::Config(format!(
                        "GREENPIPE_CLEANUP_PAGE_SIZE={v:?} must be 1..=100"
                    ))),
                })
                .transpose()?,
            reports_prefix: get("GREENPIPE_REPORTS_PREFIX")
                .map(|v| normalise_prefixes("GREENPIPE_REPORTS_PREFIX", vec![v]).map(|mut p| p.remove(0)))
                .transpose()?
                .unwrap_or(d.reports_prefix.clone()),
            grace: hours("GREENPIPE_CLEANUP_GRACE_HOURS", d.grace)?,
            notice_topic_arn: get("GREENPIPE_CLEANUP_NOTICE_TOPIC_ARN"),
            notice_event_bus: get("GREENPIPE_CLEANUP_NOTICE_EVENT_BUS"),
            event_overrides: match get("GREENPIPE_CLEANUP_EVENT_OVERRIDES").as_deref() {
                None | Some("tighten") => EventOverrides::Tighten,
                Some("any") => EventOverrides::Any,
                Some(v) => {
                    return Err(Error::Config(format!(
                        "GREENPIPE_CLEANUP_EVENT_OVERRIDES={v:?} must be `tighten` or `any`"
                    )))
                }
            },
        };
        config.check()?;
        Ok(config)
    }

    /// The retention of an object under `key`: validation reports are kept at least the
    /// [`IDEMPOTENCY_WINDOW`].
    pub fn retention_of(&self, key: &str) -> Duration {
        if key.starts_with(self.reports_prefix.as_str()) {
            self.retention.max(IDEMPOTENCY_WINDOW)
        } else {
            self.retention
        }
    }

    /// Apply the overrides of a scheduled (or any) invocation's event, within what the stack allows:
    /// with [`EventOverrides::Tighten`] an event may only make the run safer — a dry run where the
    /// stack acts, never an act where it dry-runs; the managed scope, never `all`; longer ages, idle
    /// times, budgets, retentions; fewer actions; a subset of the buckets, prefixes and areas; more keep
    /// tags; no lifecycle rules where the stack puts none. Anything else is `InvalidEvent`, naming it.
    pub fn with_event_overrides(&self, o: &Overrides) -> Result<CleanupConfig> {
        if self.event_overrides == EventOverrides::Any {
            return self.with_overrides(o);
        }
        let widened = |field: &str| {
            Error::InvalidEvent(format!(
                "override {field} would loosen what the stack allows; events may only tighten it \
                 (GREENPIPE_CLEANUP_EVENT_OVERRIDES=tighten)"
            ))
        };
        let c = self.with_overrides(o)?;
        let hours = |d: Duration| d.as_secs_f64();
        let checks: [(&str, bool); 16] = [
            ("dryRun", !c.dry_run && self.dry_run),
            ("scope", c.scope == Scope::All && self.scope == Scope::Managed),
            ("minAgeHours", c.min_age < self.min_age),
            ("endpointIdleHours", c.endpoint_idle < self.endpoint_idle),
            ("notebookIdleHours", c.notebook_idle < self.notebook_idle),
            ("studioAppIdleHours", c.studio_app_idle < self.studio_app_idle),
            ("jobBudgetHours", hours(c.job_budget) < hours(self.job_budget)),
            ("orphanDays", c.orphan_age < self.orphan_age),
            ("retentionDays", c.retention < self.retention),
            ("maxActions", c.max_actions > self.max_actions),
            ("maxObjectDeletes", c.max_object_deletes > self.max_object_deletes),
            ("buckets", c.buckets.iter().any(|b| !self.buckets.contains(b))),
            (
                "prefixes",
                c.prefixes
                    .iter()
                    .any(|p| !self.prefixes.iter().any(|s| p.starts_with(s.as_str()))),
            ),
            ("putLifecycle", c.put_lifecycle && !self.put_lifecycle),
            ("logRetentionDays", c.log_retention_days < self.log_retention_days),
            ("graceHours", c.grace < self.grace),
        ];
        if let Some((field, _)) = checks.iter().find(|(_, loosened)| *loosened) {
            return Err(widened(field));
        }
        if !c.areas.is_subset(&self.areas) {
            return Err(widened("areas"));
        }
        if !self.keep_tags.iter().all(|k| c.keep_tags.contains(k)) {
            return Err(widened("keepTags"));
        }
        Ok(c)
    }

    /// Apply an invocation's overrides. Errors are `InvalidEvent` (the event is wrong, not the deployment).
    pub fn with_overrides(&self, o: &Overrides) -> Result<CleanupConfig> {
        let bad = |field: &str, why: &str| Error::InvalidEvent(format!("override {field}: {why}"));
        let dur = |field: &str, v: Option<f64>, unit: f64, current: Duration| -> Result<Duration> {
            match v {
                None => Ok(current),
                Some(x) if x >= 0.0 => {
                    Duration::try_from_secs_f64(x * unit).map_err(|_| bad(field, "too large a duration"))
                }
                Some(_) => Err(bad(field, "must be a non-negative number")),
            }
        };
        let mut c = self.clone();
        c.dry_run = o.dry_run.unwrap_or(c.dry_run);
        c.scope = o.scope.unwrap_or(c.scope);
        if let Some(k) = &o.keep_tags {
            c.keep_tags = with_keep_tag(k.clone());
        }
        c.min_age = dur("minAgeHours", o.min_age_hours, 3600.0, c.min_age)?;
        c.endpoint_idle = dur(
            "endpointIdleHours",
            o.endpoint_idle_hours,
            3600.0,
            c.endpoint_idle,
        )?;
        c.notebook_idle = dur(
            "notebookIdleHours",
            o.notebook_idle_hours,
            3600.0,
            c.notebook_idle,
        )?;
        c.studio_app_idle = dur(
            "studioAppIdleHours",
            o.studio_app_idle_hours,
            3600.0,
            c.studio_app_idle,
        )?;
        c.job_budget = dur("jobBudgetHours", o.job_budget_hours, 3600.0, c.job_budget)?;
        c.orphan_age = dur("orphanDays", o.orphan_days, 86_400.0, c.orphan_age)?;
        c.retention = dur("retentionDays", o.retention_days, 86_400.0, c.retention)?;
        c.grace = dur("graceHours", o.grace_hours, 3600.0, c.grace)?;
        c.max_actions = o.max_actions.unwrap_or(c.max_actions);
        c.max_object_deletes = o.max_object_deletes.unwrap_or(c.max_object_deletes);
        if let Some(b) = &o.buckets {
            c.buckets = b.clone();
        }
        if let Some(p) = &o.prefixes {
            c.prefixes = normalise_prefixes("prefixes", p.clone())
                .map_err(|e| Error::InvalidEvent(format!("override {e}")))?;
        }
        c.put_lifecycle = o.put_lifecycle.unwrap_or(c.put_lifecycle);
        if let Some(days) = o.log_retention_days {
            if !LOG_RETENTION_DAYS.contains(&days) {
                return Err(bad("logRetentionDays", "not a CloudWatch Logs retention value"));
            }
            c.log_retention_days = days;
        }
        if let Some(a) = &o.areas {
            c.areas = a.iter().copied().collect();
        }
        c.check().map_err(|e| Error::InvalidEvent(e.to_string()))?;
        Ok(c)
    }

    fn check(&self) -> Result<()> {
        if !self.dry_run && self.report_bucket.is_none() && self.areas.contains(&Area::Endpoints) {
            return Err(Error::Config(
                "GREENPIPE_CLEANUP_REPORT_BUCKET is required when GREENPIPE_CLEANUP_DRY_RUN=false: \
                 endpoints are only deleted after their restore manifest is saved"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Whether the tags opt the resource out; returns the tag that did.
    pub fn keep_tag<'a>(&self, tags: &'a std::collections::BTreeMap<String, String>) -> Option<&'a str> {
        self.keep_tags.iter().find_map(|k| {
            tags.get_key_value(k.as_str())
                .filter(|(_, v)| !v.eq_ignore_ascii_case("false"))
                .map(|(k, _)| k.as_str())
        })
    }

    /// Whether the tags mark the resource as greenpipe's.
    pub fn is_managed(&self, tags: &std::collections::BTreeMap<String, String>) -> bool {
        let (key, value) = &self.managed_tag;
        match (tags.get(key), value) {
            (Some(v), Some(want)) => v == want,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

fn with_keep_tag(mut tags: Vec<String>) -> Vec<String> {
    tags.retain(|t| !t.is_empty());
    if !tags.iter().any(|t| t == KEEP_TAG) {
        tags.insert(0, KEEP_TAG.into());
    }
    tags
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Prefixes end with one `/` and never name the bucket root (that would make every object ours).
fn normalise_prefixes(name: &str, prefixes: Vec<String>) -> Result<Vec<String>> {
    prefixes
        .into_iter()
        .map(|p| {
            let t = p.trim().trim_matches('/');
            if t.is_empty() {
                Err(Error::Config(format!(
                    "{name}: {p:?} must name a folder, not the bucket root"
                )))
            } else {
                Ok(format!("{t}/"))
            }
        })
        .collect()
}

fn duration(name: &str, value: &str, unit_secs: f64) -> Result<Duration> {
    match value.replace('_', "").parse::<f64>() {
        Ok(x) if x >= 0.0 => Duration::try_from_secs_f64(x * unit_secs)
            .map_err(|_| Error::Config(format!("{name}={value:?} is too large a duration"))),
        _ => Err(Error::Config(format!(
            "{name}={value:?} is not a non-negative number"
        ))),
    }
}

fn parse_u32(name: &str, value: &str) -> Result<u32> {
    value
        .replace('_', "")
        .parse()
        .map_err(|_| Error::Config(format!("{name}={value:?} is not a whole number")))
}

fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::Config(format!(
            "{name}={value:?} is not a boolean (true/false)"
        ))),
    }
}

fn parse_retention(name: &str, value: &str) -> Result<i32> {
    match value.parse::<i32>() {
        Ok(d) if LOG_RETENTION_DAYS.contains(&d) => Ok(d),
        _ => Err(Error::Config(format!(
            "{name}={value:?} is not a CloudWatch Logs retention value ({LOG_RETENTION_DAYS:?})"
        ))),
    }
}

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}
