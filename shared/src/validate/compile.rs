//! Contract → compiled plan: every regex, bound, allowed set and DQDL rule resolved once, before any data
//! is read. The plan is immutable and shared by every validation run of the [`Validator`](super::Validator).

use std::collections::HashMap;

use regex::Regex;
use serde_json::Value as Json;

use super::dqdl_eval::{compile_value_expr, ValuePred};
use super::values::{parse_bool, parse_date, parse_f64, parse_i64, parse_timestamp, prefix8, type_name};
use crate::contract::dqdl::{self, DqdlType, NumExpr, Rule};
use crate::contract::{Bounds, ColumnType, Compression, Contract, FormatSpec, Limits};
use crate::error::{Error, Result};

/// The compiled contract.
#[derive(Debug)]
pub(crate) struct Plan {
    pub name: String,
    pub version: Option<String>,
    pub source: String,
    pub format: Option<FormatSpec>,
    pub compression: Option<Compression>,
    /// Declared columns first (in contract order), then columns only DQDL rules refer to.
    pub columns: Vec<ColPlan>,
    pub n_declared: usize,
    pub leaves: Vec<Leaf>,
    pub rules: Vec<TopRule>,
    pub trackers: Vec<TrackerDef>,
    pub limits: Limits,
    pub max_record_bytes: u64,
    /// Whether some rule needs the number of columns of a JSON Lines file (the union of keys).
    pub needs_key_union: bool,
}

/// A rule as reported: its name and the tree of leaves that decides it.
#[derive(Debug)]
pub(crate) struct TopRule {
    pub name: String,
    pub node: Node,
    /// Rules about records (well-formed, UTF-8, size) are only reported for CSV and JSON Lines.
    pub text_only: bool,
}

#[derive(Debug)]
pub(crate) enum Node {
    Leaf(usize),
    And(Vec<Node>),
    Or(Vec<Node>),
}

/// One independently measured check.
#[derive(Debug)]
pub(crate) struct Leaf {
    /// Index of the top-level rule it belongs to (its name goes into violations).
    pub top: usize,
    pub kind: LeafKind,
}

#[derive(Debug)]
pub(crate) enum LeafKind {
    // Declared constraints: pass when no row breaks them.
    Type {
        col: usize,
    },
    NotNull {
        col: usize,
    },
    Min {
        col: usize,
    },
    Max {
        col: usize,
    },
    Allowed {
        col: usize,
    },
    Regex {
        col: usize,
    },
    MinLength {
        col: usize,
    },
    MaxLength {
        col: usize,
    },
    Unique {
        tracker: usize,
    },
    RowCountBounds(Bounds),
    // Record structure (CSV / JSON Lines).
    WellFormed,
    Utf8,
    RecordSize,
    // DQDL.
    RowCount(NumExpr),
    ColumnCount(NumExpr),
    ColumnExists {
        col: usize,
    },
    IsComplete {
        col: usize,
    },
    Completeness {
        col: usize,
        expr: NumExpr,
    },
    IsUnique {
        tracker: usize,
    },
    Uniqueness {
        tracker: usize,
        expr: NumExpr,
    },
    IsPrimaryKey {
        tracker: usize,
    },
    /// `ColumnValues` / `ColumnLength` / `ColumnDataType`: a per-row check, passing when all rows pass
    /// or, with a threshold, when the passing fraction satisfies it.
    RowFraction {
        col: usize,
        threshold: Option<NumExpr>,
    },
}

/// A compiled bound of a declared column.
#[derive(Debug, Clone)]
pub(crate) enum Bound {
    Int(i64),
    Float(f64),
    Date(i32),
    Ts(i64),
    Str(String),
}

#[derive(Debug)]
pub(crate) enum Allowed {
    /// Sorted values, each with its length and first 8 bytes (big-endian) for a quick compare.
    Str(Vec<(usize, u64, String)>),
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool(Vec<bool>),
    Date(Vec<i32>),
    Ts(Vec<i64>),
}

