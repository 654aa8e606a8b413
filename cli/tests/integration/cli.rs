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

/// The main job as the README gives it: `greenpipe run` over the bundled sample, with no AWS account and
/// no emulator. Every stage is reached: validation, catalog and features planned (Glue, Feature Store),
/// plan-training runs and plans a managed spot job with checkpoints, the carbon-aware Wait is shown
/// (skipped, not slept) until the sample profile's cleanest window, the training, model and transform
/// are planned with their exact requests, and the run report's footprint is printed.
#[test]
fn the_main_job_shows_every_stage_of_the_pipeline_without_an_account() {
    let store = std::env::temp_dir().join(format!("greenpipe-main-job-{}", std::process::id()));
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--store",
            store.to_str().unwrap(),
            "--at",
            "2026-12-08T00:00:00Z",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_greenpipe"))
            .args(&args)
            .current_dir(root())
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_SAGEMAKER")
            .env_remove("GREENPIPE_SAGEMAKER_ROLE_ARN")
            .output()
            .expect("run the greenpipe binary")
    };

    let out = run(&["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let doc = json(&out);
    let r = &doc["runs"][0];
    assert_eq!(r["status"], "SUCCEEDED", "{r:#}");
    let outcome = |state: &str| {
        r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["state"] == state)
            .map(|s| s["outcome"].as_str().unwrap().to_string())
    };
    for (state, want) in [
        ("RegisterCatalog", "planned"),
        ("WriteFeatures", "planned"),
        ("PlanTraining", "ran"),
        ("WaitForCleanerGridTraining", "ran"),
        ("Train", "planned"),
        ("CreateModel", "planned"),
        ("PlanTransform", "ran"),
        ("Transform", "planned"),
        ("ReportRun", "ran"),
    ] {
        assert_eq!(outcome(state).as_deref(), Some(want), "{state}: {r:#}");
    }
    let planned = r["planned"].as_array().unwrap();
    let train = planned
        .iter()
        .find(|p| p["state"] == "Train")
        .expect("the planned training job");
    assert_eq!(train["request"]["EnableManagedSpotTraining"], true);
    assert!(
        train["request"]["CheckpointConfig"]["S3Uri"].is_string(),
        "{train:#}"
    );
    let rules: Vec<&str> = train["request"]["DebugRuleConfigurations"]
        .as_array()
        .expect("the sample's Debugger rules")
        .iter()
        .map(|r| r["RuleConfigurationName"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["LossNotDecreasing", "Overfit"]);
    let plan = &r["output"]["plan"];
    // The sample's profile is cleanest at 12:00 UTC; the execution started at midnight, deadline 24 h.
    assert_eq!(plan["startAt"], "2026-12-08T12:00:00Z", "{plan:#}");
    let wait = r["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "WaitForCleanerGridTraining")
        .unwrap();
    assert!(
        wait["waitedUntil"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-08T12:00:00"),
        "{wait:#}"
    );
    assert!(
        wait["durationMs"].as_u64().unwrap() < 5_000,
        "not slept: {wait:#}"
    );
    let report = &r["output"]["report"];
    let stages: Vec<(&str, &str)> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["stage"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    for line in [
        ("training", "planned"),
        ("transform", "planned"),
        ("plan", "succeeded"),
    ] {
        assert!(stages.contains(&line), "{line:?} in {stages:?}");
    }

    // The same run as a person reads it.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "until 2026-12-08T12:00:00",
        "skipped here, not slept",
        "Train -> arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Transform -> arn:aws:states:::sagemaker:createTransformJob.sync",
        "Carbon-aware start (the contract's schedule):",
        "Footprint (run report;",
        ": SUCCEEDED",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&store);
}

/// The rules a `validate --json` run failed, by name.
fn failed_rules(out: &Output) -> Vec<String> {
    json(out)["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["passed"] == false)
        .map(|r| r["rule"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `greenpipe infer` (issue 24, item 3) on the bundled samples: the draft holds for the file it came
/// from (exit 0), reads back as a contract, and every planted fault of `sales-invalid.csv` breaks it: the
/// ragged row, the missing and the duplicate order_id, the unknown country, the negative amount and the
/// impossible timestamp. JSON Lines (gzip) drafts hold too.
#[test]
fn infer_drafts_a_contract_the_planted_bad_rows_break() {
    let dir = std::env::temp_dir().join(format!("greenpipe-infer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let draft = dir.join("sales.yaml");
    let out = greenpipe(&["infer", &sample("sales.csv"), "--out", draft.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("the draft holds"), "{}", stderr(&out));
    let text = std::fs::read_to_string(&draft).unwrap();
    for expected in [
        "name: order_id\n    type: int\n    nullable: false",
        "unique: true",
        "allowed: [CA, DE, FR, GB, JP, \"NO\", US]",
        "regex: \"C[0-9]{6}\"",
        "type: timestamp",
        "# guess:",
    ] {
        assert!(text.contains(expected), "{expected:?} not in the draft:\n{text}");
    }
    let out = greenpipe(&[
        "validate",
        &sample("sales-invalid.csv"),
        "-c",
        draft.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let failed = failed_rules(&out);
    for fault in [
        "records: well-formed",
        "column \"order_id\": not null",
        "column \"order_id\": unique",
        "column \"country\": allowed",
        "column \"amount\": min 0",
        "column \"order_ts\": type timestamp",
    ] {
        assert!(
            failed.iter().any(|f| f.starts_with(fault)),
            "{fault:?} not among {failed:?}"
        );
    }
    let out = greenpipe(&["infer", &sample("sales.jsonl.gz")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("type: jsonl"));

    // The same as a DQDL ruleset (`--format dqdl`): it holds for its file and the planted faults break it.
    let rules = dir.join("sales.dqdl");
    let out = greenpipe(&[
        "infer",
        &sample("sales.csv"),
        "--format",
        "dqdl",
        "--out",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = greenpipe(&[
        "validate",
        &sample("sales-invalid.csv"),
        "-c",
        rules.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let failed = failed_rules(&out);
    for fault in [
        "IsComplete \"order_id\"",
        "IsUnique \"order_id\"",
        "ColumnValues \"country\" in",
        "ColumnValues \"amount\" >= 0",
        "ColumnDataType \"order_ts\" = \"TIMESTAMP\"",
    ] {
        assert!(
            failed.iter().any(|f| f.starts_with(fault)),
            "{fault:?} not among {failed:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
