//! The offline bulk sink: records as Parquet files in a feature group's offline store layout, for
//! historical loads (no PutRecord per row).
//!
//! The layout is the one the service writes: `<offline store data uri>/year=YYYY/month=MM/day=DD/hour=HH/
//! <YYYYMMDDTHHMMSSZ>_<id>.parquet`, partitioned by the records' event time, where the data uri is the
//! group's `ResolvedOutputS3Uri` (`<S3Uri>/<account>/sagemaker/<region>/offline-store/<group>-<creation
//! epoch>/data`). Each file has the group's features (Integral → INT64, Fractional → DOUBLE, String →
//! UTF8), plus the columns the service adds: `api_invocation_time` and `write_time` (timestamps, ms) and
//! `is_deleted` (boolean). File names are derived from the object, the partition and the part number, so
//! loading the same object again overwrites the same files instead of adding duplicates.

use std::collections::BTreeMap;
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use super::{parse_event_time, FeatureGroup, FeatureType};
use crate::validate::values::format_timestamp;
use crate::{Error, Result};

/// Rows per Parquet file (and so the memory one partition's buffer may take).
pub const ROWS_PER_FILE: usize = 100_000;

/// An hour partition of the offline store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hour {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
}

impl Hour {
    pub fn of(micros: i64) -> Hour {
        // format_timestamp gives `YYYY-MM-DDTHH:...`; parse the fields back rather than redo the calendar.
        // Saturating: the earliest representable instant has no whole hour before it (the minute and
        // second are not in the path anyway).
        let text = format_timestamp(micros.saturating_sub(micros.rem_euclid(3_600_000_000)));
        let num = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        // The year ends at the first '-' after its own sign.
        let dash = text.get(1..).and_then(|t| t.find('-')).map_or(4, |i| i + 1);
        Hour {
            year: text[..dash].parse().unwrap_or(1970),
            month: num(dash + 1..dash + 3) as u32,
            day: num(dash + 4..dash + 6) as u32,
            hour: num(dash + 7..dash + 9) as u32,
        }
    }

    /// `year=2026/month=11/day=27/hour=09`.
    pub fn path(&self) -> String {
        format!(
            "year={:04}/month={:02}/day={:02}/hour={:02}",
            self.year, self.month, self.day, self.hour
        )
    }
}

/// Records buffered by hour, in the group's feature order.
pub struct Buffer {
    features: Vec<(String, FeatureType)>,
    event_time: String,
    pub parts: BTreeMap<Hour, Vec<Vec<Option<String>>>>,
}

impl Buffer {
    pub fn new(group: &FeatureGroup) -> Buffer {
        Buffer {
            features: group.features.clone(),
            event_time: group.event_time.clone(),
            parts: BTreeMap::new(),
        }
    }

    /// Add a mapped record; returns its hour (the partition that may now be full).
    pub fn push(&mut self, record: Vec<(String, String)>) -> Result<Hour> {
        let mut row = vec![None; self.features.len()];
        let mut hour = None;
        for (name, value) in record {
            if name == self.event_time {
                hour = parse_event_time(&value).map(Hour::of);
            }
            if let Some(i) = self.features.iter().position(|(n, _)| *n == name) {
                row[i] = Some(value);
            }
        }
        let hour =
            hour.ok_or_else(|| Error::DataUnreadable("record without a readable event time".into()))?;
        self.parts.entry(hour).or_default().push(row);
        Ok(hour)
    }
}

