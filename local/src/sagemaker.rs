//! Step Functions' optimized SageMaker integrations, for the local executor:
//! `arn:aws:states:::sagemaker:createTrainingJob[.sync]`, `...:createModel`,
//! `...:createTransformJob[.sync]` and `...:createHyperParameterTuningJob[.sync]`.
//!
//! The Task's Parameters are the API request in PascalCase, exactly as Step Functions takes them. They are
//! converted field by field to the aws-sdk-sagemaker builders; a field greenpipe does not convert is an
//! error naming the state and the field (at load time through [`check_template`], at run time as
//! States.Runtime, which is what Step Functions raises for a field it does not support). `.sync` means:
//! create, then Describe until the job is Completed, Failed or Stopped, sleeping on the run's clock with a
//! growing interval. The task result is the Describe response in PascalCase (timestamps as epoch
//! milliseconds, as Step Functions returns them); a job that ends Failed or Stopped fails the task with
//! States.TaskFailed and the Describe response as the cause. SageMaker's own errors are
//! `SageMaker.AmazonSageMakerException` (cause: the code and message), a request that got no answer
//! `SageMaker.SdkClientException`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sagemaker::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::types as sm;
use greenpipe_statemachine::{names, Clock, TaskError};
use serde_json::{json, Map, Value};

const PREFIX: &str = "arn:aws:states:::sagemaker:";
/// First Describe poll after the create call; each next one waits 1.5 times longer, up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_secs(5);
const POLL_MAX: Duration = Duration::from_secs(60);

/// Error name of SageMaker's own errors in the optimized integration.
pub const SERVICE_ERROR: &str = "SageMaker.AmazonSageMakerException";
/// Error name when SageMaker could not be reached.
pub const CLIENT_ERROR: &str = "SageMaker.SdkClientException";

/// One supported SageMaker integration (named after the API action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum Api {
    CreateTrainingJob { sync: bool },
    CreateModel,
    CreateTransformJob { sync: bool },
    CreateHyperParameterTuningJob { sync: bool },
}

impl Api {
    /// The integration a Task's Resource names, if it is one of ours.
    pub fn parse(resource: &str) -> Option<Api> {
        let (action, sync) = match resource.strip_prefix(PREFIX)? {
            a if a.ends_with(".sync") => (a.trim_end_matches(".sync"), true),
            a => (a, false),
        };
        match action {
            "createTrainingJob" => Some(Api::CreateTrainingJob { sync }),
            "createModel" if !sync => Some(Api::CreateModel),
            "createTransformJob" => Some(Api::CreateTransformJob { sync }),
            "createHyperParameterTuningJob" => Some(Api::CreateHyperParameterTuningJob { sync }),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Api::CreateTrainingJob { .. } => "CreateTrainingJob",
            Api::CreateModel => "CreateModel",
            Api::CreateTransformJob { .. } => "CreateTransformJob",
            Api::CreateHyperParameterTuningJob { .. } => "CreateHyperParameterTuningJob",
        }
    }

    /// Top-level request fields greenpipe converts.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Api::CreateTrainingJob { .. } => &[
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
                "Environment",
                "EnableNetworkIsolation",
                "Tags",
                "DebugHookConfig",
                "DebugRuleConfigurations",
                "ProfilerConfig",
                "ProfilerRuleConfigurations",
            ],
            Api::CreateHyperParameterTuningJob { .. } => &[
                "HyperParameterTuningJobName",
                "HyperParameterTuningJobConfig",
                "TrainingJobDefinition",
                "WarmStartConfig",
                "Tags",
            ],
            Api::CreateModel => &[
                "ModelName",
                "ExecutionRoleArn",
                "PrimaryContainer",
                "EnableNetworkIsolation",
                "Tags",
            ],
            Api::CreateTransformJob { .. } => &[
                "TransformJobName",
                "ModelName",
                "TransformInput",
                "TransformOutput",
                "TransformResources",
                "BatchStrategy",
                "MaxPayloadInMB",
                "MaxConcurrentTransforms",
                "DataProcessing",
                "Environment",
                "Tags",
            ],
        }
    }
}

/// Load-time check of a Task's Parameters template (before paths are resolved): every top-level field
/// must be one greenpipe converts. Returns the problems, each naming the field. A state with no
/// Parameters sends its effective input (after InputPath) as the request, which is checked field by
/// field when it runs.
pub fn check_template(api: Api, parameters: Option<&Value>) -> Vec<String> {
    let p = match parameters {
        None => return Vec::new(),
        Some(Value::Object(p)) => p,
        Some(_) => {
            return vec![format!(
                "Parameters: {} needs its request as an object",
                api.name()
            )]
        }
    };
    p.keys()
        .map(|k| k.strip_suffix(".$").unwrap_or(k))
        .filter(|k| !api.fields().contains(k))
        .map(|k| {
            format!(
                "Parameters.{k}: the field is not supported by greenpipe's {} integration",
                api.name()
            )
        })
        .collect()
}

/// Reads a JSON object field by field; whatever is left unread at [`Fields::done`] is an error naming it.
struct Fields {
    path: String,
    map: Map<String, Value>,
}

type Conv<T> = Result<T, String>;

impl Fields {
    fn new(path: impl Into<String>, v: Value) -> Conv<Fields> {
        let path = path.into();
        match v {
            Value::Object(map) => Ok(Fields { path, map }),
            other => Err(format!("{path} must be an object, got {other}")),
        }
    }

