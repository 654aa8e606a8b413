//! What each deployed stage may call, and what that needs from its IAM role: one table per stage.
//!
//! The table is used twice, so it cannot drift from the code or from the template:
//! - at run time, every SDK client a stage builds carries a [`Guard`] that fails any operation its
//!   stage's table does not list, before anything is sent (a new SDK call without a table entry fails
//!   its first test, not a deployed stack);
//! - in tests, each entry's IAM actions on its resources are checked against the stage's role in
//!   `infra/template.yaml`, in both directions (the CLI's `deployed` module): a needed action the role
//!   lacks fails, and so does a granted action no entry needs, unless the template says why.
//!
//! Resources are ARN patterns with `{placeholders}` that [`values`] fills from the stage's own
//! configuration readers (the same ones the handler uses), so a prefix the code writes under and a
//! prefix the role allows are compared as deployed.

use std::collections::BTreeMap;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::ConfigBag;

use crate::stages::Stage;
use crate::Result;

/// Every operation `stage`'s code can send, with what each needs.
pub(crate) fn calls(stage: Stage) -> &'static [Call] {
    match stage {
        Stage::ValidateDataset => VALIDATE_DATASET,
        Stage::RegisterCatalog => REGISTER_CATALOG,
        Stage::WriteFeatures => WRITE_FEATURES,
        Stage::PlanTraining => PLAN_TRAINING,
        Stage::PlanTransform => PLAN_TRANSFORM,
        Stage::ReportRun => REPORT_RUN,
        Stage::CleanupIdle => CLEANUP_IDLE,
    }
}

/// One SDK operation a stage sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// `<IAM service prefix>:<Operation>` as the SDK names the operation (`s3:ListObjectsV2`).
    pub operation: &'static str,
    /// What it needs: IAM action on a resource pattern.
    pub needs: &'static [Need],
}

/// An IAM action on a resource (an ARN pattern with `{placeholders}`, see [`values`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub action: &'static str,
    pub resource: &'static str,
    /// Why, where the action is not the operation's own name.
    pub why: &'static str,
}

const fn need(action: &'static str, resource: &'static str) -> Need {
    Need {
        action,
        resource,
        why: "",
    }
}

const fn need_because(action: &'static str, resource: &'static str, why: &'static str) -> Need {
    Need {
        action,
        resource,
        why,
    }
}

// Resource patterns. `{bucket}` is the data bucket; object keys use the prefixes the stage's
// configuration resolves (`{reports}`, ...) and a sample name after them.
const DATA_OBJECT: &str = "arn:{partition}:s3:::{bucket}/{incoming}sales/2026-12-01.csv";
const DATA_BUCKET: &str = "arn:{partition}:s3:::{bucket}";
const CONTRACT_OBJECT: &str = "arn:{partition}:s3:::{contracts_bucket}/{contracts}incoming/sales.yaml";
const CONTRACTS_BUCKET: &str = "arn:{partition}:s3:::{contracts_bucket}";
const REPORT_OBJECT: &str = "arn:{partition}:s3:::{bucket}/{reports}incoming/sales/2026-12-01.csv/v1.json";
const QUARANTINE_OBJECT: &str = "arn:{partition}:s3:::{bucket}/{quarantine}incoming/sales/2026-12-01.csv";
const ARTIFACTS_BUCKET: &str = "arn:{partition}:s3:::{artifacts_bucket}";
const MARKER_OBJECT: &str = "arn:{partition}:s3:::{artifacts_bucket}/{state}sales/last-training.json";
const RUN_REPORT_OBJECT: &str = "arn:{partition}:s3:::{artifacts_bucket}/{reports}runs/gp-sales.json";
const OFFLINE_OBJECT: &str = "arn:{partition}:s3:::{bucket}/{offline}greenpipe-sales/data.parquet";
const STATE_MACHINE: &str = "{state_machine}";
const GLUE_CATALOG: &str = "arn:{partition}:glue:{region}:{account}:catalog";
const GLUE_DATABASE: &str = "arn:{partition}:glue:{region}:{account}:database/{database}";
const GLUE_TABLE: &str = "arn:{partition}:glue:{region}:{account}:table/{database}/sales";
const FEATURE_GROUP: &str = "arn:{partition}:sagemaker:{region}:{account}:feature-group/{feature_group}";
const TRAINING_JOB: &str = "arn:{partition}:sagemaker:{region}:{account}:training-job/sales-0123abcd";
const TRANSFORM_JOB: &str = "arn:{partition}:sagemaker:{region}:{account}:transform-job/sales-0123abcd";
const MODEL: &str = "arn:{partition}:sagemaker:{region}:{account}:model/sales-0123abcd";
const SAGEMAKER_ROLE: &str = "{sagemaker_role}";
const SAGEMAKER_ANY: &str = "arn:{partition}:sagemaker:{region}:{account}:endpoint/idle-endpoint";
const CLEANUP_REPORT_OBJECT: &str =
    "arn:{partition}:s3:::{cleanup_report_bucket}/{cleanup_reports}reports/run.json";
