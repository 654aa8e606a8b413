//! `greenpipe infer FILE [--sample N] [--out FILE]`: a draft contract from a sample of the data, for a
//! user who starts from a dataset and no contract (what pandera's `infer_schema` or a Glue Data Quality
//! recommendation run gives). It reads at most `--sample` records (CSV with a header, or JSON Lines),
//! streaming, and proposes per column: the type (with the parsers validation itself uses), nullability,
//! a numeric range with a margin, small enumerations, a string shape as a regex and its length,
//! uniqueness candidates; and row-count bounds. Every choice the sample cannot prove is marked
//! `# guess:` in the draft. The draft is then checked against the file it came from (the whole file,
//! not only the sample) and the verdict printed, so a user sees at once whether it holds.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use greenpipe::contract::ColumnType;
use greenpipe::validate::parse_as;
use serde_json::Value;

use crate::{EXIT_ERROR, EXIT_INVALID, EXIT_VALID};

/// Distinct values kept per column to propose an enumeration, and the most an enumeration may hold.
const ENUM_TRACKED: usize = 64;
const ENUM_MAX: usize = 12;
/// Share of the observed range added on each side of a numeric range.
const MARGIN: f64 = 0.1;

#[derive(Args)]
pub struct InferArgs {
    /// The data: .csv / .tsv (a header row first) or .jsonl / .ndjson.
    file: PathBuf,
    /// Records read at most.
    #[arg(long, default_value_t = 100_000)]
    sample: usize,
    /// Write the draft here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// `yaml` (a greenpipe contract, default) or `dqdl` (an AWS Glue Data Quality ruleset).
    #[arg(long, value_name = "FORMAT", default_value = "yaml", value_parser = ["yaml", "dqdl"])]
    format: String,
}

/// One run of a column's shape: class, shortest and longest length, constant text.
type ShapeRun = (char, usize, usize, Option<String>);

/// What the sample showed of one column.
#[derive(Debug, Default)]
struct Column {
    name: String,
    values: usize,
    nulls: usize,
    /// Values that parse as each type (in [`TYPES`] order).
    parses: [usize; 5],
    /// (value, text) of the least and greatest value, per type.
    low: [Option<(f64, String)>; 5],
    high: [Option<(f64, String)>; 5],
    distinct: BTreeMap<String, usize>,
    distinct_overflow: bool,
    hashes: HashSet<u64>,
    duplicate: bool,
    /// Per run of the shape: its class, its shortest and longest length, and its text while every
    /// value has the same (a constant prefix such as `C` in `C000123`).
    shape_runs: Option<Vec<ShapeRun>>,
    shape_mixed: bool,
    min_len: usize,
    max_len: usize,
}

/// Types tried, most specific first (an int also parses as a float).
const TYPES: [ColumnType; 5] = [
    ColumnType::Bool,
    ColumnType::Int,
    ColumnType::Float,
    ColumnType::Date,
    ColumnType::Timestamp,
];

fn type_name(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Bool => "bool",
        ColumnType::Int => "int",
        ColumnType::Float => "float",
        ColumnType::Date => "date",
        ColumnType::Timestamp => "timestamp",
        ColumnType::String => "string",
    }
}

/// A value's shape: runs of character classes (`A` upper, `a` lower, `9` digit, else the character),
/// each with its length and text.
fn runs(text: &str) -> Vec<(char, usize, String)> {
    let mut out: Vec<(char, usize, String)> = Vec::new();
    for c in text.chars() {
        let class = if c.is_ascii_uppercase() {
            'A'
        } else if c.is_ascii_lowercase() {
            'a'
        } else if c.is_ascii_digit() {
            '9'
        } else {
            c
        };
        match out.last_mut() {
            Some((k, n, t)) if *k == class => {
                *n += 1;
                t.push(c);
            }
            _ => out.push((class, 1, c.to_string())),
        }
    }
    out
}

impl Column {
    fn new(name: &str) -> Column {
        Column {
            name: name.to_string(),
            min_len: usize::MAX,
            ..Column::default()
        }
    }