    fn at(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|v| !v.is_null())
    }

    fn str(&mut self, name: &str) -> Conv<Option<String>> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!("{} must be a string, got {other}", self.at(name))),
        }
    }

    fn req(&mut self, name: &str) -> Conv<String> {
        self.str(name)?
            .ok_or_else(|| format!("{} is required", self.at(name)))
    }

    fn int(&mut self, name: &str) -> Conv<Option<i32>> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| format!("{} must be an integer, got {v}", self.at(name))),
        }
    }

    fn bool(&mut self, name: &str) -> Conv<Option<bool>> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(format!("{} must be true or false, got {other}", self.at(name))),
        }
    }

    fn obj(&mut self, name: &str) -> Conv<Option<Fields>> {
        let path = self.at(name);
        self.take(name).map(|v| Fields::new(path, v)).transpose()
    }

    fn list(&mut self, name: &str) -> Conv<Vec<Fields>> {
        let path = self.at(name);
        match self.take(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| Fields::new(format!("{path}[{i}]"), v))
                .collect(),
            Some(other) => Err(format!("{path} must be an array, got {other}")),
        }
    }

    fn string_map(&mut self, name: &str) -> Conv<Option<HashMap<String, String>>> {
        let path = self.at(name);
        match self.take(name) {
            None => Ok(None),
            Some(Value::Object(m)) => m
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k, s)),
                    other => Err(format!("{path}.{k} must be a string, got {other}")),
                })
                .collect::<Conv<_>>()
                .map(Some),
            Some(other) => Err(format!("{path} must be an object of strings, got {other}")),
        }
    }

    /// An enum value, checked against the SDK's list of known values.
    fn enumerated<T: for<'a> From<&'a str>>(&mut self, name: &str, known: &[&str]) -> Conv<Option<T>> {
        match self.str(name)? {
            None => Ok(None),
            Some(s) if known.contains(&s.as_str()) => Ok(Some(T::from(s.as_str()))),
            Some(s) => Err(format!(
                "{} must be one of {}, got {s:?}",
                self.at(name),
                known.join(", ")
            )),
        }
    }

    fn done(self) -> Conv<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => Err(format!(
                "the field '{}' is not supported by greenpipe's SageMaker integration",
                self.at(k)
            )),
        }
    }

    fn tags(&mut self) -> Conv<Option<Vec<sm::Tag>>> {
        if !self.map.contains_key("Tags") {
            return Ok(None);
        }
        let mut tags = Vec::new();
        for mut t in self.list("Tags")? {
            tags.push(
                sm::Tag::builder()
                    .key(t.req("Key")?)
                    .value(t.req("Value")?)
                    .build(),
            );
            t.done()?;
        }
        Ok(Some(tags))
    }
}

fn s3_data_source(mut f: Fields) -> Conv<sm::S3DataSource> {
    let out = sm::S3DataSource::builder()
        .set_s3_data_type(f.enumerated("S3DataType", sm::S3DataType::values())?)
        .s3_uri(f.req("S3Uri")?)
        .set_s3_data_distribution_type(
            f.enumerated("S3DataDistributionType", sm::S3DataDistribution::values())?,
        )
        .build();
    f.done()?;
    Ok(out)
}

fn channel(mut f: Fields) -> Conv<sm::Channel> {
    let mut source = f
        .obj("DataSource")?
        .ok_or_else(|| f.at("DataSource") + " is required")?;
    let s3 = source
        .obj("S3DataSource")?
        .ok_or_else(|| source.at("S3DataSource") + " is required")?;
    let data_source = sm::DataSource::builder()
        .s3_data_source(s3_data_source(s3)?)
        .build();
    source.done()?;
    let out = sm::Channel::builder()
        .channel_name(f.req("ChannelName")?)
        .data_source(data_source)
        .set_content_type(f.str("ContentType")?)
        .set_compression_type(f.enumerated("CompressionType", sm::CompressionType::values())?)
        .set_input_mode(f.enumerated("InputMode", sm::TrainingInputMode::values())?)
        .set_record_wrapper_type(f.enumerated("RecordWrapperType", sm::RecordWrapper::values())?)
        .build();
    f.done()?;
    Ok(out)
}

/// `createTrainingJob`: send the request; returns the job name and the response.
async fn create_training_job(
    client: &aws_sdk_sagemaker::Client,
    params: Value,
) -> Result<(String, Value), TaskError> {
    let request = training_request(client, params).map_err(runtime)?;
    let name = request.get_training_job_name().clone().unwrap_or_default();
    let out = request.send().await.map_err(service_error)?;
    Ok((name, json!({"TrainingJobArn": out.training_job_arn()})))
}

/// A Debugger or profiler rule configuration (two SDK types with the same fields) from its JSON.
macro_rules! rule_configuration {
    ($ty:ty, $fields:expr) => {{
        let mut r = $fields;
        let built = <$ty>::builder()
            .rule_configuration_name(r.req("RuleConfigurationName")?)
            .rule_evaluator_image(r.req("RuleEvaluatorImage")?)
            .set_local_path(r.str("LocalPath")?)
            .set_s3_output_path(r.str("S3OutputPath")?)
            .set_rule_parameters(r.string_map("RuleParameters")?)
            .set_instance_type(r.enumerated("InstanceType", sm::ProcessingInstanceType::values())?)
            .set_volume_size_in_gb(r.int("VolumeSizeInGB")?)
            .build();
        r.done()?;
        built
    }};
}

fn training_request(
    client: &aws_sdk_sagemaker::Client,
    params: Value,
) -> Conv<aws_sdk_sagemaker::operation::create_training_job::builders::CreateTrainingJobFluentBuilder> {
    let mut f = Fields::new("", params)?;
    let mut req = client
        .create_training_job()
        .training_job_name(f.req("TrainingJobName")?)
        .role_arn(f.req("RoleArn")?);
    if let Some(mut a) = f.obj("AlgorithmSpecification")? {
        req = req.algorithm_specification(
            sm::AlgorithmSpecification::builder()
                .set_training_image(a.str("TrainingImage")?)
                .set_algorithm_name(a.str("AlgorithmName")?)
                .set_training_input_mode(a.enumerated("TrainingInputMode", sm::TrainingInputMode::values())?)
                .build(),
        );
        a.done()?;
    }
    for c in f.list("InputDataConfig")? {
        req = req.input_data_config(channel(c)?);
    }
    let job = JobFields::read(&mut f)?;
    req = req
        .set_output_data_config(job.output)
        .set_resource_config(job.resources)
        .set_stopping_condition(job.stopping)
        .set_enable_managed_spot_training(job.spot)
        .set_checkpoint_config(job.checkpoints);
    req = req
        .set_hyper_parameters(f.string_map("HyperParameters")?)
        .set_environment(f.string_map("Environment")?)
        .set_enable_network_isolation(f.bool("EnableNetworkIsolation")?)
        .set_tags(f.tags()?);
    if let Some(mut h) = f.obj("DebugHookConfig")? {
        req = req.debug_hook_config(
            sm::DebugHookConfig::builder()
                .s3_output_path(h.req("S3OutputPath")?)
                .set_local_path(h.str("LocalPath")?)
                .set_hook_parameters(h.string_map("HookParameters")?)
                .build(),
        );
        h.done()?;
    }
    for r in f.list("DebugRuleConfigurations")? {
        req = req.debug_rule_configurations(rule_configuration!(sm::DebugRuleConfiguration, r));
    }
    if let Some(mut p) = f.obj("ProfilerConfig")? {
        req = req.profiler_config(
            sm::ProfilerConfig::builder()
                .set_s3_output_path(p.str("S3OutputPath")?)
                .set_profiling_interval_in_milliseconds(
                    p.int("ProfilingIntervalInMilliseconds")?.map(i64::from),
                )
                .set_profiling_parameters(p.string_map("ProfilingParameters")?)
                .set_disable_profiler(p.bool("DisableProfiler")?)
                .build(),
        );
        p.done()?;
    }
    for r in f.list("ProfilerRuleConfigurations")? {
        req = req.profiler_rule_configurations(rule_configuration!(sm::ProfilerRuleConfiguration, r));
    }
    f.done()?;
    Ok(req)
}

