//! Endpoint restore manifests: written by cleanup-idle before it deletes an idle endpoint, read by
//! `greenpipe restore-endpoint` to recreate it (models, endpoint config, endpoint, tags).
//!
//! The manifest carries what CreateModel / CreateEndpointConfig / CreateEndpoint need: containers
//! (image, model data, environment, mode, hostname), execution role, network isolation, the models'
//! VPC, variants (instance type and count, weight, serverless memory and concurrency), KMS key and tags.
//! Any other setting found (data capture, async inference, shadow variants, an explainer, a config-level
//! VPC or role, container image configs, model packages, variant volume or timeouts, ...) is named by
//! [`build_manifest`] as one the manifest cannot carry, and cleanup then reports the endpoint instead of
//! deleting it: a restore never brings back something different, e.g. without its network isolation.

use std::collections::BTreeMap;

use aws_sdk_sagemaker::types::{
    ContainerDefinition, ContainerMode, ProductionVariant, ProductionVariantInstanceType,
    ProductionVariantServerlessConfig, Tag as SmTag, VpcConfig,
};
use aws_sdk_sagemaker::Client;
use serde::Serialize;

use super::report::{
    ContainerSpec, EndpointConfigSpec, ModelSpec, RestoreManifest, Tag, VariantSpec, VpcSpec,
};
use crate::aws::sdk_error;
use crate::{Error, Result};

/// A resource's tags, less cleanup's own grace-period mark: a restored resource starts unmarked (with
/// the mark it would be acted on at once, without a new notice, the next time it is idle).
async fn tags(sm: &Client, arn: Option<&str>) -> Result<Vec<Tag>> {
    let Some(arn) = arn else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut pages = sm.list_tags().resource_arn(arn).into_paginator().send();
    while let Some(p) = pages.next().await {
        let p = p.map_err(|e| sdk_error(&format!("ListTags {arn}"), e))?;
        out.extend(
            p.tags()
                .iter()
                .filter(|t| t.key() != Some(super::config::MARK_TAG))
                .map(|t| Tag {
                    key: t.key().unwrap_or_default().to_string(),
                    value: t.value().unwrap_or_default().to_string(),
                }),
        );
    }
    Ok(out)
}

