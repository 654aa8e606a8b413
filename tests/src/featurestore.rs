//! A loopback SageMaker Feature Store runtime (moto has none): `PutRecord`, `GetRecord`, `BatchGetRecord`
//! and `DeleteRecord` in the service's real REST-JSON wire format, so the official
//! `aws-sdk-sagemakerfeaturestoreruntime` client (and boto3) talk to it unchanged.
//!
//! - `PUT /FeatureGroup/{name}` with `{"Record": [{"FeatureName", "ValueAsString"}], "TargetStores"?}`;
//! - `GET /FeatureGroup/{name}?RecordIdentifierValueAsString=..&FeatureName=..` → `{"Record": [...]}`
//!   (`{}` when there is no such record);
//! - `POST /BatchGetRecord` with `{"Identifiers": [{"FeatureGroupName", "RecordIdentifiersValueAsString",
//!   "FeatureNames"?}]}` → `{"Records", "Errors", "UnprocessedIdentifiers"}`;
//! - `DELETE /FeatureGroup/{name}?RecordIdentifierValueAsString=..&EventTime=..`.
//!
//! Errors carry the `X-Amzn-ErrorType` header and a `{"__type", "Message"}` body, as the SDK's restJson1
//! parser expects: `ValidationError` (400), `ResourceNotFound` (404), `ThrottlingException` (400) and
//! `InternalFailure` (500) / `ServiceUnavailable` (503).
//!
//! Records are validated against the feature group's definition as AWS does (unknown or repeated feature,
//! missing record identifier or event time, a value not of the feature's type, an event time that is not
//! ISO 8601 `yyyy-MM-ddTHH:mm:ss[.SSS]Z` or fractional epoch seconds → `ValidationError`), and the online
//! store keeps the latest record per identifier by event time. Definitions are registered by the test or
//! fetched from a SageMaker control plane (moto's `DescribeFeatureGroup`) the first time a group is named.
//!
//! Faults are injected from a seeded RNG before a request has any effect (so a retried request is never
//! applied twice): latency on every response, throttling and 5xx at given rates. Counters let tests assert
//! "exactly once": accepted writes per record identifier.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

/// A feature's type in a feature group definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureType {
    Integral,
    Fractional,
    String,
}

impl FeatureType {
    pub fn parse(s: &str) -> Option<FeatureType> {
        match s {
            "Integral" => Some(FeatureType::Integral),
            "Fractional" => Some(FeatureType::Fractional),
            "String" => Some(FeatureType::String),
            _ => None,
        }
    }
}

/// What the runtime needs to know about a feature group.
#[derive(Debug, Clone)]
pub struct GroupDef {
    pub name: String,
    pub record_identifier: String,
    pub event_time: String,
    pub features: Vec<(String, FeatureType)>,
}

impl GroupDef {
    /// `name:record_id:event_time:feature=Type,feature=Type,...` (the loopback binary's `--group`).
    pub fn parse_spec(spec: &str) -> Result<GroupDef, String> {
        let mut parts = spec.splitn(4, ':');
        let (Some(name), Some(id), Some(event), Some(features)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "{spec:?}: expected name:record_id:event_time:feature=Type,..."
            ));
        };
        let features = features
            .split(',')
            .map(|f| {
                let (n, t) = f
                    .split_once('=')
                    .ok_or_else(|| format!("{f:?}: expected feature=Type"))?;
                let t =
                    FeatureType::parse(t).ok_or_else(|| format!("{t:?}: not Integral/Fractional/String"))?;
                Ok((n.to_string(), t))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(GroupDef {
            name: name.into(),
            record_identifier: id.into(),
            event_time: event.into(),
            features,
        })
    }

    fn feature_type(&self, name: &str) -> Option<FeatureType> {
        self.features.iter().find(|(n, _)| n == name).map(|(_, t)| *t)
    }
}

/// Injected faults. Rates are probabilities per request, drawn from an RNG seeded with `seed`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    pub latency: Duration,
    pub throttle_rate: f64,
    pub error_rate: f64,
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: Duration::ZERO,
            throttle_rate: 0.0,
            error_rate: 0.0,
            seed: 1,
        }
    }
}

