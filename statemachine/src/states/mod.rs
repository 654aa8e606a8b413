//! The state model: fields every state shares (paths, Retry, Catch, transitions) and one module
//! per state type with its loading and running.

pub(crate) mod choice;
pub(crate) mod fail;
pub(crate) mod map;
pub(crate) mod parallel;
pub(crate) mod pass;
pub(crate) mod task;
pub(crate) mod wait;

use crate::paths::Path;
use crate::template::Template;
use std::collections::HashMap;

/// `StartAt` + `States`: the top level, a Parallel branch, or a Map's item processor.
#[derive(Debug)]
pub(crate) struct Graph {
    pub start_at: String,
    pub states: HashMap<String, State>,
}

/// InputPath / OutputPath: absent means `$`, `null` means `{}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PathField {
    Root,
    Null,
    Path(Path),
}

/// ResultPath (state or catcher): absent means `$`, `null` discards the result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResultPath {
    Root,
    Discard,
    Path(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Transition {
    Next(String),
    End,
    /// Choice, Succeed and Fail decide for themselves.
    Own,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Jitter {
    None,
    Full,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub jitter: Jitter,
}

impl Retrier {
    /// Delay before retry number `attempt + 1` (attempt counts from 0).
    pub fn delay_seconds(&self, attempt: u64, unit_random: f64) -> f64 {
        let exp = i32::try_from(attempt).unwrap_or(i32::MAX);
        let mut d = self.interval_seconds * self.backoff_rate.powi(exp);
        if !d.is_finite() {
            d = f64::MAX;
        }
        if let Some(max) = self.max_delay_seconds {
            d = d.min(max);
        }
        // Keep sleeps representable (a year at most) whatever the definition says.
        d = d.min(31_622_400.0);
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => d * unit_random,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: ResultPath,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Pass(pass::Pass),
    Task(task::Task),
    Choice(choice::ChoiceState),
    Wait(wait::Wait),
    Succeed,
    Fail(fail::Fail),
    Parallel(parallel::Parallel),
    Map(Box<map::MapState>),
}

impl Kind {
    /// The prefix of this type's history events (`Pass` → `PassStateEntered`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Pass(_) => "Pass",
            Kind::Task(_) => "Task",
            Kind::Choice(_) => "Choice",
            Kind::Wait(_) => "Wait",
            Kind::Succeed => "Succeed",
            Kind::Fail(_) => "Fail",
            Kind::Parallel(_) => "Parallel",
            Kind::Map(_) => "Map",
        }
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub name: String,
    pub kind: Kind,
    pub input_path: PathField,
    pub output_path: PathField,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub transition: Transition,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_back_off_cap_and_jitter() {
        let r = Retrier {
            error_equals: vec![],
            interval_seconds: 3.0,
            max_attempts: 4,
            backoff_rate: 1.5,
            max_delay_seconds: Some(8.0),
            jitter: Jitter::None,
        };
        let d: Vec<f64> = (0..4).map(|i| r.delay_seconds(i, 0.5)).collect();
        assert_eq!(d, vec![3.0, 4.5, 6.75, 8.0]);
        let full = Retrier {
            jitter: Jitter::Full,
            ..r
        };
        assert_eq!(full.delay_seconds(1, 0.5), 2.25);
        let huge = Retrier {
            backoff_rate: 1e300,
            max_delay_seconds: None,
            ..full
        };
        assert!(huge.delay_seconds(10, 1.0) <= 31_622_400.0);
    }
}