const CLEANUP_MANIFEST_OBJECT: &str =
    "arn:{partition}:s3:::{cleanup_report_bucket}/{cleanup_reports}manifests/idle-endpoint/run.json";
const CLEANUP_BUCKET: &str = "arn:{partition}:s3:::{cleanup_bucket}";
const CLEANUP_OBJECT: &str = "arn:{partition}:s3:::{cleanup_bucket}/{cleanup_prefix}old.json";
const LOG_GROUP: &str = "arn:{partition}:logs:{region}:{account}:log-group:{log_group}";
const ANY: &str = "*";

/// S3 answers a GetObject or HeadObject of a missing key with 403, not 404, to a caller that may not
/// list the bucket: the stages that read "not there yet" as an answer need ListBucket for it.
const NOT_FOUND_NEEDS_LIST: &str = "a missing key must answer 404 (NoSuchKey), not 403";
const VERSIONED_READ: &str = "reads pin the object's version (versionId)";

/// The contracts prefix is listed to find an object's contract (see `aws::contracts`).
const LIST_CONTRACTS: Call = Call {
    operation: "s3:ListObjectsV2",
    needs: &[need("s3:ListBucket", CONTRACTS_BUCKET)],
};

/// The data object's size and version (HeadObject).
const HEAD_DATA: Call = Call {
    operation: "s3:HeadObject",
    needs: &[
        need("s3:GetObject", DATA_OBJECT),
        need_because("s3:GetObjectVersion", DATA_OBJECT, VERSIONED_READ),
    ],
};

/// The contract a stage was handed (stages that read nothing else).
const GET_CONTRACT: Call = Call {
    operation: "s3:GetObject",
    needs: &[need("s3:GetObject", CONTRACT_OBJECT)],
};

