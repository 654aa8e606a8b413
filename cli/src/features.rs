//! `greenpipe features`: write a dataset's rows to a SageMaker Feature Store feature group with the same
//! writer as the write-features Lambda function (PutRecord at bounded concurrency, or `--offline` Parquet
//! files into the group's offline store).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use greenpipe::stages::write_features::handler::{run_job, Deps, Job, Mode};
use greenpipe::stages::write_features::rows::Resume;
use greenpipe::stages::write_features::writer::WriteOptions;
use greenpipe::stages::write_features::{
    parse_event_time, FeaturesSection, TargetStore, DEFAULT_CONCURRENCY, MAX_CONCURRENCY,
};
use greenpipe::validate::{LocalFile, RandomAccess};
use greenpipe::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::validate::Input;

/// Failures listed in the summary.
const SUMMARY_FAILURES: usize = 10;

#[derive(Args)]
#[command(
    after_help = "Exit codes: 0 every record written, 1 some records failed, 2 usage, contract, feature group or \
                  read error.\n\n\
                  AWS settings come from the standard configuration (environment, profiles, region). \
                  AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME sends Feature Store runtime calls to another \
                  endpoint (e.g. a local test server); AWS_ENDPOINT_URL sends every call there."
)]
pub struct FeaturesArgs {
    /// The dataset: a local path or s3://BUCKET/KEY.
    #[arg(value_name = "FILE|s3://BUCKET/KEY", value_parser = Input::parse)]
    input: Input,

    /// The data contract; its `features` section maps columns to features.
    #[arg(short, long, value_name = "FILE")]
    contract: PathBuf,

    /// The feature group (default: the contract's features.feature_group).
    #[arg(long, value_name = "NAME")]
    feature_group: Option<String>,

    /// PutRecord requests in flight (default: the contract's, else 32).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_CONCURRENCY as u64))]
    concurrency: Option<u64>,

    /// Stores to write: OnlineStore, OfflineStore, or both comma-separated (default: the group's).
    #[arg(long, value_name = "STORES", value_delimiter = ',', value_parser = parse_store)]
    target_stores: Option<Vec<TargetStore>>,

    /// Write Parquet files into the group's offline store instead of calling PutRecord per row.
    #[arg(long)]
    offline: bool,

    /// Event time of every record when the contract has no event_time_column (ISO 8601 or epoch
    /// seconds). Default: the input's modification time, so reruns write the same records.
    #[arg(long, value_name = "TIME")]
    event_time: Option<String>,

    /// Write every failed row as a JSON line to this file.
    #[arg(long, value_name = "FILE")]
    failures: Option<PathBuf>,

    /// Print the outcome as JSON on stdout instead of the summary.
    #[arg(long)]
    json: bool,

    /// Never show the progress bar (otherwise shown on stderr when it is a terminal).
    #[arg(long)]
    no_progress: bool,
}

fn parse_store(s: &str) -> std::result::Result<TargetStore, String> {
    TargetStore::parse(s).ok_or_else(|| format!("{s:?} is not OnlineStore or OfflineStore"))
}

