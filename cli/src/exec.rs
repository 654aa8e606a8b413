//! `greenpipe exec`: run any Step Functions definition (Amazon States Language, JSONPath) on this
//! machine with greenpipe's executor. Task states are served by [`greenpipe_local::tasks`].
//!
//! Exit codes: 0 the execution succeeded (its output on stdout), 1 it failed or timed out
//! (`{"error", "cause"}` on stdout), 2 nothing ran (usage error, or a definition that does not load:
//! every problem on stderr, naming the state and field).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use greenpipe_statemachine::{
    load, substitute, Clock, Execution, FastClock, LoadError, RunContext, StateMachine, SystemClock,
};
use serde_json::{json, Value};

use crate::{EXIT_ERROR, EXIT_INVALID, EXIT_VALID};
use greenpipe_local::tasks::{self, Tasks};

#[derive(Args)]
#[command(
    after_help = "Exit codes: 0 the execution succeeded (its output JSON on stdout), 1 it failed \
                        ({\"error\", \"cause\"} on stdout), 2 usage error or a definition that does not load.\n\n\
                        Task states: --task overrides first; then Lambda functions by name: --lambda \
                        endpoints, greenpipe's own functions (every stage but cleanup-idle) in this process, any \
                        other function through Lambda Invoke with the standard AWS configuration \
                        (AWS_ENDPOINT_URL, AWS_REGION, credentials). SageMaker createTrainingJob[.sync], \
                        createModel and createTransformJob[.sync] call SageMaker with the same configuration \
                        (.sync: Describe until the job ends). Other service integrations are not supported yet.\n\n\
                        Examples:\n  \
                        greenpipe exec examples/workflows/hourly-summary.asl.json --input @orders.json --fast\n  \
                        greenpipe exec flow.asl.json --lambda notify=http://127.0.0.1:9000 --history\n  \
                        greenpipe exec flow.asl.json --sub Bucket=my-bucket --task Train=train-result.json"
)]
pub struct ExecArgs {
    /// The state machine definition (Amazon States Language, JSONPath query language).
    #[arg(value_name = "DEFINITION.asl.json")]
    definition: PathBuf,

    /// The execution input: JSON text, or @FILE to read it from a file (@- reads stdin).
    #[arg(long, value_name = "JSON|@FILE", default_value = "{}")]
    input: String,

    /// Write the execution history (GetExecutionHistory-shaped JSON) to stderr.
    #[arg(long)]
    history: bool,

    /// Write the execution history to FILE instead of stderr.
    #[arg(long, value_name = "FILE")]
    history_file: Option<PathBuf>,

    /// Extra context object data, merged over `$$` (a JSON object, or @FILE).
    #[arg(long, value_name = "JSON|@FILE")]
    context: Option<String>,

    /// Send Lambda function NAME's tasks to the Lambda Invoke endpoint at URL, e.g. `cargo lambda
    /// watch` at http://127.0.0.1:9000 (repeatable).
    #[arg(long = "lambda", value_name = "NAME=URL", value_parser = pair)]
    lambdas: Vec<(String, String)>,

    /// Use the JSON in FILE as the result of Task state STATE; nothing is called (repeatable).
    #[arg(long = "task", value_name = "STATE=FILE", value_parser = pair)]
    tasks: Vec<(String, String)>,

    /// Wait states and retry intervals take no time (the execution's clock jumps forward instead).
    #[arg(long)]
    fast: bool,

    /// DefinitionSubstitutions: replace ${KEY} in the definition with VALUE before loading it
    /// (repeatable).
    #[arg(long = "sub", value_name = "KEY=VALUE", value_parser = pair)]
    subs: Vec<(String, String)>,
}

fn pair(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {arg:?}")),
    }
}