/// The specialized check of a declared column on text input (CSV), when its constraints allow one: the
/// hot loop parses the field straight into the type and compares it with the bounds (unbounded sides are
/// the type's extremes). Columns with a regex, string bounds or DQDL per-row rules take the general path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fast {
    Int { min: i64, max: i64 },
    Float { min: f64, max: f64 },
    Bool,
    Date { min: i32, max: i32 },
    Ts { min: i64, max: i64 },
    Str { min_len: u64, max_len: u64 },
}

/// A per-row DQDL check attached to a column.
#[derive(Debug)]
pub(crate) enum RowCheck {
    Values {
        leaf: usize,
        pred: ValuePred,
    },
    Length {
        leaf: usize,
        expr: NumExpr,
    },
    DataType {
        leaf: usize,
        ty: DqdlType,
    },
    /// IsComplete / Completeness: NULL rows are the failing rows.
    NullWatch {
        leaf: usize,
    },
}

#[derive(Debug)]
pub(crate) struct ColPlan {
    pub name: String,
    /// `None` for columns that are not declared (only DQDL rules refer to them): values are kept as read.
    pub ty: Option<ColumnType>,
    pub nullable: bool,
    pub type_leaf: Option<usize>,
    pub null_leaf: Option<usize>,
    pub min: Option<(Bound, usize)>,
    pub max: Option<(Bound, usize)>,
    pub allowed: Option<(Allowed, usize)>,
    pub regex: Option<(Pattern, usize)>,
    pub min_len: Option<(u64, usize)>,
    pub max_len: Option<(u64, usize)>,
    /// Whether some uniqueness tracker needs this column's value hash.
    pub hashed: bool,
    pub row_checks: Vec<RowCheck>,
    pub fast: Option<Fast>,
}

impl ColPlan {
    fn undeclared(name: &str) -> Self {
        ColPlan {
            name: name.to_string(),
            ty: None,
            nullable: true,
            type_leaf: None,
            null_leaf: None,
            min: None,
            max: None,
            allowed: None,
            regex: None,
            min_len: None,
            max_len: None,
            hashed: false,
            row_checks: Vec::new(),
            fast: None,
        }
    }

    fn fast_kernel(&self) -> Option<Fast> {
        let regex_on_text = self.regex.is_some() && self.ty != Some(ColumnType::String);
        if regex_on_text || !self.row_checks.is_empty() {
            return None;
        }
        let lengths = self.min_len.is_some() || self.max_len.is_some();
        macro_rules! bound {
            ($b:expr, $variant:ident, $default:expr) => {
                match &$b {
                    None => $default,
                    Some((Bound::$variant(v), _)) => *v,
                    Some(_) => return None,
                }
            };
        }
        Some(match self.ty? {
            _ if lengths && self.ty != Some(ColumnType::String) => return None,
            ColumnType::Int => Fast::Int {
                min: bound!(self.min, Int, i64::MIN),
                max: bound!(self.max, Int, i64::MAX),
            },
            ColumnType::Float => Fast::Float {
                min: bound!(self.min, Float, f64::NEG_INFINITY),
                max: bound!(self.max, Float, f64::INFINITY),
            },
            ColumnType::Bool => Fast::Bool,
            ColumnType::Date => Fast::Date {
                min: bound!(self.min, Date, i32::MIN),
                max: bound!(self.max, Date, i32::MAX),
            },
            ColumnType::Timestamp => Fast::Ts {
                min: bound!(self.min, Ts, i64::MIN),
                max: bound!(self.max, Ts, i64::MAX),
            },
            ColumnType::String => {
                if self.min.is_some() || self.max.is_some() {
                    return None;
                }
                Fast::Str {
                    min_len: self.min_len.map_or(0, |(n, _)| n),
                    max_len: self.max_len.map_or(u64::MAX, |(n, _)| n),
                }
            }
        })
    }
}

/// A declared column's regex, which must match the whole value.
///
/// A pattern that is a fixed-length sequence of ASCII literals and ASCII classes (`[A-Z]{3}-[0-9]{4}`) is
/// also compiled to one byte set per position: a value matches when it has exactly that many bytes and
/// each byte is in its position's set (a non-ASCII byte is in no set, as a non-ASCII character matches
/// no ASCII class). Every other pattern uses the `regex` crate.
#[derive(Debug)]
pub(crate) struct Pattern {
    re: Regex,
    fixed: Option<Vec<[u64; 4]>>,
    /// A fixed pattern of at most 8 positions whose sets are each one range of bytes: (low bytes, high
    /// bytes, length), checked as one word (see [`Pattern::is_fixed_match`]).
    word: Option<(u64, u64, usize)>,
}

