//! The grace period's SDK half: marks ([`MARK_TAG`] on the resource, AddTags / DeleteTags) and the
//! notices that go with them (one SNS message per run, one EventBridge event per marked resource). A
//! mark nobody was told of is not a notice: when a configured notice cannot be sent, the run's marks
//! are removed again and reported as failed, so no later run acts on them.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sagemaker::types::Tag;
use serde_json::json;

use super::config::{CleanupConfig, KEEP_TAG, MARK_TAG};
use super::handler::Deps;
use super::plan::{mark_value, Decision, Plan, PlanItem};
use super::{ActionRecord, Outcome};
use crate::aws::sdk_error;
use crate::{Error, Result};

/// EventBridge's `source` and `detail-type` for a mark: what a rule matches to route notices.
pub const EVENT_SOURCE: &str = "greenpipe.cleanup";
pub const EVENT_DETAIL_TYPE: &str = "Cleanup Planned";
/// PutEvents takes at most 10 entries per request.
const MAX_EVENTS: usize = 10;
/// SNS messages are at most 256 KB; the list is cut well before.
const MAX_MESSAGE_LINES: usize = 500;

fn arn_of(item: &PlanItem) -> Result<&str> {
    item.arn
        .as_deref()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::Config(format!("{} {} has no ARN to tag", item.kind.name(), item.id)))
}

/// Tag the resource with the planned action and the time after which it may be taken.
pub async fn mark(deps: &Deps, item: &PlanItem, acts_after: &str) -> Result<()> {
    let arn = arn_of(item)?;
    let tag = Tag::builder()
        .key(MARK_TAG)
        .value(mark_value(item.action, acts_after))
        .build();
    deps.sagemaker
        .add_tags()
        .resource_arn(arn)
        .tags(tag)
        .send()
        .await
        .map(drop)
        .map_err(|e| sdk_error(&format!("AddTags {arn}"), e))
}

/// Remove the mark (DeleteTags; a resource without it is left as it is).
pub async fn clear(deps: &Deps, item: &PlanItem) -> Result<()> {
    let arn = arn_of(item)?;
    deps.sagemaker
        .delete_tags()
        .resource_arn(arn)
        .tag_keys(MARK_TAG)
        .send()
        .await
        .map(drop)
        .map_err(|e| sdk_error(&format!("DeleteTags {arn}"), e))
}

/// Tell the configured channels of the marks this run made; undo the marks when a channel fails.
/// Returns what was sent, for the report.
pub async fn notify(
    deps: &Deps,
    c: &CleanupConfig,
    plan: &Plan,
    run_id: &str,
    records: &mut [ActionRecord],
) -> Vec<String> {
    let marked: Vec<(usize, &PlanItem, String)> = plan
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match (&item.decision, &records[i].outcome) {
            (Decision::Mark { .. }, Outcome::Marked { acts_after }) => Some((i, item, acts_after.clone())),
            _ => None,
        })
        .collect();
    if marked.is_empty() {
        return Vec::new();
    }
    let mut notices = Vec::new();
    let mut failure: Option<Error> = None;
    if let Some(topic) = &c.notice_topic_arn {
        match publish(deps, topic, run_id, &marked).await {
            Ok(id) => notices.push(format!(
                "sns: {} mark(s) published to {topic} (message {id})",
                marked.len()
            )),
            Err(e) => failure = Some(e),
        }
    }
    if let (Some(bus), None) = (&c.notice_event_bus, &failure) {
        match put_events(deps, bus, run_id, &marked).await {
            Ok(n) => notices.push(format!(
                "events: {n} {EVENT_DETAIL_TYPE:?} event(s) put on bus {bus}"
            )),
            Err(e) => failure = Some(e),
        }
    }
    if c.notice_topic_arn.is_none() && c.notice_event_bus.is_none() {
        notices.push(format!(
            "{} mark(s) made, no notice channel configured (GREENPIPE_CLEANUP_NOTICE_TOPIC_ARN, \
             GREENPIPE_CLEANUP_NOTICE_EVENT_BUS): the report is the only notice",
            marked.len()
        ));
    }
    if let Some(e) = failure {
        notices.push(format!("notice failed, marks removed: {e}"));
        for (i, item, _) in &marked {
            let undone = match clear(deps, item).await {
                Ok(()) => "the mark was removed".to_string(),
                Err(undo) => format!("removing the mark failed too ({undo})"),
            };
            records[*i].outcome = Outcome::Failed {
                error_type: e.error_type().to_string(),
                message: format!("marked, but no notice could be sent ({e}); {undone}"),
            };
        }
    }
    notices
}

fn line(item: &PlanItem, acts_after: &str) -> String {
    format!(
        "- {} {}: {} after {acts_after} if still idle ({})",
        item.kind.name(),
        item.id,
        item.action.name(),
        item.reason
    )
}

async fn publish(
    deps: &Deps,
    topic: &str,
    run_id: &str,
    marked: &[(usize, &PlanItem, String)],
) -> Result<String> {
    let mut message = format!(
        "greenpipe cleanup run {run_id} marked {} resource(s). Each is acted on by a run after its time, \
         only if it is still idle then; tag it {KEEP_TAG}=true to keep it, or use it and the mark is \
         removed.\n\n",
        marked.len()
    );
    for (_, item, at) in marked.iter().take(MAX_MESSAGE_LINES) {
        message.push_str(&line(item, at));
        message.push('\n');
    }
    if marked.len() > MAX_MESSAGE_LINES {
        message.push_str(&format!(
            "... and {} more: see the run's report\n",
            marked.len() - MAX_MESSAGE_LINES
        ));
    }
    let out = deps
        .sns
        .publish()
        .topic_arn(topic)
        .subject(format!("greenpipe cleanup: {} resource(s) marked", marked.len()))
        .message(message)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("Publish {topic}"), e))?;
    Ok(out.message_id().unwrap_or_default().to_string())
}

async fn put_events(
    deps: &Deps,
    bus: &str,
    run_id: &str,
    marked: &[(usize, &PlanItem, String)],
) -> Result<usize> {
    let mut sent = 0;
    for chunk in marked.chunks(MAX_EVENTS) {
        let entries: Vec<PutEventsRequestEntry> = chunk
            .iter()
            .map(|(_, item, at)| {
                let detail = json!({
                    "runId": run_id,
                    "kind": item.kind.name(),
                    "resource": item.id,
                    "arn": item.arn,
                    "action": item.action.name(),
                    "actsAfter": at,
                    "reason": item.reason,
                    "avoidedPerDay": item.avoided_per_day,
                });
                PutEventsRequestEntry::builder()
                    .source(EVENT_SOURCE)
                    .detail_type(EVENT_DETAIL_TYPE)
                    .detail(detail.to_string())
                    .set_resources(item.arn.clone().map(|a| vec![a]))
                    .event_bus_name(bus)
                    .build()
            })
            .collect();
        let out = deps
            .events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_error(&format!("PutEvents {bus}"), e))?;
        if out.failed_entry_count() > 0 {
            let why: Vec<String> = out
                .entries()
                .iter()
                .filter_map(|e| {
                    e.error_code()
                        .map(|c| format!("{c}: {}", e.error_message().unwrap_or_default()))
                })
                .collect();
            return Err(Error::Aws {
                message: format!(
                    "PutEvents {bus}: {} of {} entries failed ({})",
                    out.failed_entry_count(),
                    chunk.len(),
                    why.join("; ")
                ),
                source: None,
            });
        }
        sent += chunk.len();
    }
    Ok(sent)
}
