//! The contract's `training:` section (and its `transform:` subsection), typed and checked.
//!
//! ```yaml
//! training:
//!   image: 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1
//!   role_arn: arn:aws:iam::123456789012:role/greenpipe-sagemaker   # default: GREENPIPE_SAGEMAKER_ROLE_ARN
//!   instance_type: ml.m5.xlarge        # default: right-sized from the data (see plan::sizing)
//!   instance_count: 1
//!   volume_size_gb: 30                 # default: sized from the data, at least 10
//!   max_runtime_seconds: 3600
//!   spot: true                         # managed spot training (default on)
//!   max_wait_seconds: 7200             # spot only; >= max_runtime_seconds; default 2 x runtime
//!   checkpoint_prefix: s3://bucket/ck/ # default: <artifacts bucket>/greenpipe/checkpoints/<dataset>/
//!   hyperparameters: { objective: "reg:squarederror", num_round: 100 }
//!   warm_start: true                   # incremental training from the last model's artifacts
//!   transform:
//!     instance_type: ml.m5.large
//!     data_processing: { input_filter: "$[1:]", join_source: Input, output_filter: "$[0,-1]" }
//! ```

use std::collections::BTreeMap;

use aws_sdk_sagemaker::types::{TrainingInstanceType, TransformInstanceType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// SageMaker's limits on hyperparameters (CreateTrainingJob).
const MAX_HYPERPARAMETERS: usize = 100;
const MAX_HYPERPARAMETER_KEY: usize = 256;
const MAX_HYPERPARAMETER_VALUE: usize = 2500;
/// MaxRuntimeInSeconds: at most 28 days.
const MAX_RUNTIME_SECONDS: u32 = 28 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSection {
    /// Training image (ECR URI). Also the model's inference image unless `inference_image` is set.
    pub image: String,
    /// Image for the model (CreateModel's PrimaryContainer.Image). Default: `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_image: Option<String>,
    /// Execution role of the training job and the model. Default: `GREENPIPE_SAGEMAKER_ROLE_ARN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Default: chosen from the data size ([`super::sizing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default = "one")]
    pub instance_count: u32,
    /// ML storage volume per instance. Default: sized from the data, at least 10 GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_size_gb: Option<u32>,
    #[serde(default = "default_max_runtime")]
    pub max_runtime_seconds: u32,
    /// Managed spot training (default on): billed for less than the time trained, interrupted jobs resume
    /// from their checkpoints.
    #[serde(default = "yes")]
    pub spot: bool,
    /// Spot only: how long to wait for spot capacity plus the run time; at least `max_runtime_seconds`.
    /// Default: twice `max_runtime_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_seconds: Option<u32>,
    /// Where checkpoints go: `s3://bucket/prefix/`, or a key prefix in the artifacts bucket. Default:
    /// `<checkpoints prefix><dataset>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_prefix: Option<String>,
    /// Where model artifacts go (`OutputDataConfig.S3OutputPath`). Default: `<models prefix><dataset>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_prefix: Option<String>,
    /// Strings, numbers and booleans; SageMaker receives them as strings.
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, Value>,
    /// Incremental training: the last trained model's artifacts are given to the job as an extra input
    /// channel (`model_channel`), as SageMaker's built-in algorithms expect.
    #[serde(default)]
    pub warm_start: bool,
    #[serde(default = "default_model_channel")]
    pub model_channel: String,
    /// Name of the data channel.
    #[serde(default = "default_channel")]
    pub channel: String,
    /// `File` (default), `Pipe` or `FastFile`.
    #[serde(default = "default_input_mode")]
    pub input_mode: String,
    /// Extra tags on the job and the model.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Batch transform after training. Default: on, right-sized.
    #[serde(default)]
    pub transform: TransformSection,
    /// SageMaker Debugger built-in rules (with the StopTraining action) and its profiler. Opt-in: AWS
    /// closed Debugger to new customers on 2026-07-30, and a job asking for it in an account that never
    /// used it fails, so greenpipe adds nothing unless the contract asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debugger: Option<DebuggerSection>,
    /// SageMaker Training Compiler: needs a Training Compiler image (`...-trcomp-training`) and a GPU
    /// instance type. Planned and passed through; no saving is claimed for it.
    #[serde(default)]
    pub compiler: bool,
    /// `trainium`: right-size onto AWS Trainium (ml.trn1) instead of the general-purpose table, for an
    /// image built for AWS Neuron. Not with `instance_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,
    /// Hyperparameter tuning instead of one training job ([`super::tuning`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<super::tuning::TuningSection>,
}

/// The contract's `training.debugger`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebuggerSection {
    /// Built-in rules ([`DEBUGGER_RULES`]). Default: loss not decreasing, overfit, low GPU utilisation.
    #[serde(default = "default_rules")]
    pub rules: Vec<String>,
    /// Stop the job when a rule finds its issue (default true).
    #[serde(default = "yes")]
    pub stop_training: bool,
    /// The profiler's system metrics (default true; needed by the profiler rules).
    #[serde(default = "yes")]
    pub profiler: bool,
}

