//! `greenpipe validate`: one dataset, local or in S3, against one contract file.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use greenpipe::validate::report::ValidationReport;
use greenpipe::validate::{LocalFile, RandomAccess, Validator};
use greenpipe::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{summary, ValidateArgs};

/// Smaller inputs finish before a bar would be worth drawing.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;
/// Bytes read from the source (compressed size), in MB and MB/s like the summary.
const PROGRESS_TEMPLATE: &str =
    "{elapsed_precise} [{wide_bar}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} ETA {eta}";
/// Violation examples the summary shows when `--max-examples` is not given.
const SUMMARY_EXAMPLES: usize = 10;

/// Where the data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

impl Input {
    /// Parse the command-line argument. An `s3://` URI is taken literally (no percent-decoding: that is
    /// for event payloads, not for keys typed by a person).
    pub fn parse(arg: &str) -> std::result::Result<Input, String> {
        let Some(rest) = arg.strip_prefix("s3://") else {
            return Ok(Input::Local(PathBuf::from(arg)));
        };
        match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(Input::S3 {
                bucket: bucket.to_string(),
                key: key.to_string(),
            }),
            _ => Err(format!("expected s3://BUCKET/KEY, got {arg:?}")),
        }
    }

    /// The name given to the engine: it infers format and compression from its extension and records it
    /// as the report's source.
    fn name(&self) -> String {
        match self {
            Input::Local(path) => path.display().to_string(),
            Input::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }
}

/// Run the command; `Ok(valid)`.
pub fn run(args: &ValidateArgs) -> Result<bool> {
    let mut contract = greenpipe::contract::load_contract_file(&args.contract)?;
    if let Some(n) = args.max_examples {
        contract.limits.max_examples = n;
    }
    let validator = Validator::new(contract, &args.contract.display().to_string())?;
    let show_progress = !args.no_progress && io::stderr().is_terminal();
    let name = args.input.name();

    let (report, elapsed) = match &args.input {
        Input::Local(path) => {
            let file = LocalFile::open(path)
                .map_err(|e| Error::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?;
            validate_with_progress(&validator, &file, &name, show_progress)?
        }
        Input::S3 { bucket, key } => {
            validate_s3(validator, bucket.clone(), key.clone(), name, show_progress)?
        }
    };

    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Io(io::Error::other(format!("cannot serialize the report: {e}"))))?;
        summary::print(&format!("{json}\n"));
    } else {
        let shown = args
            .max_examples
            .map_or(SUMMARY_EXAMPLES, |n| usize::try_from(n).unwrap_or(usize::MAX));
        summary::print(&summary::render(&report, elapsed, shown));
    }
    Ok(report.valid)
}

/// Validate an S3 object. The engine is synchronous and the S3 adapter's reads block on the runtime, so
/// validation runs on a blocking thread.
fn validate_s3(
    validator: Validator,
    bucket: String,
    key: String,
    name: String,
    show_progress: bool,
) -> Result<(ValidationReport, Duration)> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let sdk = greenpipe::aws::load_sdk_config().await;
        let client = s3_settings()?.s3_client(&sdk);
        let object = greenpipe::aws::S3Object::open(&client, &bucket, &key, None).await?;
        tokio::task::spawn_blocking(move || validate_with_progress(&validator, &object, &name, show_progress))
            .await
            .map_err(Error::from_join("validation"))?
    })
}

/// greenpipe's S3 settings from the environment, parsed as the Lambda functions parse them; the CLI
/// reads only `GREENPIPE_S3_FORCE_PATH_STYLE`.
fn s3_settings() -> Result<greenpipe::aws::Config> {
    const VAR: &str = "GREENPIPE_S3_FORCE_PATH_STYLE";
    greenpipe::aws::Config::from_lookup(|name| (name == VAR).then(|| std::env::var(name).ok()).flatten())
}

/// Validate `source`, drawing a progress bar on stderr for large inputs when asked to.
fn validate_with_progress(
    validator: &Validator,
    source: &dyn RandomAccess,
    name: &str,
    show_progress: bool,
) -> Result<(ValidationReport, Duration)> {
    let bar = (show_progress && source.len() > PROGRESS_MIN_BYTES).then(|| progress_bar(source.len()));
    let progress = |done: u64| {
        if let Some(bar) = &bar {
            bar.set_position(done);
        }
    };
    let start = Instant::now();
    let result = validator.validate(source, name, &progress);
    let elapsed = start.elapsed();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    Ok((result?, elapsed))
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    // The template is a constant; if it ever failed to parse, the default style is a fine fallback.
    if let Ok(style) = ProgressStyle::with_template(PROGRESS_TEMPLATE) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_paths_and_s3_uris() {
        assert_eq!(
            Input::parse("data/x.csv"),
            Ok(Input::Local(PathBuf::from("data/x.csv")))
        );
        assert_eq!(
            Input::parse("s3://bucket/raw/a b+c%20.csv.gz"),
            Ok(Input::S3 {
                bucket: "bucket".into(),
                key: "raw/a b+c%20.csv.gz".into()
            })
        );
        assert_eq!(
            Input::parse("s3://b/k").map(|i| i.name()),
            Ok("s3://b/k".to_string())
        );
    }

    #[test]
    fn progress_template_parses() {
        assert!(ProgressStyle::with_template(PROGRESS_TEMPLATE).is_ok());
    }

    #[test]
    fn rejects_s3_uris_without_bucket_or_key() {
        for bad in ["s3://", "s3://bucket", "s3://bucket/", "s3:///key"] {
            assert!(Input::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
