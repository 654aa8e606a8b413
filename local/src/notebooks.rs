//! `greenpipe notebooks attach`: give a notebook instance the stack's activity lifecycle configuration
//! (`NotebookActivityLifecycleConfig` in `infra/template.yaml`), which keeps the `greenpipe:last-activity`
//! tag cleanup-idle judges notebooks by. Without it a notebook is only ever reported.
//!
//! SageMaker changes an instance's lifecycle configuration only while it is stopped
//! (UpdateNotebookInstance), and an instance has one configuration: so a running instance is stopped,
//! updated and started again only when asked (`stop`), and one that runs another configuration is
//! never switched silently (`replace`). [`plan`] decides (pure); [`attach`] carries it out.

use std::fmt;
use std::time::Duration;

use aws_sdk_sagemaker::types::NotebookInstanceStatus;
use greenpipe::aws::sdk_error;
use greenpipe::{Error, Result};

/// One change to the instance, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// StopNotebookInstance, then wait until it is Stopped.
    Stop,
    /// UpdateNotebookInstance with the configuration, then wait until it is Stopped again.
    Attach { from: Option<String>, to: String },
    /// StartNotebookInstance (it was running); its on-start script records the start.
    Start,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Stop => write!(
                f,
                "stop it (its kernels and terminals end) and wait until it is Stopped"
            ),
            Step::Attach { from: None, to } => write!(f, "attach lifecycle configuration {to}"),
            Step::Attach { from: Some(from), to } => {
                write!(f, "replace lifecycle configuration {from} with {to}")
            }
            Step::Start => write!(f, "start it again"),
        }
    }
}

/// What to do to attach `config` to an instance in `status` that runs `current`. Empty: already attached.
pub fn plan(
    name: &str,
    status: &str,
    current: Option<&str>,
    config: &str,
    stop: bool,
    replace: bool,
) -> Result<Vec<Step>> {
    if current == Some(config) {
        return Ok(Vec::new());
    }
    if let (Some(other), false) = (current, replace) {
        return Err(Error::Config(format!(
            "notebook instance {name} runs lifecycle configuration {other}; an instance has one, so \
             attaching {config} would drop it. Add greenpipe's on-start script to {other} (keeping yours), \
             or pass --replace"
        )));
    }
    let attach = Step::Attach {
        from: current.map(str::to_string),
        to: config.to_string(),
    };
    match status {
        "Stopped" | "Failed" => Ok(vec![attach]),
        "InService" if stop => Ok(vec![Step::Stop, attach, Step::Start]),
        "InService" => Err(Error::Config(format!(
            "notebook instance {name} is InService: SageMaker changes its lifecycle configuration only \
             while it is stopped. Pass --stop to stop it, attach and start it again (its kernels and \
             terminals end), or run this again when it is stopped"
        ))),
        other => Err(Error::Config(format!(
            "notebook instance {name} is {other}: run this again when it is InService or Stopped"
        ))),
    }
}

/// How long [`attach`] waits for a status, and how often it looks.
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    pub timeout: Duration,
    pub every: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        // Stopping or updating an instance takes a few minutes.
        Waits {
            timeout: Duration::from_secs(20 * 60),
            every: Duration::from_secs(15),
        }
    }
}

/// What [`attach`] found and did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub status: String,
    pub current: Option<String>,
    pub steps: Vec<Step>,
}

