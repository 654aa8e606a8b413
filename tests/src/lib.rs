//! Test harness: the real AWS SDK clients against moto's server on 127.0.0.1.
//!
//! The emulator is found in this order:
//! 1. `GREENPIPE_TEST_ENDPOINT` (e.g. `http://127.0.0.1:5000`): an already running server, shared by
//!    every test process (`scripts/test.sh` starts one so that nextest's process-per-test model does not
//!    start one moto per test);
//! 2. otherwise one `moto_server` per test process, on a free 127.0.0.1 port, from `MOTO_SERVER_BIN` or
//!    the project virtualenv's moto (`bash scripts/setup-moto.sh` installs it) run by
//!    `scripts/moto_server.py`, which makes its signature check read the body as sent. It is
//!    started from a dedicated thread that lives as long as the process, with `PR_SET_PDEATHSIG`, so the
//!    kernel kills it when the test process exits, however it exits.
//!
//! The harness installs nothing. Tests are isolated by resource names (a random-suffixed bucket or state
//! machine per test), not by resetting the server, so they can run in parallel against one server.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

pub use greenpipe;

pub mod carbon;
pub mod cloudwatch;
pub mod featurestore;
pub mod replay;

/// Region the tests use (moto accepts any).
pub const REGION: &str = "us-east-1";
/// moto's default account id.
pub const ACCOUNT_ID: &str = "123456789012";
/// How long a freshly started moto may take to answer (it imports every service at start).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// A reachable emulator.
#[derive(Debug, Clone)]
pub struct Emulator {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    addr: SocketAddr,
    /// Where the server started by this process logs (None for an external server).
    pub log: Option<PathBuf>,
}

/// The emulator for this test process, started on first use. Panics (failing the test) with a message
/// saying how to install moto when it cannot be found or started.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| match start() {
        Ok(e) => e,
        Err(message) => panic!("AWS emulator unavailable: {message}"),
    })
}

/// An emulator of this test process's own, never the shared one: for tests that change the server's
/// global settings (IAM enforcement), which would break tests running beside them on a shared server.
/// Step Functions executions are only recorded there (`execute_state_machine` stays off).
pub fn private_emulator() -> &'static Emulator {
    static PRIVATE: OnceLock<Emulator> = OnceLock::new();
    PRIVATE.get_or_init(|| match spawn_moto() {
        Ok(e) => e,
        Err(message) => panic!("AWS emulator unavailable: {message}"),
    })
}

fn start() -> Result<Emulator, String> {
    let emulator = match std::env::var("GREENPIPE_TEST_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    {
        Some(endpoint) => {
            let addr = endpoint_addr(&endpoint)?;
            wait_until_ready(addr, None)?;
            Emulator {
                endpoint: endpoint.trim_end_matches('/').to_string(),
                addr,
                log: None,
            }
        }
        None => spawn_moto()?,
    };
    // Step Functions executions actually run (their states execute) only with this switch; without it
    // moto records executions that stay RUNNING forever. Either way ListExecutions sees them.
    let (status, body) = http(
        emulator.addr,
        "POST",
        "/moto-api/config",
        r#"{"stepfunctions": {"execute_state_machine": true}}"#,
    )
    .map_err(|e| format!("configuring moto at {}: {e}", emulator.endpoint))?;
    if !(200..300).contains(&status) {
        return Err(format!("moto refused /moto-api/config: HTTP {status}: {body}"));
    }
    Ok(emulator)
}

fn endpoint_addr(endpoint: &str) -> Result<SocketAddr, String> {
    let host_port = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .map_err(|_| format!("GREENPIPE_TEST_ENDPOINT={endpoint:?} is not http://<ip>:<port>"))
}

/// The program that runs moto, and the arguments before moto's own: `MOTO_SERVER_BIN`, or the project
/// virtualenv's Python running `scripts/moto_server.py` (moto's server with its signature check made
/// to read the body as sent: see that file).
fn moto_binary() -> Result<(PathBuf, Vec<String>), String> {
    if let Some(bin) = std::env::var_os("MOTO_SERVER_BIN").filter(|b| !b.is_empty()) {
        return Ok((PathBuf::from(bin), Vec::new()));
    }
    let venv = repo_root().join(".venv/bin/moto_server");
    if venv.exists() {
        let script = repo_root().join("scripts/moto_server.py");
        return Ok((
            repo_root().join(".venv/bin/python"),
            vec![script.display().to_string()],
        ));
    }
    Err(format!(
        "{} not found: run `bash scripts/setup-moto.sh`, or set MOTO_SERVER_BIN, or point \
         GREENPIPE_TEST_ENDPOINT at a running moto server",
        venv.display()
    ))
}

