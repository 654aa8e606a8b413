//! Intrinsic functions (`States.Format(...)` and friends) for JSONPath payload templates.
//!
//! Parsing happens at load time (unknown functions, wrong argument counts, bad literals and bad
//! paths are definition errors). Evaluation errors name the whole expression, the way AWS words
//! them: "The function '<expr>' had the following error: ...". An argument path that matches
//! nothing is a `States.Runtime` error (as AWS reports it); any other evaluation failure is
//! `States.IntrinsicFailure`.

use crate::paths::{json_eq, Path};
use crate::rng::SplitMix64;
use base64::Engine as _;
use serde_json::{Map, Value};

/// AWS allows up to 10 nested intrinsic calls in one field.
const MAX_NESTING: usize = 10;
/// Input limit for Base64Encode/Base64Decode/Hash (AWS: 10,000 characters).
const MAX_CODEC_CHARS: usize = 10_000;
/// States.ArrayRange may produce at most 1,000 items.
const MAX_RANGE_ITEMS: i128 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    fn lookup(name: &str) -> Option<Func> {
        Some(match name {
            "Format" => Func::Format,
            "StringToJson" => Func::StringToJson,
            "JsonToString" => Func::JsonToString,
            "Array" => Func::Array,
            "ArrayPartition" => Func::ArrayPartition,
            "ArrayContains" => Func::ArrayContains,
            "ArrayRange" => Func::ArrayRange,
            "ArrayGetItem" => Func::ArrayGetItem,
            "ArrayLength" => Func::ArrayLength,
            "ArrayUnique" => Func::ArrayUnique,
            "Base64Encode" => Func::Base64Encode,
            "Base64Decode" => Func::Base64Decode,
            "Hash" => Func::Hash,
            "JsonMerge" => Func::JsonMerge,
            "MathRandom" => Func::MathRandom,
            "MathAdd" => Func::MathAdd,
            "StringSplit" => Func::StringSplit,
            "UUID" => Func::Uuid,
            _ => return None,
        })
    }

    /// Allowed argument counts (min, max).
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Format => (1, usize::MAX),
            Func::Array => (0, usize::MAX),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, 1),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, 2),
            Func::ArrayRange | Func::JsonMerge => (3, 3),
            Func::MathRandom => (2, 3),
            Func::Uuid => (0, 0),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Hole,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Lit(Value),
    /// A string literal: its value and its `{}` structure (escaped braces are text).
    Str(String, Vec<Piece>),
    Path(Path),
    Call(Box<Call>),
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    func: Func,
    name: String,
    args: Vec<Arg>,
}

/// A parsed intrinsic function invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    text: String,
    call: Call,
}

/// Where evaluation reads from and how big results may grow.
pub(crate) struct EvalEnv<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
    /// Largest value (approximate serialized bytes) a single evaluation may produce.
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IntrinsicError {
    /// A path argument matched nothing.
    PathNotFound { expr: String, path: String },
    /// Anything else: wrong types, bad JSON, out-of-range values.
    Failed { expr: String, message: String },
}

