//! The event shapes validate-dataset accepts, reduced to the objects they name.
//!
//! - S3 event notifications (`{"Records": [{"eventSource": "aws:s3", ...}]}`); records other than
//!   `ObjectCreated:*` are skipped. S3's `s3:TestEvent` (sent when a notification is configured) names
//!   no object.
//! - EventBridge `Object Created` events from `aws.s3` (other S3 detail types name no object).
//! - SQS batches (`{"Records": [{"eventSource": "aws:sqs", "body": ...}]}`) whose bodies are any of the
//!   above, or an SNS notification wrapping one; each message is parsed on its own so one bad body fails
//!   only its message.
//! - A direct invocation `{"bucket": ..., "key": ..., "versionId"?: ...}` (a Step Functions task or a
//!   manual `cargo lambda invoke`); its key is the plain key, not URL-encoded.
//!
//! Keys in S3 notifications are URL-encoded (`+` is a space; S3's documentation says so). EventBridge's
//! S3 events carry the key the same way in practice, though the EventBridge page does not say it (AWS
//! Lambda Powertools decodes `detail.object.key` with `unquote_plus` too). Both are decoded by
//! [`decode_event_key`], once, here; direct invocations carry the plain key.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::{Error, Result};

/// One object an event asks us to validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    pub version_id: Option<String>,
    /// ETag from the event (without quotes), when it carries one.
    pub e_tag: Option<String>,
}

/// A parsed invocation.
#[derive(Debug)]
pub enum Invocation {
    /// A direct invocation. It starts the pipeline only when `start_execution` is set: a direct call
    /// usually comes from a running execution, which must not start another one.
    Direct {
        object: ObjectRef,
        start_execution: bool,
    },
    /// An S3 notification or EventBridge event: the objects it names (possibly none).
    Objects(Vec<ObjectRef>),
    /// An SQS batch: each message's objects, or why its body could not be understood.
    Sqs(Vec<SqsItem>),
}

#[derive(Debug)]
pub struct SqsItem {
    pub message_id: String,
    pub objects: Result<Vec<ObjectRef>>,
}

/// Classify and parse an invocation payload.
pub fn parse_invocation(event: Value) -> Result<Invocation> {
    let Value::Object(map) = &event else {
        return Err(Error::InvalidEvent(format!(
            "expected a JSON object, got {}",
            kind(&event)
        )));
    };
    if let Some(Value::Array(records)) = map.get("Records") {
        let source = records
            .first()
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str);
        return match source {
            Some("aws:sqs") => parse_sqs(event).map(Invocation::Sqs),
            _ => objects_in(event).map(Invocation::Objects),
        };
    }
    if map.contains_key("detail-type") || map.contains_key("Event") || map.contains_key("Type") {
        return objects_in(event).map(Invocation::Objects);
    }
    if map.contains_key("bucket") || map.contains_key("key") {
        let direct: Direct = serde_json::from_value(event)
            .map_err(|e| Error::InvalidEvent(format!("direct invocation: {e}")))?;
        if direct.bucket.is_empty() || direct.key.is_empty() {
            return Err(Error::InvalidEvent(
                "direct invocation: bucket and key must not be empty".into(),
            ));
        }
        let object = ObjectRef {
            bucket: direct.bucket,
            key: direct.key,
            // An empty version id names no version, as in the notifications above.
            version_id: direct.version_id.filter(|v| !v.is_empty()),
            e_tag: None,
        };
        return Ok(Invocation::Direct {
            object,
            start_execution: direct.start_execution,
        });
    }
    Err(Error::InvalidEvent(
        "not an S3 notification, EventBridge event, SQS batch or {bucket, key} invocation".into(),
    ))
}

