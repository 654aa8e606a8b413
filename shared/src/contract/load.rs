//! Loading a contract file: YAML (`.yaml` / `.yml`), JSON (`.json`) or a plain DQDL ruleset (`.dqdl`),
//! followed by the static checks that can be made without data, so a broken contract fails when it is
//! loaded, with a message naming the column or field, rather than halfway through a 10 GB file.
//!
//! Value syntax accepted in bounds and allowed values is the engine's (see `validate`): int `[+-]?digits`,
//! float as Rust's `f64::from_str`, bool `true`/`false` (any case) or `1`/`0`, date `YYYY-MM-DD`, timestamp
//! `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|±HH[:MM]]`.

use std::io::Read;
use std::path::Path;

use serde_json::Value as Json;

use super::dqdl;
use super::{ColumnSpec, ColumnType, Contract, FormatSpec, Limits};
use crate::validate::values;
use crate::{Error, Result};

/// Largest contract file accepted (1 MiB): contracts are small; anything bigger is a mistake or an attack.
pub const MAX_CONTRACT_BYTES: usize = 1 << 20;

/// The syntax of a contract file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Yaml,
    Json,
    Dqdl,
}

/// Parse a contract. `name` is the file name or object key (`contracts/sales.yaml`): its extension picks
/// the syntax and its stem is the contract name when the contract has none. A `.dqdl` file is a contract
/// with only `dqdl` set (the data format then comes from the data file's extension).
pub fn parse_contract(bytes: &[u8], name: &str) -> Result<Contract> {
    let file_name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, syntax) = split_extension(file_name).ok_or_else(|| {
        Error::contract_invalid(
            name,
            format!("cannot tell the contract's syntax from its name {file_name:?}: use .yaml, .yml, .json or .dqdl"),
        )
    })?;
    if bytes.len() > MAX_CONTRACT_BYTES {
        return Err(too_large(name, bytes.len() as u64));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::contract_invalid(name, format!("not valid UTF-8 (byte {})", e.valid_up_to())))?;
    if text.trim().is_empty() {
        return Err(Error::contract_invalid(name, "the contract is empty"));
    }

    let mut contract = match syntax {
        Syntax::Dqdl => {
            dqdl::parse(text).map_err(|e| e.into_contract_error(name))?;
            Contract {
                dqdl: Some(text.to_string()),
                ..Contract::default()
            }
        }
        Syntax::Yaml => {
            serde_yaml::from_str::<Contract>(text).map_err(|e| Error::contract_invalid(name, e))?
        }
        Syntax::Json => {
            serde_json::from_str::<Contract>(text).map_err(|e| Error::contract_invalid(name, e))?
        }
    };
    if contract.name.trim().is_empty() {
        contract.name = stem.to_string();
    }
    if syntax != Syntax::Dqdl {
        check(&contract).map_err(|m| Error::contract_invalid(name, m))?;
        if let Some(text) = &contract.dqdl {
            dqdl::parse(text).map_err(|e| e.into_contract_error(name))?;
        }
    }
    Ok(contract)
}

/// Read a local contract file (at most [`MAX_CONTRACT_BYTES`]) and parse it with [`parse_contract`].
pub fn load_contract_file(path: &Path) -> Result<Contract> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::ContractNotFound {
            key: name.clone(),
            searched: vec![name.clone()],
        },
        _ => Error::Io(e),
    })?;
    let mut bytes = Vec::new();
    // Read one byte past the cap: a file that grows while we read is still caught.
    file.take(MAX_CONTRACT_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > MAX_CONTRACT_BYTES {
        let size = std::fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(bytes.len() as u64);
        return Err(too_large(&name, size));
    }
    parse_contract(&bytes, &name)
}

fn too_large(name: &str, size: u64) -> Error {
    Error::contract_invalid(
        name,
        format!("the contract is {size} bytes, over the limit of {MAX_CONTRACT_BYTES}"),
    )
}

fn split_extension(file_name: &str) -> Option<(&str, Syntax)> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    let syntax = match ext.to_ascii_lowercase().as_str() {
        "yaml" | "yml" => Syntax::Yaml,
        "json" => Syntax::Json,
        "dqdl" => Syntax::Dqdl,
        _ => return None,
    };
    Some((stem, syntax))
}

// ---------------------------------------------------------------------------------------------------
// Static checks