impl Intrinsic {
    /// Parses `States.Name(args...)`.
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let mut p = P {
            s: text.as_bytes(),
            src: text,
            i: 0,
        };
        let call = p
            .call(1)
            .map_err(|e| format!("invalid intrinsic function '{text}': {e}"))?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!(
                "invalid intrinsic function '{text}': unexpected text after the call"
            ));
        }
        Ok(Intrinsic {
            text: text.to_string(),
            call,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn eval(&self, env: &EvalEnv<'_>) -> Result<Value, IntrinsicError> {
        eval_call(&self.call, env).map_err(|e| match e {
            Inner::Missing(path) => IntrinsicError::PathNotFound {
                expr: self.text.clone(),
                path,
            },
            Inner::Msg(message) => IntrinsicError::Failed {
                expr: self.text.clone(),
                message,
            },
        })
    }
}

enum Inner {
    Missing(String),
    Msg(String),
}

type R<T> = Result<T, Inner>;

fn fail<T>(msg: impl Into<String>) -> R<T> {
    Err(Inner::Msg(msg.into()))
}

/// Deepest nesting a value may reach (Jackson's default limit is 1000; deep values would
/// otherwise risk the stack in serialisation and drop).
pub(crate) const MAX_VALUE_DEPTH: usize = 500;

/// Approximate serialized size of `v`, or `None` once it exceeds `budget` or nests deeper than
/// [`MAX_VALUE_DEPTH`]. Iterative, and stops early, so it is safe on any value.
pub(crate) fn size_within(v: &Value, budget: usize) -> Option<usize> {
    let mut used = 0usize;
    let mut stack: Vec<(&Value, usize)> = vec![(v, 1)];
    while let Some((x, depth)) = stack.pop() {
        if depth > MAX_VALUE_DEPTH {
            return None;
        }
        used += match x {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 8,
            Value::String(s) => s.len() + 2,
            Value::Array(_) | Value::Object(_) => 2,
        };
        if used > budget {
            return None;
        }
        match x {
            Value::Array(a) => {
                for y in a {
                    used += 1;
                    if used > budget {
                        return None;
                    }
                    stack.push((y, depth + 1));
                }
            }
            Value::Object(o) => {
                for (k, y) in o {
                    used += k.len() + 4;
                    if used > budget {
                        return None;
                    }
                    stack.push((y, depth + 1));
                }
            }
            _ => {}
        }
    }
    Some(used)
}

fn eval_arg(arg: &Arg, env: &EvalEnv<'_>) -> R<Value> {
    match arg {
        Arg::Lit(v) => Ok(v.clone()),
        Arg::Str(s, _) => Ok(Value::String(s.clone())),
        Arg::Path(p) => p
            .eval(env.input, env.context)
            .ok_or_else(|| Inner::Missing(p.text().to_string())),
        Arg::Call(c) => eval_call(c, env),
    }
}

fn eval_call(call: &Call, env: &EvalEnv<'_>) -> R<Value> {
    let v = eval_inner(call, env)?;
    if size_within(&v, env.limit).is_none() {
        return fail(format!(
            "the result exceeds the payload size limit of {} bytes (or nests deeper than {MAX_VALUE_DEPTH})",
            env.limit
        ));
    }
    Ok(v)
}

fn want_str<'a>(v: &'a Value, what: &str) -> R<&'a str> {
    v.as_str()
        .ok_or_else(|| Inner::Msg(format!("{what} must be a string, got {}", type_name(v))))
}

fn want_array<'a>(v: &'a Value, what: &str) -> R<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| Inner::Msg(format!("{what} must be an array, got {}", type_name(v))))
}

fn want_object<'a>(v: &'a Value, what: &str) -> R<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Inner::Msg(format!("{what} must be a JSON object, got {}", type_name(v))))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Rounds a number the way Java's Math.round does (half up), as AWS does for integer arguments.
fn want_int(v: &Value, what: &str) -> R<i64> {
    let Some(n) = v.as_number() else {
        return fail(format!("{what} must be an integer, got {}", type_name(v)));
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && (f + 0.5).floor().abs() < 9.0e18 => Ok((f + 0.5).floor() as i64),
        _ => fail(format!("{what} is out of range")),
    }
}

/// Renders a value for States.Format: strings bare, objects and arrays like Java's toString.
fn format_value(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                format_value(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                format_value(x, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn split_template(s: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(pos) = rest.find("{}") {
        pieces.push(Piece::Text(rest[..pos].to_string()));
        pieces.push(Piece::Hole);
        rest = &rest[pos + 2..];
    }
    pieces.push(Piece::Text(rest.to_string()));
    pieces
}

fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[usize::from(b >> 4)] as char);
        s.push(H[usize::from(b & 15)] as char);
    }
    s
}

