//! Right-sizing: the instance type for a training or transform job when the contract names none, from
//! the size of the data.
//!
//! The data's working set is estimated from the object's size: compressed and columnar objects expand
//! when read (gzip ×4, zstd ×5, Parquet ×3; a rough, conservative ratio for tabular data). Training loads
//! the data into memory, so the training table picks the smallest general-purpose type with at least
//! twice the working set in memory; batch transform streams mini-batches, so its table grows with the
//! amount of work instead:
//!
//! | working set   | training        | memory  | transform      |
//! |---------------|-----------------|---------|----------------|
//! | ≤ 1 GiB       | ml.m5.large     | 8 GiB   | ml.m5.large    |
//! | ≤ 4 GiB       | ml.m5.xlarge    | 16 GiB  | ml.m5.large    |
//! | ≤ 12 GiB      | ml.m5.2xlarge   | 32 GiB  | ml.m5.xlarge   |
//! | ≤ 24 GiB      | ml.m5.4xlarge   | 64 GiB  | ml.m5.xlarge   |
//! | ≤ 48 GiB      | ml.r5.4xlarge   | 128 GiB | ml.m5.2xlarge  |
//! | more          | ml.r5.4xlarge   | 128 GiB | ml.m5.4xlarge  |
//!
//! Above 48 GiB the planner still picks `ml.r5.4xlarge` and says so: data that size wants an explicit
//! `instance_type` / `instance_count` (distributed training depends on the algorithm).
//!
//! The table is a first guess. Once a job has run, its measured use of the instance decides instead
//! ([`from_evidence`]): the last run's peak memory, scaled by the size of this data against that data,
//! should fill at most 70 % of the next instance, so the next job gets the smallest row that holds it
//! (down from the last job's type when it was under-used, up when it ran near full), whatever the table
//! alone would say. CPU-bound jobs (peak CPU at 80 % or more) are not moved to fewer vCPUs; GPU jobs and
//! types outside the table (a contract's own choice) are left to the table.
//!
//! No Graviton rows: SageMaker training and batch transform do not offer Graviton instances (the
//! `TrainingInstanceType` and `TransformInstanceType` enums of the SageMaker API list none; Graviton is
//! available for real-time endpoints only). Every type here is in the footprint coefficient table, so
//! every planned job can be costed.

use crate::contract::{Compression, FormatSpec};
use crate::footprint::coefficients;
use crate::pipeline::Utilisation;

const GIB: f64 = (1u64 << 30) as f64;

/// Training: (largest working set in GiB, instance type). The last row takes anything larger.
const TRAINING: &[(f64, &str)] = &[
    (1.0, "ml.m5.large"),
    (4.0, "ml.m5.xlarge"),
    (12.0, "ml.m5.2xlarge"),
    (24.0, "ml.m5.4xlarge"),
    (48.0, "ml.r5.4xlarge"),
];

const TRANSFORM: &[(f64, &str)] = &[
    (4.0, "ml.m5.large"),
    (24.0, "ml.m5.xlarge"),
    (48.0, "ml.m5.2xlarge"),
    (f64::INFINITY, "ml.m5.4xlarge"),
];

/// A contract's `accelerator`: AWS Trainium for training, Inferentia2 for transform. One row each: the
/// smallest size, the one the footprint table holds (larger data wants an explicit `instance_type`).
const TRAINIUM: &[(f64, &str)] = &[(16.0, "ml.trn1.2xlarge")];
const INFERENTIA: &[(f64, &str)] = &[(f64::INFINITY, "ml.inf2.xlarge")];

/// The share of the next instance's memory the last run's peak, scaled to this data, may fill.
const TARGET_MEMORY: f64 = 0.7;
/// A job whose CPU peaked this high is not moved to fewer vCPUs.
const CPU_BOUND: f64 = 80.0;