/// One Parquet file of `rows` (values in the group's feature order). `write_micros` is the file's
/// `write_time` and `api_invocation_time`.
pub fn parquet_file(
    features: &[(String, FeatureType)],
    rows: &[Vec<Option<String>>],
    write_micros: i64,
) -> Result<Vec<u8>> {
    let fail = |e: parquet::errors::ParquetError| {
        Error::aws(format!("writing offline store Parquet: {e}")).with_source(e)
    };
    let mut fields = Vec::with_capacity(features.len() + 3);
    for (name, ty) in features {
        let (physical, logical) = match ty {
            FeatureType::Integral => (PhysicalType::INT64, None),
            FeatureType::Fractional => (PhysicalType::DOUBLE, None),
            FeatureType::String => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
        };
        fields.push(Arc::new(
            Type::primitive_type_builder(name, physical)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(logical)
                .build()
                .map_err(fail)?,
        ));
    }
    let timestamp = || LogicalType::timestamp(true, TimeUnit::MILLIS);
    for name in ["api_invocation_time", "write_time"] {
        fields.push(Arc::new(
            Type::primitive_type_builder(name, PhysicalType::INT64)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(Some(timestamp()))
                .build()
                .map_err(fail)?,
        ));
    }
    fields.push(Arc::new(
        Type::primitive_type_builder("is_deleted", PhysicalType::BOOLEAN)
            .with_repetition(Repetition::OPTIONAL)
            .build()
            .map_err(fail)?,
    ));
    let schema = Arc::new(
        Type::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .map_err(fail)?,
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props).map_err(fail)?;
    let mut group = writer.next_row_group().map_err(fail)?;
    let mut column = 0usize;
    let write_millis = write_micros.div_euclid(1000);
    while let Some(mut col) = group.next_column().map_err(fail)? {
        let defs_all = vec![1i16; rows.len()];
        if column < features.len() {
            let present: Vec<(usize, &str)> = rows
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r[column].as_deref().map(|v| (i, v)))
                .collect();
            let mut defs = vec![0i16; rows.len()];
            for (i, _) in &present {
                defs[*i] = 1;
            }
            match features[column].1 {
                FeatureType::Integral => {
                    let values = present
                        .iter()
                        .map(|(_, v)| v.parse::<i64>())
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| Error::DataUnreadable(format!("Integral value: {e}")))?;
                    col.typed::<Int64Type>()
                        .write_batch(&values, Some(&defs), None)
                        .map_err(fail)?;
                }
                FeatureType::Fractional => {
                    let values = present
                        .iter()
                        .map(|(_, v)| v.parse::<f64>())
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| Error::DataUnreadable(format!("Fractional value: {e}")))?;
                    col.typed::<DoubleType>()
                        .write_batch(&values, Some(&defs), None)
                        .map_err(fail)?;
                }
                FeatureType::String => {
                    let values: Vec<ByteArray> = present
                        .iter()
                        .map(|(_, v)| ByteArray::from(v.as_bytes().to_vec()))
                        .collect();
                    col.typed::<ByteArrayType>()
                        .write_batch(&values, Some(&defs), None)
                        .map_err(fail)?;
                }
            }
        } else if column < features.len() + 2 {
            let values = vec![write_millis; rows.len()];
            col.typed::<Int64Type>()
                .write_batch(&values, Some(&defs_all), None)
                .map_err(fail)?;
        } else {
            let values = vec![false; rows.len()];
            col.typed::<BoolType>()
                .write_batch(&values, Some(&defs_all), None)
                .map_err(fail)?;
        }
        col.close().map_err(fail)?;
        column += 1;
    }
    group.close().map_err(fail)?;
    writer.into_inner().map_err(fail)
}

/// `s3://bucket/prefix` → (bucket, prefix without a trailing slash).
pub fn split_s3_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), key.trim_end_matches('/').to_string()))
}

/// The key of part `part` of `hour` for the object identified by `identity`: stable across reruns.
pub fn file_key(prefix: &str, hour: Hour, run_micros: i64, identity: &str, part: usize) -> String {
    let stamp: String = format_timestamp(run_micros - run_micros.rem_euclid(1_000_000))
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let hash = blake3::hash(format!("{identity}\n{}\n{part}", hour.path()).as_bytes()).to_hex();
    let sep = if prefix.is_empty() { "" } else { "/" };
    format!("{prefix}{sep}{}/{stamp}_{}.parquet", hour.path(), &hash[..16])
}
