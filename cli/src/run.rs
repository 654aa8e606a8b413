//! `greenpipe run`: the real pipeline definition (statemachine/pipeline.asl.json), executed on this
//! machine by greenpipe's executor over a dataset: the bundled sample by default, a local folder, or
//! an S3 prefix.
//!
//! Storage: with no emulator, an S3-compatible server over a local folder (s3s-fs) runs in this
//! process and `AWS_ENDPOINT_URL` points at it, so validate-dataset and the other stages run unchanged
//! with their real SDK calls, and SageMaker's control plane is answered as an account where nothing
//! exists yet ([`crate::planned_sagemaker`]), so plan-training and plan-transform plan their jobs. What
//! would change something with no embedded store (the SageMaker jobs and models, Glue, the Feature Store)
//! is planned: the requests are checked, printed and answered with a labelled planned result. With
//! `--emulator URL` (or `AWS_ENDPOINT_URL` already set) every service is called there instead.
//!
//! Per data object: validate-dataset (in this process), then one execution of the definition with the
//! execution input validate-dataset would have started it with. Waits and retry intervals take no time
//! (the executor's fast clock). Exit codes: 0 every execution succeeded, 1 one failed, 2 nothing could
//! run (usage, store or definition error).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use clap::Args;
use greenpipe::pipeline::Dataset;
use greenpipe::stages::Stage;
use greenpipe_statemachine::{
    load, substitute, Clock, EventType, Execution, FastClock, HistoryEvent, RunContext, StateMachine,
    TaskRunner,
};
use serde_json::{json, Value};

use crate::planned_sagemaker::PlannedSageMaker;
use crate::{EXIT_ERROR, EXIT_INVALID, EXIT_VALID};
use greenpipe_local::deployed::as_deployed;
use greenpipe_local::tasks::{self, Planned, Tasks};

const DEFINITION: &str = include_str!("../../statemachine/pipeline.asl.json");
const DEFINITION_NAME: &str = "statemachine/pipeline.asl.json";
/// The bundled sample: (key, bytes). The contract sits where validate-dataset looks for it.
const SAMPLE: [(&str, &[u8]); 2] = [
    (
        "contracts/incoming/sales.yaml",
        include_bytes!("../../contracts/sales.yaml"),
    ),
    (
        "incoming/sales/sales.csv",
        include_bytes!("../../samples/sales.csv"),
    ),
];
/// The bucket local runs use (in the embedded store or the emulator).
const LOCAL_BUCKET: &str = "greenpipe-local";
const REGION: &str = "us-east-1";
/// Access key and secret of the embedded store (local only; it holds nothing secret).
const LOCAL_KEY: &str = "greenpipe-local";
const ACCOUNT: &str = "123456789012";
/// The account in the ARNs of what a local run only planned (nothing was created in any account).
const PLANNED_ACCOUNT: &str = "000000000000";

#[derive(Args)]
#[command(
    after_help = "Exit codes: 0 every execution succeeded, 1 one failed, 2 nothing could run.\n\n\
                        With no emulator, S3 is an in-process store over --store (default \
                        .greenpipe/store), and SageMaker, Glue and Feature Store steps are planned: \
                        their exact requests are printed, nothing is sent. With --emulator (e.g. moto's \
                        server) or AWS_ENDPOINT_URL set, every service is called there.\n\n\
                        Examples:\n  \
                        greenpipe run\n  \
                        greenpipe run my-data/            # contracts/... and data files, keys = paths\n  \
                        greenpipe run s3://bucket/incoming/sales/ --emulator http://127.0.0.1:5000 --json"
)]
pub struct RunArgs {
    /// What to run over: a folder laid out like a bucket (contracts under contracts/, every other file
    /// is a dataset), or s3://BUCKET/PREFIX. Default: the bundled sample dataset and contract.
    #[arg(value_name = "FOLDER|s3://BUCKET/PREFIX")]
    source: Option<String>,

    /// Call every AWS service at this endpoint (e.g. moto's server); nothing is planned.
    #[arg(long, value_name = "URL")]
    emulator: Option<String>,

    /// Print one JSON document (executions, timelines, planned requests) instead of the timeline.
    #[arg(long)]
    json: bool,

