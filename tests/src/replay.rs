//! A replay connector at the SDK's HTTP layer, for the SageMaker APIs no emulator covers (Studio,
//! UpdateNotebookInstance): the client sends its real, serialized and signed requests here, gets
//! recorded awsJson1.1 answers in order, and the test reads back every request it made.
//!
//! Not aws-smithy-http-client's test-util replay client: it turns on serde_json's `preserve_order` for
//! the whole workspace test build, which would change how every JSON map in greenpipe serializes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::Value;

/// One recorded answer: HTTP status and JSON body.
pub type Answer = (u16, Value);

/// Hands out the recorded answers in order and keeps every request it was sent. Past the last answer it
/// fails the request (a connector error), so an unexpected extra call shows up as a failure.
#[derive(Clone, Debug, Default)]
pub struct Replay {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    requests: Arc<Mutex<Vec<HttpRequest>>>,
}

impl Replay {
    pub fn new(answers: Vec<Answer>) -> Replay {
        Replay {
            answers: Arc::new(Mutex::new(answers.into())),
            requests: Arc::default(),
        }
    }

    /// A SageMaker client configured from `sdk` whose every request comes here.
    pub fn sagemaker(&self, sdk: &SdkConfig) -> aws_sdk_sagemaker::Client {
        let connector = self.clone();
        aws_sdk_sagemaker::Client::from_conf(
            aws_sdk_sagemaker::config::Builder::from(sdk)
                .http_client(http_client_fn(move |_, _| {
                    SharedHttpConnector::new(connector.clone())
                }))
                .build(),
        )
    }

    /// Every request sent so far: (operation without the `SageMaker.` prefix, JSON body). Each must be
    /// SigV4-signed.
    pub fn sent(&self) -> Vec<(String, Value)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                let target = r.headers().get("x-amz-target").unwrap_or_default();
                assert!(
                    r.headers()
                        .get("authorization")
                        .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256")),
                    "{target} was not SigV4-signed"
                );
                let body = serde_json::from_slice(r.body().bytes().unwrap_or(b"{}".as_slice())).unwrap();
                (target.trim_start_matches("SageMaker.").to_string(), body)
            })
            .collect()
    }

    /// Answers not yet handed out.
    pub fn left(&self) -> usize {
        self.answers.lock().unwrap().len()
    }
}

impl HttpConnector for Replay {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .to_string();
        self.requests.lock().unwrap().push(request);
        let Some((status, body)) = self.answers.lock().unwrap().pop_front() else {
            return HttpConnectorFuture::ready(Err(
                aws_smithy_runtime_api::client::result::ConnectorError::other(
                    format!("no recorded answer left for {target}").into(),
                    None,
                ),
            ));
        };
        let mut response = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_string()),
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.1");
        HttpConnectorFuture::ready(Ok(response))
    }
}
