//! The stack's roles on an IAM-enforcing emulator (moto's server), and SDK configurations that act as
//! each role, so that the real handlers run with exactly the rights the template gives them.
//!
//! Set-up, while the emulator does not check signatures yet:
//! 1. an administrator user for this harness's own calls (staging data, reading results);
//! 2. each function's role and the state machine's, with the template's policies (see
//!    [`emulator_document`] for the one change), and the SageMaker execution role;
//! 3. temporary credentials for each role from STS AssumeRole;
//! 4. the state machine `<stack>-pipeline` that validate-dataset starts executions of.
//!
//! Then [`Deployment::enforce`] turns moto's IAM enforcement on (`/moto-api/reset-auth`), and
//! [`Deployment::release`] turns it back to what it was.
//!
//! moto's limits (5.2.5, `moto/iam/access_control.py`), and what this does about them: it evaluates S3
//! actions against resource ARNs, so S3 statements go to the emulator exactly as the template states
//! them; every other service's request is matched against the resource `*`, so a correctly scoped
//! SageMaker or Glue statement would deny everything. Those statements go with their actions exactly as
//! stated and their resources relaxed to `*`; their ARNs (and every `Condition`, which moto ignores)
//! are checked by the static cross-check ([`super::check`]) instead.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use greenpipe::stages::Stage;
use serde_json::{json, Value};

use super::policy::{Role, Statement};
use super::template::Template;

/// The harness's own user on the emulator.
const ADMIN_USER: &str = "greenpipe-as-deployed-admin";
/// moto answers every account's requests as this one unless told otherwise.
const EMULATOR_ACCOUNT: &str = "123456789012";

/// One deployed function: its credentials and its environment.
pub struct StageRun {
    pub sdk: SdkConfig,
    pub environment: BTreeMap<String, String>,
    /// The function's `Timeout` (its own, or the template's Globals): each invocation's deadline.
    pub timeout: Duration,
}

/// The stack, set up on the emulator.
pub struct Deployment {
    /// For the harness's own calls once enforcement is on.
    pub admin: SdkConfig,
    pub stages: BTreeMap<Stage, StageRun>,
    /// The state machine's role (its SageMaker service integrations).
    pub state_machine: SdkConfig,
    pub state_machine_arn: String,
    endpoint: String,
    previous_auth: String,
}

impl Deployment {
    /// Set the stack up on the emulator at `endpoint` (see the module docs). `extra_env` adds to every
    /// function's environment what the template does not set (settings a local emulator needs, such
    /// as path-style S3).
    pub async fn prepare(
        endpoint: &str,
        template: Template,
        extra_env: &[(String, String)],
    ) -> Result<Deployment, String> {
        // Whatever a run before left switched on: set-up needs the emulator open.
        let previous_auth = reset_auth(endpoint, "inf")?;
        let region = template.stack().region.clone();
        let bootstrap = sdk(
            &region,
            Credentials::new("greenpipe-bootstrap", "bootstrap", None, None, "bootstrap"),
        )
        .await;
        let iam = aws_sdk_iam::Client::new(&bootstrap);
        let admin_credentials = admin(&iam).await?;
        let admin = sdk(&region, admin_credentials).await;
        let iam = aws_sdk_iam::Client::new(&admin);
        let sts = aws_sdk_sts::Client::new(&admin);
        let account = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                format!(
                    "STS GetCallerIdentity: {}",
                    aws_sdk_sts::error::DisplayErrorContext(e)
                )
            })?
            .account()
            .unwrap_or(EMULATOR_ACCOUNT)
            .to_string();
        if account != template.stack().account {
            return Err(format!(
                "the emulator's account is {account}, the template was resolved for {}",
                template.stack().account
            ));
        }

        let sagemaker_role = Role::of(&template, "SageMakerExecutionRole")?;
        create_role(&iam, &sagemaker_role, "sagemaker.amazonaws.com").await?;

        let mut stages = BTreeMap::new();
        for stage in Stage::ALL {
            let role = Role::of(&template, &stage.function_id())?;
            let sdk = assume(&iam, &sts, &role, &region).await?;
            let mut environment = role.environment.clone();
            for (k, v) in extra_env {
                environment.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let timeout = function_timeout(&template, &stage.function_id())?;
            // Lambda tells a function its memory in this variable; the stage reports it in its output.
            environment
                .entry(greenpipe::stages::MEMORY_VARIABLE.to_string())
                .or_insert(function_memory(&template, &stage.function_id())?.to_string());
            stages.insert(
                stage,
                StageRun {
                    sdk,
                    environment,
                    timeout,
                },
            );
        }
        // The stack's topics (cleanup-idle publishes its grace-period notices to one), by the names
        // their ARNs resolve to.
        let sns = aws_sdk_sns::Client::new(&admin);
        for topic in template.resources_of("AWS::SNS::Topic") {
            let name = template.physical_name(&topic);
            sns.create_topic().name(&name).send().await.map_err(|e| {
                format!(
                    "SNS CreateTopic {name}: {}",
                    aws_sdk_sns::error::DisplayErrorContext(e)
                )
            })?;
        }
        let machine_role = Role::of(&template, "PipelineStateMachine")?;
        let state_machine = assume(&iam, &sts, &machine_role, &region).await?;
        let state_machine_arn = create_state_machine(&admin, &template, &machine_role).await?;
        Ok(Deployment {
            admin,
            stages,
            state_machine,
            state_machine_arn,
            endpoint: endpoint.to_string(),
            previous_auth,
        })
    }

    /// Turn the emulator's IAM enforcement on: from now on every request is checked.
    pub fn enforce(&self) -> Result<(), String> {
        reset_auth(&self.endpoint, "0").map(|_| ())
    }

    /// Turn enforcement back to what it was before [`Deployment::prepare`].
    pub fn release(&self) -> Result<(), String> {
        reset_auth(&self.endpoint, &self.previous_auth).map(|_| ())
    }

    pub fn stage(&self, stage: Stage) -> &StageRun {
        &self.stages[&stage]
    }
}