/// What a training job and a tuning job's training definition share.
struct JobFields {
    output: Option<sm::OutputDataConfig>,
    resources: Option<sm::ResourceConfig>,
    stopping: Option<sm::StoppingCondition>,
    spot: Option<bool>,
    checkpoints: Option<sm::CheckpointConfig>,
}

impl JobFields {
    fn read(f: &mut Fields) -> Conv<JobFields> {
        let mut out = JobFields {
            output: None,
            resources: None,
            stopping: None,
            spot: f.bool("EnableManagedSpotTraining")?,
            checkpoints: None,
        };
        if let Some(mut o) = f.obj("OutputDataConfig")? {
            out.output = Some(
                sm::OutputDataConfig::builder()
                    .s3_output_path(o.req("S3OutputPath")?)
                    .set_kms_key_id(o.str("KmsKeyId")?)
                    .build(),
            );
            o.done()?;
        }
        if let Some(mut r) = f.obj("ResourceConfig")? {
            out.resources = Some(
                sm::ResourceConfig::builder()
                    .set_instance_type(r.enumerated("InstanceType", sm::TrainingInstanceType::values())?)
                    .set_instance_count(r.int("InstanceCount")?)
                    .set_volume_size_in_gb(r.int("VolumeSizeInGB")?)
                    .set_keep_alive_period_in_seconds(r.int("KeepAlivePeriodInSeconds")?)
                    .build(),
            );
            r.done()?;
        }
        if let Some(mut s) = f.obj("StoppingCondition")? {
            out.stopping = Some(
                sm::StoppingCondition::builder()
                    .set_max_runtime_in_seconds(s.int("MaxRuntimeInSeconds")?)
                    .set_max_wait_time_in_seconds(s.int("MaxWaitTimeInSeconds")?)
                    .build(),
            );
            s.done()?;
        }
        if let Some(mut c) = f.obj("CheckpointConfig")? {
            out.checkpoints = Some(
                sm::CheckpointConfig::builder()
                    .s3_uri(c.req("S3Uri")?)
                    .set_local_path(c.str("LocalPath")?)
                    .build(),
            );
            c.done()?;
        }
        Ok(out)
    }
}

/// `createHyperParameterTuningJob`: send the request; returns the tuning job's name and the response.
async fn create_tuning_job(
    client: &aws_sdk_sagemaker::Client,
    params: Value,
) -> Result<(String, Value), TaskError> {
    let request = tuning_request(client, params).map_err(runtime)?;
    let name = request
        .get_hyper_parameter_tuning_job_name()
        .clone()
        .unwrap_or_default();
    let out = request.send().await.map_err(service_error)?;
    Ok((
        name,
        json!({"HyperParameterTuningJobArn": out.hyper_parameter_tuning_job_arn()}),
    ))
}

