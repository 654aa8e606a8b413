//! What the `asl` fuzz target in `fuzz/` does with its input, here so that the normal test suite
//! replays the committed corpus through the same code on stable (`replay_committed_corpus`): the
//! loader, then, for a definition that loads, a run with a fast clock and a bounded history (JSONPath,
//! intrinsic functions, Choice rules, Map and Parallel, Retry and Catch on the way). Every run must end
//! (the history bound stops any loop), and a succeeded one must have an output. docs/fuzzing.md has
//! the runs.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::{load, ExecutionStatus, NoTasks, RunContext};

/// History events a fuzzed run may record before it fails with `States.Runtime`.
const MAX_EVENTS: usize = 300;

/// `asl`: a definition's text.
pub fn asl(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(machine) = load(text) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    let mut ctx = RunContext::new(Arc::new(NoTasks)).fast();
    ctx.max_events = MAX_EVENTS;
    let input = json!({"a": 1, "b": [1, 2, {"c": "x"}], "s": "text", "n": null});
    let execution = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), machine.run(input, &ctx)).await })
        .unwrap_or_else(|_| panic!("the run did not end: {text}"));
    // A Fail state may leave out its error; a succeeded run always has an output.
    if execution.status == ExecutionStatus::Succeeded {
        assert!(
            execution.output.is_some(),
            "a succeeded run without an output: {text}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every file of `fuzz/corpus/asl/` through [`super::asl`].
    #[test]
    fn replay_committed_corpus() {
        // The checkout the test runs in (cargo sets the variable at run time too): a test binary reused
        // from a build in another checkout keeps the compile-time path of that one.
        let manifest =
            std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
        let dir = Path::new(&manifest).join("../fuzz/corpus/asl");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            super::asl(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "an empty corpus");
    }
}
