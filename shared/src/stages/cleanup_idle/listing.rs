//! cleanup-idle's listings: every area it covers, each listing paginated to the end. Never fails as a
//! whole: a listing that fails is recorded in the inventory's `errors` and the run goes on without it.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_sagemaker::types::{
    AppLifecycleManagement, AppType, DomainStatus, LifecycleManagement, ProcessingJobStatus,
    TrainingJobStatus, TransformJobStatus, UserSettings,
};
use aws_smithy_types::DateTime;

use super::config::{Area, ACTIVITY_TAG};
use super::handler::Deps;
use super::inventory::{InstanceUse, Usage};
use super::{CleanupConfig, Detail, Epoch, Inventory, Resource, ResourceKind, Variant};
use crate::aws::sdk_error;
use crate::{Error, Result};

/// GetMetricData takes at most 500 queries per request.
const MAX_QUERIES: usize = 500;

/// List everything the enabled areas cover. Never fails: failures are recorded in `errors`.
pub async fn collect(deps: &Deps, c: &CleanupConfig, now: Epoch) -> Inventory {
    let mut inv = Inventory::default();
    let on = |a: Area| c.areas.contains(&a);
    if on(Area::Endpoints) || on(Area::Orphans) {
        let complete = list_endpoints(deps, c, &mut inv).await;
        if on(Area::Endpoints) {
            if let Err(e) = endpoint_invocations(deps, c, now, &mut inv).await {
                inv.errors.push(format!("endpoint metrics: {e}"));
            }
            if let Err(e) = endpoint_utilisation(deps, c, now, &mut inv).await {
                inv.errors.push(format!("endpoint utilisation: {e}"));
            }
        }
        if on(Area::Orphans) {
            if complete {
                list_orphan_candidates(deps, c, &mut inv).await;
            } else {
                inv.errors
                    .push("orphans not judged: not every endpoint could be described".into());
            }
        }
    }
    if on(Area::Notebooks) {
        if let Err(e) = list_notebooks(deps, c, &mut inv).await {
            inv.errors.push(format!("notebook instances: {e}"));
        }
    }
    if on(Area::StudioApps) {
        if let Err(e) = list_studio_apps(deps, c, &mut inv).await {
            inv.errors.push(format!("Studio apps: {e}"));
        }
    }
    if on(Area::StudioSettings) {
        if let Err(e) = list_studio_settings(deps, c, &mut inv).await {
            inv.errors.push(format!("Studio idle shutdown: {e}"));
        }
    }
    if on(Area::Jobs) {
        for kind in [
            ResourceKind::TrainingJob,
            ResourceKind::ProcessingJob,
            ResourceKind::TransformJob,
        ] {
            if let Err(e) = list_jobs(deps, c, kind, &mut inv).await {
                inv.errors.push(format!("{}s: {e}", kind.name()));
            }
        }
    }
    if on(Area::Buckets) || on(Area::Objects) {
        list_s3(deps, c, &mut inv).await;
    }
    if on(Area::LogGroups) {
        if let Err(e) = list_log_groups(deps, c, &mut inv).await {
            inv.errors.push(format!("log groups: {e}"));
        }
    }
    // Endpoints stay in the inventory when only orphans are on (they make configs "used") but must not
    // be judged: without metrics they never are.
    inv
}

fn page(inv: &mut Inventory, api: &str) {
    *inv.pages.entry(api.to_string()).or_insert(0) += 1;
}

async fn sagemaker_tags(
    deps: &Deps,
    c: &CleanupConfig,
    arn: &str,
    inv: &mut Inventory,
) -> Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    let mut pages = deps
        .sagemaker
        .list_tags()
        .resource_arn(arn)
        // ListTags takes 50..=100 per page.
        .set_max_results(c.page_size.map(|p| p.max(50)))
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        let p = p.map_err(|e| sdk_error(&format!("ListTags {arn}"), e))?;
        page(inv, "sagemaker:ListTags");
        for t in p.tags() {
            tags.insert(
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            );
        }
    }
    Ok(tags)
}

/// Endpoints with their config's variants and tags. Returns whether every endpoint was described.
async fn list_endpoints(deps: &Deps, c: &CleanupConfig, inv: &mut Inventory) -> bool {
    let mut summaries = Vec::new();
    let mut pages = deps
        .sagemaker
        .list_endpoints()
        .set_max_results(c.page_size)
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => {
                page(inv, "sagemaker:ListEndpoints");
                summaries.extend(p.endpoints().iter().cloned());
            }
            Err(e) => {
                inv.errors.push(sdk_error("ListEndpoints", e).to_string());
                return false;
            }
        }
    }
    let mut complete = true;
    for s in summaries {
        let name = s.endpoint_name().unwrap_or_default().to_string();
        match describe_endpoint(deps, c, &name, s.endpoint_arn(), inv).await {
            Ok(mut r) => {
                r.created = secs(s.creation_time());
                inv.resources.push(r);
            }
            Err(e) => {
                complete = false;
                inv.errors.push(format!("endpoint {name}: {e}"));
            }
        }
    }
    complete
}

