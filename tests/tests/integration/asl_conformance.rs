//! ASL conformance: every definition in `statemachine/tests/corpus/` runs through greenpipe's local
//! executor and through moto's Step Functions executor (its ASL interpreter, switched on by the
//! harness with `execute_state_machine`) in the same test run, and the outcomes are compared.
//!
//! For every case the test asserts that
//! 1. greenpipe gives the corpus' `expected` outcome (status, output, error, cause);
//! 2. moto gives greenpipe's outcome (status, plus output when SUCCEEDED or error when FAILED),
//!    unless `tests/conformance/known-differences.json` lists the case as a moto deviation. A listed
//!    case must still deviate, and in the way recorded there, so the list cannot go stale.
//!
//! moto runs through the real aws-sdk-sfn client: CreateStateMachine, StartExecution,
//! DescribeExecution (polled until it leaves RUNNING) and GetExecutionHistory. How the comparison
//! works and why each difference is moto's (not greenpipe's) is in `docs/asl-conformance.md`.

use aws_sdk_sfn::error::DisplayErrorContext;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use greenpipe_statemachine::{load, NoTasks, RunContext};
use greenpipe_tests::{repo_root, unique_name, Aws, ACCOUNT_ID};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Executions in flight on moto at once.
const CONCURRENCY: usize = 8;
/// How long one moto execution may stay RUNNING (the slowest case waits 1 s).
const EXECUTION_DEADLINE: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Categories a known difference may have (docs/asl-conformance.md explains each).
const CATEGORIES: &[&str] = &[
    "moto-unsupported",
    "jsonpath",
    "error-name",
    "choice",
    "intrinsic",
    "context-object",
];

struct Case {
    name: String,
    definition: Value,
    input: Value,
    expected: Value,
}

/// What an execution ended with, in DescribeExecution's terms.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    status: String,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
}

impl Outcome {
    /// The comparison the conformance check makes: status, then output (SUCCEEDED) or error
    /// (FAILED). Causes are free text and differ in wording, so they are reported, not compared.
    fn agrees_with(&self, other: &Outcome) -> bool {
        self.status == other.status
            && match self.status.as_str() {
                "SUCCEEDED" => self.output == other.output,
                "FAILED" => self.error == other.error,
                _ => true,
            }
    }

    fn brief(&self) -> String {
        let mut s = self.status.clone();
        if let Some(o) = &self.output {
            s.push_str(&format!(" output={o}"));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!(" error={e}"));
        }
        if let Some(c) = &self.cause {
            let c: String = c.chars().take(160).collect();
            s.push_str(&format!(" cause={c:?}"));
        }
        s
    }
}

/// One execution on moto.
#[derive(Debug, Clone)]
enum MotoRun {
    /// CreateStateMachine refused the definition (moto cannot run it at all).
    Rejected(String),
    Ran {
        outcome: Outcome,
        /// DescribeExecution's `output` text, as sent.
        describe_output: Option<String>,
        /// The ExecutionSucceeded event's `output` text from GetExecutionHistory.
        history_output: Option<String>,
    },
}

impl MotoRun {
    fn outcome(&self) -> Option<&Outcome> {
        match self {
            MotoRun::Ran { outcome, .. } => Some(outcome),
            MotoRun::Rejected(_) => None,
        }
    }

    fn brief(&self) -> String {
        match self {
            MotoRun::Rejected(e) => format!("rejected by CreateStateMachine: {e:.200}"),
            MotoRun::Ran { outcome, .. } => outcome.brief(),
        }
    }

    /// Does this run show the moto behaviour recorded in known-differences.json? The record lists
    /// `rejected`, `status`, `error` and/or `output`; each listed field must match.
    fn matches_record(&self, record: &Value) -> bool {
        let Some(record) = record.as_object() else {
            return false;
        };
        record.iter().all(|(field, want)| match (field.as_str(), self) {
            ("rejected", run) => want.as_bool() == Some(matches!(run, MotoRun::Rejected(_))),
            ("status", MotoRun::Ran { outcome, .. }) => want.as_str() == Some(outcome.status.as_str()),
            ("error", MotoRun::Ran { outcome, .. }) => *want == json!(outcome.error),
            ("output", MotoRun::Ran { outcome, .. }) => Some(want) == outcome.output.as_ref(),
            _ => false,
        })
    }
}

