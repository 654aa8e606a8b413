//! "As deployed": the stack's own roles, read from `infra/template.yaml`, checked against what the code
//! calls ([`check`]) and enforced by an IAM-checking emulator while the real handlers run under them
//! ([`emulator`]). Used by `greenpipe run --as-deployed` and `greenpipe cleanup --as-deployed`, and by
//! the tests.

pub mod as_deployed;
pub mod check;
pub mod emulator;
pub mod policy;
pub mod template;

use std::collections::BTreeMap;
use std::path::Path;

pub use template::{Stack, Template};

/// The stack name local runs deploy as (function and state machine names follow from it).
pub const STACK_NAME: &str = "greenpipe";

/// The repository's template (`infra/template.yaml`), as built into this binary.
pub const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Each stage's memory as the built-in template deploys it: what a local run's stages report as
/// their memory (Lambda's `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`). Empty if the template does not read.
pub fn deployed_memory() -> BTreeMap<greenpipe::stages::Stage, u32> {
    let Ok(template) = Template::parse(TEMPLATE, stack("us-east-1", "123456789012", "local")) else {
        return BTreeMap::new();
    };
    greenpipe::stages::Stage::ALL
        .into_iter()
        .filter_map(|s| Some((s, emulator::function_memory(&template, &s.function_id()).ok()?)))
        .collect()
}

/// Read `path` as the stack `stack` would deploy it.
pub fn load(path: &Path, stack: Stack) -> Result<Template, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Template::parse(&text, stack).map_err(|e| format!("{}: {e}", path.display()))
}

/// A stack in `region` and `account` with `bucket` as its data bucket and every parameter at its default.
pub fn stack(region: &str, account: &str, bucket: &str) -> Stack {
    Stack {
        name: STACK_NAME.into(),
        region: region.into(),
        account: account.into(),
        partition: "aws".into(),
        bucket: bucket.into(),
        parameters: BTreeMap::new(),
    }
}

/// The state machine definition the template deploys (its `DefinitionUri`, relative to the template).
pub fn definition(template: &Template, template_path: &Path) -> Result<serde_json::Value, String> {
    let uri = template
        .resource("PipelineStateMachine")
        .and_then(|r| r["Properties"]["DefinitionUri"].as_str())
        .ok_or("PipelineStateMachine has no DefinitionUri")?;
    let path = template_path.parent().unwrap_or(Path::new(".")).join(uri);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use greenpipe::stages::Stage;

    use super::check::{check, compare, stage_needs, state_machine_needs, Finding};
    use super::policy::Role;
    use super::*;

    fn repo() -> PathBuf {
        greenpipe_tests::repo_root()
    }

    fn deployed() -> (Template, serde_json::Value) {
        let path = repo().join("infra/template.yaml");
        let t = load(&path, stack("eu-west-1", "111122223333", "gp-data")).unwrap();
        let d = definition(&t, &path).unwrap();
        (t, d)
    }

    #[test]
    fn the_template_grants_what_the_code_calls_and_nothing_more() {
        let (t, d) = deployed();
        let report = check(&t, &d).unwrap();
        for (owner, count) in &report.operations {
            println!("{owner}: {count} operations");
        }
        assert_eq!(report.operations.len(), Stage::ALL.len() + 1);
        let text: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
        assert!(text.is_empty(), "{}", text.join("\n"));
    }

    /// Mutation check: the template minus any one action some call needs fails the check, naming it.
    #[test]
    fn dropping_any_needed_action_is_caught() {
        let (t, d) = deployed();
        let mut mutations = 0;
        let mut owners: Vec<(String, super::check::Needs)> = Stage::ALL
            .iter()
            .map(|s| {
                let id = s.function_id();
                let role = Role::of(&t, &id).unwrap();
                (id, stage_needs(&t, *s, &role).unwrap())
            })
            .collect();
        owners.push((
            "PipelineStateMachine".into(),
            state_machine_needs(&t, &d).unwrap(),
        ));
        for (owner, needs) in owners {
            let role = Role::of(&t, &owner).unwrap();
            let mut actions: Vec<&String> = needs.iter().map(|(_, a, _)| a).collect();
            actions.sort();
            actions.dedup();
            for action in actions {
                let findings = compare(&t, &role.without(action), &needs);
                assert!(
                    findings
                        .iter()
                        .any(|f| matches!(f, Finding::Missing { action: a, owner: o, .. }
                        if a == action && *o == owner)),
                    "{owner} without {action}: {findings:?}"
                );
                mutations += 1;
            }
        }
        println!("{mutations} needed actions, each dropped in turn and caught");
        assert!(mutations > 60, "{mutations}");
    }

    #[test]
    fn an_unexplained_grant_is_caught() {
        let (t, d) = deployed();
        let mut role = Role::of(&t, "ReportRunFunction").unwrap();
        role.statements[0].actions.push("s3:DeleteObject".into());
        let needs = stage_needs(&t, Stage::ReportRun, &role).unwrap();
        let findings = compare(&t, &role, &needs);
        assert!(
            findings
                .iter()
                .any(|f| matches!(f, Finding::Unneeded { action, .. } if action == "s3:DeleteObject")),
            "{findings:?}"
        );
        let _ = d;
    }
}
