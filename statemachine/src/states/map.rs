//! Map: runs the item processor once per item, at most MaxConcurrency at a time (0 = no limit).
//!
//! Inline mode (ItemProcessor INLINE or legacy Iterator): items come from ItemsPath, each
//! iteration's input from ItemSelector (legacy Parameters) evaluated with `$$.Map.Item.Index` and
//! `$$.Map.Item.Value`; the first failing iteration fails the state.
//!
//! Distributed mode adds ItemReader (items listed by the caller's [`crate::TaskRunner`]),
//! ItemBatcher, ResultWriter and the ToleratedFailure thresholds (beyond them
//! `States.ExceedToleratedFailureThreshold`). Child executions are recorded in this execution's
//! history as Map iterations (AWS keeps them in separate child executions).

use crate::error::{names, StatesError};
use crate::executor::{error_details, Exec, ItemReaderRequest, ResultWriterRequest};
use crate::history::{EventType, Thread};
use crate::intrinsics::size_within;
use crate::load::F;
use crate::paths::Path;
use crate::states::{Graph, State};
use crate::template::{compact, Template};
use futures_util::future::try_join_all;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Inline,
    Distributed,
}

/// A number given literally or through a reference path.
#[derive(Debug)]
enum Num {
    Lit(f64),
    Path(Path),
}

#[derive(Debug)]
struct Reader {
    resource: String,
    parameters: Option<Template>,
    config: Map<String, Value>,
    max_items: Option<Num>,
}

#[derive(Debug)]
struct Batcher {
    max_items: Option<Num>,
    max_bytes: Option<Num>,
    batch_input: Option<Template>,
}

#[derive(Debug)]
struct Writer {
    resource: String,
    parameters: Option<Template>,
    config: Value,
}

#[derive(Debug)]
pub(crate) struct MapState {
    processor: Graph,
    mode: Mode,
    items_path: Option<Path>,
    item_selector: Option<Template>,
    max_concurrency: Option<Num>,
    reader: Option<Reader>,
    batcher: Option<Batcher>,
    writer: Option<Writer>,
    tolerated_percentage: Option<Num>,
    tolerated_count: Option<Num>,
    label: Option<String>,
}

fn num(f: &mut F<'_>, lit: &str, path: &str, max: f64, integer: bool) -> Option<Num> {
    f.exclusive(lit, path);
    if let Some(v) = f.get(lit) {
        let ok = v
            .as_f64()
            .filter(|n| *n >= 0.0 && *n <= max && (!integer || v.is_u64()));
        return match ok {
            Some(n) => Some(Num::Lit(n)),
            None => {
                let kind = if integer { "an integer" } else { "a number" };
                f.err(lit, format!("must be {kind} from 0 to {max}"));
                None
            }
        };
    }
    f.ref_path(path).map(Num::Path)
}

/// Numeric fields inside ItemReader/ItemBatcher objects.
fn sub_num(f: &mut F<'_>, field: &str, o: &Map<String, Value>, lit: &str, path: &str) -> Option<Num> {
    match (o.get(lit), o.get(path)) {
        (Some(_), Some(_)) => {
            f.err(field, format!("{lit} and {path} cannot be used together"));
            None
        }
        (Some(v), None) => match v.as_u64() {
            Some(n) => Some(Num::Lit(n as f64)),
            None => {
                f.err(field, format!("{lit} must be a non-negative integer"));
                None
            }
        },
        (None, Some(p)) => match p.as_str().map(Path::parse_reference) {
            Some(Ok(p)) => Some(Num::Path(p)),
            Some(Err(e)) => {
                f.err(field, format!("{path}: {e}"));
                None
            }
            None => {
                f.err(field, format!("{path} must be a string"));
                None
            }
        },
        (None, None) => None,
    }
}

fn sub_template(f: &mut F<'_>, field: &str, o: &Map<String, Value>, key: &str) -> Option<Template> {
    let v = o.get(key)?;
    match Template::parse(v) {
        Ok(t) => Some(t),
        Err(e) => {
            f.err(field, format!("{key}: {e}"));
            None
        }
    }
}

fn sub_object(f: &mut F<'_>, field: &str, allowed: &[&str]) -> Option<Map<String, Value>> {
    let v = f.get(field)?.clone();
    let Some(o) = v.as_object() else {
        f.err(field, "must be an object");
        return None;
    };
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            f.err(field, format!("unsupported field '{k}'"));
        }
    }
    Some(o.clone())
}

