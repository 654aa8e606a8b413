//! What passes between the stages, and the rules that name things after the data.
//!
//! validate-dataset starts one execution per valid object version with a [`Dataset`]; the state machine
//! hands it on, and every later stage reads the same type. Keys and names derive from the object's identity only (bucket,
//! key, version or ETag), so a duplicate event finds the report, the quarantine copy and the execution
//! already there instead of doing the work twice.

use serde::{Deserialize, Deserializer, Serialize};

use crate::validate::report::ContractInfo;
use crate::{Error, Result};

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

/// The dataset a pipeline execution is about: the one type that passes between the stages.
///
/// validate-dataset starts the execution with it, every field set but `valid` and `status`, named only
/// from the object's identity, so a duplicate event asks for the same execution name (Step Functions
/// then answers with the running execution, or `ExecutionAlreadyExists`, instead of starting another). The state machine keeps
/// it at `$.dataset`; register-catalog and write-features take it as their input (write-features with
/// its own options beside it), plan-training, plan-transform and report-run read it from `dataset`. A
/// stage invoked by hand may get less: `bucket` and `key` are always required, and a stage that needs
/// more says so with a typed error ([`Dataset::fingerprint`], [`Dataset::contract_source`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    pub bucket: String,
    /// The object key, decoded.
    pub key: String,
    /// `null` for an object in an unversioned bucket (the execution input has always carried it).
    #[serde(default)]
    pub version_id: Option<String>,
    /// ETag without quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Key of the validation report (in `bucket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_key: Option<String>,
    /// The data's fingerprint from its validation (`blake3:<hex>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The object's size in bytes (the run report's data-transfer line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// What validate-dataset measured of its own work on this object, up to starting the execution:
    /// the run report's validate-dataset line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Measured>,
    /// The contract the data was validated against; later stages read theirs from `contract.source`
    /// rather than searching the contracts prefix again. validate-dataset's outcome names it by its
    /// source alone (`"contract": "s3://..."`), which is read as `{source}`.
    #[serde(
        default,
        deserialize_with = "contract_or_source",
        skip_serializing_if = "Option::is_none"
    )]
    pub contract: Option<ContractInfo>,
    /// When a stage is fed validate-dataset's outcome instead: an object that is not valid goes no
    /// further.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// What a function measured of its own invocation: every stage adds it to its output as `invocation`
/// ([`crate::stages::StageFunction::REPORTS_INVOCATION`]), validate-dataset passes its own in the
/// execution input (`dataset.validation`), and report-run turns them into each Lambda stage's measured
/// line of the run report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measured {
    /// Handler time, milliseconds (summed over `count` invocations).
    pub duration_ms: f64,
    /// The function's configured memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// A cold start's initialisation before this invocation, milliseconds (Lambda bills it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_ms: Option<f64>,
    /// How many invocations `duration_ms` covers.
    #[serde(default = "one")]
    pub count: u64,
}

fn one() -> u64 {
    1
}

/// `contract`: `{name?, version?, source}`, or the source URI alone.
fn contract_or_source<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<ContractInfo>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Info(ContractInfo),
        Source(String),
    }
    Ok(Option::<Either>::deserialize(d)?.map(|e| match e {
        Either::Info(info) => info,
        Either::Source(source) => ContractInfo {
            name: String::new(),
            version: None,
            source,
        },
    }))
}

impl Dataset {
    /// Whether the input says the object did not pass validation (or was not validated).
    pub fn rejected(&self) -> bool {
        self.valid == Some(false) || matches!(self.status, Some(Status::Invalid | Status::Ignored))
    }

    /// `s3://bucket/key` of the contract the data was validated against, if the input names it.
    pub fn contract_source(&self) -> Option<&str> {
        self.contract
            .as_ref()
            .map(|c| c.source.as_str())
            .filter(|s| !s.is_empty())
    }

    /// [`Dataset::contract_source`], for a stage that cannot go without it.
    pub fn require_contract_source(&self) -> Result<&str> {
        self.contract_source()
            .ok_or_else(|| self.missing("contract.source (the contract the data was validated against)"))
    }

    /// The data's fingerprint, for a stage that cannot go without it.
    pub fn fingerprint(&self) -> Result<&str> {
        self.fingerprint
            .as_deref()
            .filter(|f| !f.is_empty())
            .ok_or_else(|| self.missing("fingerprint"))
    }

