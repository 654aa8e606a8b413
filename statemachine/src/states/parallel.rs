//! Parallel: runs every branch on the same input concurrently; the result is the array of branch
//! outputs. The first branch to fail stops the others and its error becomes the state's.

use crate::error::StatesError;
use crate::executor::Exec;
use crate::history::{EventType, Thread};
use crate::load::F;
use crate::states::Graph;
use futures_util::future::try_join_all;
use serde_json::Value;

#[derive(Debug)]
pub(crate) struct Parallel {
    pub branches: Vec<Graph>,
}

pub(crate) fn parse(f: &mut F<'_>) -> Option<Parallel> {
    let Some(list) = f.get("Branches").and_then(Value::as_array).cloned() else {
        f.err("Branches", "is required and must be a non-empty array");
        return None;
    };
    if list.is_empty() {
        f.err("Branches", "must contain at least one branch");
        return None;
    }
    let mut branches = Vec::new();
    let mut ok = true;
    for (i, b) in list.iter().enumerate() {
        let Some(o) = b.as_object() else {
            f.err(
                "Branches",
                format!("[{i}] must be an object with StartAt and States"),
            );
            ok = false;
            continue;
        };
        for k in o.keys() {
            if !matches!(k.as_str(), "StartAt" | "States" | "Comment" | "QueryLanguage") {
                f.err("Branches", format!("[{i}]: unsupported field '{k}'"));
            }
        }
        match f.graph(format!("Branches[{i}]"), o) {
            Some(g) => branches.push(g),
            None => ok = false,
        }
    }
    ok.then_some(Parallel { branches })
}

impl Exec<'_> {
    pub(crate) async fn run_parallel(
        &self,
        p: &Parallel,
        input: Value,
        th: &mut Thread,
    ) -> Result<Value, StatesError> {
        let started = self.record(th, EventType::ParallelStateStarted, None);
        let mut threads = vec![Thread { last: started }; p.branches.len()];
        let runs = threads
            .iter_mut()
            .zip(&p.branches)
            .map(|(bt, g)| self.run_graph(g, input.clone(), bt));
        let outcome = try_join_all(runs).await;
        th.last = threads
            .iter()
            .map(|t| t.last)
            .max()
            .unwrap_or(started)
            .max(th.last);
        match outcome {
            Ok(outputs) => {
                self.record(th, EventType::ParallelStateSucceeded, None);
                Ok(Value::Array(outputs))
            }
            Err(e) => {
                self.record(th, EventType::ParallelStateFailed, None);
                Err(e)
            }
        }
    }
}
