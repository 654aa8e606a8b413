//! A loopback carbon-intensity forecast API in Electricity Maps' v3 format (`GET
//! /v3/carbon-intensity/forecast?zone=Z&horizonHours=H`, token in the `auth-token` header), standing in
//! for the provider a deployment configures with `GREENPIPE_CARBON_FORECAST_URL`: no network in tests.
//! It answers every GET with the forecast the test set (hourly from a start time), or with the status
//! the test set, and records each request's path and query and its `auth-token`.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::json;

/// One request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastRequest {
    /// Path and query, e.g. `/v3/carbon-intensity/forecast?zone=DE&horizonHours=13`.
    pub target: String,
    pub auth_token: Option<String>,
}

#[derive(Default)]
struct State {
    /// (RFC 3339 time, gCO2e/kWh) points served.
    points: Vec<(String, f64)>,
    /// Answer this status with an error body instead (0: serve the forecast).
    fail_status: u16,
    requests: Vec<ForecastRequest>,
}

/// The running server; lives as long as the test's tokio runtime.
#[derive(Clone)]
pub struct ForecastApi {
    /// `http://127.0.0.1:<port>/v3/carbon-intensity/forecast`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl ForecastApi {
    /// Bind a free loopback port and serve on the current tokio runtime.
    pub async fn start() -> ForecastApi {
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let addr = crate::serve_loopback(move |req| {
            let reply = handle(&shared, req);
            async move { reply }
        })
        .await;
        ForecastApi {
            url: format!("http://{addr}/v3/carbon-intensity/forecast"),
            state,
        }
    }

    /// Serve these hourly points.
    pub fn set_forecast(&self, points: &[(&str, f64)]) {
        self.lock().points = points.iter().map(|(t, v)| (t.to_string(), *v)).collect();
    }

    /// Answer every request with this status and an error body.
    pub fn fail_with(&self, status: u16) {
        self.lock().fail_status = status;
    }

    pub fn requests(&self) -> Vec<ForecastRequest> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn handle(state: &Mutex<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.requests.push(ForecastRequest {
        target: req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        auth_token: req
            .headers()
            .get("auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    });
    let (status, body) = if state.fail_status != 0 {
        (state.fail_status, json!({"error": "loopback failure"}))
    } else if req.method() != hyper::Method::GET {
        (405, json!({"error": "GET only"}))
    } else {
        let forecast: Vec<_> = state
            .points
            .iter()
            .map(|(t, v)| json!({"carbonIntensity": v, "datetime": t}))
            .collect();
        (
            200,
            json!({"zone": "loopback", "forecast": forecast, "updatedAt": "2026-12-08T00:00:00.000Z"}),
        )
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}