impl Pattern {
    pub(crate) fn new(pattern: &str) -> std::result::Result<Pattern, regex::Error> {
        let fixed = fixed_classes(pattern);
        Ok(Pattern {
            re: crate::contract::compile_regex(&format!("^(?:{pattern})$"))?,
            word: fixed.as_deref().and_then(range_word),
            fixed,
        })
    }

    /// Whether the pattern has the fixed byte-set form (see [`Pattern`]).
    pub(crate) fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }

    /// [`Pattern::is_match`] for a fixed pattern, inline and without a call; `false` for any other. `pad`
    /// is `s` and the bytes after it (as in [`super::swar`]): a pattern of ranges is checked as one word.
    #[inline(always)]
    pub(crate) fn is_fixed_match(&self, s: &str, pad: &[u8]) -> bool {
        if let (Some((lo, hi, len)), Some(w)) = (self.word, pad.first_chunk::<8>()) {
            const HIGH: u64 = 0x8080_8080_8080_8080;
            // The bytes past the value read as zero, as do their bounds.
            let x = u64::from_le_bytes(*w) & (u64::MAX >> (8 * (8 - len)));
            // With every byte ASCII, `(x | HIGH) - lo` keeps a byte's high bit exactly when it is at least
            // its low bound, and `(hi | HIGH) - x` when it is at most its high bound (no borrows).
            return s.len() == len && x & HIGH == 0 && ((x | HIGH) - lo) & ((hi | HIGH) - x) & HIGH == HIGH;
        }
        self.fixed.as_ref().is_some_and(|sets| {
            s.len() == sets.len()
                && s.bytes()
                    .zip(sets)
                    .all(|(b, set)| set[usize::from(b >> 6)] >> (b & 63) & 1 == 1)
        })
    }

    #[inline]
    pub(crate) fn is_match(&self, s: &str) -> bool {
        match &self.fixed {
            Some(sets) => {
                s.len() == sets.len()
                    && s.bytes()
                        .zip(sets)
                        .all(|(b, set)| set[usize::from(b >> 6)] >> (b & 63) & 1 == 1)
            }
            None => self.re.is_match(s),
        }
    }
}

/// The low and high bytes of fixed-pattern `sets` of 1 to 8 positions when each set is one range of
/// bytes (`[A-Z]`, `-`), with the length: see [`Pattern::is_fixed_match`].
fn range_word(sets: &[[u64; 4]]) -> Option<(u64, u64, usize)> {
    if sets.is_empty() || sets.len() > 8 {
        return None;
    }
    let (mut lo, mut hi) = (0u64, 0u64);
    for (k, set) in sets.iter().enumerate() {
        let has = |c: u8| set[usize::from(c >> 6)] >> (c & 63) & 1 == 1;
        let first = (0..128u8).find(|&c| has(c))?;
        let last = (0..128u8).rev().find(|&c| has(c))?;
        // Only ASCII, and every byte between the first and the last.
        if (128..=255u8).any(has) || !(first..=last).all(has) {
            return None;
        }
        lo |= u64::from(first) << (8 * k);
        hi |= u64::from(last) << (8 * k);
    }
    Some((lo, hi, sets.len()))
}