/// Whether a built-in rule reads the training's tensors (Debugger) or its system metrics (profiler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Debug,
    Profiler,
}

/// The built-in rules a contract may name: (contract name, SageMaker's rule name, kind). From the
/// Debugger built-in rules list (docs.aws.amazon.com/sagemaker/latest/dg/debugger-built-in-rules.html).
pub const DEBUGGER_RULES: [(&str, &str, RuleKind); 10] = [
    ("loss_not_decreasing", "LossNotDecreasing", RuleKind::Debug),
    ("overfit", "Overfit", RuleKind::Debug),
    ("overtraining", "Overtraining", RuleKind::Debug),
    ("vanishing_gradient", "VanishingGradient", RuleKind::Debug),
    ("exploding_tensor", "ExplodingTensor", RuleKind::Debug),
    ("low_gpu_utilization", "LowGPUUtilization", RuleKind::Profiler),
    ("cpu_bottleneck", "CPUBottleneck", RuleKind::Profiler),
    ("io_bottleneck", "IOBottleneck", RuleKind::Profiler),
    ("gpu_memory_increase", "GPUMemoryIncrease", RuleKind::Profiler),
    ("batch_size", "BatchSize", RuleKind::Profiler),
];

fn default_rules() -> Vec<String> {
    ["loss_not_decreasing", "overfit", "low_gpu_utilization"]
        .map(String::from)
        .to_vec()
}

/// GPU families SageMaker Training Compiler runs on.
const COMPILER_FAMILIES: [&str; 5] = ["ml.p3.", "ml.p3dn.", "ml.p4d.", "ml.g4dn.", "ml.g5."];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformSection {
    /// Run a batch transform at all (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A model to use when this run trained none and no model was trained before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// Default: chosen from the data size ([`super::sizing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default = "one")]
    pub instance_count: u32,
    /// Parallel requests per instance (default 1).
    #[serde(default = "one")]
    pub max_concurrent_transforms: u32,
    /// CSV / JSON Lines mini-batch size limit (default 6 MB, SageMaker's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload_mb: Option<u32>,
    /// Where results go. Default: `<transform prefix><dataset>/<job name>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_prefix: Option<String>,
    /// `Accept` of the results. Default: the input's content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_processing: Option<DataProcessingSection>,
    /// `inferentia`: right-size onto AWS Inferentia2 (ml.inf2) instead of the general-purpose table, for
    /// a model compiled for AWS Neuron. Not with `instance_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,
}

impl Default for TransformSection {
    fn default() -> Self {
        TransformSection {
            enabled: true,
            model_name: None,
            instance_type: None,
            instance_count: 1,
            max_concurrent_transforms: 1,
            max_payload_mb: None,
            output_prefix: None,
            accept: None,
            environment: BTreeMap::new(),
            data_processing: None,
            accelerator: None,
        }
    }
}

/// Batch transform's `DataProcessing`: JSONPath filters and joining the input to the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataProcessingSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_filter: Option<String>,
    /// `None` or `Input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_source: Option<String>,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn default_max_runtime() -> u32 {
    3600
}
fn default_model_channel() -> String {
    "model".into()
}
fn default_channel() -> String {
    "train".into()
}
fn default_input_mode() -> String {
    "File".into()
}

impl TrainingSection {
    /// Parse and check the contract's raw `training` value. `source` names the contract in errors.
    pub fn from_value(value: &Value, source: &str) -> Result<TrainingSection> {
        let section: TrainingSection = serde_json::from_value(value.clone())
            .map_err(|e| Error::contract_invalid(source, format!("training: {e}")))?;
        section.check(source)?;
        Ok(section)
    }