    /// Run every stage as TEMPLATE deploys it (default infra/template.yaml): each function under its
    /// own role's policy, with its environment from the template, on an emulator that enforces IAM
    /// (moto's server; needs --emulator). The first AccessDenied fails the run, naming the stage, the
    /// call and the resource. Also checks the template against what the code calls.
    #[arg(long, value_name = "TEMPLATE", num_args = 0..=1, default_missing_value = "infra/template.yaml")]
    as_deployed: Option<PathBuf>,

    /// Run as if the execution started at TIME (RFC 3339, e.g. 2026-12-08T18:00:00Z): the execution's
    /// clock starts there, so a contract's schedule is planned for that hour of that day.
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    at: Option<std::time::SystemTime>,

    /// Folder of the embedded S3 store (kept between runs, so an unchanged dataset skips training).
    #[arg(long, value_name = "DIR", default_value = ".greenpipe/store")]
    store: PathBuf,
}

/// One state's line in the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub state: String,
    pub kind: &'static str,
    /// `ran`, `planned`, `failed`, or `skipped` (never entered).
    pub outcome: &'static str,
    pub duration: Duration,
    /// A Wait state: the execution's clock when it left (the time it waited until) and the seconds the
    /// local clock skipped instead of sleeping.
    pub waited: Option<(String, i64)>,
}

