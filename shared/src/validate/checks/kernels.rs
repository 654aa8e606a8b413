//! Per-field check kernels, one per (type, rule) pair the plan compiles, so the hot loop calls one
//! function per field instead of matching on the rule.

use super::{Cell, FieldOp, Run};
use crate::validate::compile::Fast;

macro_rules! kernel {
    ($name:ident, $kind:pat) => {
        pub(super) fn $name(run: &mut Run<'_>, op: &FieldOp, s: &str, pad: &[u8]) {
            let loc = run.loc;
            match op.fast {
                // The kind is known here, so the match inside `text_fast` folds away.
                Some(f @ $kind) => run.text_fast(op.ci, f, s, pad, &loc),
                _ => run.text(op.ci, s, pad, &loc),
            }
        }
    };
}
kernel!(int, Fast::Int { .. });
kernel!(float, Fast::Float { .. });
kernel!(bool, Fast::Bool);
kernel!(date, Fast::Date { .. });
kernel!(ts, Fast::Ts { .. });
kernel!(str, Fast::Str { .. });

pub(super) fn cell(run: &mut Run<'_>, op: &FieldOp, s: &str, _pad: &[u8]) {
    let loc = run.loc;
    run.cell(op.ci, Cell::Text(s), &loc);
}

/// Hot kernels, for a column whose value no uniqueness rule needs and whose rules are all in its
/// [`Fast`] kind (plus, for strings, an allowed list and a fixed-class regex). Each one accepts only the
/// common case: a value in its parser's short form (at most 8 digits, the canonical timestamp) that
/// passes every check. It commits nothing until then, and hands any other value to [`slow`], the
/// general [`Run::text`], which parses it fully and reports it. So the hot path carries no fallback
/// parser, no failure reporting and no lookup of the column's plan (string columns without an allowed
/// list or a regex), and takes one decision per value. callgrind on the benchmark's 20 MB CSV: 469 M
/// → 434 M instructions (−7.5 %).
///
/// Each kind also has a column kernel (`*_col`, a [`ColKernel`](super::ColKernel)) with the same
/// common path in a loop over a batch of records, which defers the other values instead of calling
/// `slow`. callgrind on the same CSV: 413 M → 335 M instructions (−19 %).
pub(super) mod hot {
    use super::super::{allowed_str, padded_prefix8, Batch, ColState, FieldOp, Run, Stats};
    use crate::validate::compile::{Allowed, ColPlan, Fast};
    use crate::validate::swar;
    use crate::validate::values::{parse_bool, parse_date, parse_timestamp_canonical};

    /// An empty value in a column that allows NULL: counted, and the kernel is done.
    #[inline(always)]
    fn allowed_null(st: &mut ColState, op: &FieldOp, s: &str) -> bool {
        let null = s.is_empty() && op.null_ok;
        if null {
            st.nulls += 1;
            st.hash = None;
        }
        null
    }

    /// Anything but the common path.
    #[cold]
    #[inline(never)]
    fn slow(run: &mut Run<'_>, op: &FieldOp, s: &str, pad: &[u8]) {
        let loc = run.loc;
        run.text(op.ci, s, pad, &loc)
    }

    /// The common path of a one-value kind: an allowed NULL, or a value `parse` gives that passes `ok`,
    /// counted and given to `stat`. `false`: the general path must see the value.
    #[inline(always)]
    fn take_value<V: Copy>(
        st: &mut ColState,
        op: &FieldOp,
        s: &str,
        pad: &[u8],
        parse: impl Fn(&str, &[u8]) -> Option<V>,
        ok: impl Fn(V) -> bool,
        stat: impl Fn(&mut Stats, V),
    ) -> bool {
        if allowed_null(st, op, s) {
            return true;
        }
        match parse(s, pad) {
            Some(v) if ok(v) => {
                st.count += 1;
                stat(&mut st.stats, v);
                true
            }
            _ => false,
        }
    }