async fn describe_endpoint(
    deps: &Deps,
    c: &CleanupConfig,
    name: &str,
    arn: Option<&str>,
    inv: &mut Inventory,
) -> Result<Resource> {
    let e = deps
        .sagemaker
        .describe_endpoint()
        .endpoint_name(name)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeEndpoint {name}"), e))?;
    let config_name = e.endpoint_config_name().unwrap_or_default().to_string();
    let cfg = deps
        .sagemaker
        .describe_endpoint_config()
        .endpoint_config_name(&config_name)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeEndpointConfig {config_name}"), e))?;
    // Shadow variants take a copy of live traffic: one that is called makes the endpoint busy.
    let variants = cfg
        .production_variants()
        .iter()
        .map(|v| (v, false))
        .chain(cfg.shadow_production_variants().iter().map(|v| (v, true)))
        .map(|(v, shadow)| Variant {
            name: v.variant_name().unwrap_or_default().to_string(),
            instance_type: v.instance_type().map(|t| t.as_str().to_string()),
            instance_count: v.initial_instance_count().unwrap_or(0).max(0) as u32,
            serverless: v.serverless_config().is_some(),
            shadow,
            invocations: None,
            utilisation: None,
        })
        .collect();
    let arn = arn.or(e.endpoint_arn()).unwrap_or_default().to_string();
    let tags = sagemaker_tags(deps, c, &arn, inv).await?;
    Ok(Resource {
        kind: ResourceKind::Endpoint,
        id: name.to_string(),
        arn: Some(arn),
        created: secs(e.creation_time()),
        tags,
        detail: Detail::Endpoint {
            status: e
                .endpoint_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            config_name,
            variants,
            invocations: None,
        },
    })
}

/// `Invocations` (AWS/SageMaker, EndpointName + VariantName, Sum) over the idle window for every variant
/// of every InService endpoint; the endpoint's figure is the sum over its variants.
async fn endpoint_invocations(deps: &Deps, c: &CleanupConfig, now: Epoch, inv: &mut Inventory) -> Result<()> {
    let window = c.endpoint_idle.as_secs().max(60) as i64;
    let period = (window + 59) / 60 * 60;
    // (resource index, variant index) per query id.
    let mut targets: Vec<(usize, usize)> = Vec::new();
    let mut queries = Vec::new();
    for (ri, r) in inv.resources.iter().enumerate() {
        if let Detail::Endpoint { status, variants, .. } = &r.detail {
            if status != "InService" {
                continue;
            }
            for (vi, v) in variants.iter().enumerate() {
                queries.push(variant_query(
                    "AWS/SageMaker",
                    "Invocations",
                    "Sum",
                    &r.id,
                    &v.name,
                    period,
                ));
                targets.push((ri, vi));
            }
        }
    }
    let answered = metric_values(deps, inv, queries, now - window, now).await?;
    for (i, (ri, vi)) in targets.iter().enumerate() {
        if let Detail::Endpoint {
            variants,
            invocations,
            ..
        } = &mut inv.resources[*ri].detail
        {
            // Every query is answered (with no datapoints when there was no traffic); one that is not
            // leaves the endpoint un-judged.
            let v = answered.get(&i).map(|values| values.iter().sum::<f64>());
            variants[*vi].invocations = v;
            *invocations = variants.iter().map(|v| v.invocations).sum();
        }
    }
    Ok(())
}

/// One variant's `stat` of `metric` over `period` seconds; its id is filled in by [`metric_values`].
fn variant_query(
    namespace: &str,
    metric: &str,
    stat: &str,
    endpoint: &str,
    variant: &str,
    period: i64,
) -> MetricDataQuery {
    let m = Metric::builder()
        .namespace(namespace)
        .metric_name(metric)
        .dimensions(Dimension::builder().name("EndpointName").value(endpoint).build())
        .dimensions(Dimension::builder().name("VariantName").value(variant).build())
        .build();
    MetricDataQuery::builder()
        .metric_stat(
            MetricStat::builder()
                .metric(m)
                .period(period as i32)
                .stat(stat)
                .build(),
        )
        .return_data(true)
        .build()
}

/// Send `queries` (ids set to `q<index>`) in requests of at most 500, following pagination; the values
/// each answered query returned, by its index. A query missing from the answer is missing here.
async fn metric_values(
    deps: &Deps,
    inv: &mut Inventory,
    mut queries: Vec<MetricDataQuery>,
    start: Epoch,
    end: Epoch,
) -> Result<HashMap<usize, Vec<f64>>> {
    for (i, q) in queries.iter_mut().enumerate() {
        q.id = Some(format!("q{i}"));
    }
    let mut values: HashMap<usize, Vec<f64>> = HashMap::new();
    for chunk in queries.chunks(MAX_QUERIES) {
        let mut pages = deps
            .cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(chunk.to_vec()))
            .start_time(DateTime::from_secs(start))
            .end_time(DateTime::from_secs(end))
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| sdk_error("GetMetricData", e))?;
            page(inv, "cloudwatch:GetMetricData");
            for result in p.metric_data_results() {
                if let Some(i) = result
                    .id()
                    .and_then(|id| id.strip_prefix('q'))
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|i| *i < queries.len())
                {
                    values.entry(i).or_default().extend_from_slice(result.values());
                }
            }
        }
    }
    Ok(values)
}

