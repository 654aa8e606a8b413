//! The run report: what one pipeline execution did, how long each stage took, what it cost in dollars,
//! kWh and kgCO2e, built from the state machine's state (`$`) as report-run receives it. Pure: the
//! report-run stage ([`super::handler`]) adds the clock, writes it to S3 and logs it.
//!
//! Stage footprints:
//! - training: `DescribeTrainingJob` (the `.sync` result, or the failed job's description in a Catch's
//!   `Cause`): instance type and count, `TrainingTimeInSeconds` for energy and `BillableTimeInSeconds`
//!   for cost, so managed spot savings show; without them (emulators), the start/end timestamps;
//! - transform: `DescribeTransformJob`: instance type and count, `TransformEndTime − TransformStartTime`;
//! - Lambda stages: what each function measured of itself ([`Measured`]: handler time, configured
//!   memory, a cold start's initialisation, which Lambda bills): its output's `invocation`
//!   (write-features: its `totals`, summed over the invocations of a run), validate-dataset's from the
//!   execution input (`dataset.validation`), report-run's own up to building the report. Chosen over
//!   the execution history: no extra call or permission, the same figures locally and in AWS, and the
//!   history's task times include Lambda's queueing, which is not billed. A stage without one (an older
//!   function, a stand-in) gets a nominal invocation (configurable), marked `"measured": false`;
//! - embodied emissions (CCF) for the instance-hours, apart from the operational ones;
//! - data stored: what the run left in the artifacts bucket (the training job's output and
//!   checkpoints, the transform's output), listed by report-run ([`written_prefixes`]) and counted as
//!   one month of S3 Standard (the monthly cost of keeping it; lifecycle rules may expire it sooner);
//!   reports and markers (kilobytes) and the feature store's offline files are not counted;
//! - data moved: the dataset's bytes read by each stage that reads it, all within the region (S3
//!   event notifications reach functions of the bucket's region; the SDK clients do not cross
//!   regions), which CCF and AWS count as zero, and the report says so;
//! - an instance type or region the coefficients do not cover never fails the run: the line is
//!   `unmodelled` with the reason (an unknown region keeps cost and energy, which do not depend on the
//!   grid, and drops only carbon), and `totals.excludes` lists what the totals leave out;
//! - the state machine's own transitions and S3 requests are not counted (cents per thousand runs).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::footprint::{self, footprint_emf_line, Arch, Estimate, Footprint, FootprintError};
use crate::pipeline::{LastTrained, Measured, Utilisation};
use crate::validate::values::{format_timestamp, parse_timestamp};
use crate::{Error, Result};

/// The Lambda stages in pipeline order: (state key, function name).
const LAMBDA_STAGES: &[(&str, &str)] = &[
    ("catalog", "register-catalog"),
    ("features", "write-features"),
    ("plan", "plan-training"),
    ("transformPlan", "plan-transform"),
];

/// Settings of the estimate that do not come from the state.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSettings {
    /// AWS region of the run (grid factor).
    pub region: String,
    /// Lambda stages whose outputs carry no `durationMs` / `memoryMb`.
    pub nominal_lambda_ms: u64,
    pub nominal_lambda_memory_mb: u32,
    pub lambda_arch: Arch,
    /// report-run's own measurement, from the start of its invocation to building the report.
    pub own: Option<Measured>,
    /// What the run left in S3, as report-run listed it ([`written_prefixes`]).
    pub stored: Vec<Stored>,
    /// The training job's use of its instances, as report-run read it from CloudWatch.
    pub utilisation: Option<Utilisation>,
    /// Why it could not be read (the report goes on without it).
    pub utilisation_unread: Option<String>,
}

/// One prefix the run wrote under, as listed: its objects and their bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored {
    /// `training output`, `checkpoints`, `transform output`.
    pub what: String,
    pub uri: String,
    pub objects: u64,
    pub bytes: u64,
}

/// A stage's line in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageReport {
    /// The state key (`catalog`, `training`, ...).
    pub stage: String,
    /// Function or service call behind it.
    pub resource: String,
    /// `succeeded`, `failed`, `stopped`, `skipped`, `not run`, or `planned` (a local run's stand-in
    /// for a stage it did not send).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// Key facts of a SageMaker job (name, instances, status, times).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_written: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footprint: Option<Footprint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_hours: Option<f64>,
    /// Whether the footprint comes from measured durations (false: a nominal Lambda invocation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<bool>,
    /// Lambda stages: invocations counted (write-features may continue across several).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocations: Option<u64>,
    /// Lambda stages: a cold start's initialisation, milliseconds (billed with the invocation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_ms: Option<f64>,
    /// Why the footprint is missing or partial (an instance type or region the coefficients do not
    /// cover); the totals leave it out and say so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmodelled: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot: Option<SpotSavings>,
    /// Training: the job's use of its instances (CloudWatch), which the next plan sizes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilisation: Option<Utilisation>,
    /// Training: why the utilisation could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilisation_unread: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<footprint::Basis>,
    /// Training and transform under a contract's `schedule`: the start the plan chose, the expected
    /// and the immediate grid intensity, and the kgCO2e the wait avoided (plan's `schedule`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carbon_window: Option<Value>,
    /// Training stopped by a Debugger rule's StopTraining action: which rules found an issue, and what
    /// stopping saved against running to `MaxRuntimeInSeconds` (seconds, $, kWh, kgCO2e).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotSavings {
    pub on_demand_usd: f64,
    pub savings_usd: f64,
    pub savings_fraction: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub usd: f64,
    pub kwh: f64,
    /// Operational emissions (energy × grid factor).
    pub kgco2e: f64,
    /// The instances' share of their hosts' manufacturing emissions (CCF), not in `kgco2e`.
    #[serde(default)]
    pub embodied_kgco2e: f64,
    pub instance_hours: f64,
    /// What waiting for a lower-carbon window avoided against starting at once (jobs that ran).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub carbon_avoided_kgco2e: f64,
    /// What the totals leave out: `<line>: <reason>` for each unmodelled line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
}

/// A line of the run's footprint that is not a stage: data stored, data moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageLine {
    pub usage: String,
    /// What was counted, in words (`0.0021 GB read by 4 stages within us-east-1`).
    pub quantity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footprint: Option<Footprint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<footprint::Basis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmodelled: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub execution: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// The execution input (`$.dataset`).
    pub dataset: Value,
    pub region: String,
    pub coefficients_version: String,
    pub stages: Vec<StageReport>,
    /// Footprint lines that are not stages (data stored, data moved).
    pub usage: Vec<UsageLine>,
    /// The prefixes counted as data stored, with their objects and bytes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stored: Vec<Stored>,
    /// Stages deliberately not run, with the reason (`training: fingerprint unchanged since ...`).
    pub skips: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_written: Option<u64>,
    /// `{Error, Cause}` from the Catch, on the failure path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    pub totals: Totals,
}