static VALIDATE_DATASET: &[Call] = &[
    LIST_CONTRACTS,
    Call {
        operation: "s3:GetObject",
        needs: &[
            need("s3:GetObject", CONTRACT_OBJECT),
            need("s3:GetObject", DATA_OBJECT),
            need_because("s3:GetObjectVersion", DATA_OBJECT, VERSIONED_READ),
            need_because(
                "s3:GetObject",
                REPORT_OBJECT,
                "an existing report marks the version as done",
            ),
            need_because("s3:ListBucket", DATA_BUCKET, NOT_FOUND_NEEDS_LIST),
        ],
    },
    HEAD_DATA,
    Call {
        operation: "s3:PutObject",
        needs: &[need("s3:PutObject", REPORT_OBJECT)],
    },
    Call {
        operation: "s3:CopyObject",
        needs: &[
            need("s3:GetObject", DATA_OBJECT),
            need_because("s3:GetObjectVersion", DATA_OBJECT, VERSIONED_READ),
            need("s3:PutObject", QUARANTINE_OBJECT),
            need_because(
                "s3:PutObjectTagging",
                QUARANTINE_OBJECT,
                "the copy is tagged with why",
            ),
        ],
    },
    Call {
        operation: "s3:CreateMultipartUpload",
        needs: &[
            need("s3:PutObject", QUARANTINE_OBJECT),
            need_because(
                "s3:PutObjectTagging",
                QUARANTINE_OBJECT,
                "the copy is tagged with why",
            ),
        ],
    },
    Call {
        operation: "s3:UploadPartCopy",
        needs: &[
            need("s3:GetObject", DATA_OBJECT),
            need_because("s3:GetObjectVersion", DATA_OBJECT, VERSIONED_READ),
            need("s3:PutObject", QUARANTINE_OBJECT),
        ],
    },
    Call {
        operation: "s3:CompleteMultipartUpload",
        needs: &[need("s3:PutObject", QUARANTINE_OBJECT)],
    },
    Call {
        operation: "s3:AbortMultipartUpload",
        needs: &[need("s3:AbortMultipartUpload", QUARANTINE_OBJECT)],
    },
    Call {
        operation: "states:StartExecution",
        needs: &[need("states:StartExecution", STATE_MACHINE)],
    },
];

static REGISTER_CATALOG: &[Call] = &[
    LIST_CONTRACTS,
    GET_CONTRACT,
    HEAD_DATA,
    Call {
        operation: "s3:PutObject",
        needs: &[need("s3:PutObject", REPORT_OBJECT)],
    },
    Call {
        operation: "glue:GetTable",
        needs: &[
            need("glue:GetTable", GLUE_CATALOG),
            need("glue:GetTable", GLUE_DATABASE),
            need("glue:GetTable", GLUE_TABLE),
        ],
    },
    Call {
        operation: "glue:CreateDatabase",
        needs: &[
            need("glue:CreateDatabase", GLUE_CATALOG),
            need("glue:CreateDatabase", GLUE_DATABASE),
        ],
    },
    Call {
        operation: "glue:CreateTable",
        needs: &[
            need("glue:CreateTable", GLUE_CATALOG),
            need("glue:CreateTable", GLUE_DATABASE),
            need("glue:CreateTable", GLUE_TABLE),
        ],
    },
    Call {
        operation: "glue:UpdateTable",
        needs: &[
            need("glue:UpdateTable", GLUE_CATALOG),
            need("glue:UpdateTable", GLUE_DATABASE),
            need("glue:UpdateTable", GLUE_TABLE),
        ],
    },
    Call {
        operation: "glue:BatchCreatePartition",
        needs: &[
            need("glue:BatchCreatePartition", GLUE_CATALOG),
            need("glue:BatchCreatePartition", GLUE_DATABASE),
            need("glue:BatchCreatePartition", GLUE_TABLE),
        ],
    },
];

static WRITE_FEATURES: &[Call] = &[
    LIST_CONTRACTS,
    Call {
        operation: "s3:GetObject",
        needs: &[
            need("s3:GetObject", CONTRACT_OBJECT),
            need("s3:GetObject", DATA_OBJECT),
            need_because("s3:GetObjectVersion", DATA_OBJECT, VERSIONED_READ),
        ],
    },
    HEAD_DATA,
    Call {
        operation: "s3:PutObject",
        needs: &[
            need("s3:PutObject", REPORT_OBJECT),
            need_because(
                "s3:PutObject",
                OFFLINE_OBJECT,
                "offline (bulk) loads write Parquet files",
            ),
        ],
    },
    Call {
        operation: "sagemaker:DescribeFeatureGroup",
        needs: &[need("sagemaker:DescribeFeatureGroup", FEATURE_GROUP)],
    },
    Call {
        operation: "sagemaker:PutRecord",
        needs: &[need("sagemaker:PutRecord", FEATURE_GROUP)],
    },
];