/// A function's `Timeout` in seconds, its own or the Globals' (Lambda's default, 3 s, without either).
fn function_timeout(template: &Template, logical_id: &str) -> Result<Duration, String> {
    let own = template
        .resolve(&template.resource(logical_id).ok_or("no such function")?["Properties"]["Timeout"])?;
    let global = template.globals("Function")?;
    let seconds = own.as_u64().or_else(|| global["Timeout"].as_u64()).unwrap_or(3);
    Ok(Duration::from_secs(seconds))
}

/// A function's `MemorySize` in MB, its own or the Globals' (Lambda's default, 128 MB, without either).
pub fn function_memory(template: &Template, logical_id: &str) -> Result<u32, String> {
    let own = template
        .resolve(&template.resource(logical_id).ok_or("no such function")?["Properties"]["MemorySize"])?;
    let global = template.globals("Function")?;
    let mb = own
        .as_u64()
        .or_else(|| global["MemorySize"].as_u64())
        .unwrap_or(128);
    u32::try_from(mb).map_err(|_| format!("{logical_id}: MemorySize {mb} is out of range"))
}

/// SDK configuration with `credentials`, the region, and the endpoint from the standard chain
/// (`AWS_ENDPOINT_URL`, and service-specific ones such as the Feature Store runtime's).
async fn sdk(region: &str, credentials: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(greenpipe::aws::https_client())
        .region(Region::new(region.to_string()))
        .credentials_provider(credentials)
        .load()
        .await
}

/// The harness's administrator: a user allowed everything, and a fresh access key.
async fn admin(iam: &aws_sdk_iam::Client) -> Result<Credentials, String> {
    match iam.create_user().user_name(ADMIN_USER).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_already_exists_exception()) => {}
        Err(e) => return Err(iam_error("CreateUser", e)),
    }
    let everything = json!({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    iam.put_user_policy()
        .user_name(ADMIN_USER)
        .policy_name("everything")
        .policy_document(everything.to_string())
        .send()
        .await
        .map_err(|e| iam_error("PutUserPolicy", e))?;
    // Keys of earlier runs: IAM allows two per user.
    let old = iam
        .list_access_keys()
        .user_name(ADMIN_USER)
        .send()
        .await
        .map_err(|e| iam_error("ListAccessKeys", e))?;
    for key in old.access_key_metadata() {
        if let Some(id) = key.access_key_id() {
            iam.delete_access_key()
                .user_name(ADMIN_USER)
                .access_key_id(id)
                .send()
                .await
                .map_err(|e| iam_error("DeleteAccessKey", e))?;
        }
    }
    let key = iam
        .create_access_key()
        .user_name(ADMIN_USER)
        .send()
        .await
        .map_err(|e| iam_error("CreateAccessKey", e))?;
    let key = key.access_key().ok_or("CreateAccessKey returned no key")?;
    Ok(Credentials::new(
        key.access_key_id(),
        key.secret_access_key(),
        None,
        None,
        "greenpipe-as-deployed-admin",
    ))
}

/// Create `role` (or update its policy) with a trust policy for `service` and the account.
async fn create_role(iam: &aws_sdk_iam::Client, role: &Role, service: &str) -> Result<(), String> {
    let trust = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{EMULATOR_ACCOUNT}:root")}, "Action": "sts:AssumeRole"}
    ]});
    match iam
        .create_role()
        .role_name(&role.name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_already_exists_exception()) => {}
        Err(e) => return Err(iam_error(&format!("CreateRole {}", role.name), e)),
    }
    iam.put_role_policy()
        .role_name(&role.name)
        .policy_name("as-deployed")
        .policy_document(emulator_document(role).to_string())
        .send()
        .await
        .map_err(|e| iam_error(&format!("PutRolePolicy {}", role.name), e))?;
    Ok(())
}