    /// The dataset's name: the contract's, else its file's stem; `None` without a contract.
    pub fn name(&self) -> Option<String> {
        let contract = self.contract.as_ref()?;
        if !contract.name.trim().is_empty() {
            return Some(contract.name.clone());
        }
        let file = contract.source.rsplit('/').next().unwrap_or("");
        Some(file.split('.').next().unwrap_or("dataset").to_string())
    }

    fn missing(&self, field: &str) -> Error {
        Error::InvalidEvent(format!(
            "the dataset s3://{}/{} has no {field}: this stage takes the execution input validate-dataset \
             starts (see events/)",
            self.bucket, self.key
        ))
    }
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
    /// What the job used of its instances, as report-run read it from CloudWatch after the job:
    /// plan-training sizes the next job from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilisation: Option<Utilisation>,
    /// The tuning job whose best training job this model is (the contract's `training.tuning`): the next
    /// tuning job warm-starts from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning_job_name: Option<String>,
}

/// A training job's use of its instances over its run (CloudWatch `/aws/sagemaker/TrainingJobs`, one
/// series per host), each figure a share of one instance, 0–100 %: CPU divided by its vCPUs, GPU and
/// GPU memory by its GPUs, as SageMaker reports them summed over cores and devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Utilisation {
    pub instance_type: String,
    pub instance_count: u32,
    /// The data the job trained on, bytes (to scale the figures to the next data's size).
    pub data_bytes: u64,
    #[serde(flatten)]
    pub used: InstanceUse,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory: Option<Usage>,
    /// One-minute data points behind the figures.
    pub samples: u64,
}

/// An instance's use over a window (a training job's run, an endpoint's idle window), each a share of
/// one instance, 0–100 %: CPU and GPU as SageMaker reports them (summed over cores and devices)
/// divided by the instance's vCPUs and GPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceUse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<Usage>,
}

/// Mean and peak of one metric over a window, percent of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub average: f64,
    pub peak: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_execution_input_keeps_its_shape() {
        let dataset = Dataset {
            bucket: "b".into(),
            key: "sales/x.csv".into(),
            version_id: None,
            etag: Some("e".into()),
            report_key: Some("greenpipe/reports/sales/x.csv/e.json".into()),
            fingerprint: Some("blake3:00".into()),
            rows: Some(3),
            size: Some(120),
            validation: Some(Measured {
                duration_ms: 12.5,
                memory_mb: Some(1024),
                init_ms: None,
                count: 1,
            }),
            contract: Some(ContractInfo {
                name: "sales".into(),
                version: Some("1".into()),
                source: "s3://b/contracts/sales.yaml".into(),
            }),
            valid: None,
            status: None,
        };
        // What validate-dataset starts executions with: the object's identity, its report, its size and
        // validate-dataset's own measurement (a duplicate event's differs; the execution name does not).
        assert_eq!(
            serde_json::to_string(&dataset).unwrap(),
            r#"{"bucket":"b","key":"sales/x.csv","versionId":null,"etag":"e","reportKey":"greenpipe/reports/sales/x.csv/e.json","fingerprint":"blake3:00","rows":3,"size":120,"validation":{"durationMs":12.5,"memoryMb":1024,"count":1},"contract":{"name":"sales","version":"1","source":"s3://b/contracts/sales.yaml"}}"#
        );
        let back: Dataset = serde_json::from_value(serde_json::to_value(&dataset).unwrap()).unwrap();
        assert_eq!(back, dataset);
        assert_eq!(back.name().as_deref(), Some("sales"));
        assert_eq!(back.fingerprint().unwrap(), "blake3:00");
    }

    #[test]
    fn hand_made_inputs_say_what_they_lack() {
        let d: Dataset = serde_json::from_str(r#"{"bucket":"b","key":"k.csv"}"#).unwrap();
        assert_eq!(d.contract_source(), None);
        assert_eq!(d.name(), None);
        for e in [
            d.fingerprint().unwrap_err(),
            d.require_contract_source().unwrap_err(),
        ] {
            assert_eq!(e.error_type(), "InvalidEvent");
            assert!(e.to_string().contains("s3://b/k.csv"), "{e}");
        }
        // validate-dataset's outcome: the contract by its source, the status.
        let d: Dataset = serde_json::from_str(
            r#"{"bucket":"b","key":"k.csv","status":"invalid","valid":false,"contract":"s3://b/contracts/k.yaml"}"#,
        )
        .unwrap();
        assert!(d.rejected());
        assert_eq!(d.contract_source(), Some("s3://b/contracts/k.yaml"));
        assert_eq!(d.name().as_deref(), Some("k"));
        assert!(serde_json::from_str::<Dataset>(r#"{"bucket":"b"}"#).is_err());
    }

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