/// Attach `config` to notebook instance `name`: check both exist, [`plan`], and unless `dry_run` carry
/// the steps out, waiting for each status change.
pub async fn attach(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
    config: &str,
    stop: bool,
    replace: bool,
    dry_run: bool,
    waits: Waits,
) -> Result<Attached> {
    let described = sm
        .describe_notebook_instance()
        .notebook_instance_name(name)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("DescribeNotebookInstance {name}"), e))?;
    let status = described
        .notebook_instance_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let current = described
        .notebook_instance_lifecycle_config_name()
        .map(str::to_string);
    if current.as_deref() != Some(config) {
        sm.describe_notebook_instance_lifecycle_config()
            .notebook_instance_lifecycle_config_name(config)
            .send()
            .await
            .map_err(|e| {
                let not_found = e
                    .as_service_error()
                    .is_some_and(|s| s.meta().code() == Some("ValidationException"));
                if not_found {
                    Error::Config(format!(
                        "lifecycle configuration {config} not found: deploy the stack (its output \
                         NotebookActivityLifecycleConfigName names it) or pass --config"
                    ))
                } else {
                    sdk_error(&format!("DescribeNotebookInstanceLifecycleConfig {config}"), e)
                }
            })?;
    }
    let steps = plan(name, &status, current.as_deref(), config, stop, replace)?;
    if !dry_run {
        for step in &steps {
            match step {
                Step::Stop => {
                    sm.stop_notebook_instance()
                        .notebook_instance_name(name)
                        .send()
                        .await
                        .map_err(|e| sdk_error(&format!("StopNotebookInstance {name}"), e))?;
                    wait_for(sm, name, NotebookInstanceStatus::Stopped, waits).await?;
                }
                Step::Attach { to, .. } => {
                    sm.update_notebook_instance()
                        .notebook_instance_name(name)
                        .lifecycle_config_name(to)
                        .send()
                        .await
                        .map_err(|e| sdk_error(&format!("UpdateNotebookInstance {name}"), e))?;
                    wait_for(sm, name, NotebookInstanceStatus::Stopped, waits).await?;
                }
                Step::Start => {
                    sm.start_notebook_instance()
                        .notebook_instance_name(name)
                        .send()
                        .await
                        .map_err(|e| sdk_error(&format!("StartNotebookInstance {name}"), e))?;
                }
            }
        }
    }
    Ok(Attached {
        status,
        current,
        steps,
    })
}