fn tuning_request(
    client: &aws_sdk_sagemaker::Client,
    params: Value,
) -> Conv<aws_sdk_sagemaker::operation::create_hyper_parameter_tuning_job::builders::CreateHyperParameterTuningJobFluentBuilder>{
    let mut f = Fields::new("", params)?;
    let mut req = client
        .create_hyper_parameter_tuning_job()
        .hyper_parameter_tuning_job_name(f.req("HyperParameterTuningJobName")?);
    let mut c = f
        .obj("HyperParameterTuningJobConfig")?
        .ok_or("HyperParameterTuningJobConfig is required")?;
    let mut config = sm::HyperParameterTuningJobConfig::builder()
        .set_strategy(c.enumerated("Strategy", sm::HyperParameterTuningJobStrategyType::values())?)
        .set_training_job_early_stopping_type(c.enumerated(
            "TrainingJobEarlyStoppingType",
            sm::TrainingJobEarlyStoppingType::values(),
        )?);
    if let Some(mut o) = c.obj("HyperParameterTuningJobObjective")? {
        config = config.hyper_parameter_tuning_job_objective(
            sm::HyperParameterTuningJobObjective::builder()
                .set_type(o.enumerated("Type", sm::HyperParameterTuningJobObjectiveType::values())?)
                .metric_name(o.req("MetricName")?)
                .build(),
        );
        o.done()?;
    }
    if let Some(mut l) = c.obj("ResourceLimits")? {
        config = config.resource_limits(
            sm::ResourceLimits::builder()
                .set_max_number_of_training_jobs(l.int("MaxNumberOfTrainingJobs")?)
                .set_max_parallel_training_jobs(l.int("MaxParallelTrainingJobs")?)
                .build(),
        );
        l.done()?;
    }
    if let Some(mut r) = c.obj("ParameterRanges")? {
        let mut ranges = sm::ParameterRanges::builder();
        for mut i in r.list("IntegerParameterRanges")? {
            ranges = ranges.integer_parameter_ranges(
                sm::IntegerParameterRange::builder()
                    .name(i.req("Name")?)
                    .min_value(i.req("MinValue")?)
                    .max_value(i.req("MaxValue")?)
                    .build(),
            );
            i.done()?;
        }
        for mut i in r.list("ContinuousParameterRanges")? {
            ranges = ranges.continuous_parameter_ranges(
                sm::ContinuousParameterRange::builder()
                    .name(i.req("Name")?)
                    .min_value(i.req("MinValue")?)
                    .max_value(i.req("MaxValue")?)
                    .build(),
            );
            i.done()?;
        }
        for mut i in r.list("CategoricalParameterRanges")? {
            let values = match i.take("Values") {
                Some(Value::Array(v)) => v
                    .into_iter()
                    .map(|x| match x {
                        Value::String(s) => Ok(s),
                        other => Err(format!("{} values must be strings, got {other}", i.at("Values"))),
                    })
                    .collect::<Conv<Vec<_>>>()?,
                _ => return Err(format!("{} must be an array of strings", i.at("Values"))),
            };
            ranges = ranges.categorical_parameter_ranges(
                sm::CategoricalParameterRange::builder()
                    .name(i.req("Name")?)
                    .set_values(Some(values))
                    .build(),
            );
            i.done()?;
        }
        r.done()?;
        config = config.parameter_ranges(ranges.build());
    }
    c.done()?;
    req = req.hyper_parameter_tuning_job_config(config.build());
    if let Some(mut d) = f.obj("TrainingJobDefinition")? {
        let mut definition = sm::HyperParameterTrainingJobDefinition::builder()
            .set_static_hyper_parameters(d.string_map("StaticHyperParameters")?)
            .role_arn(d.req("RoleArn")?);
        if let Some(mut a) = d.obj("AlgorithmSpecification")? {
            let mut spec = sm::HyperParameterAlgorithmSpecification::builder()
                .set_training_image(a.str("TrainingImage")?)
                .set_algorithm_name(a.str("AlgorithmName")?)
                .set_training_input_mode(a.enumerated("TrainingInputMode", sm::TrainingInputMode::values())?);
            for mut m in a.list("MetricDefinitions")? {
                spec = spec.metric_definitions(
                    sm::MetricDefinition::builder()
                        .name(m.req("Name")?)
                        .regex(m.req("Regex")?)
                        .build(),
                );
                m.done()?;
            }
            definition = definition.algorithm_specification(spec.build());
            a.done()?;
        }
        for ch in d.list("InputDataConfig")? {
            definition = definition.input_data_config(channel(ch)?);
        }
        let job = JobFields::read(&mut d)?;
        definition = definition
            .set_output_data_config(job.output)
            .set_resource_config(job.resources)
            .set_stopping_condition(job.stopping)
            .set_enable_managed_spot_training(job.spot)
            .set_checkpoint_config(job.checkpoints);
        d.done()?;
        req = req.training_job_definition(definition.build());
    }
    if let Some(mut w) = f.obj("WarmStartConfig")? {
        let mut warm =
            sm::HyperParameterTuningJobWarmStartConfig::builder().set_warm_start_type(w.enumerated(
                "WarmStartType",
                sm::HyperParameterTuningJobWarmStartType::values(),
            )?);
        for mut p in w.list("ParentHyperParameterTuningJobs")? {
            warm = warm.parent_hyper_parameter_tuning_jobs(
                sm::ParentHyperParameterTuningJob::builder()
                    .set_hyper_parameter_tuning_job_name(p.str("HyperParameterTuningJobName")?)
                    .build(),
            );
            p.done()?;
        }
        w.done()?;
        req = req.warm_start_config(warm.build());
    }
    req = req.set_tags(f.tags()?);
    f.done()?;
    Ok(req)
}

async fn create_model(client: &aws_sdk_sagemaker::Client, params: Value) -> Result<Value, TaskError> {
    let request = model_request(client, params).map_err(runtime)?;
    let out = request.send().await.map_err(service_error)?;
    Ok(json!({"ModelArn": out.model_arn()}))
}

fn model_request(
    client: &aws_sdk_sagemaker::Client,
    params: Value,
) -> Conv<aws_sdk_sagemaker::operation::create_model::builders::CreateModelFluentBuilder> {
    let mut f = Fields::new("", params)?;
    let mut req = client
        .create_model()
        .model_name(f.req("ModelName")?)
        .execution_role_arn(f.req("ExecutionRoleArn")?);
    if let Some(mut c) = f.obj("PrimaryContainer")? {
        req = req.primary_container(
            sm::ContainerDefinition::builder()
                .set_image(c.str("Image")?)
                .set_model_data_url(c.str("ModelDataUrl")?)
                .set_environment(c.string_map("Environment")?)
                .build(),
        );
        c.done()?;
    }
    req = req
        .set_enable_network_isolation(f.bool("EnableNetworkIsolation")?)
        .set_tags(f.tags()?);
    f.done()?;
    Ok(req)
}

async fn create_transform_job(
    client: &aws_sdk_sagemaker::Client,
    params: Value,
) -> Result<(String, Value), TaskError> {
    let request = transform_request(client, params).map_err(runtime)?;
    let name = request.get_transform_job_name().clone().unwrap_or_default();
    let out = request.send().await.map_err(service_error)?;
    Ok((name, json!({"TransformJobArn": out.transform_job_arn()})))
}

fn transform_request(
    client: &aws_sdk_sagemaker::Client,
    params: Value,
) -> Conv<aws_sdk_sagemaker::operation::create_transform_job::builders::CreateTransformJobFluentBuilder> {
    let mut f = Fields::new("", params)?;
    let mut req = client
        .create_transform_job()
        .transform_job_name(f.req("TransformJobName")?)
        .model_name(f.req("ModelName")?);
    if let Some(mut i) = f.obj("TransformInput")? {
        let mut ds = i
            .obj("DataSource")?
            .ok_or_else(|| i.at("DataSource") + " is required")?;
        let mut s3 = ds
            .obj("S3DataSource")?
            .ok_or_else(|| ds.at("S3DataSource") + " is required")?;
        let source = sm::TransformS3DataSource::builder()
            .set_s3_data_type(s3.enumerated("S3DataType", sm::S3DataType::values())?)
            .s3_uri(s3.req("S3Uri")?)
            .build();
        s3.done()?;
        ds.done()?;
        req = req.transform_input(
            sm::TransformInput::builder()
                .data_source(sm::TransformDataSource::builder().s3_data_source(source).build())
                .set_content_type(i.str("ContentType")?)
                .set_compression_type(i.enumerated("CompressionType", sm::CompressionType::values())?)
                .set_split_type(i.enumerated("SplitType", sm::SplitType::values())?)
                .build(),
        );
        i.done()?;
    }
    if let Some(mut o) = f.obj("TransformOutput")? {
        req = req.transform_output(
            sm::TransformOutput::builder()
                .s3_output_path(o.req("S3OutputPath")?)
                .set_accept(o.str("Accept")?)
                .set_assemble_with(o.enumerated("AssembleWith", sm::AssemblyType::values())?)
                .set_kms_key_id(o.str("KmsKeyId")?)
                .build(),
        );
        o.done()?;
    }
    if let Some(mut r) = f.obj("TransformResources")? {
        req = req.transform_resources(
            sm::TransformResources::builder()
                .set_instance_type(r.enumerated("InstanceType", sm::TransformInstanceType::values())?)
                .set_instance_count(r.int("InstanceCount")?)
                .build(),
        );
        r.done()?;
    }
    req = req
        .set_batch_strategy(f.enumerated("BatchStrategy", sm::BatchStrategy::values())?)
        .set_max_payload_in_mb(f.int("MaxPayloadInMB")?)
        .set_max_concurrent_transforms(f.int("MaxConcurrentTransforms")?);
    if let Some(mut d) = f.obj("DataProcessing")? {
        // `{}` (no filters) is sent as no DataProcessing at all: the API's defaults are the same.
        if !d.map.is_empty() {
            req = req.data_processing(
                sm::DataProcessing::builder()
                    .set_input_filter(d.str("InputFilter")?)
                    .set_output_filter(d.str("OutputFilter")?)
                    .set_join_source(d.enumerated("JoinSource", sm::JoinSource::values())?)
                    .build(),
            );
        }
        d.done()?;
    }
    req = req
        .set_environment(f.string_map("Environment")?)
        .set_tags(f.tags()?);
    f.done()?;
    Ok(req)
}

