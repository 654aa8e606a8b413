//! JSONPath as Step Functions evaluates it (Jayway semantics): `$`, `$.a.b`, `$['a b']`, `[n]`
//! (negative counts from the end), `[*]`, `.*`, `..` recursive descent, unions `[0,1]`/`['a','b']`,
//! slices `[a:b]`, filters `[?(@.x == 1)]` with `== != < <= > >=`, `&&`, `||`, `!` and existence
//! tests, a trailing `.length()`, and `$$.` paths into the context object.
//!
//! A *definite* path (only names and single indexes) yields one value or nothing; any other path
//! yields the JSON array of its matches (possibly empty). *Reference paths* (ResultPath, ItemsPath,
//! ...) must be definite.

use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Maximum nesting of parentheses inside filters, so hostile input cannot exhaust the stack.
const MAX_FILTER_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    Input,
    Context,
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Child(String),
    Index(i64),
    Wildcard,
    Names(Vec<String>),
    Indexes(Vec<i64>),
    Slice(Option<i64>, Option<i64>),
    Filter(Box<Expr>),
    Descend(Box<Seg>),
    Length,
}

impl Seg {
    fn is_definite(&self) -> bool {
        matches!(self, Seg::Child(_) | Seg::Index(_) | Seg::Length)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Rel(Vec<Seg>),
    Abs(Path),
    Lit(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Exists(Operand),
    Cmp(Operand, CmpOp, Operand),
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    text: String,
    root: Root,
    segs: Vec<Seg>,
}

impl Path {
    /// Parses any path Step Functions accepts (`$...` or `$$...`).
    pub fn parse(text: &str) -> Result<Path, String> {
        let (root, rest) = if let Some(r) = text.strip_prefix("$$") {
            (Root::Context, r)
        } else if let Some(r) = text.strip_prefix('$') {
            (Root::Input, r)
        } else {
            return Err(format!("'{text}' is not a JSONPath (must start with '$')"));
        };
        let mut p = Parser {
            s: rest.as_bytes(),
            src: rest,
            i: 0,
            in_filter: false,
            depth: 0,
        };
        let segs = p
            .segments()
            .map_err(|e| format!("invalid JSONPath '{text}': {e}"))?;
        if p.i != p.s.len() {
            return Err(format!(
                "invalid JSONPath '{text}': unexpected '{}'",
                &rest[p.i..]
            ));
        }
        if let Some(pos) = segs.iter().position(|s| *s == Seg::Length) {
            if pos + 1 != segs.len() {
                return Err(format!("invalid JSONPath '{text}': length() must be last"));
            }
        }
        Ok(Path {
            text: text.to_string(),
            root,
            segs,
        })
    }

    /// Parses a Reference Path: a definite path into the input (names and indexes only).
    pub fn parse_reference(text: &str) -> Result<Path, String> {
        let p = Path::parse(text)?;
        if p.root == Root::Context {
            return Err(format!(
                "'{text}' must be a reference path into the input, not the context object"
            ));
        }
        if !p.segs.iter().all(|s| matches!(s, Seg::Child(_) | Seg::Index(_))) {
            return Err(format!(
                "'{text}' must be a reference path (names and single indexes only, no wildcards, \
                 filters, slices, unions, '..' or functions)"
            ));
        }
        Ok(p)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn root(&self) -> Root {
        self.root
    }

    pub fn is_definite(&self) -> bool {
        self.segs.iter().all(Seg::is_definite)
    }

    /// `$` (or `$$`) with no segments.
    pub fn is_root(&self) -> bool {
        self.segs.is_empty()
    }

    /// Evaluates against the input or the context object, per the path's root.
    pub fn eval(&self, input: &Value, context: &Value) -> Option<Value> {
        match self.root {
            Root::Input => self.eval_on(input, input, context),
            Root::Context => self.eval_on(context, input, context),
        }
    }

    /// Evaluates against `doc`; `input`/`context` resolve absolute paths inside filters.
    fn eval_on(&self, doc: &Value, input: &Value, context: &Value) -> Option<Value> {
        let env = Env { input, context };
        let (segs, length) = match self.segs.last() {
            Some(Seg::Length) => (&self.segs[..self.segs.len() - 1], true),
            _ => (&self.segs[..], false),
        };
        let nodes = select(segs, doc, &env);
        let definite = self.is_definite();
        if length {
            let lens: Vec<Value> = nodes.iter().filter_map(|n| length_of(n)).collect();
            return if definite {
                lens.into_iter().next()
            } else {
                Some(Value::Array(lens))
            };
        }
        if definite {
            nodes.into_iter().next().cloned()
        } else {
            Some(Value::Array(nodes.into_iter().cloned().collect()))
        }
    }
}

fn length_of(v: &Value) -> Option<Value> {
    match v {
        Value::Array(a) => Some(Value::from(a.len())),
        Value::Object(o) => Some(Value::from(o.len())),
        Value::String(s) => Some(Value::from(s.chars().count())),
        _ => None,
    }
}

struct Env<'a> {
    input: &'a Value,
    context: &'a Value,
}

fn select<'v>(segs: &[Seg], doc: &'v Value, env: &Env<'_>) -> Vec<&'v Value> {
    let mut cur = vec![doc];
    for seg in segs {
        let mut next = Vec::new();
        for node in cur {
            apply(seg, node, env, &mut next);
        }
        cur = next;
    }
    cur
}

fn norm_index(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let j = if i < 0 { len.checked_add(i)? } else { i };
    if (0..len).contains(&j) {
        usize::try_from(j).ok()
    } else {
        None
    }
}

fn apply<'v>(seg: &Seg, node: &'v Value, env: &Env<'_>, out: &mut Vec<&'v Value>) {
    match seg {
        Seg::Child(name) => {
            if let Some(v) = node.as_object().and_then(|o| o.get(name)) {
                out.push(v);
            }
        }
        Seg::Index(i) => {
            if let Some(a) = node.as_array() {
                if let Some(j) = norm_index(*i, a.len()) {
                    out.push(&a[j]);
                }
            }
        }
        Seg::Wildcard => match node {
            Value::Array(a) => out.extend(a.iter()),
            Value::Object(o) => out.extend(o.values()),
            _ => {}
        },
        Seg::Names(names) => {
            if let Some(o) = node.as_object() {
                out.extend(names.iter().filter_map(|n| o.get(n)));
            }
        }
        Seg::Indexes(idx) => {
            if let Some(a) = node.as_array() {
                out.extend(idx.iter().filter_map(|i| norm_index(*i, a.len()).map(|j| &a[j])));
            }
        }
        Seg::Slice(start, end) => {
            if let Some(a) = node.as_array() {
                let len = a.len() as i64;
                let clamp = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
                let s = start.map(clamp).unwrap_or(0);
                let e = end.map(clamp).unwrap_or(len);
                if s < e {
                    out.extend(a[s as usize..e as usize].iter());
                }
            }
        }
        Seg::Filter(expr) => match node {
            Value::Array(a) => out.extend(a.iter().filter(|item| truthy(expr, item, env))),
            Value::Object(_) if truthy(expr, node, env) => out.push(node),
            _ => {}
        },
        Seg::Descend(inner) => descend(inner, node, env, out),
        Seg::Length => {}
    }
}

fn descend<'v>(inner: &Seg, node: &'v Value, env: &Env<'_>, out: &mut Vec<&'v Value>) {
    apply(inner, node, env, out);
    match node {
        Value::Array(a) => a.iter().for_each(|c| descend(inner, c, env, out)),
        Value::Object(o) => o.values().for_each(|c| descend(inner, c, env, out)),
        _ => {}
    }
}