    /// The kernels for a one-value kind, a value and a column at a time: the column's `Fast` kind
    /// matches `$kind`, `$parse` gives the value, `$ok` says whether it passes every check, and
    /// `Stats::$stat` takes it.
    macro_rules! hot_value {
        ($name:ident, $col:ident, $kind:pat, $parse:expr, $ok:expr, $stat:ident) => {
            pub(in super::super) fn $name(run: &mut Run<'_>, op: &FieldOp, s: &str, pad: &[u8]) {
                let (Some($kind), Some(st)) = (op.fast, run.cols.get_mut(op.ci)) else {
                    return slow(run, op, s, pad);
                };
                if !take_value(st, op, s, pad, $parse, $ok, |t: &mut Stats, v| {
                    t.$stat(v.into())
                }) {
                    slow(run, op, s, pad)
                }
            }

            pub(in super::super) fn $col(
                run: &mut Run<'_>,
                op: &FieldOp,
                k: u32,
                b: &Batch<'_>,
                deferred: &mut Vec<u64>,
            ) {
                let (Some($kind), Some(st)) = (op.fast, run.cols.get_mut(op.ci)) else {
                    return b.defer_all(k, deferred);
                };
                b.column(st, op.fi, k, deferred, |st, s, pad| {
                    take_value(st, op, s, pad, $parse, $ok, |t: &mut Stats, v| {
                        t.$stat(v.into())
                    })
                });
            }
        };
    }
    // The parsers' short forms only: anything longer or unusual is parsed again, fully, by `slow`.
    hot_value!(
        int,
        int_col,
        Fast::Int { min, max },
        |s: &str, pad: &[u8]| swar::int_short(s.as_bytes(), pad),
        |v| v >= min && v <= max,
        int
    );
    hot_value!(
        date,
        date_col,
        Fast::Date { min, max },
        |s: &str, _: &[u8]| parse_date(s.as_bytes()),
        |v| v >= min && v <= max,
        int
    );
    hot_value!(
        ts,
        ts_col,
        Fast::Ts { min, max },
        |s: &str, _: &[u8]| parse_timestamp_canonical(s.as_bytes()),
        |v| v >= min && v <= max,
        int
    );
    // NaN is in no range: the general path reports it.
    hot_value!(
        float,
        float_col,
        Fast::Float { min, max },
        |s: &str, pad: &[u8]| swar::float_short(s, pad),
        |v: f64| (min..=max).contains(&v),
        float
    );
    hot_value!(
        bool,
        bool_col,
        Fast::Bool,
        |s: &str, _: &[u8]| parse_bool(s.as_bytes()),
        |_| true,
        int
    );

    pub(in super::super) fn str(run: &mut Run<'_>, op: &FieldOp, s: &str, pad: &[u8]) {
        let (Some(Fast::Str { min_len, max_len }), Some(st)) = (op.fast, run.cols.get_mut(op.ci)) else {
            return slow(run, op, s, pad);
        };
        if !take_str(st, op, None, s, pad, min_len, max_len) {
            slow(run, op, s, pad)
        }
    }

    pub(in super::super) fn str_col(
        run: &mut Run<'_>,
        op: &FieldOp,
        k: u32,
        b: &Batch<'_>,
        deferred: &mut Vec<u64>,
    ) {
        let (Some(Fast::Str { min_len, max_len }), Some(st)) = (op.fast, run.cols.get_mut(op.ci)) else {
            return b.defer_all(k, deferred);
        };
        b.column(st, op.fi, k, deferred, |st, s, pad| {
            take_str(st, op, None, s, pad, min_len, max_len)
        });
    }

    /// A string value: its length and, with `checks` (the column's plan), its allowed list and its
    /// fixed-class regex. `None`: a column with neither, whose kernel need not look up its plan.
    #[inline(always)]
    fn take_str(
        st: &mut ColState,
        op: &FieldOp,
        checks: Option<&ColPlan>,
        s: &str,
        pad: &[u8],
        min_len: u64,
        max_len: u64,
    ) -> bool {
        if allowed_null(st, op, s) {
            return true;
        }
        let prefix = padded_prefix8(s, pad);
        // A `match`, not `is_none_or`: its closure was not inlined (callgrind: +7 M instructions).
        let checked = match checks {
            None => true,
            Some(p) => {
                p.regex.as_ref().is_none_or(|(re, _)| re.is_fixed_match(s, pad))
                    && match &p.allowed {
                        None => true,
                        Some((Allowed::Str(list), _)) => allowed_str(list, s, prefix),
                        Some(_) => false,
                    }
            }
        };
        if !(checked && length_ok(s, min_len, max_len)) {
            return false;
        }
        st.count += 1;
        // Last, so that its rare call to move the min or max is a tail call.
        st.stats.str_prefixed(s, prefix);
        true
    }

    pub(in super::super) fn str_checked(run: &mut Run<'_>, op: &FieldOp, s: &str, pad: &[u8]) {
        let plan = run.plan;
        let (Some(Fast::Str { min_len, max_len }), Some(p), Some(st)) =
            (op.fast, plan.columns.get(op.ci), run.cols.get_mut(op.ci))
        else {
            return slow(run, op, s, pad);
        };
        if !take_str(st, op, Some(p), s, pad, min_len, max_len) {
            slow(run, op, s, pad)
        }
    }

    pub(in super::super) fn str_checked_col(
        run: &mut Run<'_>,
        op: &FieldOp,
        k: u32,
        b: &Batch<'_>,
        deferred: &mut Vec<u64>,
    ) {
        let plan = run.plan;
        let (Some(Fast::Str { min_len, max_len }), Some(p), Some(st)) =
            (op.fast, plan.columns.get(op.ci), run.cols.get_mut(op.ci))
        else {
            return b.defer_all(k, deferred);
        };
        b.column(st, op.fi, k, deferred, |st, s, pad| {
            take_str(st, op, Some(p), s, pad, min_len, max_len)
        });
    }

    /// Surely within the length bounds (in characters) without counting them: characters are at
    /// least bytes / 4 and at most bytes, as in `Run::text_fast`. An empty value is not (NULL).
    #[inline(always)]
    fn length_ok(s: &str, min_len: u64, max_len: u64) -> bool {
        let n = s.len() as u64;
        n != 0 && n <= max_len && (n >= min_len.saturating_mul(4) || (n >= min_len && s.is_ascii()))
    }
}