/// Request and write counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Every request received, faulted or not.
    pub requests: u64,
    pub put_requests: u64,
    pub get_requests: u64,
    pub batch_get_requests: u64,
    pub delete_requests: u64,
    /// Requests answered with an injected `ThrottlingException`.
    pub throttled: u64,
    /// Requests answered with an injected 5xx.
    pub server_errors: u64,
    /// `PutRecord`s rejected with `ValidationError` / `ResourceNotFound`.
    pub rejected: u64,
    /// `PutRecord`s accepted, per (feature group, record identifier).
    pub writes: HashMap<(String, String), u64>,
    /// `PutRecord` requests per user agent they carried.
    pub user_agents: HashMap<UserAgent, u64>,
}

/// A request's `User-Agent` and `X-Amz-User-Agent` headers, and whether the signature covers the second.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UserAgent {
    pub user_agent: Option<String>,
    pub x_amz_user_agent: Option<String>,
    pub signed: bool,
}

impl UserAgent {
    fn of(headers: &http::HeaderMap) -> UserAgent {
        // Every value, so a header sent twice shows.
        let text = |name: &str| {
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap_or("<not UTF-8>"))
                .collect();
            (!values.is_empty()).then(|| values.join(" | "))
        };
        // `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=a;b;c, Signature=...`
        let signed = text("authorization").is_some_and(|auth| {
            auth.split(", ")
                .find_map(|part| part.strip_prefix("SignedHeaders="))
                .is_some_and(|names| names.split(';').any(|n| n == "x-amz-user-agent"))
        });
        UserAgent {
            user_agent: text("user-agent"),
            x_amz_user_agent: text("x-amz-user-agent"),
            signed,
        }
    }
}

impl Counters {
    pub fn accepted_writes(&self) -> u64 {
        self.writes.values().sum()
    }
}

/// One stored record: its features as sent, and its event time in microseconds.
#[derive(Debug, Clone)]
struct Stored {
    record: Vec<(String, String)>,
    event_micros: i64,
}

struct State {
    groups: HashMap<String, GroupDef>,
    /// Online store: (group, record id) → latest record.
    online: HashMap<(String, String), Stored>,
    /// Records sent with `TargetStores` naming only the offline store, in arrival order.
    offline_only: Vec<(String, Vec<(String, String)>)>,
    counters: Counters,
    faults: Faults,
    rng: u64,
}

struct Inner {
    state: Mutex<State>,
    control: Option<aws_sdk_sagemaker::Client>,
}

/// Create a feature group in the SageMaker control plane (moto) with an online store and an offline store
/// at `offline_uri` (moto's CreateFeatureGroup fails with HTTP 500 without one). `features` lists every
/// feature, the record identifier and event time included. A group that already exists (a rerun against a
/// long-lived emulator) is fine.
pub async fn create_feature_group(
    sagemaker: &aws_sdk_sagemaker::Client,
    name: &str,
    record_identifier: &str,
    event_time: &str,
    features: &[(&str, aws_sdk_sagemaker::types::FeatureType)],
    offline_uri: &str,
) -> Result<(), String> {
    use aws_sdk_sagemaker::types::{
        FeatureDefinition, OfflineStoreConfig, OnlineStoreConfig, S3StorageConfig,
    };
    let definitions = features
        .iter()
        .map(|(feature, kind)| {
            FeatureDefinition::builder()
                .feature_name(*feature)
                .feature_type(kind.clone())
                .build()
        })
        .collect();
    let created = sagemaker
        .create_feature_group()
        .feature_group_name(name)
        .record_identifier_feature_name(record_identifier)
        .event_time_feature_name(event_time)
        .set_feature_definitions(Some(definitions))
        .online_store_config(OnlineStoreConfig::builder().enable_online_store(true).build())
        .offline_store_config(
            OfflineStoreConfig::builder()
                .s3_storage_config(S3StorageConfig::builder().s3_uri(offline_uri).build())
                .build(),
        )
        .role_arn("arn:aws:iam::123456789012:role/featurestore")
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use()) => Ok(()),
        Err(e) => Err(format!(
            "CreateFeatureGroup {name}: {}",
            aws_sdk_sagemaker::error::DisplayErrorContext(&e)
        )),
    }
}

/// A running loopback Feature Store runtime. Dropping it stops the server.
pub struct FeatureStore {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FeatureStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FeatureStore {
    /// Serve on a free 127.0.0.1 port. `control`: a SageMaker client (moto) asked for the definition of a
    /// feature group not registered with [`FeatureStore::register`].
    pub async fn start(faults: Faults, control: Option<aws_sdk_sagemaker::Client>) -> std::io::Result<Self> {
        Self::start_on(0, faults, control).await
    }