pub(crate) fn parse(f: &mut F<'_>) -> Option<MapState> {
    f.exclusive("ItemProcessor", "Iterator");
    f.exclusive("ItemSelector", "Parameters");
    let (proc_field, proc_obj) = match (f.get("ItemProcessor").cloned(), f.get("Iterator").cloned()) {
        (Some(p), _) => ("ItemProcessor", p),
        (None, Some(i)) => ("Iterator", i),
        (None, None) => {
            f.err(
                "ItemProcessor",
                "a Map state needs ItemProcessor (or the legacy Iterator)",
            );
            return None;
        }
    };
    let Some(proc_obj) = proc_obj.as_object() else {
        f.err(proc_field, "must be an object with StartAt and States");
        return None;
    };
    let mut mode = Mode::Inline;
    for k in proc_obj.keys() {
        if !matches!(
            k.as_str(),
            "StartAt" | "States" | "Comment" | "ProcessorConfig" | "QueryLanguage"
        ) {
            f.err(proc_field, format!("unsupported field '{k}'"));
        }
    }
    if let Some(pc) = proc_obj.get("ProcessorConfig") {
        match pc.as_object() {
            Some(o) => {
                for (k, v) in o {
                    match (k.as_str(), v.as_str()) {
                        ("Mode", Some("INLINE")) => mode = Mode::Inline,
                        ("Mode", Some("DISTRIBUTED")) => mode = Mode::Distributed,
                        ("ExecutionType", Some("STANDARD" | "EXPRESS")) => {}
                        ("Mode", _) => {
                            f.err(proc_field, "ProcessorConfig.Mode must be INLINE or DISTRIBUTED")
                        }
                        ("ExecutionType", _) => f.err(
                            proc_field,
                            "ProcessorConfig.ExecutionType must be STANDARD or EXPRESS",
                        ),
                        _ => f.err(proc_field, format!("ProcessorConfig: unsupported field '{k}'")),
                    }
                }
            }
            None => f.err(proc_field, "ProcessorConfig must be an object"),
        }
    }
    let item_selector = if f.has("ItemSelector") {
        f.template("ItemSelector")
    } else {
        // Legacy Parameters: problems were already reported with the common fields.
        f.get("Parameters").and_then(|v| Template::parse(v).ok())
    };
    let items_path = f.ref_path("ItemsPath");
    let max_concurrency = num(f, "MaxConcurrency", "MaxConcurrencyPath", 99_999_999.0, true);
    let tolerated_percentage = num(
        f,
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        100.0,
        false,
    );
    let tolerated_count = num(
        f,
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        99_999_999.0,
        true,
    );
    let label = f.string("Label");
    if label.as_ref().is_some_and(|l| l.chars().count() > 40) {
        f.err("Label", "must be at most 40 characters");
    }
    let reader = sub_object(f, "ItemReader", &["Resource", "Parameters", "ReaderConfig"]).and_then(|o| {
        let Some(resource) = o.get("Resource").and_then(Value::as_str).map(str::to_string) else {
            f.err("ItemReader", "Resource is required and must be a string");
            return None;
        };
        let parameters = sub_template(f, "ItemReader", &o, "Parameters");
        let mut config = match o.get("ReaderConfig") {
            None => Map::new(),
            Some(Value::Object(c)) => c.clone(),
            Some(_) => {
                f.err("ItemReader", "ReaderConfig must be an object");
                Map::new()
            }
        };
        let max_items = sub_num(f, "ItemReader", &config, "MaxItems", "MaxItemsPath");
        config.remove("MaxItemsPath");
        Some(Reader {
            resource,
            parameters,
            config,
            max_items,
        })
    });
    let batcher = sub_object(
        f,
        "ItemBatcher",
        &[
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            "BatchInput",
        ],
    )
    .map(|o| {
        let max_items = sub_num(f, "ItemBatcher", &o, "MaxItemsPerBatch", "MaxItemsPerBatchPath");
        let max_bytes = sub_num(
            f,
            "ItemBatcher",
            &o,
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
        );
        if max_items.is_none() && max_bytes.is_none() {
            f.err(
                "ItemBatcher",
                "needs MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path forms)",
            );
        }
        let batch_input = sub_template(f, "ItemBatcher", &o, "BatchInput");
        Batcher {
            max_items,
            max_bytes,
            batch_input,
        }
    });
    let writer = sub_object(f, "ResultWriter", &["Resource", "Parameters", "WriterConfig"]).and_then(|o| {
        let Some(resource) = o.get("Resource").and_then(Value::as_str).map(str::to_string) else {
            f.err("ResultWriter", "Resource is required and must be a string");
            return None;
        };
        let parameters = sub_template(f, "ResultWriter", &o, "Parameters");
        let config = o.get("WriterConfig").cloned().unwrap_or(Value::Null);
        Some(Writer {
            resource,
            parameters,
            config,
        })
    });
    if mode == Mode::Inline {
        for field in [
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "Label",
        ] {
            if f.has(field) {
                f.err(field, "is only allowed when ProcessorConfig.Mode is DISTRIBUTED");
            }
        }
    }
    if reader.is_some() && items_path.is_some() {
        f.err("ItemsPath", "cannot be used together with ItemReader");
    }
    let processor = f.graph(proc_field.to_string(), proc_obj)?;
    Some(MapState {
        processor,
        mode,
        items_path,
        item_selector,
        max_concurrency,
        reader,
        batcher,
        writer,
        tolerated_percentage,
        tolerated_count,
        label,
    })
}

