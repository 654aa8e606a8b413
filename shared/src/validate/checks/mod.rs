//! The per-run state of a validation: typed checks of every value, column statistics, uniqueness
//! tracking, violation examples, and the final report.
//!
//! Format readers feed it values ([`Run::cell`]) and row ends ([`Run::end_row`]); nothing here allocates
//! per value except when a violation is kept as an example (at most `limits.max_examples` per rule).

use std::time::Instant;

use serde_json::Value as Json;
use twox_hash::XxHash3_64;

use super::compile::{Allowed, Bound, ColPlan, Fast, LeafKind, Node, Plan, RowCheck};
use super::dqdl_eval::{eval_length, eval_num, eval_value, is_type};
use super::swar;
use super::uniq::HashCounter;
use super::values::{
    coerce, format_date, format_timestamp, parse_bool, parse_date, parse_timestamp, prefix8, truncate,
    type_name, Cell, Val,
};
use crate::contract::ColumnType;
use crate::validate::report::{
    ColumnStats, ContractInfo, FatalError, RuleOutcome, ValidationReport, Violation,
};

mod failures;
mod kernels;

use failures::*;

/// One mapped field of a CSV record: its index in the record, its plan column, and the function that checks
/// it: a hot kernel ([`kernels::hot`]) when the column has one, else [`Run::text`] specialised for the
/// column's kind. The record loop makes one predictable indirect call per field into a small function whose
/// kind is fixed, instead of inlining every kind into one large loop body (callgrind: that loop spent ~62
/// instructions per field on overhead and register spills before any check ran).
#[derive(Clone, Copy)]
pub(crate) struct FieldOp {
    pub fi: usize,
    pub ci: usize,
    fast: Option<Fast>,
    /// An empty value (NULL) is allowed and needs no report.
    null_ok: bool,
    pub kernel: Kernel,
    /// The same checks a column at a time, when the column has a hot kernel.
    pub col: Option<ColKernel>,
}

/// Check one field: `(run, op, text, pad)` as in [`Run::text`], at the location [`Run::set_loc`] gave.
pub(crate) type Kernel = fn(&mut Run<'_>, &FieldOp, &str, &[u8]);

/// A hot kernel over one column of a [`Batch`]: `(run, op, k, batch, deferred)`. It takes every value the
/// hot kernel would accept and adds [`defer`]`(row, k)` to `deferred` for each one it leaves to
/// [`Run::text`] (`k`: the op's index among the record's ops). The caller then runs those in row order, so
/// the report is the one the record-at-a-time kernels give.
pub(crate) type ColKernel = fn(&mut Run<'_>, &FieldOp, u32, &Batch<'_>, &mut Vec<u64>);

/// Marks a [`Batch`] row start that indexes the quoted records' contents.
pub(crate) const QUOTED: usize = 1 << (usize::BITS - 1);

/// A value left to [`Run::text`] by a [`ColKernel`]: batch row `r`, op `k`. They sort by row, then op.
#[inline(always)]
pub(crate) fn defer(r: usize, k: u32) -> u64 {
    ((r as u64) << 32) | u64::from(k)
}

/// The row and the op of a [`defer`]red value.
#[inline(always)]
pub(crate) fn deferred_at(x: u64) -> (usize, usize) {
    ((x >> 32) as usize, x as u32 as usize)
}

/// Records gathered to be checked a column at a time ([`ColKernel`]): row `r`'s field `fi` is
/// `data[starts[r] + a..starts[r] + b]` for `(a, b) = bounds[r * width + fi]`, and the bytes after it in
/// `data` are its pad (as in [`Run::text`]). A start with [`QUOTED`] set indexes `qdata` instead.
pub(crate) struct Batch<'a> {
    data: &'a [u8],
    qdata: &'a [u8],
    starts: &'a [usize],
    bounds: &'a [(usize, usize)],
    width: usize,
}

impl<'a> Batch<'a> {
    /// # Safety
    /// For every row `r < starts.len()` and field `fi < width`, `bounds[r * width + fi]` is some `(a, b)`
    /// with `a <= b`, and with `buf` = `qdata` and `start` = `starts[r] & !QUOTED` when `starts[r]` has
    /// [`QUOTED`] set, else `data` and `starts[r]`: `start + b <= buf.len()` and `buf[start + a..start + b]`
    /// is valid UTF-8.
    pub(crate) unsafe fn new(
        data: &'a [u8],
        qdata: &'a [u8],
        starts: &'a [usize],
        bounds: &'a [(usize, usize)],
        width: usize,
    ) -> Self {
        debug_assert!(bounds.len() >= starts.len() * width);
        Batch {
            data,
            qdata,
            starts,
            bounds,
            width,
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.starts.len()
    }

    /// Row `r`'s field `fi` and its pad.
    ///
    /// # Safety
    /// `r < self.rows()` and `fi < self.width`.
    #[inline(always)]
    pub(crate) unsafe fn field(&self, r: usize, fi: usize) -> (&'a str, &'a [u8]) {
        debug_assert!(r < self.rows() && fi < self.width);
        // SAFETY: the caller keeps `r` and `fi` in range, so `r * width + fi` indexes `bounds`.
        unsafe { self.at(r, r * self.width + fi) }
    }

    /// Row `r`'s field whose bounds are `bounds[j]`.
    ///
    /// # Safety
    /// `r < self.rows()` and `j = r * self.width + fi` for some `fi < self.width`.
    #[inline(always)]
    unsafe fn at(&self, r: usize, j: usize) -> (&'a str, &'a [u8]) {
        // SAFETY: `new`'s contract, for a row and field the caller keeps in range.
        unsafe {
            let start = *self.starts.get_unchecked(r);
            let buf = if start & QUOTED == 0 {
                self.data
            } else {
                self.qdata
            };
            let start = start & !QUOTED;
            let (a, b) = *self.bounds.get_unchecked(j);
            debug_assert!(a <= b && start + b <= buf.len());
            let s = std::str::from_utf8_unchecked(buf.get_unchecked(start + a..start + b));
            (s, buf.get_unchecked(start + a..))
        }
    }

    /// Run `accept` on field `fi` of every row, with `st` as a local, and defer the values it refuses.
    #[inline(always)]
    fn column(
        &self,
        st: &mut ColState,
        fi: usize,
        k: u32,
        deferred: &mut Vec<u64>,
        mut accept: impl FnMut(&mut ColState, &str, &[u8]) -> bool,
    ) {
        assert!(fi < self.width, "field {fi} of a {}-field batch", self.width);
        // A local copy keeps the counters and the min and max in registers across the loop.
        let mut acc = st.take();
        // Field `fi`'s bounds, one row apart: `j` steps by `width` instead of being multiplied out.
        let mut j = fi;
        for r in 0..self.rows() {
            // SAFETY: r < rows, and j = r * width + fi with fi < width (checked above).
            let (s, pad) = unsafe { self.at(r, j) };
            j += self.width;
            if !accept(&mut acc, s, pad) {
                deferred.push(defer(r, k));
            }
        }
        *st = acc;
    }

    /// Defer every value of op `k` (a column whose kernel does not apply).
    fn defer_all(&self, k: u32, deferred: &mut Vec<u64>) {
        deferred.extend((0..self.rows()).map(|r| defer(r, k)));
    }
}

/// Where a record is.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Loc {
    /// 1-based data row (within the row group for Parquet).
    pub row: u64,
    pub byte_offset: Option<u64>,
    pub row_group: Option<u64>,
}