/// One endpoint as cleanup judges it (variants, invocations and instance use over the idle window):
/// `greenpipe rightsize`.
pub async fn one_endpoint(deps: &Deps, c: &CleanupConfig, name: &str, now: Epoch) -> Result<Resource> {
    let mut inv = Inventory::default();
    let r = describe_endpoint(deps, c, name, None, &mut inv).await?;
    inv.resources.push(r);
    endpoint_invocations(deps, c, now, &mut inv).await?;
    endpoint_utilisation(deps, c, now, &mut inv).await?;
    Ok(inv.resources.remove(0))
}

/// The instance metrics SageMaker publishes per endpoint variant: (name, divided by vCPUs or GPUs).
const VARIANT_METRICS: [(&str, Divisor); 3] = [
    ("CPUUtilization", Divisor::Vcpus),
    ("MemoryUtilization", Divisor::None),
    ("GPUUtilization", Divisor::Gpus),
];

#[derive(Clone, Copy)]
enum Divisor {
    None,
    Vcpus,
    Gpus,
}

/// Each instance variant's use over the idle window (`/aws/sagemaker/Endpoints`, EndpointName +
/// VariantName; the window's Average and Maximum, one period), as a share of one instance: what
/// right-sizing judges.
async fn endpoint_utilisation(deps: &Deps, c: &CleanupConfig, now: Epoch, inv: &mut Inventory) -> Result<()> {
    let window = c.endpoint_idle.as_secs().max(60) as i64;
    let period = (window + 59) / 60 * 60;
    let table = crate::footprint::coefficients().ok();
    // (resource, variant, metric, is maximum) per query id `u<n>`.
    let mut targets: Vec<(usize, usize, usize, bool)> = Vec::new();
    let mut queries = Vec::new();
    for (ri, r) in inv.resources.iter().enumerate() {
        let Detail::Endpoint { status, variants, .. } = &r.detail else {
            continue;
        };
        if status != "InService" {
            continue;
        }
        for (vi, v) in variants.iter().enumerate() {
            if v.serverless || v.instance_type.is_none() {
                continue;
            }
            for (mi, (metric, _)) in VARIANT_METRICS.iter().enumerate() {
                for maximum in [false, true] {
                    let stat = if maximum { "Maximum" } else { "Average" };
                    let query =
                        variant_query("/aws/sagemaker/Endpoints", metric, stat, &r.id, &v.name, period);
                    queries.push(query);
                    targets.push((ri, vi, mi, maximum));
                }
            }
        }
    }
    let values = metric_values(deps, inv, queries, now - window, now).await?;
    for (i, (ri, vi, mi, maximum)) in targets.iter().enumerate() {
        let Some(points) = values.get(&i).filter(|p| !p.is_empty()) else {
            continue;
        };
        let r = &mut inv.resources[*ri];
        let Detail::Endpoint { variants, .. } = &mut r.detail else {
            continue;
        };
        let v = &mut variants[*vi];
        let t = v
            .instance_type
            .as_deref()
            .and_then(|t| table.and_then(|c| c.instance_type(t).ok()));
        let divisor = match VARIANT_METRICS[*mi].1 {
            Divisor::None => Some(1.0),
            Divisor::Vcpus => t.map(|t| f64::from(t.vcpus)),
            Divisor::Gpus => t.and_then(|t| t.gpu.as_ref()).map(|g| f64::from(g.count)),
        };
        let Some(divisor) = divisor.filter(|d| *d > 0.0) else {
            continue;
        };
        let value = if *maximum {
            points.iter().copied().fold(0.0, f64::max)
        } else {
            points.iter().sum::<f64>() / points.len() as f64
        };
        let share = (value / divisor).clamp(0.0, 100.0);
        let u = v.utilisation.get_or_insert_with(InstanceUse::default);
        let slot = match *mi {
            0 => &mut u.cpu,
            1 => &mut u.memory,
            _ => &mut u.gpu,
        };
        let usage = slot.get_or_insert(Usage {
            average: share,
            peak: share,
        });
        if *maximum {
            usage.peak = share;
        } else {
            usage.average = share;
        }
    }
    Ok(())
}