impl MapState {
    pub(crate) fn processor(&self) -> &Graph {
        &self.processor
    }
}

fn resolve(n: &Option<Num>, field: &str, input: &Value) -> Result<Option<f64>, StatesError> {
    match n {
        None => Ok(None),
        Some(Num::Lit(v)) => Ok(Some(*v)),
        Some(Num::Path(p)) => {
            let v = p.eval(input, &Value::Null).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                    p.text(),
                    compact(input)
                ))
            })?;
            v.as_f64().filter(|x| *x >= 0.0).map(Some).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The value of '{field}' must be a non-negative number, got {v}"
                ))
            })
        }
    }
}

/// Groups item inputs into `{"Items": [...], "BatchInput": ...}` objects.
fn batches(
    items: Vec<Value>,
    max_items: Option<usize>,
    max_bytes: Option<usize>,
    batch_input: Option<&Value>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cur: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    let flush = |cur: &mut Vec<Value>, out: &mut Vec<Value>| {
        if cur.is_empty() {
            return;
        }
        let mut m = Map::new();
        if let Some(b) = batch_input {
            m.insert("BatchInput".into(), b.clone());
        }
        m.insert("Items".into(), Value::Array(std::mem::take(cur)));
        out.push(Value::Object(m));
    };
    for item in items {
        let size = compact(&item).len();
        let full_items = max_items.is_some_and(|m| cur.len() >= m.max(1));
        let full_bytes = max_bytes.is_some_and(|m| !cur.is_empty() && bytes + size > m);
        if full_items || full_bytes {
            flush(&mut cur, &mut out);
            bytes = 0;
        }
        bytes += size;
        cur.push(item);
    }
    flush(&mut cur, &mut out);
    out
}

