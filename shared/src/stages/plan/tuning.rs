//! Hyperparameter tuning (the contract's `training.tuning`): a `CreateHyperParameterTuningJob` request
//! built from the training plan, with SageMaker's automatic early stopping (trials that will not beat
//! the best so far are stopped), a small budget, and a warm start from the last tuning job, so a new
//! dataset's search starts from what the last one learnt instead of from nothing.
//!
//! ```yaml
//! training:
//!   tuning:
//!     objective: { metric: "validation:rmse", type: Minimize }
//!     ranges:
//!       eta: { min: 0.05, max: 0.5 }                 # continuous
//!       max_depth: { min: 3, max: 10, type: integer }
//!       booster: { values: [gbtree, dart] }          # categorical
//!     max_jobs: 6              # default 6
//!     max_parallel_jobs: 2     # default 2
//!     strategy: Bayesian       # Bayesian (default) or Random
//!     metric_regex: "rmse: ([0-9.]+)"   # custom images: how to read the metric from the logs
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::{fingerprint_hex, sanitize};
use super::training::{AlgorithmSpecification, CreateTrainingJob};
use super::Tag;
use crate::{Error, Result};

/// SageMaker's limit on a tuning job's name.
const MAX_TUNING_NAME: usize = 32;
/// Room kept for a retry suffix (`-10`).
const SUFFIX_ROOM: usize = 3;

/// The contract's `training.tuning`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuningSection {
    pub objective: Objective,
    pub ranges: BTreeMap<String, Range>,
    #[serde(default = "six")]
    pub max_jobs: u32,
    #[serde(default = "two")]
    pub max_parallel_jobs: u32,
    #[serde(default = "bayesian")]
    pub strategy: String,
    /// For images without built-in metrics: the regex that reads the objective from the job's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_regex: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    pub metric: String,
    /// `Minimize` or `Maximize`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A hyperparameter's range: `{min, max}` (continuous, or `type: integer`) or `{values}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Range {
    Numeric {
        min: f64,
        max: f64,
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
    },
    Categorical {
        values: Vec<serde_json::Value>,
    },
}

fn six() -> u32 {
    6
}
fn two() -> u32 {
    2
}
fn bayesian() -> String {
    "Bayesian".into()
}

impl TuningSection {
    /// Check the section against SageMaker's rules; `static_names` are the job's fixed hyperparameters
    /// (a tuned one may not also be fixed).
    pub fn check(&self, static_names: &[&String]) -> std::result::Result<(), String> {
        if self.objective.metric.trim().is_empty() {
            return Err("tuning.objective.metric is empty".into());
        }
        if !matches!(self.objective.kind.as_str(), "Minimize" | "Maximize") {
            return Err(format!(
                "tuning.objective.type must be Minimize or Maximize, got {:?}",
                self.objective.kind
            ));
        }
        if !matches!(self.strategy.as_str(), "Bayesian" | "Random") {
            return Err(format!(
                "tuning.strategy must be Bayesian or Random (the two with automatic early stopping), got {:?}",
                self.strategy
            ));
        }
        if !(1..=100).contains(&self.max_jobs) {
            return Err(format!(
                "tuning.max_jobs must be within 1..=100, got {}",
                self.max_jobs
            ));
        }
        if self.max_parallel_jobs == 0 || self.max_parallel_jobs > self.max_jobs {
            return Err(format!(
                "tuning.max_parallel_jobs must be within 1..=max_jobs ({}), got {}",
                self.max_jobs, self.max_parallel_jobs
            ));
        }
        if self.ranges.is_empty() || self.ranges.len() > 30 {
            return Err("tuning.ranges must name 1 to 30 hyperparameters".into());
        }
        for (name, range) in &self.ranges {
            if static_names.contains(&name) {
                return Err(format!(
                    "tuning.ranges.{name} is also a fixed hyperparameter: remove it from hyperparameters"
                ));
            }
            match range {
                Range::Numeric { min, max, kind } => {
                    if !(min.is_finite() && max.is_finite() && min < max) {
                        return Err(format!("tuning.ranges.{name}: min must be below max"));
                    }
                    match kind.as_deref() {
                        None | Some("continuous") => {}
                        Some("integer") if min.fract() == 0.0 && max.fract() == 0.0 => {}
                        Some("integer") => {
                            return Err(format!(
                                "tuning.ranges.{name}: an integer range needs whole bounds"
                            ))
                        }
                        Some(other) => {
                            return Err(format!(
                                "tuning.ranges.{name}: type must be continuous or integer, got {other:?}"
                            ))
                        }
                    }
                }
                Range::Categorical { values } => {
                    if values.is_empty() || values.len() > 30 {
                        return Err(format!("tuning.ranges.{name}: 1 to 30 values"));
                    }
                    if values
                        .iter()
                        .any(|v| v.is_object() || v.is_array() || v.is_null())
                    {
                        return Err(format!(
                            "tuning.ranges.{name}: values are strings, numbers or booleans"
                        ));
                    }
                }
            }
        }
        if let Some(re) = &self.metric_regex {
            if regex::Regex::new(re).is_err() {
                return Err("tuning.metric_regex is not a regular expression".into());
            }
        }
        Ok(())
    }
}