/// Start moto on a free port from a thread that outlives every test (see the module docs).
fn spawn_moto() -> Result<Emulator, String> {
    let bin = moto_binary()?;
    let mut last_error = String::new();
    // A port found free can be taken before moto binds it; try a few.
    for _ in 0..3 {
        let port = free_port().map_err(|e| format!("finding a free port: {e}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::env::temp_dir().join(format!("greenpipe-moto-{}-{port}.log", std::process::id()));
        let exited: Arc<Mutex<Option<String>>> = Arc::default();
        let (started_tx, started_rx) = mpsc::channel();
        let (thread_bin, log_path, exited_flag) = (bin.clone(), log.clone(), exited.clone());
        std::thread::Builder::new()
            .name("moto-server".into())
            .spawn(move || supervise(thread_bin, port, log_path, started_tx, exited_flag))
            .map_err(|e| format!("spawning the moto thread: {e}"))?;
        started_rx
            .recv()
            .map_err(|_| "the moto thread stopped".to_string())?
            .map_err(|e| format!("starting {}: {e}", bin.0.display()))?;
        match wait_until_ready(addr, Some(&exited)) {
            Ok(()) => {
                return Ok(Emulator {
                    endpoint: format!("http://{addr}"),
                    addr,
                    log: Some(log),
                })
            }
            Err(e) => last_error = format!("{e} (log: {})", log.display()),
        }
    }
    Err(last_error)
}

/// Body of the dedicated thread: spawn moto, report, then wait on it for the life of the process. The
/// parent-death signal fires when *this thread* ends, which is why it never returns while moto runs.
fn supervise(
    bin: (PathBuf, Vec<String>),
    port: u16,
    log: PathBuf,
    started: mpsc::Sender<std::io::Result<()>>,
    exited: Arc<Mutex<Option<String>>>,
) {
    use std::os::unix::process::CommandExt;

    let spawn = || -> std::io::Result<std::process::Child> {
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let parent = std::process::id() as libc::pid_t;
        let mut command = Command::new(&bin.0);
        command
            .args(&bin.1)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("test process already gone"));
                }
                Ok(())
            });
        }
        command.spawn()
    };
    match spawn() {
        Ok(mut child) => {
            let _ = started.send(Ok(()));
            let status = child.wait();
            if let Ok(mut flag) = exited.lock() {
                *flag = Some(format!("{status:?}"));
            }
        }
        Err(e) => {
            let _ = started.send(Err(e));
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn wait_until_ready(addr: SocketAddr, exited: Option<&Mutex<Option<String>>>) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = exited.and_then(|e| e.lock().ok().and_then(|s| s.clone())) {
            return Err(format!("moto exited before answering: {status}"));
        }
        if let Ok((status, _)) = http(addr, "GET", "/moto-api/config", "") {
            if (200..300).contains(&status) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("moto at {addr} did not answer within {START_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A minimal HTTP/1.1 exchange for moto's own API (the SDK does not speak it): returns status and body.
/// Serve HTTP/1.1 on a free loopback port on the current tokio runtime, each request answered by
/// `handle` (the loopback stand-ins' common loop). Returns the bound address.
pub async fn serve_loopback<H, F>(handle: H) -> SocketAddr
where
    H: Fn(hyper::Request<hyper::body::Incoming>) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = hyper::Response<http_body_util::Full<bytes::Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let reply = handle(req);
                    async move { Ok::<_, std::convert::Infallible>(reply.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

pub fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:.80}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// SDK configuration for the emulator: fixed test credentials, us-east-1, the emulator's endpoint.
pub async fn sdk_config() -> SdkConfig {
    let emulator = emulator();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(greenpipe::aws::https_client())
        .endpoint_url(&emulator.endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "greenpipe-tests",
        ))
        .load()
        .await
}

/// Clients for one test.
#[derive(Clone)]
pub struct Aws {
    pub sdk: SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sfn: aws_sdk_sfn::Client,
}

impl Aws {
    pub async fn new() -> Aws {
        let sdk = sdk_config().await;
        // Path-style URLs: `http://127.0.0.1:port/bucket/key` (no bucket subdomains on loopback).
        let s3_conf = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build();
        Aws {
            s3: aws_sdk_s3::Client::from_conf(s3_conf),
            sfn: aws_sdk_sfn::Client::new(&sdk),
            sdk,
        }
    }

    /// A new bucket with a unique name, versioned or not.
    pub async fn bucket(&self, versioned: bool) -> String {
        let name = unique_name("gp-test");
        self.s3
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("CreateBucket");
        if versioned {
            self.s3
                .put_bucket_versioning()
                .bucket(&name)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .expect("PutBucketVersioning");
        }
        name
    }

    /// PutObject; returns (version id, ETag without quotes).
    pub async fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) -> (Option<String>, String) {
        let out = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.into()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
        (
            out.version_id().map(str::to_string),
            out.e_tag().unwrap_or_default().trim_matches('"').to_string(),
        )
    }

    /// The object's bytes, or None when it does not exist.
    pub async fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        match self.s3.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => Some(out.body.collect().await.expect("body").into_bytes().to_vec()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
            Err(e) => panic!("GetObject {key}: {e:?}"),
        }
    }

    /// The object's tags as a map.
    pub async fn tags(&self, bucket: &str, key: &str) -> HashMap<String, String> {
        let out = self
            .s3
            .get_object_tagging()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetObjectTagging {key}: {e:?}"));
        out.tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    }

    /// Every key under `prefix`.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.expect("ListObjectsV2");
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        keys
    }

    /// A Standard state machine with a single Pass state (moto runs it and it succeeds at once).
    pub async fn state_machine(&self) -> String {
        self.state_machine_with(r#"{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}"#)
            .await
    }

    /// A Standard state machine with the given definition (ASL JSON).
    pub async fn state_machine_with(&self, definition: &str) -> String {
        self.sfn
            .create_state_machine()
            .name(unique_name("gp-pipeline"))
            .definition(definition)
            .role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/greenpipe-test"))
            .send()
            .await
            .expect("CreateStateMachine")
            .state_machine_arn()
            .to_string()
    }

    /// Wait until an execution leaves RUNNING (moto runs executions on a thread); returns its status.
    pub async fn wait_for_execution(&self, execution_arn: &str) -> aws_sdk_sfn::types::ExecutionStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self
                .sfn
                .describe_execution()
                .execution_arn(execution_arn)
                .send()
                .await
                .expect("Describe");
            if out.status() != &aws_sdk_sfn::types::ExecutionStatus::Running || Instant::now() > deadline {
                return out.status().clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// All executions of a state machine.
    pub async fn executions(&self, state_machine_arn: &str) -> Vec<aws_sdk_sfn::types::ExecutionListItem> {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .sfn
                .list_executions()
                .state_machine_arn(state_machine_arn)
                .set_next_token(token)
                .send()
                .await
                .expect("ListExecutions");
            all.extend(out.executions().iter().cloned());
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return all;
            }
        }
    }
}

/// A name unique across test processes and runs: `<prefix>-<pid>-<counter>-<time>`, lowercase, ≤ 63
/// characters (valid as an S3 bucket or Step Functions name).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut name = format!("{prefix}-{:x}-{n}-{nanos:x}", std::process::id());
    name.truncate(63);
    name
}

