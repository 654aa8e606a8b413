//! Loading a definition: JSON → validated state model. Every problem names the state (as a
//! nesting chain such as `Fan/Branches[0]/Work`) and the field. Unreachable states are warnings.

use crate::error::{names, LoadError, Problem};
use crate::paths::Path;
use crate::states::{self, Catcher, Graph, Jitter, Kind, PathField, ResultPath, Retrier, State, Transition};
use crate::template::Template;
use crate::StateMachine;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};

/// AWS limits state names to 80 characters.
const MAX_NAME: usize = 80;
/// Deepest nesting of Parallel/Map graphs accepted.
const MAX_GRAPH_DEPTH: usize = 32;

/// Loads and validates a definition (Amazon States Language, JSONPath query language).
pub fn load(json: &str) -> Result<StateMachine, LoadError> {
    let v: Value = serde_json::from_str(json).map_err(|e| LoadError {
        problems: vec![Problem {
            state: None,
            field: None,
            message: format!("the definition is not valid JSON: {e}"),
        }],
    })?;
    load_value(&v)
}

/// Like [`load`], from an already-parsed JSON value.
pub fn load_value(v: &Value) -> Result<StateMachine, LoadError> {
    let mut cx = Cx::default();
    let Some(top) = v.as_object() else {
        cx.problem(None, None, "the definition must be a JSON object");
        return Err(LoadError {
            problems: cx.problems,
        });
    };
    for k in top.keys() {
        if !matches!(
            k.as_str(),
            "StartAt" | "States" | "Comment" | "Version" | "TimeoutSeconds" | "QueryLanguage"
        ) {
            cx.problem(None, Some(k), "unsupported top-level field");
        }
    }
    if let Some(q) = top.get("QueryLanguage") {
        if q.as_str() != Some("JSONPath") {
            cx.problem(
                None,
                Some("QueryLanguage"),
                "only the JSONPath query language is supported (JSONata is not)",
            );
        }
    }
    if let Some(ver) = top.get("Version") {
        if !ver.is_string() {
            cx.problem(None, Some("Version"), "must be a string");
        }
    }
    let timeout_seconds = match top.get("TimeoutSeconds") {
        None => None,
        Some(t) => match t.as_u64().filter(|n| (1..=99_999_999).contains(n)) {
            Some(n) => Some(n),
            None => {
                cx.problem(
                    None,
                    Some("TimeoutSeconds"),
                    "must be a positive integer (at most 99999999)",
                );
                None
            }
        },
    };
    let comment = top.get("Comment").and_then(Value::as_str).map(str::to_string);
    let root = parse_graph(&mut cx, top, 0);
    match root {
        Some(root) if cx.problems.is_empty() => Ok(StateMachine {
            root,
            timeout_seconds,
            comment,
            warnings: cx.warnings,
        }),
        _ => {
            if cx.problems.is_empty() {
                cx.problem(None, None, "the definition could not be loaded");
            }
            Err(LoadError {
                problems: cx.problems,
            })
        }
    }
}

