//! greenpipe's local Step Functions executor: loads an Amazon States Language definition
//! (JSONPath query language) and runs it in-process.
//!
//! ```no_run
//! # async fn demo() -> Result<(), greenpipe_statemachine::LoadError> {
//! use greenpipe_statemachine::{load, NoTasks, RunContext};
//! use std::sync::Arc;
//! let sm = load(r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#)?;
//! let ctx = RunContext::new(Arc::new(NoTasks)).fast();
//! let execution = sm.run(serde_json::json!({"x": 1}), &ctx).await;
//! assert!(execution.succeeded());
//! # Ok(()) }
//! ```
//!
//! Task resources and Distributed Map item readers are supplied by the caller through
//! [`TaskRunner`]; time through [`Clock`] ([`FastClock`] makes waits instant).

mod choice;
pub mod error;
mod executor;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz_targets;
pub mod history;
mod intrinsics;
mod load;
pub mod paths;
mod rng;
mod states;
mod template;
pub mod time;

pub use error::{names, LoadError, Problem, TaskError};
pub use executor::{
    Clock, Execution, ExecutionStatus, FastClock, ItemReaderRequest, NoTasks, ResultWriterRequest,
    RunContext, SystemClock, TaskRunner, DEFAULT_MAX_EVENTS, DEFAULT_PAYLOAD_LIMIT,
};
pub use history::{EventType, HistoryEvent};
pub use intrinsics::Intrinsic;
pub use load::{load, load_value, substitute};
pub use paths::Path;
pub use template::Template;

/// Re-exported so callers can implement [`TaskRunner`] and [`Clock`] with `#[async_trait]`.
pub use async_trait::async_trait;

/// A loaded, validated state machine.
#[derive(Debug)]
pub struct StateMachine {
    pub(crate) root: states::Graph,
    pub(crate) timeout_seconds: Option<u64>,
    pub(crate) comment: Option<String>,
    pub(crate) warnings: Vec<Problem>,
}

impl StateMachine {
    /// Non-fatal findings, such as states that cannot be reached.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// Every state, as `(nesting chain, type)`, e.g. `("Fan/Branches[0]/Work", "Task")`.
    pub fn states(&self) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        walk(&self.root, "", &mut |loc, st| {
            out.push((loc.to_string(), st.kind.type_name()))
        });
        out.sort();
        out
    }

    /// Every Task state's resource, as `(nesting chain, resource ARN)`.
    pub fn task_resources(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        walk(&self.root, "", &mut |loc, st| {
            if let states::Kind::Task(t) = &st.kind {
                out.push((loc.to_string(), t.resource.clone()));
            }
        });
        out.sort();
        out
    }

    /// Every error name the definition matches in a Retry or Catch `ErrorEquals`.
    pub fn matched_error_names(&self) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        walk(&self.root, "", &mut |_, st| {
            for r in &st.retry {
                out.extend(r.error_equals.iter().cloned());
            }
            for c in &st.catch {
                out.extend(c.error_equals.iter().cloned());
            }
        });
        out
    }
}

fn walk(g: &states::Graph, prefix: &str, f: &mut dyn FnMut(&str, &states::State)) {
    for (name, st) in &g.states {
        let loc = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        f(&loc, st);
        match &st.kind {
            states::Kind::Parallel(p) => {
                for (i, b) in p.branches.iter().enumerate() {
                    walk(b, &format!("{loc}/Branches[{i}]"), f);
                }
            }
            states::Kind::Map(m) => walk(m.processor(), &format!("{loc}/ItemProcessor"), f),
            _ => {}
        }
    }
}
