//! DQDL semantics (AWS Glue Data Quality's reference), per value and per dataset.
//!
//! - `ColumnValues`: every expression except `!=` and `not in` fails NULL rows; `= NULL` / `in [NULL]`
//!   match NULLs, `!= NULL` / `not in [.., NULL]` reject them. `EMPTY` is the empty string (a CSV empty
//!   field is NULL, so `EMPTY` only occurs in JSON and Parquet), `WHITESPACES_ONLY` a non-empty string of
//!   whitespace. `between a and b` is exclusive, `not between` its negation. `matches` must match the whole
//!   value. Literals are read in the column's declared type: strings are dates/timestamps for date and
//!   timestamp columns (compared chronologically) and numbers for numeric columns; numbers are compared
//!   numerically (text values are parsed; a value that is not a number fails the comparison, and passes
//!   `!=` / `not in`).
//! - `ColumnLength`: length in characters; NULL counts as length 0.
//! - `ColumnDataType`: whether each non-NULL value can be read as the type (NULLs are not counted).
//! - Without `with threshold`, a row rule passes when every row passes; with it, when the fraction of
//!   passing rows satisfies the threshold. A fraction over zero rows is undefined: such rules fail.

use std::cmp::Ordering;

use regex::Regex;

use super::values::{
    date_micros_saturating, parse_bool, parse_date, parse_f64, parse_i64, parse_timestamp, Cell, Val,
};
use crate::contract::dqdl::{CmpOp, DqdlType, Literal, NumExpr, ValueExpr};
use crate::contract::ColumnType;

/// A `ColumnValues` literal resolved for the column's type.
#[derive(Debug, Clone)]
pub(crate) enum Lit {
    Num(f64),
    Text(String),
    /// Microseconds since the epoch.
    Time(i64),
    Bool(bool),
    Empty,
    Whitespace,
}

/// A compiled `ColumnValues` expression.
#[derive(Debug)]
pub(crate) enum ValuePred {
    IsNull,
    NotNull,
    Cmp(CmpOp, Lit),
    Between {
        lo: Lit,
        hi: Lit,
        negate: bool,
    },
    In {
        items: Vec<Lit>,
        null: bool,
        negate: bool,
    },
    Matches {
        re: Regex,
        negate: bool,
    },
}

fn lit(l: &Literal, ty: Option<ColumnType>) -> Result<Lit, String> {
    use ColumnType as T;
    Ok(match l {
        Literal::Number(x) => Lit::Num(*x),
        Literal::String(s) => match ty {
            Some(T::Date | T::Timestamp) => match parse_timestamp(s.as_bytes()) {
                Some(t) => Lit::Time(t),
                None => return Err(format!("{s:?} is not a date or timestamp")),
            },
            Some(T::Int | T::Float) => parse_f64(s).map(Lit::Num).unwrap_or_else(|| Lit::Text(s.clone())),
            Some(T::Bool) => parse_bool(s.as_bytes())
                .map(Lit::Bool)
                .unwrap_or_else(|| Lit::Text(s.clone())),
            Some(T::String) | None => Lit::Text(s.clone()),
        },
        Literal::Empty => Lit::Empty,
        Literal::WhitespacesOnly => Lit::Whitespace,
        Literal::Null => return Err("NULL is only allowed with =, != and in / not in".into()),
    })
}

fn ordered(l: &Lit) -> Result<(), String> {
    match l {
        Lit::Empty | Lit::Whitespace => Err("EMPTY and WHITESPACES_ONLY have no order".into()),
        Lit::Bool(_) => Err("booleans have no order".into()),
        _ => Ok(()),
    }
}