/// Resolves a filter operand: `None` when a path does not match.
fn operand_value(op: &Operand, item: &Value, env: &Env<'_>) -> Option<Value> {
    match op {
        Operand::Lit(v) => Some(v.clone()),
        Operand::Abs(p) => p.eval(env.input, env.context),
        Operand::Rel(segs) => {
            let definite = segs.iter().all(Seg::is_definite);
            let (body, length) = match segs.last() {
                Some(Seg::Length) => (&segs[..segs.len() - 1], true),
                _ => (&segs[..], false),
            };
            let nodes = select(body, item, env);
            if length {
                return nodes.first().and_then(|n| length_of(n));
            }
            if definite {
                nodes.first().map(|v| (*v).clone())
            } else if nodes.is_empty() {
                None
            } else {
                Some(Value::Array(nodes.into_iter().cloned().collect()))
            }
        }
    }
}

fn truthy(expr: &Expr, item: &Value, env: &Env<'_>) -> bool {
    match expr {
        Expr::Or(a, b) => truthy(a, item, env) || truthy(b, item, env),
        Expr::And(a, b) => truthy(a, item, env) && truthy(b, item, env),
        Expr::Not(a) => !truthy(a, item, env),
        Expr::Exists(op) => match op {
            Operand::Lit(v) => !matches!(v, Value::Null | Value::Bool(false)),
            _ => operand_value(op, item, env).is_some(),
        },
        Expr::Cmp(l, op, r) => {
            let (Some(a), Some(b)) = (operand_value(l, item, env), operand_value(r, item, env)) else {
                return false;
            };
            match op {
                CmpOp::Eq => json_eq(&a, &b),
                CmpOp::Ne => !json_eq(&a, &b),
                CmpOp::Lt => order(&a, &b) == Some(Ordering::Less),
                CmpOp::Le => matches!(order(&a, &b), Some(Ordering::Less | Ordering::Equal)),
                CmpOp::Gt => order(&a, &b) == Some(Ordering::Greater),
                CmpOp::Ge => matches!(order(&a, &b), Some(Ordering::Greater | Ordering::Equal)),
            }
        }
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Compares two JSON numbers exactly when both are integers, as f64 otherwise.
pub(crate) fn num_cmp(x: &serde_json::Number, y: &serde_json::Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return Some(a.cmp(&b));
    }
    x.as_f64()?.partial_cmp(&y.as_f64()?)
}

/// JSON equality where `1` equals `1.0`.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_cmp(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Writes `value` at a reference path inside `doc` (ResultPath semantics): missing object fields
/// along the way are created; anything else that does not fit is an error.
pub(crate) fn set_reference(doc: &mut Value, path: &Path, value: Value) -> Result<(), String> {
    if path.segs.is_empty() {
        *doc = value;
        return Ok(());
    }
    let last = path.segs.len() - 1;
    let mut value = Some(value);
    let mut cur = doc;
    for (i, seg) in path.segs.iter().enumerate() {
        match seg {
            Seg::Child(name) => {
                let Some(obj) = cur.as_object_mut() else {
                    return Err(format!(
                        "Unable to apply ResultPath '{}': the value at '{name}'s parent is not an object",
                        path.text
                    ));
                };
                if i == last {
                    obj.insert(name.clone(), value.take().unwrap_or(Value::Null));
                    return Ok(());
                }
                cur = obj
                    .entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
            }
            Seg::Index(n) => {
                let Some(arr) = cur.as_array_mut() else {
                    return Err(format!(
                        "Unable to apply ResultPath '{}': index [{n}] applied to a non-array",
                        path.text
                    ));
                };
                let Some(j) = norm_index(*n, arr.len()) else {
                    return Err(format!(
                        "Unable to apply ResultPath '{}': index [{n}] out of range",
                        path.text
                    ));
                };
                if i == last {
                    arr[j] = value.take().unwrap_or(Value::Null);
                    return Ok(());
                }
                cur = &mut arr[j];
            }
            _ => return Err(format!("'{}' is not a reference path", path.text)),
        }
    }
    Ok(())
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    in_filter: bool,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at offset {}", c as char, self.i))
        }
    }

    fn name_end(&self, c: u8) -> bool {
        if self.in_filter {
            matches!(
                c,
                b'.' | b'[' | b')' | b'=' | b'!' | b'<' | b'>' | b'&' | b'|' | b',' | b']'
            ) || c.is_ascii_whitespace()
        } else {
            matches!(c, b'.' | b'[')
        }
    }

    fn segments(&mut self) -> Result<Vec<Seg>, String> {
        let mut segs = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') if self.at(1) == Some(b'.') => {
                    self.i += 2;
                    let inner = match self.peek() {
                        Some(b'[') => self.bracket()?,
                        Some(b'*') => {
                            self.i += 1;
                            Seg::Wildcard
                        }
                        _ => Seg::Child(self.name()?),
                    };
                    segs.push(Seg::Descend(Box::new(inner)));
                }
                Some(b'.') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'*') => {
                            self.i += 1;
                            segs.push(Seg::Wildcard);
                        }
                        Some(b'[') => segs.push(self.bracket()?),
                        _ => {
                            let name = self.name()?;
                            if name == "length()" {
                                segs.push(Seg::Length);
                            } else if name.ends_with("()") {
                                return Err(format!("unsupported function '{name}'"));
                            } else {
                                segs.push(Seg::Child(name));
                            }
                        }
                    }
                }
                Some(b'[') => segs.push(self.bracket()?),
                _ => return Ok(segs),
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if self.name_end(c) {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(format!("empty name at offset {start}"));
        }
        // Byte positions are at ASCII delimiters, so these are char boundaries.
        self.src
            .get(start..self.i)
            .map(str::to_string)
            .ok_or_else(|| "invalid UTF-8 boundary".to_string())
    }

    fn quoted(&mut self) -> Result<String, String> {
        let Some(q) = self.peek().filter(|c| *c == b'\'' || *c == b'"') else {
            return Err(format!("expected a quoted name at offset {}", self.i));
        };
        self.i += 1;
        let mut out = String::new();
        let mut seg_start = self.i;
        loop {
            match self.peek() {
                None => return Err("unterminated quoted name".into()),
                Some(c) if c == q => {
                    out.push_str(self.src.get(seg_start..self.i).unwrap_or_default());
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(self.src.get(seg_start..self.i).unwrap_or_default());
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return Err("unterminated escape".into());
                    };
                    out.push(match e {
                        b'n' => '\n',
                        b't' => '\t',
                        _ if e.is_ascii() => e as char,
                        _ => return Err("invalid escape".into()),
                    });
                    self.i += 1;
                    seg_start = self.i;
                }
                Some(_) => self.i += 1,
            }
        }
    }

    fn int(&mut self) -> Result<i64, String> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.src
            .get(start..self.i)
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| format!("expected an integer at offset {start}"))
    }

    fn bracket(&mut self) -> Result<Seg, String> {
        self.expect(b'[')?;
        self.skip_ws();
        let seg = match self.peek() {
            Some(b'*') => {
                self.i += 1;
                Seg::Wildcard
            }
            Some(b'?') => {
                self.i += 1;
                self.skip_ws();
                self.expect(b'(')?;
                let was = self.in_filter;
                self.in_filter = true;
                let e = self.or_expr()?;
                self.in_filter = was;
                self.skip_ws();
                self.expect(b')')?;
                Seg::Filter(Box::new(e))
            }
            Some(b'\'' | b'"') => {
                let mut names = vec![self.quoted()?];
                self.skip_ws();
                while self.peek() == Some(b',') {
                    self.i += 1;
                    self.skip_ws();
                    names.push(self.quoted()?);
                    self.skip_ws();
                }
                if names.len() == 1 {
                    Seg::Child(names.remove(0))
                } else {
                    Seg::Names(names)
                }
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b':' => {
                let first = if c == b':' { None } else { Some(self.int()?) };
                self.skip_ws();
                if self.peek() == Some(b':') {
                    self.i += 1;
                    self.skip_ws();
                    let end = if self.peek().is_some_and(|c| c.is_ascii_digit() || c == b'-') {
                        Some(self.int()?)
                    } else {
                        None
                    };
                    self.skip_ws();
                    if self.peek() == Some(b':') {
                        return Err("slice steps are not supported".into());
                    }
                    Seg::Slice(first, end)
                } else {
                    let mut idx = vec![first.unwrap_or(0)];
                    while self.peek() == Some(b',') {
                        self.i += 1;
                        self.skip_ws();
                        idx.push(self.int()?);
                        self.skip_ws();
                    }
                    if idx.len() == 1 {
                        Seg::Index(idx[0])
                    } else {
                        Seg::Indexes(idx)
                    }
                }
            }
            _ => return Err(format!("unsupported bracket expression at offset {}", self.i)),
        };
        self.skip_ws();
        self.expect(b']')?;
        Ok(seg)
    }

    fn or_expr(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err("filter nested too deeply".into());
        }
        let mut left = self.and_expr()?;
        loop {
            self.skip_ws();
            if self.peek() == Some(b'|') && self.at(1) == Some(b'|') {
                self.i += 2;
                let right = self.and_expr()?;
                left = Expr::Or(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.not_expr()?;
        loop {
            self.skip_ws();
            if self.peek() == Some(b'&') && self.at(1) == Some(b'&') {
                self.i += 2;
                let right = self.not_expr()?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, String> {
        self.skip_ws();
        if self.peek() == Some(b'!') && self.at(1) != Some(b'=') {
            self.i += 1;
            self.depth += 1;
            if self.depth > MAX_FILTER_DEPTH {
                return Err("filter nested too deeply".into());
            }
            let inner = self.not_expr()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek() == Some(b'(') {
            self.i += 1;
            let e = self.or_expr()?;
            self.skip_ws();
            self.expect(b')')?;
            return Ok(e);
        }
        let left = self.operand()?;
        self.skip_ws();
        let op = match (self.peek(), self.at(1)) {
            (Some(b'='), Some(b'=')) => Some((CmpOp::Eq, 2)),
            (Some(b'!'), Some(b'=')) => Some((CmpOp::Ne, 2)),
            (Some(b'<'), Some(b'=')) => Some((CmpOp::Le, 2)),
            (Some(b'>'), Some(b'=')) => Some((CmpOp::Ge, 2)),
            (Some(b'<'), _) => Some((CmpOp::Lt, 1)),
            (Some(b'>'), _) => Some((CmpOp::Gt, 1)),
            (Some(b'='), Some(b'~')) => return Err("regular expressions (=~) are not supported".into()),
            _ => None,
        };
        match op {
            Some((op, n)) => {
                self.i += n;
                self.skip_ws();
                let right = self.operand()?;
                Ok(Expr::Cmp(left, op, right))
            }
            None => Ok(Expr::Exists(left)),
        }
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.skip_ws();
        match self.peek() {
            Some(b'@') => {
                self.i += 1;
                Ok(Operand::Rel(self.segments()?))
            }
            Some(b'$') => {
                let start = self.i;
                self.i += 1;
                let root = if self.peek() == Some(b'$') {
                    self.i += 1;
                    Root::Context
                } else {
                    Root::Input
                };
                let segs = self.segments()?;
                let text = self.src.get(start..self.i).unwrap_or("$").to_string();
                Ok(Operand::Abs(Path { text, root, segs }))
            }
            Some(b'\'' | b'"') => Ok(Operand::Lit(Value::String(self.quoted()?))),
            Some(c) if c.is_ascii_digit() || c == b'-' => {
                let start = self.i;
                self.i += 1;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+'))
                {
                    self.i += 1;
                }
                let t = self.src.get(start..self.i).unwrap_or_default();
                serde_json::from_str::<serde_json::Number>(t)
                    .map(|n| Operand::Lit(Value::Number(n)))
                    .map_err(|_| format!("invalid number '{t}'"))
            }
            _ => {
                for (word, v) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.s[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return Ok(Operand::Lit(v));
                    }
                }
                Err(format!("unexpected token in filter at offset {}", self.i))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> Value {
        json!({
            "store": {
                "book": [
                    {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
                    {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
                    {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick",
                     "isbn": "0-553-21311-3", "price": 8.99},
                    {"category": "fiction", "author": "J. R. R. Tolkien", "title": "LOTR",
                     "isbn": "0-395-19395-8", "price": 22.99}
                ],
                "bicycle": {"color": "red", "price": 19.95}
            },
            "a b": {"c": 1},
            "error-info": 2
        })
    }

    fn ev(p: &str) -> Option<Value> {
        Path::parse(p)
            .unwrap()
            .eval(&store(), &json!({"Execution": {"Name": "n"}}))
    }

    #[test]
    fn definite_paths() {
        assert_eq!(ev("$"), Some(store()));
        assert_eq!(ev("$.store.bicycle.color"), Some(json!("red")));
        assert_eq!(ev("$['a b'].c"), Some(json!(1)));
        assert_eq!(ev("$.['a b']['c']"), Some(json!(1)));
        assert_eq!(ev("$.error-info"), Some(json!(2)));
        assert_eq!(ev("$.store.book[0].author"), Some(json!("Nigel Rees")));
        assert_eq!(ev("$.store.book[-1].title"), Some(json!("LOTR")));
        assert_eq!(ev("$.store.book[9]"), None);
        assert_eq!(ev("$.missing"), None);
        assert_eq!(ev("$$.Execution.Name"), Some(json!("n")));
        assert_eq!(ev("$.store.book.length()"), Some(json!(4)));
    }

    #[test]
    fn indefinite_paths() {
        assert_eq!(
            ev("$.store.book[*].author"),
            Some(json!([
                "Nigel Rees",
                "Evelyn Waugh",
                "Herman Melville",
                "J. R. R. Tolkien"
            ]))
        );
        assert_eq!(ev("$..isbn"), Some(json!(["0-553-21311-3", "0-395-19395-8"])));
        assert_eq!(ev("$.store.bicycle.*"), Some(json!(["red", 19.95])));
        assert_eq!(ev("$.store.book[1:3].price"), Some(json!([12.99, 8.99])));
        assert_eq!(ev("$.store.book[-1:].price"), Some(json!([22.99])));
        assert_eq!(ev("$.store.book[:1].price"), Some(json!([8.95])));
        assert_eq!(ev("$.store.book[0,2].price"), Some(json!([8.95, 8.99])));
        assert_eq!(
            ev("$.store.bicycle['color','price']"),
            Some(json!(["red", 19.95]))
        );
        assert_eq!(ev("$.nothing[*]"), Some(json!([])));
        assert_eq!(ev("$..price").map(|v| v.as_array().map(Vec::len)), Some(Some(5)));
    }

    #[test]
    fn filters() {
        assert_eq!(
            ev("$.store.book[?(@.price < 10)].title"),
            Some(json!(["Sayings", "Moby Dick"]))
        );
        assert_eq!(
            ev("$.store.book[?(@.isbn)].title"),
            Some(json!(["Moby Dick", "LOTR"]))
        );
        assert_eq!(
            ev("$.store.book[?(!@.isbn)].title"),
            Some(json!(["Sayings", "Sword"]))
        );
        assert_eq!(
            ev("$.store.book[?(@.category == 'fiction' && @.price > 20)].title"),
            Some(json!(["LOTR"]))
        );
        assert_eq!(
            ev("$.store.book[?(@.price == 8.95 || @.title == \"LOTR\")].title"),
            Some(json!(["Sayings", "LOTR"]))
        );
        assert_eq!(
            ev("$.store.book[?(@.category != 'fiction')].title"),
            Some(json!(["Sayings"]))
        );
        assert_eq!(
            ev("$.store.book[?(@.price >= 22.99)].title"),
            Some(json!(["LOTR"]))
        );
        assert_eq!(
            ev("$.store.book[?(@.price <= 8.95)].title"),
            Some(json!(["Sayings"]))
        );
        assert_eq!(
            ev("$.store.book[?(@.price < $.store.bicycle.price)].title"),
            Some(json!(["Sayings", "Sword", "Moby Dick"]))
        );
        assert_eq!(ev("$.store.book[?(@.nope == 1)]"), Some(json!([])));
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "a.b",
            "$.",
            "$[",
            "$[?(@.a ==)]",
            "$['x",
            "$.a..",
            "$[1:2:3]",
            "$.foo()",
            "$.a.length().b",
        ] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
        assert!(Path::parse_reference("$.a[*]").is_err());
        assert!(Path::parse_reference("$..a").is_err());
        assert!(Path::parse_reference("$$.Execution").is_err());
        assert!(Path::parse_reference("$.a[0].b").is_ok());
    }

    #[test]
    fn deep_filter_nesting_is_rejected_not_overflowed() {
        let p = format!("$[?({}@.a{})]", "(".repeat(5000), ")".repeat(5000));
        assert!(Path::parse(&p).is_err());
        let p = format!("$[?({}@.a)]", "!".repeat(5000));
        assert!(Path::parse(&p).is_err());
    }

    #[test]
    fn set_reference_rules() {
        let mut doc = json!({"a": {"b": 1}, "n": 5, "arr": [1, 2]});
        set_reference(&mut doc, &Path::parse_reference("$.a.c").unwrap(), json!(2)).unwrap();
        set_reference(&mut doc, &Path::parse_reference("$.x.y.z").unwrap(), json!(3)).unwrap();
        set_reference(&mut doc, &Path::parse_reference("$.arr[1]").unwrap(), json!(9)).unwrap();
        assert_eq!(
            doc,
            json!({"a": {"b": 1, "c": 2}, "n": 5, "arr": [1, 9], "x": {"y": {"z": 3}}})
        );
        assert!(set_reference(&mut doc, &Path::parse_reference("$.n.m").unwrap(), json!(1)).is_err());
        assert!(set_reference(&mut doc, &Path::parse_reference("$.arr[5]").unwrap(), json!(1)).is_err());
        let mut s = json!("str");
        assert!(set_reference(&mut s, &Path::parse_reference("$.a").unwrap(), json!(1)).is_err());
        set_reference(&mut s, &Path::parse_reference("$").unwrap(), json!(1)).unwrap();
        assert_eq!(s, json!(1));
    }

    /// Random strings over the path alphabet never panic the parser or the evaluator.
    #[test]
    fn random_paths_never_panic() {
        let alphabet: Vec<char> = "$@.[]*?()'\"=!<>&|,:-0123456789abé \\".chars().collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let doc = store();
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let mut s = String::from("$");
            let mut x = seed;
            for _ in 0..len {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push(alphabet[(x >> 33) as usize % alphabet.len()]);
            }
            if let Ok(p) = Path::parse(&s) {
                let _ = p.eval(&doc, &doc);
            }
            let _ = Path::parse_reference(&s);
        }
    }

    #[test]
    fn json_eq_numbers() {
        assert!(json_eq(&json!(1), &json!(1.0)));
        assert!(json_eq(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!json_eq(&json!("1"), &json!(1)));
    }
}