/// A case moto is known to get wrong (or cannot run).
struct KnownDifference {
    category: String,
    moto: Value,
    runs: usize,
}

struct KnownDifferences {
    cases: BTreeMap<String, KnownDifference>,
    /// moto's DescribeExecution returns a string output without JSON-encoding it.
    describe_output_unencoded: bool,
}

fn load_cases() -> Vec<Case> {
    let dir = repo_root().join("statemachine/tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let case: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: bad JSON: {e}", path.display()));
            Case {
                name: file_name(path),
                definition: case["definition"].clone(),
                input: case["input"].clone(),
                expected: case["expected"].clone(),
            }
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads and validates the known-differences file: every entry names an existing case, a known
/// category, moto's observed behaviour, what AWS does and why.
fn load_known_differences(cases: &[Case]) -> KnownDifferences {
    let path = repo_root().join("tests/conformance/known-differences.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: bad JSON: {e}", path.display()));
    let mut problems = Vec::new();
    let mut known = BTreeMap::new();
    for (name, entry) in doc["cases"].as_object().cloned().unwrap_or_default() {
        if !cases.iter().any(|c| c.name == name) {
            problems.push(format!("{name}: listed but there is no such corpus case"));
        }
        let category = entry["category"].as_str().unwrap_or_default().to_string();
        if !CATEGORIES.contains(&category.as_str()) {
            problems.push(format!(
                "{name}: category {category:?} is not one of {CATEGORIES:?}"
            ));
        }
        for field in ["aws", "reason"] {
            if entry[field].as_str().is_none_or(|s| s.trim().is_empty()) {
                problems.push(format!("{name}: `{field}` must say what AWS does and why"));
            }
        }
        if entry["moto"].as_object().is_none_or(|m| m.is_empty()) {
            problems.push(format!("{name}: `moto` must record what moto does"));
        }
        let runs = entry["runs"].as_u64().unwrap_or(1).max(1) as usize;
        known.insert(
            name,
            KnownDifference {
                category,
                moto: entry["moto"].clone(),
                runs,
            },
        );
    }
    assert!(
        problems.is_empty(),
        "{}:\n{}",
        path.display(),
        problems.join("\n")
    );
    KnownDifferences {
        cases: known,
        describe_output_unencoded: doc["api_quirks"]
            .get("describe_execution_string_output_unencoded")
            .is_some(),
    }
}

