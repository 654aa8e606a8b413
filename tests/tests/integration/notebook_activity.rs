//! The notebook lifecycle configuration in `infra/template.yaml` (`NotebookActivityLifecycleConfig`): its
//! activity recorder, taken from the template as deployed, run against a real Jupyter server
//! (`jupyter_server` and `ipykernel` from PyPI, in `.tools/jupyter`: `scripts/setup-tools.sh`) whose
//! kernels and terminals this test opens, keeps busy and closes, with a stand-in `aws` command that
//! records the call. The tag it writes is read back with cleanup-idle's own parser
//! (`greenpipe:last-activity`, `activity_time`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use greenpipe::stages::cleanup_idle::listing::activity_time;
use greenpipe_tests::repo_root;
use serde_json::Value as Json;
use serde_yaml::Value;

/// The lifecycle configuration's on-start script, as CloudFormation would decode it.
fn on_start() -> String {
    let text = std::fs::read_to_string(repo_root().join("infra/template.yaml")).unwrap();
    // The template's short-form tags (!Sub, !Ref) are not plain YAML: read them as tagged values.
    let t: Value = serde_yaml::from_str(&text).unwrap();
    let config = &t["Resources"]["NotebookActivityLifecycleConfig"];
    assert_eq!(config["Type"], "AWS::SageMaker::NotebookInstanceLifecycleConfig");
    config["Properties"]["OnStart"][0]["Content"]["Fn::Base64"]
        .as_str()
        .expect("OnStart content")
        .to_string()
}

/// The recorder the script installs (its `<<'PY'` here-document).
fn recorder() -> String {
    let script = on_start();
    let start = script.find("<<'PY'\n").expect("here-document") + "<<'PY'\n".len();
    let end = script[start..].find("\nPY\n").expect("its end") + start;
    script[start..end].to_string() + "\n"
}