/// Runs SageMaker integrations against one endpoint (AWS, or an emulator through AWS_ENDPOINT_URL).
pub struct SageMaker {
    pub client: aws_sdk_sagemaker::Client,
    pub clock: Arc<dyn Clock>,
}

impl SageMaker {
    /// Run `api` with the Task's effective Parameters; returns the task result. `submitted` gets the
    /// create call's response of a `.sync` job (the history's TaskSubmitted event).
    pub async fn run(
        &self,
        api: Api,
        params: Value,
        state: &str,
        submitted: &(dyn Fn(Value) + Send + Sync),
    ) -> Result<Value, TaskError> {
        let at_state = |e: TaskError| match e.error.as_str() {
            names::RUNTIME => TaskError::new(names::RUNTIME, format!("state '{state}': {}", e.cause)),
            _ => e,
        };
        match api {
            Api::CreateModel => create_model(&self.client, params).await.map_err(at_state),
            Api::CreateTrainingJob { sync } => {
                let (name, created) = create_training_job(&self.client, params)
                    .await
                    .map_err(at_state)?;
                if !sync {
                    return Ok(created);
                }
                submitted(created);
                self.until_terminal("TrainingJobStatus", || self.describe_training_job(&name))
                    .await
            }
            Api::CreateHyperParameterTuningJob { sync } => {
                let (name, created) = create_tuning_job(&self.client, params).await.map_err(at_state)?;
                if !sync {
                    return Ok(created);
                }
                submitted(created);
                self.until_terminal("HyperParameterTuningJobStatus", || {
                    self.describe_tuning_job(&name)
                })
                .await
            }
            Api::CreateTransformJob { sync } => {
                let (name, created) = create_transform_job(&self.client, params)
                    .await
                    .map_err(at_state)?;
                if !sync {
                    return Ok(created);
                }
                submitted(created);
                self.until_terminal("TransformJobStatus", || self.describe_transform_job(&name))
                    .await
            }
        }
    }

    /// Describe until `status_field` is terminal, with a growing pause on the run's clock.
    async fn until_terminal<F, Fut>(&self, status_field: &str, describe: F) -> Result<Value, TaskError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Value, TaskError>>,
    {
        let mut pause = POLL_FIRST;
        loop {
            let out = describe().await?;
            match out[status_field].as_str().unwrap_or_default() {
                "Completed" => return Ok(out),
                "Failed" | "Stopped" => return Err(TaskError::new(names::TASK_FAILED, out.to_string())),
                _ => {
                    self.clock.sleep(pause).await;
                    pause = (pause.mul_f64(1.5)).min(POLL_MAX);
                }
            }
        }
    }