    fn add(&mut self, value: Option<&str>) {
        let Some(text) = value.filter(|t| !t.is_empty()) else {
            self.nulls += 1;
            return;
        };
        self.values += 1;
        for (i, ty) in TYPES.iter().enumerate() {
            if let Some(v) = parse_as(*ty, text) {
                self.parses[i] += 1;
                if self.low[i].as_ref().is_none_or(|(l, _)| v < *l) {
                    self.low[i] = Some((v, text.to_string()));
                }
                if self.high[i].as_ref().is_none_or(|(h, _)| v > *h) {
                    self.high[i] = Some((v, text.to_string()));
                }
            }
        }
        let len = text.chars().count();
        self.min_len = self.min_len.min(len);
        self.max_len = self.max_len.max(len);
        if !self.distinct_overflow {
            *self.distinct.entry(text.to_string()).or_default() += 1;
            if self.distinct.len() > ENUM_TRACKED {
                self.distinct_overflow = true;
                self.distinct.clear();
            }
        }
        if !self.hashes.insert(hash(text)) {
            self.duplicate = true;
        }
        // The shape: the same class sequence for every value, with each run's length range.
        if !self.shape_mixed {
            let r = runs(text);
            match &mut self.shape_runs {
                None => self.shape_runs = Some(r.into_iter().map(|(c, n, t)| (c, n, n, Some(t))).collect()),
                Some(seen) if seen.len() == r.len() && seen.iter().zip(&r).all(|(a, b)| a.0 == b.0) => {
                    for (s, (_, n, t)) in seen.iter_mut().zip(r) {
                        s.1 = s.1.min(n);
                        s.2 = s.2.max(n);
                        if s.3.as_ref().is_some_and(|known| *known != t) {
                            s.3 = None;
                        }
                    }
                }
                Some(_) => self.shape_mixed = true,
            }
        }
    }

    /// The most specific type every value parses as.
    fn ty(&self) -> (ColumnType, usize) {
        if self.values == 0 {
            return (ColumnType::String, usize::MAX);
        }
        TYPES
            .iter()
            .enumerate()
            .find(|(i, _)| self.parses[*i] == self.values)
            .map_or((ColumnType::String, usize::MAX), |(i, t)| (*t, i))
    }

    fn regex(&self) -> Option<String> {
        if self.shape_mixed {
            return None;
        }
        let runs = self.shape_runs.as_ref()?;
        let mut out = String::new();
        for (class, lo, hi, literal) in runs {
            if let Some(text) = literal.as_ref().filter(|_| class.is_ascii_alphabetic()) {
                out.push_str(&regex::escape(text));
                continue;
            }
            let part = match class {
                'A' => "[A-Z]".to_string(),
                'a' => "[a-z]".to_string(),
                '9' => "[0-9]".to_string(),
                c => regex::escape(&c.to_string()),
            };
            out.push_str(&part);
            if lo == hi {
                if *lo > 1 {
                    out.push_str(&format!("{{{lo}}}"));
                }
            } else {
                out.push_str(&format!("{{{lo},{hi}}}"));
            }
        }
        Some(out)
    }
}

fn hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Split one CSV record (RFC 4180 quoting) on `delimiter`.
fn csv_fields(record: &str, delimiter: char) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == delimiter && !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Whether a CSV record is complete (its quotes are balanced).
fn balanced(record: &str) -> bool {
    record.chars().filter(|c| *c == '"').count() % 2 == 0
}

