//! Payload templates (Parameters, ResultSelector, ItemSelector, ItemReader Parameters): JSON in
//! which any field whose name ends in `.$` takes its value from a path (`$...`, `$$...`) or an
//! intrinsic function, at any depth (inside arrays too).

use crate::error::{names, StatesError};
use crate::intrinsics::{size_within, EvalEnv, Intrinsic, IntrinsicError};
use crate::paths::Path;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Lit(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Path { field: String, path: Path },
    Call { field: String, call: Intrinsic },
}

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    root: Node,
}

/// The value of a `.$` field or of a path-or-intrinsic field such as ErrorPath.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dynamic {
    Path(Path),
    Call(Intrinsic),
}

impl Dynamic {
    pub fn parse(text: &str) -> Result<Dynamic, String> {
        if text.starts_with("States.") {
            Intrinsic::parse(text).map(Dynamic::Call)
        } else if text.starts_with('$') {
            Path::parse(text).map(Dynamic::Path)
        } else {
            Err(format!(
                "'{text}' is neither a JSONPath nor an intrinsic function"
            ))
        }
    }

    /// Evaluates for a field named `field` (used in error causes).
    pub fn eval(&self, field: &str, env: &EvalEnv<'_>) -> Result<Value, StatesError> {
        match self {
            Dynamic::Path(p) => p.eval(env.input, env.context).ok_or_else(|| {
                let doc = if p.root() == crate::paths::Root::Context { env.context } else { env.input };
                StatesError::runtime(format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                    p.text(),
                    compact(doc)
                ))
            }),
            Dynamic::Call(c) => c.eval(env).map_err(|e| intrinsic_error(e, env)),
        }
    }
}

pub(crate) fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn intrinsic_error(e: IntrinsicError, env: &EvalEnv<'_>) -> StatesError {
    match e {
        IntrinsicError::PathNotFound { expr, path } => StatesError::runtime(format!(
            "The function '{expr}' had the following error: The JsonPath argument for the field '{path}' \
             could not be found in the input '{}'",
            compact(env.input)
        )),
        IntrinsicError::Failed { expr, message } => StatesError::new(
            names::INTRINSIC_FAILURE,
            format!("The function '{expr}' had the following error: {message}"),
        ),
    }
}

fn compile(v: &Value, at: &str) -> Result<Node, String> {
    match v {
        Value::Object(o) => {
            let mut fields = Vec::with_capacity(o.len());
            let mut dynamic = false;
            for (k, val) in o {
                let where_ = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                if let Some(name) = k.strip_suffix(".$") {
                    let Some(s) = val.as_str() else {
                        return Err(format!(
                            "the value of '{where_}' must be a string (a JSONPath or intrinsic function)"
                        ));
                    };
                    let node = match Dynamic::parse(s).map_err(|e| format!("'{where_}': {e}"))? {
                        Dynamic::Path(path) => Node::Path {
                            field: k.clone(),
                            path,
                        },
                        Dynamic::Call(call) => Node::Call {
                            field: k.clone(),
                            call,
                        },
                    };
                    fields.push((name.to_string(), node));
                    dynamic = true;
                } else {
                    let node = compile(val, &where_)?;
                    dynamic |= !matches!(node, Node::Lit(_));
                    fields.push((k.clone(), node));
                }
            }
            if dynamic {
                Ok(Node::Object(fields))
            } else {
                Ok(Node::Lit(v.clone()))
            }
        }
        Value::Array(a) => {
            let items = a
                .iter()
                .enumerate()
                .map(|(i, x)| compile(x, &format!("{at}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            if items.iter().all(|n| matches!(n, Node::Lit(_))) {
                Ok(Node::Lit(v.clone()))
            } else {
                Ok(Node::Array(items))
            }
        }
        other => Ok(Node::Lit(other.clone())),
    }
}

impl Template {
    pub fn parse(v: &Value) -> Result<Template, String> {
        Ok(Template {
            root: compile(v, "")?,
        })
    }

    /// Builds the payload. `env.limit` bounds the total size of substituted values
    /// (`States.DataLimitExceeded` beyond it).
    pub(crate) fn eval(&self, env: &EvalEnv<'_>) -> Result<Value, StatesError> {
        let mut used = 0usize;
        eval_node(&self.root, env, &mut used)
    }
}

fn charge(v: &Value, env: &EvalEnv<'_>, used: &mut usize) -> Result<(), StatesError> {
    let left = env.limit.saturating_sub(*used);
    match size_within(v, left) {
        Some(n) => {
            *used += n;
            Ok(())
        }
        None => Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The payload built from the template exceeds the size limit of {} bytes",
                env.limit
            ),
        )),
    }
}

