//! Errors: definition problems found at load time, task failures reported by callers, and the
//! runtime errors of the States Language (`States.*` names).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Error names the interpreter raises or matches (States Language appendix A plus AWS additions).
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const PERMISSIONS: &str = "States.Permissions";

    /// Every predefined name, for callers that check `ErrorEquals` lists.
    pub const PREDEFINED: &[&str] = &[
        ALL,
        TASK_FAILED,
        TIMEOUT,
        HEARTBEAT_TIMEOUT,
        RUNTIME,
        DATA_LIMIT_EXCEEDED,
        RESULT_PATH_MATCH_FAILURE,
        PARAMETER_PATH_FAILURE,
        BRANCH_FAILED,
        NO_CHOICE_MATCHED,
        INTRINSIC_FAILURE,
        EXCEED_TOLERATED_FAILURE_THRESHOLD,
        ITEM_READER_FAILED,
        RESULT_WRITER_FAILED,
        PERMISSIONS,
    ];
}

/// One problem in a definition. `state` is the nesting chain, e.g. `Fan/Branches[0]/Work`; `field`
/// is the field of that state (or of the top level when `state` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub state: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.state, &self.field) {
            (Some(s), Some(fl)) => write!(f, "state '{s}', field '{fl}': {}", self.message),
            (Some(s), None) => write!(f, "state '{s}': {}", self.message),
            (None, Some(fl)) => write!(f, "field '{fl}': {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// A definition that cannot be loaded. Holds every problem found (at least one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// A failure reported by a [`crate::TaskRunner`]: the error name that Retry/Catch match on and a
/// human-readable cause (Lambda puts its JSON error object here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskError {
    pub error: String,
    pub cause: String,
}

impl TaskError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskError {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// A runtime error inside an execution. `error` is `None` only for a Fail state without `Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatesError {
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl StatesError {
    pub fn new(error: &str, cause: impl Into<String>) -> Self {
        StatesError {
            error: Some(error.to_string()),
            cause: Some(cause.into()),
        }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    pub fn name(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Runtime errors always fail the execution: no retrier or catcher matches them.
    pub fn is_uncatchable(&self) -> bool {
        self.name() == Some(names::RUNTIME)
    }

    /// Does an `ErrorEquals` list match this error? `States.ALL` matches anything catchable
    /// except `States.DataLimitExceeded` (which must be named); `States.TaskFailed` matches
    /// anything except `States.Timeout` (AWS's documented wildcard behaviour).
    pub fn matches(&self, error_equals: &[String]) -> bool {
        if self.is_uncatchable() {
            return false;
        }
        let name = self.name();
        error_equals.iter().any(|e| match e.as_str() {
            names::ALL => name != Some(names::DATA_LIMIT_EXCEEDED),
            names::TASK_FAILED => {
                name != Some(names::TIMEOUT)
                    && name != Some(names::HEARTBEAT_TIMEOUT)
                    && name != Some(names::DATA_LIMIT_EXCEEDED)
            }
            // A heartbeat timeout is a kind of timeout.
            names::TIMEOUT => name == Some(names::TIMEOUT) || name == Some(names::HEARTBEAT_TIMEOUT),
            other => name == Some(other),
        })
    }

    /// The Error Output a Catcher passes on: `{"Error": ..., "Cause": ...}`.
    pub fn to_output(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if let Some(e) = &self.error {
            m.insert("Error".into(), serde_json::Value::String(e.clone()));
        }
        if let Some(c) = &self.cause {
            m.insert("Cause".into(), serde_json::Value::String(c.clone()));
        }
        serde_json::Value::Object(m)
    }
}

impl From<TaskError> for StatesError {
    fn from(e: TaskError) -> Self {
        StatesError {
            error: Some(e.error),
            cause: Some(e.cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn all_matches_custom_but_not_runtime_or_data_limit() {
        assert!(StatesError::new("Custom", "x").matches(&v(&["States.ALL"])));
        assert!(!StatesError::runtime("x").matches(&v(&["States.ALL"])));
        assert!(!StatesError::runtime("x").matches(&v(&["States.Runtime"])));
        let dl = StatesError::new(names::DATA_LIMIT_EXCEEDED, "x");
        assert!(!dl.matches(&v(&["States.ALL"])));
        assert!(dl.matches(&v(&["States.DataLimitExceeded"])));
    }

    #[test]
    fn task_failed_is_a_wildcard_except_timeout() {
        assert!(StatesError::new("Lambda.Unknown", "x").matches(&v(&["States.TaskFailed"])));
        assert!(!StatesError::new("States.Timeout", "x").matches(&v(&["States.TaskFailed"])));
        assert!(StatesError::new("States.Timeout", "x").matches(&v(&["States.Timeout"])));
    }

    #[test]
    fn error_output_shape() {
        let e = StatesError {
            error: Some("E".into()),
            cause: None,
        };
        assert_eq!(e.to_output(), serde_json::json!({"Error": "E"}));
    }

    #[test]
    fn problem_display_names_state_and_field() {
        let p = Problem {
            state: Some("A".into()),
            field: Some("Next".into()),
            message: "m".into(),
        };
        assert_eq!(p.to_string(), "state 'A', field 'Next': m");
    }
}