fn jupyter_bin() -> PathBuf {
    let dir = repo_root().join(".tools/jupyter/bin");
    assert!(
        dir.join("jupyter-server").is_file(),
        "{} missing: run `bash scripts/setup-tools.sh` (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// A Jupyter server as a notebook instance runs one: no token (on an instance, SageMaker's proxy
/// authenticates), on plain HTTP here instead of the instance's self-signed HTTPS. Its XSRF check is off
/// so this test can open kernels and terminals with plain POSTs; the recorder only reads.
struct Jupyter {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Jupyter {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(jupyter_bin().join("jupyter-server"))
            .args([
                "--no-browser",
                "--allow-root",
                "--ip=127.0.0.1",
                &format!("--port={port}"),
                "--port-retries=0",
                "--IdentityProvider.token=",
                "--ServerApp.disable_check_xsrf=True",
            ])
            .arg(format!("--ServerApp.root_dir={}", dir.path().display()))
            // Its runtime files (kernel connection files among them) and settings stay in this test.
            .env("JUPYTER_RUNTIME_DIR", dir.path().join("runtime"))
            .env("JUPYTER_CONFIG_DIR", dir.path().join("config"))
            .env("JUPYTER_DATA_DIR", dir.path().join("data"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("jupyter-server");
        let server = Jupyter { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.try_call("GET", "/api/kernels").is_none() {
            assert!(
                Instant::now() < deadline,
                "jupyter-server did not answer: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn try_call(&self, method: &str, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        let body = if method == "POST" { "{}" } else { "" };
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        let status = answer.split(' ').nth(1)?.parse().ok()?;
        let (_, body) = answer.split_once("\r\n\r\n")?;
        Some((status, body.to_string()))
    }

    fn call(&self, method: &str, path: &str) -> Json {
        let (status, body) = self
            .try_call(method, path)
            .unwrap_or_else(|| panic!("{method} {path}: no answer"));
        assert!((200..300).contains(&status), "{method} {path}: {status} {body}");
        if body.is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&body).unwrap()
        }
    }

    /// The latest `last_activity` of the server's kernels and terminals, in epoch seconds.
    fn latest_activity(&self) -> Option<i64> {
        ["/api/kernels", "/api/terminals"]
            .iter()
            .flat_map(|p| self.call("GET", p).as_array().cloned().unwrap_or_default())
            .filter_map(|k| activity_time(k["last_activity"].as_str()?))
            .max()
    }

    fn execution_state(&self, kernel: &str) -> String {
        self.call("GET", &format!("/api/kernels/{kernel}"))["execution_state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Jupyter {
    fn drop(&mut self) {
        // SIGTERM: the server shuts its kernels down before it exits.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run the recorder against `jupyter` with `args`; returns the `aws` calls it made.
fn record(jupyter: &str, args: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = dir.path().join("calls");
    write_exec(
        &bin.join("aws"),
        &format!("#!/bin/sh\necho \"$@\" >> {}\n", calls.display()),
    );
    let script = dir.path().join("record-activity.py");
    std::fs::write(&script, recorder()).unwrap();
    let metadata = dir.path().join("resource-metadata.json");
    std::fs::write(
        &metadata,
        r#"{"ResourceArn": "arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/nb", "ResourceName": "nb"}"#,
    )
    .unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .env("GREENPIPE_JUPYTER_URL", jupyter)
        .env("GREENPIPE_RESOURCE_METADATA", &metadata)
        // Not through PATH: a pyenv shim puts its own bin (which may hold a real aws) first.
        .env("GREENPIPE_AWS_CLI", bin.join("aws"))
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "recorder failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = std::fs::read_to_string(&calls).unwrap_or_default();
    calls.lines().map(str::to_string).collect()
}

/// The one tag value a recorder run wrote, as cleanup-idle reads it.
fn tagged(calls: &[String]) -> i64 {
    assert_eq!(calls.len(), 1, "{calls:?}");
    let value = calls[0]
        .strip_prefix(&format!("{TAG_CALL} Key=greenpipe:last-activity,Value="))
        .unwrap_or_else(|| panic!("{}", calls[0]));
    activity_time(value).unwrap_or_else(|| panic!("{value}"))
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const TAG_CALL: &str =
    "sagemaker add-tags --resource-arn arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/nb --tags";

#[test]
fn a_real_jupyter_servers_kernels_and_terminals_are_what_is_recorded() {
    let server = Jupyter::start();
    let url = server.url();

    // Nothing open: nothing to record (the tag keeps what the start wrote).
    assert_eq!(record(&url, &[]), Vec::<String>::new());

    // A kernel started: its last activity is recorded (read around the run: a starting kernel's
    // activity may move while the recorder reads it).
    let kernel = server.call("POST", "/api/kernels")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = server.latest_activity().unwrap();
    let at = tagged(&record(&url, &[]));
    let after = server.latest_activity().unwrap();
    assert!(before <= at && at <= after, "{before} <= {at} <= {after}");

    // A terminal opened later: its activity is the latest.
    std::thread::sleep(Duration::from_millis(1100));
    let terminal = server.call("POST", "/api/terminals")["name"]
        .as_str()
        .unwrap()
        .to_string();
    let opened = server.latest_activity().unwrap();
    assert!(opened > at, "{opened} > {at}");
    let at = tagged(&record(&url, &[]));
    assert!(at >= opened && at <= server.latest_activity().unwrap(), "{at}");

    // A busy kernel (a cell still running, as another client asked) is activity now, whatever its
    // last message time.
    run_cell(&server, &kernel, "import time; time.sleep(60)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.execution_state(&kernel) != "busy" {
        assert!(
            Instant::now() < deadline,
            "the kernel never became busy: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Its last message (going busy) ages; a busy kernel is still activity now.
    std::thread::sleep(Duration::from_millis(2100));
    let now = now_secs();
    assert!(server.latest_activity().unwrap() < now);
    let at = tagged(&record(&url, &[]));
    assert!(at >= now && at <= now_secs(), "{at} vs {now}");
    server.call("POST", &format!("/api/kernels/{kernel}/interrupt"));

    // Kernel and terminal closed: nothing open, nothing recorded; the tag keeps the last activity.
    server.call("DELETE", &format!("/api/kernels/{kernel}"));
    server.call("DELETE", &format!("/api/terminals/{terminal}"));
    assert_eq!(server.call("GET", "/api/kernels"), serde_json::json!([]));
    assert_eq!(record(&url, &[]), Vec::<String>::new());

    // The instance starting is activity now.
    let now = now_secs();
    let at = tagged(&record(&url, &["--started"]));
    assert!(at >= now && at <= now_secs(), "{at} vs {now}");
}

/// Send `code` to the server's kernel as a second client would (jupyter_client, through the kernel's
/// connection file), without waiting for it to finish.
fn run_cell(server: &Jupyter, kernel: &str, code: &str) {
    let connection = server.dir.path().join(format!("runtime/kernel-{kernel}.json"));
    let status = Command::new(jupyter_bin().join("python"))
        .args([
            "-c",
            "import sys, jupyter_client\n\
             c = jupyter_client.BlockingKernelClient(connection_file=sys.argv[1])\n\
             c.load_connection_file(); c.start_channels(); c.wait_for_ready(timeout=60)\n\
             c.execute(sys.argv[2])\n\
             import time; time.sleep(0.5); c.stop_channels()\n",
        ])
        .arg(&connection)
        .arg(code)
        .status()
        .expect("python");
    assert!(status.success(), "run_cell");
}

#[test]
fn the_on_start_script_installs_the_recorder_and_its_schedule() {
    let script = on_start();
    let status = Command::new("bash")
        .args(["-n", "-c", &script])
        .status()
        .expect("bash");
    assert!(status.success(), "bash -n");
    for needed in [
        "cat > /usr/local/bin/greenpipe-record-activity <<'PY'",
        "*/5 * * * * root /usr/local/bin/greenpipe-record-activity",
        "/usr/local/bin/greenpipe-record-activity --started",
    ] {
        assert!(script.contains(needed), "{needed}");
    }
    // CloudFormation's limit for one lifecycle script.
    assert!(script.len() < 16 * 1024, "{} bytes", script.len());
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