/// Build the report from the state. `now_ms` is the report time (Unix milliseconds).
pub fn build(state: &Value, settings: &ReportSettings, now_ms: u64) -> Result<RunReport> {
    let execution = state
        .pointer("/execution/Name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::InvalidEvent("report-run needs execution.Name".into()))?
        .to_string();
    let error = state.get("error").filter(|e| !e.is_null()).cloned();
    let status = match state.get("status").and_then(Value::as_str) {
        Some(s @ ("SUCCEEDED" | "FAILED")) => s.to_string(),
        Some(other) => {
            return Err(Error::InvalidEvent(format!(
                "report-run: status must be SUCCEEDED or FAILED, got {other:?}"
            )))
        }
        None if error.is_some() => "FAILED".into(),
        None => "SUCCEEDED".into(),
    };
    let started_ms = state.pointer("/execution/StartTime").and_then(timestamp_ms);
    let coefficients = footprint::coefficients()?;
    let failed_job = error.as_ref().and_then(failed_job_description);

    let mut stages = Vec::new();
    let mut skips = Vec::new();
    stages.push(validate_stage(state, settings));
    for (key, function) in LAMBDA_STAGES.iter().take(3) {
        stages.push(lambda_stage(state, key, function, settings));
    }

    // Training and model.
    let plan = state.get("plan").filter(|p| p.is_object());
    let train_planned = plan.and_then(|p| p.get("train")).and_then(Value::as_bool);
    let training_desc = state.get("training").filter(|t| t.is_object()).or(failed_job
        .as_ref()
        .filter(|d| d.get("TrainingJobStatus").is_some()));
    stages.push(job_stage(
        ("training", "sagemaker:createTrainingJob.sync"),
        plan,
        train_planned,
        training_desc.map(|d| training_stage(d, settings)),
        &mut skips,
    ));
    let training_planned_only =
        training_desc.is_some_and(planned_stand_in) || state.get("tuning").is_some_and(planned_stand_in);
    if let Some(tuning) = state.get("tuning").filter(|t| t.is_object()) {
        stages.push(tuning_stage(tuning, plan, settings));
    }
    match state.get("model").filter(|m| m.is_object()) {
        Some(model) => {
            let mut s = not_run("model", "sagemaker:createModel");
            s.status = if training_planned_only {
                "planned"
            } else {
                "succeeded"
            }
            .into();
            s.job = Some(json!({"ModelArn": model.get("ModelArn")}));
            stages.push(s);
        }
        None if train_planned == Some(false) => {
            stages.push(skipped("model", "sagemaker:createModel", "no new training"))
        }
        None => stages.push(not_run("model", "sagemaker:createModel")),
    }

    stages.push(lambda_stage(state, "transformPlan", "plan-transform", settings));
    let transform_plan = state.get("transformPlan").filter(|p| p.is_object());
    let transform_planned = transform_plan
        .and_then(|p| p.get("transform"))
        .and_then(Value::as_bool);
    let transform_desc = state.get("transform").filter(|t| t.is_object()).or(failed_job
        .as_ref()
        .filter(|d| d.get("TransformJobStatus").is_some()));
    stages.push(job_stage(
        ("transform", "sagemaker:createTransformJob.sync"),
        transform_plan,
        transform_planned,
        transform_desc.map(|d| transform_stage(d, settings)),
        &mut skips,
    ));
    // report-run itself: measured up to building this report (what follows is one PutObject or two).
    let own_output = json!({"report": {"invocation": settings.own}});
    let mut own = lambda_stage(&own_output, "report", "report-run", settings);
    own.status = "succeeded".into();
    stages.push(own);

    let usage = vec![
        storage_line(&settings.stored, settings),
        transfer_line(state, &stages, settings),
    ];
    let mut totals = Totals::default();
    for s in &stages {
        if let Some(f) = s.footprint {
            totals.add(&f);
        }
        totals.instance_hours += s.instance_hours.unwrap_or(0.0);
        totals.carbon_avoided_kgco2e += s
            .carbon_window
            .as_ref()
            .and_then(|w| w.get("avoidedKgCo2e"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if let Some(why) = &s.unmodelled {
            totals.excludes.push(format!("{}: {why}", s.stage));
        }
    }
    for u in &usage {
        if let Some(f) = u.footprint {
            totals.add(&f);
        }
        if let Some(why) = &u.unmodelled {
            totals.excludes.push(format!("{}: {why}", u.usage));
        }
    }
    let records_written = stages.iter().find_map(|s| s.records_written);
    Ok(RunReport {
        execution,
        status,
        started_at: started_ms.map(|ms| format_timestamp(ms * 1000)),
        finished_at: format_timestamp(now_ms as i64 * 1000),
        duration_seconds: started_ms.map(|s| (now_ms as i64 - s).max(0) as f64 / 1000.0),
        dataset: state.get("dataset").cloned().unwrap_or(Value::Null),
        region: settings.region.clone(),
        coefficients_version: coefficients.version.clone(),
        stages,
        usage,
        stored: settings.stored.clone(),
        skips,
        records_written,
        error,
        totals,
    })
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Totals {
    fn add(&mut self, f: &Footprint) {
        self.usd += f.usd;
        self.kwh += f.kwh;
        self.kgco2e += f.kg_co2e;
        self.embodied_kgco2e += f.embodied_kg_co2e;
    }
}

/// The marker to record after this run, when it trained and created a model (whether or not a later
/// stage failed: the model exists and a re-run should not train it again).
pub fn last_trained(state: &Value, now_ms: u64) -> Option<LastTrained> {
    let training = state.get("training")?;
    let tuning = state.get("tuning").filter(|t| t.is_object());
    // Completed, or Stopped by a Debugger rule and kept (the definition creates a model only then).
    let status = training.get("TrainingJobStatus").and_then(Value::as_str);
    if !matches!(status, Some("Completed" | "Stopped"))
        || planned_stand_in(training)
        || tuning.is_some_and(planned_stand_in)
    {
        return None;
    }
    state.pointer("/model/ModelArn")?;
    let plan = state.get("plan")?;
    let str_at = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let model_name = str_at(plan, "/modelName").filter(|s| !s.is_empty()).or_else(|| {
        str_at(state, "/model/ModelArn").and_then(|a| a.rsplit('/').next().map(str::to_string))
    })?;
    Some(LastTrained {
        fingerprint: str_at(plan, "/fingerprint").or_else(|| str_at(state, "/dataset/fingerprint"))?,
        settings_hash: str_at(plan, "/settingsHash").unwrap_or_default(),
        training_job_name: str_at(training, "/TrainingJobName")?,
        model_name,
        model_data_url: str_at(training, "/ModelArtifacts/S3ModelArtifacts")?,
        image: str_at(plan, "/modelRequest/PrimaryContainer/Image"),
        role_arn: str_at(plan, "/modelRequest/ExecutionRoleArn"),
        execution: str_at(state, "/execution/Name"),
        trained_at: format_timestamp(now_ms as i64 * 1000),
        utilisation: None,
        tuning_job_name: tuning.and_then(|t| str_at(t, "/HyperParameterTuningJobName")),
    })
}

/// EMF lines: one per stage with a footprint, and the run's total (`Stage=total`).
pub fn emf_lines(report: &RunReport, pipeline: &str, now_ms: u64) -> Result<Vec<String>> {
    let pipeline = if pipeline.trim().is_empty() {
        "unknown"
    } else {
        pipeline
    };
    let mut lines = Vec::new();
    for s in &report.stages {
        if let Some(f) = &s.footprint {
            lines.push(footprint_emf_line(
                "",
                &[("Pipeline", pipeline), ("Stage", &s.stage)],
                f,
                s.instance_hours,
                now_ms,
            )?);
        }
    }
    let total = Footprint {
        usd: report.totals.usd,
        kwh: report.totals.kwh,
        kg_co2e: report.totals.kgco2e,
        embodied_kg_co2e: report.totals.embodied_kgco2e,
    };
    lines.push(footprint_emf_line(
        "",
        &[("Pipeline", pipeline), ("Stage", "total")],
        &total,
        Some(report.totals.instance_hours),
        now_ms,
    )?);
    Ok(lines)
}

fn base(stage: &str, resource: &str, status: &str) -> StageReport {
    StageReport {
        stage: stage.into(),
        resource: resource.into(),
        status: status.into(),
        reason: None,
        started_at: None,
        ended_at: None,
        duration_seconds: None,
        job: None,
        records_written: None,
        footprint: None,
        instance_hours: None,
        measured: None,
        invocations: None,
        init_ms: None,
        unmodelled: None,
        spot: None,
        utilisation: None,
        utilisation_unread: None,
        basis: None,
        carbon_window: None,
        early_stop: None,
    }
}

/// A SageMaker job's line: the job's own report when it ran (or failed), skipped with the planner's reason
/// (also listed in `skips`) when the plan said not to run it, else not run.
fn job_stage(
    (stage, resource): (&str, &str),
    plan: Option<&Value>,
    planned: Option<bool>,
    ran: Option<StageReport>,
    skips: &mut Vec<Value>,
) -> StageReport {
    match (planned, ran) {
        (_, Some(mut report)) => {
            report.carbon_window = plan
                .and_then(|p| p.get("schedule"))
                .filter(|w| w.is_object())
                .cloned();
            report
        }
        (Some(false), None) => {
            let reason = plan
                .and_then(|p| p.get("reason"))
                .and_then(Value::as_str)
                .unwrap_or("not needed");
            skips.push(json!({"stage": stage, "reason": reason}));
            skipped(stage, resource, reason)
        }
        _ => not_run(stage, resource),
    }
}

fn not_run(stage: &str, resource: &str) -> StageReport {
    base(stage, resource, "not run")
}

fn skipped(stage: &str, resource: &str, reason: &str) -> StageReport {
    let mut s = base(stage, resource, "skipped");
    s.reason = Some(reason.into());
    s
}

/// A Lambda stage's line from its output (`state[key]`): its measurement, else a nominal invocation.
fn lambda_stage(state: &Value, key: &str, function: &str, settings: &ReportSettings) -> StageReport {
    let Some(output) = state.get(key).filter(|v| !v.is_null()) else {
        return not_run(key, function);
    };
    let reason = output.get("reason").and_then(Value::as_str).map(str::to_string);
    if output.get("planned").and_then(Value::as_bool) == Some(true) {
        // A local run's stand-in for a stage it only planned: nothing ran, nothing to count.
        let mut s = base(key, function, "planned");
        s.reason = reason;
        return s;
    }
    let mut s = base(key, function, "succeeded");
    s.records_written = records_written(output);
    s.reason = reason;
    lambda_footprint(&mut s, measured(output), settings);
    s
}

/// validate-dataset's line: it ran before the execution started and passed its measurement in
/// `dataset.validation`.
fn validate_stage(state: &Value, settings: &ReportSettings) -> StageReport {
    let function = "validate-dataset";
    let Some(dataset) = state.get("dataset").filter(|d| d.is_object()) else {
        return not_run("validation", function);
    };
    let mut s = base("validation", function, "succeeded");
    let m = dataset
        .get("validation")
        .and_then(|v| serde_json::from_value::<Measured>(v.clone()).ok());
    lambda_footprint(&mut s, m, settings);
    s
}

/// What a stage's output says it measured: its `invocation` (write-features' `totals` sum the
/// invocations of a run), or the older top-level `durationMs` / `memoryMb`.
fn measured(output: &Value) -> Option<Measured> {
    let mut m = output
        .get("invocation")
        .and_then(|v| serde_json::from_value::<Measured>(v.clone()).ok())
        .or_else(|| {
            let duration_ms = output.get("durationMs").and_then(Value::as_f64)?;
            Some(Measured {
                duration_ms,
                memory_mb: output
                    .get("memoryMb")
                    .and_then(Value::as_u64)
                    .and_then(|m| u32::try_from(m).ok()),
                init_ms: None,
                count: 1,
            })
        })?;
    let totals = output.get("totals");
    if let (Some(n), Some(ms)) = (
        totals.and_then(|t| t.get("invocations")).and_then(Value::as_u64),
        totals.and_then(|t| t.get("durationMs")).and_then(Value::as_f64),
    ) {
        if n > 0 {
            m.count = n;
            m.duration_ms = ms;
        }
    }
    Some(m).filter(|m| m.duration_ms.is_finite() && m.duration_ms >= 0.0)
}

/// The Lambda footprint of a measurement (billed: handler time and a cold start's initialisation,
/// each invocation rounded up to the millisecond), or of one nominal invocation.
fn lambda_footprint(s: &mut StageReport, m: Option<Measured>, settings: &ReportSettings) {
    let memory = m
        .and_then(|m| m.memory_mb)
        .unwrap_or(settings.nominal_lambda_memory_mb);
    let (count, billed_ms) = match m {
        Some(m) => {
            let count = m.count.max(1);
            let init = m.init_ms.unwrap_or(0.0);
            // Rounded up per invocation, as Lambda bills: at most one millisecond each.
            let billed = (m.duration_ms + init).ceil() as u64 + count - 1;
            (count, billed)
        }
        None => (1, settings.nominal_lambda_ms),
    };
    s.duration_seconds = m.map(|m| m.duration_ms / 1000.0);
    s.measured = Some(m.is_some());
    s.invocations = Some(count);
    s.init_ms = m.and_then(|m| m.init_ms);
    let estimate = modelled(settings, |region| {
        footprint::lambda_invocations(settings.lambda_arch, memory, count, billed_ms, region)
    });
    set_modelled(s, estimate);
    if let (Some(basis), Some(m)) = (s.basis.as_mut(), m) {
        if m.memory_mb.is_none() {
            basis.notes.push(format!(
                "duration measured; memory nominal ({memory} MB): the function did not report its own"
            ));
        }
    }
}

/// `estimate(region)`; with a region the coefficients do not cover, the same estimate for the price
/// region with its carbon dropped (cost and energy do not depend on the grid); any other gap leaves the
/// line unmodelled. Never an error: a report must not fail the run it reports.
fn modelled(
    settings: &ReportSettings,
    mut estimate: impl FnMut(&str) -> Result<Estimate, FootprintError>,
) -> (Option<Estimate>, Option<String>) {
    match estimate(&settings.region) {
        Ok(e) => (Some(e), None),
        Err(FootprintError::UnknownRegion(region)) => {
            let fallback = footprint::coefficients()
                .map_err(|e| e.to_string())
                .and_then(|c| estimate(&c.price_region).map_err(|e| e.to_string()));
            match fallback {
                Ok(mut e) => {
                    e.footprint.kg_co2e = 0.0;
                    if let Some(c) = e.basis.compute.as_mut() {
                        c.region = region.clone();
                        c.grid_kg_co2e_per_kwh = 0.0;
                    }
                    let why = format!(
                        "no grid emission factor for region {region}: cost and energy counted, carbon not"
                    );
                    e.basis.notes.push(why.clone());
                    (Some(e), Some(why))
                }
                Err(e) => (None, Some(e)),
            }
        }
        Err(e) => (None, Some(e.to_string())),
    }
}

fn set_modelled(s: &mut StageReport, (estimate, unmodelled): (Option<Estimate>, Option<String>)) {
    if let Some(e) = estimate {
        set_estimate(s, e);
    }
    s.unmodelled = unmodelled;
}

/// Where the run wrote objects that outlive it: the training job's output (`<S3OutputPath>/<job>/`,
/// the model artifact among them), its checkpoints, and the transform's output, from the job
/// descriptions in the state (or the failed job's, in the Catch's `Cause`). (what, `s3://` prefix).
pub fn written_prefixes(state: &Value) -> Vec<(&'static str, String)> {
    let failed = state
        .get("error")
        .filter(|e| !e.is_null())
        .and_then(failed_job_description);
    let job = |key: &str, status: &str| {
        state
            .get(key)
            .filter(|t| t.is_object())
            .cloned()
            .or_else(|| failed.clone().filter(|d| d.get(status).is_some()))
    };
    let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let dir = |uri: String| {
        if uri.ends_with('/') {
            uri
        } else {
            format!("{uri}/")
        }
    };
    let mut out = Vec::new();
    if let Some(t) = job("training", "TrainingJobStatus") {
        if let (Some(path), Some(name)) = (
            text(&t, "/OutputDataConfig/S3OutputPath"),
            text(&t, "/TrainingJobName"),
        ) {
            out.push(("training output", format!("{}{name}/", dir(path))));
        }
        if let Some(uri) = text(&t, "/CheckpointConfig/S3Uri") {
            out.push(("checkpoints", dir(uri)));
        }
    }
    if let Some(t) = job("transform", "TransformJobStatus") {
        if let Some(path) = text(&t, "/TransformOutput/S3OutputPath") {
            out.push(("transform output", dir(path)));
        }
    }
    out
}

/// One month of S3 Standard for what the run left behind (GB as S3 bills it: 2^30 bytes).
fn storage_line(stored: &[Stored], settings: &ReportSettings) -> UsageLine {
    let bytes: u64 = stored.iter().map(|s| s.bytes).sum();
    let objects: u64 = stored.iter().map(|s| s.objects).sum();
    let gb = bytes as f64 / (1u64 << 30) as f64;
    let (estimate, unmodelled) = modelled(settings, |region| footprint::s3_storage(gb, region));
    let listed: Vec<String> = stored
        .iter()
        .map(|s| format!("{}: {} objects, {} bytes", s.what, s.objects, s.bytes))
        .collect();
    UsageLine {
        usage: "storage".into(),
        quantity: format!(
            "{gb} GB-month: {objects} objects, {bytes} bytes added, one month of S3 Standard{}",
            if listed.is_empty() {
                String::new()
            } else {
                format!(" ({})", listed.join("; "))
            }
        ),
        footprint: estimate.as_ref().map(|e| e.footprint),
        basis: estimate.map(|e| e.basis),
        unmodelled,
    }
}

/// The dataset's bytes read by each stage that read it (validate-dataset, write-features, training,
/// transform), all within the run's region.
fn transfer_line(state: &Value, stages: &[StageReport], settings: &ReportSettings) -> UsageLine {
    let bytes = state.pointer("/dataset/size").and_then(Value::as_u64);
    let readers: Vec<&str> = stages
        .iter()
        .filter(|s| {
            matches!(
                s.stage.as_str(),
                "validation" | "features" | "training" | "transform"
            ) && matches!(s.status.as_str(), "succeeded" | "failed" | "stopped")
        })
        .map(|s| s.stage.as_str())
        .collect();
    let Some(bytes) = bytes else {
        return UsageLine {
            usage: "transfer".into(),
            quantity: "unknown: the execution input has no dataset size".into(),
            footprint: None,
            basis: None,
            unmodelled: Some("the dataset's size is unknown".into()),
        };
    };
    let gb = bytes as f64 * readers.len() as f64 / 1e9;
    let (estimate, unmodelled) = modelled(settings, |region| footprint::data_transfer(gb, region, region));
    UsageLine {
        usage: "transfer".into(),
        quantity: format!(
            "{gb} GB: {bytes} bytes read by {} ({}) within {}",
            readers.len(),
            readers.join(", "),
            settings.region
        ),
        footprint: estimate.as_ref().map(|e| e.footprint),
        basis: estimate.map(|e| e.basis),
        unmodelled,
    }
}

/// Records written by write-features, under the names its output may use.
fn records_written(output: &Value) -> Option<u64> {
    [
        "/recordsWritten",
        "/written",
        "/counts/written",
        "/records/written",
    ]
    .iter()
    .find_map(|p| output.pointer(p).and_then(Value::as_u64))
}

/// A job description a local run made up for a job it only planned (`greenpipe run` without an emulator:
/// nothing was sent, nothing ran).
pub fn planned_stand_in(desc: &Value) -> bool {
    desc.get("GreenpipePlanned").and_then(Value::as_bool) == Some(true)
}

/// The line of a job a local run only planned: what it would have been, no footprint.
fn planned_job(stage: &str, resource: &str, desc: &Value, keys: &[&str]) -> StageReport {
    let mut s = base(stage, resource, "planned");
    s.reason = Some("a local run planned it: nothing was sent, nothing ran".into());
    s.job = Some(job_facts(desc, keys));
    s
}

/// The tuning job's line: its trials' footprint, estimated from its wall-clock runtime and its parallel
/// trials (`ConsumedResources.RuntimeInSeconds` x `MaxParallelTrainingJobs` instance-seconds: an upper
/// bound, as trials do not all run the whole time), on the plan's instances.
fn tuning_stage(desc: &Value, plan: Option<&Value>, settings: &ReportSettings) -> StageReport {
    const RESOURCE: &str = "sagemaker:createHyperParameterTuningJob.sync";
    if planned_stand_in(desc) {
        return planned_job("tuning", RESOURCE, desc, &["HyperParameterTuningJobName"]);
    }
    let status = desc
        .get("HyperParameterTuningJobStatus")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    let mut s = base("tuning", RESOURCE, &job_status(status));
    s.job = Some(job_facts(
        desc,
        &[
            "HyperParameterTuningJobName",
            "HyperParameterTuningJobStatus",
            "BestTrainingJob",
            "TrainingJobStatusCounters",
            "ObjectiveStatusCounters",
            "ConsumedResources",
        ],
    ));
    let definition = plan.and_then(|p| p.pointer("/tuningRequest/TrainingJobDefinition"));
    let parallel = plan
        .and_then(|p| {
            p.pointer("/tuningRequest/HyperParameterTuningJobConfig/ResourceLimits/MaxParallelTrainingJobs")
        })
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    let runtime = desc
        .pointer("/ConsumedResources/RuntimeInSeconds")
        .and_then(Value::as_f64);
    let (Some(definition), Some(runtime)) = (definition, runtime) else {
        s.unmodelled = Some("the tuning job reports no ConsumedResources.RuntimeInSeconds".into());
        return s;
    };
    let Some((instance_type, count)) = resources(definition, "/ResourceConfig") else {
        s.unmodelled = Some("the tuning plan has no ResourceConfig.InstanceType".into());
        return s;
    };
    let seconds = runtime * parallel;
    s.duration_seconds = Some(runtime);
    let estimate = modelled(settings, |region| {
        footprint::training_job(&instance_type, count, seconds, seconds, region, None).map(|mut t| {
            t.estimate.basis.notes.push(format!(
                "upper bound: the tuning job's wall-clock runtime {runtime} s x {parallel} parallel trials, at on-demand rates"
            ));
            t.estimate
        })
    });
    set_modelled(&mut s, estimate);
    s
}

fn training_stage(desc: &Value, settings: &ReportSettings) -> StageReport {
    if desc.get("Tuned").and_then(Value::as_bool) == Some(true) {
        let mut s = base(
            "training",
            "sagemaker:createHyperParameterTuningJob.sync",
            "succeeded",
        );
        s.reason =
            Some("the tuning job's best training job: the trials are counted on the tuning line".into());
        s.job = Some(job_facts(desc, &["TrainingJobName", "ModelArtifacts"]));
        return s;
    }
    if planned_stand_in(desc) {
        let keys = [
            "TrainingJobName",
            "ResourceConfig",
            "EnableManagedSpotTraining",
            "StoppingCondition",
        ];
        return planned_job("training", "sagemaker:createTrainingJob.sync", desc, &keys);
    }
    let status = desc
        .get("TrainingJobStatus")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    let mut s = base(
        "training",
        "sagemaker:createTrainingJob.sync",
        &job_status(status),
    );
    let start = desc.get("TrainingStartTime").and_then(timestamp_ms);
    let end = desc.get("TrainingEndTime").and_then(timestamp_ms);
    let wall = span_seconds(start, end);
    let trained = desc
        .get("TrainingTimeInSeconds")
        .and_then(Value::as_f64)
        .or(wall)
        .unwrap_or(0.0);
    let billed = desc
        .get("BillableTimeInSeconds")
        .and_then(Value::as_f64)
        .unwrap_or(trained);
    s.started_at = start.map(|ms| format_timestamp(ms * 1000));
    s.ended_at = end.map(|ms| format_timestamp(ms * 1000));
    s.duration_seconds = wall.or(Some(trained));
    s.reason = desc
        .get("FailureReason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    s.job = Some(job_facts(
        desc,
        &[
            "TrainingJobName",
            "TrainingJobStatus",
            "SecondaryStatus",
            "EnableManagedSpotTraining",
            "ResourceConfig",
            "TrainingTimeInSeconds",
            "BillableTimeInSeconds",
            "ModelArtifacts",
        ],
    ));
    s.measured = Some(true);
    let Some((instance_type, count)) = resources(desc, "/ResourceConfig") else {
        s.unmodelled = Some("the job description has no ResourceConfig.InstanceType".into());
        return s;
    };
    let mut spot = None;
    let estimate = modelled(settings, |region| {
        footprint::training_job(&instance_type, count, trained, billed, region, None).map(|t| {
            spot = Some(SpotSavings {
                on_demand_usd: t.on_demand_usd,
                savings_usd: t.spot_savings_usd,
                savings_fraction: t.spot_savings_fraction,
            });
            t.estimate
        })
    });
    s.spot = spot;
    s.early_stop = early_stop(desc, &instance_type, count, trained, billed, settings);
    s.utilisation = settings.utilisation.clone();
    s.utilisation_unread = settings.utilisation_unread.clone();
    set_modelled(&mut s, estimate);
    let compiled = desc
        .pointer("/HyperParameters/sagemaker_training_compiler_enabled")
        .and_then(Value::as_str)
        == Some("true");
    if let (true, Some(basis)) = (compiled, s.basis.as_mut()) {
        basis.notes.push(
            "SageMaker Training Compiler was on; no saving is claimed for it (none was measured)".into(),
        );
    }
    s
}

/// A job Debugger stopped (status `Stopped`, a rule that found its issue): the rules, and the footprint
/// of the time it did not run up to `MaxRuntimeInSeconds`, at the rate it ran (spot billing included).
fn early_stop(
    desc: &Value,
    instance_type: &str,
    count: u32,
    trained: f64,
    billed: f64,
    settings: &ReportSettings,
) -> Option<Value> {
    if desc.get("TrainingJobStatus").and_then(Value::as_str) != Some("Stopped") {
        return None;
    }
    let rules: Vec<&str> = ["DebugRuleEvaluationStatuses", "ProfilerRuleEvaluationStatuses"]
        .iter()
        .flat_map(|k| desc.get(*k).and_then(Value::as_array).into_iter().flatten())
        .filter(|e| e.get("RuleEvaluationStatus").and_then(Value::as_str) == Some("IssuesFound"))
        .filter_map(|e| e.get("RuleConfigurationName").and_then(Value::as_str))
        .collect();
    if rules.is_empty() {
        return None;
    }
    let max = desc
        .pointer("/StoppingCondition/MaxRuntimeInSeconds")
        .and_then(Value::as_f64)?;
    let saved = (max - trained).max(0.0);
    let billed_share = if trained > 0.0 { billed / trained } else { 1.0 };
    let mut out = json!({
        "rules": rules,
        "trainedSeconds": trained,
        "maxRuntimeSeconds": max,
        "savedSeconds": saved,
    });
    if let Ok(t) = footprint::training_job(
        instance_type,
        count,
        saved,
        saved * billed_share,
        &settings.region,
        None,
    ) {
        let f = t.estimate.footprint;
        out["saved"] =
            json!({"usd": f.usd, "kwh": f.kwh, "kgco2e": f.kg_co2e, "embodiedKgco2e": f.embodied_kg_co2e});
    }
    Some(out)
}

fn transform_stage(desc: &Value, settings: &ReportSettings) -> StageReport {
    if planned_stand_in(desc) {
        let keys = ["TransformJobName", "ModelName", "TransformResources"];
        return planned_job("transform", "sagemaker:createTransformJob.sync", desc, &keys);
    }
    let status = desc
        .get("TransformJobStatus")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    let mut s = base(
        "transform",
        "sagemaker:createTransformJob.sync",
        &job_status(status),
    );
    let start = desc.get("TransformStartTime").and_then(timestamp_ms);
    let end = desc.get("TransformEndTime").and_then(timestamp_ms);
    let seconds = span_seconds(start, end).unwrap_or(0.0);
    s.started_at = start.map(|ms| format_timestamp(ms * 1000));
    s.ended_at = end.map(|ms| format_timestamp(ms * 1000));
    s.duration_seconds = Some(seconds);
    s.reason = desc
        .get("FailureReason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    s.job = Some(job_facts(
        desc,
        &[
            "TransformJobName",
            "TransformJobStatus",
            "ModelName",
            "TransformResources",
            "TransformOutput",
        ],
    ));
    s.measured = Some(true);
    let Some((instance_type, count)) = resources(desc, "/TransformResources") else {
        s.unmodelled = Some("the job description has no TransformResources.InstanceType".into());
        return s;
    };
    let estimate = modelled(settings, |region| {
        footprint::transform_job(&instance_type, count, seconds, region)
    });
    set_modelled(&mut s, estimate);
    s
}

fn set_estimate(s: &mut StageReport, estimate: Estimate) {
    s.footprint = Some(estimate.footprint);
    s.instance_hours = estimate.instance_hours();
    s.basis = Some(estimate.basis);
}

fn job_status(sagemaker: &str) -> String {
    match sagemaker {
        "Completed" => "succeeded".into(),
        "Failed" => "failed".into(),
        "Stopped" => "stopped".into(),
        other => other.to_ascii_lowercase(),
    }
}

fn resources(desc: &Value, pointer: &str) -> Option<(String, u32)> {
    let r = desc.pointer(pointer);
    let instance_type = r.and_then(|r| r.get("InstanceType")).and_then(Value::as_str)?;
    let count = r
        .and_then(|r| r.get("InstanceCount"))
        .and_then(Value::as_u64)
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(1);
    Some((instance_type.to_string(), count))
}

fn job_facts(desc: &Value, keys: &[&str]) -> Value {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = desc.get(*k) {
            m.insert((*k).to_string(), v.clone());
        }
    }
    Value::Object(m)
}

fn span_seconds(start: Option<i64>, end: Option<i64>) -> Option<f64> {
    match (start, end) {
        (Some(s), Some(e)) if e >= s => Some((e - s) as f64 / 1000.0),
        _ => None,
    }
}

/// A timestamp as Step Functions or the local executor may give it → Unix milliseconds: an RFC 3339
/// string, or a number of epoch seconds (SDK JSON) or milliseconds (above 10^11, i.e. after 1973 in ms).
pub fn timestamp_ms(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => parse_timestamp(s.as_bytes()).map(|us| us.div_euclid(1000)),
        Value::Number(n) => {
            let x = n.as_f64()?;
            if !x.is_finite() || x < 0.0 {
                None
            } else if x >= 1e11 {
                Some(x as i64)
            } else {
                Some((x * 1000.0) as i64)
            }
        }
        _ => None,
    }
}