/// Run the command.
pub fn run(args: &RunArgs) -> ExitCode {
    match run_inner(args) {
        Ok(true) => ExitCode::from(EXIT_VALID),
        Ok(false) => ExitCode::from(EXIT_INVALID),
        Err(message) => {
            eprintln!("greenpipe run: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run_inner(args: &RunArgs) -> Result<bool, String> {
    let sm = definition()?;
    let emulator = args
        .emulator
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty()));
    if args.as_deployed.is_some() && emulator.is_none() {
        return Err("--as-deployed needs --emulator URL: moto's server, which enforces IAM".into());
    }
    // The embedded store's port is needed for AWS_ENDPOINT_URL before any SDK configuration is read.
    let listener = match &emulator {
        Some(_) => None,
        None => Some(std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("embedded S3: {e}"))?),
    };
    let endpoint = match (&emulator, &listener) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(l)) => format!(
            "http://{}",
            l.local_addr().map_err(|e| format!("embedded S3: {e}"))?
        ),
        (None, None) => unreachable!("a listener exists when there is no emulator"),
    };
    set_local_environment(&endpoint, emulator.is_none());
    // SageMaker's control plane, answered as an account where nothing exists yet (planned_sagemaker).
    let sagemaker_listener = match &emulator {
        Some(_) => None,
        None => {
            let l =
                std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("planned SageMaker: {e}"))?;
            let addr = l.local_addr().map_err(|e| format!("planned SageMaker: {e}"))?;
            std::env::set_var("AWS_ENDPOINT_URL_SAGEMAKER", format!("http://{addr}"));
            Some(l)
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        if let Some(listener) = listener {
            std::fs::create_dir_all(&args.store)
                .map_err(|e| format!("--store {}: {e}", args.store.display()))?;
            serve_embedded_s3(listener, &args.store)?;
        }
        let planned_sagemaker = match sagemaker_listener {
            Some(l) => Some(PlannedSageMaker::start(l, REGION, PLANNED_ACCOUNT)?),
            None => None,
        };
        let mut misfits = Vec::new();
        let deployment = match &args.as_deployed {
            Some(template) => {
                let (d, findings) =
                    as_deployed::prepare(&endpoint, template, source_bucket(args.source.as_deref())).await?;
                for f in &findings {
                    eprintln!("greenpipe run: {}: {f}", template.display());
                }
                misfits = findings;
                Some(Arc::new(d))
            }
            None => None,
        };
        let sdk = match &deployment {
            Some(d) => d.admin.clone(),
            None => greenpipe::aws::load_sdk_config().await,
        };
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let (bucket, keys) = stage_source(&s3, args.source.as_deref()).await?;
        // From here on the emulator checks every request against the caller's policies.
        let _enforced = match &deployment {
            Some(d) => Some(as_deployed::Enforced::on(d)?),
            None => None,
        };
        if keys.is_empty() {
            return Err("no datasets to run over".to_string());
        }
        let mut all_ok = true;
        let mut documents = Vec::new();
        for key in keys {
            let clock: Arc<dyn Clock> = Arc::new(match args.at {
                Some(t) => FastClock::starting_at(t),
                None => FastClock::default(),
            });
            let mut tasks = Tasks::new(HashMap::new(), &[])
                .with_clock(clock.clone())
                .planning(emulator.is_none());
            if let Some(d) = &deployment {
                tasks = tasks.deployed_as(d.clone());
            }
            let tasks = Arc::new(tasks);
            let outcome = tasks
                .invoke(
                    &function_arn("validate-dataset"),
                    json!({"bucket": bucket, "key": key}),
                    "ValidateDataset",
                )
                .await
                .map_err(|e| {
                    let what = format!("validate-dataset s3://{bucket}/{key}: {}: {}", e.error, e.cause);
                    as_deployed::explain(&what, "ValidateDataset", deployment.is_some())
                })?;
            let input = execution_input(&s3, &outcome).await?;
            let events: Mutex<Vec<(Instant, HistoryEvent)>> = Mutex::new(Vec::new());
            let observer = |e: &HistoryEvent| {
                if let Ok(mut events) = events.lock() {
                    events.push((Instant::now(), e.clone()));
                }
            };
            let ctx = RunContext::new(tasks.clone())
                .with_clock(clock)
                .with_execution_name(execution_name(&outcome))
                .with_state_machine_arn(deployment.as_ref().map_or_else(
                    || format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:greenpipe-pipeline"),
                    |d| d.state_machine_arn.clone(),
                ))
                .with_observer(&observer);
            let started = Instant::now();
            let calls_before = planned_sagemaker.as_ref().map_or(0, |p| p.calls().len());
            let execution = sm.run(input, &ctx).await;
            let mut planned = tasks.planned();
            let events = events.into_inner().unwrap_or_default();
            let steps = timeline(&sm, &events, &planned, started);
            // What the stages themselves asked SageMaker to change (recorded, not made).
            if let Some(p) = &planned_sagemaker {
                planned.extend(p.calls().into_iter().skip(calls_before).map(|c| Planned {
                    state: "(a stage)".into(),
                    resource: format!("sagemaker:{}", c.operation),
                    request: c.request,
                    reason: "a stage called SageMaker, which this run answers as an account where nothing exists: recorded, not sent".into(),
                }));
            }
            all_ok &= execution.succeeded();
            if deployment.is_some() {
                if let Some(denied) = as_deployed::denial(&execution, &events) {
                    return Err(denied);
                }
            }
            let report_uri = execution
                .output
                .as_ref()
                .and_then(|o| o["report"]["reportUri"].as_str())
                .map(str::to_string);
            let local_report = report_uri
                .as_deref()
                .filter(|_| emulator.is_none())
                .and_then(|uri| uri.strip_prefix("s3://"))
                .map(|path| args.store.join(path));
            if args.json {
                documents.push(json!({
                    "dataset": format!("s3://{bucket}/{key}"),
                    "validation": outcome,
                    "status": execution.status,
                    "error": execution.error,
                    "cause": execution.cause,
                    "output": execution.output,
                    "reportUri": report_uri,
                    "reportFile": local_report.as_ref().map(|p| p.display().to_string()),
                    "asDeployed": args.as_deployed.as_ref().map(|t| t.display().to_string()),
                    "timeline": steps.iter().map(|s| {
                        let mut step = json!({
                            "state": s.state, "type": s.kind, "outcome": s.outcome,
                            "durationMs": s.duration.as_millis() as u64,
                        });
                        if let Some((until, skipped)) = &s.waited {
                            step["waitedUntil"] = json!(until);
                            step["skippedSeconds"] = json!(skipped);
                        }
                        step
                    }).collect::<Vec<_>>(),
                    "planned": planned.iter().map(|p| json!({
                        "state": p.state, "resource": p.resource, "request": p.request, "reason": p.reason,
                    })).collect::<Vec<_>>(),
                }));
            } else {
                print_run(
                    &format!("s3://{bucket}/{key}"),
                    &execution,
                    &steps,
                    &planned,
                    report_uri.as_deref(),
                    local_report.as_deref(),
                    &match &args.as_deployed {
                        Some(t) => format!(
                            "{endpoint}; as deployed by {}: every stage under its own role, IAM enforced",
                            t.display()
                        ),
                        None => endpoint.clone(),
                    },
                    emulator.is_none(),
                );
            }
        }
        if args.json {
            let text = serde_json::to_string_pretty(&json!({"runs": documents})).unwrap_or_default();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
        if !misfits.is_empty() {
            return Err(format!(
                "the template does not fit the code ({} findings, above)",
                misfits.len()
            ));
        }
        Ok(all_ok)
    })
}

