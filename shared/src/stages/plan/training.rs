//! The `CreateTrainingJob` and `CreateModel` requests, built from the resolved training settings. Field
//! names are the APIs' own (PascalCase), so the state machine passes them through unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::{fingerprint_hex, job_name, short_hash};
use super::section::TrainingSection;
use super::{managed_tags, sizing, DataSize, Tag};
use crate::contract::{Compression, FormatSpec};
use crate::pipeline::Utilisation;
use crate::stages::cleanup_idle::BUDGET_TAG;
use crate::{Error, Result};

/// Content type of the model channel for incremental training (SageMaker's built-in algorithms).
pub const MODEL_CONTENT_TYPE: &str = "application/x-sagemaker-model";
/// Where SageMaker syncs checkpoints inside the container (its default).
const CHECKPOINT_LOCAL_PATH: &str = "/opt/ml/checkpoints";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTrainingJob {
    pub training_job_name: String,
    pub algorithm_specification: AlgorithmSpecification,
    pub role_arn: String,
    pub input_data_config: Vec<Channel>,
    pub output_data_config: OutputDataConfig,
    pub resource_config: ResourceConfig,
    pub stopping_condition: StoppingCondition,
    pub enable_managed_spot_training: bool,
    pub checkpoint_config: CheckpointConfig,
    pub hyper_parameters: BTreeMap<String, String>,
    pub tags: Vec<Tag>,
    /// SageMaker Debugger (the contract's `training.debugger`, opt-in): where the hook writes tensors,
    /// the built-in rules and the profiler. Absent unless asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_hook_config: Option<OutputPath>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub debug_rule_configurations: Vec<RuleConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiler_config: Option<ProfilerConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiler_rule_configurations: Vec<RuleConfiguration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutputPath {
    pub s3_output_path: String,
}

/// A built-in Debugger or profiler rule (`DebugRuleConfiguration` / `ProfilerRuleConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleConfiguration {
    pub rule_configuration_name: String,
    pub rule_evaluator_image: String,
    pub rule_parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProfilerConfig {
    pub s3_output_path: String,
    pub profiling_interval_in_milliseconds: u32,
}

/// The profiler's sampling interval (the SageMaker Python SDK's default).
const PROFILING_INTERVAL_MS: u32 = 500;

/// ECR accounts of the built-in rule evaluator image (`sagemaker-debugger-rules:latest`) per region,
/// from AWS's "Docker images for Debugger rules" table (as the SageMaker Python SDK lists them).
const RULE_IMAGE_ACCOUNTS: [(&str, &str); 18] = [
    ("us-east-1", "503895931360"),
    ("us-east-2", "915447279597"),
    ("us-west-1", "685455198987"),
    ("us-west-2", "895741380848"),
    ("ca-central-1", "519511493484"),
    ("sa-east-1", "818342061345"),
    ("eu-west-1", "929884845733"),
    ("eu-west-2", "250201462417"),
    ("eu-west-3", "447278800020"),
    ("eu-central-1", "482524230118"),
    ("eu-north-1", "314864569078"),
    ("me-south-1", "986000313247"),
    ("ap-east-1", "199566480951"),
    ("ap-south-1", "904829902805"),
    ("ap-northeast-1", "430734990657"),
    ("ap-northeast-2", "578805364391"),
    ("ap-southeast-1", "972752614525"),
    ("ap-southeast-2", "184798709955"),
];