/// The objects named by one S3 notification, EventBridge event or SNS notification (also an SQS body).
pub fn objects_in(event: Value) -> Result<Vec<ObjectRef>> {
    if event.get("Records").is_some() {
        let s3: S3Event = serde_json::from_value(event)
            .map_err(|e| Error::InvalidEvent(format!("S3 notification: {e}")))?;
        let mut objects = Vec::new();
        for record in s3.records {
            let name = record.event_name.as_deref().unwrap_or_default();
            if !name.starts_with("ObjectCreated:") {
                tracing::info!(event_name = name, "skipping S3 record that is not ObjectCreated");
                continue;
            }
            let bucket = record.s3.bucket.name.filter(|b| !b.is_empty());
            let key = record.s3.object.key.filter(|k| !k.is_empty());
            let (Some(bucket), Some(key)) = (bucket, key) else {
                return Err(Error::InvalidEvent(
                    "S3 notification record without bucket or key".into(),
                ));
            };
            objects.push(ObjectRef {
                bucket,
                key: decoded(&key)?,
                version_id: record.s3.object.version_id.filter(|v| !v.is_empty()),
                e_tag: record.s3.object.e_tag.filter(|e| !e.is_empty()),
            });
        }
        return Ok(objects);
    }
    if event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        tracing::info!("ignoring s3:TestEvent");
        return Ok(Vec::new());
    }
    if event.get("detail-type").is_some() {
        let eb: EventBridgeEvent<Value> = serde_json::from_value(event)
            .map_err(|e| Error::InvalidEvent(format!("EventBridge event: {e}")))?;
        if eb.source != "aws.s3" {
            return Err(Error::InvalidEvent(format!(
                "EventBridge event from {:?}, expected aws.s3",
                eb.source
            )));
        }
        if eb.detail_type != "Object Created" {
            tracing::info!(
                detail_type = eb.detail_type,
                "skipping EventBridge event that is not Object Created"
            );
            return Ok(Vec::new());
        }
        let detail: ObjectCreatedDetail = serde_json::from_value(eb.detail)
            .map_err(|e| Error::InvalidEvent(format!("EventBridge Object Created detail: {e}")))?;
        if detail.bucket.name.is_empty() || detail.object.key.is_empty() {
            return Err(Error::InvalidEvent(
                "EventBridge Object Created event without bucket or key".into(),
            ));
        }
        return Ok(vec![ObjectRef {
            bucket: detail.bucket.name,
            key: decoded(&detail.object.key)?,
            version_id: detail.object.version_id.filter(|v| !v.is_empty()),
            e_tag: detail.object.etag.filter(|e| !e.is_empty()),
        }]);
    }
    // S3 → SNS → SQS: the S3 notification is the SNS message, a JSON string.
    if event.get("Type").and_then(Value::as_str) == Some("Notification") {
        let message = event.get("Message").and_then(Value::as_str).unwrap_or_default();
        let inner: Value = serde_json::from_str(message)
            .map_err(|e| Error::InvalidEvent(format!("SNS notification message is not JSON: {e}")))?;
        return objects_in(inner);
    }
    Err(Error::InvalidEvent(
        "not an S3 notification or EventBridge Object Created event".into(),
    ))
}

fn parse_sqs(event: Value) -> Result<Vec<SqsItem>> {
    let sqs: SqsEvent =
        serde_json::from_value(event).map_err(|e| Error::InvalidEvent(format!("SQS event: {e}")))?;
    let mut items = Vec::with_capacity(sqs.records.len());
    for message in sqs.records {
        let Some(message_id) = message.message_id.filter(|id| !id.is_empty()) else {
            // Without an id the message cannot be reported on its own: fail the whole batch.
            return Err(Error::InvalidEvent("SQS message without messageId".into()));
        };
        let objects = match message.body.as_deref() {
            None | Some("") => Err(Error::InvalidEvent(format!(
                "SQS message {message_id} has no body"
            ))),
            Some(body) => serde_json::from_str(body)
                .map_err(|e| Error::InvalidEvent(format!("SQS message {message_id}: body is not JSON: {e}")))
                .and_then(objects_in),
        };
        items.push(SqsItem { message_id, objects });
    }
    Ok(items)
}

fn decoded(raw: &str) -> Result<String> {
    let key = decode_event_key(raw)?;
    if key.is_empty() {
        return Err(Error::InvalidEvent(format!(
            "object key {raw:?} is empty once decoded"
        )));
    }
    Ok(key)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Direct {
    bucket: String,
    key: String,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default)]
    start_execution: bool,
}

#[derive(Deserialize)]
struct ObjectCreatedDetail {
    bucket: NamedBucket,
    object: CreatedObject,
}

#[derive(Deserialize)]
struct NamedBucket {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct CreatedObject {
    key: String,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default)]
    etag: Option<String>,
}