/// The `CreateHyperParameterTuningJob` request (the API's own field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTuningJob {
    pub hyper_parameter_tuning_job_name: String,
    pub hyper_parameter_tuning_job_config: TuningJobConfig,
    pub training_job_definition: TrainingJobDefinition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_start_config: Option<WarmStartConfig>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TuningJobConfig {
    pub strategy: String,
    pub hyper_parameter_tuning_job_objective: TuningObjective,
    pub resource_limits: ResourceLimits,
    pub parameter_ranges: ParameterRanges,
    pub training_job_early_stopping_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TuningObjective {
    #[serde(rename = "Type")]
    pub kind: String,
    pub metric_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceLimits {
    pub max_number_of_training_jobs: u32,
    pub max_parallel_training_jobs: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterRanges {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integer_parameter_ranges: Vec<NumericRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub continuous_parameter_ranges: Vec<NumericRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical_parameter_ranges: Vec<CategoricalRange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NumericRange {
    pub name: String,
    pub min_value: String,
    pub max_value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CategoricalRange {
    pub name: String,
    pub values: Vec<String>,
}

/// `HyperParameterTrainingJobDefinition`: the training plan's job without its name and tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrainingJobDefinition {
    pub static_hyper_parameters: BTreeMap<String, String>,
    pub algorithm_specification: TuningAlgorithm,
    pub role_arn: String,
    pub input_data_config: Vec<super::training::Channel>,
    pub output_data_config: super::training::OutputDataConfig,
    pub resource_config: super::training::ResourceConfig,
    pub stopping_condition: super::training::StoppingCondition,
    pub enable_managed_spot_training: bool,
    pub checkpoint_config: super::training::CheckpointConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TuningAlgorithm {
    pub training_image: String,
    pub training_input_mode: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_definitions: Vec<MetricDefinition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDefinition {
    pub name: String,
    pub regex: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WarmStartConfig {
    pub parent_hyper_parameter_tuning_jobs: Vec<ParentJob>,
    pub warm_start_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParentJob {
    pub hyper_parameter_tuning_job_name: String,
}

/// A tuning job's name: at most 32 characters (with room for a retry suffix), from the dataset, the data
/// and the settings, like the training job's.
pub fn tuning_job_name(dataset: &str, fingerprint: &str, settings_hash: &str) -> String {
    let fp = fingerprint_hex(fingerprint);
    let tail = format!("-{}-{settings_hash}", &fp[..fp.len().min(8)]);
    let room = MAX_TUNING_NAME.saturating_sub(SUFFIX_ROOM + tail.len()).max(1);
    let mut head: String = sanitize(dataset).chars().take(room).collect();
    while head.ends_with('-') {
        head.pop();
    }
    format!("{head}{tail}")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

/// The tuning request for `job` (the planned training job), warm-started from `parent` (the last tuning
/// job of this dataset) when there is one. The data changed since (or nothing would be tuned), so the
/// warm start is `TransferLearning`.
pub fn tuning_request(
    section: &TuningSection,
    job: &CreateTrainingJob,
    name: &str,
    parent: Option<&str>,
) -> CreateTuningJob {
    let mut ranges = ParameterRanges::default();
    for (param, range) in &section.ranges {
        match range {
            Range::Numeric { min, max, kind } => {
                let r = NumericRange {
                    name: param.clone(),
                    min_value: number(*min),
                    max_value: number(*max),
                };
                if kind.as_deref() == Some("integer") {
                    ranges.integer_parameter_ranges.push(r);
                } else {
                    ranges.continuous_parameter_ranges.push(r);
                }
            }
            Range::Categorical { values } => ranges.categorical_parameter_ranges.push(CategoricalRange {
                name: param.clone(),
                values: values
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect(),
            }),
        }
    }
    let mut output = job.output_data_config.clone();
    if !output.s3_output_path.ends_with('/') {
        output.s3_output_path.push('/');
    }
    let mut checkpoints = job.checkpoint_config.clone();
    // The training plan's is per training job name; a tuning job's trials share the tuning job's.
    checkpoints.s3_uri = checkpoints
        .s3_uri
        .trim_end_matches('/')
        .rsplit_once('/')
        .map_or(checkpoints.s3_uri.clone(), |(base, _)| format!("{base}/{name}/"));
    let AlgorithmSpecification {
        training_image,
        training_input_mode,
    } = job.algorithm_specification.clone();
    CreateTuningJob {
        hyper_parameter_tuning_job_name: name.to_string(),
        hyper_parameter_tuning_job_config: TuningJobConfig {
            strategy: section.strategy.clone(),
            hyper_parameter_tuning_job_objective: TuningObjective {
                kind: section.objective.kind.clone(),
                metric_name: section.objective.metric.clone(),
            },
            resource_limits: ResourceLimits {
                max_number_of_training_jobs: section.max_jobs,
                max_parallel_training_jobs: section.max_parallel_jobs,
            },
            parameter_ranges: ranges,
            training_job_early_stopping_type: "Auto".into(),
        },
        training_job_definition: TrainingJobDefinition {
            static_hyper_parameters: job.hyper_parameters.clone(),
            algorithm_specification: TuningAlgorithm {
                training_image,
                training_input_mode,
                metric_definitions: section
                    .metric_regex
                    .iter()
                    .map(|regex| MetricDefinition {
                        name: section.objective.metric.clone(),
                        regex: regex.clone(),
                    })
                    .collect(),
            },
            role_arn: job.role_arn.clone(),
            input_data_config: job.input_data_config.clone(),
            output_data_config: output,
            resource_config: job.resource_config.clone(),
            stopping_condition: job.stopping_condition.clone(),
            enable_managed_spot_training: job.enable_managed_spot_training,
            checkpoint_config: checkpoints,
        },
        warm_start_config: parent.map(|p| WarmStartConfig {
            parent_hyper_parameter_tuning_jobs: vec![ParentJob {
                hyper_parameter_tuning_job_name: p.to_string(),
            }],
            warm_start_type: "TransferLearning".into(),
        }),
        tags: job.tags.clone(),
    }
}

/// Parse the section from the contract's raw value (inside `training`); errors name the contract.
pub fn from_value(
    value: &serde_json::Value,
    source: &str,
    static_names: &[&String],
) -> Result<TuningSection> {
    let bad = |m: String| Error::contract_invalid(source, format!("training: {m}"));
    let section: TuningSection =
        serde_json::from_value(value.clone()).map_err(|e| bad(format!("tuning: {e}")))?;
    section.check(static_names).map_err(bad)?;
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Compression, FormatSpec};
    use crate::stages::plan::section::TrainingSection;
    use crate::stages::plan::training::{plan_training, TrainingInput};
    use crate::stages::plan::DataSize;
    use serde_json::json;

    fn plan(
        training: serde_json::Value,
        parent: Option<&str>,
    ) -> crate::stages::plan::training::TrainingPlan {
        let section = TrainingSection::from_value(&training, "c.yaml").unwrap();
        let csv = FormatSpec::csv();
        let input = TrainingInput {
            dataset: "a-rather-long-dataset-name-for-sales",
            fingerprint: "blake3:0123456789abcdef0123",
            data_uri: "s3://b/incoming/sales/part-0.csv",
            format: &csv,
            compression: Compression::None,
            size: DataSize {
                bytes: 1000,
                rows: Some(10),
            },
            default_role_arn: Some("arn:aws:iam::123456789012:role/r"),
            models_uri: "s3://art/greenpipe/models/",
            checkpoints_uri: "s3://art/greenpipe/checkpoints/",
            previous_model_data_url: None,
            last_utilisation: None,
            region: "us-east-1",
            last_tuning_job: parent,
        };
        plan_training(&section, &input).unwrap()
    }

    fn tuned() -> serde_json::Value {
        json!({"image": "img:1", "hyperparameters": {"num_round": 50},
               "tuning": {"objective": {"metric": "validation:rmse", "type": "Minimize"},
                          "ranges": {"eta": {"min": 0.05, "max": 0.5},
                                     "max_depth": {"min": 3, "max": 10, "type": "integer"},
                                     "booster": {"values": ["gbtree", "dart"]}}}})
    }

    #[test]
    fn a_tuning_job_stops_trials_early_on_a_small_budget_with_the_training_job_s_settings() {
        let p = plan(tuned(), None);
        let t = serde_json::to_value(p.tuning.as_ref().expect("a tuning request")).unwrap();
        let name = t["HyperParameterTuningJobName"].as_str().unwrap();
        assert!(name.len() <= MAX_TUNING_NAME - SUFFIX_ROOM, "{name}");
        assert!(
            name.ends_with(&format!("-01234567-{}", p.settings_hash)),
            "{name}"
        );
        let c = &t["HyperParameterTuningJobConfig"];
        assert_eq!(c["TrainingJobEarlyStoppingType"], "Auto");
        assert_eq!(c["Strategy"], "Bayesian");
        assert_eq!(
            c["ResourceLimits"],
            json!({"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2})
        );
        assert_eq!(
            c["HyperParameterTuningJobObjective"],
            json!({"Type": "Minimize", "MetricName": "validation:rmse"})
        );
        assert_eq!(
            c["ParameterRanges"],
            json!({
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "10"}],
                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5"}],
                "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}]
            })
        );
        let d = &t["TrainingJobDefinition"];
        assert_eq!(d["StaticHyperParameters"], json!({"num_round": "50"}));
        assert_eq!(d["EnableManagedSpotTraining"], true);
        assert_eq!(
            d["ResourceConfig"],
            serde_json::to_value(&p.request.resource_config).unwrap()
        );
        assert_eq!(
            d["CheckpointConfig"]["S3Uri"],
            format!("s3://art/greenpipe/checkpoints/a-rather-long-dataset-name-for-sales/{name}/")
        );
        assert!(t.get("WarmStartConfig").is_none());

        let warm = plan(tuned(), Some("sales-parent-abc"));
        assert_eq!(
            serde_json::to_value(warm.tuning.unwrap().warm_start_config).unwrap(),
            json!({"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "sales-parent-abc"}],
                   "WarmStartType": "TransferLearning"})
        );
        // Tuning is a settings change; without it the plan has none.
        assert!(plan(json!({"image": "img:1"}), None).tuning.is_none());
    }

    #[test]
    fn tuning_sections_are_checked() {
        let mut bad = Vec::new();
        for (path, value) in [
            ("/tuning/objective/type", json!("Lowest")),
            ("/tuning/strategy", json!("Hyperband")),
            ("/tuning/max_jobs", json!(0)),
            ("/tuning/max_parallel_jobs", json!(9)),
            ("/tuning/ranges", json!({})),
            ("/tuning/ranges/eta", json!({"min": 1, "max": 0.5})),
            (
                "/tuning/ranges/max_depth",
                json!({"min": 3.5, "max": 10, "type": "integer"}),
            ),
            (
                "/tuning/ranges/num_round",
                json!({"min": 10, "max": 100, "type": "integer"}),
            ),
            ("/tuning/ranges/booster", json!({"values": []})),
            ("/tuning/metric_regex", json!("([")),
        ] {
            let mut t = tuned();
            let (parent, key) = path.rsplit_once('/').unwrap();
            t.pointer_mut(parent).unwrap()[key] = value;
            bad.push((path, TrainingSection::from_value(&t, "c.yaml")));
        }
        for (path, r) in bad {
            let e = r.expect_err(path);
            assert!(e.to_string().contains("training: tuning"), "{path}: {e}");
        }
    }
}
