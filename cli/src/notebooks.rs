//! `greenpipe notebooks attach NAME`: give a notebook instance the stack's activity lifecycle
//! configuration, so cleanup-idle can judge it by its Jupyter activity (without it the instance is only
//! reported). The work is in `greenpipe_local::notebooks`.

use clap::{Args, Subcommand};
use greenpipe::Result;
use greenpipe_local::notebooks::{attach, Waits};

#[derive(Args)]
pub struct NotebooksArgs {
    #[command(subcommand)]
    command: NotebooksCommand,
}

#[derive(Subcommand)]
enum NotebooksCommand {
    /// Attach the stack's notebook activity lifecycle configuration to a notebook instance.
    ///
    /// SageMaker changes it only while the instance is stopped: a stopped instance is updated; a
    /// running one only with --stop (stopped, updated, started again). An instance that runs another
    /// configuration is changed only with --replace (an instance has one).
    Attach(AttachArgs),
}

#[derive(Args)]
#[command(
    after_help = "Exit codes: 0 attached (or already), 2 refused, not found or AWS error.\n\
                  AWS settings come from the standard configuration (environment, profiles, region, \
                  AWS_ENDPOINT_URL)."
)]
struct AttachArgs {
    /// The notebook instance.
    #[arg(value_name = "NAME")]
    name: String,
    /// The lifecycle configuration (default: the one the stack STACK deploys).
    #[arg(long, value_name = "NAME")]
    config: Option<String>,
    /// The stack whose configuration is meant (its output NotebookActivityLifecycleConfigName is
    /// `<stack>-notebook-activity`).
    #[arg(long, value_name = "STACK", default_value = "greenpipe")]
    stack: String,
    /// Show what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Stop a running instance to attach, then start it again (its kernels and terminals end).
    #[arg(long)]
    stop: bool,
    /// Replace another lifecycle configuration the instance runs.
    #[arg(long)]
    replace: bool,
}

pub fn run(args: &NotebooksArgs) -> Result<()> {
    match &args.command {
        NotebooksCommand::Attach(a) => attach_one(a),
    }
}

fn attach_one(a: &AttachArgs) -> Result<()> {
    let config = a
        .config
        .clone()
        .unwrap_or_else(|| format!("{}-notebook-activity", a.stack));
    crate::cleanup::runtime()?.block_on(async {
        let sdk = greenpipe::aws::load_sdk_config().await;
        let sm = aws_sdk_sagemaker::Client::new(&sdk);
        let done = attach(
            &sm,
            &a.name,
            &config,
            a.stop,
            a.replace,
            a.dry_run,
            Waits::default(),
        )
        .await?;
        let current = done.current.as_deref().unwrap_or("none");
        println!("{} ({}, lifecycle configuration: {current})", a.name, done.status);
        if done.steps.is_empty() {
            println!("  {config} is attached already: nothing to do");
        }
        for step in &done.steps {
            let verb = if a.dry_run { "would" } else { "did" };
            println!("  {verb}: {step}");
        }
        if a.dry_run && !done.steps.is_empty() {
            println!("dry run: nothing changed (run without --dry-run to apply)");
        }
        Ok(())
    })
}