/// The per-position byte sets of a fixed-length ASCII pattern (see [`Pattern`]); `None` for anything
/// else, including every form whose meaning this parser does not replicate exactly.
fn fixed_classes(pattern: &str) -> Option<Vec<[u64; 4]>> {
    const MAX_LEN: usize = 256;
    fn add(set: &mut [u64; 4], c: u8) {
        set[usize::from(c >> 6)] |= 1 << (c & 63);
    }
    /// A plain character inside a class (`-`, `]`, escapes, nesting and set operators are not).
    fn class_char(c: u8) -> bool {
        (c.is_ascii_graphic() || c == b' ') && !matches!(c, b'[' | b']' | b'\\' | b'&' | b'~' | b'-')
    }
    let b = pattern.as_bytes();
    let mut out: Vec<[u64; 4]> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let mut set = [0u64; 4];
        match b[i] {
            b'[' => {
                i += 1;
                // `[^`, `[]`, nested classes, escapes and set operations are left to the regex crate.
                if matches!(b.get(i), Some(b'^' | b']')) {
                    return None;
                }
                loop {
                    let c = *b.get(i)?;
                    if c == b']' {
                        break;
                    }
                    if !class_char(c) {
                        return None;
                    }
                    if b.get(i + 1) == Some(&b'-') {
                        let d = *b.get(i + 2)?;
                        if !class_char(d) || d < c {
                            return None;
                        }
                        for x in c..=d {
                            add(&mut set, x);
                        }
                        i += 3;
                    } else {
                        add(&mut set, c);
                        i += 1;
                    }
                }
                i += 1;
            }
            b'\\' => {
                let c = *b.get(i + 1)?;
                // Only the escaped metacharacters: `\<`, `\>` and friends are assertions.
                if !b".^$*+?()[]{}|\\-".contains(&c) {
                    return None;
                }
                add(&mut set, c);
                i += 2;
            }
            c if (c.is_ascii_graphic() || c == b' ') && !b".^$*+?()[]{}|\\#".contains(&c) => {
                add(&mut set, c);
                i += 1;
            }
            _ => return None,
        }
        let mut count = 1usize;
        if b.get(i) == Some(&b'{') {
            let close = i + b[i..].iter().position(|&c| c == b'}')?;
            let digits = &b[i + 1..close];
            if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            count = std::str::from_utf8(digits).ok()?.parse().ok()?;
            i = close + 1;
        }
        if matches!(b.get(i), Some(b'*' | b'+' | b'?' | b'{')) || out.len() + count > MAX_LEN {
            return None;
        }
        out.extend(std::iter::repeat_n(set, count));
    }
    Some(out)
}

/// Distinct-value tracking over one column or a combination of columns.
#[derive(Debug)]
pub(crate) struct TrackerDef {
    pub cols: Vec<usize>,
    /// Declared `unique` constraint leaves fed by this tracker (they ignore NULLs).
    pub unique_leaves: Vec<usize>,
    /// DQDL leaves (IsUnique / Uniqueness / IsPrimaryKey): measured at the end; duplicates are examples.
    pub dqdl_leaves: Vec<usize>,
}

struct Builder<'c> {
    source: &'c str,
    columns: Vec<ColPlan>,
    by_name: HashMap<String, usize>,
    leaves: Vec<Leaf>,
    rules: Vec<TopRule>,
    trackers: Vec<TrackerDef>,
    needs_key_union: bool,
    /// The top-level rule being compiled.
    cur_top: usize,
}

