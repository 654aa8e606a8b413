//! A training job's use of its instances, from the metrics SageMaker publishes for it in CloudWatch
//! (`/aws/sagemaker/TrainingJobs`, one series per host `<job>/algo-<n>`): which series to ask for
//! ([`queries`]), over which window ([`window`]), and the summary of the answer ([`summarise`]) that
//! goes beside the last-trained marker for plan-training to size the next job from. Pure: report-run's
//! handler sends the one GetMetricData request.

use std::collections::HashMap;

use serde_json::Value;

use super::run_report::timestamp_ms;
use crate::footprint::coefficients;
use crate::pipeline::{InstanceUse, Usage, Utilisation};

pub const NAMESPACE: &str = "/aws/sagemaker/TrainingJobs";
/// The instance metrics SageMaker publishes for training jobs. CPU, GPU and GPU memory are summed over
/// cores and devices (0–100 % each); memory is already a share of the instance.
pub const METRICS: [&str; 4] = [
    "CPUUtilization",
    "MemoryUtilization",
    "GPUUtilization",
    "GPUMemoryUtilization",
];
/// The data points SageMaker publishes: one a minute.
pub const PERIOD_SECONDS: i32 = 60;
/// GetMetricData takes at most 500 queries; 8 per host.
const MAX_HOSTS: u32 = 50;

/// One series to read: `stat` of `metric` on `host`, under the query `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub id: String,
    pub metric: &'static str,
    pub host: String,
    /// `Average` (for the mean) or `Maximum` (for the peak) of each minute.
    pub stat: &'static str,
}

/// Every host's series for `job` on `instance_count` instances (at most 50 hosts).
pub fn queries(job: &str, instance_count: u32) -> Vec<Query> {
    let mut out = Vec::new();
    for n in 1..=instance_count.clamp(1, MAX_HOSTS) {
        for (m, metric) in METRICS.iter().enumerate() {
            for stat in ["Average", "Maximum"] {
                out.push(Query {
                    id: format!("h{n}m{m}{}", &stat[..3].to_ascii_lowercase()),
                    metric,
                    host: format!("{job}/algo-{n}"),
                    stat,
                });
            }
        }
    }
    out
}

/// The job's training window from its description (Unix ms), widened to whole minutes.
pub fn window(desc: &Value) -> Option<(i64, i64)> {
    let start = desc.get("TrainingStartTime").and_then(timestamp_ms)?;
    let end = desc.get("TrainingEndTime").and_then(timestamp_ms)?;
    (end >= start).then(|| {
        (
            start - start.rem_euclid(60_000),
            end - end.rem_euclid(60_000) + 60_000,
        )
    })
}