/// A Catch on a `.sync` job puts the failed job's description (JSON) in `Cause`: the job ran and cost
/// money, so the report counts it.
fn failed_job_description(error: &Value) -> Option<Value> {
    let cause = error.get("Cause")?.as_str()?;
    let v: Value = serde_json::from_str(cause).ok()?;
    (v.get("TrainingJobStatus").is_some() || v.get("TransformJobStatus").is_some()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_796_000_000_000;

    fn settings() -> ReportSettings {
        ReportSettings {
            region: "us-east-1".into(),
            nominal_lambda_ms: 1000,
            nominal_lambda_memory_mb: 512,
            lambda_arch: Arch::Arm64,
            own: None,
            stored: Vec::new(),
            utilisation: None,
            utilisation_unread: None,
        }
    }

    fn state() -> Value {
        json!({
            "dataset": {"bucket": "b", "key": "sales/x.csv", "fingerprint": "blake3:ab", "size": 2000000, "contract": {"name": "sales", "source": "s3://b/contracts/sales.yaml"}},
            "execution": {"Name": "run-1", "StartTime": "2026-11-27T10:00:00Z"},
            "status": "SUCCEEDED",
            "catalog": {"action": "created"},
            "features": {"written": 200, "durationMs": 2500, "memoryMb": 1024},
            "plan": {"train": true, "reason": "new data", "fingerprint": "blake3:ab", "settingsHash": "abc123",
                     "trainingJobName": "sales-ab-abc123", "modelName": "sales-ab-abc123",
                     "modelRequest": {"ModelName": "sales-ab-abc123", "ExecutionRoleArn": "arn:r", "PrimaryContainer": {"Image": "img"}}},
            "training": {"TrainingJobName": "sales-ab-abc123", "TrainingJobStatus": "Completed",
                         "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
                         "EnableManagedSpotTraining": true, "TrainingTimeInSeconds": 3600, "BillableTimeInSeconds": 2160,
                         "TrainingStartTime": 1795990000000i64, "TrainingEndTime": 1795993600000i64,
                         "ModelArtifacts": {"S3ModelArtifacts": "s3://art/m/model.tar.gz"}},
            "model": {"ModelArn": "arn:aws:sagemaker:us-east-1:1:model/sales-ab-abc123"},
            "transformPlan": {"transform": true, "reason": "model sales-ab-abc123"},
            "transform": {"TransformJobName": "t", "TransformJobStatus": "Completed",
                          "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 2},
                          "TransformStartTime": "2026-11-27T11:00:00Z", "TransformEndTime": "2026-11-27T11:30:00Z"}
        })
    }

    #[test]
    fn spot_training_and_transform_footprints() {
        let r = build(&state(), &settings(), NOW).unwrap();
        assert_eq!(r.status, "SUCCEEDED");
        let training = r.stages.iter().find(|s| s.stage == "training").unwrap();
        assert_eq!(training.status, "succeeded");
        assert_eq!(training.duration_seconds, Some(3600.0));
        // 0.6 h billed of 1 h at $0.23: $0.138, 40 % saved.
        let f = training.footprint.unwrap();
        assert!((f.usd - 0.138).abs() < 1e-9, "{}", f.usd);
        let spot = training.spot.as_ref().unwrap();
        assert!((spot.savings_fraction - 0.4).abs() < 1e-9);
        assert!((spot.on_demand_usd - 0.23).abs() < 1e-9);
        assert_eq!(training.instance_hours, Some(1.0));
        // Energy matches the footprint model for the same hour.
        let direct = footprint::training_job("ml.m5.xlarge", 1, 3600.0, 2160.0, "us-east-1", None).unwrap();
        assert_eq!(f, direct.estimate.footprint);
        let transform = r.stages.iter().find(|s| s.stage == "transform").unwrap();
        assert_eq!(transform.duration_seconds, Some(1800.0));
        assert!((transform.footprint.unwrap().usd - 0.115).abs() < 1e-9);
        assert_eq!(transform.instance_hours, Some(1.0));
        let features = r.stages.iter().find(|s| s.stage == "features").unwrap();
        assert_eq!(features.measured, Some(true));
        assert_eq!(features.records_written, Some(200));
        let catalog = r.stages.iter().find(|s| s.stage == "catalog").unwrap();
        assert_eq!(catalog.measured, Some(false));
        assert_eq!(r.records_written, Some(200));
        let sum: f64 = r.stages.iter().filter_map(|s| s.footprint).map(|f| f.usd).sum();
        assert!((r.totals.usd - sum).abs() < 1e-12);
        assert!((r.totals.instance_hours - 2.0).abs() < 1e-12);
        assert!(r.totals.kgco2e > 0.0 && r.totals.kwh > 0.0);
        assert!(r.skips.is_empty());
        assert_eq!(r.started_at.as_deref(), Some("2026-11-27T10:00:00Z"));
        let lines = emf_lines(&r, "sales", NOW).unwrap();
        assert!(lines.last().unwrap().contains("\"Stage\":\"total\""));
        assert!(lines
            .iter()
            .any(|l| l.contains("\"Stage\":\"training\"") && l.contains("InstanceHours")));
    }

    #[test]
    fn skipped_training_is_reported_with_its_reason() {
        let mut s = state();
        let m = s.as_object_mut().unwrap();
        m.remove("training");
        m.remove("model");
        m.insert("plan".into(), json!({"train": false, "reason": "fingerprint unchanged since sales-ab-abc123", "modelName": "sales-ab-abc123"}));
        let r = build(&s, &settings(), NOW).unwrap();
        assert_eq!(
            r.skips,
            vec![json!({"stage": "training", "reason": "fingerprint unchanged since sales-ab-abc123"})]
        );
        let t = r.stages.iter().find(|s| s.stage == "training").unwrap();
        assert_eq!(t.status, "skipped");
        assert!(t.footprint.is_none());
        assert!(last_trained(&s, NOW).is_none());
    }

    /// The state of a run whose Train task failed with `desc` (the Catch's Cause), nothing after it.
    fn fail_in_training(s: &mut Value, desc: &Value) {
        let m = s.as_object_mut().unwrap();
        for k in ["training", "model", "transformPlan", "transform"] {
            m.remove(k);
        }
        m.insert("status".into(), json!("FAILED"));
        m.insert(
            "error".into(),
            json!({"Error": "SageMaker.TrainingJobFailed", "Cause": desc.to_string()}),
        );
    }

    #[test]
    fn failed_training_job_is_still_costed() {
        let mut s = state();
        let failed = json!({"TrainingJobName": "sales-ab-abc123", "TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: boom",
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}, "TrainingTimeInSeconds": 600, "BillableTimeInSeconds": 600});
        fail_in_training(&mut s, &failed);
        let r = build(&s, &settings(), NOW).unwrap();
        assert_eq!(r.status, "FAILED");
        assert_eq!(r.error.as_ref().unwrap()["Error"], "SageMaker.TrainingJobFailed");
        let t = r.stages.iter().find(|s| s.stage == "training").unwrap();
        assert_eq!(t.status, "failed");
        assert_eq!(t.reason.as_deref(), Some("AlgorithmError: boom"));
        assert!((t.footprint.unwrap().usd - 0.23 / 6.0).abs() < 1e-9);
        assert_eq!(
            r.stages.iter().find(|s| s.stage == "transform").unwrap().status,
            "not run"
        );
        assert!(last_trained(&s, NOW).is_none());
    }

    #[test]
    fn a_job_debugger_stopped_says_which_rule_and_what_stopping_saved_against_max_runtime() {
        let mut s = state();
        let stopped = json!({"TrainingJobName": "sales-ab-abc123", "TrainingJobStatus": "Stopped",
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "TrainingTimeInSeconds": 900, "BillableTimeInSeconds": 900,
            "DebugRuleEvaluationStatuses": [
                {"RuleConfigurationName": "LossNotDecreasing", "RuleEvaluationStatus": "IssuesFound"},
                {"RuleConfigurationName": "Overfit", "RuleEvaluationStatus": "NoIssuesFound"}]});
        fail_in_training(&mut s, &stopped);
        let r = build(&s, &settings(), NOW).unwrap();
        let t = r.stages.iter().find(|s| s.stage == "training").unwrap();
        let early = t.early_stop.as_ref().expect("early stop");
        assert_eq!(early["rules"], json!(["LossNotDecreasing"]));
        assert_eq!(early["savedSeconds"], 2700.0);
        // 2,700 s of ml.m5.xlarge at $0.23/h on demand: $0.1725.
        assert!(
            (early["saved"]["usd"].as_f64().unwrap() - 0.1725).abs() < 1e-9,
            "{early}"
        );
        assert!(early["saved"]["kgco2e"].as_f64().unwrap() > 0.0);

        // Stopped without a rule's finding (by hand, or by cleanup): no early-stop claim.
        let mut by_hand = stopped.clone();
        by_hand["DebugRuleEvaluationStatuses"][0]["RuleEvaluationStatus"] = json!("NoIssuesFound");
        s["error"]["Cause"] = json!(by_hand.to_string());
        let r = build(&s, &settings(), NOW).unwrap();
        let t = r.stages.iter().find(|s| s.stage == "training").unwrap();
        assert!(t.early_stop.is_none());
    }

    #[test]
    fn every_lambda_stage_is_measured_and_write_features_sums_its_invocations() {
        let mut s = state();
        s["dataset"]["size"] = json!(2_000_000);
        s["dataset"]["validation"] = json!({"durationMs": 812.4, "memoryMb": 1024, "count": 1});
        s["catalog"]["invocation"] = json!({"durationMs": 95.2, "memoryMb": 256, "initMs": 48.5, "count": 1});
        s["features"] = json!({"written": 200, "invocation": {"durationMs": 900.0, "memoryMb": 256, "count": 1},
                               "totals": {"read": 200, "written": 200, "failed": 0, "invocations": 3, "durationMs": 2700}});
        s["plan"]["invocation"] = json!({"durationMs": 30.0, "memoryMb": 256});
        s["transformPlan"]["invocation"] = json!({"durationMs": 20.0, "memoryMb": 256});
        let mut settings = settings();
        settings.own = Some(Measured {
            duration_ms: 4.2,
            memory_mb: Some(256),
            init_ms: None,
            count: 1,
        });
        let r = build(&s, &settings, NOW).unwrap();
        let lambda: Vec<&StageReport> = r
            .stages
            .iter()
            .filter(|s| !s.resource.starts_with("sagemaker:"))
            .collect();
        assert_eq!(
            lambda.iter().map(|s| s.stage.as_str()).collect::<Vec<_>>(),
            [
                "validation",
                "catalog",
                "features",
                "plan",
                "transformPlan",
                "report"
            ]
        );
        for stage in &lambda {
            assert_eq!(stage.measured, Some(true), "{stage:?}");
        }
        let line = |name: &str| r.stages.iter().find(|s| s.stage == name).unwrap();
        // register-catalog: 95.2 ms + 48.5 ms cold start → 144 ms billed at 256 MB:
        // $0.0000002 + 0.25 GB × 0.144 s × $0.0000133334 = $6.800024e-7
        let catalog = line("catalog");
        assert_eq!(catalog.init_ms, Some(48.5));
        assert!(
            (catalog.footprint.unwrap().usd - 6.800024e-7).abs() < 1e-15,
            "{catalog:?}"
        );
        // write-features: three invocations, 2,700 ms in all (+2 ms rounding), three request charges.
        let features = line("features");
        assert_eq!(features.invocations, Some(3));
        assert_eq!(features.duration_seconds, Some(2.7));
        let want = footprint::lambda_invocations(Arch::Arm64, 256, 3, 2702, "us-east-1").unwrap();
        assert_eq!(features.footprint, Some(want.footprint));
        // validate-dataset from the execution input, at its own memory.
        let validation = line("validation");
        assert_eq!(validation.duration_seconds, Some(0.8124));
        assert_eq!(
            validation
                .basis
                .as_ref()
                .unwrap()
                .compute
                .as_ref()
                .unwrap()
                .memory_gb,
            1.0
        );
        assert!((line("report").duration_seconds.unwrap() - 0.0042).abs() < 1e-15);
        // The dataset read by validation, features, training and transform, within the region: zero.
        let transfer = r.usage.iter().find(|u| u.usage == "transfer").unwrap();
        assert!(
            transfer
                .quantity
                .contains("by 4 (validation, features, training, transform)"),
            "{transfer:?}"
        );
        assert_eq!(transfer.footprint, Some(Footprint::default()));
        // Embodied: 1 instance-hour of ml.m5.xlarge (training) + 1 of ml.m5.large (transform):
        // 1610.79 / 35040 × (4 + 2) / 96 = 0.00287313 kg.
        assert!((r.totals.embodied_kgco2e - 1610.79 / 35040.0 * 6.0 / 96.0).abs() < 1e-12);
        assert!(r.totals.excludes.is_empty(), "{:?}", r.totals.excludes);
    }

    #[test]
    fn an_unknown_instance_type_is_an_unmodelled_line_not_a_failed_run() {
        let mut s = state();
        s["training"]["ResourceConfig"]["InstanceType"] = json!("ml.m7i.48xlarge");
        let r = build(&s, &settings(), NOW).unwrap();
        assert_eq!(r.status, "SUCCEEDED");
        let t = r.stages.iter().find(|s| s.stage == "training").unwrap();
        assert_eq!(t.status, "succeeded");
        assert!(t.footprint.is_none());
        assert!(
            t.unmodelled.as_deref().unwrap().contains("ml.m7i.48xlarge"),
            "{t:?}"
        );
        assert_eq!(r.totals.excludes.len(), 1);
        assert!(r.totals.excludes[0].starts_with("training: unknown SageMaker instance type"));
        // The rest is still counted; the marker is still written.
        let transform = r.stages.iter().find(|s| s.stage == "transform").unwrap();
        assert!(
            (r.totals.usd
                - r.stages
                    .iter()
                    .filter_map(|s| s.footprint)
                    .map(|f| f.usd)
                    .sum::<f64>())
            .abs()
                < 1e-12
        );
        assert!(transform.footprint.is_some());
        assert!(last_trained(&s, NOW).is_some());
        // A job description without its instance type is unmodelled too.
        s["training"].as_object_mut().unwrap().remove("ResourceConfig");
        let r = build(&s, &settings(), NOW).unwrap();
        let t = r.stages.iter().find(|s| s.stage == "training").unwrap();
        assert!(t.unmodelled.as_deref().unwrap().contains("ResourceConfig"));
        assert!(emf_lines(&r, "sales", NOW).is_ok());
    }

    #[test]
    fn what_the_run_left_behind_is_one_month_of_storage() {
        let mut s = state();
        s["training"]["OutputDataConfig"] = json!({"S3OutputPath": "s3://art/greenpipe/models/sales"});
        s["training"]["CheckpointConfig"] = json!({"S3Uri": "s3://art/greenpipe/checkpoints/sales/j/"});
        s["transform"]["TransformOutput"] = json!({"S3OutputPath": "s3://art/greenpipe/transform/sales/t"});
        assert_eq!(
            written_prefixes(&s),
            [
                (
                    "training output",
                    "s3://art/greenpipe/models/sales/sales-ab-abc123/".to_string()
                ),
                (
                    "checkpoints",
                    "s3://art/greenpipe/checkpoints/sales/j/".to_string()
                ),
                (
                    "transform output",
                    "s3://art/greenpipe/transform/sales/t/".to_string()
                ),
            ]
        );
        let mut settings = settings();
        settings.stored = vec![
            Stored {
                what: "training output".into(),
                uri: "s3://art/greenpipe/models/sales/sales-ab-abc123/".into(),
                objects: 1,
                bytes: 3 << 30,
            },
            Stored {
                what: "transform output".into(),
                uri: "s3://art/greenpipe/transform/sales/t/".into(),
                objects: 2,
                bytes: 7 << 30,
            },
        ];
        let r = build(&s, &settings, NOW).unwrap();
        // 10 GiB for a month = 10 GB-months: $0.23, 0.0161567 kWh, 0.00612450 kg (footprint tests).
        let storage = r.usage.iter().find(|u| u.usage == "storage").unwrap();
        let f = storage.footprint.unwrap();
        assert!((f.usd - 0.23).abs() < 1e-12, "{storage:?}");
        assert!((f.kwh - 0.0161567).abs() < 1e-6);
        assert!(
            storage.quantity.starts_with("10 GB-month: 3 objects"),
            "{}",
            storage.quantity
        );
        assert_eq!(r.stored.len(), 2);
        let sum: f64 = r
            .stages
            .iter()
            .filter_map(|s| s.footprint)
            .map(|f| f.usd)
            .sum::<f64>()
            + r.usage
                .iter()
                .filter_map(|u| u.footprint)
                .map(|f| f.usd)
                .sum::<f64>();
        assert!((r.totals.usd - sum).abs() < 1e-12);
        // A failed training job's prefixes come from its description in the Catch's Cause.
        let failed = json!({"TrainingJobName": "j", "TrainingJobStatus": "Failed",
            "OutputDataConfig": {"S3OutputPath": "s3://art/m/"}, "ResourceConfig": {"InstanceType": "ml.m5.xlarge"}});
        let state = json!({"error": {"Error": "SageMaker.TrainingJobFailed", "Cause": failed.to_string()}});
        assert_eq!(
            written_prefixes(&state),
            [("training output", "s3://art/m/j/".to_string())]
        );
    }

    #[test]
    fn a_stage_a_local_run_only_planned_is_not_counted() {
        let mut s = state();
        s["catalog"] =
            json!({"function": "register-catalog", "planned": true, "reason": "not run: it needs Glue"});
        let r = build(&s, &settings(), NOW).unwrap();
        let catalog = r.stages.iter().find(|s| s.stage == "catalog").unwrap();
        assert_eq!(catalog.status, "planned");
        assert!(catalog.footprint.is_none() && catalog.measured.is_none());
        assert_eq!(catalog.reason.as_deref(), Some("not run: it needs Glue"));
    }

    #[test]
    fn an_unknown_region_keeps_cost_and_energy_and_drops_only_carbon() {
        let mut settings = settings();
        settings.region = "xx-nowhere-1".into();
        let r = build(&state(), &settings, NOW).unwrap();
        let known = build(&state(), &self::settings(), NOW).unwrap();
        assert_eq!(r.totals.usd, known.totals.usd);
        assert_eq!(r.totals.kwh, known.totals.kwh);
        assert_eq!(r.totals.kgco2e, 0.0);
        assert_eq!(r.totals.embodied_kgco2e, known.totals.embodied_kgco2e);
        assert!(r
            .totals
            .excludes
            .iter()
            .all(|e| e.contains("no grid emission factor for region xx-nowhere-1")));
        let t = r.stages.iter().find(|s| s.stage == "training").unwrap();
        assert_eq!(
            t.basis.as_ref().unwrap().compute.as_ref().unwrap().region,
            "xx-nowhere-1"
        );
    }

    #[test]
    fn marker_after_training() {
        let m = last_trained(&state(), NOW).unwrap();
        assert_eq!(m.fingerprint, "blake3:ab");
        assert_eq!(m.settings_hash, "abc123");
        assert_eq!(m.model_name, "sales-ab-abc123");
        assert_eq!(m.model_data_url, "s3://art/m/model.tar.gz");
        assert_eq!(m.image.as_deref(), Some("img"));
        assert_eq!(m.execution.as_deref(), Some("run-1"));
    }

    #[test]
    fn bad_input() {
        let mut s = state();
        s.as_object_mut().unwrap().remove("execution");
        assert_eq!(
            build(&s, &settings(), NOW).unwrap_err().error_type(),
            "InvalidEvent"
        );
        let mut s = state();
        s["status"] = json!("RUNNING");
        assert_eq!(
            build(&s, &settings(), NOW).unwrap_err().error_type(),
            "InvalidEvent"
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp_ms(&json!("1970-01-01T00:00:01.5Z")), Some(1500));
        assert_eq!(timestamp_ms(&json!(1_700_000_000)), Some(1_700_000_000_000));
        assert_eq!(
            timestamp_ms(&json!(1_700_000_000_123i64)),
            Some(1_700_000_000_123)
        );
        assert_eq!(timestamp_ms(&json!(1.7e9)), Some(1_700_000_000_000));
        assert_eq!(timestamp_ms(&json!("soon")), None);
    }
}
