//! `greenpipe cleanup` and `greenpipe restore-endpoint`: the cleanup-idle job run from a terminal
//! against the configured account (or an emulator through AWS_ENDPOINT_URL), and the way back for an
//! endpoint it deleted.

use std::process::ExitCode;

use clap::Args;

use greenpipe::stages::cleanup_idle::endpoint_restore;
use greenpipe::stages::cleanup_idle::{self, Clock, Deps};
use greenpipe::stages::cleanup_idle::{CleanupConfig, Outcome, Overrides};
use greenpipe::stages::Stage;
use greenpipe::{Error, Result};
use greenpipe_local::deployed::as_deployed;

#[derive(Args)]
#[command(
    after_help = "Settings come from the same GREENPIPE_CLEANUP_* variables as the Lambda function (see \
                        README, Cleanup); the command is a dry run unless --act is given.\n\
                        Exit codes: 0 nothing failed, 1 at least one action failed, 2 configuration or AWS error."
)]
pub struct CleanupArgs {
    /// Report what would be done, change nothing (the default).
    #[arg(long, conflicts_with = "act")]
    dry_run: bool,
    /// Carry the actions out (endpoints are deleted only after their restore manifest is in S3).
    #[arg(long)]
    act: bool,
    /// Print the full report as JSON instead of the table.
    #[arg(long)]
    json: bool,
    /// Send every call to this endpoint (e.g. moto's server) instead of AWS.
    #[arg(long, value_name = "URL")]
    emulator: Option<String>,
    /// Run as TEMPLATE deploys cleanup-idle (default infra/template.yaml): under its role's policy and
    /// with its environment, on an emulator that enforces IAM (needs --emulator). Every action denied
    /// is reported with the call and resource, and fails the run.
    #[arg(long, value_name = "TEMPLATE", num_args = 0..=1, default_missing_value = "infra/template.yaml")]
    as_deployed: Option<std::path::PathBuf>,
    /// Judge ages as if it were this Unix time (seconds), on an emulator only: resources an emulator
    /// has just created are otherwise too young to act on.
    #[arg(long, value_name = "UNIX_SECONDS", requires = "emulator", hide = true)]
    as_of: Option<i64>,
    /// With --as-deployed: the stack's data bucket (where reports and manifests go).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "greenpipe-local",
        requires = "as_deployed"
    )]
    bucket: String,
}

#[derive(Args)]
#[command(
    after_help = "The same judgement cleanup-idle reports as `right-size` for busy endpoints: each instance \
                        variant's CPU (over its vCPUs) and memory peaks over the window, from CloudWatch \
                        (/aws/sagemaker/Endpoints).\n\
                        Exit codes: 0 judged (with or without a recommendation), 2 usage, configuration or AWS error."
)]
pub struct RightsizeArgs {
    /// The endpoint's name.
    #[arg(value_name = "ENDPOINT")]
    endpoint: String,
    /// The window to judge, in hours (default: cleanup's idle window, GREENPIPE_CLEANUP_ENDPOINT_IDLE_HOURS).
    #[arg(long, value_name = "HOURS")]
    window_hours: Option<f64>,
    /// Print the verdicts as JSON.
    #[arg(long)]
    json: bool,
    /// Send every call to this endpoint (e.g. moto's server) instead of AWS.
    #[arg(long, value_name = "URL")]
    emulator: Option<String>,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The restore manifest written by cleanup: a local file or s3://BUCKET/KEY.
    #[arg(value_name = "MANIFEST")]
    manifest: String,
}

