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

use std::fmt;

use serde::{Deserialize, Serialize};

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

/// Parse a DQDL document (`[Metadata = { ... }] Rules = [ rule, ... ]`).
pub fn parse(src: &str) -> Result<Ruleset, DqdlError> {
    let tokens = lex(src)?;
    let mut parser = Parser {
        src,
        tokens,
        pos: 0,
        rule_start: None,
        depth: 0,
    };
    parser.document()
}

// ---------------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// Rule types, keywords and bare column names (`[A-Za-z_][A-Za-z0-9_.]*`).
    Ident(String),
    /// A double-quoted string. `value` has `\"` and `\\` unescaped; `regex` has only `\"` unescaped, so a
    /// pattern reaches the regex engine as written (AWS passes `matches` patterns through unchanged).
    Str {
        value: String,
        regex: String,
    },
    /// Unsigned decimal literal: `12`, `0.95`.
    Num(String),
    /// `$name` (a DQDL constant reference).
    Var(String),
    LBracket,
    RBracket,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Bang,
    Plus,
    Minus,
    Star,
    Slash,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Byte range in the source.
    start: usize,
    end: usize,
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn syntax_at(src: &str, offset: usize, message: String) -> DqdlError {
    let (line, column) = line_col(src, offset);
    DqdlError::Syntax {
        line,
        column,
        message,
    }
}

fn lex(src: &str) -> Result<Vec<Token>, DqdlError> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let single = |tok: Tok| Token {
            tok,
            start,
            end: start + 1,
        };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => i += 1,
            b'#' => i = skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b'"' => {
                let (token, next) = lex_string(src, i)?;
                tokens.push(token);
                i = next;
            }
            b'0'..=b'9' => {
                i = skip_digits(bytes, i);
                if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i = skip_digits(bytes, i + 1);
                }
                tokens.push(Token {
                    tok: Tok::Num(src[start..i].to_string()),
                    start,
                    end: i,
                });
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                i = skip_ident(bytes, i);
                tokens.push(Token {
                    tok: Tok::Ident(src[start..i].to_string()),
                    start,
                    end: i,
                });
            }
            b'$' => {
                i = skip_ident(bytes, i + 1);
                tokens.push(Token {
                    tok: Tok::Var(src[start..i].to_string()),
                    start,
                    end: i,
                });
            }
            b'!' | b'>' | b'<' if bytes.get(i + 1) == Some(&b'=') => {
                let tok = match c {
                    b'!' => Tok::Ne,
                    b'>' => Tok::Ge,
                    _ => Tok::Le,
                };
                tokens.push(Token {
                    tok,
                    start,
                    end: i + 2,
                });
                i += 2;
            }
            _ => {
                let tok = match c {
                    b'[' => Tok::LBracket,
                    b']' => Tok::RBracket,
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b'{' => Tok::LBrace,
                    b'}' => Tok::RBrace,
                    b',' => Tok::Comma,
                    b':' => Tok::Colon,
                    b'=' => Tok::Eq,
                    b'>' => Tok::Gt,
                    b'<' => Tok::Lt,
                    b'!' => Tok::Bang,
                    b'+' => Tok::Plus,
                    b'-' => Tok::Minus,
                    b'*' => Tok::Star,
                    b'/' => Tok::Slash,
                    _ => {
                        let ch = src[i..].chars().next().unwrap_or('?');
                        return Err(syntax_at(src, i, format!("unexpected character {ch:?}")));
                    }
                };
                tokens.push(single(tok));
                i += 1;
            }
        }
    }
    tokens.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(tokens)
}

fn skip_line(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    i
}

fn skip_digits(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn skip_ident(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.') {
        i += 1;
    }
    i
}

/// Lex a string starting at the opening quote `src[open]`. Escapes: `\"` and `\\`; any other backslash
/// is kept as is (so `"\d+"` is the regex `\d+`).
fn lex_string(src: &str, open: usize) -> Result<(Token, usize), DqdlError> {
    let mut value = String::new();
    let mut regex = String::new();
    let mut chars = src[open + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => {
                let end = open + 1 + off + 1;
                return Ok((
                    Token {
                        tok: Tok::Str { value, regex },
                        start: open,
                        end,
                    },
                    end,
                ));
            }
            '\\' => match src[open + 1 + off + 1..].chars().next() {
                Some('"') => {
                    chars.next();
                    value.push('"');
                    regex.push('"');
                }
                Some('\\') => {
                    chars.next();
                    value.push('\\');
                    regex.push_str("\\\\");
                }
                _ => {
                    value.push('\\');
                    regex.push('\\');
                }
            },
            c => {
                value.push(c);
                regex.push(c);
            }
        }
    }
    Err(syntax_at(src, open, "unterminated string".into()))
}

// ---------------------------------------------------------------------------------------------------
// Parser

/// Rule types greenpipe implements.
const SUPPORTED_RULES: &[&str] = &[
    "RowCount",
    "ColumnCount",
    "ColumnExists",
    "IsComplete",
    "Completeness",
    "IsUnique",
    "Uniqueness",
    "IsPrimaryKey",
    "ColumnValues",
    "ColumnLength",
    "ColumnDataType",
];

/// AWS DQDL rule types greenpipe does not implement (rejected by name, never ignored).
const UNSUPPORTED_RULES: &[&str] = &[
    "AggregateMatch",
    "AllStatistics",
    "ColumnCorrelation",
    "ColumnNamesMatchPattern",
    "CustomSql",
    "CustomSQL",
    "DataFreshness",
    "DatasetMatch",
    "DetectAnomalies",
    "DistinctValuesCount",
    "Distribution",
    "Entropy",
    "FileFreshness",
    "FileMatch",
    "FileSize",
    "FileUniqueness",
    "Mean",
    "ReferentialIntegrity",
    "RowCountMatch",
    "SchemaMatch",
    "StandardDeviation",
    "Sum",
    "UniqueValueRatio",
];

/// Words that cannot be bare (unquoted) column names.
const RESERVED: &[&str] = &[
    "and",
    "AND",
    "or",
    "OR",
    "not",
    "in",
    "between",
    "BETWEEN",
    "matches",
    "with",
    "where",
    "labels",
    "of",
    "OF",
    "NULL",
    "null",
    "EMPTY",
    "empty",
    "WHITESPACES_ONLY",
    "whitespaces_only",
];

/// Functions of AWS's dynamic rules (`RowCount > avg(last(3))`).
const DYNAMIC_FUNCTIONS: &[&str] = &[
    "last", "avg", "median", "max", "min", "sum", "std", "abs", "index",
];

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// Token index where the current top-level rule starts (for error messages).
    rule_start: Option<usize>,
    /// Parenthesis nesting of composite rules (bounded: the parser recurses).
    depth: usize,
}

/// Deepest composite nesting accepted; deeper input is an error, not a stack overflow.
const MAX_NESTING: usize = 32;

type PResult<T> = Result<T, DqdlError>;

