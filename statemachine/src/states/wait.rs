//! Wait: for `Seconds`/`SecondsPath`, or until `Timestamp`/`TimestampPath`, through the clock.

use crate::error::StatesError;
use crate::load::F;
use crate::paths::Path;
use crate::time::{self, EpochNanos};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// Longest wait accepted (a year, AWS's maximum execution duration).
const MAX_WAIT_SECS: u64 = 31_622_400;

#[derive(Debug)]
pub(crate) enum Wait {
    Seconds(u64),
    SecondsPath(Path),
    Timestamp(EpochNanos),
    TimestampPath(Path),
}

pub(crate) fn parse(f: &mut F<'_>) -> Option<Wait> {
    let given: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
        .into_iter()
        .filter(|k| f.has(k))
        .collect();
    if given.len() != 1 {
        f.err(
            "Seconds",
            "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
        );
        return None;
    }
    match given[0] {
        "Seconds" => f.uint("Seconds", 0, 99_999_999).map(Wait::Seconds),
        "SecondsPath" => f.ref_path("SecondsPath").map(Wait::SecondsPath),
        "Timestamp" => {
            let s = f.string("Timestamp")?;
            match time::parse(&s) {
                Some(t) => Some(Wait::Timestamp(t)),
                None => {
                    f.err(
                        "Timestamp",
                        format!("'{s}' is not an RFC 3339 timestamp such as 2016-03-14T01:59:00Z"),
                    );
                    None
                }
            }
        }
        _ => f.ref_path("TimestampPath").map(Wait::TimestampPath),
    }
}

impl Wait {
    pub(crate) fn duration(&self, input: &Value, now: SystemTime) -> Result<Duration, StatesError> {
        let missing = |p: &Path| {
            StatesError::runtime(format!(
                "The JSONPath '{}' specified for the field '{}' could not be found in the input '{}'",
                p.text(),
                if matches!(self, Wait::SecondsPath(_)) {
                    "SecondsPath"
                } else {
                    "TimestampPath"
                },
                crate::template::compact(input)
            ))
        };
        let secs = match self {
            Wait::Seconds(s) => *s,
            Wait::SecondsPath(p) => {
                let v = p.eval(input, &Value::Null).ok_or_else(|| missing(p))?;
                v.as_u64().ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The SecondsPath parameter does not reference a valid non-negative integer: {v}"
                    ))
                })?
            }
            Wait::Timestamp(t) => return Ok(time::until(now, *t).min(Duration::from_secs(MAX_WAIT_SECS))),
            Wait::TimestampPath(p) => {
                let v = p.eval(input, &Value::Null).ok_or_else(|| missing(p))?;
                let t = v.as_str().and_then(time::parse).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {v}"
                    ))
                })?;
                return Ok(time::until(now, t).min(Duration::from_secs(MAX_WAIT_SECS)));
            }
        };
        Ok(Duration::from_secs(secs.min(MAX_WAIT_SECS)))
    }
}
