//! A recursive-descent parser over the tokens: the document, each supported rule, composite rules
//! (nesting capped), thresholds and expressions. Anything outside the subset is an `Unsupported` error
//! that names it.

use super::lexer::{lex, line_col, syntax_at, Tok, Token};
use super::*;

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
        if let Err(e) = crate::contract::compile_regex(&regex) {
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