impl Builder<'_> {
    fn leaf(&mut self, kind: LeafKind) -> usize {
        self.leaves.push(Leaf {
            top: self.cur_top,
            kind,
        });
        self.leaves.len() - 1
    }

    /// A top-level rule made of one leaf.
    fn rule(&mut self, name: String, kind: LeafKind) -> usize {
        self.cur_top = self.rules.len();
        let leaf = self.leaf(kind);
        self.rules.push(TopRule {
            name,
            node: Node::Leaf(leaf),
            text_only: false,
        });
        leaf
    }

    fn column(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        self.columns.push(ColPlan::undeclared(name));
        self.by_name.insert(name.to_string(), self.columns.len() - 1);
        self.columns.len() - 1
    }

    fn tracker(&mut self, cols: Vec<usize>) -> usize {
        if let Some(i) = self.trackers.iter().position(|t| t.cols == cols) {
            return i;
        }
        for &c in &cols {
            self.columns[c].hashed = true;
        }
        self.trackers.push(TrackerDef {
            cols,
            unique_leaves: Vec::new(),
            dqdl_leaves: Vec::new(),
        });
        self.trackers.len() - 1
    }

    fn invalid(&self, message: impl std::fmt::Display) -> Error {
        Error::contract_invalid(self.source, message)
    }

    /// Compile a DQDL rule (recursively for composites) into a node.
    fn dqdl(&mut self, rule: &Rule) -> Result<Node> {
        let kind = match rule {
            Rule::And(parts) | Rule::Or(parts) => {
                let nodes = parts.iter().map(|p| self.dqdl(p)).collect::<Result<Vec<_>>>()?;
                return Ok(if matches!(rule, Rule::And(_)) {
                    Node::And(nodes)
                } else {
                    Node::Or(nodes)
                });
            }
            Rule::RowCount(e) => LeafKind::RowCount(e.clone()),
            Rule::ColumnCount(e) => {
                self.needs_key_union = true;
                LeafKind::ColumnCount(e.clone())
            }
            Rule::ColumnExists(c) => LeafKind::ColumnExists { col: self.column(c) },
            Rule::IsComplete(c) => {
                let col = self.column(c);
                let leaf = self.leaf(LeafKind::IsComplete { col });
                self.columns[col].row_checks.push(RowCheck::NullWatch { leaf });
                return Ok(Node::Leaf(leaf));
            }
            Rule::Completeness(c, e) => {
                let col = self.column(c);
                let leaf = self.leaf(LeafKind::Completeness { col, expr: e.clone() });
                self.columns[col].row_checks.push(RowCheck::NullWatch { leaf });
                return Ok(Node::Leaf(leaf));
            }
            Rule::IsUnique(c) => {
                let col = self.column(c);
                let tracker = self.tracker(vec![col]);
                let leaf = self.leaf(LeafKind::IsUnique { tracker });
                self.trackers[tracker].dqdl_leaves.push(leaf);
                return Ok(Node::Leaf(leaf));
            }
            Rule::Uniqueness(c, e) => {
                let col = self.column(c);
                let tracker = self.tracker(vec![col]);
                let leaf = self.leaf(LeafKind::Uniqueness {
                    tracker,
                    expr: e.clone(),
                });
                self.trackers[tracker].dqdl_leaves.push(leaf);
                return Ok(Node::Leaf(leaf));
            }
            Rule::IsPrimaryKey(cols) => {
                if cols.is_empty() {
                    return Err(self.invalid("IsPrimaryKey needs at least one column"));
                }
                let cols: Vec<usize> = cols.iter().map(|c| self.column(c)).collect();
                let tracker = self.tracker(cols);
                let leaf = self.leaf(LeafKind::IsPrimaryKey { tracker });
                self.trackers[tracker].dqdl_leaves.push(leaf);
                return Ok(Node::Leaf(leaf));
            }
            Rule::ColumnValues {
                column,
                expr,
                threshold,
            } => {
                let col = self.column(column);
                let pred = compile_value_expr(expr, self.columns[col].ty)
                    .map_err(|m| self.invalid(format!("{rule}: {m}")))?;
                let leaf = self.leaf(LeafKind::RowFraction {
                    col,
                    threshold: threshold.clone(),
                });
                self.columns[col].row_checks.push(RowCheck::Values { leaf, pred });
                return Ok(Node::Leaf(leaf));
            }
            Rule::ColumnLength {
                column,
                expr,
                threshold,
            } => {
                let col = self.column(column);
                let leaf = self.leaf(LeafKind::RowFraction {
                    col,
                    threshold: threshold.clone(),
                });
                self.columns[col].row_checks.push(RowCheck::Length {
                    leaf,
                    expr: expr.clone(),
                });
                return Ok(Node::Leaf(leaf));
            }
            Rule::ColumnDataType {
                column,
                ty,
                threshold,
            } => {
                let col = self.column(column);
                let leaf = self.leaf(LeafKind::RowFraction {
                    col,
                    threshold: threshold.clone(),
                });
                self.columns[col]
                    .row_checks
                    .push(RowCheck::DataType { leaf, ty: *ty });
                return Ok(Node::Leaf(leaf));
            }
        };
        Ok(Node::Leaf(self.leaf(kind)))
    }
}