/// Replaces `${Name}` placeholders (DefinitionSubstitutions) with their values, JSON-escaped so a
/// value can sit inside a string literal. Every placeholder without a value is reported.
pub fn substitute<S: std::hash::BuildHasher>(
    definition: &str,
    vars: &HashMap<String, String, S>,
) -> Result<String, LoadError> {
    let mut out = String::with_capacity(definition.len());
    let mut missing = Vec::new();
    let mut rest = definition;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let end = after.find('}').filter(|&e| {
            e > 0
                && after[..e]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
        });
        match end {
            Some(e) => {
                let name = &after[..e];
                match vars.get(name) {
                    Some(val) => {
                        let quoted = serde_json::to_string(val).unwrap_or_default();
                        out.push_str(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default());
                    }
                    None => {
                        if !missing.iter().any(|m: &String| m == name) {
                            missing.push(name.to_string());
                        }
                        out.push_str(&rest[pos..pos + 3 + e]);
                    }
                }
                rest = &after[e + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(LoadError {
            problems: missing
                .into_iter()
                .map(|m| Problem {
                    state: None,
                    field: None,
                    message: format!("no value for the definition substitution '${{{m}}}'"),
                })
                .collect(),
        })
    }
}

#[derive(Default)]
pub(crate) struct Cx {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// Nesting prefix such as `Fan/Branches[0]`.
    scope: Vec<String>,
}

impl Cx {
    fn loc(&self, state: Option<&str>) -> Option<String> {
        let mut parts = self.scope.clone();
        if let Some(s) = state {
            parts.push(s.to_string());
        }
        if parts.is_empty() {
            None
        } else {
            Some(parts.join("/"))
        }
    }

    pub fn problem(&mut self, state: Option<&str>, field: Option<&str>, msg: impl Into<String>) {
        let state = self.loc(state);
        self.problems.push(Problem {
            state,
            field: field.map(str::to_string),
            message: msg.into(),
        });
    }

    fn warn(&mut self, state: Option<&str>, msg: impl Into<String>) {
        let state = self.loc(state);
        self.warnings.push(Problem {
            state,
            field: None,
            message: msg.into(),
        });
    }
}

/// Parses `StartAt` + `States` from `obj` (top level, branch or item processor).
pub(crate) fn parse_graph(cx: &mut Cx, obj: &Map<String, Value>, depth: usize) -> Option<Graph> {
    if depth > MAX_GRAPH_DEPTH {
        cx.problem(
            None,
            None,
            format!("Parallel/Map states nested more than {MAX_GRAPH_DEPTH} deep"),
        );
        return None;
    }
    let start_at = match obj.get("StartAt") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            cx.problem(None, Some("StartAt"), "must be a string");
            None
        }
        None => {
            cx.problem(None, Some("StartAt"), "is required");
            None
        }
    };
    let Some(states_obj) = obj.get("States").and_then(Value::as_object) else {
        cx.problem(
            None,
            Some("States"),
            "is required and must be an object of states",
        );
        return None;
    };
    if states_obj.is_empty() {
        cx.problem(None, Some("States"), "must contain at least one state");
    }
    let mut states = HashMap::new();
    for (name, def) in states_obj {
        if name.is_empty() || name.chars().count() > MAX_NAME {
            cx.problem(
                Some(name),
                None,
                format!("state names must be 1 to {MAX_NAME} characters"),
            );
        }
        let Some(def) = def.as_object() else {
            cx.problem(Some(name), None, "a state must be a JSON object");
            continue;
        };
        if let Some(st) = parse_state(cx, name, def, depth) {
            states.insert(name.clone(), st);
        }
    }
    let start_at = start_at?;
    if !states_obj.contains_key(&start_at) {
        cx.problem(
            None,
            Some("StartAt"),
            format!("'{start_at}' is not a state in this States object"),
        );
        return None;
    }
    // Every transition must target a state of the same States object.
    let known: HashSet<&String> = states_obj.keys().collect();
    let mut targets_ok = true;
    for st in states.values() {
        for (field, target) in transitions(st) {
            if !known.contains(&target) {
                cx.problem(
                    Some(&st.name),
                    Some(field),
                    format!("'{target}' is not a state in this States object"),
                );
                targets_ok = false;
            }
        }
    }
    if targets_ok {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue = VecDeque::from([start_at.as_str()]);
        while let Some(n) = queue.pop_front() {
            if !seen.insert(n) {
                continue;
            }
            if let Some(st) = states.get(n) {
                queue.extend(transitions(st).into_iter().map(|(_, t)| t.as_str()));
            }
        }
        let mut unreachable: Vec<&String> =
            states_obj.keys().filter(|k| !seen.contains(k.as_str())).collect();
        unreachable.sort();
        for u in unreachable {
            cx.warn(Some(u), "the state is not reachable from StartAt");
        }
    }
    Some(Graph { start_at, states })
}

fn transitions(st: &State) -> Vec<(&'static str, &String)> {
    let mut out = Vec::new();
    if let Transition::Next(n) = &st.transition {
        out.push(("Next", n));
    }
    for c in &st.catch {
        out.push(("Catch", &c.next));
    }
    if let Kind::Choice(c) = &st.kind {
        for ch in &c.choices {
            out.push(("Choices", &ch.next));
        }
        if let Some(d) = &c.default {
            out.push(("Default", d));
        }
    }
    out
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];

