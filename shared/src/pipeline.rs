//! What passes between the stages, and the rules that name things after the data.
//!
//! validate-dataset starts one execution per valid object version with an [`ExecutionInput`]; the state
//! machine hands it on, and the later stages read it as a [`DatasetRef`] (the same JSON, with the fields
//! a stage may go without made optional). Keys and names derive from the object's identity only (bucket,
//! key, version or ETag), so a duplicate event finds the report, the quarantine copy and the execution
//! already there instead of doing the work twice.

use serde::{Deserialize, Serialize};

use crate::validate::report::ContractInfo;

/// Step Functions execution names: at most 80 characters.
pub(crate) const EXECUTION_NAME_MAX: usize = 80;

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Valid,
    Invalid,
    /// Not validated: one of greenpipe's own objects (report, quarantine copy, contract).
    Ignored,
}

/// The input of the pipeline execution started for a valid object. Built only from the object's identity
/// and its report, so a duplicate event produces the identical input (Step Functions then returns the
/// running execution instead of starting another).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionInput {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub etag: String,
    pub report_key: String,
    pub fingerprint: String,
    pub rows: u64,
    pub contract: ContractInfo,
}

/// `<reports-prefix><key>/<version-or-etag>.json` (see [`output_key`] for keys near S3's limit).
pub fn report_key(reports_prefix: &str, key: &str, identity: &str) -> String {
    output_key(reports_prefix, key, &format!("/{identity}.json"))
}

/// `<quarantine-prefix><key>/<version-or-etag>/<file name>`: each bad version keeps its own copy (a
/// later bad upload of the same key never overwrites an earlier one) under its original file name (see
/// [`output_key`] for keys near S3's limit).
pub fn quarantine_key(quarantine_prefix: &str, key: &str, identity: &str) -> String {
    let file = key.rsplit('/').next().unwrap_or(key);
    output_key(quarantine_prefix, key, &format!("/{identity}/{file}"))
}

/// `<prefix><key><suffix>`, or, when that would pass S3's 1,024-byte key limit,
/// `<prefix>_hashed/<128-bit hash of key><suffix>` (still deterministic, still under the prefix).
fn output_key(prefix: &str, key: &str, suffix: &str) -> String {
    const S3_MAX_KEY_BYTES: usize = 1024;
    if prefix.len() + key.len() + suffix.len() <= S3_MAX_KEY_BYTES {
        return format!("{prefix}{key}{suffix}");
    }
    let hash = blake3::hash(key.as_bytes()).to_hex();
    format!("{prefix}_hashed/{}{suffix}", &hash.as_str()[..32])
}

/// A Step Functions execution name that is the same for every event about the same object version:
/// `gp-<file name, sanitised>-<128-bit hash of bucket, key and version-or-etag>`, at most 80 characters
/// of `[A-Za-z0-9._-]`.
pub fn execution_name(bucket: &str, key: &str, identity: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in [bucket, key, identity] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let hash = hasher.finalize().to_hex();
    let hash = &hash.as_str()[..32];
    let file = key.rsplit('/').next().unwrap_or(key);
    let readable: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(EXECUTION_NAME_MAX - "gp-".len() - 1 - hash.len())
        .collect();
    format!("gp-{readable}-{hash}")
}

/// The dataset being planned, as the execution input describes it (see `docs` of the pipeline
/// contract): `{bucket, key, versionId?, etag, reportKey, fingerprint, rows, contract: {name, version,
/// source}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetRef {
    pub bucket: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_key: Option<String>,
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    pub contract: ContractRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractRef {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `s3://bucket/key` of the contract file the data was validated against.
    pub source: String,
}

impl DatasetRef {
    /// The dataset's name: the contract's, else its file's stem.
    pub fn name(&self) -> String {
        if !self.contract.name.trim().is_empty() {
            return self.contract.name.clone();
        }
        let file = self.contract.source.rsplit('/').next().unwrap_or("");
        file.split('.').next().unwrap_or("dataset").to_string()
    }
}

/// The "last trained" marker: written after a successful training, read by plan-training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastTrained {
    pub fingerprint: String,
    /// Hash of the training settings the model was trained with ([`crate::stages::plan::training::TrainingPlan`]).
    #[serde(default)]
    pub settings_hash: String,
    pub training_job_name: String,
    pub model_name: String,
    /// `s3://.../model.tar.gz`.
    pub model_data_url: String,
    /// Inference image and role, so plan-training can recreate the model if it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    pub trained_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_names_are_stable_short_and_legal() {
        let a = execution_name("bkt", "sales/2026/x y+z.csv", "v1");
        assert_eq!(a, execution_name("bkt", "sales/2026/x y+z.csv", "v1"));
        assert_ne!(a, execution_name("bkt", "sales/2026/x y+z.csv", "v2"));
        assert_ne!(a, execution_name("bkt2", "sales/2026/x y+z.csv", "v1"));
        // The length prefix keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(execution_name("ab", "c", "v"), execution_name("a", "bc", "v"));
        assert!(a.starts_with("gp-x_y_z.csv-"), "{a}");
        let long = execution_name("b", &format!("d/{}.csv", "é".repeat(200)), "etag");
        for name in [&a, &long] {
            assert!(name.len() <= EXECUTION_NAME_MAX, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{name}"
            );
        }
    }
}