/// Endpoint configs (with their models) and models. Skipped whole if any config cannot be described.
async fn list_orphan_candidates(deps: &Deps, c: &CleanupConfig, inv: &mut Inventory) {
    let mut found = Vec::new();
    let mut pages = deps
        .sagemaker
        .list_endpoint_configs()
        .set_max_results(c.page_size)
        .into_paginator()
        .send();
    let mut ok = true;
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => {
                page(inv, "sagemaker:ListEndpointConfigs");
                found.extend(p.endpoint_configs().iter().cloned());
            }
            Err(e) => {
                inv.errors.push(sdk_error("ListEndpointConfigs", e).to_string());
                ok = false;
                break;
            }
        }
    }
    let mut configs = Vec::new();
    for s in &found {
        if !ok {
            break;
        }
        let name = s.endpoint_config_name().unwrap_or_default();
        let arn = s.endpoint_config_arn().unwrap_or_default();
        let described = async {
            let d = deps
                .sagemaker
                .describe_endpoint_config()
                .endpoint_config_name(name)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("DescribeEndpointConfig {name}"), e))?;
            Ok::<_, Error>(
                d.production_variants()
                    .iter()
                    .filter_map(|v| v.model_name().map(str::to_string))
                    .collect::<Vec<_>>(),
            )
        }
        .await;
        match described {
            Ok(model_names) => match sagemaker_tags(deps, c, arn, inv).await {
                Ok(tags) => configs.push(Resource {
                    kind: ResourceKind::EndpointConfig,
                    id: name.to_string(),
                    arn: Some(arn.to_string()),
                    created: secs(s.creation_time()),
                    tags,
                    detail: Detail::EndpointConfig { model_names },
                }),
                Err(e) => {
                    // Its models stay referenced through `model_names`? Unknown: keep it, un-deletable.
                    inv.errors.push(format!("endpoint config {name}: {e}"));
                    ok = false;
                }
            },
            Err(e) => {
                inv.errors.push(format!("endpoint config {name}: {e}"));
                ok = false;
            }
        }
    }
    if !ok {
        inv.errors
            .push("orphans not judged: not every endpoint config could be read".into());
        return;
    }
    inv.resources.extend(configs);

    let mut pages = deps
        .sagemaker
        .list_models()
        .set_max_results(c.page_size)
        .into_paginator()
        .send();
    let mut models = Vec::new();
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => {
                page(inv, "sagemaker:ListModels");
                models.extend(p.models().iter().cloned());
            }
            Err(e) => {
                inv.errors.push(sdk_error("ListModels", e).to_string());
                return;
            }
        }
    }
    for m in models {
        let name = m.model_name().unwrap_or_default();
        let arn = m.model_arn().unwrap_or_default();
        match sagemaker_tags(deps, c, arn, inv).await {
            Ok(tags) => inv.resources.push(Resource {
                kind: ResourceKind::Model,
                id: name.to_string(),
                arn: Some(arn.to_string()),
                created: secs(m.creation_time()),
                tags,
                detail: Detail::Model,
            }),
            Err(e) => inv.errors.push(format!("model {name}: {e}")),
        }
    }
}

async fn list_notebooks(deps: &Deps, c: &CleanupConfig, inv: &mut Inventory) -> Result<()> {
    let mut pages = deps
        .sagemaker
        .list_notebook_instances()
        .set_max_results(c.page_size)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(p) = pages.next().await {
        let p = p.map_err(|e| sdk_error("ListNotebookInstances", e))?;
        page(inv, "sagemaker:ListNotebookInstances");
        found.extend(p.notebook_instances().iter().cloned());
    }
    for n in found {
        let name = n.notebook_instance_name().unwrap_or_default();
        let arn = n.notebook_instance_arn().unwrap_or_default();
        match sagemaker_tags(deps, c, arn, inv).await {
            Ok(tags) => inv.resources.push(Resource {
                kind: ResourceKind::NotebookInstance,
                id: name.to_string(),
                arn: Some(arn.to_string()),
                created: secs(n.creation_time()),
                detail: Detail::Notebook {
                    status: n
                        .notebook_instance_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    instance_type: n
                        .instance_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    last_activity: tags.get(ACTIVITY_TAG).and_then(|v| activity_time(v)),
                },
                tags,
            }),
            Err(e) => inv.errors.push(format!("notebook instance {name}: {e}")),
        }
    }
    Ok(())
}

/// The [`ACTIVITY_TAG`] value: RFC 3339 (what the lifecycle configuration writes) or seconds since the
/// epoch. Anything else is no signal.
pub fn activity_time(v: &str) -> Option<Epoch> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return Some(secs);
    }
    crate::validate::values::parse_timestamp(v.as_bytes()).map(|micros| micros.div_euclid(1_000_000))
}

/// Studio app ids: `domain/user:<profile>/<AppType>/<app>` or `domain/space:<space>/<AppType>/<app>`.
fn app_id(domain: &str, user: Option<&str>, space: Option<&str>, app_type: &str, app: &str) -> String {
    match (user, space) {
        (Some(u), _) => format!("{domain}/user:{u}/{app_type}/{app}"),
        (None, Some(s)) => format!("{domain}/space:{s}/{app_type}/{app}"),
        (None, None) => format!("{domain}/-/{app_type}/{app}"),
    }
}