/// Decode an object key from an S3 event notification (also used for EventBridge "Object Created"
/// events, whose keys are encoded the same way). Keys are form-URL-encoded: `+` is a space and `%XX` a
/// byte of the UTF-8 key, so `my+file%2B1.csv` is `my file+1.csv`. The only place keys are decoded.
pub fn decode_event_key(raw: &str) -> Result<String, Error> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| Error::InvalidEvent(format!("object key {raw:?} does not decode to UTF-8")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn decodes_event_keys() {
        let cases = [
            ("plain/key.csv", "plain/key.csv"),
            ("with+space/a+b.csv", "with space/a b.csv"),
            ("plus%2Bsign.csv", "plus+sign.csv"),
            ("percent%25.csv", "percent%.csv"),
            ("caf%C3%A9/%E6%97%A5%E6%9C%AC.csv", "café/日本.csv"),
            ("sales/date%3D2026-01-01/x.csv", "sales/date=2026-01-01/x.csv"),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_event_key(raw).unwrap(), want, "{raw}");
        }
        let err = decode_event_key("bad%FF.csv").unwrap_err();
        assert_eq!(err.error_type(), "InvalidEvent");
    }

    fn s3_record(name: &str, key: &str) -> Value {
        json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-01-01T00:00:00.000Z", "eventName": name,
            "userIdentity": {"principalId": "AWS:X"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": "bkt", "ownerIdentity": {"principalId": "X"}, "arn": "arn:aws:s3:::bkt"},
                   "object": {"key": key, "size": 3, "eTag": "abc", "versionId": "v1", "sequencer": "01"}}
        })
    }

    fn eventbridge(detail_type: &str, key: &str) -> Value {
        json!({
            "version": "0", "id": "1", "detail-type": detail_type, "source": "aws.s3", "account": "123456789012",
            "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": ["arn:aws:s3:::bkt"],
            "detail": {"version": "0", "bucket": {"name": "bkt"},
                       "object": {"key": key, "size": 3, "etag": "abc", "version-id": "v2", "sequencer": "01"},
                       "request-id": "R", "requester": "123456789012", "reason": "PutObject"}
        })
    }

    #[test]
    fn s3_notification_keys_are_decoded_and_non_creates_skipped() {
        let event = json!({"Records": [s3_record("ObjectCreated:Put", "a+b/caf%C3%A9%2B.csv"),
                                        s3_record("ObjectRemoved:Delete", "x.csv")]});
        let Invocation::Objects(objects) = parse_invocation(event).unwrap() else {
            panic!()
        };
        assert_eq!(
            objects,
            vec![ObjectRef {
                bucket: "bkt".into(),
                key: "a b/café+.csv".into(),
                version_id: Some("v1".into()),
                e_tag: Some("abc".into())
            }]
        );
    }

    #[test]
    fn eventbridge_object_created() {
        let Invocation::Objects(objects) =
            parse_invocation(eventbridge("Object Created", "d/x+1.csv")).unwrap()
        else {
            panic!()
        };
        assert_eq!(objects[0].key, "d/x 1.csv");
        assert_eq!(objects[0].version_id.as_deref(), Some("v2"));
        let Invocation::Objects(none) = parse_invocation(eventbridge("Object Deleted", "d/x.csv")).unwrap()
        else {
            panic!()
        };
        assert!(none.is_empty());
        let mut other = eventbridge("Object Created", "k");
        other["source"] = json!("aws.ec2");
        assert_eq!(parse_invocation(other).unwrap_err().error_type(), "InvalidEvent");
    }

    #[test]
    fn sqs_messages_parse_independently() {
        let s3 = json!({"Records": [s3_record("ObjectCreated:Put", "k.csv")]}).to_string();
        let eb = eventbridge("Object Created", "e.csv").to_string();
        let sns = json!({"Type": "Notification", "Message": s3}).to_string();
        let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "bkt"}).to_string();
        let msg = |id: &str, body: &str| {
            json!({"messageId": id, "receiptHandle": "h", "body": body,
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"})
        };
        let event = json!({"Records": [msg("1", &s3), msg("2", &eb), msg("3", "{not json"), msg("4", &sns),
                                        msg("5", &test), msg("6", "{\"hello\": 1}")]});
        let Invocation::Sqs(items) = parse_invocation(event).unwrap() else {
            panic!()
        };
        let keys: Vec<_> = items
            .iter()
            .map(|i| {
                i.objects
                    .as_ref()
                    .map(|o| o.iter().map(|o| o.key.clone()).collect::<Vec<_>>())
                    .ok()
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                Some(vec!["k.csv".to_string()]),
                Some(vec!["e.csv".to_string()]),
                None,
                Some(vec!["k.csv".to_string()]),
                Some(vec![]),
                None
            ]
        );
        assert_eq!(items[2].message_id, "3");
    }

    #[test]
    fn direct_invocations() {
        let Invocation::Direct {
            object,
            start_execution,
        } = parse_invocation(json!({"bucket": "b", "key": "a+b c.csv", "versionId": "v"})).unwrap()
        else {
            panic!()
        };
        assert_eq!(object.key, "a+b c.csv", "direct keys are not URL-decoded");
        assert_eq!(object.version_id.as_deref(), Some("v"));
        assert!(!start_execution);
        // Found by the `events` fuzz target's invariant: an empty version id is no version id.
        let Invocation::Direct { object, .. } =
            parse_invocation(json!({"bucket": "b", "key": "k", "versionId": ""})).unwrap()
        else {
            panic!()
        };
        assert_eq!(object.version_id, None);
        for bad in [
            json!({"bucket": "b"}),
            json!({"bucket": "", "key": "k"}),
            json!([1]),
            json!({"x": 1}),
        ] {
            assert_eq!(parse_invocation(bad).unwrap_err().error_type(), "InvalidEvent");
        }
    }
}
