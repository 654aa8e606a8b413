//! What `greenpipe run|cleanup --as-deployed` adds to a run: the static check first, then the stack
//! on the emulator with enforcement on for the run, and AccessDenied turned into a message that names
//! the stage, the call and the resource.

use std::path::Path;
use std::time::Instant;

use greenpipe::stages::Stage;
use greenpipe_statemachine::{EventType, Execution, HistoryEvent};

use super::emulator::Deployment;

/// The region and account the emulator answers as.
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// Check `template` against the code, then set its stack up on the emulator at `endpoint` with
/// `bucket` as the data bucket. The check's findings come back beside the deployment: the run goes on,
/// so that the emulator shows what each of them does. Settings local runs need are added to every function's environment:
/// path-style S3 (loopback has no bucket subdomains), and any `GREENPIPE_*` variable of this process
/// that the template does not set (tests lower the multipart-copy threshold this way).
pub async fn prepare(
    endpoint: &str,
    template_path: &Path,
    bucket: &str,
) -> Result<(Deployment, Vec<String>), String> {
    let region = std::env::var("AWS_REGION")
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| REGION.to_string());
    let template = super::load(template_path, super::stack(&region, ACCOUNT, bucket))?;
    let definition = super::definition(&template, template_path)?;
    let report = super::check::check(&template, &definition)?;
    let findings = report.findings.iter().map(ToString::to_string).collect();
    let mut extra: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("GREENPIPE_") && k != "GREENPIPE_S3_FORCE_PATH_STYLE")
        .collect();
    extra.push(("GREENPIPE_S3_FORCE_PATH_STYLE".into(), "true".into()));
    Ok((Deployment::prepare(endpoint, template, &extra).await?, findings))
}

/// Enforcement on for as long as this lives.
pub struct Enforced<'a>(&'a Deployment);

impl<'a> Enforced<'a> {
    pub fn on(deployment: &'a Deployment) -> Result<Enforced<'a>, String> {
        deployment.enforce()?;
        Ok(Enforced(deployment))
    }
}

impl Drop for Enforced<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.release() {
            eprintln!("greenpipe: could not turn the emulator's IAM enforcement back off: {e}");
        }
    }
}

/// Whether an error text is an authorisation failure: S3's `AccessDenied`, other services' `is not
/// authorized to perform`, or an HTTP 403 whose body the SDK could not read (moto answers JSON
/// services' denials in XML).
pub fn is_denial(text: &str) -> bool {
    text.contains("AccessDenied") || text.contains("not authorized to perform") || text.contains("HTTP 403")
}

/// `what` (an error of the state `state`), with the stage's role and the call's IAM needs when it is
/// an authorisation failure of a run as deployed.
pub fn explain(what: &str, state: &str, deployed: bool) -> String {
    if !(deployed && is_denial(what)) {
        return what.to_string();
    }
    let stage = stage_of(state);
    let needs = stage
        .and_then(|s| {
            s.calls().iter().find(|c| {
                let op = c.operation.split(':').nth(1).unwrap_or_default();
                what.contains(&format!("{op} ")) || what.contains(&format!("{op}:"))
            })
        })
        .map(|c| {
            let mut actions: Vec<&str> = c.needs.iter().map(|n| n.action).collect();
            actions.sort_unstable();
            actions.dedup();
            format!(" ({} needs {})", c.operation, actions.join(", "))
        })
        .unwrap_or_default();
    format!(
        "as deployed, {} was denied{needs}: {what}",
        stage.map_or_else(|| format!("state {state}"), |s| format!("{s} (state {state})")),
    )
}

/// The stage a state of the pipeline definition runs.
fn stage_of(state: &str) -> Option<Stage> {
    let kebab: String = state
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let dash = (i > 0 && c.is_ascii_uppercase()).then_some('-');
            dash.into_iter().chain(std::iter::once(c.to_ascii_lowercase()))
        })
        .collect();
    Stage::by_name(&kebab)
}

/// The first task of `execution` that failed on an authorisation failure, as a message.
pub fn denial(execution: &Execution, events: &[(Instant, HistoryEvent)]) -> Option<String> {
    if execution.succeeded() {
        return None;
    }
    let mut state = String::new();
    for (_, event) in events {
        let detail = event.detail();
        if let Some(name) = detail.and_then(|d| d["name"].as_str()) {
            state = name.to_string();
        }
        if matches!(
            event.event_type,
            EventType::TaskFailed | EventType::LambdaFunctionFailed
        ) {
            let text = detail
                .map(|d| format!("{}: {}", d["error"], d["cause"]))
                .unwrap_or_default();
            if is_denial(&text) {
                return Some(explain(&text, &state, true));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_name_their_stage() {
        assert_eq!(stage_of("ValidateDataset"), Some(Stage::ValidateDataset));
        assert_eq!(stage_of("PlanTraining"), Some(Stage::PlanTraining));
        assert_eq!(stage_of("Train"), None);
    }

    #[test]
    fn denials_name_stage_call_and_actions() {
        let text = explain(
            "PutObject s3://b/greenpipe/reports/k.catalog.json: AccessDenied (HTTP 403): Access Denied",
            "RegisterCatalog",
            true,
        );
        assert!(
            text.contains("register-catalog (state RegisterCatalog)"),
            "{text}"
        );
        assert!(text.contains("s3:PutObject needs s3:PutObject"), "{text}");
        assert!(text.contains("greenpipe/reports/k.catalog.json"), "{text}");
        assert_eq!(explain("Throttled", "RegisterCatalog", true), "Throttled");
        assert_eq!(explain("AccessDenied", "X", false), "AccessDenied");
    }
}
