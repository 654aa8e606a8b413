//! A CloudWatch loopback server speaking the current `aws-sdk-cloudwatch` wire protocol, Smithy RPC v2
//! CBOR, for GetMetricData. moto 5.2.5 only speaks CloudWatch's older awsQuery protocol, so the SDK's
//! requests (`POST /service/GraniteServiceVersion20100801/operation/GetMetricData`,
//! `smithy-protocol: rpc-v2-cbor`, CBOR body) cannot be served by it.
//!
//! Tests seed datapoints per series (namespace, metric, dimensions, statistic): `Invocations` per
//! (EndpointName, VariantName), or any other ([`CloudWatch::set_series`], e.g. a training job's
//! per-host utilisation); every query is answered with its series' datapoints (none when unseeded: what
//! CloudWatch answers for a series nobody published). Results are
//! paginated (`NextToken`) at a settable page size so the caller's paginator is exercised. Each request's
//! queries are recorded for assertions. Other operations get an RPC v2 CBOR error
//! (`UnknownOperationException`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};

const OPERATION_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";

/// A decoded CBOR item (just what the protocol uses).
#[derive(Debug, Clone, PartialEq)]
pub enum Cbor {
    Int(i128),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Array(Vec<Cbor>),
    Map(Vec<(Cbor, Cbor)>),
    Tag(u64, Box<Cbor>),
    Bool(bool),
    Null,
}

impl Cbor {
    /// Member `name` of a map with text keys.
    pub fn get(&self, name: &str) -> Option<&Cbor> {
        match self {
            Cbor::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Cbor::Text(t) if t == name))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Cbor::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Cbor] {
        match self {
            Cbor::Array(items) => items,
            _ => &[],
        }
    }

    pub fn number(&self) -> Option<f64> {
        match self {
            Cbor::Int(i) => Some(*i as f64),
            Cbor::Float(f) => Some(*f),
            // Timestamps: tag 1 over epoch seconds.
            Cbor::Tag(1, inner) => inner.number(),
            _ => None,
        }
    }
}

/// Decode one CBOR item (definite or indefinite lengths, as the SDK's encoder writes maps).
pub fn decode(d: &mut Decoder<'_>) -> Result<Cbor, minicbor::decode::Error> {
    Ok(match d.datatype()? {
        Type::Bool => Cbor::Bool(d.bool()?),
        Type::Null | Type::Undefined => {
            d.skip()?;
            Cbor::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Cbor::Int(i128::from(d.u64()?)),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => Cbor::Int(i128::from(d.i64()?)),
        Type::Int => Cbor::Int(i128::from(d.int()?)),
        Type::F16 => Cbor::Float(f64::from(d.f16()?)),
        Type::F32 => Cbor::Float(f64::from(d.f32()?)),
        Type::F64 => Cbor::Float(d.f64()?),
        Type::String => Cbor::Text(d.str()?.to_string()),
        Type::StringIndef => {
            let mut s = String::new();
            for part in d.str_iter()? {
                s.push_str(part?);
            }
            Cbor::Text(s)
        }
        Type::Bytes => Cbor::Bytes(d.bytes()?.to_vec()),
        Type::BytesIndef => {
            let mut b = Vec::new();
            for part in d.bytes_iter()? {
                b.extend_from_slice(part?);
            }
            Cbor::Bytes(b)
        }
        Type::Array | Type::ArrayIndef => {
            let mut items = Vec::new();
            match d.array()? {
                Some(n) => {
                    for _ in 0..n {
                        items.push(decode(d)?);
                    }
                }
                None => {
                    while d.datatype()? != Type::Break {
                        items.push(decode(d)?);
                    }
                    d.skip()?;
                }
            }
            Cbor::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let mut entries = Vec::new();
            match d.map()? {
                Some(n) => {
                    for _ in 0..n {
                        let k = decode(d)?;
                        entries.push((k, decode(d)?));
                    }
                }
                None => {
                    while d.datatype()? != Type::Break {
                        let k = decode(d)?;
                        entries.push((k, decode(d)?));
                    }
                    d.skip()?;
                }
            }
            Cbor::Map(entries)
        }
        Type::Tag => {
            let tag = d.tag()?.as_u64();
            Cbor::Tag(tag, Box::new(decode(d)?))
        }
        other => {
            return Err(minicbor::decode::Error::message(format!(
                "unexpected CBOR type {other}"
            )))
        }
    })
}

/// One metric query as the server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    pub id: String,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
    pub period: i64,
    pub stat: String,
}

