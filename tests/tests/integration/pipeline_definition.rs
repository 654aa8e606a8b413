//! Static checks of the state machine definitions:
//! - `asl-validator` (npm, pinned 4.0.0, installed by `scripts/setup-node.sh` into
//!   tools/asl-validator/node_modules) accepts every definition in statemachine/, examples/workflows/
//!   and the executor's test corpora;
//! - every `ErrorEquals` name in statemachine/pipeline.asl.json is one our code can raise, and every
//!   error a stage function can raise is retried, caught, or listed here as deliberately fatal.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use greenpipe_tests::greenpipe::Error;
use greenpipe_tests::repo_root;
use serde_json::Value;

/// Error names that may go uncaught (none: every Task state catches States.ALL into report-run).
const DELIBERATELY_FATAL: &[&str] = &[];
/// Prefixes of error names raised by Step Functions itself or by the integrations (Lambda service
/// errors, SageMaker's errors in greenpipe's local integration and in AWS).
const SERVICE_PREFIXES: &[&str] = &["States.", "Lambda.", "SageMaker."];

fn validator() -> Option<PathBuf> {
    let bin = repo_root().join("tools/asl-validator/node_modules/.bin/asl-validator");
    bin.exists().then_some(bin)
}

fn definitions() -> Vec<(String, String)> {
    let root = repo_root();
    let mut out = Vec::new();
    for dir in ["statemachine", "examples/workflows"] {
        for path in files(&root.join(dir), ".asl.json") {
            let text = std::fs::read_to_string(&path).expect("read");
            out.push((path.display().to_string(), text));
        }
    }
    for dir in ["statemachine/tests/corpus", "statemachine/tests/corpus_tasks"] {
        for path in files(&root.join(dir), ".json") {
            let case: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
            if let Some(definition) = case.get("definition") {
                out.push((path.display().to_string(), definition.to_string()));
            }
        }
    }
    out
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    out
}

/// Conformance-corpus definitions that Step Functions (and moto) accept but asl-validator 4.0.0's
/// payload-template format check does not: they exercise exactly the syntax it does not know.
const VALIDATOR_LIMITS: [(&str, &str); 3] = [
    (
        "corpus/intrinsic_format.json",
        "States.Format with escaped braces and quotes in its template",
    ),
    (
        "corpus/intrinsic_format_escapes.json",
        "States.Format escape sequences (\\{, \\', \\\\)",
    ),
    (
        "corpus/jsonpath_filters.json",
        "JSONPath filter expressions combining conditions with `&&` in a `.$` path",
    ),
];

