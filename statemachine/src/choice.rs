//! Choice rules: every comparison operator (String/Numeric/Boolean/Timestamp × Equals, LessThan,
//! GreaterThan, LessThanEquals, GreaterThanEquals, each with a `...Path` variant), StringMatches,
//! the type tests (IsNull, IsPresent, IsNumeric, IsString, IsBoolean, IsTimestamp) and And/Or/Not.
//!
//! A comparison whose operand has the wrong type is false; a `Variable` (or `...Path` operand)
//! that matches nothing is a `States.Runtime` error, except for `IsPresent`.

use crate::error::StatesError;
use crate::paths::{num_cmp, Path};
use crate::time;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Deepest And/Or/Not nesting accepted (guards the recursive evaluator).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Lit(Value),
    Path(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Glob {
    Star,
    Char(char),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Compare(Kind, Cmp, Operand),
    Matches(Vec<Glob>),
    Is(TypeTest, bool),
}

/// A Choice rule (top-level ones carry `Next`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test { variable: Path, test: Test },
}

/// A top-level choice: rule and target.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Choice {
    pub rule: Rule,
    pub next: String,
}

fn comparison(key: &str) -> Option<(Kind, Cmp, bool)> {
    let (base, is_path) = match key.strip_suffix("Path") {
        Some(b) => (b, true),
        None => (key, false),
    };
    let (kind, rest) = [
        ("String", Kind::String),
        ("Numeric", Kind::Numeric),
        ("Boolean", Kind::Boolean),
        ("Timestamp", Kind::Timestamp),
    ]
    .into_iter()
    .find_map(|(p, k)| base.strip_prefix(p).map(|r| (k, r)))?;
    let cmp = match rest {
        "Equals" => Cmp::Eq,
        "LessThan" => Cmp::Lt,
        "GreaterThan" => Cmp::Gt,
        "LessThanEquals" => Cmp::Le,
        "GreaterThanEquals" => Cmp::Ge,
        _ => return None,
    };
    if kind == Kind::Boolean && cmp != Cmp::Eq {
        return None;
    }
    Some((kind, cmp, is_path))
}

fn type_test(key: &str) -> Option<TypeTest> {
    Some(match key {
        "IsNull" => TypeTest::Null,
        "IsPresent" => TypeTest::Present,
        "IsNumeric" => TypeTest::Numeric,
        "IsString" => TypeTest::String,
        "IsBoolean" => TypeTest::Boolean,
        "IsTimestamp" => TypeTest::Timestamp,
        _ => return None,
    })
}

fn is_operator(key: &str) -> bool {
    matches!(key, "And" | "Or" | "Not" | "StringMatches")
        || comparison(key).is_some()
        || type_test(key).is_some()
}

fn parse_glob(p: &str) -> Result<Vec<Glob>, String> {
    let mut out = Vec::new();
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push(Glob::Star),
            '\\' => match chars.next() {
                Some(e @ ('*' | '\\')) => out.push(Glob::Char(e)),
                Some(e) => {
                    return Err(format!(
                        "invalid escape '\\{e}' in StringMatches (only \\* and \\\\)"
                    ))
                }
                None => return Err("StringMatches pattern ends with a lone backslash".into()),
            },
            other => out.push(Glob::Char(other)),
        }
    }
    Ok(out)
}