async fn list_studio_apps(deps: &Deps, c: &CleanupConfig, inv: &mut Inventory) -> Result<()> {
    let mut pages = deps
        .sagemaker
        .list_apps()
        .set_max_results(c.page_size)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(p) = pages.next().await {
        let p = p.map_err(|e| sdk_error("ListApps", e))?;
        page(inv, "sagemaker:ListApps");
        found.extend(p.apps().iter().cloned());
    }
    for a in found {
        let app_type = a.app_type().map(|t| t.as_str().to_string()).unwrap_or_default();
        if !billed_studio_app(&app_type) || a.status().map(|s| s.as_str()) != Some("InService") {
            continue;
        }
        let (domain, app) = (
            a.domain_id().unwrap_or_default(),
            a.app_name().unwrap_or_default(),
        );
        let id = app_id(domain, a.user_profile_name(), a.space_name(), &app_type, app);
        let described = deps
            .sagemaker
            .describe_app()
            .domain_id(domain)
            .set_user_profile_name(a.user_profile_name().map(str::to_string))
            .set_space_name(a.space_name().map(str::to_string))
            .app_type(AppType::from(app_type.as_str()))
            .app_name(app)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DescribeApp {id}"), e));
        let d = match described {
            Ok(d) => d,
            Err(e) => {
                inv.errors.push(e.to_string());
                continue;
            }
        };
        let arn = d.app_arn().unwrap_or_default().to_string();
        match sagemaker_tags(deps, c, &arn, inv).await {
            Ok(tags) => inv.resources.push(Resource {
                kind: ResourceKind::StudioApp,
                id,
                arn: Some(arn),
                created: secs(a.creation_time()),
                tags,
                detail: Detail::StudioApp {
                    status: "InService".into(),
                    app_type,
                    instance_type: d
                        .resource_spec()
                        .or(a.resource_spec())
                        .and_then(|s| s.instance_type())
                        .map(|t| t.as_str().to_string()),
                    last_activity: secs(d.last_user_activity_timestamp()),
                    idle_shutdown: None,
                },
            }),
            Err(e) => inv.errors.push(format!("Studio app {id}: {e}")),
        }
    }
    Ok(())
}

/// The Studio apps that cost while they run (the rest are free or not instances): notebooks and
/// editors (`KernelGateway`, `JupyterLab`, `CodeEditor`), Canvas sessions and RStudio sessions.
pub fn billed_studio_app(app_type: &str) -> bool {
    matches!(
        app_type,
        "KernelGateway" | "JupyterLab" | "CodeEditor" | "Canvas" | "RSession"
    )
}

/// The app types Studio's own idle shutdown covers.
pub const IDLE_SHUTDOWN_APPS: [&str; 2] = ["JupyterLab", "CodeEditor"];

/// One app type's (`JupyterLab` or `CodeEditor`) lifecycle settings at one level.
pub fn app_lifecycle<'a>(
    settings: Option<&'a UserSettings>,
    app_type: &str,
) -> Option<&'a AppLifecycleManagement> {
    match app_type {
        "JupyterLab" => settings
            .and_then(|s| s.jupyter_lab_app_settings())
            .and_then(|a| a.app_lifecycle_management()),
        _ => settings
            .and_then(|s| s.code_editor_app_settings())
            .and_then(|a| a.app_lifecycle_management()),
    }
}

/// One app type's idle-shutdown setting at one level: `Some(true)` ENABLED, `Some(false)` DISABLED,
/// `None` unset.
fn idle_setting(settings: Option<&UserSettings>, app_type: &str) -> Option<bool> {
    app_lifecycle(settings, app_type)
        .and_then(|l| l.idle_settings())
        .and_then(|i| i.lifecycle_management())
        .map(|m| *m == LifecycleManagement::Enabled)
}

/// The app types whose idle shutdown a domain's default leaves off (anything but ENABLED), or a user
/// profile turns off (explicitly DISABLED: unset inherits the domain's).
pub fn idle_shutdown_off(settings: Option<&UserSettings>, domain: bool) -> Vec<String> {
    IDLE_SHUTDOWN_APPS
        .iter()
        .filter(|t| match idle_setting(settings, t) {
            Some(on) => !on,
            None => domain,
        })
        .map(|t| t.to_string())
        .collect()
}

