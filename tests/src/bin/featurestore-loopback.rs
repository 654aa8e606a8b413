//! The loopback Feature Store runtime as a standalone server, for the benchmark (`bench/features.sh`):
//!
//! ```text
//! featurestore-loopback --port 8111 --latency-ms 10 [--throttle-rate 0.0] [--error-rate 0.0] [--seed 1]
//!     --group 'bench:id:event_time:id=String,event_time=String,value=Fractional'
//! ```
//!
//! `GET /_loopback/counters` returns the request and write counters as JSON.

use std::time::Duration;

use greenpipe_tests::featurestore::{Faults, FeatureStore, GroupDef};

fn main() -> Result<(), String> {
    let mut port = 8111u16;
    let mut faults = Faults::default();
    let mut groups = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--latency-ms" => {
                let ms: f64 = value()?.parse().map_err(|e| format!("--latency-ms: {e}"))?;
                faults.latency = Duration::from_secs_f64(ms / 1000.0);
            }
            "--throttle-rate" => faults.throttle_rate = value()?.parse().map_err(|e| format!("{e}"))?,
            "--error-rate" => faults.error_rate = value()?.parse().map_err(|e| format!("{e}"))?,
            "--seed" => faults.seed = value()?.parse().map_err(|e| format!("{e}"))?,
            "--group" => groups.push(GroupDef::parse_spec(&value()?)?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let server = FeatureStore::start_on(port, faults, None)
            .await
            .map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
        for g in groups {
            server.register(g);
        }
        eprintln!("featurestore-loopback listening on {}", server.endpoint());
        std::future::pending::<()>().await;
        Ok(())
    })
}
