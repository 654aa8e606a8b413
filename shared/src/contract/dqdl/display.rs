//! Canonical DQDL text of a parsed rule: `parse` of it gives the same rule back; reports use it as the
//! rule's name.

use std::fmt;

use super::*;

/// A DQDL string literal: `"` and `\` escaped.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

/// A regex after `matches`: written as is, only `"` escaped (the inverse of how it is read).
struct QuotedRegex<'a>(&'a str);

impl fmt::Display for QuotedRegex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        })
    }
}

fn write_list<T>(f: &mut fmt::Formatter<'_>, items: &[T], item: impl Fn(&T) -> String) -> fmt::Result {
    let parts: Vec<String> = items.iter().map(item).collect();
    write!(f, "[{}]", parts.join(", "))
}

impl fmt::Display for NumExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumExpr::Cmp(op, x) => write!(f, "{op} {x}"),
            NumExpr::Between(a, b) => write!(f, "between {a} and {b}"),
            NumExpr::NotBetween(a, b) => write!(f, "not between {a} and {b}"),
            NumExpr::In(v) => {
                f.write_str("in ")?;
                write_list(f, v, |x| x.to_string())
            }
            NumExpr::NotIn(v) => {
                f.write_str("not in ")?;
                write_list(f, v, |x| x.to_string())
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(x) => write!(f, "{x}"),
            Literal::String(s) => write!(f, "{}", Quoted(s)),
            Literal::Null => f.write_str("NULL"),
            Literal::Empty => f.write_str("EMPTY"),
            Literal::WhitespacesOnly => f.write_str("WHITESPACES_ONLY"),
        }
    }
}

impl fmt::Display for ValueExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueExpr::Cmp(op, lit) => write!(f, "{op} {lit}"),
            ValueExpr::Between(a, b) => write!(f, "between {a} and {b}"),
            ValueExpr::NotBetween(a, b) => write!(f, "not between {a} and {b}"),
            ValueExpr::In(v) => {
                f.write_str("in ")?;
                write_list(f, v, Literal::to_string)
            }
            ValueExpr::NotIn(v) => {
                f.write_str("not in ")?;
                write_list(f, v, Literal::to_string)
            }
            ValueExpr::Matches(re) => write!(f, "matches {}", QuotedRegex(re)),
            ValueExpr::NotMatches(re) => write!(f, "not matches {}", QuotedRegex(re)),
        }
    }
}

impl fmt::Display for DqdlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn write_threshold(f: &mut fmt::Formatter<'_>, threshold: &Option<NumExpr>) -> fmt::Result {
    match threshold {
        Some(t) => write!(f, " with threshold {t}"),
        None => Ok(()),
    }
}

fn write_composite(f: &mut fmt::Formatter<'_>, rules: &[Rule], op: &str) -> fmt::Result {
    for (i, rule) in rules.iter().enumerate() {
        if i > 0 {
            write!(f, " {op} ")?;
        }
        write!(f, "({rule})")?;
    }
    Ok(())
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::RowCount(e) => write!(f, "RowCount {e}"),
            Rule::ColumnCount(e) => write!(f, "ColumnCount {e}"),
            Rule::ColumnExists(c) => write!(f, "ColumnExists {}", Quoted(c)),
            Rule::IsComplete(c) => write!(f, "IsComplete {}", Quoted(c)),
            Rule::Completeness(c, e) => write!(f, "Completeness {} {e}", Quoted(c)),
            Rule::IsUnique(c) => write!(f, "IsUnique {}", Quoted(c)),
            Rule::Uniqueness(c, e) => write!(f, "Uniqueness {} {e}", Quoted(c)),
            Rule::IsPrimaryKey(cols) => {
                f.write_str("IsPrimaryKey")?;
                for c in cols {
                    write!(f, " {}", Quoted(c))?;
                }
                Ok(())
            }
            Rule::ColumnValues {
                column,
                expr,
                threshold,
            } => {
                write!(f, "ColumnValues {} {expr}", Quoted(column))?;
                write_threshold(f, threshold)
            }
            Rule::ColumnLength {
                column,
                expr,
                threshold,
            } => {
                write!(f, "ColumnLength {} {expr}", Quoted(column))?;
                write_threshold(f, threshold)
            }
            Rule::ColumnDataType {
                column,
                ty,
                threshold,
            } => {
                write!(f, "ColumnDataType {} = \"{ty}\"", Quoted(column))?;
                write_threshold(f, threshold)
            }
            Rule::And(rules) => write_composite(f, rules, "and"),
            Rule::Or(rules) => write_composite(f, rules, "or"),
        }
    }
}

impl fmt::Display for Ruleset {
    /// A complete document, one rule per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rules = [\n")?;
        for (i, rule) in self.rules.iter().enumerate() {
            let sep = if i + 1 < self.rules.len() { "," } else { "" };
            writeln!(f, "    {rule}{sep}")?;
        }
        f.write_str("]\n")
    }
}
