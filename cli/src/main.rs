//! `greenpipe`: run greenpipe's jobs on this machine, with the same engine the Lambda functions use.
//!
//! Exit codes are part of the interface (scripts and CI branch on them): 0 valid, 1 the data breaks its
//! contract, 2 the command could not be carried out (usage, contract or read error).

mod cleanup;
mod demo;
mod exec;
mod features;
mod infer;
mod notebooks;
mod planned_sagemaker;
mod run;
mod summary;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// mimalloc: `greenpipe features` allocates per request inside the AWS SDK, where glibc malloc took about
/// a fifth of the CPU (bench/features.sh); it changes nothing else measurable.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The data is valid (or, for `demo`, every sample gave the expected result).
const EXIT_VALID: u8 = 0;
/// The data breaks its contract.
const EXIT_INVALID: u8 = 1;
/// Usage, contract or read error; clap uses the same code for usage errors.
const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "greenpipe",
    version,
    about = "Validate datasets against data contracts, locally or in S3, with greenpipe's streaming engine",
    long_about = "greenpipe checks that a dataset (CSV, JSON Lines or Parquet; plain, gzip or zstd) satisfies \
                  its data contract (YAML/JSON, or an AWS Glue Data Quality DQDL ruleset) before it enters \
                  the ML pipeline. The same engine runs in the validate-dataset Lambda function.",
    after_help = "Exit codes: 0 valid, 1 the data breaks its contract, 2 usage, contract or read error.\n\n\
                  Examples:\n  \
                  greenpipe demo\n  \
                  greenpipe validate samples/sales.csv --contract contracts/sales.yaml\n  \
                  greenpipe validate s3://my-bucket/raw/sales/2026-11-27.csv.gz -c contracts/sales.yaml --json"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline (statemachine/pipeline.asl.json) locally: the bundled sample by default.
    ///
    /// validate-dataset, then the state machine, with greenpipe's executor. S3 is embedded (or an
    /// emulator's); SageMaker, Glue and Feature Store steps are planned unless --emulator is given.
    Run(run::RunArgs),
    /// Validate one dataset (a local file or an S3 object) against a data contract.
    Validate(ValidateArgs),
    /// Validate the bundled sample datasets (one valid, one invalid) against the bundled sales contract.
    ///
    /// Needs no files and no AWS account: the samples and the contract are embedded in the binary.
    /// Exits 0 when the valid sample passes and the invalid one fails.
    Demo,
    /// Run a Step Functions state machine definition (Amazon States Language) on this machine.
    ///
    /// Prints the execution's output JSON (exit 0), or {"error", "cause"} when it fails (exit 1).
    Exec(exec::ExecArgs),
    /// Write a dataset's rows to a SageMaker Feature Store feature group (PutRecord, or --offline Parquet).
    ///
    /// Exits 0 when every record was written, 1 when some failed (listed), 2 on any other error.
    Features(features::FeaturesArgs),
    /// Find idle SageMaker endpoints, notebooks, apps and jobs, orphaned models and configs, expired
    /// objects, buckets without lifecycle rules and log groups without retention; print what to do and why.
    Cleanup(cleanup::CleanupArgs),
    /// Recreate an endpoint deleted by cleanup from its restore manifest (models, config, endpoint, tags).
    RestoreEndpoint(cleanup::RestoreArgs),
    /// One endpoint's use of its instances over a window, and the smaller type that would hold it, with
    /// what the switch saves ($, kWh, kgCO2e). Reads only; changes nothing.
    Rightsize(cleanup::RightsizeArgs),
    /// Draft a data contract from a sample of a file (.csv/.tsv with a header, .jsonl): types,
    /// nullability, ranges with a margin, small enumerations, string shapes, uniqueness candidates, each
    /// guess marked. Exits 0 when the draft holds for the whole file, 1 when it does not, 2 on errors.
    Infer(infer::InferArgs),
    /// Notebook instances: `attach NAME` gives one the stack's activity lifecycle configuration, which
    /// cleanup judges notebooks by (dry run with --dry-run).
    Notebooks(notebooks::NotebooksArgs),
}

#[derive(Args)]
#[command(
    after_help = "Exit codes: 0 valid, 1 the data breaks its contract, 2 usage, contract or read error.\n\n\
                        S3 objects are read with ranged GETs using the standard AWS configuration (environment, \
                        profiles, region, AWS_ENDPOINT_URL for an emulator; GREENPIPE_S3_FORCE_PATH_STYLE=true \
                        for endpoints that need path-style URLs)."
)]
struct ValidateArgs {
    /// The dataset: a local path or s3://BUCKET/KEY. Format and compression come from the contract, or
    /// else from the extension (.csv, .tsv, .jsonl, .parquet; .gz, .zst).
    #[arg(value_name = "FILE|s3://BUCKET/KEY", value_parser = validate::Input::parse)]
    input: validate::Input,

    /// The data contract: YAML (.yaml/.yml), JSON (.json) or a DQDL ruleset (.dqdl).
    #[arg(short, long, value_name = "FILE")]
    contract: PathBuf,

    /// Print the full validation report as JSON on stdout instead of the summary.
    #[arg(long)]
    json: bool,

    /// Never show the progress bar (it is shown on a terminal for inputs over 8 MiB).
    #[arg(long)]
    no_progress: bool,

    /// Violation examples to keep in the report (all violations are counted either way). Defaults to
    /// the contract's limits.max_examples; the summary shows the first 10 unless this is set.
    #[arg(long, value_name = "N")]
    max_examples: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The handlers run in process: their EMF metric lines (for CloudWatch Logs) must not mix with this
    // tool's output; the run and cleanup reports carry the same figures.
    greenpipe::telemetry::set_emf_sink(greenpipe::telemetry::EmfSink::Off);
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Demo => demo::run(),
        Command::Exec(args) => return exec::run(&args),
        Command::Features(args) => features::run(&args),
        Command::Run(args) => return run::run(&args),
        Command::Cleanup(args) => return cleanup::run(&args),
        Command::RestoreEndpoint(args) => cleanup::restore(&args),
        Command::Rightsize(args) => cleanup::rightsize(&args).map(|()| true),
        Command::Notebooks(args) => notebooks::run(&args).map(|()| true),
        Command::Infer(args) => return infer::run(&args),
    };
    match result {
        Ok(true) => ExitCode::from(EXIT_VALID),
        Ok(false) => ExitCode::from(EXIT_INVALID),
        Err(e) => {
            eprintln!("greenpipe: error [{}]: {e}", e.error_type());
            ExitCode::from(EXIT_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