/// Studio's own idle shutdown: every InService domain's default (one resource each) and every user
/// profile that turns it off (one each); then each JupyterLab or Code Editor app already listed learns
/// whether it covers it (its space's owner's profile, else the domain's default).
async fn list_studio_settings(deps: &Deps, c: &CleanupConfig, inv: &mut Inventory) -> Result<()> {
    let sm = &deps.sagemaker;
    let mut domains = Vec::new();
    let mut pages = sm
        .list_domains()
        .set_max_results(c.page_size)
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        let p = p.map_err(|e| sdk_error("ListDomains", e))?;
        page(inv, "sagemaker:ListDomains");
        domains.extend(
            p.domains()
                .iter()
                .filter_map(|d| d.domain_id().map(str::to_string)),
        );
    }
    // (domain, profile or None for the default) -> app types left off.
    let mut off: HashMap<(String, Option<String>), Vec<String>> = HashMap::new();
    // (domain, space) -> owning profile.
    let mut owners: HashMap<(String, String), String> = HashMap::new();
    for domain in domains {
        let d = match sm.describe_domain().domain_id(&domain).send().await {
            Ok(d) => d,
            Err(e) => {
                inv.errors
                    .push(sdk_error(&format!("DescribeDomain {domain}"), e).to_string());
                continue;
            }
        };
        if d.status() != Some(&DomainStatus::InService) {
            continue;
        }
        let domain_off = idle_shutdown_off(d.default_user_settings(), true);
        let arn = d.domain_arn().unwrap_or_default().to_string();
        match sagemaker_tags(deps, c, &arn, inv).await {
            Ok(tags) => inv.resources.push(Resource {
                kind: ResourceKind::StudioIdleShutdown,
                id: domain.clone(),
                arn: Some(arn),
                created: secs(d.creation_time()),
                tags,
                detail: Detail::StudioIdleShutdown {
                    level: "domain".into(),
                    off: domain_off.clone(),
                },
            }),
            Err(e) => inv.errors.push(format!("Studio domain {domain}: {e}")),
        }
        off.insert((domain.clone(), None), domain_off.clone());

        let mut profiles = Vec::new();
        let mut pages = sm
            .list_user_profiles()
            .domain_id_equals(&domain)
            .set_max_results(c.page_size)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| sdk_error(&format!("ListUserProfiles {domain}"), e))?;
            page(inv, "sagemaker:ListUserProfiles");
            profiles.extend(
                p.user_profiles()
                    .iter()
                    .filter_map(|u| u.user_profile_name().map(str::to_string)),
            );
        }
        for profile in profiles {
            let id = format!("{domain}/user:{profile}");
            let u = match sm
                .describe_user_profile()
                .domain_id(&domain)
                .user_profile_name(&profile)
                .send()
                .await
            {
                Ok(u) => u,
                Err(e) => {
                    inv.errors
                        .push(sdk_error(&format!("DescribeUserProfile {id}"), e).to_string());
                    continue;
                }
            };
            let settings = u.user_settings();
            let turned_off = idle_shutdown_off(settings, false);
            // What covers this profile's apps: its own setting where it has one, else the domain's.
            let effective = IDLE_SHUTDOWN_APPS
                .iter()
                .filter(|t| match idle_setting(settings, t) {
                    Some(on) => !on,
                    None => domain_off.iter().any(|o| o == *t),
                })
                .map(|t| t.to_string())
                .collect();
            off.insert((domain.clone(), Some(profile.clone())), effective);
            if turned_off.is_empty() {
                continue;
            }
            let arn = u.user_profile_arn().unwrap_or_default().to_string();
            match sagemaker_tags(deps, c, &arn, inv).await {
                Ok(tags) => inv.resources.push(Resource {
                    kind: ResourceKind::StudioIdleShutdown,
                    id,
                    arn: Some(arn),
                    created: secs(u.creation_time()),
                    tags,
                    detail: Detail::StudioIdleShutdown {
                        level: "user-profile".into(),
                        off: turned_off,
                    },
                }),
                Err(e) => inv.errors.push(format!("Studio user profile {id}: {e}")),
            }
        }

        let mut pages = sm
            .list_spaces()
            .domain_id_equals(&domain)
            .set_max_results(c.page_size)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| sdk_error(&format!("ListSpaces {domain}"), e))?;
            page(inv, "sagemaker:ListSpaces");
            for s in p.spaces() {
                if let (Some(space), Some(owner)) = (
                    s.space_name(),
                    s.ownership_settings_summary()
                        .and_then(|o| o.owner_user_profile_name()),
                ) {
                    owners.insert((domain.clone(), space.to_string()), owner.to_string());
                }
            }
        }
    }

    // The apps this run listed: is each covered?
    for r in &mut inv.resources {
        let Detail::StudioApp {
            app_type,
            idle_shutdown,
            ..
        } = &mut r.detail
        else {
            continue;
        };
        if !IDLE_SHUTDOWN_APPS.contains(&app_type.as_str()) {
            continue;
        }
        let mut parts = r.id.splitn(3, '/');
        let (Some(domain), Some(owner)) = (parts.next(), parts.next()) else {
            continue;
        };
        let profile = match owner.split_once(':') {
            Some(("user", u)) => Some(u.to_string()),
            Some(("space", s)) => owners.get(&(domain.to_string(), s.to_string())).cloned(),
            _ => None,
        };
        let left_off = off
            .get(&(domain.to_string(), profile))
            .or_else(|| off.get(&(domain.to_string(), None)));
        if let Some(left_off) = left_off {
            *idle_shutdown = Some(!left_off.contains(app_type));
        }
    }
    Ok(())
}