    async fn describe_training_job(&self, name: &str) -> Result<Value, TaskError> {
        let d = self
            .client
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
            .map_err(service_error)?;
        let mut o = Map::new();
        put(&mut o, "TrainingJobName", d.training_job_name());
        put(&mut o, "TrainingJobArn", d.training_job_arn());
        put(
            &mut o,
            "TrainingJobStatus",
            d.training_job_status().map(|s| s.as_str()),
        );
        put(
            &mut o,
            "SecondaryStatus",
            d.secondary_status().map(|s| s.as_str()),
        );
        put(&mut o, "FailureReason", d.failure_reason());
        if let Some(m) = d.model_artifacts() {
            o.insert(
                "ModelArtifacts".into(),
                json!({"S3ModelArtifacts": m.s3_model_artifacts()}),
            );
        }
        put(&mut o, "HyperParameters", d.hyper_parameters());
        if let Some(a) = d.algorithm_specification() {
            let mut m = Map::new();
            put(&mut m, "TrainingImage", a.training_image());
            put(&mut m, "AlgorithmName", a.algorithm_name());
            put(
                &mut m,
                "TrainingInputMode",
                a.training_input_mode().map(|s| s.as_str()),
            );
            o.insert("AlgorithmSpecification".into(), Value::Object(m));
        }
        put(&mut o, "RoleArn", d.role_arn());
        let channels: Vec<Value> = d.input_data_config().iter().map(channel_json).collect();
        if !channels.is_empty() {
            o.insert("InputDataConfig".into(), Value::Array(channels));
        }
        if let Some(c) = d.output_data_config() {
            let mut m = Map::new();
            put(&mut m, "S3OutputPath", c.s3_output_path());
            put(&mut m, "KmsKeyId", c.kms_key_id());
            o.insert("OutputDataConfig".into(), Value::Object(m));
        }
        if let Some(r) = d.resource_config() {
            let mut m = Map::new();
            put(&mut m, "InstanceType", r.instance_type().map(|s| s.as_str()));
            put(&mut m, "InstanceCount", r.instance_count());
            put(&mut m, "VolumeSizeInGB", r.volume_size_in_gb());
            o.insert("ResourceConfig".into(), Value::Object(m));
        }
        if let Some(s) = d.stopping_condition() {
            let mut m = Map::new();
            put(&mut m, "MaxRuntimeInSeconds", s.max_runtime_in_seconds());
            put(&mut m, "MaxWaitTimeInSeconds", s.max_wait_time_in_seconds());
            o.insert("StoppingCondition".into(), Value::Object(m));
        }
        put(
            &mut o,
            "EnableManagedSpotTraining",
            d.enable_managed_spot_training(),
        );
        if let Some(c) = d.checkpoint_config() {
            let mut m = Map::new();
            put(&mut m, "S3Uri", c.s3_uri());
            put(&mut m, "LocalPath", c.local_path());
            o.insert("CheckpointConfig".into(), Value::Object(m));
        }
        put(&mut o, "EnableNetworkIsolation", d.enable_network_isolation());
        put(&mut o, "Environment", d.environment());
        // Debugger's verdicts (a job its StopTraining action stopped says which rule found an issue).
        for (key, statuses) in [
            (
                "DebugRuleEvaluationStatuses",
                d.debug_rule_evaluation_statuses()
                    .iter()
                    .map(|e| {
                        (
                            e.rule_configuration_name(),
                            e.rule_evaluation_status().map(|s| s.as_str()),
                            e.status_details(),
                        )
                    })
                    .collect::<Vec<_>>(),
            ),
            (
                "ProfilerRuleEvaluationStatuses",
                d.profiler_rule_evaluation_statuses()
                    .iter()
                    .map(|e| {
                        (
                            e.rule_configuration_name(),
                            e.rule_evaluation_status().map(|s| s.as_str()),
                            e.status_details(),
                        )
                    })
                    .collect::<Vec<_>>(),
            ),
        ] {
            if !statuses.is_empty() {
                let list = statuses
                    .into_iter()
                    .map(|(name, status, details)| {
                        let mut m = Map::new();
                        put(&mut m, "RuleConfigurationName", name);
                        put(&mut m, "RuleEvaluationStatus", status);
                        put(&mut m, "StatusDetails", details);
                        Value::Object(m)
                    })
                    .collect();
                o.insert(key.into(), Value::Array(list));
            }
        }
        put(&mut o, "TrainingTimeInSeconds", d.training_time_in_seconds());
        put(&mut o, "BillableTimeInSeconds", d.billable_time_in_seconds());
        put(&mut o, "CreationTime", d.creation_time().map(epoch_millis));
        put(
            &mut o,
            "TrainingStartTime",
            d.training_start_time().map(epoch_millis),
        );
        put(&mut o, "TrainingEndTime", d.training_end_time().map(epoch_millis));
        put(
            &mut o,
            "LastModifiedTime",
            d.last_modified_time().map(epoch_millis),
        );
        Ok(Value::Object(o))
    }

    async fn describe_tuning_job(&self, name: &str) -> Result<Value, TaskError> {
        let d = self
            .client
            .describe_hyper_parameter_tuning_job()
            .hyper_parameter_tuning_job_name(name)
            .send()
            .await
            .map_err(service_error)?;
        let mut o = Map::new();
        put(
            &mut o,
            "HyperParameterTuningJobName",
            d.hyper_parameter_tuning_job_name(),
        );
        put(
            &mut o,
            "HyperParameterTuningJobArn",
            d.hyper_parameter_tuning_job_arn(),
        );
        put(
            &mut o,
            "HyperParameterTuningJobStatus",
            d.hyper_parameter_tuning_job_status().map(|s| s.as_str()),
        );
        put(&mut o, "FailureReason", d.failure_reason());
        if let Some(b) = d.best_training_job() {
            let mut m = Map::new();
            put(&mut m, "TrainingJobName", b.training_job_name());
            put(&mut m, "TrainingJobArn", b.training_job_arn());
            put(
                &mut m,
                "TrainingJobStatus",
                b.training_job_status().map(|s| s.as_str()),
            );
            put(&mut m, "TunedHyperParameters", b.tuned_hyper_parameters());
            if let Some(metric) = b.final_hyper_parameter_tuning_job_objective_metric() {
                m.insert(
                    "FinalHyperParameterTuningJobObjectiveMetric".into(),
                    json!({"MetricName": metric.metric_name(), "Value": metric.value()}),
                );
            }
            o.insert("BestTrainingJob".into(), Value::Object(m));
        }
        if let Some(c) = d.training_job_status_counters() {
            o.insert(
                "TrainingJobStatusCounters".into(),
                json!({"Completed": c.completed(), "InProgress": c.in_progress(), "RetryableError": c.retryable_error(),
                       "NonRetryableError": c.non_retryable_error(), "Stopped": c.stopped()}),
            );
        }
        if let Some(r) = d.consumed_resources() {
            o.insert(
                "ConsumedResources".into(),
                json!({"RuntimeInSeconds": r.runtime_in_seconds()}),
            );
        }
        put(&mut o, "CreationTime", d.creation_time().map(epoch_millis));
        put(
            &mut o,
            "HyperParameterTuningEndTime",
            d.hyper_parameter_tuning_end_time().map(epoch_millis),
        );
        Ok(Value::Object(o))
    }