/// `greenpipe rightsize ENDPOINT`: the endpoint's variants judged as cleanup judges them.
pub fn rightsize(args: &RightsizeArgs) -> Result<()> {
    if let Some(url) = &args.emulator {
        std::env::set_var("AWS_ENDPOINT_URL", url);
    }
    let mut config = CleanupConfig::from_env()?;
    if let Some(hours) = args.window_hours {
        config.endpoint_idle = std::time::Duration::try_from_secs_f64(hours * 3600.0)
            .ok()
            .filter(|d| d.as_secs() >= 60)
            .ok_or_else(|| Error::Config(format!("--window-hours {hours}: at least one minute, please")))?;
    }
    let (endpoint, verdicts, sdk_region) = runtime()?.block_on(async {
        let sdk = greenpipe::aws::load_sdk_config().await;
        let region = sdk
            .region()
            .map_or_else(|| "us-east-1".to_string(), |r| r.to_string());
        let deps = Deps::new(config.clone(), &sdk, s3_client(&sdk)?);
        let now = deps.clock.now();
        let r = cleanup_idle::listing::one_endpoint(&deps, &config, &args.endpoint, now).await?;
        let verdicts = cleanup_idle::right_sizing(&r, &region);
        Ok::<_, Error>((r, verdicts, region))
    })?;
    if args.json {
        let doc = serde_json::json!({
            "endpoint": endpoint.id,
            "windowHours": config.endpoint_idle.as_secs_f64() / 3600.0,
            "variants": verdicts,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(());
    }
    let window = cleanup_idle::plan::human(config.endpoint_idle.as_secs() as i64);
    println!(
        "greenpipe rightsize: {} over {window} ({sdk_region})\n",
        endpoint.id
    );
    if verdicts.is_empty() {
        println!("  not InService: nothing to judge");
    }
    let mut month = 0.0;
    for v in &verdicts {
        let usage = |u: Option<cleanup_idle::inventory::Usage>| {
            u.map_or("-".to_string(), |u| {
                format!("{:.0} % avg, {:.0} % peak", u.average, u.peak)
            })
        };
        println!(
            "  {} ({} × {}): CPU {}, memory {}, GPU {}",
            v.variant,
            v.instance_count,
            v.instance_type.as_deref().unwrap_or("serverless"),
            usage(v.utilisation.and_then(|u| u.cpu)),
            usage(v.utilisation.and_then(|u| u.memory)),
            usage(v.utilisation.and_then(|u| u.gpu)),
        );
        match (&v.recommended, &v.saving_per_day) {
            (Some(t), Some(day)) => {
                month += day.usd * 730.0 / 24.0;
                println!("    -> {t}: {}", v.verdict);
            }
            _ => println!("    keep: {}", v.verdict),
        }
    }
    if month > 0.0 {
        println!("\nSwitching saves about ${month:.2} a month: a new endpoint config, then UpdateEndpoint (blue/green).");
    }
    Ok(())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn s3_client(sdk: &aws_config::SdkConfig) -> Result<aws_sdk_s3::Client> {
    const VAR: &str = "GREENPIPE_S3_FORCE_PATH_STYLE";
    let settings = greenpipe::aws::Config::from_lookup(|name| {
        (name == VAR).then(|| std::env::var(name).ok()).flatten()
    })?;
    Ok(settings.s3_client(sdk))
}

pub fn run(args: &CleanupArgs) -> ExitCode {
    if let Some(url) = &args.emulator {
        // Before any thread exists: the SDK's standard chain reads it.
        std::env::set_var("AWS_ENDPOINT_URL", url);
    }
    let overrides = Overrides {
        dry_run: Some(!args.act),
        ..Overrides::default()
    };
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            let Some(template) = &args.as_deployed else {
                let config = CleanupConfig::from_env()?.with_overrides(&overrides)?;
                let sdk = greenpipe::aws::load_sdk_config().await;
                let mut deps = Deps::new(config.clone(), &sdk, s3_client(&sdk)?);
                if let Some(t) = args.as_of {
                    deps.clock = Clock::Fixed(t);
                }
                return cleanup_idle::run(&deps, &config).await;
            };
            let endpoint = args.emulator.as_deref().ok_or_else(|| {
                Error::Config("--as-deployed needs --emulator URL: moto's server, which enforces IAM".into())
            })?;
            let (deployment, misfits) = as_deployed::prepare(endpoint, template, &args.bucket)
                .await
                .map_err(Error::Config)?;
            for f in &misfits {
                eprintln!("greenpipe cleanup: {}: {f}", template.display());
            }
            let stage = deployment.stage(Stage::CleanupIdle);
            let lookup = |name: &str| stage.environment.get(name).cloned();
            let config = CleanupConfig::from_lookup(lookup)?.with_overrides(&overrides)?;
            let s3 = greenpipe::aws::Config::from_lookup(lookup)?.s3_client(&stage.sdk);
            let mut deps = Deps::new(config.clone(), &stage.sdk, s3);
            if let Some(t) = args.as_of {
                deps.clock = Clock::Fixed(t);
            }
            let report = {
                let _enforced = as_deployed::Enforced::on(&deployment).map_err(Error::Config)?;
                cleanup_idle::run(&deps, &config).await?
            };
            let denied: Vec<String> = report
                .actions
                .iter()
                .filter_map(|a| match &a.outcome {
                    Outcome::Failed { message, .. } if as_deployed::is_denial(message) => {
                        Some(as_deployed::explain(message, "CleanupIdle", true))
                    }
                    _ => None,
                })
                .chain(
                    report
                        .inventory_errors
                        .iter()
                        .filter(|e| as_deployed::is_denial(e))
                        .map(|e| as_deployed::explain(e, "CleanupIdle", true)),
                )
                .collect();
            if let Some(first) = denied.first() {
                return Err(Error::aws(first.clone()));
            }
            if !misfits.is_empty() {
                return Err(Error::Config(format!(
                    "the template does not fit the code ({} findings, above)",
                    misfits.len()
                )));
            }
            Ok(report)
        })
    });
    match result {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("greenpipe: error: report JSON: {e}");
                        return ExitCode::from(crate::EXIT_ERROR);
                    }
                }
            } else {
                print!("{}", report.table());
            }
            if report.totals.failed > 0 {
                ExitCode::from(crate::EXIT_INVALID)
            } else {
                ExitCode::from(crate::EXIT_VALID)
            }
        }
        Err(e) => {
            eprintln!("greenpipe: error [{}]: {e}", e.error_type());
            ExitCode::from(crate::EXIT_ERROR)
        }
    }
}

pub fn restore(args: &RestoreArgs) -> Result<bool> {
    runtime()?.block_on(async {
        let sdk = greenpipe::aws::load_sdk_config().await;
        let manifest = if args.manifest.starts_with("s3://") {
            endpoint_restore::load_manifest_s3(&s3_client(&sdk)?, &args.manifest).await?
        } else {
            endpoint_restore::parse_manifest(&std::fs::read(&args.manifest)?)?
        };
        let sm = aws_sdk_sagemaker::Client::new(&sdk);
        let outcome = endpoint_restore::restore_endpoint(&sm, &manifest).await?;
        let json = serde_json::to_string_pretty(&outcome).map_err(Error::serialize("cleanup outcome"))?;
        println!("{json}");
        Ok(true)
    })
}
