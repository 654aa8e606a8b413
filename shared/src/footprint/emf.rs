//! CloudWatch Embedded Metric Format (EMF) lines: one JSON object per log line that CloudWatch Logs turns
//! into metrics, so reports cost no extra API calls. Spec:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>
//!
//! ```json
//! {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"greenpipe",
//!   "Dimensions":[["Pipeline","Stage"]],"Metrics":[{"Name":"CostUSD","Unit":"None"}]}]},
//!  "Pipeline":"orders","Stage":"validate","CostUSD":0.0012}
//! ```
//!
//! CloudWatch has no currency, energy, mass or hour units, so those metrics use `None` and carry their
//! unit in the name (`CostUSD`, `EnergyKWh`, `EmissionsKgCO2e`, `InstanceHours`).

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::{Footprint, FootprintError};

/// Namespace of greenpipe's metrics.
pub const NAMESPACE: &str = "greenpipe";
pub const METRIC_COST: &str = "CostUSD";
pub const METRIC_ENERGY: &str = "EnergyKWh";
pub const METRIC_CARBON: &str = "EmissionsKgCO2e";
pub const METRIC_INSTANCE_HOURS: &str = "InstanceHours";
/// The hardware's manufacturing share (instances only; sent only when not zero).
pub const METRIC_EMBODIED: &str = "EmbodiedKgCO2e";

// Limits from the EMF specification and CloudWatch's PutMetricData.
const MAX_DIMENSIONS: usize = 30;
const MAX_METRICS: usize = 100;
const MAX_NAME_LEN: usize = 255;
const MAX_DIMENSION_VALUE_LEN: usize = 1024;

/// CloudWatch units greenpipe uses (a subset of the standard unit list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmfUnit {
    None,
    Count,
    Seconds,
    Milliseconds,
    Bytes,
    Percent,
}

impl EmfUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            EmfUnit::None => "None",
            EmfUnit::Count => "Count",
            EmfUnit::Seconds => "Seconds",
            EmfUnit::Milliseconds => "Milliseconds",
            EmfUnit::Bytes => "Bytes",
            EmfUnit::Percent => "Percent",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmfMetric<'a> {
    pub name: &'a str,
    pub value: f64,
    pub unit: EmfUnit,
}

/// Milliseconds since the Unix epoch, for EMF's `Timestamp`.
pub fn unix_millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Renders one EMF line (no trailing newline): one metric directive with one dimension set holding every
/// dimension key. Rejects what CloudWatch would drop: bad names, non-finite values, too many dimensions
/// or metrics, a metric named like a dimension.
pub fn emf_line(
    namespace: &str,
    dimensions: &[(&str, &str)],
    metrics: &[EmfMetric<'_>],
    timestamp_ms: u64,
) -> Result<String, FootprintError> {
    let bad = |m: String| Err(FootprintError::Emf(m));
    if namespace.is_empty() || namespace.len() > MAX_NAME_LEN || namespace.starts_with("AWS/") {
        return bad(format!("invalid namespace {namespace:?}"));
    }
    if dimensions.len() > MAX_DIMENSIONS {
        return bad(format!(
            "{} dimensions, at most {MAX_DIMENSIONS}",
            dimensions.len()
        ));
    }
    if metrics.is_empty() || metrics.len() > MAX_METRICS {
        return bad(format!("{} metrics, need 1..={MAX_METRICS}", metrics.len()));
    }

    let mut root = Map::new();
    let mut keys = BTreeSet::from(["_aws"]);
    for (key, value) in dimensions {
        if !valid_name(key) || !valid_dimension_value(value) {
            return bad(format!("invalid dimension {key:?}={value:?}"));
        }
        if !keys.insert(key) {
            return bad(format!("duplicate member {key:?}"));
        }
        root.insert((*key).to_string(), Value::from(*value));
    }
    let mut definitions = Vec::with_capacity(metrics.len());
    for m in metrics {
        if !valid_name(m.name) || !m.value.is_finite() {
            return bad(format!("invalid metric {:?}={}", m.name, m.value));
        }
        if !keys.insert(m.name) {
            return bad(format!("duplicate member {:?}", m.name));
        }
        root.insert(m.name.to_string(), Value::from(m.value));
        definitions.push(json!({ "Name": m.name, "Unit": m.unit.as_str() }));
    }
    let dimension_set: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimension_set],
                "Metrics": definitions,
            }],
        }),
    );
    Ok(Value::Object(root).to_string())
}

/// The footprint as an EMF line in the `greenpipe` namespace: `{prefix}CostUSD`, `{prefix}EnergyKWh`,
/// `{prefix}EmissionsKgCO2e` and, when given, `{prefix}InstanceHours` (all unit `None`). A run report
/// uses an empty prefix; cleanup uses e.g. `AvoidedPerDay`.
pub fn footprint_emf_line(
    prefix: &str,
    dimensions: &[(&str, &str)],
    footprint: &Footprint,
    instance_hours: Option<f64>,
    timestamp_ms: u64,
) -> Result<String, FootprintError> {
    let names = [
        METRIC_COST,
        METRIC_ENERGY,
        METRIC_CARBON,
        METRIC_INSTANCE_HOURS,
        METRIC_EMBODIED,
    ]
    .map(|n| format!("{prefix}{n}"));
    let mut metrics = vec![
        EmfMetric {
            name: &names[0],
            value: footprint.usd,
            unit: EmfUnit::None,
        },
        EmfMetric {
            name: &names[1],
            value: footprint.kwh,
            unit: EmfUnit::None,
        },
        EmfMetric {
            name: &names[2],
            value: footprint.kg_co2e,
            unit: EmfUnit::None,
        },
    ];
    if footprint.embodied_kg_co2e > 0.0 {
        metrics.push(EmfMetric {
            name: &names[4],
            value: footprint.embodied_kg_co2e,
            unit: EmfUnit::None,
        });
    }
    if let Some(hours) = instance_hours {
        metrics.push(EmfMetric {
            name: &names[3],
            value: hours,
            unit: EmfUnit::None,
        });
    }
    emf_line(NAMESPACE, dimensions, &metrics, timestamp_ms)
}

/// CloudWatch names: 1..=255 ASCII characters, no control characters, not only whitespace, not
/// starting with ':'.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && !s.starts_with(':')
        && s.bytes().all(|b| b.is_ascii() && !b.is_ascii_control())
        && !s.trim().is_empty()
}

fn valid_dimension_value(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_DIMENSION_VALUE_LEN
        && s.bytes().all(|b| b.is_ascii() && !b.is_ascii_control())
        && !s.trim().is_empty()
}