/// One GetMetricData request.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRequest {
    pub queries: Vec<MetricQuery>,
    pub start_time: f64,
    pub end_time: f64,
    pub next_token: Option<String>,
}

/// (namespace, metric, dimensions sorted by name, statistic).
type SeriesKey = (String, String, Vec<(String, String)>, String);

fn series_key(namespace: &str, metric: &str, dimensions: &[(&str, &str)], stat: &str) -> SeriesKey {
    let mut dims: Vec<(String, String)> = dimensions
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    dims.sort();
    (namespace.into(), metric.into(), dims, stat.into())
}

#[derive(Default)]
struct State {
    /// Series → datapoint values.
    series: HashMap<SeriesKey, Vec<f64>>,
    /// Results per response page (0: all).
    page_size: usize,
    requests: Vec<MetricRequest>,
}

/// The running server; lives as long as the test's tokio runtime.
#[derive(Clone)]
pub struct CloudWatch {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl CloudWatch {
    /// Bind a free loopback port and serve on the current tokio runtime.
    pub async fn start() -> CloudWatch {
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let addr = crate::serve_loopback(move |req| {
            let state = shared.clone();
            async move { handle(&state, req).await }
        })
        .await;
        CloudWatch {
            endpoint: format!("http://{addr}"),
            state,
        }
    }

    /// Seed the `Invocations` (Sum) datapoints of one endpoint variant.
    pub fn set_invocations(&self, endpoint: &str, variant: &str, datapoints: &[f64]) {
        self.set_series(
            "AWS/SageMaker",
            "Invocations",
            &[("EndpointName", endpoint), ("VariantName", variant)],
            "Sum",
            datapoints,
        );
    }

    /// Seed the datapoints of any series: `stat` of `metric` in `namespace` with exactly `dimensions`.
    pub fn set_series(
        &self,
        namespace: &str,
        metric: &str,
        dimensions: &[(&str, &str)],
        stat: &str,
        datapoints: &[f64],
    ) {
        self.lock().series.insert(
            series_key(namespace, metric, dimensions, stat),
            datapoints.to_vec(),
        );
    }

    /// Answer at most `n` query results per page (the rest behind `NextToken`).
    pub fn set_page_size(&self, n: usize) {
        self.lock().page_size = n;
    }

    /// Every GetMetricData request received so far.
    pub fn requests(&self) -> Vec<MetricRequest> {
        self.lock().requests.clone()
    }