    pub async fn start_on(
        port: u16,
        faults: Faults,
        control: Option<aws_sdk_sagemaker::Client>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                groups: HashMap::new(),
                online: HashMap::new(),
                offline_only: Vec::new(),
                counters: Counters::default(),
                faults,
                rng: faults.seed,
            }),
            control,
        });
        let served = inner.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let inner = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let inner = inner.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&inner, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FeatureStore { addr, inner, task })
    }

    /// `http://127.0.0.1:port`, for the SDK's endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn register(&self, group: GroupDef) {
        self.state().groups.insert(group.name.clone(), group);
    }

    /// Change the injected faults (the RNG is reseeded).
    pub fn set_faults(&self, faults: Faults) {
        let mut state = self.state();
        state.faults = faults;
        state.rng = faults.seed;
    }

    pub fn counters(&self) -> Counters {
        self.state().counters.clone()
    }

    pub fn reset_counters(&self) {
        self.state().counters = Counters::default();
    }

    /// The online store's record for `id` (features as sent), if any.
    pub fn record(&self, group: &str, id: &str) -> Option<Vec<(String, String)>> {
        self.state()
            .online
            .get(&(group.to_string(), id.to_string()))
            .map(|s| s.record.clone())
    }

    /// Number of records in a group's online store.
    pub fn online_len(&self, group: &str) -> usize {
        self.state().online.keys().filter(|(g, _)| g == group).count()
    }

    /// Records written to the offline store only (`TargetStores: ["OfflineStore"]`).
    pub fn offline_only(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.state().offline_only.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.inner)
    }
}

fn lock(inner: &Inner) -> std::sync::MutexGuard<'_, State> {
    inner.state.lock().unwrap_or_else(|p| p.into_inner())
}

type Reply = Response<Full<Bytes>>;

/// A service error in the restJson1 shape the SDK parses.
fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .header("X-Amzn-ErrorType", code)
        .header("x-amzn-RequestId", "loopback")
        .body(Full::new(Bytes::from(
            json!({"__type": code, "Message": message}).to_string(),
        )))
        .expect("static response parts")
}

fn ok(body: Value) -> Reply {
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .header("x-amzn-RequestId", "loopback")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("static response parts")
}

fn validation(message: impl AsRef<str>) -> Reply {
    error(StatusCode::BAD_REQUEST, "ValidationError", message.as_ref())
}

fn not_found(group: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!("Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name {group}"),
    )
}

#[derive(Clone, Copy)]
enum Op {
    Put,
    Get,
    BatchGet,
    Delete,
}

