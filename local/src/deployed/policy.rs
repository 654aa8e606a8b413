//! The stack's roles as `infra/template.yaml` declares them, and a small evaluator of their Allow
//! statements (IAM's wildcards; conditions are noted, not evaluated).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use greenpipe::aws::access::glob;

use super::template::{scalar, Template};

/// One IAM policy statement, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub condition: Option<Value>,
}

impl Statement {
    fn from_json(v: &Value) -> Result<Statement, String> {
        let list = |field: &str| -> Result<Vec<String>, String> {
            match &v[field] {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => items.iter().map(scalar).collect(),
                other => Ok(vec![scalar(other)?]),
            }
        };
        Ok(Statement {
            allow: v["Effect"].as_str() != Some("Deny"),
            actions: list("Action")?,
            resources: list("Resource")?,
            condition: v.get("Condition").cloned(),
        })
    }

    fn to_json(&self) -> Value {
        let mut s = json!({
            "Effect": if self.allow { "Allow" } else { "Deny" },
            "Action": self.actions,
            "Resource": self.resources,
        });
        if let Some(c) = &self.condition {
            s["Condition"] = c.clone();
        }
        s
    }

    /// Whether the statement grants `action` on `resource` (conditions aside).
    pub fn grants(&self, action: &str, resource: &str) -> bool {
        self.allow
            && self
                .actions
                .iter()
                .any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && self.resources.iter().any(|r| glob(r, resource))
    }
}

/// A role of the stack: the function's (SAM's `Policies`), the state machine's, or a plain IAM role.
#[derive(Debug, Clone)]
pub struct Role {
    /// The logical id of the resource that owns it (`PlanTrainingFunction`, `SageMakerExecutionRole`).
    pub owner: String,
    /// The role's name (what CloudFormation would name it).
    pub name: String,
    pub statements: Vec<Statement>,
    /// The function's environment (Globals then its own), empty for other roles.
    pub environment: BTreeMap<String, String>,
}

impl Role {
    /// The role of `owner` (a function, the state machine or an `AWS::IAM::Role`).
    pub fn of(template: &Template, owner: &str) -> Result<Role, String> {
        let resource = template
            .resource(owner)
            .ok_or(format!("{owner} is not in the template"))?;
        let kind = resource["Type"].as_str().unwrap_or_default();
        let props = &resource["Properties"];
        let mut statements = Vec::new();
        let mut environment = BTreeMap::new();
        match kind {
            "AWS::Serverless::Function" | "AWS::Serverless::StateMachine" => {
                for policy in template
                    .resolve(&props["Policies"])?
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    statements.extend(sam_policy(template, policy).map_err(|e| format!("{owner}: {e}"))?);
                }
                if kind == "AWS::Serverless::Function" {
                    let globals = template.globals("Function")?;
                    for vars in [
                        &globals["Environment"]["Variables"],
                        &template.resolve(&props["Environment"]["Variables"])?,
                    ] {
                        for (k, v) in vars.as_object().into_iter().flatten() {
                            environment
                                .insert(k.clone(), scalar(v).map_err(|e| format!("{owner}.{k}: {e}"))?);
                        }
                    }
                }
            }
            "AWS::IAM::Role" => {
                for policy in template
                    .resolve(&props["Policies"])?
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    for s in policy["PolicyDocument"]["Statement"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        statements.push(Statement::from_json(s)?);
                    }
                }
            }
            other => return Err(format!("{owner} ({other}) has no role")),
        }
        Ok(Role {
            name: template.physical_name(owner),
            owner: owner.to_string(),
            statements,
            environment,
        })
    }

    /// Whether some statement grants `action` on `resource` (conditions are the template's to state and
    /// AWS's to evaluate; the check only asks whether a grant exists).
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        self.statements.iter().any(|s| s.grants(action, resource))
    }

    /// The inline policy document, as IAM takes it.
    pub fn document(&self) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": self.statements.iter().map(Statement::to_json).collect::<Vec<_>>(),
        })
    }

    /// The same role with `action` removed from every statement (for mutation checks).
    #[cfg(test)]
    pub fn without(&self, action: &str) -> Role {
        let mut role = self.clone();
        for s in &mut role.statements {
            s.actions.retain(|a| !a.eq_ignore_ascii_case(action));
        }
        role.statements.retain(|s| !s.actions.is_empty());
        role
    }
}

/// A SAM `Policies` item: an inline `{Statement: [...]}` document, or the policy template this
/// template uses (`LambdaInvokePolicy`).
fn sam_policy(template: &Template, policy: &Value) -> Result<Vec<Statement>, String> {
    if let Some(statements) = policy["Statement"].as_array() {
        return statements.iter().map(Statement::from_json).collect();
    }
    if let Some(args) = policy.get("LambdaInvokePolicy") {
        let name = scalar(&args["FunctionName"])?;
        let s = template.stack();
        let arn = format!(
            "arn:{}:lambda:{}:{}:function:{name}",
            s.partition, s.region, s.account
        );
        return Ok(vec![Statement {
            allow: true,
            actions: vec!["lambda:InvokeFunction".into()],
            resources: vec![arn.clone(), format!("{arn}:*")],
            condition: None,
        }]);
    }
    Err(format!(
        "policy {policy} is neither a statement list nor a known SAM policy template"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_grant_by_action_and_resource() {
        let s = Statement::from_json(&json!({
            "Effect": "Allow", "Action": ["s3:GetObject", "s3:Put*"], "Resource": "arn:aws:s3:::b/in/*"
        }))
        .unwrap();
        assert!(s.grants("s3:getobject", "arn:aws:s3:::b/in/x"));
        assert!(s.grants("s3:PutObjectTagging", "arn:aws:s3:::b/in/x"));
        assert!(!s.grants("s3:GetObject", "arn:aws:s3:::b/out/x"));
        assert!(!s.grants("s3:DeleteObject", "arn:aws:s3:::b/in/x"));
    }
}