fn allowed(type_: &str) -> Option<&'static [&'static str]> {
    Some(match type_ {
        "Pass" => &[
            "InputPath",
            "OutputPath",
            "Parameters",
            "Result",
            "ResultPath",
            "Next",
            "End",
        ],
        "Task" => &[
            "Resource",
            "Parameters",
            "Credentials",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "ResultSelector",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Retry",
            "Catch",
            "Next",
            "End",
        ],
        "Choice" => &["Choices", "Default", "InputPath", "OutputPath"],
        "Wait" => &[
            "Seconds",
            "SecondsPath",
            "Timestamp",
            "TimestampPath",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
        ],
        "Succeed" => &["InputPath", "OutputPath"],
        "Fail" => &["Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel" => &[
            "Branches",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Retry",
            "Catch",
            "Next",
            "End",
        ],
        "Map" => &[
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "ItemSelector",
            "Parameters",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "Label",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "ResultSelector",
            "Retry",
            "Catch",
            "Next",
            "End",
        ],
        _ => return None,
    })
}

/// Field access for one state, reporting problems against it.
pub(crate) struct F<'a> {
    pub cx: &'a mut Cx,
    pub name: &'a str,
    pub obj: &'a Map<String, Value>,
    pub depth: usize,
}

impl F<'_> {
    pub fn err(&mut self, field: &str, msg: impl Into<String>) {
        self.cx.problem(Some(self.name), Some(field), msg);
    }

    pub fn has(&self, field: &str) -> bool {
        self.obj.contains_key(field)
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.obj.get(field)
    }

    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.obj.get(field) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.err(field, "must be a string");
                None
            }
        }
    }

    pub fn uint(&mut self, field: &str, min: u64, max: u64) -> Option<u64> {
        let v = self.obj.get(field)?;
        match v.as_u64().filter(|n| (min..=max).contains(n)) {
            Some(n) => Some(n),
            None => {
                self.err(field, format!("must be an integer from {min} to {max}"));
                None
            }
        }
    }

    pub fn path_field(&mut self, field: &str) -> PathField {
        match self.obj.get(field) {
            None => PathField::Root,
            Some(Value::Null) => PathField::Null,
            Some(Value::String(s)) => match Path::parse(s) {
                Ok(p) if p.is_root() && p.root() == crate::paths::Root::Input => PathField::Root,
                Ok(p) => PathField::Path(p),
                Err(e) => {
                    self.err(field, e);
                    PathField::Root
                }
            },
            Some(_) => {
                self.err(field, "must be a JSONPath string or null");
                PathField::Root
            }
        }
    }

    pub fn result_path(&mut self, field: &str) -> ResultPath {
        parse_result_path(self.obj.get(field)).unwrap_or_else(|e| {
            self.err(field, e);
            ResultPath::Root
        })
    }

    pub fn ref_path(&mut self, field: &str) -> Option<Path> {
        let s = self.string(field)?;
        match Path::parse_reference(&s) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(field, e);
                None
            }
        }
    }

    pub fn template(&mut self, field: &str) -> Option<Template> {
        let v = self.obj.get(field)?;
        match Template::parse(v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(field, e);
                None
            }
        }
    }

    /// At most one of the two fields.
    pub fn exclusive(&mut self, a: &str, b: &str) {
        if self.has(a) && self.has(b) {
            self.err(b, format!("cannot be used together with '{a}'"));
        }
    }

    /// A nested graph (Parallel branch, Map item processor), reported under `scope`.
    pub fn graph(&mut self, scope: String, obj: &Map<String, Value>) -> Option<Graph> {
        self.cx.scope.push(self.name.to_string());
        self.cx.scope.push(scope);
        let g = parse_graph(self.cx, obj, self.depth + 1);
        self.cx.scope.pop();
        self.cx.scope.pop();
        g
    }
}

fn parse_result_path(v: Option<&Value>) -> Result<ResultPath, String> {
    match v {
        None => Ok(ResultPath::Root),
        Some(Value::Null) => Ok(ResultPath::Discard),
        Some(Value::String(s)) => {
            let p = Path::parse_reference(s)?;
            Ok(if p.is_root() {
                ResultPath::Root
            } else {
                ResultPath::Path(p)
            })
        }
        Some(_) => Err("must be a reference path string or null".into()),
    }
}