#[derive(Default)]
struct LeafState {
    failed: u64,
    evaluated: u64,
    examples: Vec<Violation>,
}

/// Marks `cond` for a leaf that counts for `bad_rows` whenever it fails (a declared constraint or a
/// record-structure rule: its rule fails as soon as one row breaks it).
const DEFINITE: u32 = u32::MAX;
/// At most this many distinct sets of conditional leaves are remembered for `bad_rows` (see [`Leaves`]).
const MAX_SIGNATURES: usize = 4096;

/// Every leaf's state, and which leaves the current row broke (for the report's `bad_rows`).
///
/// A row that breaks a *definite* leaf is a bad row. A row that breaks only DQDL leaves is bad when one of
/// them ends up counted (its rule fails overall, which is known only at the end): such rows are counted
/// per set of leaves broken ("signature"), and the sets are resolved in [`Run::finish`]. Distinct sets are
/// few in practice; past [`MAX_SIGNATURES`] a row is filed under its first leaf alone.
struct Leaves {
    st: Vec<LeafState>,
    /// Per leaf: [`DEFINITE`], or its index among the conditional (DQDL) leaves.
    cond: Vec<u32>,
    /// The current row broke a definite leaf.
    row_bad: bool,
    /// Conditional leaves the current row broke (may repeat).
    row_cond: Vec<u32>,
    /// Rows that broke a definite leaf.
    bad_rows: u64,
    /// Rows that broke only conditional leaves, by the sorted set of those leaves.
    signatures: std::collections::HashMap<Box<[u32]>, u64>,
}

impl Leaves {
    fn new(plan: &Plan) -> Self {
        Leaves {
            st: plan.leaves.iter().map(|_| LeafState::default()).collect(),
            cond: plan
                .leaves
                .iter()
                .enumerate()
                .map(|(i, l)| if is_definite(&l.kind) { DEFINITE } else { i as u32 })
                .collect(),
            row_bad: false,
            row_cond: Vec::new(),
            bad_rows: 0,
            signatures: std::collections::HashMap::new(),
        }
    }

    /// The current row broke `leaf`.
    #[inline]
    fn mark(&mut self, leaf: usize) {
        match self.cond[leaf] {
            DEFINITE => self.row_bad = true,
            c => self.row_cond.push(c),
        }
    }

    /// The current row is done.
    #[inline]
    fn end_row(&mut self) {
        if self.row_bad {
            self.bad_rows += 1;
            self.row_bad = false;
            self.row_cond.clear();
        } else if !self.row_cond.is_empty() {
            self.file_conditional();
        }
    }

    #[cold]
    fn file_conditional(&mut self) {
        self.row_cond.sort_unstable();
        self.row_cond.dedup();
        if let Some(n) = self.signatures.get_mut(&self.row_cond[..]) {
            *n += 1;
        } else if self.signatures.len() < MAX_SIGNATURES {
            self.signatures.insert(self.row_cond[..].into(), 1);
        } else {
            *self.signatures.entry(self.row_cond[..1].into()).or_insert(0) += 1;
        }
        self.row_cond.clear();
    }

    /// Distinct bad rows, given which leaves are counted in the report (`counted[leaf]`).
    fn bad_rows(&self, counted: &[bool]) -> u64 {
        let conditional: u64 = self
            .signatures
            .iter()
            .filter(|(sig, _)| sig.iter().any(|&l| counted[l as usize]))
            .map(|(_, n)| n)
            .sum();
        self.bad_rows + conditional
    }
}

impl std::ops::Index<usize> for Leaves {
    type Output = LeafState;
    #[inline]
    fn index(&self, i: usize) -> &LeafState {
        &self.st[i]
    }
}

impl std::ops::IndexMut<usize> for Leaves {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut LeafState {
        &mut self.st[i]
    }
}

/// Whether a failing row of this leaf always makes its rule fail (see [`Leaves`]).
fn is_definite(kind: &LeafKind) -> bool {
    matches!(
        kind,
        LeafKind::Type { .. }
            | LeafKind::NotNull { .. }
            | LeafKind::Min { .. }
            | LeafKind::Max { .. }
            | LeafKind::Allowed { .. }
            | LeafKind::Regex { .. }
            | LeafKind::MinLength { .. }
            | LeafKind::MaxLength { .. }
            | LeafKind::Unique { .. }
            | LeafKind::WellFormed
            | LeafKind::Utf8
            | LeafKind::RecordSize
    )
}

/// What kind of values a column's min/max describe.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Empty,
    Int,
    Float,
    Bool,
    Date,
    Ts,
    Str,
}

/// Smallest and largest value of a column, in typed fields so the hot loop updates them with plain
/// compares. Strings keep their first 8 bytes as a big-endian integer: most values differ from the
/// current min and max within those bytes, so only ties compare the whole strings.
struct Stats {
    kind: Kind,
    has: bool,
    lo_i: i64,
    hi_i: i64,
    lo_f: f64,
    hi_f: f64,
    lo_p: u64,
    hi_p: u64,
    lo_s: String,
    hi_s: String,
}