fn definition() -> Result<StateMachine, String> {
    // `${ValidateDatasetFunctionArn}`, ...: every stage a Task state invokes.
    let subs: HashMap<String, String> = Stage::ALL
        .into_iter()
        .filter(|s| s.in_pipeline())
        .map(|s| (format!("{}Arn", s.function_id()), function_arn(s.name())))
        .collect();
    let text = substitute(DEFINITION, &subs).map_err(|e| format!("{DEFINITION_NAME}: {e:?}"))?;
    let sm = load(&text).map_err(|e| {
        let problems: Vec<String> = e.problems.iter().map(|p| format!("  {p}")).collect();
        format!("{DEFINITION_NAME} does not load:\n{}", problems.join("\n"))
    })?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let problems = tasks::check_definition(&value);
    if !problems.is_empty() {
        return Err(format!(
            "{DEFINITION_NAME} cannot run here:\n  {}",
            problems.join("\n  ")
        ));
    }
    Ok(sm)
}

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

/// The bucket a run's source lives in (the local bucket for the sample or a folder).
fn source_bucket(source: Option<&str>) -> &str {
    match source.and_then(|s| s.strip_prefix("s3://")) {
        Some(uri) => uri.split_once('/').map_or(uri, |(b, _)| b),
        None => LOCAL_BUCKET,
    }
}

/// Standard SDK settings for a local run: the endpoint, a region, and (for the embedded store, which
/// checks no signatures) placeholder credentials. Called before any thread exists.
fn set_local_environment(endpoint: &str, embedded: bool) {
    let set = |k: &str, v: &str| std::env::set_var(k, v);
    set("AWS_ENDPOINT_URL", endpoint);
    set("GREENPIPE_S3_FORCE_PATH_STYLE", "true");
    if std::env::var("AWS_REGION").map_or(true, |r| r.is_empty()) {
        set("AWS_REGION", REGION);
    }
    // The role the stack would create for jobs and models, in the planned account (nothing is sent).
    if embedded && std::env::var("GREENPIPE_SAGEMAKER_ROLE_ARN").is_err() {
        set(
            "GREENPIPE_SAGEMAKER_ROLE_ARN",
            &format!("arn:aws:iam::{PLANNED_ACCOUNT}:role/greenpipe-sagemaker"),
        );
    }
    if embedded || std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        set("AWS_ACCESS_KEY_ID", LOCAL_KEY);
        set("AWS_SECRET_ACCESS_KEY", LOCAL_KEY);
    }
}

/// The in-process S3 store: s3s-fs over `root` (each bucket a folder), served on `listener`.
fn serve_embedded_s3(listener: std::net::TcpListener, root: &Path) -> Result<(), String> {
    let fs =
        s3s_fs::FileSystem::new(root).map_err(|e| format!("embedded S3 over {}: {e:?}", root.display()))?;
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    // The placeholder credentials set_local_environment gives the SDK.
    builder.set_auth(s3s::auth::SimpleAuth::from_single(LOCAL_KEY, LOCAL_KEY));
    let service = builder.build();
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("embedded S3: {e}"))?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| format!("embedded S3: {e}"))?;
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(socket);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok(())
}