async fn handle(inner: &Inner, req: Request<Incoming>) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query().unwrap_or(""));
    // Only PutRecord's user agent is counted (the headers are gone once the body is read).
    let user_agent = (method == Method::PUT).then(|| UserAgent::of(req.headers()));
    if path == "/_loopback/counters" {
        let state = lock(inner);
        let c = &state.counters;
        return ok(json!({
            "requests": c.requests, "putRequests": c.put_requests, "getRequests": c.get_requests,
            "throttled": c.throttled, "serverErrors": c.server_errors, "rejected": c.rejected,
            "acceptedWrites": c.accepted_writes(), "distinctRecords": c.writes.len(),
        }));
    }
    // SageMaker control plane (awsJson1_1): DescribeFeatureGroup from the definitions this server knows,
    // so a missing group is the service's `ResourceNotFound` (moto answers an HTML 500 instead).
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return validation("could not read the request body"),
    };
    if target.as_deref() == Some("SageMaker.DescribeFeatureGroup") {
        let name = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("FeatureGroupName")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        return match group_def(inner, &name).await {
            Some(def) => ok(json!({
                "FeatureGroupArn": format!("arn:aws:sagemaker:us-east-1:123456789012:feature-group/{}", def.name.to_lowercase()),
                "FeatureGroupName": def.name,
                "RecordIdentifierFeatureName": def.record_identifier,
                "EventTimeFeatureName": def.event_time,
                "FeatureDefinitions": def.features.iter().map(|(n, t)| json!({"FeatureName": n, "FeatureType": format!("{t:?}")})).collect::<Vec<_>>(),
                "CreationTime": 1_795_737_600,
                "OnlineStoreConfig": {"EnableOnlineStore": true},
                "FeatureGroupStatus": "Created",
            })),
            None => Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .header("Content-Type", "application/x-amz-json-1.1")
                .body(Full::new(Bytes::from(
                    json!({"__type": "ResourceNotFound", "Message": format!("Resource Not Found: FeatureGroup {name}")}).to_string(),
                )))
                .expect("static response parts"),
        };
    }
    let route = if let Some(raw) = path.strip_prefix("/FeatureGroup/") {
        let group = decode(raw);
        match method {
            Method::PUT => Some((Op::Put, group)),
            Method::GET => Some((Op::Get, group)),
            Method::DELETE => Some((Op::Delete, group)),
            _ => None,
        }
    } else if path == "/BatchGetRecord" && method == Method::POST {
        Some((Op::BatchGet, String::new()))
    } else {
        None
    };
    let Some((op, group)) = route else {
        return error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &format!("no operation for {method} {path}"),
        );
    };

    // Faults first: an injected failure never has an effect, so a retry is never applied twice.
    let (latency, fault) = {
        let mut state = lock(inner);
        let c = &mut state.counters;
        c.requests += 1;
        match op {
            Op::Put => {
                c.put_requests += 1;
                *c.user_agents.entry(user_agent.unwrap_or_default()).or_default() += 1;
            }
            Op::Get => c.get_requests += 1,
            Op::BatchGet => c.batch_get_requests += 1,
            Op::Delete => c.delete_requests += 1,
        }
        let faults = state.faults;
        let draw = next_f64(&mut state.rng);
        let fault = if draw < faults.throttle_rate {
            state.counters.throttled += 1;
            Some(error(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "Rate exceeded",
            ))
        } else if draw < faults.throttle_rate + faults.error_rate {
            state.counters.server_errors += 1;
            Some(if state.counters.server_errors.is_multiple_of(2) {
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "Service is unavailable",
                )
            } else {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalFailure",
                    "An internal failure occurred",
                )
            })
        } else {
            None
        };
        (faults.latency, fault)
    };
    if !latency.is_zero() {
        // tokio's timer has millisecond granularity and rounds up (10 ms took 11.7-11.9 ms), which would
        // put the latency model's N/L ceiling out of every client's reach; a thread sleep is exact to
        // tens of microseconds. The blocking pool holds one thread per request in flight.
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(latency)).await;
    }
    if let Some(reply) = fault {
        return reply;
    }

    match op {
        Op::BatchGet => batch_get(inner, &body).await,
        _ => {
            let Some(def) = group_def(inner, &group).await else {
                if matches!(op, Op::Put) {
                    lock(inner).counters.rejected += 1;
                }
                return not_found(&group);
            };
            match op {
                Op::Put => put(inner, &def, &body),
                Op::Get => get(inner, &def, &query),
                Op::Delete => delete(inner, &def, &query),
                Op::BatchGet => unreachable!("handled above"),
            }
        }
    }
}

/// The definition of `group`: registered, or read once from the control plane.
async fn group_def(inner: &Inner, group: &str) -> Option<GroupDef> {
    if let Some(def) = lock(inner).groups.get(group) {
        return Some(def.clone());
    }
    let control = inner.control.as_ref()?;
    let described = control
        .describe_feature_group()
        .feature_group_name(group)
        .send()
        .await
        .ok()?;
    let def = GroupDef {
        name: described.feature_group_name()?.to_string(),
        record_identifier: described.record_identifier_feature_name()?.to_string(),
        event_time: described.event_time_feature_name()?.to_string(),
        features: described
            .feature_definitions()
            .iter()
            .filter_map(|f| {
                Some((
                    f.feature_name()?.to_string(),
                    FeatureType::parse(f.feature_type()?.as_str())?,
                ))
            })
            .collect(),
    };
    lock(inner).groups.insert(group.to_string(), def.clone());
    Some(def)
}

fn put(inner: &Inner, def: &GroupDef, body: &[u8]) -> Reply {
    let outcome = check_put(def, body);
    let mut state = lock(inner);
    let (record, id, event_micros, online) = match outcome {
        Ok(x) => x,
        Err(message) => {
            state.counters.rejected += 1;
            return validation(message);
        }
    };
    *state
        .counters
        .writes
        .entry((def.name.clone(), id.clone()))
        .or_default() += 1;
    if !online {
        state.offline_only.push((def.name.clone(), record));
        return ok(json!({}));
    }
    let key = (def.name.clone(), id);
    let newer = state
        .online
        .get(&key)
        .is_none_or(|old| event_micros >= old.event_micros);
    if newer {
        state.online.insert(key, Stored { record, event_micros });
    }
    ok(json!({}))
}