/// The sample's columns and the records read.
fn read_sample(path: &Path, sample: usize) -> Result<(Vec<Column>, usize, &'static str), String> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let reader: Box<dyn Read> = if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let base = name.trim_end_matches(".gz");
    let mut lines = BufReader::new(reader).lines();
    let mut records = 0;
    if base.ends_with(".jsonl") || base.ends_with(".ndjson") {
        let mut columns: Vec<Column> = Vec::new();
        for line in lines {
            let line = line.map_err(|e| format!("{name}: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            if records == sample {
                break;
            }
            let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&line) else {
                return Err(format!("{name}: record {} is not a JSON object", records + 1));
            };
            for (k, _) in &object {
                if !columns.iter().any(|c| &c.name == k) {
                    let mut c = Column::new(k);
                    c.nulls = records; // absent from the records before this one
                    columns.push(c);
                }
            }
            for c in &mut columns {
                let text = match object.get(&c.name) {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(other) => Some(other.to_string()),
                };
                c.add(text.as_deref());
            }
            records += 1;
        }
        return Ok((columns, records, "jsonl"));
    }
    if !(base.ends_with(".csv") || base.ends_with(".tsv")) {
        return Err(format!(
            "{name}: infer reads .csv, .tsv, .jsonl or .ndjson (optionally .gz)"
        ));
    }
    let delimiter = if base.ends_with(".tsv") { '\t' } else { ',' };
    let mut next_record = || -> Option<Result<String, String>> {
        let mut record = match lines.next()? {
            Ok(l) => l,
            Err(e) => return Some(Err(format!("{name}: {e}"))),
        };
        while !balanced(&record) {
            match lines.next() {
                Some(Ok(more)) => {
                    record.push('\n');
                    record.push_str(&more);
                }
                Some(Err(e)) => return Some(Err(format!("{name}: {e}"))),
                None => break,
            }
        }
        Some(Ok(record.trim_end_matches('\r').to_string()))
    };
    let header = next_record().ok_or_else(|| format!("{name}: empty file"))??;
    let mut columns: Vec<Column> = csv_fields(&header, delimiter)
        .iter()
        .map(|h| Column::new(h.trim()))
        .collect();
    while records < sample {
        let Some(record) = next_record() else { break };
        let record = record?;
        if record.is_empty() {
            continue;
        }
        let fields = csv_fields(&record, delimiter);
        for (i, c) in columns.iter_mut().enumerate() {
            c.add(fields.get(i).map(String::as_str));
        }
        records += 1;
    }
    Ok((columns, records, if delimiter == '\t' { "tsv" } else { "csv" }))
}