    async fn describe_transform_job(&self, name: &str) -> Result<Value, TaskError> {
        let d = self
            .client
            .describe_transform_job()
            .transform_job_name(name)
            .send()
            .await
            .map_err(service_error)?;
        let mut o = Map::new();
        put(&mut o, "TransformJobName", d.transform_job_name());
        put(&mut o, "TransformJobArn", d.transform_job_arn());
        put(
            &mut o,
            "TransformJobStatus",
            d.transform_job_status().map(|s| s.as_str()),
        );
        put(&mut o, "FailureReason", d.failure_reason());
        put(&mut o, "ModelName", d.model_name());
        put(&mut o, "MaxConcurrentTransforms", d.max_concurrent_transforms());
        put(&mut o, "MaxPayloadInMB", d.max_payload_in_mb());
        put(&mut o, "BatchStrategy", d.batch_strategy().map(|s| s.as_str()));
        put(&mut o, "Environment", d.environment());
        if let Some(i) = d.transform_input() {
            let mut m = Map::new();
            if let Some(s3) = i.data_source().and_then(|ds| ds.s3_data_source()) {
                m.insert(
                    "DataSource".into(),
                    json!({"S3DataSource": {"S3DataType": s3.s3_data_type().map(|t| t.as_str()), "S3Uri": s3.s3_uri()}}),
                );
            }
            put(&mut m, "ContentType", i.content_type());
            put(
                &mut m,
                "CompressionType",
                i.compression_type().map(|s| s.as_str()),
            );
            put(&mut m, "SplitType", i.split_type().map(|s| s.as_str()));
            o.insert("TransformInput".into(), Value::Object(m));
        }
        if let Some(t) = d.transform_output() {
            let mut m = Map::new();
            put(&mut m, "S3OutputPath", t.s3_output_path());
            put(&mut m, "Accept", t.accept());
            put(&mut m, "AssembleWith", t.assemble_with().map(|s| s.as_str()));
            o.insert("TransformOutput".into(), Value::Object(m));
        }
        if let Some(r) = d.transform_resources() {
            let mut m = Map::new();
            put(&mut m, "InstanceType", r.instance_type().map(|s| s.as_str()));
            put(&mut m, "InstanceCount", r.instance_count());
            o.insert("TransformResources".into(), Value::Object(m));
        }
        if let Some(p) = d.data_processing() {
            let mut m = Map::new();
            put(&mut m, "InputFilter", p.input_filter());
            put(&mut m, "OutputFilter", p.output_filter());
            put(&mut m, "JoinSource", p.join_source().map(|s| s.as_str()));
            o.insert("DataProcessing".into(), Value::Object(m));
        }
        put(&mut o, "CreationTime", d.creation_time().map(epoch_millis));
        put(
            &mut o,
            "TransformStartTime",
            d.transform_start_time().map(epoch_millis),
        );
        put(
            &mut o,
            "TransformEndTime",
            d.transform_end_time().map(epoch_millis),
        );
        Ok(Value::Object(o))
    }
}

fn channel_json(c: &sm::Channel) -> Value {
    let mut m = Map::new();
    put(&mut m, "ChannelName", c.channel_name());
    if let Some(s3) = c.data_source().and_then(|d| d.s3_data_source()) {
        let mut s = Map::new();
        put(&mut s, "S3DataType", s3.s3_data_type().map(|t| t.as_str()));
        put(&mut s, "S3Uri", s3.s3_uri());
        put(
            &mut s,
            "S3DataDistributionType",
            s3.s3_data_distribution_type().map(|d| d.as_str()),
        );
        m.insert("DataSource".into(), json!({"S3DataSource": s}));
    }
    put(&mut m, "ContentType", c.content_type());
    put(
        &mut m,
        "CompressionType",
        c.compression_type().map(|s| s.as_str()),
    );
    put(&mut m, "InputMode", c.input_mode().map(|s| s.as_str()));
    Value::Object(m)
}

fn put<T: serde::Serialize>(m: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value.and_then(|v| serde_json::to_value(v).ok()) {
        m.insert(key.to_string(), v);
    }
}

/// Step Functions renders the API's timestamps as epoch milliseconds.
fn epoch_millis(t: &aws_smithy_types::DateTime) -> i64 {
    t.to_millis().unwrap_or_default()
}

fn runtime(message: String) -> TaskError {
    TaskError::new(names::RUNTIME, message)
}

fn service_error<E>(err: SdkError<E>) -> TaskError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err.as_service_error() {
        Some(e) => TaskError::new(
            SERVICE_ERROR,
            format!(
                "{} (Service: SageMaker, Error Code: {})",
                e.message().unwrap_or_default(),
                e.code().unwrap_or("Unknown")
            ),
        ),
        None => TaskError::new(CLIENT_ERROR, DisplayErrorContext(&err).to_string()),
    }
}

/// What a planned SageMaker step would return: the request itself in the Describe shape, as a job that
/// completed at once, marked `"GreenpipePlanned": true`. Nothing was sent.
pub fn planned_result(api: Api, params: &Value, region: &str, account: &str) -> Value {
    let text = |k: &str| params[k].as_str().unwrap_or_default().to_string();
    match api {
        Api::CreateModel => json!({
            "ModelArn": format!("arn:aws:sagemaker:{region}:{account}:model/{}", text("ModelName").to_lowercase()),
            "GreenpipePlanned": true,
        }),
        Api::CreateTrainingJob { sync } => {
            let name = text("TrainingJobName");
            let arn = format!(
                "arn:aws:sagemaker:{region}:{account}:training-job/{}",
                name.to_lowercase()
            );
            if !sync {
                return json!({"TrainingJobArn": arn, "GreenpipePlanned": true});
            }
            let mut out = params.as_object().cloned().unwrap_or_default();
            let output = params["OutputDataConfig"]["S3OutputPath"]
                .as_str()
                .unwrap_or_default();
            out.insert("TrainingJobArn".into(), json!(arn));
            out.insert("TrainingJobStatus".into(), json!("Completed"));
            out.insert("SecondaryStatus".into(), json!("Completed"));
            out.insert(
                "ModelArtifacts".into(),
                json!({"S3ModelArtifacts": format!("{}/{name}/output/model.tar.gz", output.trim_end_matches('/'))}),
            );
            out.insert("TrainingTimeInSeconds".into(), json!(0));
            out.insert("BillableTimeInSeconds".into(), json!(0));
            out.remove("Tags");
            out.insert("GreenpipePlanned".into(), json!(true));
            Value::Object(out)
        }
        Api::CreateHyperParameterTuningJob { sync } => {
            let name = text("HyperParameterTuningJobName");
            let arn = format!(
                "arn:aws:sagemaker:{region}:{account}:hyper-parameter-tuning-job/{}",
                name.to_lowercase()
            );
            if !sync {
                return json!({"HyperParameterTuningJobArn": arn, "GreenpipePlanned": true});
            }
            // A made-up best job, so the states after it can be shown; labelled planned throughout.
            json!({
                "HyperParameterTuningJobName": name, "HyperParameterTuningJobArn": arn,
                "HyperParameterTuningJobStatus": "Completed",
                "BestTrainingJob": {"TrainingJobName": format!("{name}-001-planned"), "TrainingJobStatus": "Completed"},
                "GreenpipePlanned": true,
            })
        }
        Api::CreateTransformJob { sync } => {
            let arn = format!(
                "arn:aws:sagemaker:{region}:{account}:transform-job/{}",
                text("TransformJobName").to_lowercase()
            );
            if !sync {
                return json!({"TransformJobArn": arn, "GreenpipePlanned": true});
            }
            let mut out = params.as_object().cloned().unwrap_or_default();
            out.insert("TransformJobArn".into(), json!(arn));
            out.insert("TransformJobStatus".into(), json!("Completed"));
            out.remove("Tags");
            out.insert("GreenpipePlanned".into(), json!(true));
            Value::Object(out)
        }
    }
}