/// The built-in rule evaluator image of `region`.
pub fn rule_evaluator_image(region: &str) -> Option<String> {
    RULE_IMAGE_ACCOUNTS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(r, account)| format!("{account}.dkr.ecr.{r}.amazonaws.com/sagemaker-debugger-rules:latest"))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlgorithmSpecification {
    pub training_image: String,
    pub training_input_mode: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Channel {
    pub channel_name: String,
    pub data_source: DataSource,
    pub content_type: String,
    pub compression_type: String,
    pub input_mode: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataSource {
    pub s3_data_source: S3DataSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3DataSource {
    pub s3_data_type: String,
    pub s3_uri: String,
    pub s3_data_distribution_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutputDataConfig {
    pub s3_output_path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceConfig {
    pub instance_type: String,
    pub instance_count: u32,
    #[serde(rename = "VolumeSizeInGB")]
    pub volume_size_in_gb: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoppingCondition {
    pub max_runtime_in_seconds: u32,
    /// Spot jobs only (SageMaker rejects it otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_time_in_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckpointConfig {
    pub s3_uri: String,
    pub local_path: String,
}

/// `CreateModel` without `PrimaryContainer.ModelDataUrl`, which the state machine sets from the training
/// job's output (`$.training.ModelArtifacts.S3ModelArtifacts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateModel {
    pub model_name: String,
    pub execution_role_arn: String,
    pub primary_container: PrimaryContainer,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrimaryContainer {
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_data_url: Option<String>,
}

/// Everything [`plan_training`] needs besides the contract section.
#[derive(Debug, Clone)]
pub struct TrainingInput<'a> {
    /// Dataset name (the contract's), used in names, prefixes and tags.
    pub dataset: &'a str,
    pub fingerprint: &'a str,
    /// `s3://bucket/key` of the validated object.
    pub data_uri: &'a str,
    pub format: &'a FormatSpec,
    pub compression: Compression,
    pub size: DataSize,
    /// Role when the section names none (`GREENPIPE_SAGEMAKER_ROLE_ARN`).
    pub default_role_arn: Option<&'a str>,
    /// `s3://bucket/prefix/` defaults for model artifacts and checkpoints (dataset folder appended).
    pub models_uri: &'a str,
    pub checkpoints_uri: &'a str,
    /// The last trained model's artifacts, for warm start.
    pub previous_model_data_url: Option<&'a str>,
    /// The last training job's name and its use of its instances, to size this job from.
    pub last_utilisation: Option<(&'a str, &'a Utilisation)>,
    /// The region the job runs in (the Debugger rule evaluator image is regional).
    pub region: &'a str,
    /// The last tuning job of this dataset: a new tuning job warm-starts from it.
    pub last_tuning_job: Option<&'a str>,
}

/// A planned training job: the requests, the names, and the facts behind them.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingPlan {
    pub request: CreateTrainingJob,
    pub model_request: CreateModel,
    /// Hash of the settings that shape the model (image, hyperparameters, resources, ...); recorded with
    /// the last training so a settings change retrains even when the data did not change.
    pub settings_hash: String,
    /// Why this instance type.
    pub sizing: String,
    /// Whether the request includes the previous model as a warm-start channel.
    pub warm_start: bool,
    /// The contract's `tuning`: a tuning job over `request`'s job (the state machine runs it instead).
    pub tuning: Option<super::tuning::CreateTuningJob>,
}

/// The content type SageMaker channels and transform inputs use for a format.
pub fn content_type(format: &FormatSpec) -> &'static str {
    match format {
        FormatSpec::Csv { .. } => "text/csv",
        FormatSpec::Jsonl => "application/jsonlines",
        FormatSpec::Parquet => "application/x-parquet",
    }
}

/// SageMaker's `CompressionType`: it decompresses gzip only.
pub fn compression_type(compression: Compression, what: &str) -> Result<&'static str> {
    match compression {
        Compression::None => Ok("None"),
        Compression::Gzip => Ok("Gzip"),
        Compression::Zstd => Err(Error::UnsupportedFormat(format!(
            "{what}: SageMaker reads gzip-compressed input only, not zstd"
        ))),
    }
}

/// `s3://bucket/prefix/` + `rest` with exactly one `/` between.
pub fn join_uri(base: &str, rest: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), rest.trim_start_matches('/'))
}

