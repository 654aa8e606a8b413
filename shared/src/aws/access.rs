//! What a deployed stage may call, and what that needs from its IAM role: the table's types, the
//! resource patterns the tables share, the [`Guard`] that enforces them, and the placeholder filling the
//! role checks use. Each stage's table is its `StageFunction::CALLS`, in its folder's `handler.rs`
//! (`shared/src/stages/<stage>/handler.rs`), next to the code that sends the calls.
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
//! configuration readers (`StageFunction::placeholders`, the same readers the handler uses), so a prefix
//! the code writes under and a prefix the role allows are compared as deployed.

use std::collections::BTreeMap;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::ConfigBag;

use crate::stages::Stage;
use crate::Result;

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

pub const fn need(action: &'static str, resource: &'static str) -> Need {
    Need {
        action,
        resource,
        why: "",
    }
}

pub const fn need_because(action: &'static str, resource: &'static str, why: &'static str) -> Need {
    Need {
        action,
        resource,
        why,
    }
}

// Resource patterns. `{bucket}` is the data bucket; object keys use the prefixes the stage's
// configuration resolves (`{reports}`, ...) and a sample name after them.
pub const DATA_OBJECT: &str = "arn:{partition}:s3:::{bucket}/{incoming}sales/2026-12-01.csv";
pub const DATA_BUCKET: &str = "arn:{partition}:s3:::{bucket}";
pub const CONTRACT_OBJECT: &str = "arn:{partition}:s3:::{contracts_bucket}/{contracts}incoming/sales.yaml";
pub const CONTRACTS_BUCKET: &str = "arn:{partition}:s3:::{contracts_bucket}";
pub const REPORT_OBJECT: &str =
    "arn:{partition}:s3:::{bucket}/{reports}incoming/sales/2026-12-01.csv/v1.json";
pub const QUARANTINE_OBJECT: &str = "arn:{partition}:s3:::{bucket}/{quarantine}incoming/sales/2026-12-01.csv";
pub const ARTIFACTS_BUCKET: &str = "arn:{partition}:s3:::{artifacts_bucket}";
pub const MARKER_OBJECT: &str = "arn:{partition}:s3:::{artifacts_bucket}/{state}sales/last-training.json";
pub const RUN_REPORT_OBJECT: &str = "arn:{partition}:s3:::{artifacts_bucket}/{reports}runs/gp-sales.json";
pub const OFFLINE_OBJECT: &str = "arn:{partition}:s3:::{bucket}/{offline}greenpipe-sales/data.parquet";
pub const STATE_MACHINE: &str = "{state_machine}";
pub const GLUE_CATALOG: &str = "arn:{partition}:glue:{region}:{account}:catalog";
pub const GLUE_DATABASE: &str = "arn:{partition}:glue:{region}:{account}:database/{database}";
pub const GLUE_TABLE: &str = "arn:{partition}:glue:{region}:{account}:table/{database}/sales";
pub const FEATURE_GROUP: &str = "arn:{partition}:sagemaker:{region}:{account}:feature-group/{feature_group}";
pub const TRAINING_JOB: &str = "arn:{partition}:sagemaker:{region}:{account}:training-job/sales-0123abcd";
pub const TRANSFORM_JOB: &str = "arn:{partition}:sagemaker:{region}:{account}:transform-job/sales-0123abcd";
pub const MODEL: &str = "arn:{partition}:sagemaker:{region}:{account}:model/sales-0123abcd";
pub const TUNING_JOB: &str =
    "arn:{partition}:sagemaker:{region}:{account}:hyper-parameter-tuning-job/sales-0123abcd";
pub const SAGEMAKER_ROLE: &str = "{sagemaker_role}";
pub const SAGEMAKER_ANY: &str = "arn:{partition}:sagemaker:{region}:{account}:endpoint/idle-endpoint";
pub const CLEANUP_REPORT_OBJECT: &str =
    "arn:{partition}:s3:::{cleanup_report_bucket}/{cleanup_reports}reports/run.json";
pub const CLEANUP_MANIFEST_OBJECT: &str =
    "arn:{partition}:s3:::{cleanup_report_bucket}/{cleanup_reports}manifests/idle-endpoint/run.json";
pub const CLEANUP_BUCKET: &str = "arn:{partition}:s3:::{cleanup_bucket}";
pub const CLEANUP_OBJECT: &str = "arn:{partition}:s3:::{cleanup_bucket}/{cleanup_prefix}old.json";
pub const CLEANUP_NOTICE_TOPIC: &str = "{cleanup_notice_topic}";
pub const CLEANUP_EVENT_BUS: &str = "arn:{partition}:events:{region}:{account}:event-bus/{cleanup_event_bus}";
pub const LOG_GROUP: &str = "arn:{partition}:logs:{region}:{account}:log-group:{log_group}";
pub const ANY: &str = "*";

/// S3 answers a GetObject or HeadObject of a missing key with 403, not 404, to a caller that may not
/// list the bucket: the stages that read "not there yet" as an answer need ListBucket for it.
pub const NOT_FOUND_NEEDS_LIST: &str = "a missing key must answer 404 (NoSuchKey), not 403";
pub const VERSIONED_READ: &str = "reads pin the object's version (versionId)";

/// The contracts prefix is listed to find an object's contract (see `aws::contracts`).
pub const LIST_CONTRACTS: Call = Call {
    operation: "s3:ListObjectsV2",
    needs: &[need("s3:ListBucket", CONTRACTS_BUCKET)],
};

/// The data object's size and version (HeadObject).
pub const HEAD_DATA: Call = Call {
    operation: "s3:HeadObject",
    needs: &[
        need("s3:GetObject", DATA_OBJECT),
        need_because("s3:GetObjectVersion", DATA_OBJECT, VERSIONED_READ),
    ],
};

/// The contract a stage was handed (stages that read nothing else).
pub const GET_CONTRACT: Call = Call {
    operation: "s3:GetObject",
    needs: &[need("s3:GetObject", CONTRACT_OBJECT)],
};

/// The IAM service prefix of a service as the SDK's operation metadata names it.
fn iam_prefix(service: &str) -> Option<&'static str> {
    Some(match service {
        "S3" => "s3",
        "SFN" => "states",
        "Glue" => "glue",
        "SageMaker" | "SageMaker FeatureStore Runtime" => "sagemaker",
        "CloudWatch" => "cloudwatch",
        "CloudWatch Logs" => "logs",
        "SNS" => "sns",
        "EventBridge" => "events",
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
            "{} may not call {}: the operation is not in its table (`CALLS` in the stage's handler.rs), so its \
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
    let bucket = deployment.get("bucket").cloned().unwrap_or_default();
    for (name, value) in stage.placeholders(lookup, &bucket)? {
        v.insert(name.to_string(), value);
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
