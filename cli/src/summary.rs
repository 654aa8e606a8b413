//! The human-readable summary of a validation report.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use greenpipe::validate::report::{FatalError, ValidationReport, Violation};
use indicatif::DecimalBytes;

/// Longest value shown in a violation line; the JSON report has the full (capped) value.
const VALUE_CHARS: usize = 60;

/// Render the summary. `examples` caps the violation lines shown.
pub fn render(report: &ValidationReport, elapsed: Duration, examples: usize) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_summary(&mut out, report, elapsed, examples);
    out
}

/// Print to stdout. A closed pipe (`greenpipe validate ... | head`) is not an error worth reporting.
pub fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn write_summary(
    out: &mut String,
    r: &ValidationReport,
    elapsed: Duration,
    examples: usize,
) -> std::fmt::Result {
    let verdict = if r.valid { "valid" } else { "INVALID" };
    writeln!(out, "{}: {verdict}", r.source)?;
    let version = r
        .contract
        .version
        .as_deref()
        .map(|v| format!(" v{v}"))
        .unwrap_or_default();
    writeln!(
        out,
        "  contract     {}{version} ({})",
        r.contract.name, r.contract.source
    )?;
    writeln!(out, "  format       {}, compression {}", r.format, r.compression)?;
    writeln!(out, "  rows         {}", r.rows)?;
    let decoded = if r.bytes_decoded != r.bytes_read {
        format!(" ({} decoded)", DecimalBytes(r.bytes_decoded))
    } else {
        String::new()
    };
    writeln!(
        out,
        "  read         {}{decoded} in {} ({})",
        DecimalBytes(r.bytes_read),
        duration(elapsed),
        throughput(r.bytes_read, elapsed)
    )?;
    writeln!(out, "  fingerprint  {}", r.fingerprint)?;

    let failed = r.rules.iter().filter(|rule| !rule.passed).count();
    writeln!(
        out,
        "  rules        {} passed, {failed} failed",
        r.rules.len() - failed
    )?;
    for rule in &r.rules {
        let mut line = format!("    {}  {}", if rule.passed { "pass" } else { "FAIL" }, rule.rule);
        if rule.failed_rows > 0 {
            let _ = write!(line, "  [{} rows]", rule.failed_rows);
        }
        if let Some(measured) = rule.measured {
            let _ = write!(line, "  (measured {})", number(measured));
        }
        if let (false, Some(message)) = (rule.passed, &rule.message) {
            let _ = write!(line, ": {message}");
        }
        writeln!(out, "{line}")?;
    }

    if r.violation_count > 0 {
        let shown = r.violations.len().min(examples);
        writeln!(out, "  violations   {} (first {shown} shown)", r.violation_count)?;
        for v in &r.violations[..shown] {
            writeln!(out, "    {}", violation(v))?;
        }
        if r.violation_count > shown as u64 {
            let more = r.violation_count - shown as u64;
            // Only point at --json when it really holds more examples than were shown.
            let hint = if r.violations.len() > shown {
                " (see --json)"
            } else {
                ""
            };
            writeln!(out, "    ... and {more} more{hint}")?;
        }
    }
    if let Some(fatal) = &r.fatal {
        writeln!(out, "  fatal        {}", fatal_line(fatal))?;
    }
    Ok(())
}

fn violation(v: &Violation) -> String {
    let mut at = format!("row {}", v.row);
    if let Some(group) = v.row_group {
        let _ = write!(at, " of row group {group}");
    }
    if let Some(column) = &v.column {
        let _ = write!(at, ", column {column}");
    }
    if let Some(offset) = v.byte_offset {
        let _ = write!(at, ", byte {offset}");
    }
    if let Some(value) = &v.value {
        let _ = write!(at, ", value {:?}", truncate(value));
    }
    format!("{at}: {} [{}]", v.message, v.rule)
}

fn fatal_line(f: &FatalError) -> String {
    let mut line = format!("{}: {}", f.kind, f.message);
    if let Some(offset) = f.byte_offset {
        let _ = write!(line, " (at byte {offset}");
        if let Some(row) = f.row {
            let _ = write!(line, ", row {row}");
        }
        line.push(')');
    } else if let Some(row) = f.row {
        let _ = write!(line, " (at row {row})");
    }
    line
}

fn truncate(value: &str) -> String {
    match value.char_indices().nth(VALUE_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_string(),
    }
}

/// Whole numbers as such, fractions (completeness, uniqueness) to 4 decimals.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.4}")
    }
}

fn duration(d: Duration) -> String {
    if d.as_secs() >= 1 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}

fn throughput(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return "- MB/s".to_string();
    }
    format!("{:.1} MB/s", bytes as f64 / 1e6 / secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use greenpipe::validate::report::{ContractInfo, RuleOutcome};

    fn report() -> ValidationReport {
        ValidationReport {
            valid: false,
            source: "samples/x.csv".into(),
            contract: ContractInfo {
                name: "sales".into(),
                version: Some("1".into()),
                source: "c.yaml".into(),
            },
            format: "csv".into(),
            compression: "none".into(),
            rows: 3,
            bytes_read: 2_000_000,
            bytes_decoded: 2_000_000,
            fingerprint: "blake3:00".into(),
            rules: vec![
                RuleOutcome {
                    rule: "IsComplete \"id\"".into(),
                    passed: true,
                    failed_rows: 0,
                    measured: None,
                    message: None,
                },
                RuleOutcome {
                    rule: "ColumnValues \"amount\" >= 0".into(),
                    passed: false,
                    failed_rows: 2,
                    measured: Some(2.0 / 3.0),
                    message: Some("2 values out of range".into()),
                },
            ],
            violation_count: 2,
            violations: vec![
                Violation {
                    row: 2,
                    column: Some("amount".into()),
                    byte_offset: Some(40),
                    row_group: None,
                    value: Some("-1".into()),
                    rule: "ColumnValues \"amount\" >= 0".into(),
                    message: "below 0".into(),
                },
                Violation {
                    row: 3,
                    column: Some("amount".into()),
                    byte_offset: Some(60),
                    row_group: None,
                    value: Some("x".repeat(100)),
                    rule: "ColumnValues \"amount\" >= 0".into(),
                    message: "below 0".into(),
                },
            ],
            fatal: Some(FatalError {
                kind: "DecodeError".into(),
                message: "corrupt".into(),
                byte_offset: Some(7),
                row: Some(3),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn summary_shows_verdict_rules_violations_and_fatal() {
        let text = render(&report(), Duration::from_secs(1), 1);
        assert!(text.starts_with("samples/x.csv: INVALID\n"), "{text}");
        assert!(text.contains("2.00 MB in 1.00 s (2.0 MB/s)"), "{text}");
        assert!(text.contains("1 passed, 1 failed"), "{text}");
        assert!(
            text.contains(
                "FAIL  ColumnValues \"amount\" >= 0  [2 rows]  (measured 0.6667): 2 values out of range"
            ),
            "{text}"
        );
        assert!(
            text.contains("row 2, column amount, byte 40, value \"-1\": below 0 [ColumnValues"),
            "{text}"
        );
        assert!(!text.contains("row 3,"), "only one example requested: {text}");
        assert!(text.contains("... and 1 more (see --json)"), "{text}");
        assert!(text.contains("DecodeError: corrupt (at byte 7, row 3)"), "{text}");
    }

    #[test]
    fn long_values_are_truncated_on_char_boundaries() {
        assert_eq!(truncate("short"), "short");
        let long = "é".repeat(100);
        assert_eq!(truncate(&long).chars().count(), VALUE_CHARS + 1);
    }
}