fn eval_inner(call: &Call, env: &EvalEnv<'_>) -> R<Value> {
    if call.func == Func::Format {
        return eval_format(call, env);
    }
    let args = call
        .args
        .iter()
        .map(|a| eval_arg(a, env))
        .collect::<R<Vec<Value>>>()?;
    let arg = |i: usize| args.get(i).unwrap_or(&Value::Null);
    match call.func {
        Func::Format => fail("unreachable"),
        Func::StringToJson => {
            let s = want_str(arg(0), "the argument")?;
            serde_json::from_str(s.trim()).map_err(|e| Inner::Msg(format!("invalid JSON string: {e}")))
        }
        Func::JsonToString => serde_json::to_string(arg(0))
            .map(Value::String)
            .map_err(|e| Inner::Msg(e.to_string())),
        Func::Array => Ok(Value::Array(args)),
        Func::ArrayPartition => {
            let a = want_array(arg(0), "the first argument")?;
            let size = want_int(arg(1), "the chunk size")?;
            if size <= 0 {
                return fail("the chunk size must be a positive integer");
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            Ok(Value::Array(
                a.chunks(size).map(|c| Value::Array(c.to_vec())).collect(),
            ))
        }
        Func::ArrayContains => {
            let a = want_array(arg(0), "the first argument")?;
            Ok(Value::Bool(a.iter().any(|x| json_eq(x, arg(1)))))
        }
        Func::ArrayRange => {
            let start = i128::from(want_int(arg(0), "the start")?);
            let end = i128::from(want_int(arg(1), "the end")?);
            let step = i128::from(want_int(arg(2), "the step")?);
            if step == 0 {
                return fail("the step must not be zero");
            }
            let count = if (step > 0 && start <= end) || (step < 0 && start >= end) {
                (end - start) / step + 1
            } else {
                0
            };
            if count > MAX_RANGE_ITEMS {
                return fail(format!(
                    "the range would have {count} items (at most 1000 allowed)"
                ));
            }
            Ok(Value::Array(
                (0..count)
                    .map(|k| Value::from((start + k * step) as i64))
                    .collect(),
            ))
        }
        Func::ArrayGetItem => {
            let a = want_array(arg(0), "the first argument")?;
            let i = want_int(arg(1), "the index")?;
            usize::try_from(i)
                .ok()
                .and_then(|i| a.get(i))
                .cloned()
                .ok_or_else(|| Inner::Msg(format!("index {i} is out of bounds for an array of {}", a.len())))
        }
        Func::ArrayLength => Ok(Value::from(want_array(arg(0), "the argument")?.len())),
        Func::ArrayUnique => {
            let a = want_array(arg(0), "the argument")?;
            let mut out: Vec<Value> = Vec::new();
            for x in a {
                if !out.iter().any(|y| json_eq(x, y)) {
                    out.push(x.clone());
                }
            }
            Ok(Value::Array(out))
        }
        Func::Base64Encode => {
            let s = want_str(arg(0), "the argument")?;
            if s.chars().count() > MAX_CODEC_CHARS {
                return fail("the input exceeds 10000 characters");
            }
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
            ))
        }
        Func::Base64Decode => {
            let s = want_str(arg(0), "the argument")?;
            if s.chars().count() > MAX_CODEC_CHARS {
                return fail("the input exceeds 10000 characters");
            }
            let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(clean.as_bytes())
                .map_err(|e| Inner::Msg(format!("invalid Base64: {e}")))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| Inner::Msg("the decoded data is not UTF-8 text".into()))
        }
        Func::Hash => {
            let data = match arg(0) {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if data.chars().count() > MAX_CODEC_CHARS {
                return fail("the input exceeds 10000 characters");
            }
            let alg = want_str(arg(1), "the algorithm")?;
            use sha2::Digest as _;
            let digest = match alg {
                "MD5" => hex(&md5::Md5::digest(data.as_bytes())),
                "SHA-1" => hex(&sha1::Sha1::digest(data.as_bytes())),
                "SHA-256" => hex(&sha2::Sha256::digest(data.as_bytes())),
                "SHA-384" => hex(&sha2::Sha384::digest(data.as_bytes())),
                "SHA-512" => hex(&sha2::Sha512::digest(data.as_bytes())),
                other => {
                    return fail(format!(
                        "unsupported algorithm '{other}' (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)"
                    ))
                }
            };
            Ok(Value::String(digest))
        }
        Func::JsonMerge => {
            let a = want_object(arg(0), "the first argument")?;
            let b = want_object(arg(1), "the second argument")?;
            match arg(2) {
                Value::Bool(false) => {}
                Value::Bool(true) => {
                    return fail("deep merging is not supported; the third argument must be false")
                }
                other => {
                    return fail(format!(
                        "the third argument must be the boolean false, got {}",
                        type_name(other)
                    ))
                }
            }
            let mut out = a.clone();
            for (k, v) in b {
                out.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(out))
        }
        Func::MathRandom => {
            let start = want_int(arg(0), "the start")?;
            let end = want_int(arg(1), "the end")?;
            if start >= end {
                return fail("the start must be less than the end");
            }
            let mut rng = match args.get(2) {
                Some(seed) => SplitMix64::seeded(want_int(seed, "the seed")? as u64),
                None => SplitMix64::from_entropy(),
            };
            Ok(Value::from(rng.range_i64(start, end)))
        }
        Func::MathAdd => {
            let a = want_int(arg(0), "the first argument")?;
            let b = want_int(arg(1), "the second argument")?;
            let range = i64::from(i32::MIN)..=i64::from(i32::MAX);
            if !range.contains(&a) || !range.contains(&b) {
                return fail("arguments must be between -2147483648 and 2147483647");
            }
            Ok(Value::from(a + b))
        }
        Func::StringSplit => {
            let s = want_str(arg(0), "the first argument")?;
            let delims = want_str(arg(1), "the delimiter")?;
            let parts = s
                .split(|c: char| delims.contains(c))
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_string()))
                .collect();
            Ok(Value::Array(parts))
        }
        Func::Uuid => Ok(Value::String(uuid::Uuid::new_v4().hyphenated().to_string())),
    }
}