/// Run the command.
pub fn run(args: &ExecArgs) -> ExitCode {
    let Prepared {
        sm,
        input,
        context,
        overrides,
    } = match prepare(args) {
        Ok(prepared) => prepared,
        Err(message) => {
            eprintln!("greenpipe exec: {message}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("greenpipe exec: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let execution = runtime.block_on(async {
        // Built inside the runtime: the SDK clients for --lambda endpoints expect one.
        let clock: Arc<dyn Clock> = if args.fast {
            Arc::new(FastClock::default())
        } else {
            Arc::new(SystemClock)
        };
        let tasks = Tasks::new(overrides, &args.lambdas).with_clock(clock.clone());
        let mut ctx = RunContext::new(Arc::new(tasks)).with_clock(clock);
        if let Some(context) = &context {
            ctx = ctx.with_context(context);
        }
        sm.run(input, &ctx).await
    });
    let history_written = write_history(args, &execution);
    let code = print_outcome(&execution);
    match history_written {
        Ok(()) => code,
        Err(message) => {
            eprintln!("greenpipe exec: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// What the run needs, checked before anything runs.
struct Prepared {
    sm: StateMachine,
    input: Value,
    context: Option<Value>,
    /// `--task` results by state name.
    overrides: HashMap<String, Value>,
}

/// Everything that can go wrong before the execution starts: definition, input, options.
fn prepare(args: &ExecArgs) -> Result<Prepared, String> {
    let shown = args.definition.display();
    let text = std::fs::read_to_string(&args.definition).map_err(|e| format!("{shown}: {e}"))?;
    // Always: a `${KEY}` left without a value is an error naming it.
    let subs: HashMap<String, String> = args.subs.iter().cloned().collect();
    let text = substitute(&text, &subs).map_err(|e| {
        format!(
            "{}\n(give each value with --sub KEY=VALUE)",
            load_error(&shown.to_string(), &e)
        )
    })?;
    let sm = load(&text).map_err(|e| load_error(&shown.to_string(), &e))?;
    for warning in sm.warnings() {
        eprintln!("greenpipe exec: warning: {shown}: {warning}");
    }

    let input = json_arg("--input", &args.input)?;
    let context = match &args.context {
        None => None,
        Some(arg) => match json_arg("--context", arg)? {
            v @ Value::Object(_) => Some(v),
            other => return Err(format!("--context must be a JSON object, got {other}")),
        },
    };

    // Every Task state, by name (a name can appear in several branches).
    let task_states: Vec<(String, String)> = sm
        .task_resources()
        .into_iter()
        .map(|(chain, resource)| {
            let name = chain.rsplit('/').next().unwrap_or_default().to_string();
            (name, resource)
        })
        .collect();
    let mut overrides = HashMap::new();
    for (state, file) in &args.tasks {
        if !task_states.iter().any(|(name, _)| name == state) {
            let names: Vec<&str> = task_states.iter().map(|(n, _)| n.as_str()).collect();
            return Err(format!(
                "--task {state}={file}: {shown} has no Task state named '{state}' (Task states: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ));
        }
        let result = json_file(Path::new(file)).map_err(|e| format!("--task {state}={file}: {e}"))?;
        if overrides.insert(state.clone(), result).is_some() {
            return Err(format!("--task {state}: given more than once"));
        }
    }
    let mut problems: Vec<String> = task_states
        .iter()
        .filter(|(name, _)| !overrides.contains_key(name))
        .filter_map(|(name, resource)| {
            tasks::unsupported(resource).map(|why| format!("  state '{name}': {why}"))
        })
        .collect();
    // The definition loaded, so it is JSON.
    let definition: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    problems.extend(
        tasks::check_definition(&definition)
            .into_iter()
            .filter(|p| {
                !overrides
                    .keys()
                    .any(|name| p.starts_with(&format!("state '{name}'")))
            })
            .map(|p| format!("  {p}")),
    );
    if !problems.is_empty() {
        return Err(format!(
            "{shown} cannot run here:\n{}\n(replace such a task's result with --task STATE=RESULT.json)",
            problems.join("\n")
        ));
    }
    for (name, url) in &args.lambdas {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "--lambda {name}={url}: the endpoint must be an http:// or https:// URL"
            ));
        }
    }
    Ok(Prepared {
        sm,
        input,
        context,
        overrides,
    })
}

fn load_error(source: &str, e: &LoadError) -> String {
    let problems: Vec<String> = e.problems.iter().map(|p| format!("  {p}")).collect();
    format!("{source} does not load:\n{}", problems.join("\n"))
}

/// JSON given inline or as `@FILE` (`@-`: stdin).
fn json_arg(option: &str, arg: &str) -> Result<Value, String> {
    match arg.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("{option} @-: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{option} @-: not JSON: {e}"))
        }
        Some(file) => json_file(Path::new(file)).map_err(|e| format!("{option} {arg}: {e}")),
        None => serde_json::from_str(arg).map_err(|e| format!("{option}: not JSON: {e}")),
    }
}

fn json_file(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))
}

fn write_history(args: &ExecArgs, execution: &Execution) -> Result<(), String> {
    if !args.history && args.history_file.is_none() {
        return Ok(());
    }
    let mut text = serde_json::to_string_pretty(&execution.history_json())
        .map_err(|e| format!("cannot serialise the history: {e}"))?;
    text.push('\n');
    match &args.history_file {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("--history-file {}: {e}", path.display()))
        }
        None => std::io::stderr()
            .write_all(text.as_bytes())
            .map_err(|e| format!("writing the history: {e}")),
    }
}

/// The output (exit 0) or `{"error", "cause"}` (exit 1) on stdout.
fn print_outcome(execution: &Execution) -> ExitCode {
    let (value, code) = if execution.succeeded() {
        (execution.output.clone().unwrap_or(Value::Null), EXIT_VALID)
    } else {
        (
            json!({"error": execution.error, "cause": execution.cause}),
            EXIT_INVALID,
        )
    };
    let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string());
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) is not worth a panic; the exit code still tells the outcome.
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(pair("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert_eq!(pair("A="), Ok(("A".into(), String::new())));
        assert!(pair("=x").is_err());
        assert!(pair("nothing").is_err());
    }

    #[test]
    fn json_args_inline_or_from_files() {
        assert_eq!(json_arg("--input", r#"{"a": 1}"#), Ok(json!({"a": 1})));
        let err = json_arg("--input", "{oops").unwrap_err();
        assert!(err.starts_with("--input: not JSON"), "{err}");
        let err = json_arg("--input", "@/no/such/file.json").unwrap_err();
        assert!(err.contains("/no/such/file.json"), "{err}");
    }
}