fn error_equals(f: &mut F<'_>, field: &str, idx: usize, obj: &Map<String, Value>, last: bool) -> Vec<String> {
    let list: Vec<String> = match obj.get("ErrorEquals").and_then(Value::as_array) {
        Some(a) if !a.is_empty() && a.iter().all(Value::is_string) => {
            a.iter().filter_map(Value::as_str).map(str::to_string).collect()
        }
        _ => {
            f.err(
                field,
                format!("[{idx}].ErrorEquals must be a non-empty array of error names"),
            );
            return Vec::new();
        }
    };
    if list.iter().any(|e| e == names::ALL) {
        if list.len() != 1 {
            f.err(
                field,
                format!("[{idx}]: States.ALL must appear alone in ErrorEquals"),
            );
        }
        if !last {
            f.err(
                field,
                format!("[{idx}]: States.ALL must be in the last entry of {field}"),
            );
        }
    }
    list
}

fn parse_retry(f: &mut F<'_>) -> Vec<Retrier> {
    let Some(v) = f.get("Retry").cloned() else {
        return Vec::new();
    };
    let Some(list) = v.as_array() else {
        f.err("Retry", "must be an array of retriers");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let Some(o) = r.as_object() else {
            f.err("Retry", format!("[{i}] must be an object"));
            continue;
        };
        for k in o.keys() {
            if !matches!(
                k.as_str(),
                "ErrorEquals"
                    | "IntervalSeconds"
                    | "MaxAttempts"
                    | "BackoffRate"
                    | "MaxDelaySeconds"
                    | "JitterStrategy"
                    | "Comment"
            ) {
                f.err("Retry", format!("[{i}]: unsupported field '{k}'"));
            }
        }
        let errs = error_equals(f, "Retry", i, o, i + 1 == list.len());
        let int = |f: &mut F<'_>, key: &str, min: u64, max: u64, default: u64| -> u64 {
            match o.get(key) {
                None => default,
                Some(v) => match v.as_u64().filter(|n| (min..=max).contains(n)) {
                    Some(n) => n,
                    None => {
                        f.err(
                            "Retry",
                            format!("[{i}].{key} must be an integer from {min} to {max}"),
                        );
                        default
                    }
                },
            }
        };
        let interval = int(f, "IntervalSeconds", 1, 99_999_999, 1);
        let max_attempts = int(f, "MaxAttempts", 0, 99_999_999, 3);
        let max_delay = o
            .get("MaxDelaySeconds")
            .map(|_| int(f, "MaxDelaySeconds", 1, 31_622_400, 1));
        let backoff = match o.get("BackoffRate") {
            None => 2.0,
            Some(v) => match v.as_f64().filter(|b| *b >= 1.0 && b.is_finite()) {
                Some(b) => b,
                None => {
                    f.err("Retry", format!("[{i}].BackoffRate must be a number >= 1.0"));
                    2.0
                }
            },
        };
        let jitter = match o.get("JitterStrategy") {
            None => Jitter::None,
            Some(Value::String(s)) if s == "NONE" => Jitter::None,
            Some(Value::String(s)) if s == "FULL" => Jitter::Full,
            Some(_) => {
                f.err(
                    "Retry",
                    format!("[{i}].JitterStrategy must be \"FULL\" or \"NONE\""),
                );
                Jitter::None
            }
        };
        out.push(Retrier {
            error_equals: errs,
            interval_seconds: interval as f64,
            max_attempts,
            backoff_rate: backoff,
            max_delay_seconds: max_delay.map(|d| d as f64),
            jitter,
        });
    }
    out
}

fn parse_catch(f: &mut F<'_>) -> Vec<Catcher> {
    let Some(v) = f.get("Catch").cloned() else {
        return Vec::new();
    };
    let Some(list) = v.as_array() else {
        f.err("Catch", "must be an array of catchers");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let Some(o) = c.as_object() else {
            f.err("Catch", format!("[{i}] must be an object"));
            continue;
        };
        for k in o.keys() {
            if !matches!(k.as_str(), "ErrorEquals" | "Next" | "ResultPath" | "Comment") {
                f.err("Catch", format!("[{i}]: unsupported field '{k}'"));
            }
        }
        let errs = error_equals(f, "Catch", i, o, i + 1 == list.len());
        let Some(next) = o.get("Next").and_then(Value::as_str) else {
            f.err("Catch", format!("[{i}].Next is required and must be a string"));
            continue;
        };
        let result_path = match parse_result_path(o.get("ResultPath")) {
            Ok(r) => r,
            Err(e) => {
                f.err("Catch", format!("[{i}].ResultPath: {e}"));
                ResultPath::Root
            }
        };
        out.push(Catcher {
            error_equals: errs,
            next: next.to_string(),
            result_path,
        });
    }
    out
}

