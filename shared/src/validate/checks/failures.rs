//! What a failed check records: the violation with its row, column, byte offset and value, and the
//! comparisons behind bounds and allowed values.

use super::*;

/// A fast-path value outside `[min, max]` (`below`: under the minimum; NaN counts as below).
#[allow(clippy::too_many_arguments)]
#[cold]
#[inline(never)]
pub(super) fn range_fail(
    leaves: &mut Leaves,
    plan: &Plan,
    max_examples: usize,
    p: &ColPlan,
    ci: usize,
    below: bool,
    s: &str,
    loc: &Loc,
) {
    let (leaf, msg) = match (below, &p.min, &p.max) {
        (true, Some((_, l)), _) => (*l, "below the minimum"),
        (_, _, Some((_, l))) => (*l, "above the maximum"),
        _ => return,
    };
    fail(
        leaves,
        plan,
        max_examples,
        leaf,
        loc,
        Some(ci),
        || Some(truncate(s).to_string()),
        || msg.into(),
    );
}

/// A fast-path string whose byte length is outside the bounds: count characters to be sure.
#[allow(clippy::too_many_arguments)]
#[cold]
#[inline(never)]
pub(super) fn length_fail(
    leaves: &mut Leaves,
    plan: &Plan,
    max_examples: usize,
    p: &ColPlan,
    ci: usize,
    s: &str,
    loc: &Loc,
) {
    let chars = s.chars().count() as u64;
    if let Some((n, leaf)) = p.min_len {
        if chars < n {
            fail(
                leaves,
                plan,
                max_examples,
                leaf,
                loc,
                Some(ci),
                || Some(truncate(s).to_string()),
                || format!("shorter than {n} characters"),
            );
        }
    }
    if let Some((n, leaf)) = p.max_len {
        if chars > n {
            fail(
                leaves,
                plan,
                max_examples,
                leaf,
                loc,
                Some(ci),
                || Some(truncate(s).to_string()),
                || format!("longer than {n} characters"),
            );
        }
    }
}

#[cold]
#[inline(never)]
pub(super) fn regex_fail(
    leaves: &mut Leaves,
    plan: &Plan,
    max_examples: usize,
    ci: usize,
    leaf: usize,
    s: &str,
    loc: &Loc,
) {
    fail(
        leaves,
        plan,
        max_examples,
        leaf,
        loc,
        Some(ci),
        || Some(truncate(s).to_string()),
        || "does not match the regex".into(),
    );
}

#[cold]
#[inline(never)]
pub(super) fn type_fail(
    leaves: &mut Leaves,
    plan: &Plan,
    max_examples: usize,
    p: &ColPlan,
    ci: usize,
    s: &str,
    loc: &Loc,
) {
    if let (Some(leaf), Some(ty)) = (p.type_leaf, p.ty) {
        fail(
            leaves,
            plan,
            max_examples,
            leaf,
            loc,
            Some(ci),
            || Some(truncate(s).to_string()),
            || format!("not a valid {}", type_name(ty)),
        );
    }
}

/// Count a failing row for `leaf` and keep it as an example while there is room.
#[allow(clippy::too_many_arguments)]
#[cold]
pub(super) fn fail(
    leaves: &mut Leaves,
    plan: &Plan,
    max_examples: usize,
    leaf: usize,
    loc: &Loc,
    column: Option<usize>,
    value: impl FnOnce() -> Option<String>,
    message: impl FnOnce() -> String,
) {
    leaves[leaf].failed += 1;
    leaves.mark(leaf);
    if leaves[leaf].examples.len() < max_examples {
        let value = value();
        example(leaves, plan, max_examples, leaf, loc, column, value, message);
    }
}

/// Keep an example without counting it (the rule's count is computed at the end).
#[allow(clippy::too_many_arguments)]
pub(super) fn example(
    leaves: &mut Leaves,
    plan: &Plan,
    max_examples: usize,
    leaf: usize,
    loc: &Loc,
    column: Option<usize>,
    value: Option<String>,
    message: impl FnOnce() -> String,
) {
    let st = &mut leaves[leaf];
    if st.examples.len() >= max_examples {
        return;
    }
    st.examples.push(Violation {
        row: loc.row,
        column: column.map(|c| plan.columns[c].name.clone()),
        byte_offset: loc.byte_offset,
        row_group: loc.row_group,
        value,
        rule: plan.rules[plan.leaves[leaf].top].name.clone(),
        message: message(),
    });
}

#[inline]
pub(super) fn bound_ok(v: &Val, b: &Bound, is_min: bool) -> bool {
    use std::cmp::Ordering;
    let o = match (*v, b) {
        (Val::Int(i), Bound::Int(x)) => Some(i.cmp(x)),
        (Val::Float(f), Bound::Float(x)) => f.partial_cmp(x),
        (Val::Date(d), Bound::Date(x)) => Some(d.cmp(x)),
        (Val::Ts(t), Bound::Ts(x)) => Some(t.cmp(x)),
        (Val::Str(s), Bound::Str(x)) => Some(s.cmp(x.as_str())),
        _ => return true,
    };
    match o {
        Some(Ordering::Equal) => true,
        Some(Ordering::Greater) => is_min,
        Some(Ordering::Less) => !is_min,
        // NaN is outside every range.
        None => false,
    }
}

#[inline]
pub(super) fn allowed_ok(v: &Val, a: &Allowed) -> bool {
    match (*v, a) {
        (Val::Str(s), Allowed::Str(list)) => allowed_str(list, s, prefix8(s)),
        (Val::Int(i), Allowed::Int(list)) => list.binary_search(&i).is_ok(),
        (Val::Float(f), Allowed::Float(list)) => list.contains(&f),
        (Val::Bool(b), Allowed::Bool(list)) => list.contains(&b),
        (Val::Date(d), Allowed::Date(list)) => list.binary_search(&d).is_ok(),
        (Val::Ts(t), Allowed::Ts(list)) => list.binary_search(&t).is_ok(),
        _ => true,
    }
}

/// Whether `s` (with its [`prefix8`] `p`) is in the allowed list.
#[inline(always)]
pub(super) fn allowed_str(list: &[(usize, u64, String)], s: &str, p: u64) -> bool {
    if list.len() <= 16 {
        list.iter()
            .any(|(n, xp, x)| *n == s.len() && *xp == p && (*n <= 8 || x == s))
    } else {
        list.binary_search_by(|(_, _, x)| x.as_str().cmp(s)).is_ok()
    }
}

/// [`prefix8`] of `s`, loaded as one word from `pad` (`s` and the bytes after it) when it is long enough.
#[inline]
pub(super) fn padded_prefix8(s: &str, pad: &[u8]) -> u64 {
    match pad.first_chunk::<8>() {
        Some(w) if s.len() >= 8 => u64::from_be_bytes(*w),
        // Keep the first `len` bytes: the rest reads as zero padding.
        Some(w) => u64::from_be_bytes(*w) & !(u64::MAX >> (8 * s.len())),
        None => prefix8(s),
    }
}

#[cold]
#[inline(never)]
pub(super) fn allowed_fail(
    leaves: &mut Leaves,
    plan: &Plan,
    max_examples: usize,
    ci: usize,
    leaf: usize,
    s: &str,
    loc: &Loc,
) {
    fail(
        leaves,
        plan,
        max_examples,
        leaf,
        loc,
        Some(ci),
        || Some(truncate(s).to_string()),
        || "not an allowed value".into(),
    );
}