/// The training type the last run's measured use calls for, instead of the table's `sized` choice:
/// (type, reason), the reason saying how it compares with the last run's type and with the table.
/// `None` keeps the table's choice: no memory figure, a GPU job, or a last type outside the table (a
/// contract's own choice).
pub fn from_evidence(
    sized: &Sized,
    last_job: &str,
    last: &Utilisation,
    bytes: u64,
) -> Option<(String, String)> {
    let c = coefficients().ok()?;
    let memory = last.used.memory?;
    if last.used.gpu.is_some() {
        return None;
    }
    let rows: Vec<(&str, f64)> = TRAINING
        .iter()
        .filter_map(|(_, t)| Some((*t, c.instance_type(t).ok()?.memory_gib)))
        .collect();
    let last_at = rows.iter().position(|(t, _)| *t == last.instance_type)?;
    let last_gib = rows[last_at].1;
    let scale = if last.data_bytes > 0 {
        bytes as f64 / last.data_bytes as f64
    } else {
        1.0
    };
    let need_gib = memory.peak / 100.0 * last_gib * scale / TARGET_MEMORY;
    let fits = rows
        .iter()
        .position(|(_, gib)| *gib >= need_gib)
        .unwrap_or(rows.len() - 1);
    let cpu_bound = last.used.cpu.is_some_and(|u| u.peak >= CPU_BOUND);
    let pick = if fits < last_at && cpu_bound {
        last_at
    } else {
        fits
    };
    let (to, to_gib) = rows[pick];
    let verdict = match pick.cmp(&last_at) {
        std::cmp::Ordering::Less => format!("down-sized from {} to {to}", last.instance_type),
        std::cmp::Ordering::Greater => format!("up-sized from {} to {to}", last.instance_type),
        std::cmp::Ordering::Equal if cpu_bound && fits < last_at => {
            format!("kept {to}: CPU-bound, not moved to fewer vCPUs")
        }
        std::cmp::Ordering::Equal => format!("kept {to}"),
    };
    let cpu = last
        .used
        .cpu
        .map(|u| format!(", CPU peak {:.0} %", u.peak))
        .unwrap_or_default();
    let table = if to == sized.instance_type {
        String::new()
    } else {
        format!(" (the table alone: {})", sized.instance_type)
    };
    Some((
        to.to_string(),
        format!(
            "{verdict}{table}: the last run ({last_job}, {}) peaked at {:.0} % memory ({:.2} GiB of {last_gib} GiB){cpu}; \
             scaled to this data (×{scale:.2}) it needs {need_gib:.2} GiB to stay under {:.0} %, and {to} has {to_gib} GiB",
            last.instance_type,
            memory.peak,
            memory.peak / 100.0 * last_gib,
            TARGET_MEMORY * 100.0,
        ),
    ))
}

/// A chosen instance type and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Sized {
    pub instance_type: String,
    pub reason: String,
    /// Estimated working set, bytes.
    pub working_set_bytes: u64,
}

/// How much larger the data is once read than its object in S3.
pub fn expansion(format: &FormatSpec, compression: Compression) -> f64 {
    match (format, compression) {
        (_, Compression::Gzip) => 4.0,
        (_, Compression::Zstd) => 5.0,
        (FormatSpec::Parquet, Compression::None) => 3.0,
        _ => 1.0,
    }
}

pub fn working_set(bytes: u64, format: &FormatSpec, compression: Compression) -> u64 {
    (bytes as f64 * expansion(format, compression)).ceil() as u64
}

/// The training instance type for `bytes` of data (see the module table).
pub fn training_instance(
    bytes: u64,
    rows: Option<u64>,
    format: &FormatSpec,
    compression: Compression,
) -> Sized {
    pick(TRAINING, bytes, rows, format, compression, "training")
}

/// The batch transform instance type for `bytes` of data.
pub fn transform_instance(
    bytes: u64,
    rows: Option<u64>,
    format: &FormatSpec,
    compression: Compression,
) -> Sized {
    pick(TRANSFORM, bytes, rows, format, compression, "transform")
}

/// The instance for a contract's `accelerator` (`trainium` for training, `inferentia` for transform).
pub fn accelerator_instance(
    accelerator: &str,
    bytes: u64,
    rows: Option<u64>,
    format: &FormatSpec,
    compression: Compression,
) -> Sized {
    let (table, what) = match accelerator {
        "trainium" => (TRAINIUM, "training on AWS Trainium"),
        _ => (INFERENTIA, "transform on AWS Inferentia2"),
    };
    let mut s = pick(table, bytes, rows, format, compression, what);
    s.reason.push_str(&format!(
        " (the contract's accelerator: {accelerator}; the image must be built for AWS Neuron)"
    ));
    s
}