/// Compile a `ColumnValues` expression against a column of type `ty` (`None`: undeclared column).
pub(crate) fn compile_value_expr(e: &ValueExpr, ty: Option<ColumnType>) -> Result<ValuePred, String> {
    Ok(match e {
        ValueExpr::Cmp(CmpOp::Eq, Literal::Null) => ValuePred::IsNull,
        ValueExpr::Cmp(CmpOp::Ne, Literal::Null) => ValuePred::NotNull,
        ValueExpr::Cmp(op, l) => {
            let l = lit(l, ty)?;
            if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                ordered(&l)?;
            }
            ValuePred::Cmp(*op, l)
        }
        ValueExpr::Between(a, b) | ValueExpr::NotBetween(a, b) => {
            let (lo, hi) = (lit(a, ty)?, lit(b, ty)?);
            ordered(&lo)?;
            ordered(&hi)?;
            ValuePred::Between {
                lo,
                hi,
                negate: matches!(e, ValueExpr::NotBetween(..)),
            }
        }
        ValueExpr::In(list) | ValueExpr::NotIn(list) => {
            let null = list.iter().any(|l| matches!(l, Literal::Null));
            let items = list
                .iter()
                .filter(|l| !matches!(l, Literal::Null))
                .map(|l| lit(l, ty))
                .collect::<Result<Vec<_>, _>>()?;
            ValuePred::In {
                items,
                null,
                negate: matches!(e, ValueExpr::NotIn(_)),
            }
        }
        ValueExpr::Matches(p) | ValueExpr::NotMatches(p) => ValuePred::Matches {
            re: crate::contract::compile_regex(&format!("^(?:{p})$"))
                .map_err(|err| format!("bad regex: {err}"))?,
            negate: matches!(e, ValueExpr::NotMatches(_)),
        },
    })
}

fn number_of(cell: &Cell, val: Option<&Val>) -> Option<f64> {
    if let Some(n) = val.and_then(Val::number) {
        return Some(n);
    }
    match *cell {
        Cell::Int(i) => Some(i as f64),
        Cell::Float(f) => Some(f),
        Cell::Text(s) | Cell::Str(s) => parse_f64(s),
        _ => None,
    }
}

fn micros_of(cell: &Cell, val: Option<&Val>) -> Option<i64> {
    if let Some(t) = val.and_then(Val::micros) {
        return Some(t);
    }
    match *cell {
        Cell::Date(d) => Some(date_micros_saturating(d)),
        Cell::Timestamp(t) => Some(t),
        Cell::Text(s) | Cell::Str(s) => parse_timestamp(s.as_bytes()),
        _ => None,
    }
}

fn bool_of(cell: &Cell, val: Option<&Val>) -> Option<bool> {
    match (val.copied(), *cell) {
        (Some(Val::Bool(b)), _) | (_, Cell::Bool(b)) => Some(b),
        (_, Cell::Text(s) | Cell::Str(s)) => parse_bool(s.as_bytes()),
        _ => None,
    }
}

fn is_whitespace_only(s: &str) -> bool {
    !s.is_empty() && s.chars().all(char::is_whitespace)
}

/// The (non-NULL) value compared with the literal; `None` when they cannot be compared.
fn compare(l: &Lit, cell: &Cell, val: Option<&Val>, scratch: &mut String) -> Option<Ordering> {
    match l {
        Lit::Num(x) => number_of(cell, val)?.partial_cmp(x),
        Lit::Time(t) => Some(micros_of(cell, val)?.cmp(t)),
        Lit::Bool(b) => Some(bool_of(cell, val)?.cmp(b)),
        Lit::Text(s) => Some(cell.text(scratch).cmp(s.as_str())),
        Lit::Empty => Some(if cell.text(scratch).is_empty() {
            Ordering::Equal
        } else {
            Ordering::Greater
        }),
        Lit::Whitespace => Some(if is_whitespace_only(cell.text(scratch)) {
            Ordering::Equal
        } else {
            Ordering::Greater
        }),
    }
}