pub(crate) fn compile(contract: &Contract, source: &str) -> Result<Plan> {
    let mut b = Builder {
        source,
        columns: Vec::new(),
        by_name: HashMap::new(),
        leaves: Vec::new(),
        rules: Vec::new(),
        trackers: Vec::new(),
        needs_key_union: false,
        cur_top: 0,
    };

    if let Some(FormatSpec::Csv { delimiter, quote, .. }) = &contract.format {
        csv_bytes(delimiter, quote).map_err(|m| b.invalid(m))?;
    }
    let max_record_bytes = contract
        .max_record_bytes
        .unwrap_or(contract.limits.default_max_record_bytes);
    if max_record_bytes == 0 {
        return Err(b.invalid("max_record_bytes must be at least 1"));
    }

    // Record structure first: they explain every other failure.
    for (name, kind) in [
        ("records: well-formed".to_string(), LeafKind::WellFormed),
        ("records: valid UTF-8".to_string(), LeafKind::Utf8),
        (
            format!("records: at most {max_record_bytes} bytes"),
            LeafKind::RecordSize,
        ),
    ] {
        b.rule(name, kind);
        if let Some(r) = b.rules.last_mut() {
            r.text_only = true;
        }
    }

    for spec in &contract.columns {
        if b.by_name.contains_key(&spec.name) {
            return Err(b.invalid(format!("column \"{}\" is declared twice", spec.name)));
        }
        let col = b.columns.len();
        let mut plan = ColPlan::undeclared(&spec.name);
        plan.ty = Some(spec.ty);
        plan.nullable = spec.nullable;
        b.columns.push(plan);
        b.by_name.insert(spec.name.clone(), col);
        let label = format!("column {}", quoted(&spec.name));

        let leaf = b.rule(
            format!("{label}: type {}", type_name(spec.ty)),
            LeafKind::Type { col },
        );
        b.columns[col].type_leaf = Some(leaf);
        if !spec.nullable {
            let leaf = b.rule(format!("{label}: not null"), LeafKind::NotNull { col });
            b.columns[col].null_leaf = Some(leaf);
        }
        if let Some(v) = &spec.min {
            let bound = bound(spec.ty, v, true).map_err(|m| b.invalid(format!("{label}: min: {m}")))?;
            let leaf = b.rule(format!("{label}: min {v}"), LeafKind::Min { col });
            b.columns[col].min = Some((bound, leaf));
        }
        if let Some(v) = &spec.max {
            let bound = bound(spec.ty, v, false).map_err(|m| b.invalid(format!("{label}: max: {m}")))?;
            let leaf = b.rule(format!("{label}: max {v}"), LeafKind::Max { col });
            b.columns[col].max = Some((bound, leaf));
        }
        if let Some(values) = &spec.allowed {
            let allowed =
                allowed(spec.ty, values).map_err(|m| b.invalid(format!("{label}: allowed: {m}")))?;
            let shown = Json::Array(values.clone());
            let leaf = b.rule(format!("{label}: allowed {shown}"), LeafKind::Allowed { col });
            b.columns[col].allowed = Some((allowed, leaf));
        }
        if let Some(pattern) = &spec.regex {
            let re = Pattern::new(pattern).map_err(|e| b.invalid(format!("{label}: regex: {e}")))?;
            let leaf = b.rule(
                format!("{label}: regex {}", Json::String(pattern.clone())),
                LeafKind::Regex { col },
            );
            b.columns[col].regex = Some((re, leaf));
        }
        if let Some(n) = spec.min_length {
            let leaf = b.rule(format!("{label}: min_length {n}"), LeafKind::MinLength { col });
            b.columns[col].min_len = Some((n, leaf));
        }
        if let Some(n) = spec.max_length {
            let leaf = b.rule(format!("{label}: max_length {n}"), LeafKind::MaxLength { col });
            b.columns[col].max_len = Some((n, leaf));
        }
        if spec.unique {
            let tracker = b.tracker(vec![col]);
            let leaf = b.rule(format!("{label}: unique"), LeafKind::Unique { tracker });
            b.trackers[tracker].unique_leaves.push(leaf);
        }
    }
    let n_declared = b.columns.len();

    if let Some(bounds) = contract.row_count {
        if let (Some(lo), Some(hi)) = (bounds.min, bounds.max) {
            if lo > hi {
                return Err(b.invalid(format!("row_count: min {lo} is greater than max {hi}")));
            }
        }
        let name = match (bounds.min, bounds.max) {
            (Some(lo), Some(hi)) => format!("row_count: min {lo}, max {hi}"),
            (Some(lo), None) => format!("row_count: min {lo}"),
            (None, Some(hi)) => format!("row_count: max {hi}"),
            (None, None) => String::new(),
        };
        if !name.is_empty() {
            b.rule(name, LeafKind::RowCountBounds(bounds));
        }
    }

    if let Some(text) = &contract.dqdl {
        let ruleset = dqdl::parse(text).map_err(|e| e.into_contract_error(source))?;
        for rule in &ruleset.rules {
            let top = b.rules.len();
            b.cur_top = top;
            b.rules.push(TopRule {
                name: rule.to_string(),
                node: Node::And(Vec::new()),
                text_only: false,
            });
            let node = b.dqdl(rule)?;
            b.rules[top].node = node;
        }
    }

    for c in &mut b.columns {
        c.fast = c.fast_kernel();
    }

    Ok(Plan {
        name: contract.name.clone(),
        version: contract.version.clone(),
        source: source.to_string(),
        format: contract.format.clone(),
        compression: contract.compression,
        columns: b.columns,
        n_declared,
        leaves: b.leaves,
        rules: b.rules,
        trackers: b.trackers,
        limits: contract.limits.clone(),
        max_record_bytes,
        needs_key_union: b.needs_key_union,
    })
}

