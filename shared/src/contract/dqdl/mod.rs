//! AWS Glue Data Quality's DQDL: the subset greenpipe runs in a Lambda instead of a Spark cluster.
//!
//! Semantics follow AWS's DQDL reference: rule and keyword names are case sensitive; composite rules
//! (`(A) and (B)`, `(A) or (B)`) evaluate each side over the whole dataset, then combine; for
//! `ColumnValues` every rule except `!=` and `not in` fails NULL rows; `with threshold <cmp> <x>` turns a
//! row rule into "the fraction of passing rows satisfies <cmp> <x>"; `between a and b` excludes its
//! bounds (AWS's reference implementation compares `a < x < b`) and `not between` is its negation.
//!
//! [`parse`] reads a `Rules = [ ... ]` document into a [`Ruleset`]. Anything outside the subset (other
//! rule types, `where` clauses, dynamic `last()` / `now()` expressions, labels, variables) is a
//! [`DqdlError::Unsupported`] error that names it: a rule is never silently dropped. `Display` on
//! [`Rule`] prints canonical DQDL (`parse` of it gives the same rule back); reports use it as the rule
//! name.

use serde::{Deserialize, Serialize};

pub use parser::parse;

mod display;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

/// A parsed `Rules = [ ... ]` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ruleset {
    pub rules: Vec<Rule>,
}

/// One DQDL rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Rule {
    /// `RowCount <num-expr>`
    RowCount(NumExpr),
    /// `ColumnCount <num-expr>`
    ColumnCount(NumExpr),
    /// `ColumnExists "col"`
    ColumnExists(String),
    /// `IsComplete "col"`: no NULL values.
    IsComplete(String),
    /// `Completeness "col" <num-expr>`: fraction of non-NULL values.
    Completeness(String, NumExpr),
    /// `IsUnique "col"`: every value distinct.
    IsUnique(String),
    /// `Uniqueness "col" <num-expr>`: fraction of values that occur exactly once.
    Uniqueness(String, NumExpr),
    /// `IsPrimaryKey "a" ["b" ...]`: complete and unique (over the combination of columns).
    IsPrimaryKey(Vec<String>),
    /// `ColumnValues "col" <value-expr> [with threshold <num-expr>]`
    ColumnValues {
        column: String,
        expr: ValueExpr,
        threshold: Option<NumExpr>,
    },
    /// `ColumnLength "col" <num-expr> [with threshold <num-expr>]`: length (in characters) of each value.
    /// AWS counts a NULL as a string of length 0. `with threshold` is a greenpipe extension (AWS accepts
    /// it on `ColumnValues` and `ColumnDataType` only).
    ColumnLength {
        column: String,
        expr: NumExpr,
        threshold: Option<NumExpr>,
    },
    /// `ColumnDataType "col" = "TYPE" [with threshold <num-expr>]`: values parse as TYPE.
    ColumnDataType {
        column: String,
        ty: DqdlType,
        threshold: Option<NumExpr>,
    },
    /// `(A) and (B) [and (C) ...]`
    And(Vec<Rule>),
    /// `(A) or (B) [or (C) ...]`
    Or(Vec<Rule>),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A numeric expression applied to a number (a count, a fraction, a length).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NumExpr {
    Cmp(CmpOp, f64),
    /// Exclusive: `lo < x < hi`.
    Between(f64, f64),
    /// The negation of `Between`: `x <= lo || x >= hi`.
    NotBetween(f64, f64),
    In(Vec<f64>),
    NotIn(Vec<f64>),
}

/// A literal in a `ColumnValues` expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    Number(f64),
    /// A quoted string; also used for dates and timestamps (`"2026-01-01"`), compared as such when the
    /// column is declared as a date/timestamp.
    String(String),
    /// `NULL`
    Null,
    /// `EMPTY`: the empty string.
    Empty,
    /// `WHITESPACES_ONLY`: a non-empty string of only whitespace.
    WhitespacesOnly,
}

/// A value expression in `ColumnValues`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ValueExpr {
    Cmp(CmpOp, Literal),
    /// Exclusive, like [`NumExpr::Between`]; both bounds are numbers or both are strings.
    Between(Literal, Literal),
    NotBetween(Literal, Literal),
    In(Vec<Literal>),
    NotIn(Vec<Literal>),
    /// `matches "regex"`: the whole value must match.
    Matches(String),
    /// `not matches "regex"`
    NotMatches(String),
}

/// Types accepted by `ColumnDataType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DqdlType {
    Boolean,
    Date,
    Timestamp,
    Integer,
    Double,
    Float,
    Long,
    String,
}

impl DqdlType {
    const ALL: [DqdlType; 8] = [
        DqdlType::Boolean,
        DqdlType::Date,
        DqdlType::Timestamp,
        DqdlType::Integer,
        DqdlType::Double,
        DqdlType::Float,
        DqdlType::Long,
        DqdlType::String,
    ];

    /// The canonical (upper-case) DQDL spelling, e.g. `INTEGER`.
    pub fn name(self) -> &'static str {
        match self {
            DqdlType::Boolean => "BOOLEAN",
            DqdlType::Date => "DATE",
            DqdlType::Timestamp => "TIMESTAMP",
            DqdlType::Integer => "INTEGER",
            DqdlType::Double => "DOUBLE",
            DqdlType::Float => "FLOAT",
            DqdlType::Long => "LONG",
            DqdlType::String => "STRING",
        }
    }

    /// Case-insensitive lookup (`"Integer"`, `"INTEGER"` and `"integer"` are the same type).
    pub fn from_name(name: &str) -> Option<Self> {
        DqdlType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }
}

/// Why a DQDL document was rejected. Line and column are 1-based (column in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DqdlError {
    /// Not valid DQDL (or not meaningful: an empty list, a bound pair in the wrong order, a bad regex).
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid AWS DQDL that greenpipe does not implement. `feature` names it (`rule type CustomSql`,
    /// `where clause`, ...); `rule` is the text of the rule it appears in.
    #[error("line {line}, column {column}: {feature} is not supported by greenpipe (in `{rule}`)")]
    Unsupported {
        line: usize,
        column: usize,
        feature: String,
        rule: String,
    },
}

impl DqdlError {
    /// The contract error this is for the contract named `source`: unsupported rules keep their own
    /// error type (`UnsupportedRule`), everything else is `ContractInvalid`.
    pub fn into_contract_error(self, source: &str) -> crate::Error {
        match self {
            DqdlError::Unsupported { feature, rule, .. } => crate::Error::UnsupportedRule {
                source_name: source.to_string(),
                rule: format!("{feature} (in `{rule}`)"),
            },
            other => crate::Error::contract_invalid(source, format!("DQDL: {other}")),
        }
    }

    pub fn line(&self) -> usize {
        match self {
            DqdlError::Syntax { line, .. } | DqdlError::Unsupported { line, .. } => *line,
        }
    }

    pub fn column(&self) -> usize {
        match self {
            DqdlError::Syntax { column, .. } | DqdlError::Unsupported { column, .. } => *column,
        }
    }
}
