//! What cleanup found: every resource it listed, with the facts the planner needs. Built by
//! [`super::handler`] from SDK listings; built by hand (or by proptest) in tests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::pipeline::{InstanceUse, Usage};

/// Seconds since the Unix epoch.
pub type Epoch = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    Endpoint,
    NotebookInstance,
    StudioApp,
    /// A Studio domain's default idle shutdown, or a user profile's own.
    StudioIdleShutdown,
    TrainingJob,
    ProcessingJob,
    TransformJob,
    EndpointConfig,
    Model,
    LogGroup,
    Bucket,
    Object,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::Endpoint => "endpoint",
            ResourceKind::NotebookInstance => "notebook-instance",
            ResourceKind::StudioApp => "studio-app",
            ResourceKind::StudioIdleShutdown => "studio-idle-shutdown",
            ResourceKind::TrainingJob => "training-job",
            ResourceKind::ProcessingJob => "processing-job",
            ResourceKind::TransformJob => "transform-job",
            ResourceKind::EndpointConfig => "endpoint-config",
            ResourceKind::Model => "model",
            ResourceKind::LogGroup => "log-group",
            ResourceKind::Bucket => "bucket",
            ResourceKind::Object => "object",
        }
    }

    /// SageMaker resources are in scope by their managed tag; buckets, objects and log groups by
    /// configuration (named buckets and prefixes).
    pub fn scoped_by_tag(self) -> bool {
        !matches!(self, ResourceKind::Bucket | ResourceKind::Object)
    }
}

/// One listed resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub kind: ResourceKind,
    /// Name; `bucket/key` for objects; `domain/space-or-user/type/app` for Studio apps; `domain` or
    /// `domain/user:profile` for Studio idle-shutdown settings.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Creation time (objects: last modified). `None` when the service does not say: such a resource is
    /// treated as too young (never acted on).
    pub created: Option<Epoch>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub detail: Detail,
}

/// Kind-specific facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Detail {
    Endpoint {
        status: String,
        config_name: String,
        variants: Vec<Variant>,
        /// `Invocations` summed over every variant over the idle window; `None` when the metrics could
        /// not be read (then the endpoint is never judged idle).
        invocations: Option<f64>,
    },
    Notebook {
        status: String,
        instance_type: String,
        /// The last Jupyter activity (sessions, kernels, terminals) its lifecycle configuration
        /// recorded in the [`ACTIVITY_TAG`](super::config::ACTIVITY_TAG) tag; `None` without a readable
        /// one. `LastModifiedTime` is not activity (it changes when the instance is started or
        /// updated, not when someone works in it), so it is not used.
        last_activity: Option<Epoch>,
    },
    StudioApp {
        status: String,
        app_type: String,
        instance_type: Option<String>,
        /// Last user activity (DescribeApp). JupyterLab, Code Editor and KernelGateway apps fall back
        /// to their creation time when it is absent; Canvas and RStudio sessions are judged only by it.
        last_activity: Option<Epoch>,
        /// Whether Studio's own idle shutdown covers the app (its owner's user profile, else its
        /// domain's default), when the studio-settings area read it: `Some(false)` is reported.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idle_shutdown: Option<bool>,
    },
    StudioIdleShutdown {
        /// `domain` (DefaultUserSettings) or `user-profile` (its UserSettings).
        level: String,
        /// The app types (`JupyterLab`, `CodeEditor`) whose idle shutdown this level leaves off: on a
        /// domain, not ENABLED; on a user profile, explicitly DISABLED (unset inherits the domain's).
        off: Vec<String>,
    },
    Job {
        status: String,
        started: Option<Epoch>,
        instance_type: Option<String>,
        instance_count: u32,
        /// Model a transform job reads (keeps the model referenced).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model_name: Option<String>,
    },
    EndpointConfig {
        model_names: Vec<String>,
    },
    Model,
    LogGroup {
        retention_days: Option<i32>,
    },
    Bucket {
        /// Enabled lifecycle rules.
        lifecycle_rules: usize,
        /// Whether a rule moves objects to Intelligent-Tiering.
        intelligent_tiering: bool,
    },
    Object {
        bucket: String,
        key: String,
        size: i64,
    },
}

/// A production or shadow variant of an endpoint's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub name: String,
    /// `None` for serverless variants.
    pub instance_type: Option<String>,
    pub instance_count: u32,
    pub serverless: bool,
    /// A shadow variant (ShadowProductionVariants): it serves a copy of the live traffic.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
    /// Invocations of this variant over the window (`None`: not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocations: Option<f64>,
    /// Its instances' use over the window (`/aws/sagemaker/Endpoints`; `None`: not read, or
    /// serverless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilisation: Option<InstanceUse>,
}

/// Everything listed in one run, plus the listings that failed (reported, never fatal).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Pages fetched per listing API (e.g. `sagemaker:ListEndpoints`): every listing is paginated.
    #[serde(default)]
    pub pages: BTreeMap<String, u32>,
}