/// Add the contract's Debugger rules and profiler to `request`. `debug_uri` is the job's output path:
/// SageMaker writes tensors and profiles under `<debug_uri><job>/debug-output/` and `.../profiler-output/`,
/// beside the model artifacts, where the job's role may write and the run report counts what is stored.
fn debugger(
    request: &mut CreateTrainingJob,
    d: &super::section::DebuggerSection,
    region: &str,
    debug_uri: &str,
) -> Result<()> {
    use super::section::{RuleKind, DEBUGGER_RULES};
    let image = rule_evaluator_image(region).ok_or_else(|| {
        Error::Config(format!(
            "training.debugger: no Debugger rule evaluator image is known for region {region}"
        ))
    })?;
    for rule in &d.rules {
        let Some((_, name, kind)) = DEBUGGER_RULES.iter().find(|(n, _, _)| n == rule) else {
            continue; // refused when the section was checked
        };
        let mut parameters = BTreeMap::from([("rule_to_invoke".to_string(), (*name).to_string())]);
        if d.stop_training {
            // The built-in StopTraining action, as the SageMaker Python SDK serialises
            // rule_configs.ActionList(rule_configs.StopTraining()) for this job.
            let action =
                serde_json::json!([{"StopTraining": {"training_job_prefix": request.training_job_name}}]);
            parameters.insert("action_json".into(), action.to_string());
        }
        let configuration = RuleConfiguration {
            rule_configuration_name: (*name).to_string(),
            rule_evaluator_image: image.clone(),
            rule_parameters: parameters,
        };
        match kind {
            RuleKind::Debug => request.debug_rule_configurations.push(configuration),
            RuleKind::Profiler => request.profiler_rule_configurations.push(configuration),
        }
    }
    if !request.debug_rule_configurations.is_empty() {
        request.debug_hook_config = Some(OutputPath {
            s3_output_path: debug_uri.to_string(),
        });
    }
    if d.profiler {
        request.profiler_config = Some(ProfilerConfig {
            s3_output_path: debug_uri.to_string(),
            profiling_interval_in_milliseconds: PROFILING_INTERVAL_MS,
        });
    }
    Ok(())
}