type Checked = (Vec<(String, String)>, String, i64, bool);

/// Validate a PutRecord body against the definition, as the service does.
fn check_put(def: &GroupDef, body: &[u8]) -> Result<Checked, String> {
    let input: Value = serde_json::from_slice(body).map_err(|e| format!("malformed request body: {e}"))?;
    let entries = input
        .get("Record")
        .and_then(Value::as_array)
        .ok_or("1 validation error detected: Value null at 'record' failed to satisfy constraint: Member must not be null")?;
    if entries.is_empty() {
        return Err("1 validation error detected: Value at 'record' failed to satisfy constraint: Member must have length greater than or equal to 1".into());
    }
    let mut record = Vec::with_capacity(entries.len());
    for entry in entries {
        let name = entry
            .get("FeatureName")
            .and_then(Value::as_str)
            .ok_or("FeatureName must not be null")?;
        let value = match (entry.get("ValueAsString"), entry.get("ValueAsStringList")) {
            (Some(Value::String(s)), _) => s.clone(),
            (_, Some(_)) => return Err(format!("Feature {name} is not a collection type feature")),
            _ => return Err(format!("ValueAsString of feature {name} must not be null")),
        };
        let Some(ty) = def.feature_type(name) else {
            return Err(format!(
                "The feature name {name} does not exist in the feature group {} definition",
                def.name
            ));
        };
        if record.iter().any(|(n, _): &(String, String)| n == name) {
            return Err(format!(
                "Feature {name} is specified more than once in the record"
            ));
        }
        if !type_ok(ty, &value) {
            return Err(format!(
                "The value {value:?} of feature {name} does not match its type {ty:?}"
            ));
        }
        record.push((name.to_string(), value));
    }
    let find = |n: &str| record.iter().find(|(f, _)| f == n).map(|(_, v)| v.clone());
    let id = find(&def.record_identifier).ok_or_else(|| {
        format!(
            "The record identifier feature {} is missing from the record",
            def.record_identifier
        )
    })?;
    if id.is_empty() {
        return Err("The record identifier value must not be empty".into());
    }
    let event = find(&def.event_time).ok_or_else(|| {
        format!(
            "The event time feature {} is missing from the record",
            def.event_time
        )
    })?;
    let event_micros = parse_event_time(&event).ok_or_else(|| {
        format!(
            "The event time {event:?} is not in ISO 8601 format yyyy-MM-dd'T'HH:mm:ssZ / yyyy-MM-dd'T'HH:mm:ss.SSSZ or fractional seconds since the epoch"
        )
    })?;
    let online = match input.get("TargetStores") {
        None | Some(Value::Null) => true,
        Some(Value::Array(stores)) => {
            let mut online = false;
            for s in stores {
                match s.as_str() {
                    Some("OnlineStore") => online = true,
                    Some("OfflineStore") => {}
                    other => return Err(format!("invalid TargetStores value {other:?}")),
                }
            }
            if stores.is_empty() {
                return Err("TargetStores must not be empty".into());
            }
            online
        }
        Some(_) => return Err("TargetStores must be a list".into()),
    };
    Ok((record, id, event_micros, online))
}

fn type_ok(ty: FeatureType, value: &str) -> bool {
    match ty {
        FeatureType::String => true,
        FeatureType::Integral => value.parse::<i64>().is_ok(),
        FeatureType::Fractional => value.parse::<f64>().is_ok_and(f64::is_finite),
    }
}

fn get(inner: &Inner, def: &GroupDef, query: &[(String, String)]) -> Reply {
    let Some(id) = query_value(query, "RecordIdentifierValueAsString") else {
        return validation("RecordIdentifierValueAsString must not be null");
    };
    let names: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "FeatureName")
        .map(|(_, v)| v.as_str())
        .collect();
    for n in &names {
        if def.feature_type(n).is_none() {
            return validation(format!(
                "The feature name {n} does not exist in the feature group {} definition",
                def.name
            ));
        }
    }
    let state = lock(inner);
    match state.online.get(&(def.name.clone(), id.to_string())) {
        None => ok(json!({})),
        Some(stored) => ok(json!({"Record": record_json(&stored.record, &names)})),
    }
}