/// Put the source's objects in place; returns the bucket and the dataset keys to run over.
async fn stage_source(
    s3: &aws_sdk_s3::Client,
    source: Option<&str>,
) -> Result<(String, Vec<String>), String> {
    if let Some(uri) = source.and_then(|s| s.strip_prefix("s3://")) {
        let (bucket, prefix) = uri.split_once('/').unwrap_or((uri, ""));
        let mut keys = Vec::new();
        let mut pages = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                format!(
                    "listing s3://{uri}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| !is_own(k) && !k.ends_with('/'))
                    .map(str::to_string),
            );
        }
        return Ok((bucket.to_string(), keys));
    }
    let files: Vec<(String, Vec<u8>)> = match source {
        None => SAMPLE.iter().map(|(k, b)| (k.to_string(), b.to_vec())).collect(),
        Some(folder) => folder_files(Path::new(folder))?,
    };
    match s3.create_bucket().bucket(LOCAL_BUCKET).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()) => {}
        Err(e) => {
            return Err(format!(
                "creating bucket {LOCAL_BUCKET}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ))
        }
    }
    let mut keys = Vec::new();
    for (key, bytes) in files {
        s3.put_object()
            .bucket(LOCAL_BUCKET)
            .key(&key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| format!("PutObject {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
        if !is_own(&key) {
            keys.push(key);
        }
    }
    Ok((LOCAL_BUCKET.to_string(), keys))
}

/// Contracts and greenpipe's own outputs are not datasets.
fn is_own(key: &str) -> bool {
    key.starts_with("contracts/") || key.starts_with("greenpipe/")
}

/// Every file under `folder` (hidden files skipped), keyed by its path relative to `folder`.
fn folder_files(folder: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
            {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let key = path
                    .strip_prefix(folder)
                    .map_err(|e| e.to_string())?
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                out.push((key, bytes));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The execution input validate-dataset starts the pipeline with (a [`Dataset`]), from its
/// outcome and report; for an invalid object (which would start nothing) `valid: false` is added, and
/// the definition goes straight to its failure report.
async fn execution_input(s3: &aws_sdk_s3::Client, outcome: &Value) -> Result<Value, String> {
    let bucket = outcome["bucket"].as_str().unwrap_or_default();
    let report_key = outcome["reportKey"].as_str().unwrap_or_default();
    let report = s3
        .get_object()
        .bucket(bucket)
        .key(report_key)
        .send()
        .await
        .map_err(|e| {
            format!(
                "reading the validation report {report_key}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        })?;
    let bytes = report
        .body
        .collect()
        .await
        .map_err(|e| format!("reading the validation report {report_key}: {e}"))?
        .into_bytes();
    let report: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("validation report {report_key}: {e}"))?;
    let text = |v: &Value| v.as_str().map(str::to_string);
    let valid = outcome["valid"] != json!(false);
    let dataset = Dataset {
        bucket: bucket.to_string(),
        key: text(&outcome["key"]).unwrap_or_default(),
        version_id: text(&outcome["versionId"]),
        etag: text(&outcome["etag"]),
        report_key: Some(report_key.to_string()),
        fingerprint: text(&outcome["fingerprint"]),
        rows: outcome["rows"].as_u64(),
        size: outcome["size"].as_u64(),
        validation: serde_json::from_value(outcome["measured"].clone()).ok(),
        contract: serde_json::from_value(report["contract"].clone())
            .map_err(|e| format!("validation report {report_key}: contract: {e}"))?,
        valid: (!valid).then_some(false),
        status: None,
    };
    let mut input = serde_json::to_value(&dataset).map_err(|e| format!("the execution input: {e}"))?;
    if !valid {
        input["reason"] = outcome["reason"].clone();
    }
    Ok(input)
}

/// A stable execution name per object version, as validate-dataset derives it.
fn execution_name(outcome: &Value) -> String {
    let identity = outcome["versionId"]
        .as_str()
        .or(outcome["etag"].as_str())
        .unwrap_or_default();
    greenpipe::pipeline::execution_name(
        outcome["bucket"].as_str().unwrap_or_default(),
        outcome["key"].as_str().unwrap_or_default(),
        identity,
    )
}

fn parse_at(s: &str) -> Result<std::time::SystemTime, String> {
    let seconds = greenpipe::stages::plan::schedule::parse_time(s)
        .ok_or_else(|| format!("{s:?} is not an RFC 3339 time such as 2026-12-08T18:00:00Z"))?;
    let seconds = u64::try_from(seconds).map_err(|_| format!("{s:?} is before 1970"))?;
    Ok(std::time::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// One line per state, in the order states were entered; states never entered are listed as skipped.
pub fn timeline(
    sm: &StateMachine,
    events: &[(Instant, HistoryEvent)],
    planned: &[Planned],
    started: Instant,
) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut open: HashMap<String, (usize, Instant)> = HashMap::new();
    let mut wait_entered: HashMap<String, i64> = HashMap::new();
    let clock = |e: &HistoryEvent| greenpipe::stages::plan::schedule::parse_time(&e.timestamp);
    for (at, e) in events {
        let name = e.detail().and_then(|d| d["name"].as_str()).unwrap_or_default();
        let ty = e.event_type.as_str();
        if ty == "WaitStateEntered" {
            if let Some(t) = clock(e) {
                wait_entered.insert(name.to_string(), t);
            }
        }
        if ty == "WaitStateExited" {
            if let (Some((i, _)), Some(from), Some(to)) =
                (open.get(name), wait_entered.remove(name), clock(e))
            {
                steps[*i].waited = Some((e.timestamp.clone(), to - from));
            }
        }
        if let Some(kind) = ty.strip_suffix("StateEntered") {
            open.insert(name.to_string(), (steps.len(), *at));
            steps.push(Step {
                state: name.to_string(),
                kind: type_name(kind),
                outcome: "ran",
                duration: Duration::ZERO,
                waited: None,
            });
        } else if ty.ends_with("StateExited") {
            if let Some((i, entered)) = open.remove(name) {
                steps[i].duration = at.duration_since(entered);
            }
        } else if matches!(
            e.event_type,
            EventType::TaskFailed | EventType::LambdaFunctionFailed | EventType::TaskTimedOut
        ) {
            if let Some(step) = steps
                .iter_mut()
                .rev()
                .find(|s| s.kind == "Task" && s.outcome == "ran")
            {
                step.outcome = "failed";
            }
        }
    }
    // States left open (a failure ended them) run until the end.
    let end = events.last().map_or(started, |(at, _)| *at);
    for (i, entered) in open.values() {
        steps[*i].duration = end.duration_since(*entered);
        if steps[*i].outcome == "ran" && steps[*i].kind != "Fail" {
            steps[*i].outcome = "failed";
        }
    }
    for step in &mut steps {
        if step.outcome == "ran" && planned.iter().any(|p| p.state == step.state) {
            step.outcome = "planned";
        }
    }
    for (chain, kind) in sm.states() {
        let name = chain.rsplit('/').next().unwrap_or_default();
        if !steps.iter().any(|s| s.state == name) {
            steps.push(Step {
                state: name.to_string(),
                kind,
                outcome: "skipped",
                duration: Duration::ZERO,
                waited: None,
            });
        }
    }
    steps
}

fn type_name(kind: &str) -> &'static str {
    match kind {
        "Pass" => "Pass",
        "Task" => "Task",
        "Choice" => "Choice",
        "Wait" => "Wait",
        "Succeed" => "Succeed",
        "Fail" => "Fail",
        "Parallel" => "Parallel",
        _ => "Map",
    }
}

#[allow(clippy::too_many_arguments)]
fn print_run(
    dataset: &str,
    execution: &Execution,
    steps: &[Step],
    planned: &[Planned],
    report_uri: Option<&str>,
    local_report: Option<&Path>,
    endpoint: &str,
    embedded: bool,
) {
    let mut out = std::io::stdout().lock();
    let store = if embedded {
        format!("embedded S3 store at {endpoint}")
    } else {
        format!("AWS endpoint {endpoint}")
    };
    let _ = writeln!(out, "greenpipe run: {DEFINITION_NAME} over {dataset} ({store})\n");
    let _ = writeln!(
        out,
        "  {:<28} {:<9} {:<8} {:>9}",
        "state", "type", "outcome", "duration"
    );
    for s in steps {
        let waited = match &s.waited {
            Some((until, skipped)) if *skipped > 0 => format!(
                "  until {until} ({}h{:02}m on the execution's clock, skipped here, not slept)",
                skipped / 3600,
                skipped % 3600 / 60
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<28} {:<9} {:<8} {:>7}ms{waited}",
            s.state,
            s.kind,
            s.outcome,
            s.duration.as_millis()
        );
    }
    if !planned.is_empty() {
        let _ = writeln!(out, "\nPlanned, not sent (the exact requests):");
        for p in planned {
            let request = serde_json::to_string_pretty(&p.request).unwrap_or_default();
            let _ = writeln!(out, "  {} -> {} ({})", p.state, p.resource, p.reason);
            for line in request.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    if let Some(output) = execution.output.as_ref() {
        print_carbon_windows(&mut out, output);
        print_footprint(&mut out, &output["report"]);
    }
    let _ = writeln!(out);
    match (report_uri, local_report) {
        (Some(uri), Some(file)) => {
            let _ = writeln!(out, "Run report: {uri} ({})", file.display());
        }
        (Some(uri), None) => {
            let _ = writeln!(out, "Run report: {uri}");
        }
        _ => {}
    }
    if execution.succeeded() {
        let _ = writeln!(out, "Execution {}: SUCCEEDED", execution.name);
    } else {
        let _ = writeln!(
            out,
            "Execution {}: {:?}: {} {}",
            execution.name,
            execution.status,
            execution.error.as_deref().unwrap_or_default(),
            execution.cause.as_deref().unwrap_or_default()
        );
    }
    let _ = out.flush();
}

/// The starts plan-training and plan-transform chose under the contract's `schedule`, if any.
fn print_carbon_windows(out: &mut impl Write, output: &Value) {
    let windows: Vec<(&str, &Value)> = [("training", "plan"), ("transform", "transformPlan")]
        .into_iter()
        .filter_map(|(job, key)| Some((job, output.get(key)?.get("schedule").filter(|w| w.is_object())?)))
        .collect();
    if windows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "
Carbon-aware start (the contract's schedule):"
    );
    for (job, w) in windows {
        let avoided = w["avoidedKgCo2e"]
            .as_f64()
            .map_or_else(String::new, |kg| format!(", avoids {kg:.3e} kgCO2e"));
        let _ = writeln!(
            out,
            "  {job:<10} start {} (deadline {}): {:.0} gCO2e/kWh expected against {} now{avoided}",
            w["startAt"].as_str().unwrap_or_default(),
            w["deadline"].as_str().unwrap_or_default(),
            w["expectedGPerKwh"].as_f64().unwrap_or(0.0),
            w["nowGPerKwh"]
                .as_f64()
                .map_or_else(|| "unknown".to_string(), |g| format!("{g:.0}")),
        );
        let _ = writeln!(
            out,
            "  {:<10} {}; forecast: {}",
            "",
            w["reason"].as_str().unwrap_or_default(),
            w["forecastSource"].as_str().unwrap_or_default()
        );
        if let Some(best) = w["regions"].as_array().and_then(|r| r.first()) {
            let number = |k: &str| best[k].as_f64().unwrap_or(0.0);
            let _ = writeln!(
                out,
                "  {:<10} in {} it would emit {:.3e} kgCO2e against {:.3e} here, moving the data {:.3e} kgCO2e and ${:.2}: net {:.3e} kgCO2e avoided (report only)",
                "",
                best["region"].as_str().unwrap_or_default(),
                number("jobKgCo2e"),
                number("hereKgCo2e"),
                number("moveKgCo2e"),
                number("moveUsd"),
                number("netAvoidedKgCo2e"),
            );
        }
    }
}

/// The run report's lines in brief (report-run's output): each stage's measured duration and
/// footprint, and the totals with what they leave out.
fn print_footprint(out: &mut impl Write, report: &Value) {
    let Some(stages) = report["stages"].as_array() else {
        return;
    };
    let _ = writeln!(
        out,
        "\nFootprint (run report; Lambda durations as each function measured itself):"
    );
    let _ = writeln!(
        out,
        "  {:<14} {:<10} {:>10}  {:<9} {:>12} {:>12}",
        "stage", "status", "duration", "measured", "USD", "kgCO2e"
    );
    for s in stages {
        let duration = s["seconds"]
            .as_f64()
            .map_or_else(|| "-".to_string(), |v| format!("{:.1}ms", v * 1000.0));
        let measured = match s["measured"].as_bool() {
            Some(true) => "yes",
            Some(false) => "nominal",
            None => "-",
        };
        let money = |v: &Value| v.as_f64().map_or_else(|| "-".to_string(), |x| format!("{x:.3e}"));
        let _ = writeln!(
            out,
            "  {:<14} {:<10} {:>10}  {:<9} {:>12} {:>12}{}",
            s["stage"].as_str().unwrap_or_default(),
            s["status"].as_str().unwrap_or_default(),
            duration,
            measured,
            money(&s["usd"]),
            money(&s["kgco2e"]),
            s["unmodelled"]
                .as_str()
                .map(|w| format!("  unmodelled: {w}"))
                .unwrap_or_default()
        );
    }
    let t = &report["totals"];
    let number = |v: &Value| v.as_f64().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "  total: ${:.4}, {:.3e} kWh, {:.3e} kgCO2e operational + {:.3e} kgCO2e embodied",
        number(&t["usd"]),
        number(&t["kwh"]),
        number(&t["kgco2e"]),
        number(&t["embodiedKgco2e"])
    );
    for e in t["excludes"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  not in the totals: {}", e.as_str().unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_definition_loads_with_every_substitution() {
        let sm = definition().expect("pipeline.asl.json loads");
        let resources: Vec<String> = sm.task_resources().into_iter().map(|(_, r)| r).collect();
        assert!(resources.iter().any(|r| r.ends_with("createTrainingJob.sync")));
        assert!(resources.iter().any(|r| r.ends_with("function:report-run")));
    }
}