/// Check a request's fields without sending it (planned mode): the same conversion as a real call.
pub fn check_request(api: Api, params: &Value, state: &str) -> Result<(), TaskError> {
    let config = aws_sdk_sagemaker::Config::builder()
        .behavior_version(aws_sdk_sagemaker::config::BehaviorVersion::latest())
        .region(aws_sdk_sagemaker::config::Region::new("us-east-1"))
        .build();
    let client = aws_sdk_sagemaker::Client::from_conf(config);
    let checked = match api {
        Api::CreateTrainingJob { .. } => training_request(&client, params.clone()).map(drop),
        Api::CreateHyperParameterTuningJob { .. } => tuning_request(&client, params.clone()).map(drop),
        Api::CreateModel => model_request(&client, params.clone()).map(drop),
        Api::CreateTransformJob { .. } => transform_request(&client, params.clone()).map(drop),
    };
    checked.map_err(|e| runtime(format!("state '{state}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> aws_sdk_sagemaker::Client {
        let config = aws_sdk_sagemaker::Config::builder()
            .behavior_version(aws_sdk_sagemaker::config::BehaviorVersion::latest())
            .region(aws_sdk_sagemaker::config::Region::new("us-east-1"))
            .build();
        aws_sdk_sagemaker::Client::from_conf(config)
    }

    fn training() -> Value {
        json!({
            "TrainingJobName": "gp-sales-1",
            "RoleArn": "arn:aws:iam::123456789012:role/train",
            "AlgorithmSpecification": {"TrainingImage": "img:1", "TrainingInputMode": "File"},
            "InputDataConfig": [{"ChannelName": "train", "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/k",
                    "S3DataDistributionType": "FullyReplicated"}}}],
            "OutputDataConfig": {"S3OutputPath": "s3://b/models"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
            "EnableManagedSpotTraining": true,
            "CheckpointConfig": {"S3Uri": "s3://b/checkpoints/gp-sales"},
            "HyperParameters": {"num_round": "10"},
            "Tags": [{"Key": "greenpipe:fingerprint", "Value": "blake3:00"}],
        })
    }

    #[test]
    fn resources_name_their_integration() {
        assert_eq!(
            Api::parse("arn:aws:states:::sagemaker:createTrainingJob.sync"),
            Some(Api::CreateTrainingJob { sync: true })
        );
        assert_eq!(
            Api::parse("arn:aws:states:::sagemaker:createTransformJob"),
            Some(Api::CreateTransformJob { sync: false })
        );
        assert_eq!(
            Api::parse("arn:aws:states:::sagemaker:createModel"),
            Some(Api::CreateModel)
        );
        assert_eq!(Api::parse("arn:aws:states:::sagemaker:createModel.sync"), None);
        assert_eq!(Api::parse("arn:aws:states:::sagemaker:createEndpoint"), None);
    }

    #[test]
    fn training_requests_convert_every_field_we_use() {
        let req = training_request(&client(), training()).expect("converts");
        let input = req.as_input();
        assert_eq!(input.get_enable_managed_spot_training(), &Some(true));
        let stop = input.get_stopping_condition().as_ref().expect("stopping");
        assert_eq!(stop.max_wait_time_in_seconds(), Some(7200));
        assert_eq!(
            input.get_checkpoint_config().as_ref().and_then(|c| c.s3_uri()),
            Some("s3://b/checkpoints/gp-sales")
        );
        let channels = input.get_input_data_config().as_ref().expect("channels");
        assert_eq!(channels[0].channel_name(), Some("train"));
        assert_eq!(
            input
                .get_resource_config()
                .as_ref()
                .and_then(|r| r.instance_type()),
            Some(&sm::TrainingInstanceType::MlM5Large)
        );
    }

    #[test]
    fn unknown_fields_and_bad_values_name_the_field() {
        let mut p = training();
        p["ResourceConfig"]["InstanceStorage"] = json!("fast");
        let err = training_request(&client(), p).err().unwrap_or_default();
        assert!(err.contains("'ResourceConfig.InstanceStorage'"), "{err}");

        let mut p = training();
        p["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] = json!("Folder");
        let err = training_request(&client(), p).err().unwrap_or_default();
        assert!(
            err.contains("InputDataConfig[0].DataSource.S3DataSource.S3DataType"),
            "{err}"
        );

        let mut p = training();
        p["StoppingCondition"]["MaxRuntimeInSeconds"] = json!("1h");
        let err = training_request(&client(), p).err().unwrap_or_default();
        assert!(
            err.contains("StoppingCondition.MaxRuntimeInSeconds must be an integer"),
            "{err}"
        );

        let problems = check_template(
            Api::CreateModel,
            Some(&json!({"ModelName.$": "$.n", "S3Operations": {}})),
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("Parameters.S3Operations"), "{problems:?}");
    }

    #[test]
    fn transform_requests_drop_empty_data_processing() {
        let p = json!({
            "TransformJobName": "t", "ModelName": "m",
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
                "ContentType": "text/csv", "SplitType": "Line"},
            "TransformOutput": {"S3OutputPath": "s3://b/out", "AssembleWith": "Line"},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6, "MaxConcurrentTransforms": 2,
            "DataProcessing": {}, "Environment": {}, "Tags": [],
        });
        let req = transform_request(&client(), p).expect("converts");
        assert!(req.as_input().get_data_processing().is_none());
        assert_eq!(
            req.as_input().get_batch_strategy(),
            &Some(sm::BatchStrategy::MultiRecord)
        );
    }

    #[test]
    fn planned_training_reads_like_a_completed_describe() {
        let out = planned_result(
            Api::CreateTrainingJob { sync: true },
            &training(),
            "eu-west-1",
            "1",
        );
        assert_eq!(out["TrainingJobStatus"], "Completed");
        assert_eq!(out["GreenpipePlanned"], true);
        assert_eq!(
            out["ModelArtifacts"]["S3ModelArtifacts"],
            "s3://b/models/gp-sales-1/output/model.tar.gz"
        );
        assert_eq!(out["EnableManagedSpotTraining"], true);
    }
}