fn record_json(record: &[(String, String)], names: &[&str]) -> Value {
    Value::Array(
        record
            .iter()
            .filter(|(n, _)| names.is_empty() || names.contains(&n.as_str()))
            .map(|(n, v)| json!({"FeatureName": n, "ValueAsString": v}))
            .collect(),
    )
}

async fn batch_get(inner: &Inner, body: &[u8]) -> Reply {
    let Ok(input) = serde_json::from_slice::<Value>(body) else {
        return validation("malformed request body");
    };
    let Some(identifiers) = input.get("Identifiers").and_then(Value::as_array) else {
        return validation("Identifiers must not be null");
    };
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for ident in identifiers {
        let group = ident
            .get("FeatureGroupName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ids: Vec<&str> = ident
            .get("RecordIdentifiersValueAsString")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let names: Vec<&str> = ident
            .get("FeatureNames")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(def) = group_def(inner, group).await else {
            for id in ids {
                errors.push(json!({"FeatureGroupName": group, "RecordIdentifierValueAsString": id,
                    "ErrorCode": "ResourceNotFound", "ErrorMessage": format!("FeatureGroup {group} not found")}));
            }
            continue;
        };
        let state = lock(inner);
        for id in ids {
            match state.online.get(&(def.name.clone(), id.to_string())) {
                Some(stored) => records.push(json!({"FeatureGroupName": def.name,
                    "RecordIdentifierValueAsString": id, "Record": record_json(&stored.record, &names)})),
                None => errors.push(
                    json!({"FeatureGroupName": def.name, "RecordIdentifierValueAsString": id,
                    "ErrorCode": "ResourceNotFound", "ErrorMessage": "Record not found"}),
                ),
            }
        }
    }
    ok(json!({"Records": records, "Errors": errors, "UnprocessedIdentifiers": []}))
}

fn delete(inner: &Inner, def: &GroupDef, query: &[(String, String)]) -> Reply {
    let Some(id) = query_value(query, "RecordIdentifierValueAsString") else {
        return validation("RecordIdentifierValueAsString must not be null");
    };
    let Some(event) = query_value(query, "EventTime") else {
        return validation("EventTime must not be null");
    };
    let Some(event_micros) = parse_event_time(event) else {
        return validation(format!("The event time {event:?} is not in ISO 8601 format"));
    };
    let mut state = lock(inner);
    let key = (def.name.clone(), id.to_string());
    if state
        .online
        .get(&key)
        .is_some_and(|s| event_micros >= s.event_micros)
    {
        state.online.remove(&key);
    }
    ok(json!({}))
}

fn query_value<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Event times as the service accepts them: `yyyy-MM-ddTHH:mm:ssZ`, `yyyy-MM-ddTHH:mm:ss.SSSZ`, or
/// fractional seconds since the epoch. Returns microseconds since the epoch.
pub fn parse_event_time(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        return secs.is_finite().then(|| (secs * 1e6).round() as i64);
    }
    let b = s.as_bytes();
    if !(b.len() == 20 || b.len() == 24) || b[b.len() - 1] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = if b.len() == 24 {
        if b[19] != b'.' {
            return None;
        }
        num(20..23)?
    } else {
        0
    };
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000 + millis) * 1000)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// splitmix64 → [0, 1).
fn next_f64(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The record as a JSON object `{feature: value}` (for assertions).
pub fn record_map(record: &[(String, String)]) -> Map<String, Value> {
    record
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times() {
        assert_eq!(parse_event_time("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_event_time("1970-01-01T00:00:01.500Z"), Some(1_500_000));
        assert_eq!(parse_event_time("1.25"), Some(1_250_000));
        assert_eq!(parse_event_time("2026-02-30T00:00:00Z"), None);
        assert_eq!(parse_event_time("2026-11-27 10:00:00Z"), None);
        assert_eq!(parse_event_time("2026-11-27T10:00:00"), None);
        assert_eq!(
            parse_event_time("2026-11-27T10:00:00Z"),
            Some(1_795_773_600_000_000)
        );
    }

    #[test]
    fn rng_is_uniform_enough() {
        let mut s = 7;
        let n = 10_000;
        let below = (0..n).filter(|_| next_f64(&mut s) < 0.2).count();
        assert!((1800..2200).contains(&below), "{below}");
    }
}
