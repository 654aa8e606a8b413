//! `greenpipe run` without an emulator: SageMaker's control plane as greenpipe's stages see it in an
//! account where nothing was made yet, so plan-training and plan-transform run their real code and print
//! the jobs they plan. Lookups (`DescribeTrainingJob`, `DescribeTransformJob`, `DescribeModel`) are
//! answered as SageMaker answers a name nothing has (`ValidationException`, "Could not find ..."); a
//! `CreateModel` or `AddTags` a stage makes is recorded as planned and answered as SageMaker would answer
//! it; any other operation is refused with its name, so a new call cannot pass unnoticed. Nothing here
//! pretends a job ran: the jobs themselves are the state machine's, and the executor plans those.
//!
//! The SDK speaks awsJson1_1 to it (`X-Amz-Target: SageMaker.<Operation>`), through the standard
//! `AWS_ENDPOINT_URL_SAGEMAKER` setting.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{json, Value};

/// A call a stage made that was recorded, not carried out.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCall {
    pub operation: String,
    pub request: Value,
}

/// The running endpoint.
#[derive(Clone)]
pub struct PlannedSageMaker {
    calls: Arc<Mutex<Vec<PlannedCall>>>,
    region: String,
    account: String,
}

impl PlannedSageMaker {
    /// Serve on `listener` (bound before the SDK configuration is read) on the current runtime.
    pub fn start(
        listener: std::net::TcpListener,
        region: &str,
        account: &str,
    ) -> Result<PlannedSageMaker, String> {
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("planned SageMaker: {e}"))?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|e| format!("planned SageMaker: {e}"))?;
        let me = PlannedSageMaker {
            calls: Arc::default(),
            region: region.to_string(),
            account: account.to_string(),
        };
        let server = me.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let server = server.clone();
                        async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Ok(me)
    }

    /// The calls recorded so far, in order.
    pub fn calls(&self) -> Vec<PlannedCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let operation = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.strip_prefix("SageMaker."))
            .unwrap_or_default()
            .to_string();
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return error(400, "SerializationException", "unreadable body"),
        };
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        answer(&operation, &request, &self.region, &self.account, |call| {
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(call);
            }
        })
    }
}

/// SageMaker's answer to `operation` in an account where nothing exists; `record` gets the calls that
/// would change something.
fn answer(
    operation: &str,
    request: &Value,
    region: &str,
    account: &str,
    record: impl FnOnce(PlannedCall),
) -> Response<Full<Bytes>> {
    let text = |k: &str| request[k].as_str().unwrap_or_default();
    match operation {
        "DescribeTrainingJob" => not_found(&format!("training job {}", text("TrainingJobName"))),
        "DescribeTransformJob" => not_found(&format!("transform job {}", text("TransformJobName"))),
        "DescribeModel" => not_found(&format!("model {}", text("ModelName"))),
        "DescribeHyperParameterTuningJob" => not_found(&format!(
            "hyper parameter tuning job {}",
            text("HyperParameterTuningJobName")
        )),
        "CreateModel" => {
            let arn = format!(
                "arn:aws:sagemaker:{region}:{account}:model/{}",
                text("ModelName").to_lowercase()
            );
            record(PlannedCall {
                operation: operation.into(),
                request: request.clone(),
            });
            ok(json!({"ModelArn": arn}))
        }
        "AddTags" => {
            record(PlannedCall {
                operation: operation.into(),
                request: request.clone(),
            });
            ok(json!({"Tags": request["Tags"]}))
        }
        "" => error(
            400,
            "UnknownOperationException",
            "no X-Amz-Target: SageMaker.<Operation>",
        ),
        other => error(
            400,
            "UnknownOperationException",
            &format!(
                "greenpipe run plans SageMaker locally and does not answer {other}; pass --emulator URL"
            ),
        ),
    }
}

fn not_found(what: &str) -> Response<Full<Bytes>> {
    error(
        400,
        "ValidationException",
        &format!("Could not find {what} (greenpipe run: no SageMaker here, nothing exists)"),
    )
}

fn ok(body: Value) -> Response<Full<Bytes>> {
    respond(200, body)
}

fn error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    respond(status, json!({"__type": code, "message": message}))
}

fn respond(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response<Full<Bytes>>) -> (u16, Value) {
        let status = r.status().as_u16();
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn lookups_find_nothing_and_changes_are_recorded_not_made() {
        let mut recorded = Vec::new();
        let (status, b) = body(answer(
            "DescribeTrainingJob",
            &json!({"TrainingJobName": "j"}),
            "us-east-1",
            "0",
            |c| recorded.push(c),
        ))
        .await;
        assert_eq!(status, 400);
        assert_eq!(b["__type"], "ValidationException");
        assert!(b["message"]
            .as_str()
            .unwrap()
            .starts_with("Could not find training job j"));
        let (status, b) = body(answer(
            "CreateModel",
            &json!({"ModelName": "M-1"}),
            "eu-west-1",
            "000000000000",
            |c| recorded.push(c),
        ))
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            b["ModelArn"],
            "arn:aws:sagemaker:eu-west-1:000000000000:model/m-1"
        );
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].operation, "CreateModel");
        let (status, b) = body(answer("CreateEndpoint", &json!({}), "us-east-1", "0", |_| {
            panic!("not recorded")
        }))
        .await;
        assert_eq!(status, 400);
        assert!(b["message"].as_str().unwrap().contains("CreateEndpoint"));
    }
}