fn eval_node(node: &Node, env: &EvalEnv<'_>, used: &mut usize) -> Result<Value, StatesError> {
    match node {
        Node::Lit(v) => Ok(v.clone()),
        Node::Object(fields) => {
            let mut m = Map::new();
            for (k, n) in fields {
                m.insert(k.clone(), eval_node(n, env, used)?);
            }
            Ok(Value::Object(m))
        }
        Node::Array(items) => items
            .iter()
            .map(|n| eval_node(n, env, used))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Path { field, path } => {
            let v = Dynamic::Path(path.clone()).eval(field, env)?;
            charge(&v, env, used)?;
            Ok(v)
        }
        Node::Call { field, call } => {
            let v = Dynamic::Call(call.clone()).eval(field, env)?;
            charge(&v, env, used)?;
            Ok(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(t: Value, input: Value) -> Result<Value, StatesError> {
        let ctx = json!({"Execution": {"Name": "ex"}, "Map": {"Item": {"Index": 2}}});
        Template::parse(&t).unwrap().eval(&EvalEnv {
            input: &input,
            context: &ctx,
            limit: 262_144,
        })
    }

    #[test]
    fn substitutes_paths_context_and_intrinsics_at_any_depth() {
        let out = eval(
            json!({
                "flagged": true,
                "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[3:]"},
                "list": [{"x.$": "$.vals[1]"}, 5],
                "name.$": "$$.Execution.Name",
                "idx.$": "$$.Map.Item.Index",
                "n.$": "States.ArrayLength($.vals)",
                "plain": "$.not-a-path"
            }),
            json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "flagged": true,
                "parts": {"first": 0, "last3": [30, 40, 50]},
                "list": [{"x": 10}, 5],
                "name": "ex",
                "idx": 2,
                "n": 6,
                "plain": "$.not-a-path"
            })
        );
    }

    #[test]
    fn missing_path_is_runtime_error_naming_field() {
        let e = eval(json!({"missing.$": "$.nope.deep"}), json!({"other": 1})).unwrap_err();
        assert_eq!(e.name(), Some("States.Runtime"));
        assert_eq!(
            e.cause.as_deref(),
            Some("The JSONPath '$.nope.deep' specified for the field 'missing.$' could not be found in the input '{\"other\":1}'")
        );
    }

    #[test]
    fn intrinsic_failure_names_the_expression() {
        let e = eval(json!({"x.$": "States.StringToJson($.s)"}), json!({"s": "{"})).unwrap_err();
        assert_eq!(e.name(), Some("States.IntrinsicFailure"));
        assert!(e
            .cause
            .unwrap()
            .starts_with("The function 'States.StringToJson($.s)' had the following error"));
    }

    #[test]
    fn compile_errors_name_the_field() {
        assert!(Template::parse(&json!({"a": {"b.$": 3}}))
            .unwrap_err()
            .contains("a.b.$"));
        assert!(Template::parse(&json!({"a.$": "nope"}))
            .unwrap_err()
            .contains("a.$"));
        assert!(Template::parse(&json!({"a.$": "$.x[?("})).is_err());
        assert!(Template::parse(&json!({"a.$": "States.Bogus()"})).is_err());
    }

    #[test]
    fn size_budget() {
        let input = json!({"s": "x".repeat(200)});
        let t = Template::parse(&json!({"a.$": "$.s", "b.$": "$.s"})).unwrap();
        let ctx = json!({});
        let e = t
            .eval(&EvalEnv {
                input: &input,
                context: &ctx,
                limit: 300,
            })
            .unwrap_err();
        assert_eq!(e.name(), Some("States.DataLimitExceeded"));
    }
}
