//! `cargo lambda watch` serves the workspace's functions on an explicit free port, and a function invoked
//! over HTTP (the Lambda Invoke API path) runs against the emulator: the local development loop the README
//! documents. cargo-lambda comes from PyPI into .tools/cargo-lambda (scripts/setup-tools.sh
//! --cargo-lambda-only, which scripts/test.sh runs). The watcher builds the function itself on the first
//! invocation (`cargo run` of the package, in this target directory). It builds with the package's
//! `workspace-graph` feature, whose dependency features equal the workspace test build's, so it reuses
//! that build and only compiles the package itself (seconds, not the 7 minutes of a second tokio / hyper /
//! AWS SDK build); `watch_graph_matches_the_workspace_test_graph` keeps the two graphs equal. The read
//! timeout still allows for a build from nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use greenpipe_tests::{emulator, repo_root, Aws, REGION};

/// Kills the watcher's whole process group (it runs the function as a child process).
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        // SAFETY: kill(2) with a negative pid signals the process group the child leads (it was started
        // with process_group(0)); no memory is shared.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

fn cargo_lambda_bin_dir() -> PathBuf {
    let dir = repo_root().join(".tools/cargo-lambda/bin");
    assert!(
        dir.join("cargo-lambda").is_file(),
        "{} missing: run `bash scripts/setup-tools.sh --cargo-lambda` (scripts/test.sh does)",
        dir.display()
    );
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// POST `body` to the Invoke API path; returns (status, body). Retries while the watcher is starting.
fn invoke(addr: SocketAddr, function: &str, body: &str, deadline: Instant) -> (u16, String) {
    loop {
        let attempt = (|| -> std::io::Result<(u16, String)> {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            // The first invocation compiles the function if it is not built yet.
            s.set_read_timeout(Some(Duration::from_secs(900)))?;
            write!(
                s,
                "POST /2015-03-31/functions/{function}/invocations HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            let mut response = String::new();
            s.read_to_string(&mut response)?;
            let status = response
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let body = response
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.to_string())
                .unwrap_or_default();
            Ok((status, body))
        })();
        match attempt {
            Ok(r) => return r,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => panic!("cargo lambda watch never answered on {addr}: {e}"),
        }
    }
}

/// Chunked transfer encoding → the payload (cargo lambda's server may answer either way).
fn dechunk(body: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(body.trim()).is_ok() {
        return body.trim().to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn cargo_lambda_watch_serves_validate_dataset_over_http() {
    let bin_dir = cargo_lambda_bin_dir();
    let aws = Aws::new().await;
    let bucket = aws.bucket(false).await;
    let contract = std::fs::read(repo_root().join("contracts/sales.yaml")).unwrap();
    aws.put(&bucket, "contracts/incoming/sales.yaml", contract).await;
    let sample = std::fs::read(repo_root().join("samples/sales.csv")).unwrap();
    aws.put(&bucket, "incoming/sales/watch day.csv", sample).await;

    let port = free_port();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let endpoint = &emulator().endpoint;
    let mut command = Command::new("cargo");
    command
        .current_dir(repo_root())
        .env("PATH", path)
        .args(["lambda", "watch", "--ignore-changes", "--timeout", "1200"])
        .args([
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .args(["--package", "validate-dataset", "--features", "workspace-graph"])
        .arg("--env-var")
        .arg(format!(
            "AWS_ENDPOINT_URL={endpoint},AWS_REGION={REGION},AWS_ACCESS_KEY_ID=testing,\
             AWS_SECRET_ACCESS_KEY=testing,GREENPIPE_S3_FORCE_PATH_STYLE=true"
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0);
    let _watch = Watch(command.spawn().expect("cargo lambda watch starts"));

    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let event = serde_json::json!({"bucket": bucket, "key": "incoming/sales/watch day.csv"}).to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (status, body) =
        tokio::task::spawn_blocking(move || invoke(addr, "validate-dataset", &event, deadline))
            .await
            .unwrap();
    assert_eq!(status, 200, "invoke answered {status}: {body}");
    let payload: serde_json::Value =
        serde_json::from_str(&dechunk(&body)).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(payload["status"], "valid", "{payload}");
    assert_eq!(payload["rows"], 200, "{payload}");
    // The function really ran against the emulator: its report is in the bucket.
    let reports = aws.keys(&bucket, "greenpipe/reports/").await;
    assert_eq!(reports.len(), 1, "{reports:?}");
}

/// `cargo tree` lines (`name vX.Y.Z [features]`), one per package build, without the workspace's own
/// packages.
fn feature_graph(args: &[&str]) -> std::collections::BTreeSet<String> {
    let out = Command::new("cargo")
        .current_dir(repo_root())
        .args(["tree", "--locked", "--prefix", "none", "-f", "{p} [{f}]"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_end_matches(" (*)").to_string())
        // Path packages (the workspace's own) print as `name vX (/path)`.
        .filter(|l| !l.is_empty() && !l.contains(" (/"))
        .collect()
}

/// validate-dataset's `workspace-graph` feature must give every dependency exactly the features the
/// workspace test build gives it (all members, dev-dependencies included); any difference makes the
/// watcher above rebuild that crate and everything built on it. When this fails after a dependency
/// change, add the listed features to `workspace-graph` in functions/validate-dataset/Cargo.toml.
#[test]
fn watch_graph_matches_the_workspace_test_graph() {
    let workspace = feature_graph(&["--workspace", "-e", "normal,build,dev"]);
    let watch = feature_graph(&[
        "--package",
        "validate-dataset",
        "--features",
        "workspace-graph",
        "-e",
        "normal,build",
    ]);
    assert!(watch.len() > 100, "{watch:?}");
    let differing: Vec<&String> = watch.difference(&workspace).collect();
    assert!(
        differing.is_empty(),
        "the watch build gives these dependencies other features than the workspace test build \
         (compare `cargo tree --workspace -e normal,build,dev -f '{{p}} [{{f}}]'`): {differing:#?}"
    );
}