/// Create `role` and return a configuration acting as it.
async fn assume(
    iam: &aws_sdk_iam::Client,
    sts: &aws_sdk_sts::Client,
    role: &Role,
    region: &str,
) -> Result<SdkConfig, String> {
    let service = if role.owner == "PipelineStateMachine" {
        "states.amazonaws.com"
    } else {
        "lambda.amazonaws.com"
    };
    create_role(iam, role, service).await?;
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{EMULATOR_ACCOUNT}:role/{}", role.name))
        .role_session_name(role.owner.clone())
        .send()
        .await
        .map_err(|e| {
            format!(
                "STS AssumeRole {}: {}",
                role.name,
                aws_sdk_sts::error::DisplayErrorContext(e)
            )
        })?;
    let c = out.credentials().ok_or("AssumeRole returned no credentials")?;
    Ok(sdk(
        region,
        Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "greenpipe-as-deployed",
        ),
    )
    .await)
}

/// The state machine validate-dataset starts. On the emulator it only records the start: greenpipe's
/// executor runs the real definition with that same input.
async fn create_state_machine(admin: &SdkConfig, template: &Template, role: &Role) -> Result<String, String> {
    let arn = template.attribute("PipelineStateMachine", "Arn")?;
    let name = arn.rsplit(':').next().unwrap_or_default().to_string();
    let sfn = aws_sdk_sfn::Client::new(admin);
    let exists = sfn
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .is_ok();
    if !exists {
        sfn.create_state_machine()
            .name(&name)
            .definition(r#"{"StartAt": "Recorded", "States": {"Recorded": {"Type": "Pass", "End": true}}}"#)
            .role_arn(format!("arn:aws:iam::{EMULATOR_ACCOUNT}:role/{}", role.name))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "CreateStateMachine {name}: {}",
                    aws_sdk_sfn::error::DisplayErrorContext(e)
                )
            })?;
    }
    Ok(arn)
}

/// The policy document the emulator gets for `role`: S3 statements as stated; other services' with
/// their actions as stated and resources relaxed to `*` (see the module docs).
pub fn emulator_document(role: &Role) -> Value {
    let mut statements = Vec::new();
    for s in &role.statements {
        let (s3, other): (Vec<String>, Vec<String>) = s
            .actions
            .iter()
            .cloned()
            .partition(|a| a.to_ascii_lowercase().starts_with("s3:"));
        if !s3.is_empty() {
            statements.push(Statement {
                actions: s3,
                ..s.clone()
            });
        }
        if !other.is_empty() {
            statements.push(Statement {
                actions: other,
                resources: vec!["*".into()],
                condition: None,
                ..s.clone()
            });
        }
    }
    Role {
        statements,
        ..role.clone()
    }
    .document()
}

fn iam_error<E>(what: &str, e: aws_sdk_iam::error::SdkError<E>) -> String
where
    E: std::error::Error + 'static,
{
    format!("IAM {what}: {}", aws_sdk_iam::error::DisplayErrorContext(e))
}

/// POST `/moto-api/reset-auth` with `count` (requests let through before enforcement starts; `inf`
/// never enforces). Returns the value it replaced.
fn reset_auth(endpoint: &str, count: &str) -> Result<String, String> {
    let host = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .replace("localhost", "127.0.0.1");
    let not_moto = |e: &dyn std::fmt::Display| {
        format!("{endpoint} does not answer moto's /moto-api/reset-auth ({e}): --as-deployed needs moto's server (its IAM enforcement)")
    };
    let mut stream = TcpStream::connect(&host).map_err(|e| not_moto(&e))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| not_moto(&e))?;
    write!(
        stream,
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{count}",
        count.len()
    )
    .map_err(|e| not_moto(&e))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| not_moto(&e))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let answer: Value = serde_json::from_str(body).map_err(|e| not_moto(&e))?;
    answer["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| not_moto(&"no previous count in the answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_s3_resources_are_relaxed_for_the_emulator_only() {
        let role = Role {
            owner: "F".into(),
            name: "gp-F".into(),
            statements: vec![Statement {
                allow: true,
                actions: vec!["s3:GetObject".into(), "sagemaker:DescribeModel".into()],
                resources: vec!["arn:aws:s3:::b/k/*".into()],
                condition: Some(json!({"StringEquals": {"a": "b"}})),
            }],
            environment: BTreeMap::new(),
        };
        let doc = emulator_document(&role);
        let statements = doc["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0]["Action"], json!(["s3:GetObject"]));
        assert_eq!(statements[0]["Resource"], json!(["arn:aws:s3:::b/k/*"]));
        assert_eq!(statements[1]["Action"], json!(["sagemaker:DescribeModel"]));
        assert_eq!(statements[1]["Resource"], json!(["*"]));
        assert!(statements[1].get("Condition").is_none());
    }
}