/// In-progress jobs of one kind, described for their instances and start time.
async fn list_jobs(deps: &Deps, c: &CleanupConfig, kind: ResourceKind, inv: &mut Inventory) -> Result<()> {
    let sm = &deps.sagemaker;
    // (name, arn, created)
    let mut found: Vec<(String, String, Option<Epoch>)> = Vec::new();
    match kind {
        ResourceKind::TrainingJob => {
            let mut pages = sm
                .list_training_jobs()
                .status_equals(TrainingJobStatus::InProgress)
                .set_max_results(c.page_size)
                .into_paginator()
                .send();
            while let Some(p) = pages.next().await {
                let p = p.map_err(|e| sdk_error("ListTrainingJobs", e))?;
                page(inv, "sagemaker:ListTrainingJobs");
                found.extend(p.training_job_summaries().iter().map(|j| {
                    (
                        j.training_job_name().unwrap_or_default().to_string(),
                        j.training_job_arn().unwrap_or_default().to_string(),
                        secs(j.creation_time()),
                    )
                }));
            }
        }
        ResourceKind::ProcessingJob => {
            let mut pages = sm
                .list_processing_jobs()
                .status_equals(ProcessingJobStatus::InProgress)
                .set_max_results(c.page_size)
                .into_paginator()
                .send();
            while let Some(p) = pages.next().await {
                let p = p.map_err(|e| sdk_error("ListProcessingJobs", e))?;
                page(inv, "sagemaker:ListProcessingJobs");
                found.extend(p.processing_job_summaries().iter().map(|j| {
                    (
                        j.processing_job_name().unwrap_or_default().to_string(),
                        j.processing_job_arn().unwrap_or_default().to_string(),
                        secs(j.creation_time()),
                    )
                }));
            }
        }
        _ => {
            let mut pages = sm
                .list_transform_jobs()
                .status_equals(TransformJobStatus::InProgress)
                .set_max_results(c.page_size)
                .into_paginator()
                .send();
            while let Some(p) = pages.next().await {
                let p = p.map_err(|e| sdk_error("ListTransformJobs", e))?;
                page(inv, "sagemaker:ListTransformJobs");
                found.extend(p.transform_job_summaries().iter().map(|j| {
                    (
                        j.transform_job_name().unwrap_or_default().to_string(),
                        j.transform_job_arn().unwrap_or_default().to_string(),
                        secs(j.creation_time()),
                    )
                }));
            }
        }
    }
    for (name, arn, created) in found {
        let detail = match kind {
            ResourceKind::TrainingJob => sm
                .describe_training_job()
                .training_job_name(&name)
                .send()
                .await
                .map(|d| Detail::Job {
                    status: d
                        .training_job_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    started: secs(d.training_start_time()).or(created),
                    instance_type: d
                        .resource_config()
                        .and_then(|r| r.instance_type())
                        .map(|t| t.as_str().to_string()),
                    instance_count: d
                        .resource_config()
                        .and_then(|r| r.instance_count())
                        .unwrap_or(1)
                        .max(0) as u32,
                    model_name: None,
                })
                .map_err(|e| sdk_error(&format!("DescribeTrainingJob {name}"), e)),
            ResourceKind::ProcessingJob => sm
                .describe_processing_job()
                .processing_job_name(&name)
                .send()
                .await
                .map(|d| {
                    let cluster = d.processing_resources().and_then(|r| r.cluster_config());
                    Detail::Job {
                        status: d
                            .processing_job_status()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        started: secs(d.processing_start_time()).or(created),
                        instance_type: cluster
                            .and_then(|c| c.instance_type())
                            .map(|t| t.as_str().to_string()),
                        instance_count: cluster.and_then(|c| c.instance_count()).unwrap_or(1).max(0) as u32,
                        model_name: None,
                    }
                })
                .map_err(|e| sdk_error(&format!("DescribeProcessingJob {name}"), e)),
            _ => sm
                .describe_transform_job()
                .transform_job_name(&name)
                .send()
                .await
                .map(|d| Detail::Job {
                    status: d
                        .transform_job_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    started: secs(d.transform_start_time()).or(created),
                    instance_type: d
                        .transform_resources()
                        .and_then(|r| r.instance_type())
                        .map(|t| t.as_str().to_string()),
                    instance_count: d
                        .transform_resources()
                        .and_then(|r| r.instance_count())
                        .unwrap_or(1)
                        .max(0) as u32,
                    model_name: d.model_name().map(str::to_string),
                })
                .map_err(|e| sdk_error(&format!("DescribeTransformJob {name}"), e)),
        };
        let detail = match detail {
            Ok(d) => d,
            Err(e) => {
                inv.errors.push(e.to_string());
                continue;
            }
        };
        match sagemaker_tags(deps, c, &arn, inv).await {
            Ok(tags) => inv.resources.push(Resource {
                kind,
                id: name,
                arn: Some(arn),
                created,
                tags,
                detail,
            }),
            Err(e) => inv.errors.push(format!("{} {name}: {e}", kind.name())),
        }
    }
    Ok(())
}

