//! Feature Store ingestion: the contract's `features` section, feature group definitions, and the
//! mapping of a data row to a Feature Store record (pure parts; the SDK calls are in
//! [`handler`]).
//!
//! Reruns are idempotent: a row's event time comes from the data (`event_time_column`) or from a fixed
//! run timestamp given with the request (the object's LastModified by default), never from the clock at
//! write time, so writing the same object twice writes the same records.

pub mod handler;
pub mod offline;
pub mod rows;
pub mod writer;

pub use handler::WriteFeatures;

use serde::{Deserialize, Serialize};

use crate::contract::Contract;
use crate::validate::values::{format_timestamp, parse_timestamp};
use crate::{Error, Result};

/// Default in-flight PutRecord requests.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// Highest accepted `concurrency`.
pub const MAX_CONCURRENCY: usize = 1024;

/// The contract's `features:` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesSection {
    /// The feature group written to (the CLI's `--feature-group` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_group: Option<String>,
    /// The column holding the record identifier. Default: the column named like the group's
    /// `RecordIdentifierFeatureName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_identifier: Option<String>,
    /// The column holding the event time (a timestamp, or seconds since the epoch). Unset: every record of
    /// a run gets the run's event time (the request's `eventTime`, else the object's LastModified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time_column: Option<String>,
    /// The features written: column names, or `{column, name}` to rename. Default: every feature of the
    /// group that has a column of the same name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<FeatureMapping>>,
    /// `OnlineStore`, `OfflineStore` or both. Default: the service's (every store the group has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_stores: Option<Vec<TargetStore>>,
    /// In-flight PutRecord requests. Default 32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
}

/// One mapped feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FeatureMapping {
    Same(String),
    Renamed {
        column: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

impl FeatureMapping {
    pub fn column(&self) -> &str {
        match self {
            FeatureMapping::Same(c) => c,
            FeatureMapping::Renamed { column, .. } => column,
        }
    }

    pub fn feature(&self) -> &str {
        match self {
            FeatureMapping::Same(c) => c,
            FeatureMapping::Renamed { column, name } => name.as_deref().unwrap_or(column),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TargetStore {
    OnlineStore,
    OfflineStore,
}

impl TargetStore {
    pub fn parse(s: &str) -> Option<TargetStore> {
        match s.to_ascii_lowercase().as_str() {
            "onlinestore" | "online" => Some(TargetStore::OnlineStore),
            "offlinestore" | "offline" => Some(TargetStore::OfflineStore),
            _ => None,
        }
    }
}

impl FeaturesSection {
    /// The contract's `features` section, or `None` when it has none (the dataset has no features).
    pub fn from_contract(contract: &Contract, source: &str) -> Result<Option<FeaturesSection>> {
        let Some(raw) = &contract.features else {
            return Ok(None);
        };
        let section: FeaturesSection = serde_json::from_value(raw.clone())
            .map_err(|e| Error::contract_invalid(source, format!("features: {e}")))?;
        if let Some(c) = section.concurrency {
            if c == 0 || c > MAX_CONCURRENCY {
                return Err(Error::contract_invalid(
                    source,
                    format!("features: concurrency must be 1..={MAX_CONCURRENCY}, not {c}"),
                ));
            }
        }
        if section.target_stores.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::contract_invalid(
                source,
                "features: target_stores is empty",
            ));
        }
        Ok(Some(section))
    }
}

/// A feature's type in a feature group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureType {
    Integral,
    Fractional,
    String,
}

/// What the writer needs from `DescribeFeatureGroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureGroup {
    pub name: String,
    pub record_identifier: String,
    pub event_time: String,
    pub features: Vec<(String, FeatureType)>,
    /// The offline store's data location (`ResolvedOutputS3Uri`, or built from `S3Uri` the way the
    /// service builds it), when the group has an offline store.
    pub offline_uri: Option<String>,
    /// Whether the group has an online store.
    pub online: bool,
}

impl FeatureGroup {
    pub fn feature_type(&self, name: &str) -> Option<FeatureType> {
        self.features.iter().find(|(n, _)| n == name).map(|(_, t)| *t)
    }
}

/// Where a feature's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Column `i` of the projected row.
    Column(usize),
    /// The run's event time.
    RunEventTime,
}