fn cmp_holds(op: CmpOp, o: Option<Ordering>) -> bool {
    match op {
        CmpOp::Eq => o == Some(Ordering::Equal),
        CmpOp::Ne => o != Some(Ordering::Equal),
        CmpOp::Gt => o == Some(Ordering::Greater),
        CmpOp::Ge => matches!(o, Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Lt => o == Some(Ordering::Less),
        CmpOp::Le => matches!(o, Some(Ordering::Less | Ordering::Equal)),
    }
}

/// Whether one row passes a `ColumnValues` expression. `null` says whether the value is NULL; `val` is the
/// value read in the column's declared type when that succeeded.
pub(crate) fn eval_value(
    pred: &ValuePred,
    null: bool,
    cell: &Cell,
    val: Option<&Val>,
    scratch: &mut String,
) -> bool {
    match pred {
        ValuePred::IsNull => null,
        ValuePred::NotNull => !null,
        ValuePred::Cmp(op, l) => {
            if null {
                *op == CmpOp::Ne
            } else {
                cmp_holds(*op, compare(l, cell, val, scratch))
            }
        }
        ValuePred::Between { lo, hi, negate } => {
            if null {
                return false;
            }
            let a = compare(lo, cell, val, scratch);
            let b = compare(hi, cell, val, scratch);
            if *negate {
                matches!(a, Some(Ordering::Less | Ordering::Equal))
                    || matches!(b, Some(Ordering::Greater | Ordering::Equal))
            } else {
                a == Some(Ordering::Greater) && b == Some(Ordering::Less)
            }
        }
        ValuePred::In {
            items,
            null: has_null,
            negate,
        } => {
            let found = if null {
                *has_null
            } else {
                items
                    .iter()
                    .any(|l| compare(l, cell, val, scratch) == Some(Ordering::Equal))
            };
            found != *negate
        }
        ValuePred::Matches { re, negate } => !null && re.is_match(cell.text(scratch)) != *negate,
    }
}

/// `ColumnLength`: characters of the value, NULL = 0.
pub(crate) fn eval_length(expr: &NumExpr, null: bool, cell: &Cell, scratch: &mut String) -> bool {
    let len = if null {
        0
    } else {
        cell.text(scratch).chars().count()
    };
    eval_num(expr, len as f64)
}

/// `ColumnDataType`: whether a non-NULL value can be read as `ty`.
pub(crate) fn is_type(ty: DqdlType, cell: &Cell) -> bool {
    let fits_i32 = |i: i64| i32::try_from(i).is_ok();
    match (ty, *cell) {
        (DqdlType::String, _) => true,
        (DqdlType::Boolean, Cell::Bool(_)) => true,
        (DqdlType::Date, Cell::Date(_)) => true,
        (DqdlType::Timestamp, Cell::Timestamp(_) | Cell::Date(_)) => true,
        (DqdlType::Integer, Cell::Int(i)) => fits_i32(i),
        (DqdlType::Long, Cell::Int(_)) => true,
        (DqdlType::Double | DqdlType::Float, Cell::Int(_) | Cell::Float(_)) => true,
        (_, Cell::Text(s) | Cell::Str(s)) => {
            let b = s.as_bytes();
            match ty {
                DqdlType::Boolean => parse_bool(b).is_some(),
                DqdlType::Date => parse_date(b).is_some(),
                DqdlType::Timestamp => parse_timestamp(b).is_some(),
                DqdlType::Integer => parse_i64(b).is_some_and(fits_i32),
                DqdlType::Long => parse_i64(b).is_some(),
                DqdlType::Double | DqdlType::Float => parse_f64(s).is_some(),
                DqdlType::String => true,
            }
        }
        _ => false,
    }
}

/// A numeric expression applied to a measured number.
pub(crate) fn eval_num(e: &NumExpr, x: f64) -> bool {
    match e {
        NumExpr::Cmp(op, v) => cmp_holds(*op, x.partial_cmp(v)),
        NumExpr::Between(lo, hi) => x > *lo && x < *hi,
        NumExpr::NotBetween(lo, hi) => x <= *lo || x >= *hi,
        NumExpr::In(vs) => vs.contains(&x),
        NumExpr::NotIn(vs) => !vs.contains(&x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(e: ValueExpr, ty: Option<ColumnType>) -> ValuePred {
        compile_value_expr(&e, ty).unwrap()
    }

    fn eval(p: &ValuePred, cell: Cell) -> bool {
        let null = cell.is_null();
        eval_value(p, null, &cell, None, &mut String::new())
    }

    #[test]
    fn null_semantics() {
        let gt = pred(
            ValueExpr::Cmp(CmpOp::Gt, Literal::Number(21.0)),
            Some(ColumnType::Int),
        );
        let ne = pred(
            ValueExpr::Cmp(CmpOp::Ne, Literal::Number(21.0)),
            Some(ColumnType::Int),
        );
        let not_in = pred(
            ValueExpr::NotIn(vec![Literal::Number(21.0), Literal::Number(22.0)]),
            None,
        );
        let not_in_null = pred(ValueExpr::NotIn(vec![Literal::Number(21.0), Literal::Null]), None);
        let in_null = pred(
            ValueExpr::In(vec![Literal::String("a".into()), Literal::Null]),
            None,
        );
        let is_null = pred(ValueExpr::Cmp(CmpOp::Eq, Literal::Null), None);
        let not_null = pred(ValueExpr::Cmp(CmpOp::Ne, Literal::Null), None);
        let between = pred(
            ValueExpr::NotBetween(Literal::Number(1.0), Literal::Number(2.0)),
            None,
        );
        for null in [Cell::Null, Cell::Text("")] {
            assert!(!eval(&gt, null));
            assert!(eval(&ne, null));
            assert!(eval(&not_in, null));
            assert!(!eval(&not_in_null, null));
            assert!(eval(&in_null, null));
            assert!(eval(&is_null, null));
            assert!(!eval(&not_null, null));
            assert!(!eval(&between, null));
        }
        assert!(eval(&gt, Cell::Text("22")));
        assert!(!eval(&gt, Cell::Text("21")));
        assert!(!eval(&gt, Cell::Text("abc")));
        assert!(eval(&ne, Cell::Text("abc")));
        assert!(!eval(&ne, Cell::Int(21)));
        assert!(eval(&in_null, Cell::Str("a")));
        assert!(!eval(&in_null, Cell::Str("b")));
    }

    #[test]
    fn between_is_exclusive() {
        let b = pred(
            ValueExpr::Between(Literal::Number(1.0), Literal::Number(5.0)),
            None,
        );
        let nb = pred(
            ValueExpr::NotBetween(Literal::Number(1.0), Literal::Number(5.0)),
            None,
        );
        for (v, inside) in [
            ("0", false),
            ("1", false),
            ("1.5", true),
            ("5", false),
            ("6", false),
        ] {
            assert_eq!(eval(&b, Cell::Text(v)), inside, "{v}");
            assert_eq!(eval(&nb, Cell::Text(v)), !inside, "{v}");
        }
        assert!(!eval_num(&NumExpr::Between(0.0, 1.0), 1.0));
        assert!(eval_num(&NumExpr::NotBetween(0.0, 1.0), 1.0));
    }

    #[test]
    fn dates_compare_chronologically() {
        let after = pred(
            ValueExpr::Cmp(CmpOp::Gt, Literal::String("2024-01-01".into())),
            Some(ColumnType::Timestamp),
        );
        assert!(eval(&after, Cell::Text("2024-01-01T00:00:01Z")));
        assert!(!eval(&after, Cell::Text("2023-12-31T23:00:00-00:30")));
        assert!(eval(&after, Cell::Text("2024-01-01T00:00:00-01:00")));
        assert!(compile_value_expr(
            &ValueExpr::Cmp(CmpOp::Gt, Literal::String("yesterday".into())),
            Some(ColumnType::Date)
        )
        .is_err());
    }

    #[test]
    fn empty_whitespace_and_regex() {
        let empty = pred(ValueExpr::Cmp(CmpOp::Eq, Literal::Empty), None);
        let ws = pred(ValueExpr::In(vec![Literal::WhitespacesOnly]), None);
        assert!(eval(&empty, Cell::Str("")));
        assert!(!eval(&empty, Cell::Str(" ")));
        assert!(eval(&ws, Cell::Str(" \t")));
        assert!(!eval(&ws, Cell::Str("")));
        let m = pred(ValueExpr::Matches("[a-z]+".into()), None);
        assert!(eval(&m, Cell::Text("abc")));
        assert!(!eval(&m, Cell::Text("abc1")), "whole value must match");
        let nm = pred(ValueExpr::NotMatches("[a-z]+".into()), None);
        assert!(eval(&nm, Cell::Text("abc1")));
        assert!(!eval(&nm, Cell::Null));
        assert!(compile_value_expr(&ValueExpr::Cmp(CmpOp::Gt, Literal::Empty), None).is_err());
    }

    #[test]
    fn lengths_and_types() {
        let e = NumExpr::Cmp(CmpOp::Le, 3.0);
        assert!(eval_length(&e, true, &Cell::Null, &mut String::new()));
        assert!(eval_length(&e, false, &Cell::Text("héé"), &mut String::new()));
        assert!(!eval_length(&e, false, &Cell::Text("abcd"), &mut String::new()));
        assert!(eval_length(&e, false, &Cell::Int(123), &mut String::new()));
        assert!(is_type(DqdlType::Integer, &Cell::Text("12")));
        assert!(!is_type(DqdlType::Integer, &Cell::Text("3000000000")));
        assert!(is_type(DqdlType::Long, &Cell::Text("3000000000")));
        assert!(is_type(DqdlType::Double, &Cell::Text("1e3")));
        assert!(!is_type(DqdlType::Date, &Cell::Text("2024-02-30")));
        assert!(is_type(DqdlType::Timestamp, &Cell::Text("2024-02-03 10:00")));
        assert!(is_type(DqdlType::Boolean, &Cell::Bool(true)));
        assert!(!is_type(DqdlType::Boolean, &Cell::Int(1)));
    }
}