fn check(c: &Contract) -> std::result::Result<(), String> {
    if let Some(FormatSpec::Csv { delimiter, quote, .. }) = &c.format {
        let one_byte = |s: &str, what: &str| match s.as_bytes() {
            [b] if *b != b'\n' && *b != b'\r' => Ok(*b),
            _ => Err(format!(
                "format.{what} must be exactly one byte other than CR and LF, got {s:?}"
            )),
        };
        if one_byte(delimiter, "delimiter")? == one_byte(quote, "quote")? {
            return Err(format!(
                "format.delimiter and format.quote must differ (both are {delimiter:?})"
            ));
        }
    }

    let mut seen = std::collections::HashSet::new();
    for col in &c.columns {
        if col.name.is_empty() {
            return Err("a column has an empty name".into());
        }
        if !seen.insert(col.name.as_str()) {
            return Err(format!("column {:?} is declared twice", col.name));
        }
        check_column(col).map_err(|m| format!("column {:?}: {m}", col.name))?;
    }

    if let Some(rc) = c.row_count {
        if let (Some(lo), Some(hi)) = (rc.min, rc.max) {
            if lo > hi {
                return Err(format!("row_count: min {lo} is greater than max {hi}"));
            }
        }
    }
    if c.max_record_bytes == Some(0) {
        return Err("max_record_bytes must be at least 1".into());
    }
    if c.limits.max_expanded_bytes == 0 {
        return Err("limits.max_expanded_bytes must be at least 1".into());
    }
    if c.limits.default_max_record_bytes == 0 {
        return Err("limits.default_max_record_bytes must be at least 1".into());
    }
    if !(1..=Limits::MAX_PARQUET_PAGE_BYTES).contains(&c.limits.max_parquet_page_bytes) {
        return Err(format!(
            "limits.max_parquet_page_bytes must be between 1 and {} (192 MiB)",
            Limits::MAX_PARQUET_PAGE_BYTES
        ));
    }
    if !(1..=Limits::MAX_COMPRESSION_RATIO).contains(&c.limits.max_compression_ratio) {
        return Err(format!(
            "limits.max_compression_ratio must be between 1 and {}",
            Limits::MAX_COMPRESSION_RATIO
        ));
    }
    for (name, value, ceiling) in [
        (
            "max_parquet_footer_bytes",
            c.limits.max_parquet_footer_bytes,
            Limits::MAX_PARQUET_FOOTER_BYTES,
        ),
        (
            "max_parquet_schema_depth",
            c.limits.max_parquet_schema_depth,
            Limits::MAX_PARQUET_SCHEMA_DEPTH,
        ),
        (
            "max_parquet_columns",
            c.limits.max_parquet_columns,
            Limits::MAX_PARQUET_COLUMNS,
        ),
    ] {
        if !(1..=ceiling).contains(&value) {
            return Err(format!("limits.{name} must be between 1 and {ceiling}"));
        }
    }
    Ok(())
}

/// A bound or allowed value of a column, parsed for comparison.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Typed {
    Num(f64),
    /// Days since 1970-01-01 for dates, microseconds since the epoch (UTC) for timestamps.
    Time(i64),
    Str(String),
    Bool(bool),
}

fn check_column(col: &ColumnSpec) -> std::result::Result<(), String> {
    let min = col
        .min
        .as_ref()
        .map(|v| bound(col.ty, v).map_err(|m| format!("min: {m}")))
        .transpose()?;
    let max = col
        .max
        .as_ref()
        .map(|v| bound(col.ty, v).map_err(|m| format!("max: {m}")))
        .transpose()?;
    if let (Some(lo), Some(hi), Some(lo_json), Some(hi_json)) = (&min, &max, &col.min, &col.max) {
        if lo > hi {
            return Err(format!("min {lo_json} is greater than max {hi_json}"));
        }
    }
    if let Some(values) = &col.allowed {
        if values.is_empty() {
            return Err("allowed is empty: no value could pass (omit it to allow any value)".into());
        }
        for v in values {
            allowed_value(col.ty, v).map_err(|m| format!("allowed: {m}"))?;
        }
    }
    if let Some(pattern) = &col.regex {
        // Compiled as the engine compiles it (anchored), so a pattern that loads also runs.
        super::compile_regex(&format!("^(?:{pattern})$"))
            .map_err(|e| format!("regex {pattern:?} is invalid: {}", last_line(&e.to_string())))?;
    }
    if let (Some(lo), Some(hi)) = (col.min_length, col.max_length) {
        if lo > hi {
            return Err(format!("min_length {lo} is greater than max_length {hi}"));
        }
    }
    Ok(())
}