    /// `max_wait_seconds`, or its default, for spot jobs.
    pub fn max_wait(&self) -> Option<u32> {
        self.spot.then(|| {
            self.max_wait_seconds.unwrap_or_else(|| {
                self.max_runtime_seconds
                    .saturating_mul(2)
                    .min(MAX_RUNTIME_SECONDS * 2)
            })
        })
    }

    /// Hyperparameters as the strings SageMaker takes.
    pub fn hyperparameter_strings(&self) -> BTreeMap<String, String> {
        self.hyperparameters
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect()
    }

    fn check(&self, source: &str) -> Result<()> {
        let bad = |m: String| Err(Error::contract_invalid(source, format!("training: {m}")));
        if self.image.trim().is_empty() {
            return bad("image must not be empty".into());
        }
        if self.instance_count == 0 {
            return bad("instance_count must be at least 1".into());
        }
        if let Some(t) = &self.instance_type {
            if !TrainingInstanceType::values().contains(&t.as_str()) {
                return bad(format!(
                    "instance_type {t:?} is not a SageMaker training instance type"
                ));
            }
        }
        if self.volume_size_gb == Some(0) {
            return bad("volume_size_gb must be at least 1".into());
        }
        if self.max_runtime_seconds == 0 || self.max_runtime_seconds > MAX_RUNTIME_SECONDS {
            return bad(format!(
                "max_runtime_seconds must be within 1..={MAX_RUNTIME_SECONDS}, got {}",
                self.max_runtime_seconds
            ));
        }
        match (self.spot, self.max_wait_seconds) {
            (false, Some(_)) => {
                return bad("max_wait_seconds applies to spot training only (spot is false)".into())
            }
            (true, Some(w)) if w < self.max_runtime_seconds => {
                return bad(format!(
                    "max_wait_seconds ({w}) must be at least max_runtime_seconds ({})",
                    self.max_runtime_seconds
                ))
            }
            _ => {}
        }
        if !matches!(self.input_mode.as_str(), "File" | "Pipe" | "FastFile") {
            return bad(format!(
                "input_mode must be File, Pipe or FastFile, got {:?}",
                self.input_mode
            ));
        }
        for (name, value) in [("channel", &self.channel), ("model_channel", &self.model_channel)] {
            if value.is_empty()
                || value.len() > 64
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            {
                return bad(format!("{name} {value:?} is not a valid channel name"));
            }
        }
        if self.warm_start && self.channel == self.model_channel {
            return bad("channel and model_channel must differ".into());
        }
        if let Some(d) = &self.debugger {
            if d.rules.is_empty() {
                return bad("debugger.rules is empty: name a rule, or leave debugger out".into());
            }
            for r in &d.rules {
                let Some((_, _, kind)) = DEBUGGER_RULES.iter().find(|(name, _, _)| name == r) else {
                    let known: Vec<&str> = DEBUGGER_RULES.iter().map(|(n, _, _)| *n).collect();
                    return bad(format!(
                        "debugger.rules: {r:?} is not one of {}",
                        known.join(", ")
                    ));
                };
                if *kind == RuleKind::Profiler && !d.profiler {
                    return bad(format!(
                        "debugger.rules: {r} reads the profiler's metrics (profiler is false)"
                    ));
                }
            }
        }
        if let Some(t) = &self.tuning {
            let fixed: Vec<&String> = self.hyperparameters.keys().collect();
            if let Err(m) = t.check(&fixed) {
                return bad(m);
            }
        }
        if self.compiler {
            if !self.image.contains("-trcomp-") {
                return bad(format!(
                    "compiler needs a SageMaker Training Compiler image (a ...-trcomp-training repository), not {}",
                    self.image
                ));
            }
            if !self
                .instance_type
                .as_deref()
                .is_some_and(|t| COMPILER_FAMILIES.iter().any(|f| t.starts_with(f)))
            {
                return bad(format!(
                    "compiler needs instance_type set to a GPU type it runs on ({})",
                    COMPILER_FAMILIES.map(|f| format!("{f}*")).join(", ")
                ));
            }
        }
        if self.hyperparameters.len() > MAX_HYPERPARAMETERS {
            return bad(format!("at most {MAX_HYPERPARAMETERS} hyperparameters"));
        }
        for (k, v) in &self.hyperparameters {
            if matches!(v, Value::Object(_) | Value::Array(_) | Value::Null) {
                return bad(format!(
                    "hyperparameter {k:?} must be a string, number or boolean"
                ));
            }
            let text = match v {
                Value::String(s) => s.len(),
                other => other.to_string().len(),
            };
            if k.is_empty() || k.len() > MAX_HYPERPARAMETER_KEY || text > MAX_HYPERPARAMETER_VALUE {
                return bad(format!(
                    "hyperparameter {k:?} is too long (key <= 256, value <= 2500)"
                ));
            }
        }
        for (what, accelerator, fixed, allowed) in [
            (
                "accelerator",
                &self.accelerator,
                self.instance_type.is_some(),
                "trainium",
            ),
            (
                "transform.accelerator",
                &self.transform.accelerator,
                self.transform.instance_type.is_some(),
                "inferentia",
            ),
        ] {
            match accelerator.as_deref() {
                None => {}
                Some(a) if a != allowed => return bad(format!("{what} must be {allowed}, got {a:?}")),
                Some(_) if fixed => {
                    return bad(format!(
                        "{what} picks the instance type: leave out the instance_type beside it"
                    ))
                }
                Some(_) => {}
            }
        }
        let t = &self.transform;
        if t.instance_count == 0 {
            return bad("transform.instance_count must be at least 1".into());
        }
        if let Some(it) = &t.instance_type {
            if !TransformInstanceType::values().contains(&it.as_str()) {
                return bad(format!(
                    "transform.instance_type {it:?} is not a SageMaker batch transform instance type"
                ));
            }
        }
        if t.max_payload_mb.is_some_and(|m| m == 0 || m > 100) {
            return bad("transform.max_payload_mb must be within 1..=100".into());
        }
        if let Some(dp) = &t.data_processing {
            if let Some(j) = &dp.join_source {
                if j != "None" && j != "Input" {
                    return bad(format!(
                        "transform.data_processing.join_source must be None or Input, got {j:?}"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<TrainingSection> {
        TrainingSection::from_value(&v, "contracts/x.yaml")
    }

    #[test]
    fn defaults() {
        let s = parse(json!({"image": "img"})).unwrap();
        assert!(s.spot);
        assert_eq!(s.max_runtime_seconds, 3600);
        assert_eq!(s.max_wait(), Some(7200));
        assert_eq!(s.instance_count, 1);
        assert!(s.transform.enabled);
        assert_eq!(s.channel, "train");
    }

    #[test]
    fn max_wait_must_cover_runtime() {
        let err =
            parse(json!({"image": "i", "max_runtime_seconds": 600, "max_wait_seconds": 300})).unwrap_err();
        assert_eq!(err.error_type(), "ContractInvalid");
        assert!(err.to_string().contains("at least max_runtime_seconds"), "{err}");
        let ok = parse(json!({"image": "i", "max_runtime_seconds": 600, "max_wait_seconds": 600})).unwrap();
        assert_eq!(ok.max_wait(), Some(600));
        let err = parse(json!({"image": "i", "spot": false, "max_wait_seconds": 900})).unwrap_err();
        assert!(err.to_string().contains("spot training only"), "{err}");
        assert_eq!(
            parse(json!({"image": "i", "spot": false})).unwrap().max_wait(),
            None
        );
    }

    #[test]
    fn rejects_what_sagemaker_would() {
        for bad in [
            json!({"image": ""}),
            json!({"image": "i", "instance_type": "ml.c7g.xlarge"}),
            json!({"image": "i", "instance_count": 0}),
            json!({"image": "i", "hyperparameters": {"a": [1]}}),
            json!({"image": "i", "input_mode": "Stream"}),
            json!({"image": "i", "transform": {"instance_type": "ml.nope.large"}}),
            json!({"image": "i", "transform": {"max_payload_mb": 101}}),
            json!({"image": "i", "transform": {"data_processing": {"join_source": "Output"}}}),
            json!({"image": "i", "unknown": 1}),
        ] {
            let err = parse(bad.clone()).unwrap_err();
            assert_eq!(err.error_type(), "ContractInvalid", "{bad}");
        }
    }

    #[test]
    fn hyperparameters_become_strings() {
        let s = parse(json!({"image": "i", "hyperparameters": {"num_round": 100, "eta": 0.2, "objective": "reg:squarederror", "verbose": true}})).unwrap();
        let h = s.hyperparameter_strings();
        assert_eq!(h["num_round"], "100");
        assert_eq!(h["eta"], "0.2");
        assert_eq!(h["objective"], "reg:squarederror");
        assert_eq!(h["verbose"], "true");
    }
}