impl Stats {
    fn new(ty: Option<ColumnType>) -> Self {
        let kind = match ty {
            None => Kind::Empty,
            Some(ColumnType::Int) => Kind::Int,
            Some(ColumnType::Float) => Kind::Float,
            Some(ColumnType::Bool) => Kind::Bool,
            Some(ColumnType::Date) => Kind::Date,
            Some(ColumnType::Timestamp) => Kind::Ts,
            Some(ColumnType::String) => Kind::Str,
        };
        Stats {
            kind,
            has: false,
            lo_i: i64::MAX,
            hi_i: i64::MIN,
            lo_f: f64::INFINITY,
            hi_f: f64::NEG_INFINITY,
            lo_p: 0,
            hi_p: 0,
            lo_s: String::new(),
            hi_s: String::new(),
        }
    }

    /// Int, bool (0/1), date (days) and timestamp (micros) values.
    #[inline]
    fn int(&mut self, v: i64) {
        self.has = true;
        self.lo_i = self.lo_i.min(v);
        self.hi_i = self.hi_i.max(v);
    }

    #[inline]
    fn float(&mut self, v: f64) {
        if v < self.lo_f {
            self.lo_f = v;
        }
        if v > self.hi_f {
            self.hi_f = v;
        }
        self.has |= !v.is_nan();
    }

    #[inline]
    fn str(&mut self, s: &str) {
        self.str_prefixed(s, prefix8(s));
    }

    /// A string value and its [`prefix8`].
    #[inline(always)]
    fn str_prefixed(&mut self, s: &str, p: u64) {
        // Strictly between the current min and max, or (a short value, as in a categorical column) the
        // min or the max itself: the common cases, decided without a call. Equal prefixes and lengths of
        // at most 8 bytes: the same string.
        let inside = p > self.lo_p && p < self.hi_p;
        let same = |q: u64, t: &str| q == p && t.len() == s.len() && s.len() <= 8;
        if !(self.has && (inside || same(self.lo_p, &self.lo_s) || same(self.hi_p, &self.hi_s))) {
            self.str_bounds(s, p);
        }
    }

    /// [`Stats::str_prefixed`] for a value that may move the min or the max.
    #[inline(never)]
    fn str_bounds(&mut self, s: &str, p: u64) {
        if !self.has {
            self.has = true;
            (self.lo_p, self.hi_p) = (p, p);
            self.lo_s.push_str(s);
            self.hi_s.push_str(s);
        } else if p > self.lo_p && p < self.hi_p {
            // Strictly between the current min and max: the common case.
        } else if p < self.lo_p || (p == self.lo_p && s < self.lo_s.as_str()) {
            self.lo_p = p;
            self.lo_s.clear();
            self.lo_s.push_str(s);
        } else if p > self.hi_p || (p == self.hi_p && s > self.hi_s.as_str()) {
            self.hi_p = p;
            self.hi_s.clear();
            self.hi_s.push_str(s);
        }
    }

    /// Any typed value (JSON, Parquet, untyped columns). An untyped column takes the kind of its first
    /// value; values of another kind do not move its min/max.
    fn update(&mut self, v: &Val) {
        let kind = match v {
            Val::Int(_) => Kind::Int,
            Val::Float(_) => Kind::Float,
            Val::Bool(_) => Kind::Bool,
            Val::Date(_) => Kind::Date,
            Val::Ts(_) => Kind::Ts,
            Val::Str(_) => Kind::Str,
        };
        if self.kind == Kind::Empty {
            self.kind = kind;
        }
        if self.kind != kind {
            return;
        }
        match *v {
            Val::Int(i) | Val::Ts(i) => self.int(i),
            Val::Date(d) => self.int(i64::from(d)),
            Val::Bool(b) => self.int(i64::from(b)),
            Val::Float(f) => self.float(f),
            Val::Str(s) => self.str(s),
        }
    }

    fn json(&self) -> (Option<Json>, Option<Json>) {
        if !self.has {
            return (None, None);
        }
        let f = |x: f64| serde_json::Number::from_f64(x).map(Json::Number);
        let date = |d: i64| Json::String(format_date(i32::try_from(d).unwrap_or_default()));
        let (lo, hi) = (self.lo_i, self.hi_i);
        match self.kind {
            Kind::Empty => (None, None),
            Kind::Int => (Some(Json::from(lo)), Some(Json::from(hi))),
            Kind::Float => (f(self.lo_f), f(self.hi_f)),
            Kind::Bool => (Some(Json::Bool(lo != 0)), Some(Json::Bool(hi != 0))),
            Kind::Date => (Some(date(lo)), Some(date(hi))),
            Kind::Ts => (
                Some(Json::String(format_timestamp(lo))),
                Some(Json::String(format_timestamp(hi))),
            ),
            Kind::Str => (
                Some(Json::String(self.lo_s.clone())),
                Some(Json::String(self.hi_s.clone())),
            ),
        }
    }
}

struct ColState {
    /// The column exists in the data (header / schema). JSON Lines: always.
    present: bool,
    /// The column was seen in the data (JSON Lines: some record has the key).
    seen: bool,
    count: u64,
    nulls: u64,
    stats: Stats,
    /// This row's value hash, for uniqueness trackers (`None`: NULL or not a valid value).
    hash: Option<u64>,
}

impl ColState {
    /// This state, leaving an empty one in its place (no allocation).
    fn take(&mut self) -> ColState {
        std::mem::replace(
            self,
            ColState {
                present: self.present,
                seen: self.seen,
                count: 0,
                nulls: 0,
                stats: Stats::new(None),
                hash: None,
            },
        )
    }
}

struct TrackerState {
    table: HashCounter,
    rows: u64,
    /// Rows where some column of the key is NULL.
    rows_with_null: u64,
}

/// Everything one validation accumulates.
pub(crate) struct Run<'p> {
    plan: &'p Plan,
    leaves: Leaves,
    cols: Vec<ColState>,
    trackers: Vec<TrackerState>,
    /// Data records read, well-formed or not (CSV header excluded).
    pub rows: u64,
    /// Records whose values were checked.
    pub checked: u64,
    /// Number of columns in the data, when known.
    pub column_count: Option<u64>,
    pub fatal: Option<FatalError>,
    max_examples: usize,
    scratch: String,
    keybuf: Vec<u8>,
    /// Where the record whose fields the [`Kernel`]s are checking is (see [`Run::set_loc`]).
    loc: Loc,
}