fn container_spec(c: &ContainerDefinition) -> ContainerSpec {
    ContainerSpec {
        image: c.image().map(str::to_string),
        model_data_url: c.model_data_url().map(str::to_string),
        container_hostname: c.container_hostname().map(str::to_string),
        mode: c.mode().map(|m| m.as_str().to_string()),
        environment: c
            .environment()
            .map(|e| e.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

fn container_definition(c: &ContainerSpec) -> ContainerDefinition {
    ContainerDefinition::builder()
        .set_image(c.image.clone())
        .set_model_data_url(c.model_data_url.clone())
        .set_container_hostname(c.container_hostname.clone())
        .set_mode(c.mode.as_deref().map(ContainerMode::from))
        .set_environment((!c.environment.is_empty()).then(|| c.environment.clone().into_iter().collect()))
        .build()
}

fn sm_tags(tags: &[Tag]) -> Option<Vec<SmTag>> {
    let out: Vec<SmTag> = tags
        .iter()
        .map(|t| SmTag::builder().key(&t.key).value(&t.value).build())
        .collect();
    (!out.is_empty()).then_some(out)
}

/// Settings of a container the manifest does not carry.
fn container_extras(c: &ContainerDefinition, model: &str, out: &mut Vec<String>) {
    let mut found = |present: bool, what: &str| {
        if present {
            out.push(format!("model {model}: container {what}"));
        }
    };
    found(c.image_config().is_some(), "ImageConfig");
    found(c.model_data_source().is_some(), "ModelDataSource");
    found(
        !c.additional_model_data_sources().is_empty(),
        "AdditionalModelDataSources",
    );
    found(c.model_package_name().is_some(), "ModelPackageName");
    found(
        c.inference_specification_name().is_some(),
        "InferenceSpecificationName",
    );
    found(c.multi_model_config().is_some(), "MultiModelConfig");
    found(c.container_metrics_config().is_some(), "ContainerMetricsConfig");
}

fn vpc_spec(v: &VpcConfig) -> Option<VpcSpec> {
    (!v.subnets().is_empty() || !v.security_group_ids().is_empty()).then(|| VpcSpec {
        security_group_ids: v.security_group_ids().to_vec(),
        subnets: v.subnets().to_vec(),
    })
}

/// Describe the endpoint, its config and models (with tags) into a manifest. Also returns every setting
/// found that the manifest cannot carry (empty: the manifest restores the endpoint as it is); with any,
/// the endpoint must not be deleted.
pub async fn build_manifest(
    sm: &Client,
    endpoint: &str,
    deleted_at: &str,
    reason: &str,
) -> Result<(RestoreManifest, Vec<String>)> {
    let e = sm
        .describe_endpoint()
        .endpoint_name(endpoint)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeEndpoint {endpoint}"), e))?;
    let config_name = e.endpoint_config_name().unwrap_or_default().to_string();
    let cfg = sm
        .describe_endpoint_config()
        .endpoint_config_name(&config_name)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeEndpointConfig {config_name}"), e))?;
    let mut uncaptured = Vec::new();
    let mut found = |present: bool, what: String| {
        if present {
            uncaptured.push(what);
        }
    };
    let config = format!("endpoint config {config_name}");
    found(
        cfg.data_capture_config().is_some_and(|d| {
            d.enable_capture() == Some(true) || d.destination_s3_uri().is_some_and(|u| !u.is_empty())
        }),
        format!("{config}: DataCaptureConfig"),
    );
    found(
        cfg.async_inference_config()
            .is_some_and(|a| a.output_config().is_some()),
        format!("{config}: AsyncInferenceConfig"),
    );
    found(
        !cfg.shadow_production_variants().is_empty(),
        format!("{config}: ShadowProductionVariants"),
    );
    found(
        cfg.explainer_config()
            .is_some_and(|x| x.clarify_explainer_config().is_some()),
        format!("{config}: ExplainerConfig"),
    );
    found(
        cfg.vpc_config().and_then(vpc_spec).is_some(),
        format!("{config}: VpcConfig"),
    );
    found(
        cfg.execution_role_arn().is_some(),
        format!("{config}: ExecutionRoleArn"),
    );
    found(
        cfg.enable_network_isolation() == Some(true),
        format!("{config}: EnableNetworkIsolation"),
    );
    found(cfg.metrics_config().is_some(), format!("{config}: MetricsConfig"));
    for v in cfg.production_variants() {
        let variant = format!("{config}: variant {}", v.variant_name().unwrap_or_default());
        for (present, what) in [
            (v.accelerator_type().is_some(), "AcceleratorType"),
            (v.core_dump_config().is_some(), "CoreDumpConfig"),
            (v.volume_size_in_gb().is_some(), "VolumeSizeInGB"),
            (
                v.model_data_download_timeout_in_seconds().is_some(),
                "ModelDataDownloadTimeoutInSeconds",
            ),
            (
                v.container_startup_health_check_timeout_in_seconds().is_some(),
                "ContainerStartupHealthCheckTimeoutInSeconds",
            ),
            (v.enable_ssm_access() == Some(true), "EnableSSMAccess"),
            (v.managed_instance_scaling().is_some(), "ManagedInstanceScaling"),
            (v.routing_config().is_some(), "RoutingConfig"),
            (v.inference_ami_version().is_some(), "InferenceAmiVersion"),
            (
                v.capacity_reservation_config().is_some(),
                "CapacityReservationConfig",
            ),
            (!v.instance_pools().is_empty(), "InstancePools"),
            (
                v.serverless_config()
                    .is_some_and(|s| s.provisioned_concurrency().is_some()),
                "ProvisionedConcurrency",
            ),
        ] {
            found(present, format!("{variant}: {what}"));
        }
    }
    let mut variants = Vec::new();
    let mut model_names: Vec<String> = Vec::new();
    for v in cfg.production_variants() {
        let model_name = v.model_name().unwrap_or_default().to_string();
        if !model_names.contains(&model_name) {
            model_names.push(model_name.clone());
        }
        variants.push(VariantSpec {
            variant_name: v.variant_name().unwrap_or_default().to_string(),
            model_name,
            instance_type: v.instance_type().map(|t| t.as_str().to_string()),
            initial_instance_count: v.initial_instance_count(),
            initial_variant_weight: v.initial_variant_weight(),
            serverless_memory_mb: v.serverless_config().and_then(|s| s.memory_size_in_mb()),
            serverless_max_concurrency: v.serverless_config().and_then(|s| s.max_concurrency()),
        });
    }
    let mut models = Vec::new();
    for name in model_names {
        let m = sm
            .describe_model()
            .model_name(&name)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DescribeModel {name}"), e))?;
        for c in m.primary_container().into_iter().chain(m.containers()) {
            container_extras(c, &name, &mut uncaptured);
        }
        if m.inference_execution_config().is_some() {
            uncaptured.push(format!("model {name}: InferenceExecutionConfig"));
        }
        models.push(ModelSpec {
            name: name.clone(),
            execution_role_arn: m.execution_role_arn().map(str::to_string),
            primary_container: m.primary_container().map(container_spec),
            containers: m.containers().iter().map(container_spec).collect(),
            enable_network_isolation: m.enable_network_isolation().unwrap_or(false),
            vpc_config: m.vpc_config().and_then(vpc_spec),
            tags: tags(sm, m.model_arn()).await?,
        });
    }
    let manifest = RestoreManifest {
        version: 1,
        endpoint_name: endpoint.to_string(),
        endpoint_arn: e.endpoint_arn().map(str::to_string),
        endpoint_tags: tags(sm, e.endpoint_arn()).await?,
        endpoint_config: EndpointConfigSpec {
            name: config_name,
            production_variants: variants,
            kms_key_id: cfg.kms_key_id().map(str::to_string),
            tags: tags(sm, cfg.endpoint_config_arn()).await?,
        },
        models,
        deleted_at: deleted_at.to_string(),
        reason: reason.to_string(),
    };
    Ok((manifest, uncaptured))
}

/// What a restore did per resource: `created` or `exists` (reused as it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreOutcome {
    pub endpoint: String,
    pub endpoint_arn: Option<String>,
    pub models: BTreeMap<String, &'static str>,
    pub endpoint_config: &'static str,
}

/// Recreate the endpoint from its manifest: models and config are created unless they still exist (the
/// orphan sweep may or may not have removed them), then the endpoint with its tags.
pub async fn restore_endpoint(sm: &Client, m: &RestoreManifest) -> Result<RestoreOutcome> {
    if m.version != 1 {
        return Err(Error::InvalidEvent(format!(
            "restore manifest version {} is not supported",
            m.version
        )));
    }
    let mut models = BTreeMap::new();
    for model in &m.models {
        let exists = sm.describe_model().model_name(&model.name).send().await.is_ok();
        if exists {
            models.insert(model.name.clone(), "exists");
            continue;
        }
        sm.create_model()
            .model_name(&model.name)
            .set_execution_role_arn(model.execution_role_arn.clone())
            .set_primary_container(model.primary_container.as_ref().map(container_definition))
            .set_containers(
                (!model.containers.is_empty())
                    .then(|| model.containers.iter().map(container_definition).collect()),
            )
            .enable_network_isolation(model.enable_network_isolation)
            .set_vpc_config(model.vpc_config.as_ref().map(|v| {
                VpcConfig::builder()
                    .set_security_group_ids(Some(v.security_group_ids.clone()))
                    .set_subnets(Some(v.subnets.clone()))
                    .build()
            }))
            .set_tags(sm_tags(&model.tags))
            .send()
            .await
            .map_err(|e| sdk_error(&format!("CreateModel {}", model.name), e))?;
        models.insert(model.name.clone(), "created");
    }
    let cfg = &m.endpoint_config;
    let config_exists = sm
        .describe_endpoint_config()
        .endpoint_config_name(&cfg.name)
        .send()
        .await
        .is_ok();
    if !config_exists {
        let variants: Vec<ProductionVariant> = cfg
            .production_variants
            .iter()
            .map(|v| {
                ProductionVariant::builder()
                    .variant_name(&v.variant_name)
                    .model_name(&v.model_name)
                    .set_instance_type(
                        v.instance_type
                            .as_deref()
                            .map(ProductionVariantInstanceType::from),
                    )
                    .set_initial_instance_count(v.initial_instance_count)
                    .set_initial_variant_weight(v.initial_variant_weight)
                    .set_serverless_config(v.serverless_memory_mb.map(|mb| {
                        ProductionVariantServerlessConfig::builder()
                            .memory_size_in_mb(mb)
                            .set_max_concurrency(v.serverless_max_concurrency)
                            .build()
                    }))
                    .build()
            })
            .collect();
        sm.create_endpoint_config()
            .endpoint_config_name(&cfg.name)
            .set_production_variants(Some(variants))
            .set_kms_key_id(cfg.kms_key_id.clone())
            .set_tags(sm_tags(&cfg.tags))
            .send()
            .await
            .map_err(|e| sdk_error(&format!("CreateEndpointConfig {}", cfg.name), e))?;
    }
    let out = sm
        .create_endpoint()
        .endpoint_name(&m.endpoint_name)
        .endpoint_config_name(&cfg.name)
        .set_tags(sm_tags(&m.endpoint_tags))
        .send()
        .await
        .map_err(|e| sdk_error(&format!("CreateEndpoint {}", m.endpoint_name), e))?;
    Ok(RestoreOutcome {
        endpoint: m.endpoint_name.clone(),
        endpoint_arn: out.endpoint_arn().map(str::to_string),
        models,
        endpoint_config: if config_exists { "exists" } else { "created" },
    })
}

/// Parse a manifest (JSON).
pub fn parse_manifest(bytes: &[u8]) -> Result<RestoreManifest> {
    serde_json::from_slice(bytes).map_err(|e| Error::InvalidEvent(format!("restore manifest: {e}")))
}

/// Read a manifest from `s3://bucket/key`.
pub async fn load_manifest_s3(s3: &aws_sdk_s3::Client, uri: &str) -> Result<RestoreManifest> {
    let (bucket, key) = uri
        .strip_prefix("s3://")
        .and_then(|r| r.split_once('/'))
        .ok_or_else(|| Error::InvalidEvent(format!("{uri} is not an s3://bucket/key URI")))?;
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("GetObject {uri}"), e))?;
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| Error::retryable(format!("GetObject {uri}: {e}")).with_source(e))?
        .into_bytes();
    parse_manifest(&bytes)
}