    /// An SDK client for this server.
    pub fn client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_cloudwatch::Client {
        let conf = aws_sdk_cloudwatch::config::Builder::from(sdk)
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_cloudwatch::Client::from_conf(conf)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn handle(state: &Mutex<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let protocol_ok = req
        .headers()
        .get("smithy-protocol")
        .is_some_and(|v| v.as_bytes() == b"rpc-v2-cbor");
    let operation = req
        .uri()
        .path()
        .strip_prefix(OPERATION_PREFIX)
        .map(str::to_string);
    let is_post = req.method() == hyper::Method::POST;
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(400, "SerializationException", "unreadable body"),
    };
    if !protocol_ok || !is_post {
        return error(
            400,
            "SerializationException",
            "expected POST with smithy-protocol: rpc-v2-cbor",
        );
    }
    match operation.as_deref() {
        Some("GetMetricData") => match parse_request(&body) {
            Ok(request) => get_metric_data(state, request),
            Err(message) => error(400, "InvalidParameterValue", &message),
        },
        Some(other) => error(
            400,
            "UnknownOperationException",
            &format!("{other} is not served here"),
        ),
        None => error(404, "UnknownOperationException", "not an RPC v2 operation path"),
    }
}

fn parse_request(body: &[u8]) -> Result<MetricRequest, String> {
    let root = decode(&mut Decoder::new(body)).map_err(|e| format!("CBOR: {e}"))?;
    let mut queries = Vec::new();
    for q in root.get("MetricDataQueries").map(Cbor::items).unwrap_or_default() {
        let stat = q.get("MetricStat").ok_or("query without MetricStat")?;
        let metric = stat.get("Metric").ok_or("MetricStat without Metric")?;
        queries.push(MetricQuery {
            id: q
                .get("Id")
                .and_then(Cbor::text)
                .ok_or("query without Id")?
                .to_string(),
            namespace: metric
                .get("Namespace")
                .and_then(Cbor::text)
                .unwrap_or_default()
                .to_string(),
            metric_name: metric
                .get("MetricName")
                .and_then(Cbor::text)
                .unwrap_or_default()
                .to_string(),
            dimensions: metric
                .get("Dimensions")
                .map(Cbor::items)
                .unwrap_or_default()
                .iter()
                .map(|d| {
                    (
                        d.get("Name").and_then(Cbor::text).unwrap_or_default().to_string(),
                        d.get("Value")
                            .and_then(Cbor::text)
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect(),
            period: stat.get("Period").and_then(Cbor::number).unwrap_or(0.0) as i64,
            stat: stat
                .get("Stat")
                .and_then(Cbor::text)
                .unwrap_or_default()
                .to_string(),
        });
    }
    let time = |name: &str| match root.get(name) {
        Some(Cbor::Tag(1, t)) => t.number().ok_or(format!("{name} is not epoch seconds")),
        _ => Err(format!("{name} missing or not a tag-1 timestamp")),
    };
    Ok(MetricRequest {
        queries,
        start_time: time("StartTime")?,
        end_time: time("EndTime")?,
        next_token: root.get("NextToken").and_then(Cbor::text).map(str::to_string),
    })
}

fn get_metric_data(state: &Mutex<State>, request: MetricRequest) -> Response<Full<Bytes>> {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    s.requests.push(request.clone());
    let offset: usize = match request.next_token.as_deref().map(str::parse) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return error(400, "InvalidNextToken", "bad NextToken"),
    };
    let page = if s.page_size == 0 { usize::MAX } else { s.page_size };
    let end = offset.saturating_add(page).min(request.queries.len());
    let slice = request.queries.get(offset..end).unwrap_or_default();

    let mut e = Encoder::new(Vec::new());
    let write = |e: &mut Encoder<Vec<u8>>| -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
        e.map(if end < request.queries.len() { 3 } else { 2 })?;
        e.str("MetricDataResults")?.array(slice.len() as u64)?;
        for q in slice {
            let dims: Vec<(&str, &str)> = q
                .dimensions
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let values = s
                .series
                .get(&series_key(&q.namespace, &q.metric_name, &dims, &q.stat))
                .cloned()
                .unwrap_or_default();
            e.map(5)?;
            e.str("Id")?.str(&q.id)?;
            e.str("Label")?.str(&q.metric_name)?;
            e.str("Timestamps")?.array(values.len() as u64)?;
            for i in 0..values.len() {
                // Newest first, one period apart, as CloudWatch orders them by default.
                e.tag(Tag::new(1))?
                    .f64(request.end_time - (i as f64 + 1.0) * q.period.max(60) as f64)?;
            }
            e.str("Values")?.array(values.len() as u64)?;
            for v in &values {
                e.f64(*v)?;
            }
            e.str("StatusCode")?.str("Complete")?;
        }
        e.str("Messages")?.array(0)?;
        if end < request.queries.len() {
            e.str("NextToken")?.str(&end.to_string())?;
        }
        Ok(())
    };
    if write(&mut e).is_err() {
        return error(500, "InternalServiceError", "encoding failed");
    }
    cbor_response(200, e.into_writer())
}

fn cbor_response(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("smithy-protocol", "rpc-v2-cbor")
        .header("content-type", "application/cbor")
        .header("x-amzn-requestid", "greenpipe-loopback")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// An RPC v2 CBOR error: a map with `__type` and `message`.
fn error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let mut e = Encoder::new(Vec::new());
    let _ = e
        .map(2)
        .and_then(|e| e.str("__type"))
        .and_then(|e| e.str(&format!("com.amazonaws.cloudwatch#{code}")))
        .and_then(|e| e.str("message"))
        .and_then(|e| e.str(message));
    cbor_response(status, e.into_writer())
}