/// gzip-compress bytes (fixtures for compressed inputs).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// The repository root (for `events/`, `contracts/`, `samples/`).
///
/// The workspace above `CARGO_MANIFEST_DIR` as cargo and nextest set it when they run a test (of this or
/// any other workspace package), so that a test binary reused from a build in another checkout sharing the
/// target directory reads this checkout's files: cargo does not rebuild unchanged sources for a new path,
/// and the compile-time value names the old checkout.
pub fn repo_root() -> PathBuf {
    let built = || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return built();
    };
    Path::new(&dir)
        .ancestors()
        .find(|d| std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]")))
        .map_or_else(built, Path::to_path_buf)
}

/// A cleanup action's outcome as a short label for assertions: `dry-run`, `done`, `reported`,
/// `failed:<error_type>` or `skipped:<reason>`.
pub fn outcome_label(outcome: &greenpipe::stages::cleanup_idle::Outcome) -> String {
    use greenpipe::stages::cleanup_idle::Outcome;
    match outcome {
        Outcome::DryRun => "dry-run".to_string(),
        Outcome::Done => "done".to_string(),
        Outcome::Failed { error_type, .. } => format!("failed:{error_type}"),
        Outcome::Skipped { why, .. } => format!("skipped:{why:?}"),
        Outcome::Reported => "reported".to_string(),
        Outcome::Marked { .. } => "marked".to_string(),
        Outcome::WouldMark { .. } => "would-mark".to_string(),
    }
}

/// The sample events in `events/` and the function each is for: `<function>.json` is that function's
/// own input (the name is the rule; a new stage adds its file and nothing else), and any other file is
/// a further shape, listed in events/README.md's table (`| file | function | ... |`). A file that is
/// neither is an error, as is a listed file that is missing.
pub fn sample_events() -> Vec<(String, String)> {
    let dir = repo_root().join("events");
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("events/README.md");
    let listed: Vec<(String, String)> = readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(|c| c.trim().trim_matches('`')).collect();
            (cells.len() >= 3 && cells[1].ends_with(".json"))
                .then(|| (cells[1].to_string(), cells[2].to_string()))
        })
        .collect();
    let functions = workspace_functions();
    let mut out = Vec::new();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("events/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    for file in &files {
        let own = file
            .strip_suffix(".json")
            .filter(|stem| functions.contains(*stem));
        let function = match (own, listed.iter().find(|(f, _)| f == file)) {
            (Some(stem), Some((_, named))) if named != stem => {
                panic!("events/{file} is {stem}'s by its name, but events/README.md lists it for {named}")
            }
            (Some(stem), _) => stem.to_string(),
            (None, Some((_, named))) => named.clone(),
            (None, None) => {
                panic!("events/{file} is not named after a function and not listed in events/README.md")
            }
        };
        assert!(
            functions.contains(&function),
            "events/{file}: no function {function} in functions/"
        );
        out.push((file.clone(), function));
    }
    for (file, _) in &listed {
        assert!(
            files.contains(file),
            "events/README.md lists {file}, which is not in events/"
        );
    }
    out
}

/// The workspace's Lambda functions: every folder of `functions/` with a Cargo.toml.
pub fn workspace_functions() -> std::collections::BTreeSet<String> {
    std::fs::read_dir(repo_root().join("functions"))
        .expect("functions/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}
