//! The notebook lifecycle configuration in `infra/template.yaml` (`NotebookActivityLifecycleConfig`): its
//! activity recorder, taken from the template as deployed, run against a stand-in Jupyter server (the
//! `/api/kernels` and `/api/terminals` answers a notebook instance's server gives) with a stand-in `aws`
//! command that records the call. The tag it writes is the one cleanup-idle reads
//! (`greenpipe:last-activity`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use greenpipe::stages::cleanup_idle::listing::activity_time;
use greenpipe_tests::repo_root;
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

/// A Jupyter server that answers `kernels` and `terminals` (JSON), one connection at a time.
fn jupyter(kernels: &'static str, terminals: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            reader.read_line(&mut line).unwrap();
            // Drain the headers.
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let body = if line.contains("/api/kernels") {
                kernels
            } else if line.contains("/api/terminals") {
                terminals
            } else {
                "{}"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.read(&mut [0u8; 0]);
        }
    });
    url
}

/// Run the recorder with `args`; returns its exit status and the `aws` calls it made.
fn record(kernels: &'static str, terminals: &'static str, args: &[&str]) -> (bool, String, Vec<String>) {
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
        .env("GREENPIPE_JUPYTER_URL", jupyter(kernels, terminals))
        .env("GREENPIPE_RESOURCE_METADATA", &metadata)
        // Not through PATH: a pyenv shim puts its own bin (which may hold a real aws) first.
        .env("GREENPIPE_AWS_CLI", bin.join("aws"))
        .output()
        .expect("python3");
    let calls = std::fs::read_to_string(&calls).unwrap_or_default();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        calls.lines().map(str::to_string).collect(),
    )
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const TAG_CALL: &str =
    "sagemaker add-tags --resource-arn arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/nb --tags";

#[test]
fn the_latest_kernel_or_terminal_activity_is_recorded() {
    let (ok, err, calls) = record(
        r#"[{"id": "k1", "execution_state": "idle", "last_activity": "2026-12-07T10:00:00.123456Z"},
            {"id": "k2", "execution_state": "idle", "last_activity": "2026-12-07T11:30:05.000001Z"}]"#,
        r#"[{"name": "1", "last_activity": "2026-12-07T11:00:00Z"}]"#,
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(
        calls,
        [format!(
            "{TAG_CALL} Key=greenpipe:last-activity,Value=2026-12-07T11:30:05Z"
        )]
    );
    assert_eq!(activity_time("2026-12-07T11:30:05Z"), Some(1_796_643_005));
    // A terminal used after the last kernel counts too.
    let (ok, err, calls) = record(
        r#"[{"id": "k1", "execution_state": "idle", "last_activity": "2026-12-07T10:00:00Z"}]"#,
        r#"[{"name": "1", "last_activity": "2026-12-07T12:15:00+00:00"}]"#,
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(
        calls,
        [format!(
            "{TAG_CALL} Key=greenpipe:last-activity,Value=2026-12-07T12:15:00Z"
        )]
    );
}

#[test]
fn a_busy_kernel_or_a_start_is_activity_now_and_nothing_open_changes_nothing() {
    let before = now_secs();
    for (kernels, args) in [
        (
            r#"[{"id": "k1", "execution_state": "busy", "last_activity": "2026-01-01T00:00:00Z"}]"#,
            &[][..],
        ),
        ("[]", &["--started"][..]),
    ] {
        let (ok, err, calls) = record(kernels, "[]", args);
        assert!(ok, "{err}");
        assert_eq!(calls.len(), 1, "{calls:?}");
        let value = calls[0].rsplit("Value=").next().unwrap();
        // As cleanup-idle reads it.
        let at = activity_time(value).unwrap_or_else(|| panic!("{value}"));
        assert!(at >= before - 1 && at <= now_secs() + 1, "{value}");
    }
    // Nothing open: the tag keeps the last activity it has (the start, at least).
    let (ok, err, calls) = record("[]", "[]", &[]);
    assert!(ok, "{err}");
    assert!(calls.is_empty(), "{calls:?}");
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