fn number(v: f64, ty: ColumnType) -> String {
    if ty == ColumnType::Int {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// What the draft says of one column, each constraint with why it is a guess.
struct Proposal {
    name: String,
    ty: ColumnType,
    not_null: bool,
    /// Bounds as text (numbers, or a date / timestamp as written), with the reason.
    min: Option<(String, String)>,
    max: Option<String>,
    allowed: Option<Vec<String>>,
    regex: Option<String>,
    max_length: Option<usize>,
    unique: bool,
}

fn propose(c: &Column) -> Proposal {
    let (ty, index) = c.ty();
    let unique =
        matches!(ty, ColumnType::Int | ColumnType::String) && !c.duplicate && c.values >= 10 && c.nulls == 0;
    let mut p = Proposal {
        name: c.name.clone(),
        ty,
        not_null: c.nulls == 0 && c.values > 0,
        min: None,
        max: None,
        allowed: None,
        regex: None,
        max_length: None,
        unique,
    };
    let bounds = c
        .low
        .get(index)
        .cloned()
        .flatten()
        .zip(c.high.get(index).cloned().flatten());
    match (ty, bounds) {
        // An identifier (unique integers) grows: a floor only.
        (ColumnType::Int, Some(((lo, _), _))) if unique => {
            let floor = if lo >= 1.0 { 1.0 } else { lo };
            p.min = Some((
                number(floor, ty),
                format!("identifiers seen from {}; no max (they grow)", number(lo, ty)),
            ));
        }
        (ColumnType::Int | ColumnType::Float, Some(((lo, _), (hi, _)))) => {
            let margin = ((hi - lo) * MARGIN).max(if ty == ColumnType::Int { 1.0 } else { 0.0 });
            let min = if lo >= 0.0 {
                (lo - margin).max(0.0)
            } else {
                lo - margin
            };
            let (min, max) = if ty == ColumnType::Int {
                (min.floor(), (hi + margin).ceil())
            } else {
                (min, hi + margin)
            };
            let why = format!(
                "observed {} .. {}, widened by {:.0} %{}",
                number(lo, ty),
                number(hi, ty),
                MARGIN * 100.0,
                if lo >= 0.0 { ", never below 0" } else { "" }
            );
            p.min = Some((number(min, ty), why));
            p.max = Some(number(max, ty));
        }
        (ColumnType::Date | ColumnType::Timestamp, Some(((_, lo), _))) => {
            p.min = Some((
                lo,
                "the earliest in the sample; no max (data keeps coming)".into(),
            ));
        }
        _ => {}
    }
    if ty == ColumnType::String && c.values > 0 {
        let enumeration =
            !c.distinct_overflow && c.distinct.len() <= ENUM_MAX && c.values >= 2 * c.distinct.len();
        if enumeration {
            p.allowed = Some(c.distinct.keys().cloned().collect());
        } else {
            p.regex = c.regex();
        }
        p.max_length = Some(c.max_len);
    }
    p
}

/// The draft contract, YAML with `# guess:` comments.
fn draft(name: &str, format: &str, columns: &[Column], records: usize, sampled_all: bool) -> String {
    let mut out = format!(
        "# Drafted by `greenpipe infer` from {records} records{}. Review every `# guess:` line.\n\
         name: {name}\nversion: \"0.1\"\n\n",
        if sampled_all {
            " (the whole file)"
        } else {
            " (a sample)"
        }
    );
    out.push_str(&match format {
        "jsonl" => "format:\n  type: jsonl\n\ncolumns:\n".to_string(),
        f => format!(
            "format:\n  type: csv\n  delimiter: \"{}\"\n  header: true\n\ncolumns:\n",
            if f == "tsv" { "\\t" } else { "," }
        ),
    });
    for p in columns.iter().map(propose) {
        out.push_str(&format!(
            "  - name: {}\n    type: {}\n",
            yaml_string(&p.name),
            type_name(p.ty)
        ));
        if p.not_null {
            out.push_str("    nullable: false      # guess: no empty value in the sample\n");
        }
        if let Some((min, why)) = &p.min {
            let min = if matches!(p.ty, ColumnType::Date | ColumnType::Timestamp) {
                yaml_string(min)
            } else {
                min.clone()
            };
            out.push_str(&format!("    min: {min}   # guess: {why}\n"));
        }
        if let Some(max) = &p.max {
            out.push_str(&format!("    max: {max}\n"));
        }
        if let Some(values) = &p.allowed {
            let values: Vec<String> = values.iter().map(|v| yaml_string(v)).collect();
            out.push_str(&format!(
                "    allowed: [{}]   # guess: the {} values seen\n",
                values.join(", "),
                values.len()
            ));
        }
        if let Some(re) = &p.regex {
            out.push_str(&format!(
                "    regex: {}   # guess: every value has this shape\n",
                yaml_string(re)
            ));
        }
        if let Some(n) = p.max_length {
            out.push_str(&format!("    max_length: {n}     # guess: the longest seen\n"));
        }
        if p.unique {
            out.push_str("    unique: true         # guess: no value repeats in the sample\n");
        }
    }
    out.push_str(&format!(
        "\nrow_count:\n  min: 1                  # guess: an empty file is an error{}\n",
        if sampled_all {
            format!("\n  # the file had {records} records")
        } else {
            String::new()
        }
    ));
    out
}

/// The same draft as a DQDL ruleset (AWS Glue Data Quality), inclusive bounds written with `>=` / `<=`
/// (DQDL's `between` excludes its bounds).
fn draft_dqdl(columns: &[Column], records: usize, sampled_all: bool) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""));
    let mut rules = vec!["RowCount > 0".to_string()];
    for p in columns.iter().map(propose) {
        let c = quote(&p.name);
        let dqdl_type = match p.ty {
            ColumnType::Int => "INTEGER",
            ColumnType::Float => "DOUBLE",
            ColumnType::Bool => "BOOLEAN",
            ColumnType::Date => "DATE",
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::String => "STRING",
        };
        if p.ty != ColumnType::String {
            rules.push(format!("ColumnDataType {c} = \"{dqdl_type}\""));
        }
        if p.not_null {
            rules.push(format!("IsComplete {c}"));
        }
        let value = |v: &str| match p.ty {
            ColumnType::Date | ColumnType::Timestamp => quote(v),
            _ => v.to_string(),
        };
        // NULLs fail every comparison but `!=` and `not in`: bounds, shapes and lengths are proposed for
        // columns without NULLs only; an enumeration lists NULL when the column has some.
        if let Some(values) = &p.allowed {
            let mut list: Vec<String> = values.iter().map(|v| quote(v)).collect();
            if !p.not_null {
                list.push("NULL".into());
            }
            rules.push(format!("ColumnValues {c} in [{}]", list.join(", ")));
        }
        if !p.not_null {
            continue;
        }
        if let Some((min, _)) = &p.min {
            rules.push(format!("ColumnValues {c} >= {}", value(min)));
        }
        if let Some(max) = &p.max {
            rules.push(format!("ColumnValues {c} <= {}", value(max)));
        }
        if let Some(re) = &p.regex {
            rules.push(format!("ColumnValues {c} matches {}", quote(re)));
        }
        if let Some(n) = p.max_length {
            rules.push(format!("ColumnLength {c} <= {n}"));
        }
        if p.unique {
            rules.push(format!("IsUnique {c}"));
        }
    }
    format!(
        "# Drafted by `greenpipe infer` from {records} records{}: every rule is a guess from the data seen.\n\
         Rules = [\n    {}\n]\n",
        if sampled_all { " (the whole file)" } else { " (a sample)" },
        rules.join(",\n    ")
    )
}

