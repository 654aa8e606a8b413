//! Execution history shaped like Step Functions' `GetExecutionHistory` events: `id`,
//! `previousEventId`, `timestamp`, `type` and one `<kind>EventDetails` object whose fields use the
//! API's names (`input`/`output` are JSON text, as the API returns them).

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::sync::Mutex;
use std::time::SystemTime;

/// Event types the executor records (names as in the Step Functions API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionTimedOut,
    PassStateEntered,
    PassStateExited,
    TaskStateEntered,
    TaskStateExited,
    ChoiceStateEntered,
    ChoiceStateExited,
    WaitStateEntered,
    WaitStateExited,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateExited,
    MapStateEntered,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateExited,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapRunStarted,
    MapRunSucceeded,
    MapRunFailed,
    TaskScheduled,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    LambdaFunctionScheduled,
    LambdaFunctionStarted,
    LambdaFunctionSucceeded,
    LambdaFunctionFailed,
    LambdaFunctionTimedOut,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        use EventType::*;
        match self {
            ExecutionStarted => "ExecutionStarted",
            ExecutionSucceeded => "ExecutionSucceeded",
            ExecutionFailed => "ExecutionFailed",
            ExecutionTimedOut => "ExecutionTimedOut",
            PassStateEntered => "PassStateEntered",
            PassStateExited => "PassStateExited",
            TaskStateEntered => "TaskStateEntered",
            TaskStateExited => "TaskStateExited",
            ChoiceStateEntered => "ChoiceStateEntered",
            ChoiceStateExited => "ChoiceStateExited",
            WaitStateEntered => "WaitStateEntered",
            WaitStateExited => "WaitStateExited",
            SucceedStateEntered => "SucceedStateEntered",
            SucceedStateExited => "SucceedStateExited",
            FailStateEntered => "FailStateEntered",
            ParallelStateEntered => "ParallelStateEntered",
            ParallelStateStarted => "ParallelStateStarted",
            ParallelStateSucceeded => "ParallelStateSucceeded",
            ParallelStateFailed => "ParallelStateFailed",
            ParallelStateExited => "ParallelStateExited",
            MapStateEntered => "MapStateEntered",
            MapStateStarted => "MapStateStarted",
            MapStateSucceeded => "MapStateSucceeded",
            MapStateFailed => "MapStateFailed",
            MapStateExited => "MapStateExited",
            MapIterationStarted => "MapIterationStarted",
            MapIterationSucceeded => "MapIterationSucceeded",
            MapIterationFailed => "MapIterationFailed",
            MapRunStarted => "MapRunStarted",
            MapRunSucceeded => "MapRunSucceeded",
            MapRunFailed => "MapRunFailed",
            TaskScheduled => "TaskScheduled",
            TaskStarted => "TaskStarted",
            TaskSubmitted => "TaskSubmitted",
            TaskSucceeded => "TaskSucceeded",
            TaskFailed => "TaskFailed",
            TaskTimedOut => "TaskTimedOut",
            LambdaFunctionScheduled => "LambdaFunctionScheduled",
            LambdaFunctionStarted => "LambdaFunctionStarted",
            LambdaFunctionSucceeded => "LambdaFunctionSucceeded",
            LambdaFunctionFailed => "LambdaFunctionFailed",
            LambdaFunctionTimedOut => "LambdaFunctionTimedOut",
        }
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// RFC 3339 with milliseconds (the CLI's rendering of the API's epoch timestamp).
    pub timestamp: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub id: u64,
    pub previous_event_id: u64,
    /// `{"<kind>EventDetails": {...}}` or empty.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl HistoryEvent {
    /// The single `...EventDetails` object, if any.
    pub fn detail(&self) -> Option<&Value> {
        self.details.values().next()
    }
}

/// Tracks `previousEventId` along one thread of control (the execution, a branch, an iteration).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thread {
    pub last: u64,
}

pub(crate) type Observer<'a> = &'a (dyn Fn(&HistoryEvent) + Send + Sync);

pub(crate) struct History<'a> {
    events: Mutex<Vec<HistoryEvent>>,
    observer: Option<Observer<'a>>,
}

impl<'a> History<'a> {
    pub fn new(observer: Option<Observer<'a>>) -> Self {
        History {
            events: Mutex::new(Vec::new()),
            observer,
        }
    }

    pub fn len(&self) -> usize {
        self.events.lock().map(|e| e.len()).unwrap_or(usize::MAX)
    }

    /// Appends an event and moves the thread forward; returns the new id.
    pub fn record(
        &self,
        thread: &mut Thread,
        now: SystemTime,
        event_type: EventType,
        details: Option<(&str, Value)>,
    ) -> u64 {
        let mut map = Map::new();
        if let Some((k, v)) = details {
            map.insert(k.to_string(), v);
        }
        let Ok(mut events) = self.events.lock() else {
            return thread.last;
        };
        let id = events.len() as u64 + 1;
        let event = HistoryEvent {
            timestamp: crate::time::format_rfc3339(now),
            event_type,
            id,
            previous_event_id: thread.last,
            details: map,
        };
        if let Some(obs) = self.observer {
            obs(&event);
        }
        events.push(event);
        thread.last = id;
        id
    }

    pub fn into_events(self) -> Vec<HistoryEvent> {
        self.events.into_inner().unwrap_or_default()
    }
}

/// JSON text for `input`/`output` fields, as the API returns them.
pub(crate) fn text(v: &Value) -> Value {
    Value::String(serde_json::to_string(v).unwrap_or_default())
}

pub(crate) fn payload(key: &str, v: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(key.to_string(), text(v));
    m.insert(format!("{key}Details"), serde_json::json!({"truncated": false}));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_chain_and_serialize_like_the_api() {
        let h = History::new(None);
        let mut t = Thread { last: 0 };
        let now = SystemTime::UNIX_EPOCH;
        h.record(
            &mut t,
            now,
            EventType::ExecutionStarted,
            Some(("executionStartedEventDetails", json!({"input": "{}"}))),
        );
        h.record(&mut t, now, EventType::PassStateEntered, None);
        let ev = h.into_events();
        assert_eq!(ev[1].previous_event_id, 1);
        let v = serde_json::to_value(&ev[0]).unwrap();
        assert_eq!(
            v,
            json!({"timestamp": "1970-01-01T00:00:00.000Z", "type": "ExecutionStarted", "id": 1,
                   "previousEventId": 0, "executionStartedEventDetails": {"input": "{}"}})
        );
    }
}