impl Exec<'_> {
    async fn iteration(
        &self,
        st: &State,
        graph: &Graph,
        index: usize,
        input: Value,
        sem: Option<&Semaphore>,
        start: u64,
    ) -> (Result<Value, StatesError>, u64) {
        let _permit = match sem {
            Some(s) => s.acquire().await.ok(),
            None => None,
        };
        let mut t = Thread { last: start };
        if self.history.len() >= self.rc.max_events {
            return (
                Err(StatesError::runtime(format!(
                    "The execution reached the maximum number of history events ({}).",
                    self.rc.max_events
                ))),
                t.last,
            );
        }
        let details = json!({"name": st.name, "index": index});
        self.record(
            &mut t,
            EventType::MapIterationStarted,
            Some(("mapIterationStartedEventDetails", details.clone())),
        );
        let r = self.run_graph(graph, input, &mut t).await;
        match &r {
            Ok(_) => self.record(
                &mut t,
                EventType::MapIterationSucceeded,
                Some(("mapIterationSucceededEventDetails", details)),
            ),
            Err(_) => self.record(
                &mut t,
                EventType::MapIterationFailed,
                Some(("mapIterationFailedEventDetails", details)),
            ),
        };
        (r, t.last)
    }

    async fn map_items(
        &self,
        st: &State,
        m: &MapState,
        effective: &Value,
        ctx: &Value,
    ) -> Result<Vec<Value>, StatesError> {
        if let Some(r) = &m.reader {
            let parameters = self.eval_opt(r.parameters.as_ref(), effective, ctx)?;
            let mut config = r.config.clone();
            let max_items = resolve(&r.max_items, "MaxItemsPath", effective)?;
            if let Some(n) = max_items {
                config.insert("MaxItems".into(), json!(n as u64));
            }
            let req = ItemReaderRequest {
                resource: r.resource.clone(),
                parameters,
                reader_config: Value::Object(config),
            };
            let mut items = self.rc.tasks.read_items(&req, &st.name).await.map_err(|e| {
                if e.error == names::ITEM_READER_FAILED {
                    StatesError::from(e)
                } else {
                    StatesError::new(names::ITEM_READER_FAILED, format!("{}: {}", e.error, e.cause))
                }
            })?;
            if let Some(n) = max_items.filter(|n| *n > 0.0) {
                items.truncate(n as usize);
            }
            return Ok(items);
        }
        let v = match &m.items_path {
            Some(p) => p.eval(effective, ctx).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The JSONPath '{}' specified for the field 'ItemsPath' could not be found in the input '{}'",
                    p.text(),
                    compact(effective)
                ))
            })?,
            None => effective.clone(),
        };
        match v {
            Value::Array(a) => Ok(a),
            other => Err(StatesError::runtime(format!(
                "Items of the Map state must be a JSON array, but the value was {}",
                compact(&other)
            ))),
        }
    }

    pub(crate) async fn run_map(
        &self,
        st: &State,
        m: &MapState,
        effective: Value,
        ctx: &Value,
        th: &mut Thread,
        entered_id: u64,
    ) -> Result<Value, StatesError> {
        let site = |e: StatesError| self.at(st, entered_id, e);
        let items = self.map_items(st, m, &effective, ctx).await.map_err(site)?;
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match &m.item_selector {
                Some(t) => {
                    let mut c = ctx.clone();
                    if let Some(o) = c.as_object_mut() {
                        o.insert("Map".into(), json!({"Item": {"Index": i, "Value": item}}));
                    }
                    inputs.push(t.eval(&self.env(&effective, &c)).map_err(site)?);
                }
                None => inputs.push(item),
            }
        }
        if let Some(b) = &m.batcher {
            let max_items = resolve(&b.max_items, "MaxItemsPerBatchPath", &effective).map_err(site)?;
            let max_bytes = resolve(&b.max_bytes, "MaxInputBytesPerBatchPath", &effective).map_err(site)?;
            let batch_input = match &b.batch_input {
                Some(t) => Some(t.eval(&self.env(&effective, ctx)).map_err(site)?),
                None => None,
            };
            inputs = batches(
                inputs,
                max_items.map(|n| n as usize),
                max_bytes.map(|n| n as usize),
                batch_input.as_ref(),
            );
        }
        let max_conc = resolve(&m.max_concurrency, "MaxConcurrencyPath", &effective).map_err(site)?;
        let sem = max_conc
            .filter(|n| *n >= 1.0)
            .map(|n| Semaphore::new((n as usize).min(Semaphore::MAX_PERMITS)));
        let total = inputs.len();
        let started = self.record(
            th,
            EventType::MapStateStarted,
            Some(("mapStateStartedEventDetails", json!({"length": total}))),
        );
        if m.mode == Mode::Inline {
            let mut lasts = vec![started; total];
            let runs = inputs
                .into_iter()
                .zip(lasts.iter_mut())
                .enumerate()
                .map(|(i, (input, last))| {
                    let sem = sem.as_ref();
                    let graph = &m.processor;
                    async move {
                        let (r, l) = self.iteration(st, graph, i, input, sem, started).await;
                        *last = l;
                        r
                    }
                });
            let outcome = try_join_all(runs).await;
            th.last = lasts.iter().copied().max().unwrap_or(started).max(th.last);
            return match outcome {
                Ok(outputs) => {
                    self.record(th, EventType::MapStateSucceeded, None);
                    Ok(Value::Array(outputs))
                }
                Err(e) => {
                    self.record(th, EventType::MapStateFailed, None);
                    Err(e)
                }
            };
        }
        self.run_distributed(
            st,
            m,
            inputs,
            effective,
            ctx,
            th,
            started,
            sem.as_ref(),
            entered_id,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_distributed(
        &self,
        st: &State,
        m: &MapState,
        inputs: Vec<Value>,
        effective: Value,
        ctx: &Value,
        th: &mut Thread,
        started: u64,
        sem: Option<&Semaphore>,
        entered_id: u64,
    ) -> Result<Value, StatesError> {
        let site = |e: StatesError| self.at(st, entered_id, e);
        let total = inputs.len();
        let pct = resolve(
            &m.tolerated_percentage,
            "ToleratedFailurePercentagePath",
            &effective,
        )
        .map_err(site)?;
        let count = resolve(&m.tolerated_count, "ToleratedFailureCountPath", &effective).map_err(site)?;
        let exceeded = |failed: usize| -> bool {
            let by_count = count.map(|c| failed as f64 > c);
            let by_pct = pct.map(|p| failed as f64 * 100.0 > p * total as f64);
            match (by_count, by_pct) {
                (None, None) => failed > 0,
                (c, p) => c.unwrap_or(false) || p.unwrap_or(false),
            }
        };
        let run_arn = format!(
            "arn:aws:states:{}:{}:mapRun:{}/{}:{}",
            self.region,
            self.account,
            self.sm_name,
            m.label.as_deref().unwrap_or(&st.name),
            uuid::Uuid::new_v4()
        );
        self.record(
            th,
            EventType::MapRunStarted,
            Some(("mapRunStartedEventDetails", json!({"mapRunArn": run_arn}))),
        );
        let failures = AtomicUsize::new(0);
        let failures = &failures;
        let exceeded = &exceeded;
        let mut lasts = vec![started; total];
        let runs = inputs.into_iter().zip(lasts.iter_mut()).enumerate().map(|(i, (input, last))| {
            let graph = &m.processor;
            async move {
                let (r, l) = self.iteration(st, graph, i, input, sem, started).await;
                *last = l;
                match r {
                    Ok(v) => Ok(Ok(v)),
                    Err(e) => {
                        let failed = failures.fetch_add(1, Ordering::SeqCst) + 1;
                        if exceeded(failed) {
                            Err(StatesError::new(
                                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                                format!(
                                    "The specified tolerated failure threshold was exceeded: item {i} failed with {}",
                                    e.name().unwrap_or("an error")
                                ),
                            ))
                        } else {
                            Ok(Err(e))
                        }
                    }
                }
            }
        });
        let outcome = try_join_all(runs).await;
        th.last = lasts.iter().copied().max().unwrap_or(started).max(th.last);
        let results = match outcome {
            Ok(r) => r,
            Err(e) => {
                self.record(
                    th,
                    EventType::MapRunFailed,
                    Some(("mapRunFailedEventDetails", error_details(&e))),
                );
                self.record(th, EventType::MapStateFailed, None);
                return Err(e);
            }
        };
        let mut succeeded = Vec::new();
        let mut failed = Vec::new();
        let mut outputs = Vec::with_capacity(results.len());
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(v) => {
                    succeeded.push(v.clone());
                    outputs.push(v);
                }
                Err(e) => {
                    let mut o = e.to_output();
                    outputs.push(o.clone());
                    if let Some(obj) = o.as_object_mut() {
                        obj.insert("Index".into(), json!(i));
                    }
                    failed.push(o);
                }
            }
        }
        self.record(th, EventType::MapRunSucceeded, None);
        let result = match &m.writer {
            None => Value::Array(outputs),
            Some(w) => {
                let parameters = self
                    .eval_opt(w.parameters.as_ref(), &effective, ctx)
                    .map_err(site)?;
                let req = ResultWriterRequest {
                    resource: w.resource.clone(),
                    parameters,
                    writer_config: w.config.clone(),
                    map_run_arn: run_arn,
                    succeeded,
                    failed,
                };
                match self.rc.tasks.write_results(&req, &st.name).await {
                    Ok(v) => v,
                    Err(e) => {
                        self.record(th, EventType::MapStateFailed, None);
                        return Err(if e.error == names::RESULT_WRITER_FAILED {
                            StatesError::from(e)
                        } else {
                            StatesError::new(names::RESULT_WRITER_FAILED, format!("{}: {}", e.error, e.cause))
                        });
                    }
                }
            }
        };
        if size_within(&result, self.rc.payload_limit).is_none() {
            self.record(th, EventType::MapStateFailed, None);
            return Err(StatesError::new(
                names::DATA_LIMIT_EXCEEDED,
                "The Map state's result exceeds the payload size limit; use a ResultWriter",
            ));
        }
        self.record(th, EventType::MapStateSucceeded, None);
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batching_by_count_and_bytes() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let b = batches(items.clone(), Some(2), None, Some(&json!({"k": 1})));
        assert_eq!(
            b,
            vec![
                json!({"BatchInput": {"k": 1}, "Items": [0, 1]}),
                json!({"BatchInput": {"k": 1}, "Items": [2, 3]}),
                json!({"BatchInput": {"k": 1}, "Items": [4]})
            ]
        );
        let b = batches(items, None, Some(2), None);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0], json!({"Items": [0, 1]}));
    }
}
