//! The `greenpipe` binary as a user runs it: exit codes, stdout, stderr.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::root;

fn sample(name: &str) -> String {
    root().join("samples").join(name).display().to_string()
}

fn contract() -> String {
    root().join("contracts/sales.yaml").display().to_string()
}

fn greenpipe(args: &[&str]) -> Output {
    greenpipe_in(&root(), args)
}

fn greenpipe_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_greenpipe"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run the greenpipe binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(out)))
}

/// Exit 2 with `error [<error_type>]` on stderr, where the name is one greenpipe can raise.
fn assert_error(out: &Output, error_type: Option<&str>) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        stdout(out)
    );
    let named = greenpipe::Error::ERROR_TYPES
        .iter()
        .find(|t| err.contains(&format!("error [{t}]")));
    let named = named.unwrap_or_else(|| panic!("no error_type on stderr: {err}"));
    if let Some(expected) = error_type {
        assert_eq!(*named, expected, "stderr: {err}");
    }
    err
}

#[test]
fn valid_file_exits_0_with_a_summary() {
    let out = greenpipe(&["validate", &sample("sales.csv"), "--contract", &contract()]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {text}\nstderr: {}",
        stderr(&out)
    );
    assert!(text.contains("sales.csv: valid"), "{text}");
    assert!(text.contains("rows         200"), "{text}");
    assert!(text.contains("fingerprint  xxh3-128:"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn valid_file_json_report() {
    let out = greenpipe(&[
        "validate",
        &sample("sales.csv"),
        "--contract",
        &contract(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["valid"], true);
    assert_eq!(report["rows"], 200);
    assert_eq!(report["violation_count"], 0);
    assert!(
        report["rules"].as_array().is_some_and(|r| !r.is_empty()),
        "{report}"
    );
}

#[test]
fn invalid_file_exits_1_and_reports_where() {
    let out = greenpipe(&[
        "validate",
        &sample("sales-invalid.csv"),
        "-c",
        &contract(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["valid"], false);
    let violations = report["violations"].as_array().cloned().unwrap_or_default();
    let has = |column: &str, value: &str| {
        violations
            .iter()
            .any(|v| v["column"] == column && v["value"] == value && v["row"].as_u64().is_some())
    };
    assert!(has("amount", "-19.99"), "negative amount not reported: {report}");
    assert!(has("country", "XX"), "unknown country not reported: {report}");
    assert!(
        has("order_ts", "2026-13-01T25:00:00Z"),
        "bad timestamp not reported: {report}"
    );
    assert!(
        report["violation_count"].as_u64().is_some_and(|n| n >= 6),
        "{report}"
    );
}

#[test]
fn invalid_file_summary_names_the_failures() {
    let out = greenpipe(&["validate", &sample("sales-invalid.csv"), "-c", &contract()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(text.contains("sales-invalid.csv: INVALID"), "{text}");
    assert!(text.contains("FAIL"), "{text}");
    assert!(
        text.contains("column amount") && text.contains("\"-19.99\""),
        "{text}"
    );
}

#[test]
fn max_examples_caps_examples_but_not_the_count() {
    let out = greenpipe(&[
        "validate",
        &sample("sales-invalid.csv"),
        "-c",
        &contract(),
        "--json",
        "--max-examples",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["violations"].as_array().map(Vec::len), Some(2), "{report}");
    assert!(
        report["violation_count"].as_u64().is_some_and(|n| n > 2),
        "{report}"
    );
}

#[test]
fn missing_contract_file_exits_2() {
    let out = greenpipe(&[
        "validate",
        &sample("sales.csv"),
        "--contract",
        "no/such/contract.yaml",
    ]);
    let err = assert_error(&out, None);
    assert!(err.contains("contract.yaml"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn malformed_contract_exits_2_with_contract_invalid() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, "columns: [ {name: id, type: int\n").expect("write contract");
    let out = greenpipe(&[
        "validate",
        &sample("sales.csv"),
        "-c",
        &path.display().to_string(),
    ]);
    assert_error(&out, Some("ContractInvalid"));
}

#[test]
fn unsupported_dqdl_rule_exits_2_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rules.dqdl");
    std::fs::write(
        &path,
        "Rules = [ RowCount > 0, CustomSql \"select count(*) from primary\" > 0 ]\n",
    )
    .expect("write contract");
    let out = greenpipe(&[
        "validate",
        &sample("sales.csv"),
        "-c",
        &path.display().to_string(),
    ]);
    let err = assert_error(&out, Some("UnsupportedRule"));
    assert!(err.contains("CustomSql"), "{err}");
}

#[test]
fn nonexistent_data_file_exits_2_naming_it() {
    let out = greenpipe(&["validate", "no/such/data.csv", "-c", &contract()]);
    let err = assert_error(&out, Some("IoError"));
    assert!(err.contains("no/such/data.csv"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let missing_contract = greenpipe(&["validate", &sample("sales.csv")]);
    assert_eq!(missing_contract.status.code(), Some(2));
    let bad_uri = greenpipe(&["validate", "s3://bucket-only", "-c", &contract()]);
    assert_eq!(bad_uri.status.code(), Some(2));
    assert!(
        stderr(&bad_uri).contains("s3://BUCKET/KEY"),
        "{}",
        stderr(&bad_uri)
    );
}

#[test]
fn help_describes_the_commands() {
    let out = greenpipe(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for needle in ["validate", "demo", "Exit codes"] {
        assert!(text.contains(needle), "{needle} missing from --help: {text}");
    }
    let out = greenpipe(&["validate", "--help"]);
    let text = stdout(&out);
    for needle in [
        "--contract",
        "--json",
        "--no-progress",
        "--max-examples",
        "s3://BUCKET/KEY",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from validate --help: {text}"
        );
    }
}

#[test]
fn demo_exits_0_from_any_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = greenpipe_in(dir.path(), &["demo"]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {text}\nstderr: {}",
        stderr(&out)
    );
    assert!(text.contains("samples/sales.csv: valid"), "{text}");
    assert!(text.contains("samples/sales-invalid.csv: INVALID"), "{text}");
    assert!(text.ends_with("demo ok\n"), "{text}");
}

#[test]
fn plain_dqdl_contract_takes_the_format_from_the_extension() {
    let dqdl = root().join("contracts/sales.dqdl").display().to_string();
    for (data, expected) in [("sales.csv", 0), ("sales.jsonl.gz", 0), ("sales-invalid.csv", 1)] {
        let out = greenpipe(&["validate", &sample(data), "-c", &dqdl, "--json"]);
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{data}: stderr: {}",
            stderr(&out)
        );
        let report = json(&out);
        assert_eq!(report["valid"], expected == 0, "{data}: {report}");
        assert_eq!(
            report["rows"],
            if data == "sales-invalid.csv" { 40 } else { 200 },
            "{data}"
        );
    }
}