const NULL_KEY_PART: [u8; 8] = *b"\0NULL\0\0\0";

impl<'p> Run<'p> {
    pub(crate) fn new(plan: &'p Plan) -> Self {
        Run {
            plan,
            leaves: Leaves::new(plan),
            cols: plan
                .columns
                .iter()
                .map(|c| ColState {
                    present: true,
                    seen: false,
                    count: 0,
                    nulls: 0,
                    stats: Stats::new(c.ty),
                    hash: None,
                })
                .collect(),
            trackers: plan
                .trackers
                .iter()
                .map(|_| TrackerState {
                    table: HashCounter::new(plan.limits.max_unique_values),
                    rows: 0,
                    rows_with_null: 0,
                })
                .collect(),
            rows: 0,
            checked: 0,
            column_count: None,
            fatal: None,
            max_examples: usize::try_from(plan.limits.max_examples).unwrap_or(usize::MAX),
            scratch: String::new(),
            keybuf: Vec::new(),
            loc: Loc::default(),
        }
    }

    /// The location of the record whose fields the next [`Kernel`] calls check: a field of `Run`, so
    /// that a kernel takes its six arguments in registers and reads it only to report a failure.
    #[inline]
    pub(crate) fn set_loc(&mut self, loc: Loc) {
        self.loc = loc;
    }

    /// Records may be checked a column at a time ([`ColKernel`]): nothing is kept per row (no uniqueness
    /// tracking), so a row whose values all pass needs no [`Run::end_row`].
    pub(crate) fn batchable(&self) -> bool {
        self.plan.trackers.is_empty()
    }

    /// `n` records whose values all passed a [`ColKernel`]: what [`Run::end_row`] does for them.
    pub(crate) fn clean_rows(&mut self, n: u64) {
        debug_assert!(self.batchable() && !self.leaves.row_bad && self.leaves.row_cond.is_empty());
        self.checked += n;
    }