/// The summary of the series that came back (`values` by query id), or `None` when there are none
/// (an emulator, a job too short to be sampled). CPU and GPU need the instance's vCPUs and GPUs from
/// the footprint table; for a type it lacks they are left out.
pub fn summarise(
    instance_type: &str,
    instance_count: u32,
    data_bytes: u64,
    queries: &[Query],
    values: &HashMap<String, Vec<f64>>,
) -> Option<Utilisation> {
    let table = coefficients()
        .ok()
        .and_then(|c| c.instance_type(instance_type).ok());
    let per_instance = |metric: &str| -> Option<f64> {
        match metric {
            "MemoryUtilization" => Some(1.0),
            "CPUUtilization" => table.map(|t| f64::from(t.vcpus)),
            _ => table.and_then(|t| t.gpu.as_ref()).map(|g| f64::from(g.count)),
        }
    };
    let mut samples = 0u64;
    let mut usage = |metric: &'static str| -> Option<Usage> {
        let divisor = per_instance(metric).filter(|d| *d > 0.0)?;
        let series = |stat: &str| -> Vec<f64> {
            queries
                .iter()
                .filter(|q| q.metric == metric && q.stat == stat)
                .filter_map(|q| values.get(&q.id))
                .flatten()
                .copied()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .collect()
        };
        let averages = series("Average");
        let peaks = series("Maximum");
        if averages.is_empty() {
            return None;
        }
        samples = samples.max(averages.len() as u64);
        let mean = averages.iter().sum::<f64>() / averages.len() as f64;
        let peak = peaks.iter().chain(&averages).copied().fold(0.0, f64::max);
        Some(Usage {
            average: (mean / divisor).min(100.0),
            peak: (peak / divisor).min(100.0),
        })
    };
    let cpu = usage("CPUUtilization");
    let memory = usage("MemoryUtilization");
    let gpu = usage("GPUUtilization");
    let gpu_memory = usage("GPUMemoryUtilization");
    (cpu.is_some() || memory.is_some() || gpu.is_some()).then(|| Utilisation {
        instance_type: instance_type.to_string(),
        instance_count,
        data_bytes,
        used: InstanceUse { cpu, memory, gpu },
        gpu_memory,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_cover_every_host_metric_and_statistic_with_valid_ids() {
        let q = queries("sales-ab", 2);
        assert_eq!(q.len(), 2 * 4 * 2);
        assert!(q
            .iter()
            .any(|q| q.host == "sales-ab/algo-2" && q.metric == "GPUUtilization"));
        // GetMetricData ids: a lower-case letter, then letters, digits and underscores; unique.
        let ids: std::collections::BTreeSet<&str> = q.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids.len(), q.len());
        assert!(ids
            .iter()
            .all(|id| id.starts_with(|c: char| c.is_ascii_lowercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')));
        assert_eq!(queries("j", 500).len(), 50 * 8);
    }

    #[test]
    fn sums_over_cores_become_shares_of_the_instance() {
        // ml.m5.xlarge: 4 vCPUs. Two hosts; CPU summed over cores (0–400 %).
        let q = queries("j", 2);
        let id = |host: u32, metric: &str, stat: &str| {
            q.iter()
                .find(|x| x.host == format!("j/algo-{host}") && x.metric == metric && x.stat == stat)
                .unwrap()
                .id
                .clone()
        };
        let values = HashMap::from([
            (id(1, "CPUUtilization", "Average"), vec![80.0, 120.0]),
            (id(2, "CPUUtilization", "Average"), vec![100.0, 100.0]),
            (id(1, "CPUUtilization", "Maximum"), vec![150.0, 200.0]),
            (id(1, "MemoryUtilization", "Average"), vec![20.0, 30.0]),
            (id(1, "MemoryUtilization", "Maximum"), vec![35.0, 31.0]),
        ]);
        let u = summarise("ml.m5.xlarge", 2, 1000, &q, &values).unwrap();
        // CPU: mean of 80, 120, 100, 100 = 100 % of a core = 25 % of 4 vCPUs; peak 200 / 4 = 50 %.
        assert_eq!(
            u.used.cpu,
            Some(Usage {
                average: 25.0,
                peak: 50.0
            })
        );
        assert_eq!(
            u.used.memory,
            Some(Usage {
                average: 25.0,
                peak: 35.0
            })
        );
        assert_eq!((u.used.gpu, u.gpu_memory, u.samples), (None, None, 4));
        // Nothing came back (an emulator): no summary.
        assert!(summarise("ml.m5.xlarge", 1, 0, &q, &HashMap::new()).is_none());
        // A type the table lacks: memory only.
        let u = summarise("ml.m7i.xlarge", 2, 1000, &q, &values).unwrap();
        assert!(u.used.cpu.is_none() && u.used.memory.is_some());
    }

    #[test]
    fn the_window_is_whole_minutes_around_the_job() {
        let d = json!({"TrainingStartTime": 1_795_390_030_000i64, "TrainingEndTime": 1_795_390_610_000i64});
        assert_eq!(window(&d), Some((1_795_390_020_000, 1_795_390_620_000)));
        assert_eq!(window(&json!({})), None);
    }
}