/// The batch transform's instance: the contract's accelerator's, else the table's.
pub fn transform_for(
    accelerator: Option<&str>,
    bytes: u64,
    rows: Option<u64>,
    format: &FormatSpec,
    compression: Compression,
) -> Sized {
    match accelerator {
        Some(a) => accelerator_instance(a, bytes, rows, format, compression),
        None => transform_instance(bytes, rows, format, compression),
    }
}

/// Training volume per instance: twice the working set (data plus checkpoints and model), at least
/// 10 GB.
pub fn training_volume_gb(bytes: u64, format: &FormatSpec, compression: Compression) -> u32 {
    let gib = working_set(bytes, format, compression) as f64 / GIB;
    ((gib * 2.0).ceil() as u32).max(10)
}

fn pick(
    table: &[(f64, &str)],
    bytes: u64,
    rows: Option<u64>,
    format: &FormatSpec,
    compression: Compression,
    what: &str,
) -> Sized {
    let ws = working_set(bytes, format, compression);
    let gib = ws as f64 / GIB;
    let (limit, instance) = table
        .iter()
        .find(|(limit, _)| gib <= *limit)
        .or(table.last())
        .copied()
        .unwrap_or((f64::INFINITY, "ml.m5.large"));
    let rows = rows.map(|r| format!(", {r} rows")).unwrap_or_default();
    let mut reason = format!(
        "{what}: {bytes} bytes of {} ({:?}{rows}) ≈ {gib:.3} GiB working set → {instance}",
        format.name(),
        compression
    );
    if gib > limit {
        reason.push_str(&format!(
            " (over the sizing table's {limit} GiB: set instance_type / instance_count explicitly)"
        ));
    }
    Sized {
        instance_type: instance.to_string(),
        reason,
        working_set_bytes: ws,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sagemaker::types::{TrainingInstanceType, TransformInstanceType};

    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn training_table() {
        let csv = FormatSpec::csv();
        let cases = [
            (10 * MIB, Compression::None, "ml.m5.large"),
            (1024 * MIB, Compression::None, "ml.m5.large"),
            (1025 * MIB, Compression::None, "ml.m5.xlarge"),
            // 1 GiB of gzip ≈ 4 GiB once read.
            (1024 * MIB, Compression::Gzip, "ml.m5.xlarge"),
            (1100 * MIB, Compression::Gzip, "ml.m5.2xlarge"),
            (20 * 1024 * MIB, Compression::None, "ml.m5.4xlarge"),
            (40 * 1024 * MIB, Compression::None, "ml.r5.4xlarge"),
        ];
        for (bytes, compression, want) in cases {
            assert_eq!(
                training_instance(bytes, None, &csv, compression).instance_type,
                want,
                "{bytes} {compression:?}"
            );
        }
        let parquet = training_instance(2 * 1024 * MIB, Some(1), &FormatSpec::Parquet, Compression::None);
        assert_eq!(parquet.instance_type, "ml.m5.2xlarge");
        let huge = training_instance(100 * 1024 * MIB, None, &csv, Compression::None);
        assert_eq!(huge.instance_type, "ml.r5.4xlarge");
        assert!(huge.reason.contains("explicitly"), "{}", huge.reason);
    }

    #[test]
    fn transform_table_and_volume() {
        let csv = FormatSpec::csv();
        assert_eq!(
            transform_instance(MIB, None, &csv, Compression::None).instance_type,
            "ml.m5.large"
        );
        assert_eq!(
            transform_instance(10 * 1024 * MIB, None, &csv, Compression::None).instance_type,
            "ml.m5.xlarge"
        );
        assert_eq!(
            transform_instance(1 << 40, None, &csv, Compression::None).instance_type,
            "ml.m5.4xlarge"
        );
        assert_eq!(training_volume_gb(MIB, &csv, Compression::None), 10);
        assert_eq!(training_volume_gb(10 * 1024 * MIB, &csv, Compression::None), 20);
    }

    fn used(instance_type: &str, data_bytes: u64, cpu_peak: f64, memory_peak: f64) -> Utilisation {
        use crate::pipeline::{InstanceUse, Usage};
        Utilisation {
            instance_type: instance_type.into(),
            instance_count: 1,
            data_bytes,
            used: InstanceUse {
                cpu: Some(Usage {
                    average: cpu_peak / 2.0,
                    peak: cpu_peak,
                }),
                memory: Some(Usage {
                    average: memory_peak / 2.0,
                    peak: memory_peak,
                }),
                gpu: None,
            },
            gpu_memory: None,
            samples: 10,
        }
    }

    #[test]
    fn evidence_moves_the_type_along_the_table() {
        let csv = FormatSpec::csv();
        let gib = 1u64 << 30;
        let sized = training_instance(2 * gib, None, &csv, Compression::None);
        assert_eq!(sized.instance_type, "ml.m5.xlarge");
        // 20 % of 16 GiB = 3.2 GiB; / 0.7 = 4.57 GiB → ml.m5.large (8 GiB).
        let (t, why) =
            from_evidence(&sized, "j1", &used("ml.m5.xlarge", 2 * gib, 30.0, 20.0), 2 * gib).unwrap();
        assert_eq!(t, "ml.m5.large");
        assert!(why.starts_with("down-sized from ml.m5.xlarge to ml.m5.large (the table alone: ml.m5.xlarge): the last run (j1, ml.m5.xlarge) peaked at 20 % memory (3.20 GiB of 16 GiB), CPU peak 30 %"), "{why}");
        // Twice the data: 6.4 GiB / 0.7 = 9.14 GiB → ml.m5.xlarge, as before.
        let (t, why) = from_evidence(&sized, "j1", &used("ml.m5.xlarge", gib, 30.0, 20.0), 2 * gib).unwrap();
        assert_eq!(t, "ml.m5.xlarge");
        assert!(why.starts_with("kept ml.m5.xlarge: "), "{why}");
        // Near full on the small type: 95 % of 8 GiB / 0.7 = 10.9 GiB → ml.m5.xlarge.
        let (t, why) =
            from_evidence(&sized, "j1", &used("ml.m5.large", 2 * gib, 50.0, 95.0), 2 * gib).unwrap();
        assert_eq!(t, "ml.m5.xlarge");
        assert!(
            why.starts_with("up-sized from ml.m5.large to ml.m5.xlarge: "),
            "{why}"
        );
        // CPU-bound: not moved to fewer vCPUs.
        let (t, why) =
            from_evidence(&sized, "j1", &used("ml.m5.xlarge", 2 * gib, 95.0, 20.0), 2 * gib).unwrap();
        assert_eq!(t, "ml.m5.xlarge");
        assert!(why.contains("CPU-bound"), "{why}");
        // A GPU job, or a last type the table cannot size: left to the table.
        let mut gpu = used("ml.m5.xlarge", 2 * gib, 30.0, 20.0);
        gpu.used.gpu = gpu.used.cpu;
        assert!(from_evidence(&sized, "j1", &gpu, 2 * gib).is_none());
        assert!(from_evidence(&sized, "j1", &used("ml.m7i.xlarge", 2 * gib, 30.0, 20.0), 2 * gib).is_none());
    }

    #[test]
    fn every_row_is_a_valid_and_costed_instance_type() {
        let c = coefficients().unwrap();
        for (_, t) in TRAINING {
            assert!(TrainingInstanceType::values().contains(t), "{t}");
            c.instance_type(t).unwrap();
        }
        for (_, t) in TRANSFORM {
            assert!(TransformInstanceType::values().contains(t), "{t}");
            c.instance_type(t).unwrap();
        }
        // The reason Graviton is absent: neither API offers it.
        for g in ["ml.c7g.xlarge", "ml.m6g.xlarge", "ml.c6g.xlarge"] {
            assert!(!TrainingInstanceType::values().contains(&g));
            assert!(!TransformInstanceType::values().contains(&g));
        }
    }
}
