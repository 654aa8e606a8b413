//! `infra/template.yaml` read as CloudFormation would deploy it: parameters take their defaults (or
//! the values given), pseudo parameters and resource names take the values of one stack, and the
//! intrinsics the template uses (`Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join`, `Fn::If` and the condition
//! functions) are resolved, in their short (`!Ref`) and long (`Fn::Sub:`) forms.
//!
//! What this is for: the roles and environments of the stack's functions, with nothing copied by hand.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

/// Where and as what the stack is deployed.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub region: String,
    pub account: String,
    pub partition: String,
    /// The data bucket's name (`Ref DataBucket`).
    pub bucket: String,
    /// Parameter values that replace the template's defaults.
    pub parameters: BTreeMap<String, String>,
}

/// The template with its parameters fixed; resolves any part of it.
pub struct Template {
    raw: Yaml,
    /// The template's text, for the comments a YAML parser drops.
    pub text: String,
    stack: Stack,
    parameters: BTreeMap<String, Value>,
    conditions: BTreeMap<String, bool>,
}

impl Template {
    pub fn parse(text: &str, stack: Stack) -> Result<Template, String> {
        let raw: Yaml = serde_yaml::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        let mut t = Template {
            raw,
            text: text.to_string(),
            stack,
            parameters: BTreeMap::new(),
            conditions: BTreeMap::new(),
        };
        for (name, declaration) in entries(&t.raw["Parameters"]) {
            let given = t.stack.parameters.get(&name).cloned();
            let value = match (given, &declaration["Default"]) {
                (Some(v), _) => v,
                (None, Yaml::String(s)) => s.clone(),
                (None, Yaml::Number(n)) => n.to_string(),
                (None, Yaml::Bool(b)) => b.to_string(),
                (None, _) => return Err(format!("parameter {name} has no default and no value")),
            };
            let value = if declaration["Type"].as_str() == Some("CommaDelimitedList") {
                Value::Array(
                    value
                        .split(',')
                        .map(|s| Value::String(s.trim().to_string()))
                        .collect(),
                )
            } else {
                Value::String(value)
            };
            t.parameters.insert(name, value);
        }
        for (name, expr) in entries(&t.raw["Conditions"]) {
            let value = t.condition(&expr)?;
            t.conditions.insert(name, value);
        }
        Ok(t)
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The unresolved resource `logical_id`.
    pub fn resource(&self, logical_id: &str) -> Option<&Yaml> {
        self.raw["Resources"].get(logical_id)
    }

    /// The logical ids of the resources of `kind` (`AWS::SNS::Topic`, ...), in the template's order.
    pub fn resources_of(&self, kind: &str) -> Vec<String> {
        entries(&self.raw["Resources"])
            .into_iter()
            .filter(|(_, r)| r["Type"].as_str() == Some(kind))
            .map(|(id, _)| id)
            .collect()
    }

    /// `Globals.<section>` resolved (empty when absent).
    pub fn globals(&self, section: &str) -> Result<Value, String> {
        self.resolve(&self.raw["Globals"][section])
    }

    /// The value of `node` with every intrinsic resolved.
    pub fn resolve(&self, node: &Yaml) -> Result<Value, String> {
        Ok(self.eval(node)?.unwrap_or(Value::Null))
    }

    /// `None` for `AWS::NoValue` (the key or item is dropped).
    fn eval(&self, node: &Yaml) -> Result<Option<Value>, String> {
        Ok(Some(match node {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Number(n) => serde_json::to_value(n).map_err(|e| e.to_string())?,
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Sequence(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(v) = self.eval(item)? {
                        out.push(v);
                    }
                }
                Value::Array(out)
            }
            Yaml::Tagged(t) => {
                let name = t.tag.to_string();
                let name = name.trim_start_matches('!');
                let function = if name == "Ref" || name == "Condition" {
                    name.to_string()
                } else {
                    format!("Fn::{name}")
                };
                return self.intrinsic(&function, &t.value);
            }
            Yaml::Mapping(m) => {
                if m.len() == 1 {
                    if let Some((Yaml::String(k), v)) = m.iter().next() {
                        if k == "Ref" || k.starts_with("Fn::") {
                            return self.intrinsic(k, v);
                        }
                    }
                }
                let mut out = Map::new();
                for (k, v) in m {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .map_err(|e| e.to_string())?
                            .trim()
                            .to_string(),
                    };
                    if let Some(v) = self.eval(v)? {
                        out.insert(key, v);
                    }
                }
                Value::Object(out)
            }
        }))
    }

    fn intrinsic(&self, function: &str, arg: &Yaml) -> Result<Option<Value>, String> {
        match function {
            "Ref" => {
                let name = arg.as_str().ok_or("Ref takes a name")?;
                if name == "AWS::NoValue" {
                    return Ok(None);
                }
                self.reference(name).map(Some)
            }
            "Fn::GetAtt" => {
                let (resource, attribute) = match arg {
                    Yaml::String(s) => s.split_once('.').ok_or(format!("GetAtt {s}"))?,
                    Yaml::Sequence(v) if v.len() == 2 => (
                        v[0].as_str().ok_or("GetAtt resource")?,
                        v[1].as_str().ok_or("GetAtt attribute")?,
                    ),
                    _ => return Err("GetAtt takes Resource.Attribute".into()),
                };
                Ok(Some(Value::String(self.attribute(resource, attribute)?)))
            }
            "Fn::Sub" => {
                let (text, vars) = match arg {
                    Yaml::String(s) => (s.as_str(), BTreeMap::new()),
                    Yaml::Sequence(v) if v.len() == 2 => {
                        let text = v[0].as_str().ok_or("Sub text")?;
                        let mut vars = BTreeMap::new();
                        for (k, val) in v[1].as_mapping().into_iter().flatten() {
                            let value = self.resolve(val)?;
                            vars.insert(k.as_str().unwrap_or_default().to_string(), scalar(&value)?);
                        }
                        (text, vars)
                    }
                    _ => return Err("Sub takes a string or [string, map]".into()),
                };
                Ok(Some(Value::String(self.sub(text, &vars)?)))
            }
            "Fn::Join" => {
                let v = arg
                    .as_sequence()
                    .filter(|v| v.len() == 2)
                    .ok_or("Join takes [sep, list]")?;
                let sep = v[0].as_str().ok_or("Join separator")?;
                let items = self.resolve(&v[1])?;
                let parts: Result<Vec<String>, String> = items
                    .as_array()
                    .ok_or("Join takes a list")?
                    .iter()
                    .map(scalar)
                    .collect();
                Ok(Some(Value::String(parts?.join(sep))))
            }
            "Fn::If" => {
                let v = arg
                    .as_sequence()
                    .filter(|v| v.len() == 3)
                    .ok_or("If takes 3 items")?;
                let name = v[0].as_str().ok_or("If condition name")?;
                let holds = *self
                    .conditions
                    .get(name)
                    .ok_or(format!("unknown condition {name}"))?;
                self.eval(if holds { &v[1] } else { &v[2] })
            }
            other => Err(format!("{other} is not supported here")),
        }
    }

    fn condition(&self, expr: &Yaml) -> Result<bool, String> {
        let (function, arg) = match expr {
            Yaml::Tagged(t) => (t.tag.to_string().trim_start_matches('!').to_string(), &t.value),
            Yaml::Mapping(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().ok_or("empty condition")?;
                (
                    k.as_str()
                        .unwrap_or_default()
                        .trim_start_matches("Fn::")
                        .to_string(),
                    v,
                )
            }
            _ => return Err(format!("not a condition: {expr:?}")),
        };
        let items = || arg.as_sequence().ok_or(format!("{function} takes a list"));
        match function.as_str() {
            "Equals" => {
                let v = items()?;
                let a = self.resolve(v.first().ok_or("Equals")?)?;
                let b = self.resolve(v.get(1).ok_or("Equals")?)?;
                Ok(a == b)
            }
            "Not" => Ok(!self.condition(items()?.first().ok_or("Not")?)?),
            "And" => items()?
                .iter()
                .try_fold(true, |acc, c| Ok(acc && self.condition(c)?)),
            "Or" => items()?
                .iter()
                .try_fold(false, |acc, c| Ok(acc || self.condition(c)?)),
            "Condition" => {
                let name = arg.as_str().ok_or("Condition name")?;
                self.conditions
                    .get(name)
                    .copied()
                    .ok_or(format!("unknown condition {name}"))
            }
            other => Err(format!("condition function {other} is not supported here")),
        }
    }

    fn sub(&self, text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .map(|e| start + e)
                .ok_or(format!("unclosed ${{ in {text}"))?;
            let name = &rest[start + 2..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(v);
            } else if let Some((resource, attribute)) =
                name.split_once('.').filter(|_| !name.starts_with("AWS::"))
            {
                out.push_str(&self.attribute(resource, attribute)?);
            } else {
                out.push_str(&scalar(&self.reference(name)?)?);
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn reference(&self, name: &str) -> Result<Value, String> {
        let s = &self.stack;
        let text = match name {
            "AWS::Region" => s.region.clone(),
            "AWS::AccountId" => s.account.clone(),
            "AWS::Partition" => s.partition.clone(),
            "AWS::StackName" => s.name.clone(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            _ => {
                if let Some(v) = self.parameters.get(name) {
                    return Ok(v.clone());
                }
                return self.physical_id(name).map(Value::String);
            }
        };
        Ok(Value::String(text))
    }

    /// `Ref` of a resource: what CloudFormation returns for each type the template uses.
    fn physical_id(&self, logical_id: &str) -> Result<String, String> {
        let kind = self
            .resource(logical_id)
            .and_then(|r| r["Type"].as_str())
            .ok_or(format!("Ref to unknown name {logical_id}"))?;
        let s = &self.stack;
        Ok(match kind {
            "AWS::S3::Bucket" if logical_id == "DataBucket" => s.bucket.clone(),
            "AWS::Serverless::Function" | "AWS::IAM::Role" => self.physical_name(logical_id),
            "AWS::Serverless::StateMachine" => self.attribute(logical_id, "Arn")?,
            "AWS::SQS::Queue" => format!(
                "https://sqs.{}.amazonaws.com/{}/{}",
                s.region,
                s.account,
                self.physical_name(logical_id)
            ),
            "AWS::SNS::Topic" => self.attribute(logical_id, "TopicArn")?,
            _ => self.physical_name(logical_id),
        })
    }

    /// The generated physical name of a resource: `<stack>-<logical id>` (CloudFormation adds a
    /// random suffix; the names here only need to be stable and distinct), or the name the template
    /// gives it.
    pub fn physical_name(&self, logical_id: &str) -> String {
        let given = self
            .resource(logical_id)
            .map(|r| &r["Properties"])
            .and_then(|p| {
                ["FunctionName", "RoleName", "Name", "QueueName"]
                    .iter()
                    .find_map(|k| p.get(*k))
            })
            .and_then(|v| self.resolve(v).ok())
            .and_then(|v| v.as_str().map(str::to_string));
        given.unwrap_or_else(|| format!("{}-{logical_id}", self.stack.name))
    }

    /// A parameter's value as text (`Ref` of a parameter).
    pub fn parameter(&self, name: &str) -> Result<String, String> {
        let value = self.parameters.get(name).ok_or(format!("no parameter {name}"))?;
        scalar(value)
    }

    /// `Fn::GetAtt logical_id.attribute`.
    pub fn attribute(&self, logical_id: &str, attribute: &str) -> Result<String, String> {
        let s = &self.stack;
        let kind = self
            .resource(logical_id)
            .and_then(|r| r["Type"].as_str())
            .unwrap_or_default();
        let name = || self.physical_name(logical_id);
        let (p, r, a) = (&s.partition, &s.region, &s.account);
        Ok(match (kind, attribute) {
            ("AWS::S3::Bucket", "Arn") => format!("arn:{p}:s3:::{}", s.bucket),
            ("AWS::IAM::Role", "Arn") => format!("arn:{p}:iam::{a}:role/{}", name()),
            ("AWS::Serverless::Function", "Arn") => format!("arn:{p}:lambda:{r}:{a}:function:{}", name()),
            ("AWS::Serverless::StateMachine", "Arn") => {
                format!("arn:{p}:states:{r}:{a}:stateMachine:{}", name())
            }
            ("AWS::SQS::Queue", "Arn") => format!("arn:{p}:sqs:{r}:{a}:{}", name()),
            ("AWS::SQS::Queue", "QueueName") => name(),
            ("AWS::Logs::LogGroup", "Arn") => format!("arn:{p}:logs:{r}:{a}:log-group:{}:*", name()),
            ("AWS::SNS::Topic", "TopicArn") => format!("arn:{p}:sns:{r}:{a}:{}", name()),
            ("AWS::KMS::Key", "Arn") => format!("arn:{p}:kms:{r}:{a}:key/{}", name()),
            // Resources SAM generates from an event source: `<Function><Event>`.
            ("", "Arn") => format!("arn:{p}:events:{r}:{a}:rule/{}", name()),
            _ => {
                return Err(format!(
                    "GetAtt {logical_id}.{attribute} ({kind}) is not supported here"
                ))
            }
        })
    }
}

/// The `(name, value)` pairs of a template section (owned: the template is read while they are used).
fn entries(section: &Yaml) -> Vec<(String, Yaml)> {
    section
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
        .collect()
}

/// A resolved scalar as text (numbers and booleans as CloudFormation passes them).
pub fn scalar(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a scalar, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> Stack {
        Stack {
            name: "gp".into(),
            region: "eu-west-1".into(),
            account: "111122223333".into(),
            partition: "aws".into(),
            bucket: "data".into(),
            parameters: BTreeMap::from([("Prefix".to_string(), "in/".to_string())]),
        }
    }

    const TEMPLATE: &str = r#"
Parameters:
  Prefix: { Type: String, Default: incoming/ }
  Days: { Type: Number, Default: 7 }
  Repos: { Type: CommaDelimitedList, Default: "a,b" }
  Email: { Type: String, Default: "" }
Conditions:
  NoEmail: !Equals [!Ref Email, ""]
  WithEmail: !Not [!Condition NoEmail]
Resources:
  DataBucket: { Type: AWS::S3::Bucket }
  Role: { Type: AWS::IAM::Role }
  Fn: { Type: AWS::Serverless::Function, Properties: { FunctionName: !Sub "${AWS::StackName}-fn" } }
  Probe:
    Type: Test
    Properties:
      Sub: !Sub "${DataBucket.Arn}/${Prefix}* ${!Literal} ${AWS::Region}"
      SubMap: { "Fn::Sub": ["${X}-${Days}", { X: !Ref Role }] }
      Join: !Join [",", !Ref Repos]
      Att: !GetAtt Fn.Arn
      Long: { "Fn::GetAtt": [Role, Arn] }
      If: !If [WithEmail, yes, !Ref AWS::NoValue]
      List: [1, !If [NoEmail, !Ref AWS::NoValue, 2], 3]
"#;

    #[test]
    fn resolves_the_intrinsics_the_template_uses() {
        let t = Template::parse(TEMPLATE, stack()).unwrap();
        let p = t.resolve(&t.resource("Probe").unwrap()["Properties"]).unwrap();
        assert_eq!(p["Sub"], "arn:aws:s3:::data/in/* ${Literal} eu-west-1");
        assert_eq!(p["SubMap"], "gp-Role-7");
        assert_eq!(p["Join"], "a,b");
        assert_eq!(p["Att"], "arn:aws:lambda:eu-west-1:111122223333:function:gp-fn");
        assert_eq!(p["Long"], "arn:aws:iam::111122223333:role/gp-Role");
        assert!(p.get("If").is_none(), "{p}");
        assert_eq!(p["List"], serde_json::json!([1, 3]));
    }

    #[test]
    fn unknown_names_are_errors() {
        let t = Template::parse(TEMPLATE, stack()).unwrap();
        let node: Yaml = serde_yaml::from_str("!Ref Nothing").unwrap();
        assert!(t.resolve(&node).unwrap_err().contains("Nothing"));
        let node: Yaml = serde_yaml::from_str("!GetAtt Role.Nope").unwrap();
        assert!(t.resolve(&node).is_err());
    }
}