/// A YAML scalar: quoted when it could be read as anything but this string.
fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        )
        && s.parse::<f64>().is_err()
        && !s.starts_with(['-', '.']);
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

/// Run the command: 0 the draft holds for the whole file, 1 it does not (the report says where), 2 the
/// file could not be read.
pub fn run(args: &InferArgs) -> ExitCode {
    let (columns, records, format) = match read_sample(&args.file, args.sample) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("greenpipe infer: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let name = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.split('.').next().unwrap_or(n))
        .unwrap_or("dataset")
        .to_string();
    let sampled_all = records < args.sample;
    let dqdl = args.format == "dqdl";
    let text = if dqdl {
        draft_dqdl(&columns, records, sampled_all)
    } else {
        draft(&name, format, &columns, records, sampled_all)
    };
    match &args.out {
        Some(out) => {
            if let Err(e) = std::fs::write(out, &text) {
                eprintln!("greenpipe infer: {}: {e}", out.display());
                return ExitCode::from(EXIT_ERROR);
            }
        }
        None => print!("{text}"),
    }
    // The draft against the file it came from.
    let verdict = check(&text, dqdl, &args.file);
    match verdict {
        Ok(true) => {
            eprintln!(
                "greenpipe infer: the draft holds for all of {}",
                args.file.display()
            );
            ExitCode::from(EXIT_VALID)
        }
        Ok(false) => {
            eprintln!(
                "greenpipe infer: the draft does NOT hold for all of {} (records past the sample differ): \
                 run greenpipe validate with it to see where",
                args.file.display()
            );
            ExitCode::from(EXIT_INVALID)
        }
        Err(e) => {
            eprintln!("greenpipe infer: the draft could not be checked: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn check(text: &str, dqdl: bool, file: &Path) -> Result<bool, String> {
    let contract: greenpipe::contract::Contract = if dqdl {
        greenpipe::contract::Contract {
            dqdl: Some(text.to_string()),
            ..Default::default()
        }
    } else {
        serde_yaml::from_str(text).map_err(|e| format!("the draft is not a contract: {e}"))?
    };
    let validator = greenpipe::validate::Validator::new(contract, "the draft").map_err(|e| e.to_string())?;
    let source =
        greenpipe::validate::LocalFile::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let report = validator
        .validate(&source, &file.display().to_string(), &|_| {})
        .map_err(|e| e.to_string())?;
    Ok(report.valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_become_regexes_and_csv_fields_keep_their_quotes() {
        let mut c = Column::new("customer_id");
        for v in ["C000123", "C999999", "C12"] {
            c.add(Some(v));
        }
        assert_eq!(c.regex().as_deref(), Some("C[0-9]{2,6}"));
        let mut names = Column::new("code");
        for v in ["ab-1", "cd-22"] {
            names.add(Some(v));
        }
        assert_eq!(names.regex().as_deref(), Some("[a-z]{2}\\-[0-9]{1,2}"));
        c.add(Some("x-1"));
        assert_eq!(c.regex(), None);
        assert_eq!(csv_fields(r#"1,"a, ""b""",,z"#, ','), ["1", r#"a, "b""#, "", "z"]);
        assert_eq!(yaml_string("NO"), "\"NO\"");
        assert_eq!(yaml_string("US"), "US");
        assert_eq!(yaml_string("2026-01-01"), "2026-01-01");
    }
}