    pub(crate) fn plan(&self) -> &'p Plan {
        self.plan
    }

    /// Declare which plan columns exist in the data (by header or schema).
    pub(crate) fn set_present(&mut self, col: usize, present: bool) {
        self.cols[col].present = present;
        self.cols[col].seen = present;
    }

    /// JSON Lines: the key of `col` occurred in some record.
    pub(crate) fn mark_seen(&mut self, col: usize) {
        self.cols[col].seen = true;
    }

    /// Stop with a fatal error.
    pub(crate) fn set_fatal(
        &mut self,
        kind: &str,
        message: String,
        byte_offset: Option<u64>,
        row: Option<u64>,
    ) {
        if self.fatal.is_none() {
            self.fatal = Some(FatalError {
                kind: kind.to_string(),
                message,
                byte_offset,
                row,
            });
        }
    }

    /// Leaf index of a record-structure rule.
    pub(crate) fn structural_leaf(&self, which: Structural) -> usize {
        self.plan
            .leaves
            .iter()
            .position(|l| {
                matches!(
                    (which, &l.kind),
                    (Structural::WellFormed, LeafKind::WellFormed)
                        | (Structural::Utf8, LeafKind::Utf8)
                        | (Structural::Size, LeafKind::RecordSize)
                )
            })
            .unwrap_or(0)
    }

    /// A record-level violation (the record's values are not checked).
    pub(crate) fn record_violation(
        &mut self,
        which: Structural,
        loc: &Loc,
        column: Option<usize>,
        value: Option<String>,
        message: String,
    ) {
        let leaf = self.structural_leaf(which);
        fail(
            &mut self.leaves,
            self.plan,
            self.max_examples,
            leaf,
            loc,
            column,
            || value,
            || message,
        );
        if loc.row > 0 {
            // The record is done: it is not checked any further.
            self.leaves.end_row();
        } else {
            // About the header or the whole input, not a data row.
            self.leaves.row_bad = false;
        }
    }

    /// Check one CSV field of column `ci`: the column's fast kernel when it has one. `pad` is the field's
    /// bytes followed by whatever follows them in memory (`pad[..s.len()] == s`), for word-at-a-time loads.
    ///
    /// The CSV reader does not call this directly: each field's [`FieldOp`] kernel is this function for one
    /// column kind, with [`Run::text_fast`] inlined and its match on the kind folded away. This general
    /// entry is only the kernels' fallback.
    #[inline(never)]
    pub(crate) fn text(&mut self, ci: usize, s: &str, pad: &[u8], loc: &Loc) {
        match self.plan.columns[ci].fast {
            Some(fast) => self.text_fast(ci, fast, s, pad, loc),
            None => self.cell(ci, Cell::Text(s), loc),
        }
    }

    /// The [`FieldOp`] for field `fi` of a record holding column `ci`.
    pub(crate) fn field_op(&self, fi: usize, ci: usize) -> FieldOp {
        let p = &self.plan.columns[ci];
        let fast = p.fast;
        // The hot kernels check nothing but the `Fast` kind's rules, a string's allowed list and a
        // fixed-class regex, and keep no value hash.
        let hot = !p.hashed
            && match fast {
                Some(Fast::Str { .. }) => {
                    p.regex.as_ref().is_none_or(|(re, _)| re.is_fixed())
                        && matches!(p.allowed, None | Some((Allowed::Str(_), _)))
                }
                Some(_) => p.allowed.is_none() && p.regex.is_none(),
                None => false,
            };
        use kernels::hot;
        // A hot kernel comes with its column-at-a-time twin.
        let (kernel, col): (Kernel, Option<ColKernel>) = match (fast, hot) {
            (Some(Fast::Int { .. }), true) => (hot::int, Some(hot::int_col)),
            (Some(Fast::Float { .. }), true) => (hot::float, Some(hot::float_col)),
            (Some(Fast::Bool), true) => (hot::bool, Some(hot::bool_col)),
            (Some(Fast::Date { .. }), true) => (hot::date, Some(hot::date_col)),
            (Some(Fast::Ts { .. }), true) => (hot::ts, Some(hot::ts_col)),
            (Some(Fast::Str { .. }), true) if p.allowed.is_none() && p.regex.is_none() => {
                (hot::str, Some(hot::str_col))
            }
            (Some(Fast::Str { .. }), true) => (hot::str_checked, Some(hot::str_checked_col)),
            (Some(Fast::Int { .. }), false) => (kernels::int, None),
            (Some(Fast::Float { .. }), false) => (kernels::float, None),
            (Some(Fast::Bool), false) => (kernels::bool, None),
            (Some(Fast::Date { .. }), false) => (kernels::date, None),
            (Some(Fast::Ts { .. }), false) => (kernels::ts, None),
            (Some(Fast::Str { .. }), false) => (kernels::str, None),
            (None, _) => (kernels::cell, None),
        };
        FieldOp {
            fi,
            ci,
            fast,
            null_ok: p.null_leaf.is_none(),
            kernel,
            col,
        }
    }

    /// [`Run::text`] with the column's fast kernel `fast`.
    #[inline(always)]
    fn text_fast(&mut self, ci: usize, fast: Fast, s: &str, pad: &[u8], loc: &Loc) {
        let plan = self.plan;
        let p = &plan.columns[ci];
        let max = self.max_examples;
        let leaves = &mut self.leaves;
        let st = &mut self.cols[ci];
        if s.is_empty() {
            st.nulls += 1;
            st.hash = None;
            if let Some(leaf) = p.null_leaf {
                fail(
                    leaves,
                    plan,
                    max,
                    leaf,
                    loc,
                    Some(ci),
                    || None,
                    || "NULL in a non-nullable column".into(),
                );
            }
            return;
        }
        st.count += 1;
        let b = s.as_bytes();
        let v = match fast {
            Fast::Int { min, max: hi } => swar::int(b, pad).map(|v| {
                st.stats.int(v);
                if v < min || v > hi {
                    range_fail(leaves, plan, max, p, ci, v < min, s, loc);
                }
                Val::Int(v)
            }),
            Fast::Float { min, max: hi } => swar::float(s, pad).map(|v| {
                st.stats.float(v);
                // NaN is in no range: it fails as "below" (or "above" when there is only a max).
                if !(min..=hi).contains(&v) {
                    range_fail(leaves, plan, max, p, ci, v < min || v.is_nan(), s, loc);
                }
                Val::Float(v)
            }),
            Fast::Bool => parse_bool(b).map(|v| {
                st.stats.int(i64::from(v));
                Val::Bool(v)
            }),
            Fast::Date { min, max: hi } => parse_date(b).map(|v| {
                st.stats.int(i64::from(v));
                if v < min || v > hi {
                    range_fail(leaves, plan, max, p, ci, v < min, s, loc);
                }
                Val::Date(v)
            }),
            Fast::Ts { min, max: hi } => parse_timestamp(b).map(|v| {
                st.stats.int(v);
                if v < min || v > hi {
                    range_fail(leaves, plan, max, p, ci, v < min, s, loc);
                }
                Val::Ts(v)
            }),
            Fast::Str { min_len, max_len } => {
                let prefix = padded_prefix8(s, pad);
                st.stats.str_prefixed(s, prefix);
                let n = b.len() as u64;
                // Characters: at least bytes / 4, at most bytes. Count them only when that is not enough.
                if n > max_len || (n < min_len.saturating_mul(4) && (n < min_len || !s.is_ascii())) {
                    length_fail(leaves, plan, max, p, ci, s, loc);
                }
                if let Some((re, leaf)) = &p.regex {
                    if !re.is_match(s) {
                        regex_fail(leaves, plan, max, ci, *leaf, s, loc);
                    }
                }
                if let Some((Allowed::Str(list), leaf)) = &p.allowed {
                    if !allowed_str(list, s, prefix) {
                        allowed_fail(leaves, plan, max, ci, *leaf, s, loc);
                    }
                    if p.hashed {
                        st.hash = Some(Val::Str(s).hash());
                    }
                    return;
                }
                Some(Val::Str(s))
            }
        };
        let Some(v) = v else {
            st.hash = None;
            type_fail(leaves, plan, max, p, ci, s, loc);
            return;
        };
        if let Some((a, leaf)) = &p.allowed {
            if !allowed_ok(&v, a) {
                fail(
                    leaves,
                    plan,
                    max,
                    *leaf,
                    loc,
                    Some(ci),
                    || Some(truncate(s).to_string()),
                    || "not an allowed value".into(),
                );
            }
        }
        if p.hashed {
            st.hash = Some(v.hash());
        }
    }

    /// Check one value of column `ci`.
    #[inline]
    pub(crate) fn cell(&mut self, ci: usize, cell: Cell<'_>, loc: &Loc) {
        let plan = self.plan;
        let p = &plan.columns[ci];
        let max = self.max_examples;
        let leaves = &mut self.leaves;
        let st = &mut self.cols[ci];
        let val = match coerce(&cell, p.ty) {
            Ok(v) => v,
            Err(_) => {
                st.count += 1;
                st.hash = None;
                if let (Some(leaf), Some(ty)) = (p.type_leaf, p.ty) {
                    fail(
                        leaves,
                        plan,
                        max,
                        leaf,
                        loc,
                        Some(ci),
                        || cell.shown(),
                        || format!("not a valid {}", type_name(ty)),
                    );
                }
                if !p.row_checks.is_empty() {
                    self.row_checks(ci, false, &cell, None, loc);
                }
                return;
            }
        };
        let Some(v) = val else {
            st.nulls += 1;
            st.hash = None;
            if let Some(leaf) = p.null_leaf {
                fail(
                    leaves,
                    plan,
                    max,
                    leaf,
                    loc,
                    Some(ci),
                    || None,
                    || "NULL in a non-nullable column".into(),
                );
            }
            if !p.row_checks.is_empty() {
                self.row_checks(ci, true, &cell, None, loc);
            }
            return;
        };
        st.count += 1;
        st.stats.update(&v);
        if let Some((b, leaf)) = &p.min {
            if !bound_ok(&v, b, true) {
                fail(
                    leaves,
                    plan,
                    max,
                    *leaf,
                    loc,
                    Some(ci),
                    || cell.shown(),
                    || "below the minimum".into(),
                );
            }
        }
        if let Some((b, leaf)) = &p.max {
            if !bound_ok(&v, b, false) {
                fail(
                    leaves,
                    plan,
                    max,
                    *leaf,
                    loc,
                    Some(ci),
                    || cell.shown(),
                    || "above the maximum".into(),
                );
            }
        }
        if let Some((a, leaf)) = &p.allowed {
            if !allowed_ok(&v, a) {
                fail(
                    leaves,
                    plan,
                    max,
                    *leaf,
                    loc,
                    Some(ci),
                    || cell.shown(),
                    || "not an allowed value".into(),
                );
            }
        }
        if p.regex.is_some() || p.min_len.is_some() || p.max_len.is_some() {
            let text = match v {
                Val::Str(s) => s,
                _ => cell.text(&mut self.scratch),
            };
            if let Some((re, leaf)) = &p.regex {
                if !re.is_match(text) {
                    fail(
                        leaves,
                        plan,
                        max,
                        *leaf,
                        loc,
                        Some(ci),
                        || cell.shown(),
                        || "does not match the regex".into(),
                    );
                }
            }
            if let Some((n, leaf)) = p.min_len {
                // Characters never outnumber bytes: count them only when the bytes are not enough.
                if (text.len() as u64) < n || (text.chars().count() as u64) < n {
                    fail(
                        leaves,
                        plan,
                        max,
                        leaf,
                        loc,
                        Some(ci),
                        || cell.shown(),
                        || format!("shorter than {n} characters"),
                    );
                }
            }
            if let Some((n, leaf)) = p.max_len {
                if text.len() as u64 > n && text.chars().count() as u64 > n {
                    fail(
                        leaves,
                        plan,
                        max,
                        leaf,
                        loc,
                        Some(ci),
                        || cell.shown(),
                        || format!("longer than {n} characters"),
                    );
                }
            }
        }
        if p.hashed {
            st.hash = Some(v.hash());
        }
        if !p.row_checks.is_empty() {
            self.row_checks(ci, false, &cell, Some(&v), loc);
        }
    }

    /// DQDL per-row checks of one value.
    fn row_checks(&mut self, ci: usize, null: bool, cell: &Cell<'_>, val: Option<&Val<'_>>, loc: &Loc) {
        let plan = self.plan;
        let max = self.max_examples;
        for check in &plan.columns[ci].row_checks {
            let (leaf, ok) = match check {
                RowCheck::Values { leaf, pred } => {
                    (*leaf, eval_value(pred, null, cell, val, &mut self.scratch))
                }
                RowCheck::Length { leaf, expr } => (*leaf, eval_length(expr, null, cell, &mut self.scratch)),
                RowCheck::DataType { leaf, ty } => {
                    if null {
                        continue;
                    }
                    (*leaf, is_type(*ty, cell))
                }
                RowCheck::NullWatch { leaf } => (*leaf, !null),
            };
            self.leaves[leaf].evaluated += 1;
            if !ok {
                fail(
                    &mut self.leaves,
                    plan,
                    max,
                    leaf,
                    loc,
                    Some(ci),
                    || cell.shown(),
                    || {
                        if null {
                            "NULL does not satisfy the rule".into()
                        } else {
                            "value does not satisfy the rule".into()
                        }
                    },
                );
            }
        }
    }

    /// Finish a checked row: uniqueness tracking. `false` when validation must stop (uniqueness cap).
    #[inline]
    pub(crate) fn end_row(&mut self, loc: &Loc) -> bool {
        self.checked += 1;
        let plan = self.plan;
        for (ti, def) in plan.trackers.iter().enumerate() {
            let ts = &mut self.trackers[ti];
            ts.rows += 1;
            let key = if let [c] = def.cols[..] {
                if self.cols[c].hash.is_none() {
                    ts.rows_with_null += 1;
                }
                self.cols[c].hash
            } else {
                self.keybuf.clear();
                let mut nulls = 0;
                for &c in &def.cols {
                    match self.cols[c].hash {
                        Some(h) => self.keybuf.extend_from_slice(&h.to_le_bytes()),
                        None => {
                            nulls += 1;
                            self.keybuf.extend_from_slice(&NULL_KEY_PART);
                        }
                    }
                }
                if nulls > 0 {
                    ts.rows_with_null += 1;
                }
                (nulls < def.cols.len()).then(|| XxHash3_64::oneshot_with_seed(7, &self.keybuf))
            };
            let Some(h) = key else {
                for &leaf in &def.dqdl_leaves {
                    self.leaves.mark(leaf);
                    example(
                        &mut self.leaves,
                        plan,
                        self.max_examples,
                        leaf,
                        loc,
                        def.cols.first().copied(),
                        None,
                        || "NULL key".into(),
                    );
                }
                continue;
            };
            match ts.table.insert(h) {
                Ok(true) => {}
                Ok(false) => {
                    let col = def.cols.first().copied();
                    for &leaf in &def.unique_leaves {
                        fail(
                            &mut self.leaves,
                            plan,
                            self.max_examples,
                            leaf,
                            loc,
                            col,
                            || None,
                            || "duplicate of an earlier value".into(),
                        );
                    }
                    for &leaf in &def.dqdl_leaves {
                        self.leaves.mark(leaf);
                        example(
                            &mut self.leaves,
                            plan,
                            self.max_examples,
                            leaf,
                            loc,
                            col,
                            None,
                            || "duplicate of an earlier value".into(),
                        );
                    }
                }
                Err(_) => {
                    let names: Vec<String> = def
                        .cols
                        .iter()
                        .map(|&c| super::compile::quoted(&plan.columns[c].name))
                        .collect();
                    let cap = plan.limits.max_unique_values;
                    let mib = HashCounter::max_bytes(cap) as f64 / (1 << 20) as f64;
                    self.set_fatal(
                        "UniqueLimit",
                        format!(
                            "column {}: more than {cap} distinct values; uniqueness tracking is capped at \
                             limits.max_unique_values = {cap} (about {mib:.0} MiB of memory). Raise the limit \
                             or remove the uniqueness rule",
                            names.join(" + ")
                        ),
                        loc.byte_offset,
                        Some(loc.row),
                    );
                    self.leaves.end_row();
                    return false;
                }
            }
        }
        self.leaves.end_row();
        true
    }

    /// Evaluate every rule and build the report.
    pub(crate) fn finish(mut self, totals: Totals, started: Instant) -> ValidationReport {
        let plan = self.plan;
        let mut rules = Vec::new();
        let mut violations = Vec::new();
        let mut violation_count = 0u64;
        let mut valid = self.fatal.is_none();
        // Leaves whose failing rows are in the report (for `bad_rows`).
        let mut counted = vec![false; plan.leaves.len()];
        for (ri, rule) in plan.rules.iter().enumerate() {
            if rule.text_only && !totals.text_format {
                continue;
            }
            let out = self.node(&rule.node);
            if !out.passed {
                valid = false;
                for &li in &out.failing {
                    counted[li] = true;
                    let leaf = self.leaf_outcome(li);
                    violation_count += leaf.failed_rows.max(1);
                    let mut ex = std::mem::take(&mut self.leaves[li].examples);
                    // A rule that failed as a whole (its column is missing, there are no rows) has no
                    // failing rows: the rows its scan noted (every key NULL without the column) are not
                    // its violations, and the count would not include them (found by fuzzing).
                    if leaf.failed_rows == 0 {
                        ex.clear();
                    }
                    if ex.is_empty() {
                        violations.push(Violation {
                            row: 0,
                            column: leaf_column(plan, &plan.leaves[li].kind)
                                .map(|c| plan.columns[c].name.clone()),
                            byte_offset: None,
                            row_group: None,
                            value: None,
                            rule: plan.rules[ri].name.clone(),
                            message: leaf.message.unwrap_or_else(|| "rule failed".into()),
                        });
                    } else {
                        violations.extend(ex);
                    }
                }
            }
            rules.push(RuleOutcome {
                rule: rule.name.clone(),
                passed: out.passed,
                failed_rows: if out.passed { 0 } else { out.failed_rows },
                measured: out.measured,
                message: if out.passed { None } else { out.message },
            });
        }
        violations.sort_by_key(|v| (v.row_group.unwrap_or(0), v.row));
        violations.truncate(self.max_examples);
        let columns = plan
            .columns
            .iter()
            .zip(&self.cols)
            .map(|(p, st)| {
                let (min, max) = st.stats.json();
                ColumnStats {
                    name: p.name.clone(),
                    count: st.count,
                    nulls: st.nulls,
                    min,
                    max,
                }
            })
            .collect();
        ValidationReport {
            valid,
            source: totals.source,
            source_version: None,
            contract: ContractInfo {
                name: plan.name.clone(),
                version: plan.version.clone(),
                source: plan.source.clone(),
            },
            format: totals.format.to_string(),
            compression: totals.compression.to_string(),
            rows: self.rows,
            bad_rows: self.leaves.bad_rows(&counted),
            bytes_read: totals.bytes_read,
            bytes_decoded: totals.bytes_decoded,
            fingerprint: totals.fingerprint,
            rules,
            violation_count,
            violations,
            columns,
            fatal: self.fatal,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn node(&self, node: &Node) -> NodeOutcome {
        match node {
            Node::Leaf(li) => {
                let o = self.leaf_outcome(*li);
                NodeOutcome {
                    passed: o.passed,
                    failed_rows: o.failed_rows,
                    measured: o.measured,
                    message: o.message,
                    failing: if o.passed { Vec::new() } else { vec![*li] },
                }
            }
            Node::And(parts) | Node::Or(parts) => {
                let outs: Vec<NodeOutcome> = parts.iter().map(|p| self.node(p)).collect();
                let is_and = matches!(node, Node::And(_));
                let passed = if is_and {
                    outs.iter().all(|o| o.passed)
                } else {
                    outs.iter().any(|o| o.passed)
                };
                let failed: Vec<&NodeOutcome> = outs.iter().filter(|o| !o.passed).collect();
                if passed {
                    return NodeOutcome {
                        passed,
                        failed_rows: 0,
                        measured: None,
                        message: None,
                        failing: Vec::new(),
                    };
                }
                let message = format!(
                    "{} of {} parts failed: {}",
                    failed.len(),
                    outs.len(),
                    failed
                        .iter()
                        .filter_map(|o| o.message.as_deref())
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                NodeOutcome {
                    passed,
                    failed_rows: failed.iter().map(|o| o.failed_rows).sum(),
                    measured: None,
                    message: Some(message),
                    failing: failed.iter().flat_map(|o| o.failing.iter().copied()).collect(),
                }
            }
        }
    }

    fn leaf_outcome(&self, li: usize) -> LeafOutcome {
        let plan = self.plan;
        let st = &self.leaves[li];
        let rows = self.rows as f64;
        let col_missing = |c: usize| -> Option<LeafOutcome> {
            (!self.cols[c].present).then(|| {
                LeafOutcome::fail(
                    0,
                    None,
                    format!("column {} not found in the data", quoted_col(plan, c)),
                )
            })
        };
        let no_rows = || LeafOutcome::fail(0, None, "no rows to evaluate".into());
        let count_rule = |failed: u64, what: &str| {
            if failed == 0 {
                LeafOutcome::pass(None)
            } else {
                LeafOutcome::fail(failed, None, format!("{failed} {what}"))
            }
        };
        match &plan.leaves[li].kind {
            LeafKind::Type { col } => {
                if let Some(o) = col_missing(*col) {
                    return o;
                }
                let ty = plan.columns[*col].ty.map(type_name).unwrap_or("value");
                count_rule(st.failed, &format!("values are not valid {ty}"))
            }
            LeafKind::NotNull { .. } => count_rule(st.failed, "NULL values"),
            LeafKind::Min { .. } => count_rule(st.failed, "values below the minimum"),
            LeafKind::Max { .. } => count_rule(st.failed, "values above the maximum"),
            LeafKind::Allowed { .. } => count_rule(st.failed, "values not in the allowed set"),
            LeafKind::Regex { .. } => count_rule(st.failed, "values do not match the regex"),
            LeafKind::MinLength { .. } => count_rule(st.failed, "values too short"),
            LeafKind::MaxLength { .. } => count_rule(st.failed, "values too long"),
            LeafKind::Unique { .. } => count_rule(st.failed, "duplicate values"),
            LeafKind::WellFormed => count_rule(st.failed, "malformed records"),
            LeafKind::Utf8 => count_rule(st.failed, "records are not valid UTF-8"),
            LeafKind::RecordSize => count_rule(st.failed, "records over the size limit"),
            LeafKind::RowCountBounds(b) => {
                let ok = b.min.is_none_or(|m| self.rows >= m) && b.max.is_none_or(|m| self.rows <= m);
                if ok {
                    LeafOutcome::pass(Some(rows))
                } else {
                    LeafOutcome::fail(0, Some(rows), format!("{} rows", self.rows))
                }
            }
            LeafKind::RowCount(e) => {
                if eval_num(e, rows) {
                    LeafOutcome::pass(Some(rows))
                } else {
                    LeafOutcome::fail(0, Some(rows), format!("RowCount is {}", self.rows))
                }
            }
            LeafKind::ColumnCount(e) => match self.column_count {
                Some(n) if eval_num(e, n as f64) => LeafOutcome::pass(Some(n as f64)),
                Some(n) => LeafOutcome::fail(0, Some(n as f64), format!("ColumnCount is {n}")),
                None => LeafOutcome::fail(0, None, "the number of columns is unknown".into()),
            },
            LeafKind::ColumnExists { col } => {
                if self.cols[*col].seen {
                    LeafOutcome::pass(None)
                } else {
                    LeafOutcome::fail(
                        0,
                        None,
                        format!("column {} does not exist", quoted_col(plan, *col)),
                    )
                }
            }
            LeafKind::IsComplete { col } | LeafKind::Completeness { col, .. } => {
                if let Some(o) = col_missing(*col) {
                    return o;
                }
                if st.evaluated == 0 {
                    return no_rows();
                }
                let frac = (st.evaluated - st.failed) as f64 / st.evaluated as f64;
                let ok = match &plan.leaves[li].kind {
                    LeafKind::Completeness { expr, .. } => eval_num(expr, frac),
                    _ => st.failed == 0,
                };
                if ok {
                    LeafOutcome::pass(Some(frac))
                } else {
                    LeafOutcome::fail(
                        st.failed,
                        Some(frac),
                        format!("Completeness is {frac} ({} NULLs)", st.failed),
                    )
                }
            }
            LeafKind::IsUnique { tracker }
            | LeafKind::Uniqueness { tracker, .. }
            | LeafKind::IsPrimaryKey { tracker } => {
                let def = &plan.trackers[*tracker];
                if let Some(o) = def.cols.iter().find_map(|&c| col_missing(c)) {
                    return o;
                }
                let ts = &self.trackers[*tracker];
                if ts.rows == 0 {
                    return no_rows();
                }
                let singles = ts.table.singles();
                let frac = singles as f64 / ts.rows as f64;
                let not_unique = ts.rows - singles;
                let (ok, failed) = match &plan.leaves[li].kind {
                    LeafKind::Uniqueness { expr, .. } => (eval_num(expr, frac), not_unique),
                    LeafKind::IsPrimaryKey { .. } => (
                        not_unique == 0 && ts.rows_with_null == 0,
                        not_unique.max(ts.rows_with_null),
                    ),
                    _ => (not_unique == 0, not_unique),
                };
                if ok {
                    LeafOutcome::pass(Some(frac))
                } else {
                    LeafOutcome::fail(
                        failed,
                        Some(frac),
                        format!(
                            "Uniqueness is {frac}: {not_unique} of {} rows do not hold a value that occurs exactly \
                             once ({} with NULL)",
                            ts.rows, ts.rows_with_null
                        ),
                    )
                }
            }
            LeafKind::RowFraction { col, threshold } => {
                if let Some(o) = col_missing(*col) {
                    return o;
                }
                if st.evaluated == 0 {
                    return no_rows();
                }
                let frac = (st.evaluated - st.failed) as f64 / st.evaluated as f64;
                let ok = match threshold {
                    Some(t) => eval_num(t, frac),
                    None => st.failed == 0,
                };
                if ok {
                    LeafOutcome::pass(Some(frac))
                } else {
                    LeafOutcome::fail(
                        st.failed,
                        Some(frac),
                        format!(
                            "{} of {} rows failed (passing fraction {frac})",
                            st.failed, st.evaluated
                        ),
                    )
                }
            }
        }
    }
}

fn quoted_col(plan: &Plan, c: usize) -> String {
    super::compile::quoted(&plan.columns[c].name)
}

fn leaf_column(plan: &Plan, kind: &LeafKind) -> Option<usize> {
    match kind {
        LeafKind::Unique { tracker }
        | LeafKind::IsUnique { tracker }
        | LeafKind::Uniqueness { tracker, .. }
        | LeafKind::IsPrimaryKey { tracker } => plan.trackers[*tracker].cols.first().copied(),
        LeafKind::Type { col }
        | LeafKind::NotNull { col }
        | LeafKind::Min { col }
        | LeafKind::Max { col }
        | LeafKind::Allowed { col }
        | LeafKind::Regex { col }
        | LeafKind::MinLength { col }
        | LeafKind::MaxLength { col }
        | LeafKind::ColumnExists { col }
        | LeafKind::IsComplete { col }
        | LeafKind::Completeness { col, .. }
        | LeafKind::RowFraction { col, .. } => Some(*col),
        _ => None,
    }
}

/// Record-structure rules.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Structural {
    WellFormed,
    Utf8,
    Size,
}

/// What the reader learned about the input, for the report.
pub(crate) struct Totals {
    pub source: String,
    pub format: &'static str,
    pub compression: &'static str,
    pub text_format: bool,
    pub bytes_read: u64,
    pub bytes_decoded: u64,
    pub fingerprint: String,
}

struct LeafOutcome {
    passed: bool,
    failed_rows: u64,
    measured: Option<f64>,
    message: Option<String>,
}

impl LeafOutcome {
    fn pass(measured: Option<f64>) -> Self {
        LeafOutcome {
            passed: true,
            failed_rows: 0,
            measured,
            message: None,
        }
    }
    fn fail(failed_rows: u64, measured: Option<f64>, message: String) -> Self {
        LeafOutcome {
            passed: false,
            failed_rows,
            measured,
            message: Some(message),
        }
    }
}

struct NodeOutcome {
    passed: bool,
    failed_rows: u64,
    measured: Option<f64>,
    message: Option<String>,
    failing: Vec<usize>,
}
