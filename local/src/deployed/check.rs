//! The static cross-check of code and template, in both directions:
//! - every IAM action each stage's calls need ([`greenpipe::aws::access`], the table its clients are
//!   guarded by) is granted by the stage's role on the resources the stage's configuration resolves
//!   to, as deployed (the function's environment in the template);
//! - every action a role grants is needed by some call of its stage, on each resource it is granted
//!   on, unless the template says why next to it (a `#` comment on the action's line or the line
//!   above it, inside the resource's block).
//!
//! The state machine's role is checked the same way against what its definition's Task states need
//! (Lambda tasks, and the SageMaker service integrations as AWS documents their IAM).

use std::collections::BTreeMap;

use greenpipe::aws::access;
use greenpipe::stages::Stage;
use serde_json::Value;

use greenpipe::aws::access::glob;

use super::policy::Role;
use super::template::Template;

/// One disagreement between code and template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A call needs an action its role does not grant there.
    Missing {
        owner: String,
        operation: String,
        action: String,
        resource: String,
    },
    /// The role grants an action on a resource that no call needs, and the template does not say why.
    Unneeded {
        owner: String,
        action: String,
        resource: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Missing {
                owner,
                operation,
                action,
                resource,
            } => write!(
                f,
                "{owner}: {operation} needs {action} on {resource}, which its role does not grant"
            ),
            Finding::Unneeded {
                owner,
                action,
                resource,
            } => write!(
                f,
                "{owner}: its role grants {action} on {resource}, which no call needs (say why in a comment, or remove it)"
            ),
        }
    }
}

/// What a role was checked against: `(operation, action, resource)`.
pub type Needs = Vec<(String, String, String)>;

/// The outcome of the check: per role owner, the operations checked, and what disagrees.
#[derive(Debug, Default)]
pub struct Report {
    pub operations: BTreeMap<String, usize>,
    pub findings: Vec<Finding>,
}

/// The values the resource patterns need that the code does not configure: the stack's, and names a
/// contract picks within what the template allows.
pub fn deployment(template: &Template) -> Result<BTreeMap<String, String>, String> {
    let s = template.stack();
    let parameter = |name: &str| template.parameter(name);
    Ok(BTreeMap::from([
        ("partition".to_string(), s.partition.clone()),
        ("region".to_string(), s.region.clone()),
        ("account".to_string(), s.account.clone()),
        ("bucket".to_string(), s.bucket.clone()),
        ("incoming".to_string(), parameter("IncomingPrefix")?),
        ("database".to_string(), parameter("GlueDatabaseName")?),
        (
            "feature_group".to_string(),
            format!("{}sales", parameter("FeatureGroupPrefix")?),
        ),
        ("offline".to_string(), "greenpipe/feature-store/".to_string()),
        (
            "log_group".to_string(),
            format!("/aws/lambda/{}-ValidateDatasetFunction", s.name),
        ),
        (
            "sagemaker_role".to_string(),
            template.attribute("SageMakerExecutionRole", "Arn")?,
        ),
    ]))
}

/// The needs of a stage, resolved for this deployment.
pub fn stage_needs(template: &Template, stage: Stage, role: &Role) -> Result<Needs, String> {
    let env = role.environment.clone();
    let lookup = move |name: &str| env.get(name).cloned();
    let values =
        access::values(stage, &lookup, &deployment(template)?).map_err(|e| format!("{stage}: {e}"))?;
    let mut needs = Vec::new();
    for call in stage.calls() {
        for need in call.needs {
            for resource in access::fill_all(need.resource, &values).map_err(|e| format!("{stage}: {e}"))? {
                needs.push((call.operation.to_string(), need.action.to_string(), resource));
            }
        }
    }
    Ok(needs)
}

/// What each SageMaker integration the definition may use needs, as AWS documents it for Step
/// Functions: the API's actions on its kind of resource, PassRole where a role is handed to SageMaker,
/// and the managed EventBridge rule a `.sync` integration waits with.
type Integration = (
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
    Option<&'static str>,
);
const INTEGRATIONS: [Integration; 4] = [
    (
        "sagemaker:createTrainingJob.sync",
        "training-job",
        &[
            "CreateTrainingJob",
            "DescribeTrainingJob",
            "StopTrainingJob",
            "AddTags",
        ],
        true,
        Some("Training"),
    ),
    (
        "sagemaker:createHyperParameterTuningJob.sync",
        "hyper-parameter-tuning-job",
        &[
            "CreateHyperParameterTuningJob",
            "DescribeHyperParameterTuningJob",
            "StopHyperParameterTuningJob",
            "ListTrainingJobsForHyperParameterTuningJob",
            "AddTags",
        ],
        true,
        Some("Tuning"),
    ),
    (
        "sagemaker:createModel",
        "model",
        &["CreateModel", "AddTags"],
        true,
        None,
    ),
    (
        "sagemaker:createTransformJob.sync",
        "transform-job",
        &[
            "CreateTransformJob",
            "DescribeTransformJob",
            "StopTransformJob",
            "AddTags",
        ],
        false,
        Some("Transform"),
    ),
];