/// Poll DescribeNotebookInstance until the instance is `want`; a Failed instance or the timeout is an
/// error.
async fn wait_for(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
    want: NotebookInstanceStatus,
    waits: Waits,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + waits.timeout;
    loop {
        let d = sm
            .describe_notebook_instance()
            .notebook_instance_name(name)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DescribeNotebookInstance {name}"), e))?;
        match d.notebook_instance_status() {
            Some(s) if *s == want => return Ok(()),
            Some(NotebookInstanceStatus::Failed) => {
                return Err(Error::aws(format!(
                    "notebook instance {name} Failed: {}",
                    d.failure_reason().unwrap_or("no reason given")
                )))
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::aws(format!(
                "notebook instance {name} not {} after {} s",
                want.as_str(),
                waits.timeout.as_secs()
            )));
        }
        tokio::time::sleep(waits.every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let attach = |from: Option<&str>| Step::Attach {
            from: from.map(str::to_string),
            to: "gp-activity".into(),
        };
        assert_eq!(
            plan("nb", "Stopped", None, "gp-activity", false, false).unwrap(),
            [attach(None)]
        );
        assert_eq!(
            plan("nb", "InService", None, "gp-activity", true, false).unwrap(),
            [Step::Stop, attach(None), Step::Start]
        );
        assert!(plan(
            "nb",
            "InService",
            Some("gp-activity"),
            "gp-activity",
            false,
            false
        )
        .unwrap()
        .is_empty());
        assert_eq!(
            plan("nb", "Stopped", Some("theirs"), "gp-activity", false, true).unwrap(),
            [attach(Some("theirs"))]
        );
        let refused = |status, current, stop| {
            plan("nb", status, current, "gp-activity", stop, false)
                .unwrap_err()
                .to_string()
        };
        assert!(refused("InService", None, false).contains("--stop"));
        assert!(refused("Stopped", Some("theirs"), false).contains("--replace"));
        assert!(refused("InService", Some("theirs"), true).contains("runs lifecycle configuration theirs"));
        assert!(refused("Pending", None, true).contains("is Pending"));
        assert_eq!(
            Step::Attach {
                from: Some("a".into()),
                to: "b".into()
            }
            .to_string(),
            "replace lifecycle configuration a with b"
        );
    }
}

/// Against SageMaker's recorded answers at the SDK's HTTP layer (moto has no UpdateNotebookInstance):
/// every request the real code sends is read back.
#[cfg(test)]
mod replayed {
    use super::*;
    use aws_sdk_sagemaker::config::{Credentials, Region, SharedCredentialsProvider};
    use greenpipe_tests::replay::{Answer, Replay};
    use serde_json::{json, Value};

    fn sdk() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .region(Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            )))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    fn instance(status: &str, config: Option<&str>) -> Answer {
        let mut d = json!({"NotebookInstanceName": "nb", "NotebookInstanceStatus": status});
        if let Some(c) = config {
            d["NotebookInstanceLifecycleConfigName"] = json!(c);
        }
        (200, d)
    }

    fn config_found() -> Answer {
        (
            200,
            json!({"NotebookInstanceLifecycleConfigName": "gp-notebook-activity"}),
        )
    }

    const FAST: Waits = Waits {
        timeout: Duration::from_secs(5),
        every: Duration::from_millis(1),
    };

    async fn run(
        answers: Vec<Answer>,
        stop: bool,
        replace: bool,
        dry_run: bool,
    ) -> (Result<Attached>, Vec<(String, Value)>) {
        let replay = Replay::new(answers);
        let sm = replay.sagemaker(&sdk());
        let out = attach(&sm, "nb", "gp-notebook-activity", stop, replace, dry_run, FAST).await;
        (out, replay.sent())
    }

    fn ops(sent: &[(String, Value)]) -> Vec<&str> {
        sent.iter().map(|(op, _)| op.as_str()).collect()
    }

    #[tokio::test]
    async fn a_running_instance_is_stopped_updated_and_started_again() {
        let (out, sent) = run(
            vec![
                instance("InService", None),
                config_found(),
                (200, json!({})),
                instance("Stopping", None),
                instance("Stopped", None),
                (200, json!({})),
                instance("Updating", None),
                instance("Stopped", Some("gp-notebook-activity")),
                (200, json!({})),
            ],
            true,
            false,
            false,
        )
        .await;
        let out = out.unwrap();
        assert_eq!(out.steps.len(), 3);
        assert_eq!(
            ops(&sent),
            [
                "DescribeNotebookInstance",
                "DescribeNotebookInstanceLifecycleConfig",
                "StopNotebookInstance",
                "DescribeNotebookInstance",
                "DescribeNotebookInstance",
                "UpdateNotebookInstance",
                "DescribeNotebookInstance",
                "DescribeNotebookInstance",
                "StartNotebookInstance",
            ]
        );
        assert_eq!(
            sent[5].1,
            json!({"NotebookInstanceName": "nb", "LifecycleConfigName": "gp-notebook-activity"})
        );
        assert_eq!(
            sent[1].1,
            json!({"NotebookInstanceLifecycleConfigName": "gp-notebook-activity"})
        );
    }

    #[tokio::test]
    async fn a_dry_run_reads_and_changes_nothing() {
        let (out, sent) = run(
            vec![instance("InService", None), config_found()],
            true,
            false,
            true,
        )
        .await;
        assert_eq!(
            out.unwrap().steps,
            [
                Step::Stop,
                Step::Attach {
                    from: None,
                    to: "gp-notebook-activity".into()
                },
                Step::Start
            ]
        );
        assert_eq!(
            ops(&sent),
            [
                "DescribeNotebookInstance",
                "DescribeNotebookInstanceLifecycleConfig"
            ]
        );
        // Already attached: nothing to look up, nothing to do.
        let (out, sent) = run(
            vec![instance("InService", Some("gp-notebook-activity"))],
            false,
            false,
            false,
        )
        .await;
        assert!(out.unwrap().steps.is_empty());
        assert_eq!(ops(&sent), ["DescribeNotebookInstance"]);
    }

    #[tokio::test]
    async fn refusals_change_nothing() {
        // Running, no --stop.
        let (out, sent) = run(
            vec![instance("InService", None), config_found()],
            false,
            false,
            false,
        )
        .await;
        assert!(out.unwrap_err().to_string().contains("--stop"));
        assert_eq!(sent.len(), 2);
        // Another configuration, no --replace.
        let (out, sent) = run(
            vec![instance("Stopped", Some("theirs")), config_found()],
            false,
            false,
            false,
        )
        .await;
        assert!(out.unwrap_err().to_string().contains("--replace"));
        assert_eq!(sent.len(), 2);
        // The stack's configuration is not there.
        let (out, sent) = run(
            vec![
                instance("Stopped", None),
                (400, json!({"__type": "ValidationException", "message": "Unable to describe Notebook Instance Lifecycle Config"})),
            ],
            false,
            false,
            false,
        )
        .await;
        let e = out.unwrap_err();
        assert_eq!(e.error_type(), "ConfigError", "{e}");
        assert!(
            e.to_string().contains("NotebookActivityLifecycleConfigName"),
            "{e}"
        );
        assert_eq!(sent.len(), 2);
        // An update that leaves the instance Failed is an error, not a success.
        let (out, _) = run(
            vec![
                instance("Stopped", None),
                config_found(),
                (200, json!({})),
                (200, json!({"NotebookInstanceName": "nb", "NotebookInstanceStatus": "Failed", "FailureReason": "bad script"})),
            ],
            false,
            false,
            false,
        )
        .await;
        assert!(out.unwrap_err().to_string().contains("bad script"));
    }
}