fn eval_format(call: &Call, env: &EvalEnv<'_>) -> R<Value> {
    let Some(first) = call.args.first() else {
        return fail("States.Format needs a template argument");
    };
    let pieces = match first {
        Arg::Str(_, pieces) => pieces.clone(),
        other => {
            let v = eval_arg(other, env)?;
            split_template(want_str(&v, "the template")?)
        }
    };
    let holes = pieces.iter().filter(|p| **p == Piece::Hole).count();
    let values = call.args[1..]
        .iter()
        .map(|a| eval_arg(a, env))
        .collect::<R<Vec<Value>>>()?;
    if holes != values.len() {
        return fail(format!(
            "the template has {holes} placeholder(s) but {} argument(s) were given",
            values.len()
        ));
    }
    let mut out = String::new();
    let mut next = values.iter();
    for piece in &pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole => {
                if let Some(v) = next.next() {
                    format_value(v, &mut out);
                }
            }
        }
        if out.len() > env.limit {
            return fail(format!(
                "the result exceeds the payload size limit of {} bytes",
                env.limit
            ));
        }
    }
    Ok(Value::String(out))
}

struct P<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn call(&mut self, depth: usize) -> Result<Call, String> {
        if depth > MAX_NESTING {
            return Err(format!("more than {MAX_NESTING} nested intrinsic functions"));
        }
        if !self.s[self.i..].starts_with(b"States.") {
            return Err(format!("expected 'States.' at offset {}", self.i));
        }
        self.i += 7;
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
            self.i += 1;
        }
        let name = self.src.get(start..self.i).unwrap_or_default().to_string();
        let func =
            Func::lookup(&name).ok_or_else(|| format!("unknown intrinsic function 'States.{name}'"))?;
        self.ws();
        if self.peek() != Some(b'(') {
            return Err(format!("expected '(' after States.{name}"));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.peek() == Some(b')') {
            self.i += 1;
        } else {
            loop {
                args.push(self.arg(depth)?);
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or ')' in the arguments of States.{name}")),
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!(
                "States.{name} takes {want} argument(s), got {}",
                args.len()
            ));
        }
        if func == Func::Format && !matches!(args.first(), Some(Arg::Str(..) | Arg::Path(_) | Arg::Call(_))) {
            return Err("the first argument of States.Format must be a string".into());
        }
        Ok(Call {
            func,
            name: format!("States.{name}"),
            args,
        })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, String> {
        self.ws();
        match self.peek() {
            Some(b'\'') => self.string(),
            Some(b'$') => self.path(),
            Some(b'S') if self.s[self.i..].starts_with(b"States.") => {
                Ok(Arg::Call(Box::new(self.call(depth + 1)?)))
            }
            Some(c) if c.is_ascii_digit() || c == b'-' => {
                let start = self.i;
                self.i += 1;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
                {
                    self.i += 1;
                }
                let t = self.src.get(start..self.i).unwrap_or_default();
                serde_json::from_str::<serde_json::Number>(t)
                    .map(|n| Arg::Lit(Value::Number(n)))
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
                        return Ok(Arg::Lit(v));
                    }
                }
                Err(format!("unexpected argument at offset {}", self.i))
            }
        }
    }

    /// A path argument runs to the next top-level ',' or ')' (brackets and quotes may hold either).
    fn path(&mut self) -> Result<Arg, String> {
        let start = self.i;
        let mut depth = 0usize;
        let mut quote: Option<u8> = None;
        while let Some(c) = self.peek() {
            match quote {
                Some(q) => {
                    if c == b'\\' {
                        self.i += 1;
                    } else if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    b'\'' | b'"' if depth > 0 => quote = Some(c),
                    b'[' | b'(' => depth += 1,
                    b']' | b')' if depth > 0 => depth -= 1,
                    b',' | b')' if depth == 0 => break,
                    _ => {}
                },
            }
            self.i += 1;
        }
        self.i = self.i.min(self.s.len());
        let text = self.src.get(start..self.i).unwrap_or_default().trim_end();
        Path::parse(text).map(Arg::Path)
    }

    fn string(&mut self) -> Result<Arg, String> {
        self.i += 1;
        let mut value = String::new();
        let mut pieces = Vec::new();
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err("unterminated string literal".into());
            };
            match c {
                b'\'' => {
                    self.i += 1;
                    break;
                }
                b'\\' => {
                    let e = self.s.get(self.i + 1).copied();
                    let ch = match e {
                        Some(b'\'') => '\'',
                        Some(b'{') => '{',
                        Some(b'}') => '}',
                        Some(b'\\') => '\\',
                        _ => {
                            return Err(
                                "an unescaped backslash in a string literal (escape it as \\\\)".into()
                            )
                        }
                    };
                    value.push(ch);
                    text.push(ch);
                    self.i += 2;
                }
                b'{' if self.s.get(self.i + 1) == Some(&b'}') => {
                    value.push_str("{}");
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Hole);
                    self.i += 2;
                }
                _ => {
                    // Copy one whole UTF-8 character.
                    let rest = self.src.get(self.i..).unwrap_or_default();
                    let ch = rest.chars().next().unwrap_or('\u{fffd}');
                    value.push(ch);
                    text.push(ch);
                    self.i += ch.len_utf8().max(1);
                }
            }
        }
        pieces.push(Piece::Text(text));
        Ok(Arg::Str(value, pieces))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, input: Value) -> Result<Value, IntrinsicError> {
        let i = Intrinsic::parse(expr).unwrap();
        i.eval(&EvalEnv {
            input: &input,
            context: &json!({"Execution": {"Name": "ex"}}),
            limit: 262_144,
        })
    }

    fn ok(expr: &str, input: Value) -> Value {
        run(expr, input).unwrap()
    }

    fn failed(expr: &str, input: Value) -> String {
        match run(expr, input) {
            Err(IntrinsicError::Failed { message, .. }) => message,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn format() {
        assert_eq!(
            ok(
                "States.Format('Hello, my name is {}.', $.name)",
                json!({"name": "Arnav"})
            ),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            ok(
                "States.Format($.template, $.name)",
                json!({"name": "Arnav", "template": "Hello {}!"})
            ),
            json!("Hello Arnav!")
        );
        assert_eq!(
            ok(
                "States.Format('{} {} {} {} {}', 1, 1.5, true, null, $.o)",
                json!({"o": {"a": [1, "x"], "b": {}}})
            ),
            json!("1 1.5 true null {a=[1, x], b={}}")
        );
        assert_eq!(
            ok(r"States.Format('\{\} \' \\ {}', 'x')", json!({})),
            json!("{} ' \\ x")
        );
        assert_eq!(
            ok("States.Format('{}', $$.Execution.Name)", json!({})),
            json!("ex")
        );
        assert!(failed("States.Format('{} {}', 1)", json!({})).contains("placeholder"));
    }

    #[test]
    fn json_conversions() {
        assert_eq!(
            ok("States.StringToJson($.s)", json!({"s": "{\"foo\": \"bar\"}"})),
            json!({"foo": "bar"})
        );
        assert_eq!(
            ok("States.JsonToString($.o)", json!({"o": {"foo": "bar"}})),
            json!("{\"foo\":\"bar\"}")
        );
        assert!(failed("States.StringToJson($.s)", json!({"s": "{nope"})).contains("invalid JSON"));
        assert_eq!(
            ok(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"a": {"a1": 1}, "b": 2}, "b": {"a": {"a3": 1}, "c": 3}})
            ),
            json!({"a": {"a3": 1}, "b": 2, "c": 3})
        );
        assert!(failed("States.JsonMerge($.a, $.a, true)", json!({"a": {}})).contains("deep"));
    }

    #[test]
    fn arrays() {
        assert_eq!(
            ok(
                "States.Array($.Id, 'x', 2, States.Array())",
                json!({"Id": 123456})
            ),
            json!([123456, "x", 2, []])
        );
        assert_eq!(
            ok(
                "States.ArrayPartition($.a, 4)",
                json!({"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]})
            ),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        assert!(failed("States.ArrayPartition($.a, 0)", json!({"a": [1]})).contains("positive"));
        assert_eq!(
            ok("States.ArrayContains($.a, 5)", json!({"a": [1, 5.0]})),
            json!(true)
        );
        assert_eq!(
            ok(
                "States.ArrayContains($.a, $.o)",
                json!({"a": [{"x": 1}], "o": {"x": 1}})
            ),
            json!(true)
        );
        assert_eq!(
            ok("States.ArrayRange(1, 9, 2)", json!({})),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(ok("States.ArrayRange(5, 1, -2)", json!({})), json!([5, 3, 1]));
        assert_eq!(ok("States.ArrayRange(5, 1, 2)", json!({})), json!([]));
        assert!(failed("States.ArrayRange(1, 1001, 1)", json!({})).contains("1000"));
        assert!(failed("States.ArrayRange(1, 2, 0)", json!({})).contains("zero"));
        assert_eq!(
            ok("States.ArrayGetItem($.a, 5)", json!({"a": [1, 2, 3, 4, 5, 6, 7]})),
            json!(6)
        );
        assert!(failed("States.ArrayGetItem($.a, 5)", json!({"a": [1]})).contains("out of bounds"));
        assert_eq!(ok("States.ArrayLength($.a)", json!({"a": [1, 2, 3]})), json!(3));
        assert_eq!(
            ok("States.ArrayUnique($.a)", json!({"a": [1, 2, 3, 3, 1.0, "1"]})),
            json!([1, 2, 3, "1"])
        );
    }

    #[test]
    fn encoding_and_hash() {
        assert_eq!(
            ok("States.Base64Encode($.s)", json!({"s": "Data to encode"})),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(
            ok("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})),
            json!("Data to encode")
        );
        assert!(failed("States.Base64Decode('!!!')", json!({})).contains("Base64"));
        assert_eq!(
            ok("States.Hash('input data', 'SHA-1')", json!({})),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            ok("States.Hash('abc', 'MD5')", json!({})),
            json!("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(
            ok("States.Hash('abc', 'SHA-256')", json!({})),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            ok("States.Hash('abc', 'SHA-384')", json!({}))
                .as_str()
                .map(str::len),
            Some(96)
        );
        assert_eq!(
            ok("States.Hash('abc', 'SHA-512')", json!({}))
                .as_str()
                .map(str::len),
            Some(128)
        );
        assert!(failed("States.Hash('abc', 'SHA-3')", json!({})).contains("unsupported"));
        let long = "x".repeat(10_001);
        assert!(failed("States.Base64Encode($.s)", json!({ "s": long })).contains("10000"));
    }

    #[test]
    fn math_and_strings() {
        assert_eq!(ok("States.MathAdd($.v, -1)", json!({"v": 111})), json!(110));
        assert_eq!(ok("States.MathAdd(1.5, -2.5)", json!({})), json!(0));
        assert!(failed("States.MathAdd(2147483648, 1)", json!({})).contains("between"));
        for _ in 0..100 {
            let v = ok("States.MathRandom(1, 3)", json!({})).as_i64().unwrap();
            assert!((1..3).contains(&v));
        }
        assert_eq!(
            ok("States.MathRandom(1, 1000, 7)", json!({})),
            ok("States.MathRandom(1, 1000, 7)", json!({}))
        );
        assert!(failed("States.MathRandom(3, 3)", json!({})).contains("less"));
        assert_eq!(
            ok("States.StringSplit($.s, ',')", json!({"s": "1,2,3,4,5"})),
            json!(["1", "2", "3", "4", "5"])
        );
        assert_eq!(
            ok(
                "States.StringSplit($.s, $.d)",
                json!({"s": "This.is+a,test=string", "d": ".+,="})
            ),
            json!(["This", "is", "a", "test", "string"])
        );
        assert_eq!(
            ok("States.StringSplit('a,,b', ',')", json!({})),
            json!(["a", "b"])
        );
        let u = ok("States.UUID()", json!({}));
        let u = u.as_str().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn nested_calls_and_paths_with_commas() {
        let input = json!({"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:123:image-recipe/my.recipe/1.0.0"}});
        assert_eq!(
            ok(
                "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))",
                input
            ),
            json!("1.0")
        );
        assert_eq!(
            ok(
                "States.ArrayLength($.a[?(@.x == 'a,b')])",
                json!({"a": [{"x": "a,b"}, {"x": "c"}]})
            ),
            json!(1)
        );
    }

    #[test]
    fn missing_path_is_reported_as_such() {
        assert_eq!(
            run("States.Format('{}', $.nope)", json!({"other": 1})),
            Err(IntrinsicError::PathNotFound {
                expr: "States.Format('{}', $.nope)".into(),
                path: "$.nope".into()
            })
        );
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "States.Nope()",
            "States.UUID(1)",
            "States.ArrayLength()",
            "States.Format()",
            "States.Format(1)",
            "States.Array('x)",
            r"States.Array('\q')",
            "States.Array(1,)",
            "States.Array(1) trailing",
            "States.Array(bogus)",
            "Nope.Array()",
            "States.Array($.a[)",
        ] {
            assert!(Intrinsic::parse(bad).is_err(), "{bad}");
        }
        let deep = format!("{}1{}", "States.Array(".repeat(11), ")".repeat(11));
        assert!(Intrinsic::parse(&deep).unwrap_err().contains("nested"));
        let ten = format!("{}1{}", "States.Array(".repeat(10), ")".repeat(10));
        assert!(Intrinsic::parse(&ten).is_ok());
    }

    /// Random strings over the intrinsic alphabet never panic the parser or the evaluator.
    #[test]
    fn random_intrinsics_never_panic() {
        let pieces = [
            "States.Format(",
            "States.Array(",
            "States.ArrayRange(",
            "States.StringSplit(",
            "States.Hash(",
            "States.MathRandom(",
            "States.JsonMerge(",
            "States.ArrayGetItem(",
            "States.Base64Decode(",
            "States.StringToJson(",
            "States.UUID(",
            ")",
            ",",
            "'",
            "\\",
            "{}",
            "$",
            "$.a",
            "$$",
            "[",
            "]",
            "1",
            "-2.5",
            "true",
            "null",
            "é",
            " ",
            "'x'",
            "'{}'",
        ];
        let input = json!({"a": [1, "x", {"b": null}], "s": "a,b"});
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut s = String::new();
            let mut x = seed;
            for _ in 0..(seed % 12) {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push_str(pieces[(x >> 33) as usize % pieces.len()]);
            }
            if let Ok(i) = Intrinsic::parse(&s) {
                let _ = i.eval(&EvalEnv {
                    input: &input,
                    context: &input,
                    limit: 10_000,
                });
            }
        }
    }

    #[test]
    fn depth_is_bounded() {
        let mut v = json!(1);
        for _ in 0..600 {
            v = json!([v]);
        }
        assert!(size_within(&v, usize::MAX).is_none());
        assert!(size_within(&json!([[[1]]]), 100).is_some());
    }

    #[test]
    fn results_are_bounded() {
        let input = json!({"s": "x".repeat(1000)});
        let i = Intrinsic::parse("States.Array($.s, $.s, $.s)").unwrap();
        let r = i.eval(&EvalEnv {
            input: &input,
            context: &json!({}),
            limit: 2000,
        });
        assert!(matches!(r, Err(IntrinsicError::Failed { .. })));
    }
}