/// The configured buckets (lifecycle, tags, creation date) and the objects under greenpipe's prefixes.
/// A bucket's tags apply to its objects too: `greenpipe:keep` on a bucket keeps everything in it.
async fn list_s3(deps: &Deps, c: &CleanupConfig, inv: &mut Inventory) {
    if c.buckets.is_empty() {
        return;
    }
    let mut created: HashMap<String, Option<Epoch>> = HashMap::new();
    // Only the configured buckets matter: list each by its name as prefix (a short listing however many
    // buckets the account has; also immune to emulators that page without a continuation token).
    for bucket in &c.buckets {
        let mut pages = deps
            .s3
            .list_buckets()
            .prefix(bucket)
            .set_max_buckets(c.page_size)
            .into_paginator()
            .send();
        while let Some(p) = pages.next().await {
            match p {
                Ok(p) => {
                    page(inv, "s3:ListBuckets");
                    for b in p.buckets() {
                        created.insert(b.name().unwrap_or_default().to_string(), secs(b.creation_date()));
                    }
                }
                Err(e) => {
                    inv.errors.push(sdk_error("ListBuckets", e).to_string());
                    break;
                }
            }
        }
    }
    for bucket in &c.buckets {
        let tags = match deps.s3.get_bucket_tagging().bucket(bucket).send().await {
            Ok(t) => t
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect::<BTreeMap<_, _>>(),
            Err(e)
                if e.as_service_error()
                    .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s))
                    == Some("NoSuchTagSet") =>
            {
                BTreeMap::new()
            }
            Err(e) => {
                inv.errors
                    .push(sdk_error(&format!("GetBucketTagging {bucket}"), e).to_string());
                continue;
            }
        };
        if c.areas.contains(&Area::Buckets) {
            match deps
                .s3
                .get_bucket_lifecycle_configuration()
                .bucket(bucket)
                .send()
                .await
            {
                Ok(l) => {
                    let enabled: Vec<_> = l
                        .rules()
                        .iter()
                        .filter(|r| r.status() == &aws_sdk_s3::types::ExpirationStatus::Enabled)
                        .collect();
                    let tiering = enabled.iter().any(|r| {
                        r.transitions().iter().any(|t| {
                            t.storage_class()
                                == Some(&aws_sdk_s3::types::TransitionStorageClass::IntelligentTiering)
                        })
                    });
                    inv.resources
                        .push(bucket_resource(bucket, &created, &tags, enabled.len(), tiering));
                }
                Err(e)
                    if e.as_service_error()
                        .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s))
                        == Some("NoSuchLifecycleConfiguration") =>
                {
                    inv.resources
                        .push(bucket_resource(bucket, &created, &tags, 0, false));
                }
                Err(e) => inv
                    .errors
                    .push(sdk_error(&format!("GetBucketLifecycleConfiguration {bucket}"), e).to_string()),
            }
        }
        if c.areas.contains(&Area::Objects) {
            for prefix in &c.prefixes {
                let mut pages = deps
                    .s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .set_max_keys(c.page_size)
                    .into_paginator()
                    .send();
                while let Some(p) = pages.next().await {
                    let p = match p {
                        Ok(p) => p,
                        Err(e) => {
                            inv.errors.push(
                                sdk_error(&format!("ListObjectsV2 s3://{bucket}/{prefix}"), e).to_string(),
                            );
                            break;
                        }
                    };
                    page(inv, "s3:ListObjectsV2");
                    for o in p.contents() {
                        let key = o.key().unwrap_or_default().to_string();
                        inv.resources.push(Resource {
                            kind: ResourceKind::Object,
                            id: format!("{bucket}/{key}"),
                            arn: None,
                            created: secs(o.last_modified()),
                            tags: tags.clone(),
                            detail: Detail::Object {
                                bucket: bucket.clone(),
                                key,
                                size: o.size().unwrap_or(0),
                            },
                        });
                    }
                }
            }
        }
    }
}

fn bucket_resource(
    bucket: &str,
    created: &HashMap<String, Option<Epoch>>,
    tags: &BTreeMap<String, String>,
    rules: usize,
    tiering: bool,
) -> Resource {
    Resource {
        kind: ResourceKind::Bucket,
        id: bucket.to_string(),
        arn: Some(format!("arn:aws:s3:::{bucket}")),
        created: created.get(bucket).copied().flatten(),
        tags: tags.clone(),
        detail: Detail::Bucket {
            lifecycle_rules: rules,
            intelligent_tiering: tiering,
        },
    }
}

async fn list_log_groups(deps: &Deps, c: &CleanupConfig, inv: &mut Inventory) -> Result<()> {
    for prefix in &c.log_group_prefixes {
        let mut pages = deps
            .logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .set_limit(c.page_size)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(p) = pages.next().await {
            let p = p.map_err(|e| sdk_error(&format!("DescribeLogGroups {prefix}"), e))?;
            page(inv, "logs:DescribeLogGroups");
            found.extend(p.log_groups().iter().cloned());
        }
        for g in found {
            let name = g.log_group_name().unwrap_or_default().to_string();
            let arn = g
                .log_group_arn()
                .map(str::to_string)
                .or_else(|| g.arn().map(|a| a.trim_end_matches(":*").to_string()))
                .unwrap_or_default();
            let tags = match deps.logs.list_tags_for_resource().resource_arn(&arn).send().await {
                Ok(t) => t
                    .tags()
                    .map(|t| t.clone().into_iter().collect())
                    .unwrap_or_default(),
                Err(e) => {
                    inv.errors
                        .push(sdk_error(&format!("ListTagsForResource {name}"), e).to_string());
                    continue;
                }
            };
            inv.resources.push(Resource {
                kind: ResourceKind::LogGroup,
                id: name,
                arn: Some(arn),
                created: g.creation_time().map(|ms| ms / 1000),
                tags,
                detail: Detail::LogGroup {
                    retention_days: g.retention_in_days(),
                },
            });
        }
    }
    Ok(())
}

fn secs(t: Option<&DateTime>) -> Option<Epoch> {
    t.map(DateTime::secs)
}