async fn run_greenpipe(case: &Case) -> Result<Outcome, String> {
    let sm = load(&case.definition.to_string()).map_err(|e| format!("greenpipe load error: {e}"))?;
    let ctx = RunContext::new(Arc::new(NoTasks))
        .fast()
        .with_execution_name("conformance");
    let exec = sm.run(case.input.clone(), &ctx).await;
    let status = serde_json::to_value(exec.status)
        .ok()
        .and_then(|s| s.as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(Outcome {
        status,
        output: exec.output,
        error: exec.error,
        cause: exec.cause,
    })
}

/// greenpipe's outcome against the corpus' `expected` block.
fn check_expected(case: &Case, got: &Outcome) -> Vec<String> {
    let want = &case.expected;
    let mut errs = Vec::new();
    if want["status"] != json!(got.status) {
        errs.push(format!("status: got {}, want {}", got.brief(), want["status"]));
    }
    if let Some(output) = want.get("output") {
        if got.output.as_ref() != Some(output) {
            errs.push(format!("output: got {:?}, want {output}", got.output));
        }
    }
    if let Some(error) = want.get("error") {
        if json!(got.error) != *error {
            errs.push(format!("error: got {:?}, want {error}", got.error));
        }
    }
    if let Some(cause) = want.get("cause") {
        if json!(got.cause) != *cause {
            errs.push(format!("cause: got {:?}, want {cause}", got.cause));
        }
    }
    if let Some(part) = want.get("cause_contains").and_then(Value::as_str) {
        if !got.cause.as_deref().unwrap_or_default().contains(part) {
            errs.push(format!("cause {:?} lacks {part:?}", got.cause));
        }
    }
    errs
}

/// One execution of `case` on moto: its own state machine, started, polled, and its history read.
async fn run_moto(aws: &Aws, case: &Case, run: usize) -> MotoRun {
    let sfn = &aws.sfn;
    let created = sfn
        .create_state_machine()
        .name(unique_name("gp-asl"))
        .definition(case.definition.to_string())
        .role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/greenpipe-conformance"))
        .send()
        .await;
    let arn = match created {
        Ok(out) => out.state_machine_arn().to_string(),
        Err(e) => return MotoRun::Rejected(DisplayErrorContext(&e).to_string()),
    };
    let started = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .name(format!("run-{run}"))
        .input(case.input.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: StartExecution: {}", case.name, DisplayErrorContext(&e)));
    let execution_arn = started.execution_arn().to_string();
    let deadline = Instant::now() + EXECUTION_DEADLINE;
    let described = loop {
        let out = sfn
            .describe_execution()
            .execution_arn(&execution_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: DescribeExecution: {}", case.name, DisplayErrorContext(&e)));
        if out.status() != &ExecutionStatus::Running || Instant::now() > deadline {
            break out;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    let history_output = if described.status() == &ExecutionStatus::Succeeded {
        succeeded_event_output(aws, &execution_arn, &case.name).await
    } else {
        None
    };
    let describe_output = described.output().map(str::to_string);
    // The history's text is the reference (see the describe_execution_string_output_unencoded quirk);
    // DescribeExecution's text is checked against it separately.
    let output = history_output
        .as_deref()
        .or(describe_output.as_deref())
        .map(|text| {
            serde_json::from_str(text).unwrap_or_else(|_| json!({ "<moto output is not JSON>": text }))
        });
    MotoRun::Ran {
        outcome: Outcome {
            status: described.status().as_str().to_string(),
            output,
            error: described.error().map(str::to_string),
            cause: described.cause().map(str::to_string),
        },
        describe_output,
        history_output,
    }
}

/// The `output` of the ExecutionSucceeded event (GetExecutionHistory).
async fn succeeded_event_output(aws: &Aws, execution_arn: &str, case: &str) -> Option<String> {
    let history = aws
        .sfn
        .get_execution_history()
        .execution_arn(execution_arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{case}: GetExecutionHistory: {}", DisplayErrorContext(&e)));
    history
        .events()
        .iter()
        .find(|e| e.r#type() == &HistoryEventType::ExecutionSucceeded)
        .and_then(|e| e.execution_succeeded_event_details())
        .and_then(|d| d.output())
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn corpus_matches_moto_step_functions() {
    let started = Instant::now();
    let cases = load_cases();
    assert!(cases.len() >= 60, "only {} corpus cases found", cases.len());
    let known = load_known_differences(&cases);
    let mut failures: Vec<String> = Vec::new();

    // (a) greenpipe against the corpus' expectations.
    let mut greenpipe = BTreeMap::new();
    for case in &cases {
        match run_greenpipe(case).await {
            Ok(outcome) => {
                for e in check_expected(case, &outcome) {
                    failures.push(format!("{}: greenpipe {e}", case.name));
                }
                greenpipe.insert(case.name.clone(), outcome);
            }
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }

    // moto: every case (some several times, see `runs`) at bounded concurrency.
    let aws = Arc::new(Aws::new().await);
    let cases = Arc::new(cases);
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..cases.len() {
        let runs = known.cases.get(&cases[index].name).map_or(1, |k| k.runs);
        for run in 0..runs {
            let (aws, cases, permits) = (aws.clone(), cases.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore");
                (index, run_moto(&aws, &cases[index], run).await)
            });
        }
    }
    let mut moto: BTreeMap<String, Vec<MotoRun>> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (index, run) = joined.expect("moto task panicked");
        moto.entry(cases[index].name.clone()).or_default().push(run);
    }

    // (b) moto against greenpipe, with the known deviations.
    let mut agreeing = 0usize;
    let mut differing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut string_outputs, mut unencoded_seen) = (0usize, 0usize);
    for case in cases.iter() {
        let (Some(ours), Some(runs)) = (greenpipe.get(&case.name), moto.get(&case.name)) else {
            continue;
        };
        for run in runs {
            if let MotoRun::Ran {
                outcome,
                describe_output: Some(described),
                history_output: Some(history),
            } = run
            {
                // Same JSON, whatever the spacing: DescribeExecution agrees with the history.
                let parsed = serde_json::from_str::<Value>(described).ok();
                if parsed.is_some() && parsed == serde_json::from_str::<Value>(history).ok() {
                    if outcome.output.as_ref().is_some_and(Value::is_string) {
                        string_outputs += 1;
                    }
                } else if outcome.output.as_ref().and_then(Value::as_str) == Some(described.as_str()) {
                    string_outputs += 1;
                    unencoded_seen += 1;
                    // Once per case is enough (a case may run several times).
                    let reported = failures.last().is_some_and(|f| f.starts_with(&case.name));
                    if !known.describe_output_unencoded && !reported {
                        failures.push(format!(
                            "{}: moto's DescribeExecution output {described:?} is not JSON (history has \
                             {history}); list api_quirks.describe_execution_string_output_unencoded",
                            case.name
                        ));
                    }
                } else {
                    failures.push(format!(
                        "{}: moto's DescribeExecution output {described:?} differs from its history's {history}",
                        case.name
                    ));
                }
            }
        }
        let deviating: Vec<&MotoRun> = runs
            .iter()
            .filter(|r| !r.outcome().is_some_and(|m| m.agrees_with(ours)))
            .collect();
        match known.cases.get(&case.name) {
            None if deviating.is_empty() => agreeing += 1,
            None => failures.push(format!(
                "{}: moto differs from greenpipe\n    greenpipe: {}\n    moto:      {}",
                case.name,
                ours.brief(),
                deviating[0].brief()
            )),
            Some(k) if deviating.is_empty() => failures.push(format!(
                "{}: listed as a known moto difference ({}), but moto now agrees with greenpipe in all {} \
                 run(s): remove it from known-differences.json\n    both: {}",
                case.name,
                k.category,
                runs.len(),
                ours.brief()
            )),
            Some(k) if !deviating.iter().any(|r| r.matches_record(&k.moto)) => failures.push(format!(
                "{}: moto still differs from greenpipe, but not as recorded in known-differences.json\n    \
                 recorded:  {}\n    moto:      {}\n    greenpipe: {}",
                case.name,
                k.moto,
                deviating[0].brief(),
                ours.brief()
            )),
            Some(k) => differing
                .entry(k.category.clone())
                .or_default()
                .push(case.name.clone()),
        }
    }
    if known.describe_output_unencoded && string_outputs > 0 && unencoded_seen == 0 {
        failures.push(format!(
            "api_quirks.describe_execution_string_output_unencoded is listed, but moto JSON-encoded all \
             {string_outputs} string outputs: remove the quirk"
        ));
    }

    let differing_total: usize = differing.values().map(Vec::len).sum();
    let mut summary = format!(
        "ASL conformance: {} cases, {agreeing} agree with moto, {differing_total} known moto differences",
        cases.len()
    );
    for (category, names) in &differing {
        summary.push_str(&format!("\n  {category} ({}): {}", names.len(), names.join(", ")));
    }
    summary.push_str(&format!(
        "\n  DescribeExecution string outputs left unencoded by moto: {unencoded_seen} of {string_outputs}\
         \n  took {:.1?}",
        started.elapsed()
    ));
    println!("{summary}");
    assert!(
        failures.is_empty(),
        "{} conformance failure(s):\n{}\n\n{summary}",
        failures.len(),
        failures.join("\n")
    );
}