/// How rows become records: the projected columns and, per feature, its source and type.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// Columns to read, in projection order.
    pub columns: Vec<String>,
    /// (feature name, type, source), the record identifier first and the event time second.
    pub features: Vec<(String, FeatureType, Source)>,
    /// The run's event time in microseconds (used when the event time has no column).
    pub run_event_micros: i64,
    /// Per feature: no later feature reads its column, so [`Mapping::record`] can move the value.
    last_use: Vec<bool>,
}

/// Why one row was not written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// `MissingRecordIdentifier`, `MissingEventTime`, `InvalidEventTime`, `TypeMismatch`, `InvalidRecord`,
    /// or the service's error code (`ValidationError`, `Throttled` when retries ran out, ...).
    pub error_type: String,
    pub message: String,
}

impl RowError {
    pub fn new(error_type: &str, message: impl Into<String>) -> Self {
        RowError {
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

impl Mapping {
    /// Plan the mapping from the section, the group's definition and the columns the data has
    /// (`available`: a contract's columns, or `None` when unknown).
    pub fn plan(
        section: &FeaturesSection,
        group: &FeatureGroup,
        available: Option<&[String]>,
        run_event_micros: i64,
    ) -> Result<Mapping> {
        let mismatch = |m: String| Error::FeatureGroupMismatch {
            group: group.name.clone(),
            message: m,
        };
        let mut columns: Vec<String> = Vec::new();
        let mut col = |name: &str| -> usize {
            match columns.iter().position(|c| c == name) {
                Some(i) => i,
                None => {
                    columns.push(name.to_string());
                    columns.len() - 1
                }
            }
        };
        let ty = |name: &str| {
            group.feature_type(name).ok_or_else(|| {
                mismatch(format!(
                    "feature {name:?} is not in the feature group's definition"
                ))
            })
        };
        let id_column = section
            .record_identifier
            .clone()
            .unwrap_or_else(|| group.record_identifier.clone());
        let mut features = vec![(
            group.record_identifier.clone(),
            ty(&group.record_identifier)?,
            Source::Column(col(&id_column)),
        )];
        let event_source = match &section.event_time_column {
            Some(c) => Source::Column(col(c)),
            None => Source::RunEventTime,
        };
        features.push((group.event_time.clone(), ty(&group.event_time)?, event_source));
        let fixed = [group.record_identifier.as_str(), group.event_time.as_str()];
        match &section.features {
            Some(list) => {
                for m in list {
                    let name = m.feature();
                    if fixed.contains(&name) {
                        continue;
                    }
                    if features.iter().any(|(n, _, _)| n == name) {
                        return Err(mismatch(format!("feature {name:?} is mapped twice")));
                    }
                    let t = ty(name)?;
                    features.push((name.to_string(), t, Source::Column(col(m.column()))));
                }
            }
            None => {
                for (name, t) in &group.features {
                    if fixed.contains(&name.as_str()) {
                        continue;
                    }
                    if available.is_none_or(|a| a.iter().any(|c| c == name)) {
                        features.push((name.clone(), *t, Source::Column(col(name))));
                    }
                }
            }
        }
        if let Some(available) = available {
            if let Some(missing) = columns.iter().find(|c| !available.contains(c)) {
                return Err(mismatch(format!(
                    "column {missing:?} is not one of the contract's columns"
                )));
            }
        }
        let last_use = features
            .iter()
            .enumerate()
            .map(|(i, (_, _, source))| !features[i + 1..].iter().any(|(_, _, later)| later == source))
            .collect();
        Ok(Mapping {
            columns,
            features,
            run_event_micros,
            last_use,
        })
    }

    /// The record for one row (`values` in projection order), or why it cannot be written.
    /// Values are checked against the feature types; empty and null values are left out of the record
    /// (a feature without a value), except the record identifier and the event time, which must be there.
    pub fn record(
        &self,
        mut values: Vec<Option<String>>,
    ) -> std::result::Result<Vec<(String, String)>, RowError> {
        let mut record = Vec::with_capacity(self.features.len());
        for (i, (name, ty, source)) in self.features.iter().enumerate() {
            // The column and the range of its trimmed value; empty and null values are `None`.
            let span = match source {
                Source::Column(c) => values.get(*c).and_then(|v| v.as_deref()).and_then(|v| {
                    let t = v.trim();
                    let start = t.as_ptr() as usize - v.as_ptr() as usize;
                    (!t.is_empty()).then(|| (*c, start..start + t.len()))
                }),
                Source::RunEventTime => None,
            };
            let raw = span
                .as_ref()
                .and_then(|(c, r)| values[*c].as_deref()?.get(r.clone()));
            match i {
                0 => {
                    let Some(v) = raw else {
                        return Err(RowError::new(
                            "MissingRecordIdentifier",
                            format!("record identifier {name:?} is empty or missing"),
                        ));
                    };
                    check_type(name, *ty, v)?;
                }
                1 => {
                    let micros = match (source, raw) {
                        (Source::RunEventTime, _) => self.run_event_micros,
                        (_, None) => {
                            return Err(RowError::new(
                                "MissingEventTime",
                                format!("event time {name:?} is empty or missing"),
                            ))
                        }
                        (_, Some(v)) => parse_event_time(v).ok_or_else(|| {
                            RowError::new(
                                "InvalidEventTime",
                                format!("event time {v:?} is not a timestamp or seconds since the epoch"),
                            )
                        })?,
                    };
                    let text = format_event_time(micros, *ty).ok_or_else(|| {
                        RowError::new(
                            "InvalidEventTime",
                            format!("event time feature {name:?} is Integral; Feature Store needs String or Fractional"),
                        )
                    })?;
                    record.push((name.clone(), text));
                    continue;
                }
                _ => match raw {
                    Some(v) => check_type(name, *ty, v)?,
                    None => continue,
                },
            }
            // The value itself, moved out of the row when it needs no trimming and no later feature
            // reads its column.
            let Some((c, r)) = span else { continue };
            let whole = values[c].take().unwrap_or_default();
            let value = if self.last_use[i] && r.start == 0 && r.end == whole.len() {
                whole
            } else {
                let part = whole.get(r).unwrap_or_default().to_string();
                values[c] = Some(whole);
                part
            };
            record.push((name.clone(), value));
        }
        Ok(record)
    }
}

fn check_type(name: &str, ty: FeatureType, v: &str) -> std::result::Result<(), RowError> {
    let ok = match ty {
        FeatureType::String => true,
        FeatureType::Integral => v.parse::<i64>().is_ok(),
        FeatureType::Fractional => v.parse::<f64>().is_ok_and(f64::is_finite),
    };
    if ok {
        Ok(())
    } else {
        Err(RowError::new(
            "TypeMismatch",
            format!("value {v:?} of feature {name:?} is not {ty:?}"),
        ))
    }
}

/// An event time from the data: a timestamp the engine reads (`2026-11-27T10:00:00Z`,
/// `2026-11-27 10:00:00.5`, ...), or seconds since the epoch. Microseconds since the epoch.
pub fn parse_event_time(v: &str) -> Option<i64> {
    if let Some(micros) = parse_timestamp(v.as_bytes()) {
        return Some(micros);
    }
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs.abs() < 1e13).then(|| (secs * 1e6).round() as i64)
}

/// The event time as Feature Store takes it: `yyyy-MM-ddTHH:mm:ssZ` (or `.SSSZ` with milliseconds) for a
/// String feature, seconds since the epoch for a Fractional one. `None` for Integral (not allowed).
pub fn format_event_time(micros: i64, ty: FeatureType) -> Option<String> {
    match ty {
        FeatureType::Integral => None,
        FeatureType::Fractional => {
            let secs = micros.div_euclid(1_000_000);
            let frac = micros.rem_euclid(1_000_000);
            Some(if frac == 0 {
                secs.to_string()
            } else {
                format!("{secs}.{:06}", frac).trim_end_matches('0').to_string()
            })
        }
        FeatureType::String => {
            let millis = micros.div_euclid(1000);
            let secs_part = millis.div_euclid(1000) * 1_000_000;
            let base = format_timestamp(secs_part);
            // format_timestamp gives `YYYY-MM-DDTHH:MM:SSZ` for whole seconds.
            let ms = millis.rem_euclid(1000);
            Some(if ms == 0 {
                base
            } else {
                format!("{}.{ms:03}Z", base.trim_end_matches('Z'))
            })
        }
    }
}

#[cfg(test)]
mod tests;