/// Build the training plan: names, right-sizing, spot and checkpoints, warm start.
pub fn plan_training(section: &TrainingSection, input: &TrainingInput<'_>) -> Result<TrainingPlan> {
    let role_arn = section
        .role_arn
        .as_deref()
        .or(input.default_role_arn)
        .ok_or_else(|| {
            Error::Config(
                "no SageMaker execution role: set training.role_arn in the contract or GREENPIPE_SAGEMAKER_ROLE_ARN"
                    .into(),
            )
        })?
        .to_string();
    let compression = compression_type(input.compression, input.data_uri)?;
    // `settings_type` enters the settings hash: the type the data alone calls for, so that sizing from
    // the last run's evidence never makes unchanged data look like changed settings.
    let (instance_type, settings_type, sizing) = match (&section.instance_type, &section.accelerator) {
        (Some(t), _) => (t.clone(), t.clone(), format!("training: {t} from the contract")),
        (None, Some(a)) => {
            let s = sizing::accelerator_instance(
                a,
                input.size.bytes,
                input.size.rows,
                input.format,
                input.compression,
            );
            (s.instance_type.clone(), s.instance_type, s.reason)
        }
        (None, None) => {
            let s =
                sizing::training_instance(input.size.bytes, input.size.rows, input.format, input.compression);
            match input
                .last_utilisation
                .and_then(|(job, u)| sizing::from_evidence(&s, job, u, input.size.bytes))
            {
                Some((evidence_type, why)) => {
                    (evidence_type, s.instance_type, format!("{}; {why}", s.reason))
                }
                None => (s.instance_type.clone(), s.instance_type, s.reason),
            }
        }
    };
    let volume = section
        .volume_size_gb
        .unwrap_or_else(|| sizing::training_volume_gb(input.size.bytes, input.format, input.compression));
    let mut hyperparameters = section.hyperparameter_strings();
    if section.compiler {
        // What the SageMaker Python SDK's TrainingCompilerConfig sets on the job.
        hyperparameters.insert("sagemaker_training_compiler_enabled".into(), "true".into());
        hyperparameters.insert("sagemaker_training_compiler_debug_mode".into(), "false".into());
    }
    let image = section.image.clone();
    let inference_image = section.inference_image.clone().unwrap_or_else(|| image.clone());

    // Everything that shapes the model except the data (the fingerprint covers that) and the names.
    let settings = serde_json::json!({
        "image": image, "inferenceImage": inference_image, "role": role_arn,
        "instanceType": settings_type, "instanceCount": section.instance_count, "volume": volume,
        "maxRuntime": section.max_runtime_seconds, "spot": section.spot, "maxWait": section.max_wait(),
        "hyperparameters": hyperparameters, "warmStart": section.warm_start, "channel": section.channel,
        "inputMode": section.input_mode,
    });
    let mut settings = settings;
    // Added only when set, so the hashes of earlier settings (and their markers) stay as they were.
    if let Some(d) = &section.debugger {
        settings["debugger"] = serde_json::json!(d);
    }
    if let Some(t) = &section.tuning {
        settings["tuning"] = serde_json::json!(t);
    }
    let settings_hash = short_hash(&settings.to_string(), 6);
    let fp = fingerprint_hex(input.fingerprint);
    let name = job_name(input.dataset, &[&fp[..fp.len().min(12)], &settings_hash]);
    let dataset_folder = format!("{}/", super::names::sanitize(input.dataset));

    let data_channel = Channel {
        channel_name: section.channel.clone(),
        data_source: s3_prefix(input.data_uri),
        content_type: content_type(input.format).into(),
        compression_type: compression.into(),
        input_mode: section.input_mode.clone(),
    };
    let mut channels = vec![data_channel];
    let warm_start = section.warm_start && input.previous_model_data_url.is_some();
    if let (true, Some(url)) = (section.warm_start, input.previous_model_data_url) {
        channels.push(Channel {
            channel_name: section.model_channel.clone(),
            data_source: s3_prefix(url),
            content_type: MODEL_CONTENT_TYPE.into(),
            compression_type: "None".into(),
            input_mode: "File".into(),
        });
    }
    let output = section
        .output_prefix
        .clone()
        .unwrap_or_else(|| join_uri(input.models_uri, &dataset_folder));
    let checkpoints = section
        .checkpoint_prefix
        .clone()
        .unwrap_or_else(|| join_uri(input.checkpoints_uri, &dataset_folder));
    let mut tags = managed_tags(input.dataset, input.fingerprint, &section.tags);
    // The job's own budget, so that cleanup-idle never stops it while SageMaker may still run it
    // (managed spot waits up to MaxWaitTime); a contract's own tag of that name wins.
    let budget_seconds = section.max_wait().unwrap_or(section.max_runtime_seconds);
    if !tags.iter().any(|t| t.key == BUDGET_TAG) {
        tags.push(Tag {
            key: BUDGET_TAG.into(),
            value: format!("{:.2}", f64::from(budget_seconds) / 3600.0),
        });
    }
    let request = CreateTrainingJob {
        training_job_name: name.clone(),
        algorithm_specification: AlgorithmSpecification {
            training_image: image,
            training_input_mode: section.input_mode.clone(),
        },
        role_arn: role_arn.clone(),
        input_data_config: channels,
        output_data_config: OutputDataConfig {
            s3_output_path: output.clone(),
        },
        resource_config: ResourceConfig {
            instance_type,
            instance_count: section.instance_count,
            volume_size_in_gb: volume,
        },
        stopping_condition: StoppingCondition {
            max_runtime_in_seconds: section.max_runtime_seconds,
            max_wait_time_in_seconds: section.max_wait(),
        },
        enable_managed_spot_training: section.spot,
        // Checkpoints also with on-demand: a retried job resumes instead of starting over. Per job name,
        // so a new model never starts from another job's checkpoints.
        checkpoint_config: CheckpointConfig {
            s3_uri: join_uri(&checkpoints, &format!("{name}/")),
            local_path: CHECKPOINT_LOCAL_PATH.into(),
        },
        hyper_parameters: hyperparameters,
        tags: tags.clone(),
        debug_hook_config: None,
        debug_rule_configurations: Vec::new(),
        profiler_config: None,
        profiler_rule_configurations: Vec::new(),
    };
    let mut request = request;
    if let Some(d) = &section.debugger {
        debugger(&mut request, d, input.region, &output)?;
    }
    let model_request = CreateModel {
        model_name: name,
        execution_role_arn: role_arn,
        primary_container: PrimaryContainer {
            image: inference_image,
            model_data_url: None,
        },
        tags,
    };
    let tuning = section.tuning.as_ref().map(|t| {
        let name = super::tuning::tuning_job_name(input.dataset, input.fingerprint, &settings_hash);
        super::tuning::tuning_request(t, &request, &name, input.last_tuning_job)
    });
    Ok(TrainingPlan {
        request,
        model_request,
        settings_hash,
        tuning,
        sizing,
        warm_start,
    })
}

/// An `S3Prefix` data source: an exact key is a prefix matching that object.
fn s3_prefix(uri: &str) -> DataSource {
    DataSource {
        s3_data_source: S3DataSource {
            s3_data_type: "S3Prefix".into(),
            s3_uri: uri.into(),
            s3_data_distribution_type: "FullyReplicated".into(),
        },
    }
}