static PLAN_TRAINING: &[Call] = &[
    Call {
        operation: "s3:GetObject",
        needs: &[
            need("s3:GetObject", CONTRACT_OBJECT),
            need("s3:GetObject", MARKER_OBJECT),
            need_because("s3:ListBucket", ARTIFACTS_BUCKET, NOT_FOUND_NEEDS_LIST),
        ],
    },
    HEAD_DATA,
    Call {
        operation: "s3:PutObject",
        needs: &[need_because(
            "s3:PutObject",
            MARKER_OBJECT,
            "a completed job of an earlier run is adopted and recorded",
        )],
    },
    Call {
        operation: "sagemaker:DescribeTrainingJob",
        needs: &[need("sagemaker:DescribeTrainingJob", TRAINING_JOB)],
    },
    Call {
        operation: "sagemaker:DescribeModel",
        needs: &[need("sagemaker:DescribeModel", MODEL)],
    },
    Call {
        operation: "sagemaker:CreateModel",
        needs: &[
            need("sagemaker:CreateModel", MODEL),
            need_because("sagemaker:AddTags", MODEL, "the model is created with tags"),
            need_because(
                "iam:PassRole",
                SAGEMAKER_ROLE,
                "the model runs under the SageMaker role",
            ),
        ],
    },
];

static PLAN_TRANSFORM: &[Call] = &[
    GET_CONTRACT,
    HEAD_DATA,
    Call {
        operation: "sagemaker:DescribeTransformJob",
        needs: &[need("sagemaker:DescribeTransformJob", TRANSFORM_JOB)],
    },
];

static REPORT_RUN: &[Call] = &[Call {
    operation: "s3:PutObject",
    needs: &[
        need("s3:PutObject", RUN_REPORT_OBJECT),
        need_because("s3:PutObject", MARKER_OBJECT, "the last-trained marker"),
    ],
}];