/// `"name"` with JSON escaping (the way DQDL quotes column names).
pub(crate) fn quoted(name: &str) -> String {
    Json::String(name.to_string()).to_string()
}

/// The delimiter and quote bytes of a CSV format.
pub(crate) fn csv_bytes(delimiter: &str, quote: &str) -> std::result::Result<(u8, u8), String> {
    let one = |s: &str, what: &str| -> std::result::Result<u8, String> {
        match s.as_bytes() {
            [b] if *b != b'\n' && *b != b'\r' => Ok(*b),
            _ => Err(format!(
                "csv {what} must be exactly one byte other than CR and LF, got {s:?}"
            )),
        }
    };
    let (d, q) = (one(delimiter, "delimiter")?, one(quote, "quote")?);
    if d == q {
        return Err("csv delimiter and quote must differ".into());
    }
    Ok((d, q))
}

fn bound(ty: ColumnType, v: &Json, is_min: bool) -> std::result::Result<Bound, String> {
    let text = v.as_str();
    Ok(match ty {
        ColumnType::Int => {
            if let Some(i) = v.as_i64().or_else(|| text.and_then(|t| parse_i64(t.as_bytes()))) {
                Bound::Int(i)
            } else {
                // A fractional (or huge) bound on an int column: the nearest int inside the range.
                match v.as_f64().or_else(|| text.and_then(parse_f64)) {
                    Some(f) if !f.is_nan() => {
                        let r = if is_min { f.ceil() } else { f.floor() };
                        // `as` saturates at the i64 range.
                        Bound::Int(r as i64)
                    }
                    _ => return Err(format!("{v} is not a number")),
                }
            }
        }
        ColumnType::Float => match v.as_f64().or_else(|| text.and_then(parse_f64)) {
            Some(f) if !f.is_nan() => Bound::Float(f),
            _ => return Err(format!("{v} is not a number")),
        },
        ColumnType::Date => match text.and_then(|t| parse_date(t.as_bytes())) {
            Some(d) => Bound::Date(d),
            None => return Err(format!("{v} is not a date (YYYY-MM-DD)")),
        },
        ColumnType::Timestamp => match text.and_then(|t| parse_timestamp(t.as_bytes())) {
            Some(t) => Bound::Ts(t),
            None => return Err(format!("{v} is not a timestamp (RFC 3339)")),
        },
        ColumnType::String => match text {
            Some(t) => Bound::Str(t.to_string()),
            None => Bound::Str(v.to_string()),
        },
        ColumnType::Bool => return Err("bool columns have no min/max".into()),
    })
}