impl Parser<'_> {
    // --- token access -------------------------------------------------------------------------------

    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)].tok
    }

    fn bump(&mut self) -> usize {
        let at = self.pos;
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        at
    }

    fn is_ident(&self, words: &[&str]) -> bool {
        matches!(self.peek(), Tok::Ident(w) if words.contains(&w.as_str()))
    }

    fn eat_ident(&mut self, words: &[&str]) -> bool {
        let hit = self.is_ident(words);
        if hit {
            self.bump();
        }
        hit
    }

    fn text(&self, from: usize, to_inclusive: usize) -> &str {
        let to = to_inclusive.min(self.tokens.len() - 1);
        &self.src[self.tokens[from].start..self.tokens[to].end.max(self.tokens[from].start)]
    }

    fn describe(&self, at: usize) -> String {
        match &self.tokens[at.min(self.tokens.len() - 1)].tok {
            Tok::Eof => "end of input".to_string(),
            _ => format!("`{}`", self.text(at, at)),
        }
    }

    // --- errors -------------------------------------------------------------------------------------

    /// The text of the rule being parsed, from its first token to its end (next top-level `,` or `]`).
    fn rule_text(&self) -> Option<String> {
        let start = self.rule_start?;
        let mut depth = 0usize;
        let mut last = start;
        for (i, t) in self.tokens.iter().enumerate().skip(start) {
            match t.tok {
                Tok::LParen | Tok::LBracket | Tok::LBrace => depth += 1,
                Tok::RParen | Tok::RBracket | Tok::RBrace if depth == 0 => break,
                Tok::RParen | Tok::RBracket | Tok::RBrace => depth -= 1,
                Tok::Comma if depth == 0 => break,
                Tok::Eof => break,
                _ => {}
            }
            last = i;
        }
        let text = self
            .text(start, last)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Some(truncate(&text, 200))
    }

    fn err(&self, at: usize, message: impl Into<String>) -> DqdlError {
        let mut message = message.into();
        if let Some(rule) = self.rule_text() {
            message = format!("{message} (in rule `{rule}`)");
        }
        syntax_at(
            self.src,
            self.tokens[at.min(self.tokens.len() - 1)].start,
            message,
        )
    }

    fn unsupported(&self, at: usize, feature: impl Into<String>) -> DqdlError {
        let (line, column) = line_col(self.src, self.tokens[at.min(self.tokens.len() - 1)].start);
        let rule = self
            .rule_text()
            .unwrap_or_else(|| truncate(self.text(at, at), 200));
        DqdlError::Unsupported {
            line,
            column,
            feature: feature.into(),
            rule,
        }
    }

    fn expect(&mut self, want: &Tok, what: &str) -> PResult<usize> {
        if self.peek() == want {
            Ok(self.bump())
        } else {
            Err(self.err(
                self.pos,
                format!("expected {what}, found {}", self.describe(self.pos)),
            ))
        }
    }

    /// Index of the token closing the bracket opened at `open` (or the last token).
    fn matching_close(&self, open: usize) -> usize {
        let mut depth = 0usize;
        for (i, t) in self.tokens.iter().enumerate().skip(open) {
            match t.tok {
                Tok::LParen | Tok::LBracket | Tok::LBrace => depth += 1,
                Tok::RParen | Tok::RBracket | Tok::RBrace => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return i;
                    }
                }
                Tok::Eof => return i,
                _ => {}
            }
        }
        self.tokens.len() - 1
    }

    // --- document -----------------------------------------------------------------------------------

    fn document(&mut self) -> PResult<Ruleset> {
        if self.is_ident(&["Metadata"]) {
            self.metadata()?;
        }
        let rules = match self.peek().clone() {
            Tok::Ident(w) if w == "Rules" => self.rules_section()?,
            Tok::Ident(w) if w == "DataSources" || w == "Sources" => {
                return Err(self.unsupported(self.pos, "the DataSources section (rules across datasets)"))
            }
            Tok::Ident(w) if w == "Analyzers" => {
                return Err(self.unsupported(self.pos, "the Analyzers section"))
            }
            Tok::Ident(w) if w == "DefaultLabels" => return Err(self.unsupported(self.pos, "labels")),
            Tok::Ident(w) if w.eq_ignore_ascii_case("rules") => {
                return Err(self.err(
                    self.pos,
                    format!("DQDL is case sensitive: write `Rules`, not `{w}`"),
                ))
            }
            Tok::Ident(w) if *self.peek_at(1) == Tok::Eq => {
                return Err(self.unsupported(self.pos, format!("the constant declaration `{w} = ...`")))
            }
            _ => {
                return Err(self.err(
                    self.pos,
                    format!("expected `Rules = [ ... ]`, found {}", self.describe(self.pos)),
                ))
            }
        };
        match self.peek() {
            Tok::Eof => Ok(Ruleset { rules }),
            Tok::Ident(w) if w == "Analyzers" => Err(self.unsupported(self.pos, "the Analyzers section")),
            _ => Err(self.err(
                self.pos,
                format!(
                    "unexpected {} after the closing `]` of Rules",
                    self.describe(self.pos)
                ),
            )),
        }
    }

    /// `Metadata = { "Version": "1.0" }`: accepted and ignored (it only tags the ruleset).
    fn metadata(&mut self) -> PResult<()> {
        self.bump();
        self.expect(&Tok::Eq, "`=` after Metadata")?;
        self.expect(&Tok::LBrace, "`{` to open Metadata")?;
        loop {
            match self.peek() {
                Tok::Str { .. } => {
                    self.bump();
                }
                _ => return Err(self.err(self.pos, "expected a quoted key in Metadata")),
            }
            self.expect(&Tok::Colon, "`:` after the Metadata key")?;
            match self.peek() {
                Tok::Str { .. } => {
                    self.bump();
                }
                Tok::LBracket => {
                    self.bump();
                    loop {
                        if !matches!(self.peek(), Tok::Str { .. }) {
                            return Err(self.err(self.pos, "expected a quoted string in the Metadata list"));
                        }
                        self.bump();
                        if *self.peek() == Tok::Comma {
                            self.bump();
                        } else {
                            break;
                        }
                    }
                    self.expect(&Tok::RBracket, "`]`")?;
                }
                _ => return Err(self.err(self.pos, "expected a quoted value in Metadata")),
            }
            if *self.peek() == Tok::Comma {
                self.bump();
            } else {
                break;
            }
        }
        self.expect(&Tok::RBrace, "`}` to close Metadata")?;
        Ok(())
    }

    fn rules_section(&mut self) -> PResult<Vec<Rule>> {
        self.bump();
        self.expect(&Tok::Eq, "`=` after Rules")?;
        self.expect(&Tok::LBracket, "`[` to open the rule list")?;
        if *self.peek() == Tok::RBracket {
            return Err(self.err(self.pos, "the ruleset has no rules"));
        }
        let mut rules = Vec::new();
        loop {
            self.rule_start = Some(self.pos);
            rules.push(self.rule()?);
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                    if *self.peek() == Tok::RBracket {
                        break;
                    }
                }
                Tok::RBracket => break,
                Tok::Eof => {
                    return Err(self.err(
                        self.pos,
                        "expected `]` to close the rule list, found end of input",
                    ))
                }
                _ => {
                    return Err(self.err(
                        self.pos,
                        format!(
                            "expected `,` between rules or `]` to close the list, found {}",
                            self.describe(self.pos)
                        ),
                    ))
                }
            }
        }
        self.rule_start = None;
        self.expect(&Tok::RBracket, "`]`")?;
        Ok(rules)
    }

    // --- rules --------------------------------------------------------------------------------------

    /// A rule, possibly composite: `simple`, `(rule)`, or `(rule) and (rule) ...` / `(rule) or (rule) ...`.
    fn rule(&mut self) -> PResult<Rule> {
        let (first, parenthesised) = self.operand()?;
        let Some(op) = self.logical_op() else {
            return Ok(first);
        };
        if !parenthesised {
            return Err(self.err(
                self.pos,
                format!("each rule joined with `{op}` must be in parentheses"),
            ));
        }
        let mut items = vec![first];
        while let Some(next_op) = self.logical_op() {
            if next_op != op {
                return Err(self.err(
                    self.pos,
                    format!(
                        "mixing `{op}` and `{next_op}` needs parentheses, e.g. ((A) {op} (B)) {next_op} (C)"
                    ),
                ));
            }
            self.bump();
            let (rule, parenthesised) = self.operand()?;
            if !parenthesised {
                return Err(self.err(
                    self.pos,
                    format!("each rule joined with `{op}` must be in parentheses"),
                ));
            }
            items.push(rule);
        }
        Ok(if op == "and" {
            Rule::And(items)
        } else {
            Rule::Or(items)
        })
    }

    fn logical_op(&self) -> Option<&'static str> {
        match self.peek() {
            Tok::Ident(w) if w == "and" || w == "AND" => Some("and"),
            Tok::Ident(w) if w == "or" || w == "OR" => Some("or"),
            _ => None,
        }
    }

    fn operand(&mut self) -> PResult<(Rule, bool)> {
        if *self.peek() == Tok::LParen {
            if self.depth >= MAX_NESTING {
                return Err(self.err(
                    self.pos,
                    format!("composite rules nest deeper than {MAX_NESTING} levels"),
                ));
            }
            self.bump();
            self.depth += 1;
            let rule = self.rule()?;
            self.depth -= 1;
            self.expect(&Tok::RParen, "`)`")?;
            Ok((rule, true))
        } else {
            Ok((self.simple_rule()?, false))
        }
    }

    fn simple_rule(&mut self) -> PResult<Rule> {
        let name_at = self.pos;
        let name = match self.peek() {
            Tok::Ident(w) => w.clone(),
            _ => {
                return Err(self.err(
                    self.pos,
                    format!(
                        "expected a rule type (e.g. IsComplete), found {}",
                        self.describe(self.pos)
                    ),
                ))
            }
        };
        if UNSUPPORTED_RULES.contains(&name.as_str()) {
            return Err(self.unsupported(name_at, format!("rule type `{name}`")));
        }
        if !SUPPORTED_RULES.contains(&name.as_str()) {
            let hint = SUPPORTED_RULES
                .iter()
                .chain(UNSUPPORTED_RULES)
                .find(|known| known.eq_ignore_ascii_case(&name))
                .map(|known| format!(" (rule types are case sensitive: did you mean `{known}`?)"))
                .unwrap_or_default();
            return Err(self.err(name_at, format!("unknown rule type `{name}`{hint}")));
        }
        self.bump();
        let columns = self.columns()?;
        let rule = match name.as_str() {
            "RowCount" | "ColumnCount" => {
                self.column_count(&name, name_at, &columns, 0)?;
                let expr = self.num_expr(&name, None)?;
                if name == "RowCount" {
                    Rule::RowCount(expr)
                } else {
                    Rule::ColumnCount(expr)
                }
            }
            "ColumnExists" | "IsComplete" => {
                let column = self.one_column(&name, name_at, columns)?;
                if name == "ColumnExists" {
                    Rule::ColumnExists(column)
                } else {
                    Rule::IsComplete(column)
                }
            }
            "Completeness" => {
                let column = self.one_column(&name, name_at, columns)?;
                Rule::Completeness(column, self.num_expr(&name, Some("completeness"))?)
            }
            "IsUnique" | "Uniqueness" => {
                if columns.len() > 1 {
                    return Err(self.unsupported(columns[1].1, format!("{name} over several columns")));
                }
                let column = self.one_column(&name, name_at, columns)?;
                if name == "IsUnique" {
                    Rule::IsUnique(column)
                } else {
                    Rule::Uniqueness(column, self.num_expr(&name, Some("uniqueness"))?)
                }
            }
            "IsPrimaryKey" => {
                if columns.is_empty() {
                    return Err(self.err(self.pos, "IsPrimaryKey needs at least one column name"));
                }
                Rule::IsPrimaryKey(columns.into_iter().map(|(c, _)| c).collect())
            }
            "ColumnValues" => {
                let column = self.one_column(&name, name_at, columns)?;
                let expr = self.value_expr()?;
                let threshold = self.threshold(&name, true)?;
                Rule::ColumnValues {
                    column,
                    expr,
                    threshold,
                }
            }
            "ColumnLength" => {
                let column = self.one_column(&name, name_at, columns)?;
                let expr = self.num_expr(&name, None)?;
                let threshold = self.threshold(&name, true)?;
                Rule::ColumnLength {
                    column,
                    expr,
                    threshold,
                }
            }
            _ => {
                // ColumnDataType
                let column = self.one_column(&name, name_at, columns)?;
                let ty = self.data_type()?;
                let threshold = self.threshold(&name, true)?;
                Rule::ColumnDataType {
                    column,
                    ty,
                    threshold,
                }
            }
        };
        // Rules without a threshold: reject one here so the message is about the threshold.
        if !matches!(
            rule,
            Rule::ColumnValues { .. } | Rule::ColumnLength { .. } | Rule::ColumnDataType { .. }
        ) {
            self.threshold(&name, false)?;
        }
        self.rule_tail()?;
        Ok(rule)
    }

    /// Column-name parameters: quoted strings, or bare identifiers that are not keywords.
    fn columns(&mut self) -> PResult<Vec<(String, usize)>> {
        let mut out = Vec::new();
        loop {
            let at = self.pos;
            match self.peek() {
                Tok::Str { value, .. } => {
                    if value.is_empty() {
                        return Err(self.err(at, "column name is empty"));
                    }
                    out.push((value.clone(), at));
                }
                Tok::Ident(w) if is_bare_column(w) && *self.peek_at(1) != Tok::LParen => {
                    out.push((w.clone(), at));
                }
                _ => return Ok(out),
            }
            self.bump();
        }
    }

    fn column_count(&self, name: &str, at: usize, columns: &[(String, usize)], want: usize) -> PResult<()> {
        if columns.len() == want {
            return Ok(());
        }
        let at = columns.get(want).map_or(at, |c| c.1);
        Err(match want {
            0 => self.err(at, format!("{name} takes no column name")),
            _ => self.err(
                at,
                format!("{name} takes exactly one column name, found {}", columns.len()),
            ),
        })
    }

    fn one_column(&self, name: &str, at: usize, mut columns: Vec<(String, usize)>) -> PResult<String> {
        if columns.is_empty() {
            return Err(self.err(
                self.pos,
                format!(
                    "{name} needs a column name (a quoted string), found {}",
                    self.describe(self.pos)
                ),
            ));
        }
        self.column_count(name, at, &columns, 1)?;
        Ok(columns.swap_remove(0).0)
    }

    /// `with threshold <num-expr>`; with `allowed == false` its presence is an error.
    fn threshold(&mut self, rule: &str, allowed: bool) -> PResult<Option<NumExpr>> {
        self.reject_where()?;
        if !self.is_ident(&["with"]) {
            return Ok(None);
        }
        let with_at = self.pos;
        match self.peek_at(1) {
            Tok::Ident(w) if w == "threshold" => {}
            Tok::Ident(w) => {
                let w = w.clone();
                return Err(self.unsupported(with_at, format!("`with {w}`")));
            }
            _ => return Err(self.err(with_at + 1, "expected `threshold` after `with`")),
        }
        if !allowed {
            return Err(self.err(
                with_at,
                format!(
                    "`with threshold` applies to ColumnValues, ColumnLength and ColumnDataType, not {rule}"
                ),
            ));
        }
        self.bump();
        self.bump();
        Ok(Some(self.num_expr("with threshold", Some("threshold"))?))
    }

    fn reject_where(&self) -> PResult<()> {
        if self.is_ident(&["where"]) {
            return Err(self.unsupported(self.pos, "the `where` clause"));
        }
        Ok(())
    }

    /// What may follow a complete simple rule.
    fn rule_tail(&self) -> PResult<()> {
        self.reject_where()?;
        if self.is_ident(&["labels"]) {
            return Err(self.unsupported(self.pos, "labels"));
        }
        Ok(())
    }

    // --- expressions --------------------------------------------------------------------------------

    /// A numeric condition. `fraction` names the measured quantity when it is a fraction in [0, 1].
    fn num_expr(&mut self, rule: &str, fraction: Option<&str>) -> PResult<NumExpr> {
        let start = self.pos;
        let expr = match self.peek().clone() {
            Tok::Eq | Tok::Ne | Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le | Tok::Bang => {
                let op = self.cmp_op()?;
                NumExpr::Cmp(op, self.number()?)
            }
            Tok::Ident(w) if w == "between" || w == "BETWEEN" => {
                self.bump();
                let (lo, hi) = self.number_bounds(start)?;
                NumExpr::Between(lo, hi)
            }
            Tok::Ident(w) if w == "in" => {
                self.bump();
                NumExpr::In(self.number_list()?)
            }
            Tok::Ident(w) if w == "not" => {
                self.bump();
                if self.eat_ident(&["between", "BETWEEN"]) {
                    let (lo, hi) = self.number_bounds(start)?;
                    NumExpr::NotBetween(lo, hi)
                } else if self.eat_ident(&["in"]) {
                    NumExpr::NotIn(self.number_list()?)
                } else {
                    return Err(self.err(
                        self.pos,
                        format!(
                            "expected `between` or `in` after `not`, found {}",
                            self.describe(self.pos)
                        ),
                    ));
                }
            }
            Tok::Ident(w) if w == "matches" => {
                return Err(self.err(self.pos, format!("`matches` applies to ColumnValues, not {rule}")))
            }
            _ => {
                return Err(self.err(
                    self.pos,
                    format!(
                        "expected a condition after {rule} (=, !=, >, >=, <, <=, between, in), found {}",
                        self.describe(self.pos)
                    ),
                ))
            }
        };
        if let Some(what) = fraction {
            let values: Vec<f64> = match &expr {
                NumExpr::Cmp(_, x) => vec![*x],
                NumExpr::Between(a, b) | NumExpr::NotBetween(a, b) => vec![*a, *b],
                NumExpr::In(v) | NumExpr::NotIn(v) => v.clone(),
            };
            if values.iter().any(|x| !(0.0..=1.0).contains(x)) {
                return Err(self.err(
                    start,
                    format!("a {what} is a fraction between 0 and 1 (e.g. 0.95 for 95%)"),
                ));
            }
        }
        Ok(expr)
    }

    fn cmp_op(&mut self) -> PResult<CmpOp> {
        let at = self.bump();
        Ok(match self.tokens[at].tok {
            Tok::Eq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            // `! =` with a space, as AWS's grammar allows.
            _ if *self.peek() == Tok::Eq => {
                self.bump();
                CmpOp::Ne
            }
            _ => return Err(self.err(at, "expected `!=`")),
        })
    }

    fn number_bounds(&mut self, start: usize) -> PResult<(f64, f64)> {
        let lo = self.number()?;
        if !self.eat_ident(&["and", "AND"]) {
            return Err(self.err(
                self.pos,
                format!(
                    "expected `and` in `between x and y`, found {}",
                    self.describe(self.pos)
                ),
            ));
        }
        let hi = self.number()?;
        if lo > hi {
            return Err(self.err(
                start,
                format!("between {lo} and {hi}: the lower bound is above the upper bound"),
            ));
        }
        Ok((lo, hi))
    }

    fn number_list(&mut self) -> PResult<Vec<f64>> {
        self.list(|p| p.number())
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        if let Tok::Var(v) = self.peek() {
            let v = v.clone();
            return Err(self.unsupported(self.pos, format!("the constant reference `{v}`")));
        }
        self.expect(&Tok::LBracket, "`[` to open the list")?;
        if *self.peek() == Tok::RBracket {
            return Err(self.err(self.pos, "the list is empty"));
        }
        let mut out = vec![item(self)?];
        while *self.peek() == Tok::Comma {
            self.bump();
            out.push(item(self)?);
        }
        self.expect(&Tok::RBracket, "`,` or `]` in the list")?;
        Ok(out)
    }

    /// A plain number (`12`, `-3.5`). Dynamic and arithmetic expressions are rejected by name.
    fn number(&mut self) -> PResult<f64> {
        let start = self.pos;
        let negative = *self.peek() == Tok::Minus;
        if negative {
            self.bump();
        }
        let value = match self.peek().clone() {
            Tok::Num(text) => {
                let at = self.bump();
                let value: f64 = text
                    .parse()
                    .map_err(|_| self.err(at, format!("invalid number `{text}`")))?;
                if !value.is_finite() {
                    return Err(self.err(at, format!("number `{text}` is too large")));
                }
                if negative {
                    -value
                } else {
                    value
                }
            }
            Tok::Ident(_) | Tok::LParen | Tok::Var(_) if !negative => {
                return Err(self.reject_expression(start, "a number"))
            }
            _ => {
                return Err(self.err(
                    self.pos,
                    format!("expected a number, found {}", self.describe(self.pos)),
                ))
            }
        };
        if matches!(self.peek(), Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash) {
            let end = self.pos + 1;
            return Err(self.unsupported(
                start,
                format!("the arithmetic expression `{}`", self.text(start, end)),
            ));
        }
        Ok(value)
    }

    /// Name what stands where a literal was expected: a dynamic function, `now()`, a constant, or an
    /// error naming what was expected.
    fn reject_expression(&self, at: usize, expected: &str) -> DqdlError {
        match &self.tokens[at].tok {
            Tok::Ident(f) if self.tokens.get(at + 1).is_some_and(|t| t.tok == Tok::LParen) => {
                let text = self.text(at, self.matching_close(at + 1)).to_string();
                if f == "now" {
                    self.unsupported(at, format!("the date expression `{text}`"))
                } else if DYNAMIC_FUNCTIONS.contains(&f.as_str()) {
                    self.unsupported(at, format!("the dynamic expression `{text}`"))
                } else {
                    self.unsupported(at, format!("the function call `{text}`"))
                }
            }
            Tok::LParen => {
                let close = self.matching_close(at);
                let text = self.text(at, close).to_string();
                let has_now = self.tokens[at..=close.min(self.tokens.len() - 1)]
                    .iter()
                    .any(|t| matches!(&t.tok, Tok::Ident(w) if w == "now"));
                if has_now {
                    self.unsupported(at, format!("the date expression `{text}`"))
                } else {
                    self.unsupported(at, format!("the expression `{text}`"))
                }
            }
            Tok::Var(v) => self.unsupported(at, format!("the constant reference `{v}`")),
            _ => self.err(at, format!("expected {expected}, found {}", self.describe(at))),
        }
    }

    fn value_expr(&mut self) -> PResult<ValueExpr> {
        let start = self.pos;
        Ok(match self.peek().clone() {
            Tok::Eq | Tok::Ne | Tok::Bang => {
                let op = self.cmp_op()?;
                ValueExpr::Cmp(op, self.literal()?)
            }
            Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le => {
                let op = self.cmp_op()?;
                let at = self.pos;
                let lit = self.literal()?;
                self.ordered_literal(at, &lit)?;
                ValueExpr::Cmp(op, lit)
            }
            Tok::Ident(w) if w == "between" || w == "BETWEEN" => {
                self.bump();
                let (lo, hi) = self.literal_bounds(start)?;
                ValueExpr::Between(lo, hi)
            }
            Tok::Ident(w) if w == "in" => {
                self.bump();
                ValueExpr::In(self.list(|p| p.literal())?)
            }
            Tok::Ident(w) if w == "matches" => {
                self.bump();
                ValueExpr::Matches(self.regex()?)
            }
            Tok::Ident(w) if w == "not" => {
                self.bump();
                if self.eat_ident(&["between", "BETWEEN"]) {
                    let (lo, hi) = self.literal_bounds(start)?;
                    ValueExpr::NotBetween(lo, hi)
                } else if self.eat_ident(&["in"]) {
                    ValueExpr::NotIn(self.list(|p| p.literal())?)
                } else if self.eat_ident(&["matches"]) {
                    ValueExpr::NotMatches(self.regex()?)
                } else {
                    return Err(self.err(
                        self.pos,
                        format!(
                            "expected `between`, `in` or `matches` after `not`, found {}",
                            self.describe(self.pos)
                        ),
                    ));
                }
            }
            _ => {
                return Err(self.err(
                    self.pos,
                    format!(
                    "expected a condition after ColumnValues (=, !=, >, >=, <, <=, between, in, matches), \
                         found {}",
                    self.describe(self.pos)
                ),
                ))
            }
        })
    }

    fn literal(&mut self) -> PResult<Literal> {
        let at = self.pos;
        Ok(match self.peek().clone() {
            Tok::Num(_) | Tok::Minus => Literal::Number(self.number()?),
            Tok::Str { value, .. } => {
                self.bump();
                Literal::String(value)
            }
            Tok::Ident(w) if w == "NULL" || w == "null" => {
                self.bump();
                Literal::Null
            }
            Tok::Ident(w) if w == "EMPTY" || w == "empty" => {
                self.bump();
                Literal::Empty
            }
            Tok::Ident(w) if w == "WHITESPACES_ONLY" || w == "whitespaces_only" => {
                self.bump();
                Literal::WhitespacesOnly
            }
            _ => {
                return Err(self.reject_expression(
                    at,
                    "a value (a number, a quoted string, NULL, EMPTY or WHITESPACES_ONLY)",
                ))
            }
        })
    }

    /// `>`, `<` and `between` compare numbers or strings (dates), not the NULL/EMPTY keywords.
    fn ordered_literal(&self, at: usize, lit: &Literal) -> PResult<()> {
        match lit {
            Literal::Number(_) | Literal::String(_) => Ok(()),
            _ => Err(self.err(
                at,
                "NULL, EMPTY and WHITESPACES_ONLY can only be used with =, !=, in and not in",
            )),
        }
    }

    fn literal_bounds(&mut self, start: usize) -> PResult<(Literal, Literal)> {
        let lo_at = self.pos;
        let lo = self.literal()?;
        self.ordered_literal(lo_at, &lo)?;
        if !self.eat_ident(&["and", "AND"]) {
            return Err(self.err(
                self.pos,
                format!(
                    "expected `and` in `between x and y`, found {}",
                    self.describe(self.pos)
                ),
            ));
        }
        let hi_at = self.pos;
        let hi = self.literal()?;
        self.ordered_literal(hi_at, &hi)?;
        match (&lo, &hi) {
            (Literal::Number(a), Literal::Number(b)) if a > b => Err(self.err(
                start,
                format!("between {a} and {b}: the lower bound is above the upper bound"),
            )),
            (Literal::String(a), Literal::String(b)) if a > b => Err(self.err(
                start,
                format!("between \"{a}\" and \"{b}\": the lower bound is above the upper bound"),
            )),
            (Literal::Number(_), Literal::Number(_)) | (Literal::String(_), Literal::String(_)) => {
                Ok((lo, hi))
            }
            _ => Err(self.err(
                start,
                "the bounds of `between` must both be numbers or both be quoted strings",
            )),
        }
    }

    fn regex(&mut self) -> PResult<String> {
        let at = self.pos;
        let Tok::Str { regex, .. } = self.peek().clone() else {
            return Err(self.err(
                at,
                format!(
                    "expected a quoted regular expression after `matches`, found {}",
                    self.describe(at)
                ),
            ));
        };
        self.bump();
        if let Err(e) = regex::Regex::new(&regex) {
            let detail = e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_string();
            return Err(self.err(at, format!("invalid regular expression \"{regex}\": {detail}")));
        }
        Ok(regex)
    }

    /// `= "TYPE"` after `ColumnDataType "col"`.
    fn data_type(&mut self) -> PResult<DqdlType> {
        let at = self.pos;
        match self.peek() {
            Tok::Eq => {}
            Tok::Ident(w) if w == "in" || w == "not" || w == "matches" => {
                let w = w.clone();
                return Err(self.unsupported(at, format!("ColumnDataType with `{w}`")));
            }
            Tok::Ne | Tok::Bang => return Err(self.unsupported(at, "ColumnDataType with `!=`")),
            _ => {
                return Err(self.err(
                    at,
                    format!(
                        "expected `= \"TYPE\"` after ColumnDataType, found {}",
                        self.describe(at)
                    ),
                ))
            }
        }
        self.bump();
        let at = self.pos;
        let name = match self.peek() {
            Tok::Str { value, .. } => value.clone(),
            Tok::Ident(w) => w.clone(),
            _ => {
                return Err(self.err(
                    at,
                    format!("expected a quoted type name, found {}", self.describe(at)),
                ))
            }
        };
        let ty = DqdlType::from_name(&name).ok_or_else(|| {
            let names: Vec<&str> = DqdlType::ALL.iter().map(|t| t.name()).collect();
            self.err(
                at,
                format!(
                    "unknown data type \"{name}\" (expected one of {})",
                    names.join(", ")
                ),
            )
        })?;
        self.bump();
        Ok(ty)
    }
}