fn last_line(s: &str) -> &str {
    s.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or(s)
}

fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String => "string",
        ColumnType::Int => "int",
        ColumnType::Float => "float",
        ColumnType::Bool => "bool",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Date => "date",
    }
}

/// A `min` / `max` value of a column of type `ty`.
fn bound(ty: ColumnType, v: &Json) -> std::result::Result<Typed, String> {
    let mismatch = |expected: &str| format!("{v} is not a valid {} value ({expected})", type_name(ty));
    match ty {
        ColumnType::Int | ColumnType::Float => number(v)
            .map(Typed::Num)
            .ok_or_else(|| mismatch("expected a number")),
        ColumnType::Date => v
            .as_str()
            .and_then(parse_date)
            .map(Typed::Time)
            .ok_or_else(|| mismatch("expected \"YYYY-MM-DD\"")),
        ColumnType::Timestamp => v
            .as_str()
            .and_then(parse_timestamp)
            .map(Typed::Time)
            .ok_or_else(|| mismatch("expected an RFC 3339 timestamp such as \"2026-01-01T00:00:00Z\"")),
        ColumnType::String => match v {
            Json::String(s) => Ok(Typed::Str(s.clone())),
            // A number bound on text compares as text ("10" < "9"): almost always a mistake.
            _ => Err(mismatch(
                "expected a quoted string, compared as text; use min_length/max_length for lengths",
            )),
        },
        ColumnType::Bool => Err("bool columns have no min/max (use allowed)".into()),
    }
}

/// One entry of `allowed` for a column of type `ty`.
fn allowed_value(ty: ColumnType, v: &Json) -> std::result::Result<Typed, String> {
    let mismatch = || format!("{v} is not a valid {} value", type_name(ty));
    match (ty, v) {
        (_, Json::Null) => Err("null is not an allowed value (use nullable: true)".into()),
        (_, Json::Array(_) | Json::Object(_)) => Err(format!("{v} is not a single value")),
        (ColumnType::String, Json::String(s)) => Ok(Typed::Str(s.clone())),
        // Numbers and booleans on a string column match their text ("1", "true").
        (ColumnType::String, other) => Ok(Typed::Str(other.to_string())),
        (ColumnType::Int, _) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse::<i64>().ok()))
            .map(|i| Typed::Num(i as f64))
            .ok_or_else(|| format!("{} (expected an integer)", mismatch())),
        (ColumnType::Float, _) => number(v).map(Typed::Num).ok_or_else(mismatch),
        (ColumnType::Bool, _) => v
            .as_bool()
            .or_else(|| v.as_str().and_then(parse_bool))
            .map(Typed::Bool)
            .ok_or_else(mismatch),
        (ColumnType::Date, _) => v
            .as_str()
            .and_then(parse_date)
            .map(Typed::Time)
            .ok_or_else(mismatch),
        (ColumnType::Timestamp, _) => v
            .as_str()
            .and_then(parse_timestamp)
            .map(Typed::Time)
            .ok_or_else(mismatch),
    }
}

/// A JSON number, or a string holding one; never NaN.
fn number(v: &Json) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse::<f64>().ok()))
        .filter(|f| !f.is_nan())
}

/// The engine's own parsers, so a bound is accepted exactly when the engine could compare values with it.
fn parse_bool(s: &str) -> Option<bool> {
    values::parse_bool(s.as_bytes())
}

fn parse_date(s: &str) -> Option<i64> {
    values::parse_date(s.as_bytes()).map(i64::from)
}