fn parse_transition(f: &mut F<'_>, own: bool) -> Transition {
    let next = f.get("Next").cloned();
    let end = f.get("End").cloned();
    if own {
        if next.is_some() {
            f.err("Next", "is not allowed on this state type");
        }
        if end.is_some() {
            f.err("End", "is not allowed on this state type");
        }
        return Transition::Own;
    }
    match (next, end) {
        (Some(Value::String(n)), None | Some(Value::Bool(false))) => Transition::Next(n),
        (Some(Value::String(_)), Some(_)) => {
            f.err("End", "cannot be used together with 'Next'");
            Transition::End
        }
        (Some(_), _) => {
            f.err("Next", "must be a string");
            Transition::End
        }
        (None, Some(Value::Bool(true))) => Transition::End,
        (None, Some(_)) => {
            f.err("End", "must be true (or use 'Next')");
            Transition::End
        }
        (None, None) => {
            f.err("Next", "the state needs either 'Next' or \"End\": true");
            Transition::End
        }
    }
}

fn parse_state(cx: &mut Cx, name: &str, obj: &Map<String, Value>, depth: usize) -> Option<State> {
    let type_ = match obj.get("Type") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => {
            cx.problem(Some(name), Some("Type"), "must be a string");
            return None;
        }
        None => {
            cx.problem(Some(name), Some("Type"), "is required");
            return None;
        }
    };
    let Some(fields) = allowed(&type_) else {
        cx.problem(
            Some(name),
            Some("Type"),
            format!("unknown state type '{type_}' (expected Pass, Task, Choice, Wait, Succeed, Fail, Parallel or Map)"),
        );
        return None;
    };
    for k in obj.keys() {
        if COMMON.contains(&k.as_str()) || fields.contains(&k.as_str()) {
            continue;
        }
        let msg = match k.as_str() {
            "Assign" => "variables (Assign) are not supported by the local executor".to_string(),
            "Arguments" | "Output" => {
                format!("'{k}' belongs to the JSONata query language, which is not supported")
            }
            _ => format!("unsupported field for a {type_} state"),
        };
        cx.problem(Some(name), Some(k), msg);
    }
    let mut f = F { cx, name, obj, depth };
    if let Some(q) = f.get("QueryLanguage") {
        if q.as_str() != Some("JSONPath") {
            f.err("QueryLanguage", "only JSONPath is supported");
        }
    }
    let own = matches!(type_.as_str(), "Choice" | "Succeed" | "Fail");
    let transition = parse_transition(&mut f, own);
    let input_path = f.path_field("InputPath");
    let output_path = f.path_field("OutputPath");
    let parameters = f.template("Parameters");
    let result_selector = f.template("ResultSelector");
    let result_path = f.result_path("ResultPath");
    let retry = parse_retry(&mut f);
    let catch = parse_catch(&mut f);
    let kind = match type_.as_str() {
        "Pass" => states::pass::parse(&mut f).map(Kind::Pass),
        "Task" => states::task::parse(&mut f).map(Kind::Task),
        "Choice" => states::choice::parse(&mut f).map(Kind::Choice),
        "Wait" => states::wait::parse(&mut f).map(Kind::Wait),
        "Succeed" => Some(Kind::Succeed),
        "Fail" => states::fail::parse(&mut f).map(Kind::Fail),
        "Parallel" => states::parallel::parse(&mut f).map(Kind::Parallel),
        "Map" => states::map::parse(&mut f).map(|m| Kind::Map(Box::new(m))),
        _ => None,
    }?;
    Some(State {
        name: name.to_string(),
        kind,
        input_path,
        output_path,
        parameters,
        result_selector,
        result_path,
        transition,
        retry,
        catch,
    })
}