/// The needs of the state machine's role, from its definition's Task states.
pub fn state_machine_needs(template: &Template, definition: &Value) -> Result<Needs, String> {
    let s = template.stack();
    let (p, r, a) = (&s.partition, &s.region, &s.account);
    let sagemaker = |kind: &str| format!("arn:{p}:sagemaker:{r}:{a}:{kind}/sales-0123abcd");
    let rule =
        |jobs: &str| format!("arn:{p}:events:{r}:{a}:rule/StepFunctionsGetEventsForSageMaker{jobs}JobsRule");
    let sagemaker_role = template.attribute("SageMakerExecutionRole", "Arn")?;
    let functions = template.resolve(
        &template
            .resource("PipelineStateMachine")
            .ok_or("no PipelineStateMachine")?["Properties"]["DefinitionSubstitutions"],
    )?;
    let mut needs = Vec::new();
    let mut add =
        |op: &str, action: &str, resource: String| needs.push((op.to_string(), action.to_string(), resource));
    let mut resources = Vec::new();
    task_resources(definition, &mut resources);
    for resource in resources {
        if let Some(key) = resource.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
            let arn = functions[key]
                .as_str()
                .ok_or(format!("no substitution for {resource}"))?;
            add("lambda:Invoke", "lambda:InvokeFunction", arn.to_string());
            continue;
        }
        let integration = resource
            .strip_prefix("arn:aws:states:::")
            .ok_or(format!("Task resource {resource} is not a service integration"))?;
        let (_, kind, actions, passes_role, rule_of) = INTEGRATIONS
            .iter()
            .find(|(name, ..)| *name == integration)
            .ok_or(format!("the check does not know what {integration} needs"))?;
        for action in *actions {
            add(integration, &format!("sagemaker:{action}"), sagemaker(kind));
        }
        if *passes_role {
            add(integration, "iam:PassRole", sagemaker_role.clone());
        }
        if let Some(jobs) = rule_of {
            for action in ["events:PutTargets", "events:PutRule", "events:DescribeRule"] {
                add(integration, action, rule(jobs));
            }
        }
    }
    Ok(needs)
}

fn task_resources(graph: &Value, out: &mut Vec<String>) {
    for state in graph["States"].as_object().into_iter().flatten().map(|(_, s)| s) {
        if state["Type"] == "Task" {
            if let Some(r) = state["Resource"].as_str() {
                if !out.iter().any(|o| o == r) {
                    out.push(r.to_string());
                }
            }
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            task_resources(branch, out);
        }
        for key in ["ItemProcessor", "Iterator"] {
            if state.get(key).is_some() {
                task_resources(&state[key], out);
            }
        }
    }
}

/// Compare `needs` with `role`, both ways.
pub fn compare(template: &Template, role: &Role, needs: &Needs) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (operation, action, resource) in needs {
        if !role.allows(action, resource) {
            findings.push(Finding::Missing {
                owner: role.owner.clone(),
                operation: operation.clone(),
                action: action.clone(),
                resource: resource.clone(),
            });
        }
    }
    for statement in role.statements.iter().filter(|s| s.allow) {
        for action in &statement.actions {
            for granted in &statement.resources {
                let needed = needs.iter().any(|(_, a, r)| {
                    glob(&action.to_ascii_lowercase(), &a.to_ascii_lowercase()) && glob(granted, r)
                });
                if !needed && !justified(template, &role.owner, action) {
                    findings.push(Finding::Unneeded {
                        owner: role.owner.clone(),
                        action: action.clone(),
                        resource: granted.clone(),
                    });
                }
            }
        }
    }
    findings
}

/// Whether the template explains `action` in `owner`'s block: a `#` comment on a line that names the
/// action, on the line above it, or above the statement it belongs to.
fn justified(template: &Template, owner: &str, action: &str) -> bool {
    let lines: Vec<&str> = template.text.lines().collect();
    let header = format!("  {owner}:");
    let Some(start) = lines.iter().position(|l| *l == header) else {
        return false;
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| {
            l.starts_with("  ")
                && !l.starts_with("   ")
                && !l.trim().is_empty()
                && !l.trim_start().starts_with('#')
        })
        .map_or(lines.len(), |e| start + 1 + e);
    (start..end).any(|i| {
        let names = lines[i]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '*'))
            .any(|word| word.eq_ignore_ascii_case(action));
        if !names {
            return false;
        }
        if lines[i].contains(" # ") || lines[i - 1].trim_start().starts_with('#') {
            return true;
        }
        // Up to the line that starts the statement (`- Sid:` / `- Effect:`), then the line above it.
        let statement = (start..=i).rev().find(|&j| {
            ["- Sid:", "- Effect:"]
                .iter()
                .any(|k| lines[j].trim_start().starts_with(k))
        });
        statement.is_some_and(|j| j > start && lines[j - 1].trim_start().starts_with('#'))
    })
}

/// The whole check: every stage's function role, and the state machine's.
pub fn check(template: &Template, definition: &Value) -> Result<Report, String> {
    let mut report = Report::default();
    for stage in Stage::ALL {
        let role = Role::of(template, &stage.function_id())?;
        let needs = stage_needs(template, stage, &role)?;
        report
            .operations
            .insert(stage.name().to_string(), stage.calls().len());
        report.findings.extend(compare(template, &role, &needs));
    }
    let role = Role::of(template, "PipelineStateMachine")?;
    let needs = state_machine_needs(template, definition)?;
    let mut ops: Vec<&String> = needs.iter().map(|(op, _, _)| op).collect();
    ops.sort();
    ops.dedup();
    report.operations.insert("state machine".into(), ops.len());
    report.findings.extend(compare(template, &role, &needs));
    Ok(report)
}