fn parse_timestamp(s: &str) -> Option<i64> {
    values::parse_timestamp(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::dqdl::{CmpOp, NumExpr, Rule};
    use crate::contract::{Bounds, Compression, Limits};

    fn invalid(bytes: &str, name: &str) -> String {
        match parse_contract(bytes.as_bytes(), name) {
            Err(Error::ContractInvalid { source_name, message }) => {
                assert_eq!(source_name, name);
                message
            }
            Err(e) => panic!("expected ContractInvalid for {name}, got {e}"),
            Ok(c) => panic!("expected an error for {name}, got {c:?}"),
        }
    }

    fn yaml_invalid(yaml: &str) -> String {
        invalid(yaml, "contracts/x.yaml")
    }

    fn assert_msg(msg: &str, needles: &[&str]) {
        for n in needles {
            assert!(msg.contains(n), "message {msg:?} should contain {n:?}");
        }
    }

    const SALES_YAML: &str = r#"
name: sales
version: "3"
format: { type: csv, delimiter: ";", header: true }
compression: gzip
columns:
  - { name: order_id, type: int, nullable: false, unique: true, min: 1 }
  - { name: country, type: string, allowed: [FR, DE, "NO"] }
  - { name: amount, type: float, min: 0, max: "1e6" }
  - { name: order_ts, type: timestamp, min: "2020-01-01T00:00:00Z", max: "2030-01-01 00:00:00+02:00" }
  - { name: order_date, type: date, min: "2020-01-01" }
  - { name: is_gift, type: bool, allowed: [true, "false"] }
  - { name: sku, type: string, regex: "[A-Z]{3}-\\d{4}", min_length: 8, max_length: 8 }
row_count: { min: 1, max: 1000000 }
max_record_bytes: 65536
limits: { max_examples: 10 }
dqdl: |
  Rules = [
    IsComplete "order_id",
    RowCount > 0
  ]
catalog: { database: ml, table: sales }
"#;

    #[test]
    fn yaml_contract() {
        let c = parse_contract(SALES_YAML.as_bytes(), "contracts/sales.yaml").unwrap();
        assert_eq!(c.name, "sales");
        assert_eq!(c.version.as_deref(), Some("3"));
        assert_eq!(
            c.format,
            Some(FormatSpec::Csv {
                delimiter: ";".into(),
                quote: "\"".into(),
                header: true
            })
        );
        assert_eq!(c.compression, Some(Compression::Gzip));
        assert_eq!(c.columns.len(), 7);
        assert!(c.columns[0].unique && !c.columns[0].nullable);
        assert!(c.columns[1].nullable, "nullable defaults to true");
        assert_eq!(
            c.row_count,
            Some(Bounds {
                min: Some(1),
                max: Some(1_000_000)
            })
        );
        assert_eq!(c.max_record_bytes, Some(65536));
        assert_eq!(
            c.limits,
            Limits {
                max_examples: 10,
                ..Limits::default()
            }
        );
        assert!(c
            .dqdl
            .as_deref()
            .unwrap_or_default()
            .contains("IsComplete \"order_id\""));
        assert!(c.catalog.is_some());
    }

    #[test]
    fn json_contract_and_defaults() {
        let json = r#"{"format": {"type": "jsonl"}, "columns": [{"name": "id", "type": "string"}],
                      "dqdl": "Rules = [ IsUnique \"id\" ]"}"#;
        let c = parse_contract(json.as_bytes(), "s3-prefix/contracts/events.JSON").unwrap();
        assert_eq!(c.name, "events", "empty name → file stem");
        assert_eq!(c.format, Some(FormatSpec::Jsonl));
        assert_eq!(c.compression, None);
        assert_eq!(c.limits, Limits::default());
        let csv = parse_contract(br#"{"format": {"type": "csv"}}"#, "a.json").unwrap();
        assert_eq!(csv.format, Some(FormatSpec::csv()));
        // .yml, a UTF-8 BOM, and a blank name are fine too.
        let c = parse_contract(
            "\u{FEFF}name: \"  \"\ncolumns: []\n".as_bytes(),
            "dir/orders.v2.yml",
        )
        .unwrap();
        assert_eq!(c.name, "orders.v2");
    }

    #[test]
    fn dqdl_contract() {
        let src = "# sales checks\nRules = [ RowCount > 0, IsComplete \"id\" ]\n";
        let c = parse_contract(src.as_bytes(), "contracts/sales.dqdl").unwrap();
        assert_eq!(c.name, "sales");
        assert_eq!(c.dqdl.as_deref(), Some(src));
        assert_eq!(c.format, None, "the format comes from the data file");
        assert!(c.columns.is_empty());
        let rules = dqdl::parse(c.dqdl.as_deref().unwrap_or_default()).unwrap().rules;
        assert_eq!(rules[0], Rule::RowCount(NumExpr::Cmp(CmpOp::Gt, 0.0)));
    }

    #[test]
    fn dqdl_errors_at_load_time() {
        match parse_contract(b"Rules = [ CustomSql \"select 1\" = 1 ]", "x.dqdl") {
            Err(Error::UnsupportedRule { source_name, rule }) => {
                assert_eq!(source_name, "x.dqdl");
                assert_msg(&rule, &["CustomSql", "select 1"]);
            }
            r => panic!("{r:?}"),
        }
        let yaml = "dqdl: 'Rules = [ IsComplete \"a\" where \"b > 1\" ]'\n";
        match parse_contract(yaml.as_bytes(), "x.yaml") {
            Err(e @ Error::UnsupportedRule { .. }) => {
                assert_eq!(e.error_type(), "UnsupportedRule");
                assert_msg(&e.to_string(), &["where", "IsComplete \"a\""]);
            }
            r => panic!("{r:?}"),
        }
        let msg = invalid("dqdl: 'Rules = [ RowCount > ]'\n", "x.yaml");
        assert_msg(&msg, &["DQDL", "line 1, column 22", "expected a number"]);
        let msg = invalid(
            r#"{"dqdl": "Rules = [ IsComplete \"a\",\n  IsUnique ]"}"#,
            "x.json",
        );
        assert_msg(&msg, &["DQDL: line 2, column 12", "IsUnique needs a column name"]);
        match parse_contract(
            br#"{"dqdl": "Rules = [ IsComplete \"a\",\n  Mean \"x\" > 1 ]"}"#,
            "x.json",
        ) {
            Err(Error::UnsupportedRule { rule, .. }) => {
                assert_msg(&rule, &["rule type `Mean`", "Mean \"x\" > 1"])
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn syntax_errors_name_the_field() {
        assert_msg(&yaml_invalid("nmae: x\n"), &["unknown field `nmae`"]);
        assert_msg(
            &yaml_invalid("columns:\n  - { name: a, type: integer }\n"),
            &["unknown variant `integer`"],
        );
        assert_msg(
            &yaml_invalid("columns:\n  - { name: a, type: int, uniq: true }\n"),
            &["unknown field `uniq`"],
        );
        assert_msg(
            &yaml_invalid("format: { type: csv, sep: \";\" }\n"),
            &["unknown field `sep`"],
        );
        assert_msg(
            &yaml_invalid("limits: { max_rows: 1 }\n"),
            &["unknown field `max_rows`"],
        );
        assert_msg(&yaml_invalid("columns: 5\n"), &["invalid type"]);
        assert_msg(&yaml_invalid("name: a\nname: b\n"), &["duplicate"]);
        assert_msg(
            &yaml_invalid("name: a\n---\nname: b\n"),
            &["more than one document"],
        );
        assert_msg(
            &invalid("{\"name\": \"x\", \"colums\": []}", "c.json"),
            &["unknown field `colums`", "line 1"],
        );
        assert_msg(&invalid("{\"name\": ", "c.json"), &["EOF"]);
    }

    #[test]
    fn file_name_and_encoding_checks() {
        assert_msg(
            &invalid("name: x", "contract.txt"),
            &["use .yaml, .yml, .json or .dqdl"],
        );
        assert_msg(&invalid("name: x", "contract"), &["use .yaml"]);
        assert_msg(&invalid("", "c.yaml"), &["empty"]);
        assert_msg(&invalid("  \n", "c.dqdl"), &["empty"]);
        match parse_contract(b"name: \xff\xfe", "c.yaml") {
            Err(Error::ContractInvalid { message, .. }) => assert_msg(&message, &["UTF-8", "byte 6"]),
            r => panic!("{r:?}"),
        }
        let big = format!("name: x\n#{}\n", "a".repeat(MAX_CONTRACT_BYTES));
        assert_msg(&invalid(&big, "c.yaml"), &["over the limit of 1048576"]);
    }

    #[test]
    fn yaml_alias_bomb_is_rejected() {
        // 10^12 leaves once expanded, inside a section that accepts any value.
        let mut y = String::from("catalog:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            y.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
        }
        let msg = yaml_invalid(&y);
        assert_msg(&msg, &["repetition limit exceeded"]);
    }

    #[test]
    fn duplicate_and_empty_columns() {
        let msg = yaml_invalid("columns:\n  - { name: id, type: int }\n  - { name: x, type: int }\n  - { name: id, type: string }\n");
        assert_msg(&msg, &["column \"id\" is declared twice"]);
        assert_msg(
            &yaml_invalid("columns:\n  - { name: \"\", type: int }\n"),
            &["empty name"],
        );
    }

    #[test]
    fn csv_options() {
        for (fmt, needle) in [
            (
                "{ type: csv, delimiter: \";;\" }",
                "format.delimiter must be exactly one byte",
            ),
            (
                "{ type: csv, delimiter: \"\" }",
                "format.delimiter must be exactly one byte",
            ),
            (
                "{ type: csv, delimiter: \"é\" }",
                "format.delimiter must be exactly one byte",
            ),
            ("{ type: csv, delimiter: \"\\n\" }", "other than CR and LF"),
            (
                "{ type: csv, quote: \"''\" }",
                "format.quote must be exactly one byte",
            ),
            ("{ type: csv, delimiter: \"'\", quote: \"'\" }", "must differ"),
        ] {
            assert_msg(&yaml_invalid(&format!("format: {fmt}\n")), &[needle]);
        }
        let c = parse_contract(
            b"format: { type: csv, delimiter: \"\\t\", quote: \"'\", header: false }\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(
            c.format,
            Some(FormatSpec::Csv {
                delimiter: "\t".into(),
                quote: "'".into(),
                header: false
            })
        );
    }

    fn column(yaml_fields: &str) -> std::result::Result<Contract, String> {
        let yaml = format!("columns:\n  - {{ name: c, {yaml_fields} }}\n");
        parse_contract(yaml.as_bytes(), "c.yaml").map_err(|e| match e {
            Error::ContractInvalid { message, .. } => message,
            e => panic!("{e}"),
        })
    }

    #[test]
    fn bounds_must_fit_the_column_type() {
        for ok in [
            "type: int, min: 0, max: 10",
            "type: int, min: -5, max: \"7\"",
            "type: int, min: 0.5, max: 2.5",
            "type: float, min: -1.5, max: 1e3",
            "type: float, min: \"0\", max: \"inf\"",
            "type: date, min: \"2020-02-29\", max: \"2030-12-31\"",
            "type: timestamp, min: \"2020-01-01\", max: \"2020-01-01T10:00:00.123456789+01:00\"",
            "type: timestamp, min: \"2020-01-01 00:00\", max: \"2020-01-01t00:00:01Z\"",
            "type: string, min: \"A\", max: \"M\"",
        ] {
            column(ok).unwrap_or_else(|m| panic!("{ok}: {m}"));
        }
        for (bad, needle) in [
            (
                "type: int, min: abc",
                "column \"c\": min: \"abc\" is not a valid int value (expected a number)",
            ),
            ("type: int, max: true", "max: true is not a valid int value"),
            (
                "type: float, min: \"NaN\"",
                "min: \"NaN\" is not a valid float value",
            ),
            ("type: float, min: [1]", "min: [1] is not a valid float value"),
            (
                "type: date, min: \"2021-02-29\"",
                "min: \"2021-02-29\" is not a valid date value",
            ),
            ("type: date, min: \"2021-1-1\"", "expected \"YYYY-MM-DD\""),
            (
                "type: date, max: 20210101",
                "max: 20210101 is not a valid date value",
            ),
            (
                "type: timestamp, min: \"2021-01-01T25:00:00Z\"",
                "is not a valid timestamp value",
            ),
            (
                "type: timestamp, min: \"2021-01-01T10:00:00+1\"",
                "is not a valid timestamp value",
            ),
            ("type: timestamp, min: \"yesterday\"", "RFC 3339"),
            ("type: string, min: 10", "use min_length/max_length"),
            ("type: bool, min: false", "bool columns have no min/max"),
        ] {
            match column(bad) {
                Err(m) => assert_msg(&m, &[needle]),
                Ok(c) => panic!("{bad} should fail: {c:?}"),
            }
        }
    }

    #[test]
    fn min_above_max() {
        for (bad, needle) in [
            ("type: int, min: 10, max: 9", "min 10 is greater than max 9"),
            (
                "type: float, min: 0.5, max: \"0.25\"",
                "min 0.5 is greater than max \"0.25\"",
            ),
            (
                "type: date, min: \"2021-01-02\", max: \"2021-01-01\"",
                "is greater than max",
            ),
            // Offsets are honoured: 10:00+02:00 is 08:00Z.
            (
                "type: timestamp, min: \"2021-01-01T09:00:00Z\", max: \"2021-01-01T10:00:00+02:00\"",
                "greater than max",
            ),
            (
                "type: string, min: \"b\", max: \"a\"",
                "min \"b\" is greater than max \"a\"",
            ),
            (
                "type: string, min_length: 5, max_length: 4",
                "min_length 5 is greater than max_length 4",
            ),
        ] {
            match column(bad) {
                Err(m) => assert_msg(&m, &["column \"c\"", needle]),
                Ok(c) => panic!("{bad} should fail: {c:?}"),
            }
        }
        column("type: int, min: 5, max: 5").unwrap();
        column("type: timestamp, min: \"2021-01-01T09:00:00Z\", max: \"2021-01-01T10:00:00+01:00\"").unwrap();
        assert_msg(
            &yaml_invalid("row_count: { min: 10, max: 1 }\n"),
            &["row_count: min 10 is greater than max 1"],
        );
    }

    #[test]
    fn allowed_values() {
        for ok in [
            "type: string, allowed: [a, \"b\", 1, true]",
            "type: int, allowed: [1, \"2\", -3]",
            "type: float, allowed: [1.5, \"2\"]",
            "type: bool, allowed: [true, \"FALSE\", \"1\"]",
            "type: date, allowed: [\"2024-02-29\"]",
            "type: timestamp, allowed: [\"2024-02-29T00:00:00Z\"]",
        ] {
            column(ok).unwrap_or_else(|m| panic!("{ok}: {m}"));
        }
        for (bad, needle) in [
            ("type: string, allowed: []", "allowed is empty"),
            ("type: string, allowed: [a, null]", "use nullable: true"),
            ("type: string, allowed: [[a]]", "not a single value"),
            (
                "type: int, allowed: [1, x]",
                "allowed: \"x\" is not a valid int value (expected an integer)",
            ),
            ("type: int, allowed: [1.5]", "expected an integer"),
            (
                "type: bool, allowed: [\"yes\"]",
                "allowed: \"yes\" is not a valid bool value",
            ),
            (
                "type: date, allowed: [\"2023-02-29\"]",
                "is not a valid date value",
            ),
        ] {
            match column(bad) {
                Err(m) => assert_msg(&m, &["column \"c\"", needle]),
                Ok(c) => panic!("{bad} should fail: {c:?}"),
            }
        }
    }

    #[test]
    fn regex_is_compiled() {
        column("type: string, regex: \"^[A-Z]{2}\\\\d+$\"").unwrap();
        let msg = column("type: string, regex: \"[a-z\"").unwrap_err();
        assert_msg(
            &msg,
            &[
                "column \"c\": regex \"[a-z\" is invalid",
                "unclosed character class",
            ],
        );
        let msg = column("type: string, regex: \"a{99999999}\"").unwrap_err();
        assert_msg(&msg, &["regex", "is invalid"]);
    }

    #[test]
    fn limits_and_sizes() {
        assert_msg(
            &yaml_invalid("max_record_bytes: 0\n"),
            &["max_record_bytes must be at least 1"],
        );
        assert_msg(
            &yaml_invalid("limits: { max_expanded_bytes: 0 }\n"),
            &["limits.max_expanded_bytes"],
        );
        assert_msg(
            &yaml_invalid("limits: { default_max_record_bytes: 0 }\n"),
            &["limits.default_max_record_bytes"],
        );
        // A regex nested past REGEX_NEST_LIMIT (64) is refused before it is compiled recursively.
        let deep = format!("{}a{}", "(".repeat(70), ")".repeat(70));
        assert_msg(
            &yaml_invalid(&format!(
                "columns: [ {{ name: a, type: string, regex: \"{deep}\" }} ]\n"
            )),
            &["regex", "is invalid", "nest"],
        );
        let shallow = format!("{}a{}", "(".repeat(60), ")".repeat(60));
        assert!(parse_contract(
            format!("columns: [ {{ name: a, type: string, regex: \"{shallow}\" }} ]\n").as_bytes(),
            "contracts/x.yaml"
        )
        .is_ok());
        // The ceilings a contract cannot raise past.
        assert_msg(
            &yaml_invalid("limits: { max_parquet_page_bytes: 201326593 }\n"),
            &["limits.max_parquet_page_bytes must be between 1 and 201326592"],
        );
        assert_msg(
            &yaml_invalid("limits: { max_compression_ratio: 10001 }\n"),
            &["limits.max_compression_ratio must be between 1 and 10000"],
        );
        assert_msg(
            &yaml_invalid("limits: { max_compression_ratio: 0 }\n"),
            &["limits.max_compression_ratio"],
        );
        assert_msg(
            &yaml_invalid("limits: { max_parquet_schema_depth: 65 }\n"),
            &["limits.max_parquet_schema_depth must be between 1 and 64"],
        );
        assert_msg(
            &yaml_invalid("limits: { max_parquet_footer_bytes: 0 }\n"),
            &["limits.max_parquet_footer_bytes must be between 1 and 67108864"],
        );
        assert_msg(
            &yaml_invalid("limits: { max_parquet_columns: 100001 }\n"),
            &["limits.max_parquet_columns must be between 1 and 100000"],
        );
        assert_msg(
            &yaml_invalid("max_record_bytes: -1\n"),
            &["max_record_bytes: invalid type: integer `-1`"],
        );
    }

    #[test]
    fn timestamp_and_date_parsers() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        assert_eq!(parse_date("1900-02-29"), None);
        assert_eq!(parse_date("2000-02-29"), Some(11_016));
        assert_eq!(parse_date("2000-13-01"), None);
        assert_eq!(parse_date("2000-01-01 "), None);
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00.0000019"), Some(1));
        assert_eq!(parse_timestamp("1970-01-01T01:00+01:00"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00-0130"), Some(5_400_000_000));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.Z"), None);
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.1234567890Z"), None);
        assert_eq!(parse_timestamp("1970-01-01T00:60"), None);
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Zx"), None);
        assert_eq!(parse_timestamp("1970-01-01X00:00"), None);
    }

    #[test]
    fn load_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.yaml");
        std::fs::write(&path, "columns:\n  - { name: id, type: int }\n").unwrap();
        let c = load_contract_file(&path).unwrap();
        assert_eq!(c.name, "orders");

        let missing = dir.path().join("nope.yaml");
        match load_contract_file(&missing) {
            Err(e @ Error::ContractNotFound { .. }) => assert_eq!(e.error_type(), "ContractNotFound"),
            r => panic!("{r:?}"),
        }

        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; MAX_CONTRACT_BYTES + 1]).unwrap();
        match load_contract_file(&big) {
            Err(Error::ContractInvalid { source_name, message }) => {
                assert!(source_name.ends_with("big.json"));
                assert_msg(&message, &["1048577 bytes", "over the limit"]);
            }
            r => panic!("{r:?}"),
        }

        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "columns:\n  - { name: a, type: int, min: abc }\n").unwrap();
        match load_contract_file(&bad) {
            Err(Error::ContractInvalid { source_name, message }) => {
                assert_eq!(source_name, bad.display().to_string());
                assert_msg(&message, &["column \"a\": min"]);
            }
            r => panic!("{r:?}"),
        }
    }

    /// This package's directory, from the environment when cargo or nextest runs the test (see
    /// `greenpipe_tests::repo_root`).
    fn manifest_dir() -> std::path::PathBuf {
        use std::path::PathBuf;
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
    }

    /// Every ```yaml / ```json / ```dqdl block of docs/contracts.md is a valid contract.
    #[test]
    fn documentation_examples_load() {
        let path = manifest_dir().join("../docs/contracts.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let mut checked = 0;
        let mut lines = doc.lines();
        while let Some(line) = lines.next() {
            let Some(lang) = line
                .strip_prefix("```")
                .filter(|l| ["yaml", "json", "dqdl"].contains(l))
            else {
                continue;
            };
            let block: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            let text = block.join("\n");
            parse_contract(text.as_bytes(), &format!("doc.{lang}"))
                .unwrap_or_else(|e| panic!("docs/contracts.md {lang} block:\n{text}\n{e}"));
            checked += 1;
        }
        assert!(checked >= 5, "only {checked} examples found");
    }

    /// The example contracts shipped in `contracts/` load and their DQDL parses.
    #[test]
    fn example_contracts_load() {
        let dir = manifest_dir().join("../contracts");
        for file in ["sales.yaml", "sales.dqdl", "events.json"] {
            let c = load_contract_file(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            let rules =
                dqdl::parse(c.dqdl.as_deref().unwrap_or_default()).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(rules.rules.len() >= 5, "{file}");
        }
    }
}