/// Run the command; `Ok(true)` when every row was written.
pub fn run(args: &FeaturesArgs) -> Result<bool> {
    let contract_source = args.contract.display().to_string();
    let contract = greenpipe::contract::load_contract_file(&args.contract)?;
    let section = FeaturesSection::from_contract(&contract, &contract_source)?.unwrap_or(FeaturesSection {
        feature_group: None,
        record_identifier: None,
        event_time_column: None,
        features: None,
        target_stores: None,
        concurrency: None,
    });
    let group_name = args
        .feature_group
        .clone()
        .or_else(|| section.feature_group.clone())
        .ok_or_else(|| {
            Error::contract_invalid(
                &contract_source,
                "no feature group: pass --feature-group or set features.feature_group",
            )
        })?;
    // One thread for the writer loop, its PutRecord tasks and their connections: no cross-thread wake-up
    // per record (the rows are parsed on a blocking thread of their own).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sdk = greenpipe::aws::load_sdk_config().await;
        let config = greenpipe::aws::Config::from_lookup(|name| {
            (name == "GREENPIPE_S3_FORCE_PATH_STYLE")
                .then(|| std::env::var(name).ok())
                .flatten()
        })?;
        let deps = Deps::new(config, &sdk);
        let group = deps.feature_group(&group_name).await?;

        let (source, name, identity, modified): (Arc<dyn RandomAccess>, String, String, Option<i64>) =
            match &args.input {
                Input::Local(path) => {
                    let file = LocalFile::open(path).map_err(|e| {
                        Error::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
                    })?;
                    let modified = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_micros() as i64);
                    let identity = format!("{}:{}", path.display(), modified.unwrap_or(0));
                    (Arc::new(file), path.display().to_string(), identity, modified)
                }
                Input::S3 { bucket, key } => {
                    let object = greenpipe::aws::S3Object::open(&deps.s3, bucket, key, None).await?;
                    let identity = object.identity().to_string();
                    let modified = object.last_modified_micros();
                    (Arc::new(object), key.clone(), identity, modified)
                }
            };
        let run_event_micros = match &args.event_time {
            Some(t) => parse_event_time(t).ok_or_else(|| {
                Error::InvalidEvent(format!("--event-time {t:?} is not a timestamp or epoch seconds"))
            })?,
            None => modified.unwrap_or(0),
        };
        let options = WriteOptions {
            concurrency: args
                .concurrency
                .map(|c| c as usize)
                .or(section.concurrency)
                .unwrap_or(DEFAULT_CONCURRENCY),
            target_stores: args
                .target_stores
                .clone()
                .or_else(|| section.target_stores.clone()),
            ..WriteOptions::default()
        };
        let job = Job {
            source,
            name,
            contract,
            contract_source,
            section,
            group: group.clone(),
            mode: if args.offline { Mode::Offline } else { Mode::Online },
            resume: Resume::default(),
            run_event_micros,
            identity,
            options,
        };
        let bar = (!args.no_progress && io::stderr().is_terminal()).then(progress_bar);
        let progress = |done: u64| {
            if let Some(bar) = &bar {
                bar.set_position(done);
            }
        };
        let started = Instant::now();
        let outcome = run_job(&deps.featurestore, &deps.s3, job, &progress).await;
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        let outcome = outcome?;
        let elapsed = started.elapsed();
        let w = &outcome.write;
        if let Some(path) = &args.failures {
            std::fs::write(
                path,
                greenpipe::stages::write_features::handler::failure_lines(&w.failures),
            )
            .map_err(|e| Error::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?;
        }
        let mut out = io::stdout().lock();
        if args.json {
            let value = json!({
                "featureGroup": group.name,
                "mode": if args.offline { "offline" } else { "online" },
                "read": w.read,
                "written": w.written,
                "failed": w.failed,
                "retries": w.retries,
                "throttled": w.throttled,
                "seconds": elapsed.as_secs_f64(),
                "failures": w.failures,
                "offlineFiles": outcome.offline_files,
            });
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        } else {
            let _ = write!(out, "{}", summary(&group.name, args.offline, &outcome, elapsed));
        }
        Ok(w.failed == 0)
    })
}

fn summary(
    group: &str,
    offline: bool,
    outcome: &greenpipe::stages::write_features::handler::JobOutcome,
    elapsed: Duration,
) -> String {
    let w = &outcome.write;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut s = format!(
        "{} feature group {group}: {} rows read, {} written, {} failed in {:.2} s ({:.0} records/s)\n",
        if w.failed == 0 { "OK" } else { "FAILURES" },
        w.read,
        w.written,
        w.failed,
        secs,
        w.written as f64 / secs
    );
    if offline {
        s.push_str(&format!(
            "{} Parquet files written to the offline store\n",
            outcome.offline_files.len()
        ));
        for f in outcome.offline_files.iter().take(SUMMARY_FAILURES) {
            s.push_str(&format!("  {f}\n"));
        }
    } else if w.retries > 0 {
        s.push_str(&format!("{} retries ({} throttled)\n", w.retries, w.throttled));
    }
    for f in w.failures.iter().take(SUMMARY_FAILURES) {
        s.push_str(&format!(
            "  row {} {}: {}: {}\n",
            f.row,
            f.record_id
                .as_deref()
                .map(|id| format!("(id {id})"))
                .unwrap_or_default(),
            f.error_type,
            f.message
        ));
    }
    if w.failures.len() > SUMMARY_FAILURES {
        s.push_str(&format!(
            "  ... {} more (use --failures FILE or --json)\n",
            w.failed as usize - SUMMARY_FAILURES
        ));
    }
    s
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} {pos} records {per_sec} {spinner}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