fn glob_match(pat: &[Glob], s: &str) -> bool {
    let text: Vec<char> = s.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(Glob::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(Glob::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p.min(pat.len())..].iter().all(|g| *g == Glob::Star)
}

/// Parses one rule object. `top` rules must have `Next`; nested ones must not.
pub(crate) fn parse_rule(
    obj: &Map<String, Value>,
    top: bool,
    depth: usize,
) -> Result<(Rule, Option<String>), String> {
    if depth > MAX_DEPTH {
        return Err(format!("rules nested more than {MAX_DEPTH} deep"));
    }
    let ops: Vec<&String> = obj.keys().filter(|k| is_operator(k)).collect();
    for k in obj.keys() {
        if !is_operator(k) && !matches!(k.as_str(), "Variable" | "Next" | "Comment") {
            return Err(format!("unsupported field '{k}' in a choice rule"));
        }
    }
    let op = match ops.as_slice() {
        [one] => one.as_str(),
        [] => return Err("a choice rule needs exactly one comparison operator (or And/Or/Not)".into()),
        many => {
            let list: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
            return Err(format!(
                "a choice rule may have only one operator, found {}",
                list.join(", ")
            ));
        }
    };
    let next = match (obj.get("Next"), top) {
        (Some(Value::String(n)), true) => Some(n.clone()),
        (Some(_), true) => return Err("'Next' must be a string".into()),
        (None, true) => return Err("a top-level choice rule needs 'Next'".into()),
        (Some(_), false) => return Err("'Next' is only allowed on top-level choice rules".into()),
        (None, false) => None,
    };
    let value = &obj[op];
    let rule = match op {
        "And" | "Or" => {
            let Some(list) = value.as_array().filter(|l| !l.is_empty()) else {
                return Err(format!("'{op}' must be a non-empty array of rules"));
            };
            if obj.contains_key("Variable") {
                return Err(format!("'Variable' is not allowed next to '{op}'"));
            }
            let mut rules = Vec::new();
            for r in list {
                let o = r
                    .as_object()
                    .ok_or_else(|| format!("'{op}' items must be rule objects"))?;
                rules.push(parse_rule(o, false, depth + 1)?.0);
            }
            if op == "And" {
                Rule::And(rules)
            } else {
                Rule::Or(rules)
            }
        }
        "Not" => {
            let o = value.as_object().ok_or("'Not' must be a rule object")?;
            if obj.contains_key("Variable") {
                return Err("'Variable' is not allowed next to 'Not'".into());
            }
            Rule::Not(Box::new(parse_rule(o, false, depth + 1)?.0))
        }
        _ => {
            let var = obj
                .get("Variable")
                .and_then(Value::as_str)
                .ok_or("a comparison needs a string 'Variable'")?;
            let variable = Path::parse(var).map_err(|e| format!("Variable: {e}"))?;
            let test = parse_test(op, value)?;
            Rule::Test { variable, test }
        }
    };
    Ok((rule, next))
}

fn parse_test(op: &str, value: &Value) -> Result<Test, String> {
    if op == "StringMatches" {
        let p = value.as_str().ok_or("StringMatches needs a string pattern")?;
        return Ok(Test::Matches(parse_glob(p)?));
    }
    if let Some(t) = type_test(op) {
        let b = value
            .as_bool()
            .ok_or_else(|| format!("'{op}' must be true or false"))?;
        return Ok(Test::Is(t, b));
    }
    let Some((kind, cmp, is_path)) = comparison(op) else {
        return Err(format!("unknown operator '{op}'"));
    };
    if is_path {
        let p = value
            .as_str()
            .ok_or_else(|| format!("'{op}' must be a JSONPath string"))?;
        return Ok(Test::Compare(
            kind,
            cmp,
            Operand::Path(Path::parse(p).map_err(|e| format!("{op}: {e}"))?),
        ));
    }
    let ok = match kind {
        Kind::String => value.is_string(),
        Kind::Numeric => value.is_number(),
        Kind::Boolean => value.is_boolean(),
        Kind::Timestamp => value.as_str().and_then(time::parse).is_some(),
    };
    if !ok {
        let want = match kind {
            Kind::String => "a string",
            Kind::Numeric => "a number",
            Kind::Boolean => "true or false",
            Kind::Timestamp => "an RFC 3339 timestamp such as 2016-08-18T17:33:00Z",
        };
        return Err(format!("'{op}' must be {want}"));
    }
    Ok(Test::Compare(kind, cmp, Operand::Lit(value.clone())))
}

fn invalid_path(p: &Path) -> StatesError {
    StatesError::runtime(format!(
        "Invalid path '{}': The choice state's condition path references an invalid value.",
        p.text()
    ))
}

fn compare(kind: Kind, cmp: Cmp, a: &Value, b: &Value) -> bool {
    let ord = match (kind, a, b) {
        (Kind::String, Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Kind::Numeric, Value::Number(x), Value::Number(y)) => num_cmp(x, y),
        (Kind::Boolean, Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Kind::Timestamp, Value::String(x), Value::String(y)) => match (time::parse(x), time::parse(y)) {
            (Some(p), Some(q)) => Some(p.cmp(&q)),
            _ => None,
        },
        _ => None,
    };
    let Some(ord) = ord else { return false };
    match cmp {
        Cmp::Eq => ord == Ordering::Equal,
        Cmp::Lt => ord == Ordering::Less,
        Cmp::Gt => ord == Ordering::Greater,
        Cmp::Le => ord != Ordering::Greater,
        Cmp::Ge => ord != Ordering::Less,
    }
}

impl Rule {
    pub fn eval(&self, input: &Value, context: &Value) -> Result<bool, StatesError> {
        match self {
            Rule::And(rules) => {
                for r in rules {
                    if !r.eval(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for r in rules {
                    if r.eval(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(r) => Ok(!r.eval(input, context)?),
            Rule::Test { variable, test } => {
                let value = variable.eval(input, context);
                if let Test::Is(TypeTest::Present, want) = test {
                    return Ok(value.is_some() == *want);
                }
                let value = value.ok_or_else(|| invalid_path(variable))?;
                Ok(match test {
                    Test::Is(t, want) => {
                        let is = match t {
                            TypeTest::Null => value.is_null(),
                            TypeTest::Numeric => value.is_number(),
                            TypeTest::String => value.is_string(),
                            TypeTest::Boolean => value.is_boolean(),
                            TypeTest::Timestamp => value.as_str().and_then(time::parse).is_some(),
                            TypeTest::Present => true,
                        };
                        is == *want
                    }
                    Test::Matches(glob) => value.as_str().is_some_and(|s| glob_match(glob, s)),
                    Test::Compare(kind, cmp, operand) => {
                        let other = match operand {
                            Operand::Lit(v) => v.clone(),
                            Operand::Path(p) => p.eval(input, context).ok_or_else(|| invalid_path(p))?,
                        };
                        compare(*kind, *cmp, &value, &other)
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> Rule {
        parse_rule(v.as_object().unwrap(), false, 0).unwrap().0
    }

    fn check(r: Value, input: Value) -> bool {
        rule(r).eval(&input, &json!({})).unwrap()
    }

    #[test]
    fn all_comparison_operators() {
        let input = json!({"s": "b", "n": 5, "f": 5.5, "t": true, "ts": "2020-01-01T00:00:00Z", "o": {
            "s": "b", "n": 5, "t": true, "ts": "2020-01-01T00:00:00Z"}});
        let cases = [
            ("StringEquals", json!("b"), true),
            ("StringLessThan", json!("c"), true),
            ("StringGreaterThan", json!("a"), true),
            ("StringLessThanEquals", json!("b"), true),
            ("StringGreaterThanEquals", json!("c"), false),
            ("NumericEquals", json!(5.0), true),
            ("NumericLessThan", json!(5), false),
            ("NumericGreaterThan", json!(4.9), true),
            ("NumericLessThanEquals", json!(5), true),
            ("NumericGreaterThanEquals", json!(6), false),
            ("BooleanEquals", json!(true), true),
            ("TimestampEquals", json!("2020-01-01T01:00:00+01:00"), true),
            ("TimestampLessThan", json!("2020-01-01T00:00:01Z"), true),
            ("TimestampGreaterThan", json!("2019-12-31T23:59:59Z"), true),
            ("TimestampLessThanEquals", json!("2020-01-01T00:00:00Z"), true),
            ("TimestampGreaterThanEquals", json!("2020-01-01T00:00:01Z"), false),
        ];
        for (op, lit, want) in cases {
            let var = match op {
                o if o.starts_with("String") => "$.s",
                o if o.starts_with("Numeric") => "$.n",
                o if o.starts_with("Boolean") => "$.t",
                _ => "$.ts",
            };
            assert_eq!(
                check(json!({"Variable": var, op: lit}), input.clone()),
                want,
                "{op}"
            );
        }
        // Path variants compare against another field.
        for (op, var, path, want) in [
            ("StringEqualsPath", "$.s", "$.o.s", true),
            ("StringLessThanPath", "$.s", "$.o.s", false),
            ("StringGreaterThanPath", "$.s", "$.o.s", false),
            ("StringLessThanEqualsPath", "$.s", "$.o.s", true),
            ("StringGreaterThanEqualsPath", "$.s", "$.o.s", true),
            ("NumericEqualsPath", "$.n", "$.o.n", true),
            ("NumericLessThanPath", "$.n", "$.f", true),
            ("NumericGreaterThanPath", "$.f", "$.n", true),
            ("NumericLessThanEqualsPath", "$.n", "$.o.n", true),
            ("NumericGreaterThanEqualsPath", "$.n", "$.f", false),
            ("BooleanEqualsPath", "$.t", "$.o.t", true),
            ("TimestampEqualsPath", "$.ts", "$.o.ts", true),
            ("TimestampLessThanPath", "$.ts", "$.o.ts", false),
            ("TimestampGreaterThanPath", "$.ts", "$.o.ts", false),
            ("TimestampLessThanEqualsPath", "$.ts", "$.o.ts", true),
            ("TimestampGreaterThanEqualsPath", "$.ts", "$.o.ts", true),
        ] {
            assert_eq!(
                check(json!({"Variable": var, op: path}), input.clone()),
                want,
                "{op}"
            );
        }
    }

    #[test]
    fn type_mismatch_is_false() {
        assert!(!check(
            json!({"Variable": "$.n", "StringEquals": "5"}),
            json!({"n": 5})
        ));
        assert!(!check(
            json!({"Variable": "$.s", "NumericEquals": 5}),
            json!({"s": "5"})
        ));
        assert!(!check(
            json!({"Variable": "$.s", "TimestampEquals": "2020-01-01T00:00:00Z"}),
            json!({"s": "x"})
        ));
    }

    #[test]
    fn type_tests() {
        let input = json!({"z": null, "n": 1, "s": "x", "b": false, "ts": "2020-01-01T00:00:00Z"});
        assert!(check(json!({"Variable": "$.z", "IsNull": true}), input.clone()));
        assert!(check(json!({"Variable": "$.n", "IsNull": false}), input.clone()));
        assert!(check(
            json!({"Variable": "$.n", "IsNumeric": true}),
            input.clone()
        ));
        assert!(check(json!({"Variable": "$.s", "IsString": true}), input.clone()));
        assert!(check(
            json!({"Variable": "$.b", "IsBoolean": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.ts", "IsTimestamp": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "IsTimestamp": false}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.missing", "IsPresent": false}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.z", "IsPresent": true}),
            input.clone()
        ));
    }

    #[test]
    fn string_matches() {
        let m = |p: &str, s: &str| check(json!({"Variable": "$.s", "StringMatches": p}), json!({ "s": s }));
        assert!(m("log-*.txt", "log-2020.txt"));
        assert!(!m("log-*.txt", "log-2020.csv"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("\\*star", "*star"));
        assert!(!m("\\*star", "xstar"));
        assert!(m("back\\\\slash", "back\\slash"));
        assert!(m("exact", "exact"));
        assert!(!m("exact", "exactly"));
    }

    #[test]
    fn boolean_logic_short_circuits() {
        let input = json!({"a": 1});
        assert!(check(
            json!({"Or": [{"Variable": "$.a", "NumericEquals": 1}, {"Variable": "$.missing", "NumericEquals": 1}]}),
            input.clone()
        ));
        assert!(!check(
            json!({"And": [{"Variable": "$.a", "NumericEquals": 2}, {"Variable": "$.missing", "NumericEquals": 1}]}),
            input.clone()
        ));
        assert!(check(
            json!({"Not": {"Variable": "$.a", "NumericEquals": 2}}),
            input
        ));
    }

    #[test]
    fn missing_variable_is_runtime_error() {
        let e = rule(json!({"Variable": "$.missing", "NumericEquals": 1}))
            .eval(&json!({}), &json!({}))
            .unwrap_err();
        assert_eq!(e.name(), Some("States.Runtime"));
        let e = rule(json!({"Variable": "$.a", "NumericEqualsPath": "$.b"}))
            .eval(&json!({"a": 1}), &json!({}))
            .unwrap_err();
        assert!(e.cause.unwrap().contains("$.b"));
    }

    #[test]
    fn parse_errors() {
        let bad = [
            json!({"Variable": "$.a"}),
            json!({"Variable": "$.a", "NumericEquals": "1"}),
            json!({"Variable": "$.a", "StringEquals": 1, "NumericEquals": 1}),
            json!({"Variable": "$.a", "BooleanLessThan": true}),
            json!({"Variable": "$.a", "TimestampEquals": "2020-01-01"}),
            json!({"Variable": "a", "StringEquals": "x"}),
            json!({"Variable": "$.a", "StringEquals": "x", "Bogus": 1}),
            json!({"And": []}),
            json!({"Not": {"Variable": "$.a", "IsNull": true, "Next": "X"}}),
            json!({"Variable": "$.a", "StringMatches": "bad\\escape"}),
            json!({"Variable": "$.a", "IsNull": "yes"}),
        ];
        for b in bad {
            assert!(parse_rule(b.as_object().unwrap(), false, 0).is_err(), "{b}");
        }
        assert!(parse_rule(
            json!({"Variable": "$.a", "IsNull": true}).as_object().unwrap(),
            true,
            0
        )
        .is_err());
        let mut deep = json!({"Variable": "$.a", "IsNull": true});
        for _ in 0..100 {
            deep = json!({ "Not": deep });
        }
        assert!(parse_rule(deep.as_object().unwrap(), false, 0).is_err());
    }
}