impl CreateTrainingJob {
    /// A copy with another job name (retry after a failed or stopped job of the same name); the
    /// checkpoint location follows the name.
    pub fn renamed(&self, name: &str) -> CreateTrainingJob {
        let mut r = self.clone();
        r.checkpoint_config.s3_uri = r
            .checkpoint_config
            .s3_uri
            .replace(&format!("/{}/", self.training_job_name), &format!("/{name}/"));
        r.training_job_name = name.to_string();
        r
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::stages::plan::names::is_valid;

    const FP: &str = "blake3:4c1b2a4f0e6bd4a0b8f1a2f4e3d6c9b8a7f6e5d4c3b2a1908f7e6d5c4b3a2918";

    fn section(v: Value) -> TrainingSection {
        TrainingSection::from_value(&v, "c.yaml").unwrap()
    }

    fn input<'a>(
        format: &'a FormatSpec,
        compression: Compression,
        bytes: u64,
        previous: Option<&'a str>,
    ) -> TrainingInput<'a> {
        TrainingInput {
            dataset: "sales",
            fingerprint: FP,
            data_uri: "s3://b/incoming/sales/part-0.csv",
            format,
            compression,
            size: DataSize {
                bytes,
                rows: Some(200),
            },
            default_role_arn: Some("arn:aws:iam::123456789012:role/env"),
            models_uri: "s3://art/greenpipe/models/",
            checkpoints_uri: "s3://art/greenpipe/checkpoints/",
            previous_model_data_url: previous,
            last_utilisation: None,
            region: "eu-west-1",
            last_tuning_job: None,
        }
    }

    #[test]
    fn debugger_rules_and_the_profiler_are_added_only_when_the_contract_asks() {
        let csv = FormatSpec::csv();
        let plain = section(json!({"image": "img:1"}));
        let without = plan_training(&plain, &input(&csv, Compression::None, 1000, None)).unwrap();
        let request = serde_json::to_value(&without.request).unwrap();
        for key in [
            "DebugHookConfig",
            "DebugRuleConfigurations",
            "ProfilerConfig",
            "ProfilerRuleConfigurations",
        ] {
            assert!(
                request.get(key).is_none(),
                "{key} without a debugger section: {request:#}"
            );
        }

        let with = section(json!({"image": "img:1", "debugger": {}}));
        let plan = plan_training(&with, &input(&csv, Compression::None, 1000, None)).unwrap();
        let r = serde_json::to_value(&plan.request).unwrap();
        let image = "929884845733.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-debugger-rules:latest";
        let name = plan.request.training_job_name.clone();
        let stop = format!(r#"[{{"StopTraining":{{"training_job_prefix":"{name}"}}}}]"#);
        assert_eq!(
            r["DebugRuleConfigurations"],
            json!([
                {"RuleConfigurationName": "LossNotDecreasing", "RuleEvaluatorImage": image,
                 "RuleParameters": {"action_json": stop, "rule_to_invoke": "LossNotDecreasing"}},
                {"RuleConfigurationName": "Overfit", "RuleEvaluatorImage": image,
                 "RuleParameters": {"action_json": stop, "rule_to_invoke": "Overfit"}}
            ])
        );
        assert_eq!(
            r["ProfilerRuleConfigurations"],
            json!([{"RuleConfigurationName": "LowGPUUtilization", "RuleEvaluatorImage": image,
                    "RuleParameters": {"action_json": stop, "rule_to_invoke": "LowGPUUtilization"}}])
        );
        let debug = "s3://art/greenpipe/models/sales/";
        assert_eq!(r["DebugHookConfig"], json!({"S3OutputPath": debug}));
        assert_eq!(
            r["ProfilerConfig"],
            json!({"S3OutputPath": debug, "ProfilingIntervalInMilliseconds": 500})
        );
        // Turning Debugger on is a settings change; without it the hash is what it always was.
        assert_ne!(plan.settings_hash, without.settings_hash);

        let mut far = input(&csv, Compression::None, 1000, None);
        far.region = "mars-1";
        let e = plan_training(&with, &far).unwrap_err();
        assert!(e.to_string().contains("mars-1"), "{e}");
    }

    #[test]
    fn the_trainium_switch_right_sizes_onto_trn1_and_says_what_the_image_needs() {
        let csv = FormatSpec::csv();
        let t = section(json!({"image": "img:1", "accelerator": "trainium"}));
        let plan = plan_training(&t, &input(&csv, Compression::None, 1000, None)).unwrap();
        assert_eq!(plan.request.resource_config.instance_type, "ml.trn1.2xlarge");
        assert!(plan.sizing.contains("AWS Neuron"), "{}", plan.sizing);
        for bad in [
            json!({"image": "img:1", "accelerator": "inferentia"}),
            json!({"image": "img:1", "accelerator": "trainium", "instance_type": "ml.m5.large"}),
            json!({"image": "img:1", "transform": {"accelerator": "trainium"}}),
            json!({"image": "img:1", "transform": {"accelerator": "inferentia", "instance_type": "ml.m5.large"}}),
        ] {
            let e = TrainingSection::from_value(&bad, "c.yaml").unwrap_err();
            assert!(e.to_string().contains("accelerator"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_training_compiler_switch_needs_its_image_and_a_gpu_and_sets_its_hyperparameters() {
        let csv = FormatSpec::csv();
        let image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-trcomp-training:1.13.1-gpu-py39";
        let on = section(json!({"image": image, "instance_type": "ml.g5.xlarge", "compiler": true}));
        let plan = plan_training(&on, &input(&csv, Compression::None, 1000, None)).unwrap();
        assert_eq!(
            plan.request
                .hyper_parameters
                .get("sagemaker_training_compiler_enabled")
                .map(String::as_str),
            Some("true")
        );
        for bad in [
            json!({"image": "img:1", "instance_type": "ml.g5.xlarge", "compiler": true}),
            json!({"image": image, "compiler": true}),
            json!({"image": image, "instance_type": "ml.m5.xlarge", "compiler": true}),
            json!({"image": "img:1", "debugger": {"rules": ["made_up"]}}),
            json!({"image": "img:1", "debugger": {"rules": []}}),
            json!({"image": "img:1", "debugger": {"rules": ["low_gpu_utilization"], "profiler": false}}),
        ] {
            let e = TrainingSection::from_value(&bad, "c.yaml").unwrap_err();
            assert!(e.to_string().contains("training:"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_last_runs_utilisation_sizes_the_job_without_changing_its_settings() {
        use crate::pipeline::{InstanceUse, Usage, Utilisation};
        let csv = FormatSpec::csv();
        // 2 GiB of CSV: the table says ml.m5.xlarge (16 GiB).
        let bytes = 2u64 << 30;
        let s = section(json!({"image": "img:1"}));
        let sized = plan_training(&s, &input(&csv, Compression::None, bytes, None)).unwrap();
        assert_eq!(sized.request.resource_config.instance_type, "ml.m5.xlarge");
        let light = Utilisation {
            instance_type: "ml.m5.xlarge".into(),
            instance_count: 1,
            data_bytes: bytes,
            used: InstanceUse {
                cpu: Some(Usage {
                    average: 12.0,
                    peak: 30.0,
                }),
                memory: Some(Usage {
                    average: 15.0,
                    peak: 20.0,
                }),
                gpu: None,
            },
            gpu_memory: None,
            samples: 42,
        };
        let mut i = input(&csv, Compression::None, bytes, None);
        i.last_utilisation = Some(("sales-old", &light));
        let down = plan_training(&s, &i).unwrap();
        assert_eq!(down.request.resource_config.instance_type, "ml.m5.large");
        assert!(
            down.sizing
                .contains("down-sized from ml.m5.xlarge to ml.m5.large"),
            "{}",
            down.sizing
        );
        assert!(down.sizing.contains("sales-old"), "{}", down.sizing);
        // The same settings: unchanged data still finds its model.
        assert_eq!(down.settings_hash, sized.settings_hash);
        // A contract's own type is never overridden.
        let fixed = section(json!({"image": "img:1", "instance_type": "ml.m5.2xlarge"}));
        assert_eq!(
            plan_training(&fixed, &i)
                .unwrap()
                .request
                .resource_config
                .instance_type,
            "ml.m5.2xlarge"
        );
    }

    #[test]
    fn spot_with_checkpoints_and_max_wait() {
        let csv = FormatSpec::csv();
        let plan = plan_training(
            &section(json!({"image": "img:1", "max_runtime_seconds": 1800})),
            &input(&csv, Compression::None, 1000, None),
        )
        .unwrap();
        let r = serde_json::to_value(&plan.request).unwrap();
        assert_eq!(r["EnableManagedSpotTraining"], true);
        assert_eq!(
            r["StoppingCondition"],
            json!({"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 3600})
        );
        let name = r["TrainingJobName"].as_str().unwrap();
        assert!(name.starts_with("sales-4c1b2a4f0e6b-"), "{name}");
        assert!(is_valid(name));
        assert_eq!(
            r["CheckpointConfig"]["S3Uri"],
            format!("s3://art/greenpipe/checkpoints/sales/{name}/")
        );
        assert_eq!(r["CheckpointConfig"]["LocalPath"], "/opt/ml/checkpoints");
        assert_eq!(
            r["OutputDataConfig"]["S3OutputPath"],
            "s3://art/greenpipe/models/sales/"
        );
        assert_eq!(r["RoleArn"], "arn:aws:iam::123456789012:role/env");
        assert_eq!(
            r["ResourceConfig"],
            json!({"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10})
        );
        assert_eq!(r["InputDataConfig"].as_array().unwrap().len(), 1);
        assert_eq!(r["InputDataConfig"][0]["ContentType"], "text/csv");
        assert_eq!(
            r["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"],
            "s3://b/incoming/sales/part-0.csv"
        );
        assert_eq!(r["HyperParameters"], json!({}));
        let tags = r["Tags"].as_array().unwrap();
        assert!(tags.contains(&json!({"Key": "greenpipe:managed", "Value": "true"})));
        // Budget: MaxWaitTime (spot), in hours, for cleanup-idle.
        let wait = r["StoppingCondition"]["MaxWaitTimeInSeconds"].as_f64().unwrap();
        assert!(
            tags.contains(
                &json!({"Key": "greenpipe:budget-hours", "Value": format!("{:.2}", wait / 3600.0)})
            ),
            "{tags:?}"
        );
        // Every key the state machine reads is present.
        for k in [
            "TrainingJobName",
            "AlgorithmSpecification",
            "RoleArn",
            "InputDataConfig",
            "OutputDataConfig",
            "ResourceConfig",
            "StoppingCondition",
            "EnableManagedSpotTraining",
            "CheckpointConfig",
            "HyperParameters",
            "Tags",
        ] {
            assert!(r.get(k).is_some(), "{k}");
        }
        let m = serde_json::to_value(&plan.model_request).unwrap();
        assert_eq!(m["ModelName"], name);
        assert_eq!(m["PrimaryContainer"], json!({"Image": "img:1"}));
        // Deterministic.
        let again = plan_training(
            &section(json!({"image": "img:1", "max_runtime_seconds": 1800})),
            &input(&csv, Compression::None, 1000, None),
        )
        .unwrap();
        assert_eq!(again, plan);
    }

    #[test]
    fn on_demand_has_no_max_wait() {
        let csv = FormatSpec::csv();
        let plan = plan_training(
            &section(json!({"image": "i", "spot": false})),
            &input(&csv, Compression::None, 1, None),
        )
        .unwrap();
        let r = serde_json::to_value(&plan.request).unwrap();
        assert_eq!(r["EnableManagedSpotTraining"], false);
        assert_eq!(r["StoppingCondition"], json!({"MaxRuntimeInSeconds": 3600}));
        assert!(r["CheckpointConfig"]["S3Uri"]
            .as_str()
            .unwrap()
            .starts_with("s3://art/"));
    }

    #[test]
    fn settings_change_the_name_data_too() {
        let csv = FormatSpec::csv();
        let a = plan_training(
            &section(json!({"image": "i", "hyperparameters": {"eta": 0.1}})),
            &input(&csv, Compression::None, 1, None),
        )
        .unwrap();
        let b = plan_training(
            &section(json!({"image": "i", "hyperparameters": {"eta": 0.2}})),
            &input(&csv, Compression::None, 1, None),
        )
        .unwrap();
        assert_ne!(a.settings_hash, b.settings_hash);
        assert_ne!(a.request.training_job_name, b.request.training_job_name);
        let mut other = input(&csv, Compression::None, 1, None);
        other.fingerprint = "blake3:0000000000000000";
        let c = plan_training(
            &section(json!({"image": "i", "hyperparameters": {"eta": 0.1}})),
            &other,
        )
        .unwrap();
        assert_eq!(c.settings_hash, a.settings_hash);
        assert_ne!(c.request.training_job_name, a.request.training_job_name);
    }

    #[test]
    fn warm_start_adds_the_model_channel() {
        let jsonl = FormatSpec::Jsonl;
        let s = section(json!({"image": "i", "warm_start": true}));
        let previous = "s3://art/greenpipe/models/sales/old/output/model.tar.gz";
        let plan = plan_training(&s, &input(&jsonl, Compression::Gzip, 1, Some(previous))).unwrap();
        assert!(plan.warm_start);
        let r = serde_json::to_value(&plan.request).unwrap();
        let channels = r["InputDataConfig"].as_array().unwrap();
        assert_eq!(channels.len(), 2);
        assert_eq!(channels[0]["ContentType"], "application/jsonlines");
        assert_eq!(channels[0]["CompressionType"], "Gzip");
        assert_eq!(channels[1]["ChannelName"], "model");
        assert_eq!(channels[1]["ContentType"], MODEL_CONTENT_TYPE);
        assert_eq!(channels[1]["DataSource"]["S3DataSource"]["S3Uri"], previous);
        // The previous model does not change the name: a re-run plans the same job.
        let again = plan_training(&s, &input(&jsonl, Compression::Gzip, 1, Some("s3://other"))).unwrap();
        assert_eq!(again.request.training_job_name, plan.request.training_job_name);
        // No previous model: no channel, and no warm start claimed.
        let first = plan_training(&s, &input(&jsonl, Compression::Gzip, 1, None)).unwrap();
        assert!(!first.warm_start);
        assert_eq!(first.request.input_data_config.len(), 1);
        // Configured off: the previous model is ignored.
        let off = plan_training(
            &section(json!({"image": "i"})),
            &input(&jsonl, Compression::Gzip, 1, Some(previous)),
        )
        .unwrap();
        assert_eq!(off.request.input_data_config.len(), 1);
    }

    #[test]
    fn right_sizing_and_overrides() {
        let csv = FormatSpec::csv();
        let big = plan_training(
            &section(json!({"image": "i"})),
            &input(&csv, Compression::Gzip, 3 << 30, None),
        )
        .unwrap();
        assert_eq!(big.request.resource_config.instance_type, "ml.m5.2xlarge");
        assert_eq!(big.request.resource_config.volume_size_in_gb, 24);
        assert!(big.sizing.contains("GiB working set"), "{}", big.sizing);
        let fixed = plan_training(
            &section(json!({"image": "i", "instance_type": "ml.c5.xlarge", "instance_count": 2, "volume_size_gb": 50, "role_arn": "arn:aws:iam::1:role/c"})),
            &input(&csv, Compression::Gzip, 3 << 30, None),
        ).unwrap();
        assert_eq!(
            fixed.request.resource_config,
            ResourceConfig {
                instance_type: "ml.c5.xlarge".into(),
                instance_count: 2,
                volume_size_in_gb: 50
            }
        );
        assert_eq!(fixed.request.role_arn, "arn:aws:iam::1:role/c");
    }

    #[test]
    fn errors() {
        let csv = FormatSpec::csv();
        let mut no_role = input(&csv, Compression::None, 1, None);
        no_role.default_role_arn = None;
        assert_eq!(
            plan_training(&section(json!({"image": "i"})), &no_role)
                .unwrap_err()
                .error_type(),
            "ConfigError"
        );
        let zstd = plan_training(
            &section(json!({"image": "i"})),
            &input(&csv, Compression::Zstd, 1, None),
        )
        .unwrap_err();
        assert_eq!(zstd.error_type(), "UnsupportedFormat");
    }

    #[test]
    fn renamed_moves_checkpoints() {
        let csv = FormatSpec::csv();
        let plan = plan_training(
            &section(json!({"image": "i"})),
            &input(&csv, Compression::None, 1, None),
        )
        .unwrap();
        let name = plan.request.training_job_name.clone();
        let r = plan.request.renamed(&format!("{name}-2"));
        assert_eq!(r.training_job_name, format!("{name}-2"));
        assert!(r.checkpoint_config.s3_uri.ends_with(&format!("/{name}-2/")));
    }
}