/// A bare identifier can be a column name unless it is a keyword or a rule type (which usually means a
/// missing comma between two rules).
fn is_bare_column(word: &str) -> bool {
    let w = word;
    !RESERVED.contains(&w) && !SUPPORTED_RULES.contains(&w) && !UNSUPPORTED_RULES.contains(&w)
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max_chars).collect();
    out.push('…');
    out
}

// ---------------------------------------------------------------------------------------------------
// Canonical text

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

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(src: &str) -> Vec<Rule> {
        match parse(src) {
            Ok(rs) => rs.rules,
            Err(e) => panic!("parse failed for {src:?}: {e}"),
        }
    }

    fn one(rule: &str) -> Rule {
        let mut rs = rules(&format!("Rules = [ {rule} ]"));
        assert_eq!(rs.len(), 1, "{rule}");
        rs.remove(0)
    }

    fn err(src: &str) -> DqdlError {
        match parse(src) {
            Ok(rs) => panic!("expected an error for {src:?}, got {rs:?}"),
            Err(e) => e,
        }
    }

    fn rule_err(rule: &str) -> DqdlError {
        err(&format!("Rules = [ {rule} ]"))
    }

    /// The rule is rejected as unsupported and the error names `feature`.
    fn assert_unsupported(rule: &str, feature: &str) {
        match rule_err(rule) {
            DqdlError::Unsupported {
                feature: f,
                rule: text,
                ..
            } => {
                assert!(f.contains(feature), "feature {f:?} should name {feature:?}");
                assert!(!text.is_empty());
            }
            e => panic!("expected Unsupported for {rule:?}, got {e}"),
        }
    }

    fn assert_syntax(rule: &str, needle: &str) {
        match rule_err(rule) {
            DqdlError::Syntax { message, .. } => {
                assert!(
                    message.contains(needle),
                    "message {message:?} should contain {needle:?}"
                )
            }
            e => panic!("expected a syntax error for {rule:?}, got {e}"),
        }
    }

    fn s(x: &str) -> Literal {
        Literal::String(x.into())
    }

    #[test]
    fn every_rule_type() {
        assert_eq!(
            one("RowCount > 10"),
            Rule::RowCount(NumExpr::Cmp(CmpOp::Gt, 10.0))
        );
        assert_eq!(
            one("RowCount between 1 and 1000"),
            Rule::RowCount(NumExpr::Between(1.0, 1000.0))
        );
        assert_eq!(
            one("ColumnCount = 8"),
            Rule::ColumnCount(NumExpr::Cmp(CmpOp::Eq, 8.0))
        );
        assert_eq!(
            one("ColumnExists \"order_id\""),
            Rule::ColumnExists("order_id".into())
        );
        assert_eq!(
            one("IsComplete \"order-id\""),
            Rule::IsComplete("order-id".into())
        );
        assert_eq!(
            one("Completeness \"email\" >= 0.95"),
            Rule::Completeness("email".into(), NumExpr::Cmp(CmpOp::Ge, 0.95))
        );
        assert_eq!(one("IsUnique \"id\""), Rule::IsUnique("id".into()));
        assert_eq!(
            one("Uniqueness \"id\" = 1.0"),
            Rule::Uniqueness("id".into(), NumExpr::Cmp(CmpOp::Eq, 1.0))
        );
        assert_eq!(
            one("Uniqueness \"id\" != 1"),
            Rule::Uniqueness("id".into(), NumExpr::Cmp(CmpOp::Ne, 1.0))
        );
        assert_eq!(one("IsPrimaryKey \"id\""), Rule::IsPrimaryKey(vec!["id".into()]));
        assert_eq!(
            one("IsPrimaryKey \"a\" \"b\" \"c\""),
            Rule::IsPrimaryKey(vec!["a".into(), "b".into(), "c".into()])
        );
        // AWS also accepts bare column names.
        assert_eq!(
            one("IsPrimaryKey colA \"colB\""),
            Rule::IsPrimaryKey(vec!["colA".into(), "colB".into()])
        );
        assert_eq!(one("IsComplete my_col.x"), Rule::IsComplete("my_col.x".into()));
        assert_eq!(
            one("ColumnLength \"zip\" = 5"),
            Rule::ColumnLength {
                column: "zip".into(),
                expr: NumExpr::Cmp(CmpOp::Eq, 5.0),
                threshold: None
            }
        );
        assert_eq!(
            one("ColumnLength \"name\" between 1 and 64 with threshold >= 0.99"),
            Rule::ColumnLength {
                column: "name".into(),
                expr: NumExpr::Between(1.0, 64.0),
                threshold: Some(NumExpr::Cmp(CmpOp::Ge, 0.99)),
            }
        );
        assert_eq!(
            one("ColumnDataType \"colA\" = \"INTEGER\""),
            Rule::ColumnDataType {
                column: "colA".into(),
                ty: DqdlType::Integer,
                threshold: None
            }
        );
        assert_eq!(
            one("ColumnDataType \"colA\" = \"Timestamp\" with threshold > 0.9"),
            Rule::ColumnDataType {
                column: "colA".into(),
                ty: DqdlType::Timestamp,
                threshold: Some(NumExpr::Cmp(CmpOp::Gt, 0.9)),
            }
        );
    }

    #[test]
    fn data_type_names_are_case_insensitive() {
        for (name, ty) in [
            ("boolean", DqdlType::Boolean),
            ("Date", DqdlType::Date),
            ("TIMESTAMP", DqdlType::Timestamp),
            ("Integer", DqdlType::Integer),
            ("double", DqdlType::Double),
            ("Float", DqdlType::Float),
            ("LONG", DqdlType::Long),
            ("String", DqdlType::String),
        ] {
            let rule = one(&format!("ColumnDataType \"c\" = \"{name}\""));
            assert_eq!(
                rule,
                Rule::ColumnDataType {
                    column: "c".into(),
                    ty,
                    threshold: None
                }
            );
        }
        assert_syntax("ColumnDataType \"c\" = \"Short\"", "unknown data type \"Short\"");
    }

    #[test]
    fn column_values_expressions() {
        let cv = |expr: ValueExpr| Rule::ColumnValues {
            column: "c".into(),
            expr,
            threshold: None,
        };
        assert_eq!(
            one("ColumnValues \"c\" = 5"),
            cv(ValueExpr::Cmp(CmpOp::Eq, Literal::Number(5.0)))
        );
        assert_eq!(
            one("ColumnValues \"c\" != \"a\""),
            cv(ValueExpr::Cmp(CmpOp::Ne, s("a")))
        );
        assert_eq!(
            one("ColumnValues \"c\" ! = \"a\""),
            cv(ValueExpr::Cmp(CmpOp::Ne, s("a")))
        );
        assert_eq!(
            one("ColumnValues \"c\" > -1.5"),
            cv(ValueExpr::Cmp(CmpOp::Gt, Literal::Number(-1.5)))
        );
        assert_eq!(
            one("ColumnValues \"c\" >= 0"),
            cv(ValueExpr::Cmp(CmpOp::Ge, Literal::Number(0.0)))
        );
        assert_eq!(
            one("ColumnValues \"c\" < \"2022-06-30\""),
            cv(ValueExpr::Cmp(CmpOp::Lt, s("2022-06-30")))
        );
        assert_eq!(
            one("ColumnValues \"c\" <= 1000"),
            cv(ValueExpr::Cmp(CmpOp::Le, Literal::Number(1000.0)))
        );
        assert_eq!(
            one("ColumnValues \"c\" between 1 and 2000"),
            cv(ValueExpr::Between(Literal::Number(1.0), Literal::Number(2000.0)))
        );
        assert_eq!(
            one("ColumnValues \"c\" not between \"2022-05-31\" and \"2022-06-30\""),
            cv(ValueExpr::NotBetween(s("2022-05-31"), s("2022-06-30")))
        );
        assert_eq!(
            one("ColumnValues \"c\" in [ \"US\", \"CA\", \"UK\", NULL, EMPTY, WHITESPACES_ONLY ]"),
            cv(ValueExpr::In(vec![
                s("US"),
                s("CA"),
                s("UK"),
                Literal::Null,
                Literal::Empty,
                Literal::WhitespacesOnly
            ]))
        );
        assert_eq!(
            one("ColumnValues \"c\" not in [21, 22, 23, null]"),
            cv(ValueExpr::NotIn(vec![
                Literal::Number(21.0),
                Literal::Number(22.0),
                Literal::Number(23.0),
                Literal::Null
            ]))
        );
        assert_eq!(
            one("ColumnValues \"c\" = empty"),
            cv(ValueExpr::Cmp(CmpOp::Eq, Literal::Empty))
        );
        assert_eq!(
            one("ColumnValues \"c\" != whitespaces_only"),
            cv(ValueExpr::Cmp(CmpOp::Ne, Literal::WhitespacesOnly))
        );
        assert_eq!(
            one("ColumnValues \"c\" = NULL"),
            cv(ValueExpr::Cmp(CmpOp::Eq, Literal::Null))
        );
        assert_eq!(
            one("ColumnValues \"c\" matches \"[a-zA-Z]*\""),
            cv(ValueExpr::Matches("[a-zA-Z]*".into()))
        );
        assert_eq!(
            one("ColumnValues \"c\" not matches \"^x\""),
            cv(ValueExpr::NotMatches("^x".into()))
        );
        assert_eq!(
            one("ColumnValues \"c\" in [\"A\", \"B\"] with threshold > 0.8"),
            Rule::ColumnValues {
                column: "c".into(),
                expr: ValueExpr::In(vec![s("A"), s("B")]),
                threshold: Some(NumExpr::Cmp(CmpOp::Gt, 0.8)),
            }
        );
        assert_eq!(
            one("ColumnValues \"c\" matches \"[a-z]*\" with threshold between 0.2 and 0.9"),
            Rule::ColumnValues {
                column: "c".into(),
                expr: ValueExpr::Matches("[a-z]*".into()),
                threshold: Some(NumExpr::Between(0.2, 0.9)),
            }
        );
    }

    #[test]
    fn numeric_expressions() {
        let rc = |src: &str| match one(&format!("RowCount {src}")) {
            Rule::RowCount(e) => e,
            r => panic!("{r:?}"),
        };
        assert_eq!(rc("= 3"), NumExpr::Cmp(CmpOp::Eq, 3.0));
        assert_eq!(rc("!= 3"), NumExpr::Cmp(CmpOp::Ne, 3.0));
        assert_eq!(rc("> -3"), NumExpr::Cmp(CmpOp::Gt, -3.0));
        assert_eq!(rc(">= 3.25"), NumExpr::Cmp(CmpOp::Ge, 3.25));
        assert_eq!(rc("< 3"), NumExpr::Cmp(CmpOp::Lt, 3.0));
        assert_eq!(rc("<= 3"), NumExpr::Cmp(CmpOp::Le, 3.0));
        assert_eq!(rc("between -1 and 1"), NumExpr::Between(-1.0, 1.0));
        assert_eq!(rc("BETWEEN 1 AND 2"), NumExpr::Between(1.0, 2.0));
        assert_eq!(rc("not between 1 and 2"), NumExpr::NotBetween(1.0, 2.0));
        assert_eq!(rc("in [1, 2, 3]"), NumExpr::In(vec![1.0, 2.0, 3.0]));
        assert_eq!(rc("not in [0]"), NumExpr::NotIn(vec![0.0]));
        assert_eq!(rc("between 5 and 5"), NumExpr::Between(5.0, 5.0));
    }

    #[test]
    fn composites_and_nesting() {
        let a = Rule::IsComplete("id".into());
        let b = Rule::IsUnique("id".into());
        let c = Rule::RowCount(NumExpr::Cmp(CmpOp::Gt, 0.0));
        assert_eq!(
            one("(IsComplete \"id\") and (IsUnique \"id\")"),
            Rule::And(vec![a.clone(), b.clone()])
        );
        assert_eq!(
            one("(IsComplete \"id\") AND (IsUnique \"id\")"),
            Rule::And(vec![a.clone(), b.clone()])
        );
        assert_eq!(
            one("(IsComplete \"id\") OR (IsUnique \"id\")"),
            Rule::Or(vec![a.clone(), b.clone()])
        );
        assert_eq!(
            one("(IsComplete \"id\") and (IsUnique \"id\") and (RowCount > 0)"),
            Rule::And(vec![a.clone(), b.clone(), c.clone()])
        );
        assert_eq!(
            one("(RowCount > 0) or ((IsComplete \"id\") and (IsUnique \"id\"))"),
            Rule::Or(vec![c.clone(), Rule::And(vec![a.clone(), b.clone()])])
        );
        assert_eq!(
            one("((RowCount > 0) or (IsComplete \"id\")) and (IsUnique \"id\")"),
            Rule::And(vec![Rule::Or(vec![c.clone(), a.clone()]), b.clone()])
        );
        // Redundant parentheses around a single rule.
        assert_eq!(one("((IsComplete \"id\"))"), a.clone());
        // Thresholds inside composites.
        assert_eq!(
            one("(ColumnValues \"age\" > 21 with threshold > 0.5) or (ColumnValues \"age\" = NULL)"),
            Rule::Or(vec![
                Rule::ColumnValues {
                    column: "age".into(),
                    expr: ValueExpr::Cmp(CmpOp::Gt, Literal::Number(21.0)),
                    threshold: Some(NumExpr::Cmp(CmpOp::Gt, 0.5)),
                },
                Rule::ColumnValues {
                    column: "age".into(),
                    expr: ValueExpr::Cmp(CmpOp::Eq, Literal::Null),
                    threshold: None,
                },
            ])
        );
        assert_syntax("IsComplete \"id\" and IsUnique \"id\"", "must be in parentheses");
        assert_syntax(
            "(IsComplete \"id\") and IsUnique \"id\"",
            "must be in parentheses",
        );
        assert_syntax(
            "(IsComplete \"id\") and (IsUnique \"id\") or (RowCount > 0)",
            "mixing `and` and `or`",
        );
        assert_syntax("(IsComplete \"id\" and (IsUnique \"id\")", "parentheses");
        assert_syntax("(IsComplete \"id\"", "expected `)`");
        // Deep nesting is an error, not a stack overflow.
        let deep = format!("{}IsComplete \"a\"{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_syntax(&deep, "nest deeper than 32 levels");
        let ok = format!("{}IsComplete \"a\"{}", "(".repeat(32), ")".repeat(32));
        assert_eq!(one(&ok), Rule::IsComplete("a".into()));
    }

    #[test]
    fn comments_whitespace_and_layout() {
        let src = "# a ruleset\r\nRules = [\n\t# completeness first\n   IsComplete \"a\", // trailing\n\n\
                   RowCount>0,IsUnique\"a\" ,\n]\n# end\n";
        assert_eq!(
            rules(src),
            vec![
                Rule::IsComplete("a".into()),
                Rule::RowCount(NumExpr::Cmp(CmpOp::Gt, 0.0)),
                Rule::IsUnique("a".into())
            ]
        );
        // `#` inside a string is not a comment.
        assert_eq!(one("ColumnValues \"c\" = \"#1 // x\""), {
            Rule::ColumnValues {
                column: "c".into(),
                expr: ValueExpr::Cmp(CmpOp::Eq, s("#1 // x")),
                threshold: None,
            }
        });
        // Metadata is accepted (it only tags the ruleset).
        assert_eq!(
            rules(
                "Metadata = { \"Version\": \"1.0\", \"Tags\": [\"a\", \"b\"] }\nRules = [ IsComplete \"a\" ]"
            ),
            vec![Rule::IsComplete("a".into())]
        );
    }

    #[test]
    fn quoted_strings_and_escapes() {
        assert_eq!(
            one(r#"IsComplete "say \"hi\"""#),
            Rule::IsComplete("say \"hi\"".into())
        );
        assert_eq!(one(r#"IsComplete "a\\b""#), Rule::IsComplete("a\\b".into()));
        assert_eq!(one(r#"IsComplete "a\b""#), Rule::IsComplete("a\\b".into()));
        assert_eq!(
            one("IsComplete \"größe 名前\""),
            Rule::IsComplete("größe 名前".into())
        );
        // Regex patterns reach the regex engine as written (only \" is unescaped), as in AWS.
        let re = |r: &str| match one(&format!("ColumnValues \"c\" matches {r}")) {
            Rule::ColumnValues {
                expr: ValueExpr::Matches(re),
                ..
            } => re,
            x => panic!("{x:?}"),
        };
        assert_eq!(re(r#""\d{3}-\d{4}""#), r"\d{3}-\d{4}");
        assert_eq!(re(r#""a\\.b""#), r"a\\.b");
        assert_eq!(re(r#""\"quoted\"""#), "\"quoted\"");
        assert_syntax("IsComplete \"\"", "column name is empty");
    }

    #[test]
    fn unsupported_rules_are_named() {
        for (rule, feature) in [
            (
                "CustomSql \"select count(*) from primary\" between 10 and 20",
                "CustomSql",
            ),
            ("CustomSQL \"select count(*) from primary\" > 0", "CustomSQL"),
            ("Mean \"Star_Rating\" > 3", "Mean"),
            ("DataFreshness \"Order_Date\" <= 24 hours", "DataFreshness"),
            (
                "ReferentialIntegrity \"id\" \"ref.{id}\" = 1.0",
                "ReferentialIntegrity",
            ),
            ("Sum \"amount\" > 0", "Sum"),
            ("StandardDeviation \"x\" < 3", "StandardDeviation"),
            ("Entropy \"x\" > 1", "Entropy"),
            ("DistinctValuesCount \"x\" > 3", "DistinctValuesCount"),
            ("ColumnCorrelation \"a\" \"b\" > 0.5", "ColumnCorrelation"),
            ("DatasetMatch \"ref\" \"id->id\" >= 0.9", "DatasetMatch"),
            ("SchemaMatch \"ref\" = 1.0", "SchemaMatch"),
            ("RowCountMatch \"ref\" = 1.0", "RowCountMatch"),
            (
                "AggregateMatch \"sum(a)\" \"sum(ref.a)\" >= 0.9",
                "AggregateMatch",
            ),
            ("ColumnNamesMatchPattern \"^[a-z_]+$\"", "ColumnNamesMatchPattern"),
            ("UniqueValueRatio \"x\" > 0.5", "UniqueValueRatio"),
            ("DetectAnomalies \"RowCount\"", "DetectAnomalies"),
            ("FileFreshness \"s3://b/p\" > (now() - 3 days)", "FileFreshness"),
            ("RowCount > last()", "last()"),
            ("RowCount > avg(last(3))", "avg(last(3))"),
            (
                "Completeness \"colA\" between min(last(5)) - 1 and max(last(5)) + 1",
                "min(last(5))",
            ),
            (
                "ColumnValues \"Load_Date\" > (now() - 3 days)",
                "(now() - 3 days)",
            ),
            ("ColumnValues \"Load_Date\" >= now()", "now()"),
            ("ColumnValues \"c\" in [\"a\", now()]", "now()"),
            ("RowCount > 10 * 2", "10 * 2"),
            ("RowCount > (5 + 5)", "(5 + 5)"),
            ("IsComplete \"att2\" where \"att1 = 'a'\"", "where"),
            (
                "ColumnValues \"b\" in [\"A\", \"B\"] where \"c is not null\" with threshold > 0.9",
                "where",
            ),
            (
                "ColumnValues \"b\" in [\"A\"] with threshold > 0.9 where \"c > 1\"",
                "where",
            ),
            ("RowCount > 0 labels=[\"foo\"=\"bar\"]", "labels"),
            ("ColumnValues \"c\" in $allowed", "$allowed"),
            ("ColumnValues \"c\" = $x", "$x"),
            (
                "IsUnique \"vendorid\" \"tpep_pickup_datetime\"",
                "IsUnique over several columns",
            ),
            ("Uniqueness \"a\" \"b\" = 1", "Uniqueness over several columns"),
            (
                "ColumnDataType \"c\" in [\"INTEGER\", \"LONG\"]",
                "ColumnDataType with `in`",
            ),
            ("ColumnDataType \"c\" != \"STRING\"", "ColumnDataType with `!=`"),
            ("ColumnValues \"c\" > 0 with tag = \"x\"", "`with tag`"),
            // Unsupported rules are named even inside composites.
            ("(IsComplete \"a\") and (Mean \"x\" > 1)", "Mean"),
        ] {
            assert_unsupported(rule, feature);
        }
        for (doc, feature) in [
            (
                "mySql = \"select 1\"\nRules = [ RowCount > 0 ]",
                "constant declaration `mySql",
            ),
            (
                "DataSources = { \"Primary\": \"x\" } Rules = [ RowCount > 0 ]",
                "DataSources",
            ),
            ("Rules = [ RowCount > 0 ]\nAnalyzers = [ RowCount ]", "Analyzers"),
            ("Analyzers = [ RowCount ]", "Analyzers"),
            ("DefaultLabels=[\"f\"=\"m\"]\nRules = [ RowCount > 0 ]", "labels"),
        ] {
            match err(doc) {
                DqdlError::Unsupported { feature: f, .. } => assert!(f.contains(feature), "{f} / {feature}"),
                e => panic!("{doc}: {e}"),
            }
        }
    }

    #[test]
    fn unsupported_error_carries_rule_text_and_position() {
        let e = err(
            "Rules = [\n  IsComplete \"a\",\n  (RowCount > 0) and (CustomSql \"select 1\" = 1),\n  \
                     IsUnique \"a\"\n]",
        );
        match &e {
            DqdlError::Unsupported {
                line,
                column,
                feature,
                rule,
            } => {
                assert_eq!((*line, *column), (3, 23));
                assert_eq!(feature, "rule type `CustomSql`");
                assert_eq!(rule, "(RowCount > 0) and (CustomSql \"select 1\" = 1)");
            }
            e => panic!("{e}"),
        }
        assert!(e
            .to_string()
            .starts_with("line 3, column 23: rule type `CustomSql` is not supported"));
    }

    #[test]
    fn syntax_errors_have_positions_and_rule_text() {
        let e = err("Rules = [\n    RowCount > 10,\n    ColumnValues \"age\" between 0 and\n]");
        assert_eq!((e.line(), e.column()), (4, 1));
        let msg = e.to_string();
        assert!(msg.contains("expected a value"), "{msg}");
        assert!(
            msg.contains("in rule `ColumnValues \"age\" between 0 and`"),
            "{msg}"
        );

        let e = err("Rules = [ RowCount > abc ]");
        assert_eq!((e.line(), e.column()), (1, 22));
        assert!(e.to_string().contains("expected a number, found `abc`"), "{e}");
        assert!(e.to_string().contains("(in rule `RowCount > abc`)"), "{e}");

        // Missing comma between rules: the message says so.
        let e = err("Rules = [\n  IsComplete \"a\"\n  IsUnique \"a\"\n]");
        assert_eq!((e.line(), e.column()), (3, 3));
        assert!(e.to_string().contains("expected `,` between rules"), "{e}");

        // Columns are counted in characters, not bytes.
        let e = err("Rules = [ IsComplete \"é\" ? ]");
        assert_eq!((e.line(), e.column()), (1, 26));
        assert!(e.to_string().contains("unexpected character '?'"), "{e}");

        let e = err("Rules = [ IsComplete \"abc ]");
        assert_eq!((e.line(), e.column()), (1, 22));
        assert!(e.to_string().contains("unterminated string"), "{e}");
    }

    #[test]
    fn document_level_errors() {
        assert!(err("")
            .to_string()
            .contains("expected `Rules = [ ... ]`, found end of input"));
        assert!(err("IsComplete \"a\"")
            .to_string()
            .contains("expected `Rules = [ ... ]`"));
        assert!(err("rules = [ IsComplete \"a\" ]")
            .to_string()
            .contains("case sensitive"));
        assert!(err("Rules = [ ]").to_string().contains("no rules"));
        assert!(err("Rules [ IsComplete \"a\" ]")
            .to_string()
            .contains("expected `=` after Rules"));
        assert!(err("Rules = [ IsComplete \"a\"")
            .to_string()
            .contains("expected `]`"));
        assert!(err("Rules = [ IsComplete \"a\" ] x")
            .to_string()
            .contains("after the closing `]`"));
        assert!(err("Rules = [ IsComplete \"a\", , ]")
            .to_string()
            .contains("expected a rule type"));
    }

    #[test]
    fn invalid_rules_are_explained() {
        assert_syntax("iscomplete \"a\"", "did you mean `IsComplete`?");
        assert_syntax("IsComplet \"a\"", "unknown rule type `IsComplet`");
        assert_syntax("RowCount \"id\" > 100", "RowCount takes no column name");
        assert_syntax("IsComplete", "IsComplete needs a column name");
        assert_syntax("IsComplete \"a\" \"b\"", "exactly one column name");
        assert_syntax("IsPrimaryKey", "at least one column");
        assert_syntax("RowCount", "expected a condition after RowCount");
        assert_syntax("RowCount > 1 with threshold > 0.5", "`with threshold` applies to");
        assert_syntax("IsComplete \"a\" with threshold > 0.5", "not IsComplete");
        assert_syntax(
            "ColumnValues \"c\" > 1 with threshold > 90",
            "fraction between 0 and 1",
        );
        assert_syntax("Completeness \"c\" > 95", "fraction between 0 and 1");
        assert_syntax("Uniqueness \"c\" between 0.5 and 2", "fraction between 0 and 1");
        assert_syntax(
            "RowCount between 10 and 1",
            "lower bound is above the upper bound",
        );
        assert_syntax(
            "ColumnValues \"c\" between 10 and 1",
            "lower bound is above the upper bound",
        );
        assert_syntax(
            "ColumnValues \"c\" between \"b\" and \"a\"",
            "lower bound is above the upper bound",
        );
        assert_syntax(
            "ColumnValues \"c\" between 1 and \"z\"",
            "both be numbers or both be quoted strings",
        );
        assert_syntax(
            "ColumnValues \"c\" > NULL",
            "can only be used with =, !=, in and not in",
        );
        assert_syntax(
            "ColumnValues \"c\" between EMPTY and \"z\"",
            "can only be used with",
        );
        assert_syntax("ColumnValues \"c\" in []", "the list is empty");
        assert_syntax("ColumnValues \"c\" in [1, 2 3]", "`,` or `]` in the list");
        assert_syntax(
            "ColumnValues \"c\" matches \"(abc\"",
            "invalid regular expression \"(abc\"",
        );
        assert_syntax(
            "ColumnValues \"c\" matches 5",
            "expected a quoted regular expression",
        );
        assert_syntax("ColumnValues \"c\" not equals 5", "after `not`");
        assert_syntax("ColumnValues \"c\" = true", "expected a value");
        assert_syntax(
            "ColumnLength \"c\" matches \"x\"",
            "`matches` applies to ColumnValues",
        );
        assert_syntax("ColumnDataType \"c\" \"INTEGER\"", "exactly one column name");
        assert_syntax("ColumnDataType \"c\" > 3", "expected `= \"TYPE\"`");
        assert_syntax("RowCount > 1.", "unexpected character '.'");
        assert_syntax("RowCount > 99999999999999999999999999999999999999999999999999999999999999999999999999999999\
                       999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999\
                       999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999\
                       999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999",
                       "too large");
        assert_syntax("RowCount > 1 with", "expected `threshold` after `with`");
    }

    #[test]
    fn display_is_canonical() {
        for (input, canonical) in [
            ("RowCount>10", "RowCount > 10"),
            ("RowCount between 1 and 1000.5", "RowCount between 1 and 1000.5"),
            ("RowCount not in [1,2]", "RowCount not in [1, 2]"),
            ("ColumnCount != -3", "ColumnCount != -3"),
            ("Completeness \"a\" >= 0.950", "Completeness \"a\" >= 0.95"),
            ("Uniqueness \"a\" = 1.0", "Uniqueness \"a\" = 1"),
            ("IsPrimaryKey a \"b\"", "IsPrimaryKey \"a\" \"b\""),
            (
                "ColumnValues \"c\" in [\"US\",NULL , empty,whitespaces_only]",
                "ColumnValues \"c\" in [\"US\", NULL, EMPTY, WHITESPACES_ONLY]",
            ),
            ("ColumnValues \"c\" ! = \"x\"", "ColumnValues \"c\" != \"x\""),
            (
                "ColumnValues \"c\" matches \"\\d+\\\"\" with threshold>0.9",
                "ColumnValues \"c\" matches \"\\d+\\\"\" with threshold > 0.9",
            ),
            (
                "ColumnValues \"say \\\"hi\\\"\" = \"a\\\\b\"",
                "ColumnValues \"say \\\"hi\\\"\" = \"a\\\\b\"",
            ),
            (
                "ColumnDataType \"c\" = \"integer\"",
                "ColumnDataType \"c\" = \"INTEGER\"",
            ),
            (
                "ColumnLength \"c\" <= 5 with threshold BETWEEN 0.1 AND 1",
                "ColumnLength \"c\" <= 5 with threshold between 0.1 and 1",
            ),
            (
                "(IsComplete \"a\") AND ((RowCount > 0) OR (IsUnique \"a\"))",
                "(IsComplete \"a\") and ((RowCount > 0) or (IsUnique \"a\"))",
            ),
            ("((IsComplete \"a\"))", "IsComplete \"a\""),
        ] {
            let rule = one(input);
            assert_eq!(rule.to_string(), canonical, "{input}");
            assert_eq!(one(canonical), rule, "{canonical}");
        }
        let rs = parse("Rules = [ IsComplete \"a\", RowCount > 0 ]").unwrap();
        assert_eq!(
            rs.to_string(),
            "Rules = [\n    IsComplete \"a\",\n    RowCount > 0\n]\n"
        );
        assert_eq!(parse(&rs.to_string()).unwrap(), rs);
    }

    /// Deterministic pseudo-random rules: `parse(display(r)) == r` for all of them.
    #[test]
    fn display_parse_round_trip_generated() {
        struct Rng(u64);
        impl Rng {
            fn next(&mut self) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0
            }
            fn below(&mut self, n: u64) -> u64 {
                self.next() % n
            }
            fn num(&mut self) -> f64 {
                match self.below(4) {
                    0 => self.below(1000) as f64,
                    1 => -(self.below(1000) as f64) / 8.0,
                    2 => self.below(1_000_000_007) as f64 / 1000.0,
                    _ => (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 1e12,
                }
            }
            fn frac(&mut self) -> f64 {
                self.below(1001) as f64 / 1000.0
            }
            fn string(&mut self) -> String {
                const ALPHABET: &[&str] = &[
                    "a", "Z", "_", " ", "\"", "\\", "#", ",", "]", "é", "名", "-", "9", "/",
                ];
                (0..1 + self.below(8))
                    .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
                    .collect()
            }
            fn sorted_pair(&mut self) -> (f64, f64) {
                let (a, b) = (self.num(), self.num());
                if a <= b {
                    (a, b)
                } else {
                    (b, a)
                }
            }
            fn num_expr(&mut self, fraction: bool) -> NumExpr {
                let ops = [CmpOp::Eq, CmpOp::Ne, CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le];
                match self.below(5) {
                    0 => {
                        let x = if fraction { self.frac() } else { self.num() };
                        NumExpr::Cmp(ops[self.below(6) as usize], x)
                    }
                    1 | 2 => {
                        let (a, b) = if fraction {
                            let (a, b) = (self.frac(), self.frac());
                            (a.min(b), a.max(b))
                        } else {
                            self.sorted_pair()
                        };
                        if self.below(2) == 0 {
                            NumExpr::Between(a, b)
                        } else {
                            NumExpr::NotBetween(a, b)
                        }
                    }
                    _ => {
                        let n = 1 + self.below(4);
                        let items: Vec<f64> = (0..n)
                            .map(|_| if fraction { self.frac() } else { self.num() })
                            .collect();
                        if self.below(2) == 0 {
                            NumExpr::In(items)
                        } else {
                            NumExpr::NotIn(items)
                        }
                    }
                }
            }
            fn literal(&mut self, ordered: bool) -> Literal {
                match self.below(if ordered { 2 } else { 5 }) {
                    0 => Literal::Number(self.num()),
                    1 => Literal::String(self.string()),
                    2 => Literal::Null,
                    3 => Literal::Empty,
                    _ => Literal::WhitespacesOnly,
                }
            }
            fn value_expr(&mut self) -> ValueExpr {
                let ops = [CmpOp::Eq, CmpOp::Ne, CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le];
                match self.below(6) {
                    0 => {
                        let op = ops[self.below(6) as usize];
                        let lit = self.literal(!matches!(op, CmpOp::Eq | CmpOp::Ne));
                        ValueExpr::Cmp(op, lit)
                    }
                    1 => {
                        let (a, b) = if self.below(2) == 0 {
                            let (a, b) = self.sorted_pair();
                            (Literal::Number(a), Literal::Number(b))
                        } else {
                            let (a, b) = (self.string(), self.string());
                            let (a, b) = if a <= b { (a, b) } else { (b, a) };
                            (Literal::String(a), Literal::String(b))
                        };
                        if self.below(2) == 0 {
                            ValueExpr::Between(a, b)
                        } else {
                            ValueExpr::NotBetween(a, b)
                        }
                    }
                    2 | 3 => {
                        let items = (0..1 + self.below(5)).map(|_| self.literal(false)).collect();
                        if self.below(2) == 0 {
                            ValueExpr::In(items)
                        } else {
                            ValueExpr::NotIn(items)
                        }
                    }
                    _ => {
                        // Regexes from parsing never contain a quote preceded by an odd run of backslashes.
                        let re = ["^[a-z]+$", r"\d{3}\.\d", "\"x\"", r"a\\b", "名+"][self.below(5) as usize];
                        if self.below(2) == 0 {
                            ValueExpr::Matches(re.into())
                        } else {
                            ValueExpr::NotMatches(re.into())
                        }
                    }
                }
            }
            fn threshold(&mut self) -> Option<NumExpr> {
                (self.below(2) == 0).then(|| self.num_expr(true))
            }
            fn rule(&mut self, depth: u32) -> Rule {
                let col = self.string();
                match self.below(if depth < 3 { 13 } else { 11 }) {
                    0 => Rule::RowCount(self.num_expr(false)),
                    1 => Rule::ColumnCount(self.num_expr(false)),
                    2 => Rule::ColumnExists(col),
                    3 => Rule::IsComplete(col),
                    4 => Rule::Completeness(col, self.num_expr(true)),
                    5 => Rule::IsUnique(col),
                    6 => Rule::Uniqueness(col, self.num_expr(true)),
                    7 => Rule::IsPrimaryKey((0..1 + self.below(3)).map(|_| self.string()).collect()),
                    8 => Rule::ColumnValues {
                        column: col,
                        expr: self.value_expr(),
                        threshold: self.threshold(),
                    },
                    9 => Rule::ColumnLength {
                        column: col,
                        expr: self.num_expr(false),
                        threshold: self.threshold(),
                    },
                    10 => Rule::ColumnDataType {
                        column: col,
                        ty: DqdlType::ALL[self.below(8) as usize],
                        threshold: self.threshold(),
                    },
                    k => {
                        let items = (0..2 + self.below(3)).map(|_| self.rule(depth + 1)).collect();
                        if k == 11 {
                            Rule::And(items)
                        } else {
                            Rule::Or(items)
                        }
                    }
                }
            }
        }

        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let rule = rng.rule(0);
            let text = rule.to_string();
            match parse(&format!("Rules = [ {text} ]")) {
                Ok(rs) => assert_eq!(rs.rules, vec![rule], "round trip of {text}"),
                Err(e) => panic!("canonical text does not parse: {text}: {e}"),
            }
        }
    }

    /// Truncated and mutated documents give errors, never panics (a cheap stand-in for the fuzzer).
    #[test]
    fn mangled_input_never_panics() {
        let doc = "Metadata = { \"Version\": \"1.0\" }\nRules = [ # c\n  (RowCount > 0) or ((IsComplete \"a\") \
                   and (IsUnique a)),\n  ColumnValues \"c\" not in [\"x\\\"y\", -1.5, NULL] with threshold \
                   between 0.1 and 0.9,\n  ColumnValues \"d\" matches \"\\d+\", ColumnDataType \"e\" = \"LONG\",\n  \
                   CustomSql \"select 1\" > avg(last(3)) where \"x\" // c\n]";
        assert!(parse(doc).is_err(), "CustomSql is unsupported");
        let chars: Vec<char> = doc.chars().collect();
        for end in 0..chars.len() {
            let _ = parse(&chars[..end].iter().collect::<String>());
        }
        let pieces = [
            "(", ")", "[", "]", "\"", "\\", ",", "and", " or ", "not", "-", "é", "#", "\n", "=", "!", "$x",
        ];
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..4_000 {
            let mut s: Vec<char> = chars.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % (s.len() as u64 + 1)) as usize;
                match next() % 3 {
                    0 if at < s.len() => {
                        s.remove(at);
                    }
                    _ => {
                        let piece = pieces[(next() % pieces.len() as u64) as usize];
                        for (k, c) in piece.chars().enumerate() {
                            s.insert((at + k).min(s.len()), c);
                        }
                    }
                }
            }
            let text: String = s.into_iter().collect();
            if let Ok(rs) = parse(&text) {
                // Whatever parses prints back to the same rules.
                assert_eq!(parse(&rs.to_string()).as_ref(), Ok(&rs), "{text}");
            }
        }
    }

    #[test]
    fn aws_documentation_examples_parse() {
        let src = r#"
            Rules = [
                IsComplete "order-id",
                IsUnique "order-id",
                (IsComplete "id") and (IsUnique "id"),
                (RowCount > 0) or ((IsComplete "colA") and (IsUnique "colA")),
                ColumnValues "Country" in [ "US", "CA", "UK", NULL, EMPTY, WHITESPACES_ONLY ],
                ColumnValues "First_Name" matches "[a-zA-Z]*",
                ColumnValues "Customer_ID" between 1 and 2000,
                (ColumnValues "Age" > 21) OR (ColumnValues "Age" = NULL),
                ColumnValues "Age" != 21,
                ColumnValues "Age" not in [21, 22, 23],
                (ColumnValues "Age" != 21) AND (ColumnValues "Age" != NULL),
                ColumnValues "colA" != NULL with threshold > 0.5,
                ColumnLength "Postal_Code" = 5,
                (ColumnLength "Postal_Code" > 4) AND (ColumnValues "Postal_Code" != NULL),
                Completeness "First_Name" > 0.95,
                Uniqueness "email" = 1.0,
                IsPrimaryKey "colA" "colB" "colC",
                ColumnDataType "colA" = "INTEGER" with threshold > 0.9,
                ColumnExists "Middle_Name",
                ColumnCount = 12
            ]
        "#;
        assert_eq!(rules(src).len(), 20);
    }
}