fn allowed(ty: ColumnType, values: &[Json]) -> std::result::Result<Allowed, String> {
    fn each<T>(values: &[Json], f: impl Fn(&Json) -> Option<T>) -> std::result::Result<Vec<T>, String> {
        values
            .iter()
            .map(|v| f(v).ok_or_else(|| format!("{v} does not have the column's type")))
            .collect()
    }
    let text = |v: &Json| v.as_str().map(str::to_string);
    // Sorted (and deduplicated) so the hot loop can binary-search.
    fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
        v.sort();
        v.dedup();
        v
    }
    Ok(match ty {
        ColumnType::String => Allowed::Str(
            sorted(each(values, |v| text(v).or_else(|| Some(v.to_string())))?)
                .into_iter()
                .map(|s| (s.len(), prefix8(&s), s))
                .collect(),
        ),
        ColumnType::Int => Allowed::Int(sorted(each(values, |v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| parse_i64(s.as_bytes())))
        })?)),
        ColumnType::Float => Allowed::Float(each(values, |v| {
            v.as_f64().or_else(|| v.as_str().and_then(parse_f64))
        })?),
        ColumnType::Bool => Allowed::Bool(each(values, |v| {
            v.as_bool()
                .or_else(|| v.as_str().and_then(|s| parse_bool(s.as_bytes())))
        })?),
        ColumnType::Date => Allowed::Date(sorted(each(values, |v| {
            v.as_str().and_then(|s| parse_date(s.as_bytes()))
        })?)),
        ColumnType::Timestamp => Allowed::Ts(sorted(each(values, |v| {
            v.as_str().and_then(|s| parse_timestamp(s.as_bytes()))
        })?)),
    })
}

#[cfg(test)]
mod pattern_tests {
    use super::{fixed_classes, range_word, Pattern};
    use regex::Regex;

    #[test]
    fn fixed_patterns_match_like_the_regex_crate() {
        let fixed = [
            "[A-Z]{3}-[0-9]{4}",
            "abc",
            "[a-c0-9_]{2}x",
            "\\.\\-[.]{0}z",
            "a{3}b[ ]",
            "",
            "[A-Za-z][0-9]{10}",
            "user@x\\.com",
        ];
        let general = [
            "[^a]",
            "a+",
            "a*",
            "\\d{3}",
            "\\w",
            "(ab)",
            "a|b",
            ".",
            "[a-]",
            "[[:alpha:]]",
            "a{1,2}",
            "a{2}?",
            "\\<a",
            "[a&&b]",
            "é",
            "[é]",
            "a\\b",
        ];
        for p in fixed {
            assert!(fixed_classes(p).is_some(), "{p} should be fixed");
        }
        for p in general {
            assert!(
                fixed_classes(p).is_none(),
                "{p} should be left to the regex crate"
            );
        }
        let inputs = [
            "",
            "ABC-1234",
            "ABC-12345",
            "abc-1234",
            "AB-1234",
            "ABÉ-1234",
            "ABC-123x",
            "abc",
            "abcd",
            "ab",
            "b0x",
            "_9x",
            "a9x",
            ".-z",
            "..z",
            "aaab ",
            "aaab",
            "x0123456789",
            "X012345678",
            "user@x.com",
            "user@xxcom",
            "A\u{e9}12",
            "a",
            "é",
        ];
        for p in fixed.iter().chain(general.iter()) {
            let Ok(pattern) = Pattern::new(p) else {
                continue;
            };
            let re = Regex::new(&format!("^(?:{p})$")).unwrap();
            for s in inputs {
                assert_eq!(pattern.is_match(s), re.is_match(s), "{p:?} on {s:?}");
                if pattern.is_fixed() {
                    // As a CSV field: followed by the rest of the record, possibly not ASCII.
                    for tail in ["", ",", ",ABC-1234,xyz", ",\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"] {
                        let pad = format!("{s}{tail}");
                        assert_eq!(
                            pattern.is_fixed_match(s, pad.as_bytes()),
                            re.is_match(s),
                            "{p:?} on {s:?} followed by {tail:?}"
                        );
                    }
                }
            }
        }
        // The one-word form is used where it applies.
        assert_eq!(
            range_word(&fixed_classes("[A-Z]{3}-[0-9]{4}").unwrap()),
            Some((
                u64::from_le_bytes(*b"AAA-0000"),
                u64::from_le_bytes(*b"ZZZ-9999"),
                8
            ))
        );
        assert!(range_word(&fixed_classes("[a-c0-9_]{2}x").unwrap()).is_none());
        assert!(range_word(&fixed_classes("[A-Za-z][0-9]{10}").unwrap()).is_none());
        assert!(range_word(&fixed_classes("").unwrap()).is_none());
    }
}