static CLEANUP_IDLE: &[Call] = &[
    Call {
        operation: "sagemaker:ListEndpoints",
        needs: &[need("sagemaker:ListEndpoints", ANY)],
    },
    Call {
        operation: "sagemaker:DescribeEndpoint",
        needs: &[need("sagemaker:DescribeEndpoint", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DescribeEndpointConfig",
        needs: &[need("sagemaker:DescribeEndpointConfig", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:ListEndpointConfigs",
        needs: &[need("sagemaker:ListEndpointConfigs", ANY)],
    },
    Call {
        operation: "sagemaker:ListModels",
        needs: &[need("sagemaker:ListModels", ANY)],
    },
    Call {
        operation: "sagemaker:DescribeModel",
        needs: &[need("sagemaker:DescribeModel", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:ListNotebookInstances",
        needs: &[need("sagemaker:ListNotebookInstances", ANY)],
    },
    Call {
        operation: "sagemaker:ListApps",
        needs: &[need("sagemaker:ListApps", ANY)],
    },
    Call {
        operation: "sagemaker:DescribeApp",
        needs: &[need("sagemaker:DescribeApp", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:ListTrainingJobs",
        needs: &[need("sagemaker:ListTrainingJobs", ANY)],
    },
    Call {
        operation: "sagemaker:ListProcessingJobs",
        needs: &[need("sagemaker:ListProcessingJobs", ANY)],
    },
    Call {
        operation: "sagemaker:ListTransformJobs",
        needs: &[need("sagemaker:ListTransformJobs", ANY)],
    },
    Call {
        operation: "sagemaker:DescribeTrainingJob",
        needs: &[need("sagemaker:DescribeTrainingJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DescribeProcessingJob",
        needs: &[need("sagemaker:DescribeProcessingJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DescribeTransformJob",
        needs: &[need("sagemaker:DescribeTransformJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:ListTags",
        needs: &[need("sagemaker:ListTags", SAGEMAKER_ANY)],
    },
    Call {
        operation: "cloudwatch:GetMetricData",
        needs: &[need("cloudwatch:GetMetricData", ANY)],
    },
    Call {
        operation: "sagemaker:DeleteEndpoint",
        needs: &[need("sagemaker:DeleteEndpoint", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DeleteEndpointConfig",
        needs: &[need("sagemaker:DeleteEndpointConfig", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DeleteModel",
        needs: &[need("sagemaker:DeleteModel", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:StopNotebookInstance",
        needs: &[need("sagemaker:StopNotebookInstance", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:DeleteApp",
        needs: &[need("sagemaker:DeleteApp", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:StopTrainingJob",
        needs: &[need("sagemaker:StopTrainingJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:StopProcessingJob",
        needs: &[need("sagemaker:StopProcessingJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "sagemaker:StopTransformJob",
        needs: &[need("sagemaker:StopTransformJob", SAGEMAKER_ANY)],
    },
    Call {
        operation: "logs:DescribeLogGroups",
        needs: &[need("logs:DescribeLogGroups", ANY)],
    },
    Call {
        operation: "logs:ListTagsForResource",
        needs: &[need("logs:ListTagsForResource", LOG_GROUP)],
    },
    Call {
        operation: "logs:PutRetentionPolicy",
        needs: &[need("logs:PutRetentionPolicy", LOG_GROUP)],
    },
    Call {
        operation: "s3:ListBuckets",
        needs: &[need("s3:ListAllMyBuckets", ANY)],
    },
    Call {
        operation: "s3:GetBucketTagging",
        needs: &[need("s3:GetBucketTagging", CLEANUP_BUCKET)],
    },
    Call {
        operation: "s3:GetBucketLifecycleConfiguration",
        needs: &[need("s3:GetLifecycleConfiguration", CLEANUP_BUCKET)],
    },
    Call {
        operation: "s3:PutBucketLifecycleConfiguration",
        needs: &[need("s3:PutLifecycleConfiguration", CLEANUP_BUCKET)],
    },
    Call {
        operation: "s3:ListObjectsV2",
        needs: &[need("s3:ListBucket", CLEANUP_BUCKET)],
    },
    Call {
        operation: "s3:DeleteObjects",
        needs: &[need("s3:DeleteObject", CLEANUP_OBJECT)],
    },
    Call {
        operation: "s3:PutObject",
        needs: &[
            need("s3:PutObject", CLEANUP_REPORT_OBJECT),
            need_because(
                "s3:PutObject",
                CLEANUP_MANIFEST_OBJECT,
                "restore manifest before a delete",
            ),
        ],
    },
];

/// The IAM service prefix of a service as the SDK's operation metadata names it.
fn iam_prefix(service: &str) -> Option<&'static str> {
    Some(match service {
        "S3" => "s3",
        "SFN" => "states",
        "Glue" => "glue",
        "SageMaker" | "SageMaker FeatureStore Runtime" => "sagemaker",
        "CloudWatch" => "cloudwatch",
        "CloudWatch Logs" => "logs",
        _ => return None,
    })
}

/// `<IAM service prefix>:<Operation>` of an operation as the SDK's metadata names it.
pub fn operation_key(service: &str, operation: &str) -> String {
    match iam_prefix(service) {
        Some(prefix) => format!("{prefix}:{operation}"),
        None => format!("{}:{operation}", service.to_ascii_lowercase().replace(' ', "-")),
    }
}

/// An interceptor that refuses, before it is serialised, any operation its stage's table does not list.
/// (No allocation on the way through: write-features sends one PutRecord per record.)
#[derive(Debug, Clone, Copy)]
pub struct Guard(pub Stage);

impl Guard {
    fn allows(self, service: &str, operation: &str) -> bool {
        let Some(prefix) = iam_prefix(service) else {
            return false;
        };
        self.0.calls().iter().any(|c| {
            c.operation
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix(':'))
                == Some(operation)
        })
    }
}

impl Intercept for Guard {
    fn name(&self) -> &'static str {
        "greenpipe::access::Guard"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(meta) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        if self.allows(meta.service(), meta.name()) {
            return Ok(());
        }
        Err(format!(
            "{} may not call {}: the operation is not in its table (shared/src/aws/access.rs), so its \
             role in infra/template.yaml is not known to allow it",
            self.0,
            operation_key(meta.service(), meta.name())
        )
        .into())
    }
}

/// A client of the SDK crate `$krate` from `$sdk`, carrying the stage's [`Guard`].
#[macro_export]
#[doc(hidden)]
macro_rules! guarded_client {
    ($krate:ident, $stage:expr, $sdk:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($sdk)
                .interceptor($crate::aws::access::Guard($stage))
                .build(),
        )
    };
}

/// `client` with the stage's [`Guard`] added (for clients built elsewhere with settings of their own).
pub fn guard_s3(stage: Stage, client: &aws_sdk_s3::Client) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(client.config().to_builder().interceptor(Guard(stage)).build())
}

/// The placeholders of the stage's resource patterns, from its configuration as `lookup` gives it
/// (the deployed environment), read by the same readers the handler uses. `deployment` supplies what
/// the code does not configure: `partition`, `region`, `account`, `bucket`, `incoming`, `database`,
/// `feature_group`, `offline`, `log_group`, `sagemaker_role` when the environment names none.
pub fn values(
    stage: Stage,
    lookup: &dyn Fn(&str) -> Option<String>,
    deployment: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut v = deployment.clone();
    let mut set = |k: &str, value: String| {
        v.insert(k.to_string(), value);
    };
    let bucket = deployment.get("bucket").cloned().unwrap_or_default();
    match stage {
        Stage::CleanupIdle => {
            let c = crate::stages::cleanup_idle::CleanupConfig::from_lookup(lookup)?;
            set(
                "cleanup_report_bucket",
                c.report_bucket.clone().unwrap_or_else(|| bucket.clone()),
            );
            set("cleanup_reports", c.report_prefix.clone());
            set(
                "cleanup_bucket",
                c.buckets.first().cloned().unwrap_or_else(|| bucket.clone()),
            );
            set("cleanup_prefix", c.prefixes.join(","));
        }
        Stage::PlanTraining | Stage::PlanTransform | Stage::ReportRun => {
            let c = crate::stages::plan::handler::PlanConfig::from_lookup(lookup)?;
            set("artifacts_bucket", c.artifacts_bucket(&bucket).to_string());
            set("state", c.state_prefix.clone());
            set("reports", c.base.reports_prefix.clone());
            set("contracts", c.base.contracts_prefix.clone());
            set(
                "contracts_bucket",
                c.base.contracts_bucket.clone().unwrap_or_else(|| bucket.clone()),
            );
            if let Some(role) = c.role_arn {
                set("sagemaker_role", role);
            }
        }
        Stage::ValidateDataset | Stage::RegisterCatalog | Stage::WriteFeatures => {
            let c = crate::aws::Config::from_lookup(lookup)?;
            set("reports", c.reports_prefix.clone());
            set("quarantine", c.quarantine_prefix.clone());
            set("contracts", c.contracts_prefix.clone());
            set(
                "contracts_bucket",
                c.contracts_bucket.clone().unwrap_or_else(|| bucket.clone()),
            );
            if let Some(arn) = c.state_machine_arn {
                set("state_machine", arn);
            }
        }
    }
    Ok(v)
}

/// Every resource `pattern` stands for: each `{name}` replaced from `values`, a value holding several
/// comma-separated items (cleanup's prefixes) giving one resource per item.
pub fn fill_all(
    pattern: &str,
    values: &BTreeMap<String, String>,
) -> std::result::Result<Vec<String>, String> {
    let Some((name, list)) = values
        .iter()
        .find(|(k, v)| v.contains(',') && pattern.contains(&format!("{{{k}}}")))
    else {
        return fill(pattern, values).map(|r| vec![r]);
    };
    let mut out = Vec::new();
    for item in list.split(',') {
        let mut one = values.clone();
        one.insert(name.clone(), item.to_string());
        out.extend(fill_all(pattern, &one)?);
    }
    Ok(out)
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `pattern` with every `{name}` replaced from `values`; an unknown name is an error naming it.
pub fn fill(pattern: &str, values: &BTreeMap<String, String>) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .ok_or_else(|| format!("unclosed placeholder in {pattern}"))?;
        let name = &rest[start + 1..end];
        let value = values
            .get(name)
            .ok_or_else(|| format!("no value for {{{name}}} in {pattern}"))?;
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_keys_use_iam_prefixes() {
        assert_eq!(operation_key("S3", "GetObject"), "s3:GetObject");
        assert_eq!(operation_key("SFN", "StartExecution"), "states:StartExecution");
        assert_eq!(
            operation_key("SageMaker FeatureStore Runtime", "PutRecord"),
            "sagemaker:PutRecord"
        );
        assert_eq!(
            operation_key("CloudWatch Logs", "DescribeLogGroups"),
            "logs:DescribeLogGroups"
        );
        assert_eq!(operation_key("Some Service", "Op"), "some-service:Op");
    }

    #[test]
    fn globs_like_iam() {
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(!glob("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(glob("*", ""));
        assert!(glob("a?c*", "abcdef"));
        assert!(!glob("a?c", "ac"));
        assert!(glob(
            "arn:*:training-job/*",
            "arn:aws:sagemaker:r:1:training-job/x"
        ));
        assert!(!glob("arn:*:model/*", "arn:aws:sagemaker:r:1:training-job/x"));
    }

    #[test]
    fn the_guard_matches_sdk_names() {
        let guard = Guard(Stage::WriteFeatures);
        assert!(guard.allows("SageMaker FeatureStore Runtime", "PutRecord"));
        assert!(guard.allows("S3", "GetObject"));
        assert!(!guard.allows("S3", "DeleteObject"));
        assert!(!guard.allows("S3", "GetObjectX"));
        assert!(!guard.allows("Glue", "GetTable"));
        assert!(!guard.allows("Nothing", "PutRecord"));
    }

    #[test]
    fn every_stage_has_a_table_without_repeats() {
        for stage in Stage::ALL {
            assert_eq!(Stage::by_name(stage.name()), Some(stage));
            let calls = stage.calls();
            assert!(!calls.is_empty(), "{stage}");
            for (i, c) in calls.iter().enumerate() {
                assert!(
                    calls[i + 1..].iter().all(|d| d.operation != c.operation),
                    "{stage}: {} listed twice",
                    c.operation
                );
                assert!(!c.needs.is_empty(), "{stage}: {} needs nothing?", c.operation);
            }
        }
    }

    #[test]
    fn placeholders_fill_from_the_stage_configuration() {
        let deployment: BTreeMap<String, String> = [
            ("partition", "aws"),
            ("region", "eu-west-1"),
            ("account", "111122223333"),
            ("bucket", "data"),
            ("incoming", "incoming/"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let env = |name: &str| (name == "GREENPIPE_REPORTS_PREFIX").then(|| "out/reports".to_string());
        let v = values(Stage::ValidateDataset, &env, &deployment).unwrap();
        assert_eq!(
            fill(REPORT_OBJECT, &v).unwrap(),
            "arn:aws:s3:::data/out/reports/incoming/sales/2026-12-01.csv/v1.json"
        );
        let err = fill(STATE_MACHINE, &v).unwrap_err();
        assert!(err.contains("state_machine"), "{err}");
    }
}
