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
//! No Graviton rows: SageMaker training and batch transform do not offer Graviton instances (the
//! `TrainingInstanceType` and `TransformInstanceType` enums of the SageMaker API list none; Graviton is
//! available for real-time endpoints only). Every type here is in the footprint coefficient table, so
//! every planned job can be costed.

use crate::contract::{Compression, FormatSpec};

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
    use crate::footprint::coefficients;

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