#[test]
fn asl_validator_accepts_every_definition() {
    let Some(bin) = validator() else {
        if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false") {
            panic!("asl-validator is not installed under CI: scripts/setup-node.sh must run first");
        }
        eprintln!("SKIPPED: asl-validator not installed; run `bash scripts/setup-node.sh`");
        return;
    };
    let definitions = definitions();
    assert!(
        definitions.len() > 50,
        "found only {} definitions",
        definitions.len()
    );
    let mut failures = Vec::new();
    for (name, text) in &definitions {
        if let Some((_, why)) = VALIDATOR_LIMITS.iter().find(|(file, _)| name.ends_with(file)) {
            eprintln!("not validated: {name}: {why}");
            continue;
        }
        let out = Command::new(&bin)
            .arg("--json-definition")
            .arg(text)
            .output()
            .expect("run asl-validator");
        if !out.status.success() {
            failures.push(format!(
                "{name}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "asl-validator rejected:\n{}",
        failures.join("\n")
    );
}

#[test]
fn asl_validator_rejects_a_broken_definition() {
    let Some(bin) = validator() else {
        eprintln!("SKIPPED: asl-validator not installed; run `bash scripts/setup-node.sh`");
        return;
    };
    let out = Command::new(&bin)
        .arg("--json-definition")
        .arg(r#"{"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": true}}}"#)
        .output()
        .expect("run asl-validator");
    assert!(
        !out.status.success(),
        "a StartAt naming no state must be rejected"
    );
}

fn pipeline() -> Value {
    let text = std::fs::read_to_string(repo_root().join("statemachine/pipeline.asl.json")).expect("read");
    serde_json::from_str(&text).expect("pipeline.asl.json is JSON")
}

/// Every Task state with the ErrorEquals names that handle its errors: its own Retry and Catch, and
/// the Catch of every Parallel/Map state around it.
fn tasks_with_handlers(graph: &Value, outer: &[String], out: &mut Vec<(String, Value, BTreeSet<String>)>) {
    let Some(states) = graph["States"].as_object() else {
        return;
    };
    for (name, state) in states {
        let names = |field: &str| -> Vec<String> {
            state[field]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["ErrorEquals"].as_array().cloned().unwrap_or_default())
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        };
        let mut handled: Vec<String> = outer.to_vec();
        handled.extend(names("Catch"));
        if state["Type"] == "Task" {
            let mut all = handled.clone();
            all.extend(names("Retry"));
            out.push((name.clone(), state.clone(), all.into_iter().collect()));
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            tasks_with_handlers(branch, &handled, out);
        }
        if state.get("ItemProcessor").is_some() {
            tasks_with_handlers(&state["ItemProcessor"], &handled, out);
        }
    }
}

#[test]
fn every_matched_error_name_is_one_our_code_raises() {
    let mut tasks = Vec::new();
    tasks_with_handlers(&pipeline(), &[], &mut tasks);
    let mut unknown = BTreeSet::new();
    for (_, _, names) in &tasks {
        for name in names {
            let ours = Error::ERROR_TYPES.contains(&name.as_str());
            let service = SERVICE_PREFIXES.iter().any(|p| name.starts_with(p));
            if !ours && !service {
                unknown.insert(name.clone());
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "ErrorEquals names no code raises: {unknown:?} (greenpipe's are {:?})",
        Error::ERROR_TYPES
    );
}

#[test]
fn every_stage_error_is_retried_caught_or_deliberately_fatal() {
    let mut tasks = Vec::new();
    tasks_with_handlers(&pipeline(), &[], &mut tasks);
    assert!(
        tasks.len() >= 8,
        "expected the pipeline's Task states, found {}",
        tasks.len()
    );
    let mut problems = Vec::new();
    for (name, state, handled) in &tasks {
        let catches_all = handled.contains("States.ALL") || handled.contains("States.TaskFailed");
        if !catches_all {
            problems.push(format!(
                "{name}: no States.ALL catcher (its own or its Parallel's)"
            ));
        }
        let lambda = state["Resource"].as_str().is_some_and(|r| r.starts_with("${"));
        if !lambda {
            continue;
        }
        for error in Error::ERROR_TYPES {
            if !(catches_all || handled.contains(*error) || DELIBERATELY_FATAL.contains(error)) {
                problems.push(format!(
                    "{name}: {error} is neither retried, caught nor deliberately fatal"
                ));
            }
        }
        for transient in [
            "Throttled",
            "Retryable",
            "Lambda.ServiceException",
            "Lambda.TooManyRequestsException",
        ] {
            let retried = state["Retry"].as_array().into_iter().flatten().any(|r| {
                r["ErrorEquals"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|n| n == transient))
            });
            if !retried {
                problems.push(format!("{name}: {transient} is not retried"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_retrier_backs_off_with_a_cap_and_jitter() {
    let mut tasks = Vec::new();
    tasks_with_handlers(&pipeline(), &[], &mut tasks);
    for (name, state, _) in &tasks {
        for retrier in state["Retry"].as_array().into_iter().flatten() {
            assert!(
                retrier["BackoffRate"].as_f64().unwrap_or(1.0) > 1.0,
                "{name}: {retrier}"
            );
            assert!(retrier["MaxDelaySeconds"].is_u64(), "{name}: {retrier}");
            assert_eq!(retrier["JitterStrategy"], "FULL", "{name}: {retrier}");
        }
    }
}
