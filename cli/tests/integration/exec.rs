//! `greenpipe exec`: the built binary run on definitions from `examples/workflows/` and on small ones
//! written by each test. Lambda tasks go to a loopback server speaking the Lambda Invoke API, or to the
//! real validate-dataset handler in-process against moto's S3.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use greenpipe_tests::{emulator, Aws, REGION};
use serde_json::{json, Value};

use crate::common::{describe, root, stdout_json};

/// However long a run may take here (none should take more than seconds): a hung run fails its test.
const DEADLINE: Duration = Duration::from_secs(120);

/// Run `greenpipe exec` with nothing from the user's AWS setup. `endpoint` is the AWS endpoint the
/// binary sees; by default a closed loopback port, so that a stray AWS call fails instead of leaving
/// the machine. The run is killed (and the test fails) after [`DEADLINE`].
fn exec_with(args: &[&str], endpoint: Option<&str>) -> Output {
    let isolated = root().join("cli/tests/no-such-aws-file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_greenpipe"))
        .arg("exec")
        .args(args)
        .current_dir(root())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", &isolated)
        .env("AWS_SHARED_CREDENTIALS_FILE", &isolated)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", endpoint.unwrap_or("http://127.0.0.1:9"))
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("GREENPIPE_S3_FORCE_PATH_STYLE", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the greenpipe binary");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("greenpipe exec {args:?} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn exec(args: &[&str]) -> Output {
    exec_with(args, None)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Write a file into `dir`; returns its path as a string.
fn file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path.display().to_string()
}

fn definition(dir: &Path, def: &Value) -> String {
    file(dir, "definition.asl.json", &def.to_string())
}

const SUMMARY: &str = "examples/workflows/hourly-summary.asl.json";
const SUMMARY_INPUT: &str = "@examples/workflows/hourly-summary.input.json";
const VALIDATE_AND_NOTIFY: &str = "examples/workflows/validate-and-notify.asl.json";

fn parse_time(text: &str) -> SystemTime {
    // `YYYY-MM-DDTHH:MM:SS.mmmZ`, as the executor writes it: days since the epoch by civil-from-days.
    let n = |r: std::ops::Range<usize>| -> i64 { text[r].parse().expect("timestamp digits") };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let millis = (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) * 1000 + n(20..23);
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).expect("after 1970"))
}

#[test]
fn success_prints_the_output_and_input_comes_from_a_file() {
    let out = exec(&[SUMMARY, "--input", SUMMARY_INPUT, "--fast"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let output = stdout_json(&out);
    assert_eq!(output["orders"], 3);
    assert_eq!(output["large"], json!(["o-1", "o-3"]));
    assert_eq!(output["countries"], json!(["US", "FR"]));
    assert_eq!(output["summary"], "3 orders, 2 countries");
    assert!(stderr(&out).is_empty(), "{}", describe(&out));

    // The same input inline.
    let inline =
        std::fs::read_to_string(root().join("examples/workflows/hourly-summary.input.json")).unwrap();
    let again = exec(&[SUMMARY, "--input", &inline, "--fast"]);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    assert_eq!(stdout_json(&again)["large"], output["large"]);
}

#[test]
fn fast_skips_a_one_hour_wait_but_moves_the_clock() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.json");
    let out = exec(&[
        SUMMARY,
        "--input",
        SUMMARY_INPUT,
        "--fast",
        "--history-file",
        history.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    // The execution's own clock went through the hour: the state after the Wait was entered ≥ 3600 s
    // after the execution started.
    let events: Value = serde_json::from_slice(&std::fs::read(&history).unwrap()).unwrap();
    let start = parse_time(events["events"][0]["timestamp"].as_str().unwrap());
    let closed = parse_time(stdout_json(&out)["windowClosedAt"].as_str().unwrap());
    let waited = closed.duration_since(start).unwrap();
    assert!(waited >= Duration::from_secs(3600), "waited {waited:?}");
    assert!(
        stderr(&out).is_empty(),
        "history went to the file: {}",
        describe(&out)
    );
}

#[test]
fn waits_are_real_without_fast() {
    let dir = tempfile::tempdir().unwrap();
    let def = definition(
        dir.path(),
        &json!({"StartAt": "Nap", "States": {
            "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
            "Done": {"Type": "Succeed"}}}),
    );
    let started = Instant::now();
    let out = exec(&[&def, "--input", r#"{"a": 1}"#]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(stdout_json(&out), json!({"a": 1}));
}

#[test]
fn a_failed_execution_prints_error_and_cause_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let def = definition(
        dir.path(),
        &json!({"StartAt": "Check", "States": {
            "Check": {"Type": "Choice",
                      "Choices": [{"Variable": "$.rows", "NumericGreaterThan": 0, "Next": "Ok"}],
                      "Default": "Empty"},
            "Ok": {"Type": "Succeed"},
            "Empty": {"Type": "Fail", "Error": "EmptyDataset", "CausePath": "States.Format('{} has no rows', $.key)"}}}),
    );
    let out = exec(&[&def, "--input", r#"{"rows": 0, "key": "in/x.csv"}"#]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        stdout_json(&out),
        json!({"error": "EmptyDataset", "cause": "in/x.csv has no rows"})
    );

    let out = exec(&[&def, "--input", r#"{"rows": 5, "key": "in/x.csv"}"#]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // A Fail state without Error or Cause.
    let def = definition(
        dir.path(),
        &json!({"StartAt": "F", "States": {"F": {"Type": "Fail"}}}),
    );
    let out = exec(&[&def]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(stdout_json(&out), json!({"error": null, "cause": null}));
}

#[test]
fn definitions_that_do_not_load_exit_2_naming_state_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 4] = [
        (
            r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true,}}}"#,
            &["not valid JSON"],
        ),
        (
            r#"{"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": true}}}"#,
            &["state 'A', field 'Type'", "Teleport"],
        ),
        (
            r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}"#,
            &["state 'A', field 'Next'", "Nowhere"],
        ),
        (
            r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                "B": {"Type": "Wait", "Seconds": 1, "Colour": "red", "End": true}}}"#,
            &["state 'B', field 'Colour'"],
        ),
    ];
    for (text, wanted) in cases {
        let def = file(dir.path(), "bad.asl.json", text);
        let out = exec(&[&def]);
        assert_eq!(out.status.code(), Some(2), "{text}\n{}", describe(&out));
        assert!(out.stdout.is_empty(), "{}", describe(&out));
        let err = stderr(&out);
        assert!(err.contains("bad.asl.json does not load"), "{err}");
        for w in wanted {
            assert!(err.contains(w), "{text}: stderr lacks {w:?}: {err}");
        }
    }

    // Every problem is listed, not only the first.
    let def = file(
        dir.path(),
        "two.asl.json",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "Z"}}}"#,
    );
    let err = stderr(&exec(&[&def]));
    assert!(
        err.contains("state 'A', field 'Assign'") && err.contains("state 'A', field 'Next'"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let def = definition(
        dir.path(),
        &json!({"StartAt": "Call", "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "Next": "Publish"},
            "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                        "Parameters": {"TopicArn": "${Topic}", "Message.$": "$"}, "End": true}}}),
    );
    let result = file(dir.path(), "result.json", r#"{"MessageId": "m-1"}"#);
    // The definition with its substitution and the given options.
    let with = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            def.clone(),
            "--sub".into(),
            "Topic=arn:aws:sns:us-east-1:123456789012:t".into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let publish = format!("Publish={result}");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["no/such/definition.json".into()], "no/such/definition.json"),
        (with(&["--input", "{not json"]), "--input: not JSON"),
        (with(&["--input", "@/no/such/input.json"]), "/no/such/input.json"),
        (with(&["--context", "[1]"]), "--context must be a JSON object"),
        // The SNS task is neither a Lambda function nor overridden.
        (
            with(&[]),
            "state 'Publish': resource arn:aws:states:::sns:publish is not supported",
        ),
        (
            with(&["--task", &format!("Typo={result}")]),
            "no Task state named 'Typo' (Task states: Call, Publish)",
        ),
        (
            with(&["--task", &publish, "--task", &publish]),
            "given more than once",
        ),
        (
            with(&["--task", &publish, "--lambda", "f=127.0.0.1:9000"]),
            "must be an http:// or https:// URL",
        ),
        (
            vec![def.clone(), "--task".into(), publish.clone()],
            "no value for the definition substitution '${Topic}'",
        ),
        (
            vec![def.clone(), "--sub".into(), "Other=x".into()],
            "no value for the definition substitution '${Topic}'",
        ),
        (with(&["--lambda", "no-equals-sign"]), "expected KEY=VALUE"),
    ];
    for (args, wanted) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = exec(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", describe(&out));
        assert!(out.stdout.is_empty(), "{args:?}\n{}", describe(&out));
        assert!(
            stderr(&out).contains(wanted),
            "{args:?}: stderr lacks {wanted:?}\n{}",
            describe(&out)
        );
    }
}

#[test]
fn history_is_step_functions_shaped() {
    let dir = tempfile::tempdir().unwrap();
    let def = definition(
        dir.path(),
        &json!({"StartAt": "Greet", "States": {
            "Greet": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.name)"},
                      "Next": "Fan"},
            "Fan": {"Type": "Parallel", "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": true}}},
                {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "Result": 2, "End": true}}}],
                "End": true}}}),
    );
    let out = exec(&[&def, "--input", r#"{"name": "Ada"}"#, "--history"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(stdout_json(&out), json!([{"greeting": "hello Ada"}, 2]));
    let history: Value = serde_json::from_str(&stderr(&out))
        .unwrap_or_else(|e| panic!("stderr is not the history JSON ({e}): {}", describe(&out)));
    let events = history["events"].as_array().expect("events");
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"), "{types:?}");
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"), "{types:?}");
    for t in [
        "PassStateEntered",
        "PassStateExited",
        "ParallelStateEntered",
        "ParallelStateExited",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["id"], json!(i + 1), "ids count up from 1: {e}");
        let previous = e["previousEventId"].as_u64().unwrap();
        assert!(previous < e["id"].as_u64().unwrap(), "{e}");
        assert!(e["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    }
    assert_eq!(
        events[0]["executionStartedEventDetails"]["input"],
        r#"{"name":"Ada"}"#
    );
    let entered = events
        .iter()
        .find(|e| e["type"] == "PassStateEntered")
        .expect("PassStateEntered");
    assert_eq!(entered["stateEnteredEventDetails"]["name"], "Greet");

    // --history-file: the same shape in the file, nothing on stderr.
    let path = dir.path().join("h.json");
    let out = exec(&[
        &def,
        "--input",
        r#"{"name": "Ada"}"#,
        "--history-file",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let from_file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(from_file["events"].as_array().map(Vec::len), Some(events.len()));
}

#[test]
fn task_overrides_replace_results_without_calling_anything() {
    let dir = tempfile::tempdir().unwrap();
    // Both functions exist nowhere: the AWS endpoint the binary sees is a closed port.
    let def = definition(
        dir.path(),
        &json!({"StartAt": "Train", "States": {
            "Train": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": "train", "Payload.$": "$"},
                      "ResultSelector": {"model.$": "$.Payload.model"},
                      "ResultPath": "$.training", "Next": "Fan"},
            "Fan": {"Type": "Parallel", "Branches": [
                {"StartAt": "Score", "States": {"Score": {"Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:score", "End": true}}}],
                "ResultPath": "$.scores", "End": true}}}),
    );
    let train = file(
        dir.path(),
        "train.json",
        r#"{"Payload": {"model": "m-7"}, "StatusCode": 200}"#,
    );
    let score = file(dir.path(), "score.json", r#"{"auc": 0.91}"#);
    let out = exec(&[
        &def,
        "--input",
        r#"{"data": "s3://b/k"}"#,
        "--task",
        &format!("Train={train}"),
        "--task",
        &format!("Score={score}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        stdout_json(&out),
        json!({"data": "s3://b/k", "training": {"model": "m-7"}, "scores": [{"auc": 0.91}]})
    );

    // Without the override, Score is invoked for real and fails on the closed endpoint with Step
    // Functions' name for a client-side failure.
    let out = exec(&[&def, "--task", &format!("Train={train}")]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        stdout_json(&out)["error"],
        "Lambda.SdkClientException",
        "{}",
        describe(&out)
    );
}

#[test]
fn context_and_substitutions_reach_the_definition() {
    let dir = tempfile::tempdir().unwrap();
    let def = definition(
        dir.path(),
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
            "Parameters": {"bucket": "${Bucket}", "run.$": "$$.Custom.run", "state.$": "$$.State.Name",
                           "execution.$": "$$.Execution.Name"},
            "End": true}}}),
    );
    let out = exec(&[
        &def,
        "--sub",
        "Bucket=my-bucket",
        "--context",
        r#"{"Custom": {"run": 42}, "Execution": {"Name": "nightly"}}"#,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        stdout_json(&out),
        json!({"bucket": "my-bucket", "run": 42, "state": "P", "execution": "nightly"})
    );
}

/// What the loopback Lambda endpoint answers.
enum Reply {
    Result(Value),
    /// A function error, as Lambda reports it: HTTP 200 with `X-Amz-Function-Error`.
    FunctionError(Value),
    /// A function error as `cargo lambda watch` (1.9) reports it: HTTP 500, the error object as the body.
    WatchError(Value),
    /// A Lambda service error: HTTP status and error code (`x-amzn-ErrorType`).
    ServiceError(u16, &'static str),
}

/// A loopback server speaking the Lambda Invoke API (`POST /2015-03-31/functions/NAME/invocations`),
/// recording each request's path and JSON body.
struct LambdaServer {
    url: String,
    requests: Arc<Mutex<Vec<(String, Value)>>>,
}

impl LambdaServer {
    fn start(reply: impl Fn(&str, &Value) -> Reply + Send + 'static) -> LambdaServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some((path, body)) = serve(stream, &reply) {
                    seen.lock().unwrap().push((path, body));
                }
            }
        });
        LambdaServer { url, requests }
    }

    fn requests(&self) -> Vec<(String, Value)> {
        self.requests.lock().unwrap().clone()
    }
}

/// One HTTP/1.1 exchange (the connection is closed after the response).
fn serve(stream: TcpStream, reply: &impl Fn(&str, &Value) -> Reply) -> Option<(String, Value)> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = target.split('?').next().unwrap_or_default().to_string();
    let (status, extra, text) = if method != "POST" {
        (405, String::new(), String::new())
    } else {
        match reply(&path, &body) {
            Reply::Result(v) => (200, String::new(), v.to_string()),
            Reply::FunctionError(v) => (
                200,
                "X-Amz-Function-Error: Unhandled\r\n".to_string(),
                v.to_string(),
            ),
            Reply::WatchError(v) => (500, String::new(), v.to_string()),
            Reply::ServiceError(status, code) => (
                status,
                format!("x-amzn-ErrorType: {code}\r\n"),
                json!({"Type": "User", "message": format!("{code} for {path}")}).to_string(),
            ),
        }
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nX-Amz-Executed-Version: $LATEST\r\n\
         x-amzn-RequestId: local-request\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )
    .ok()?;
    stream.flush().ok()?;
    Some((path, body))
}

#[test]
fn lambda_endpoints_get_the_payload_and_their_answers_flow_back() {
    let server = LambdaServer::start(|path, body| {
        if body["fail"] == true {
            return Reply::FunctionError(
                json!({"errorType": "NotifyRefused", "errorMessage": "quiet hours"}),
            );
        }
        Reply::Result(json!({"path": path, "got": body}))
    });
    let dir = tempfile::tempdir().unwrap();
    let def = definition(
        dir.path(),
        &json!({"StartAt": "Direct", "States": {
            "Direct": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:notify",
                       "Parameters": {"who.$": "$.who"}, "ResultPath": "$.direct", "Next": "Integration"},
            "Integration": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "notify", "Payload": {"n": 2, "fail.$": "$.fail"}},
                            "ResultPath": "$.integration",
                            "Catch": [{"ErrorEquals": ["NotifyRefused"], "ResultPath": "$.caught", "Next": "Caught"}],
                            "End": true},
            "Caught": {"Type": "Pass", "End": true}}}),
    );
    let endpoint = format!("notify={}", server.url);
    let out = exec(&[
        &def,
        "--input",
        r#"{"who": "ops", "fail": false}"#,
        "--lambda",
        &endpoint,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let output = stdout_json(&out);
    let path = "/2015-03-31/functions/notify/invocations";
    // A function ARN as Resource: the result is the function's answer.
    assert_eq!(output["direct"], json!({"path": path, "got": {"who": "ops"}}));
    // The optimized integration: the Invoke response, with the payload parsed.
    let integration = &output["integration"];
    assert_eq!(
        integration["Payload"],
        json!({"path": path, "got": {"n": 2, "fail": false}})
    );
    assert_eq!(integration["StatusCode"], 200);
    assert_eq!(integration["ExecutedVersion"], "$LATEST");
    assert_eq!(
        server.requests(),
        vec![
            (path.to_string(), json!({"who": "ops"})),
            (path.to_string(), json!({"n": 2, "fail": false}))
        ]
    );

    // A function error fails the task with the function's errorType as the error name; Catch sees it.
    let out = exec(&[
        &def,
        "--input",
        r#"{"who": "ops", "fail": true}"#,
        "--lambda",
        &endpoint,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let caught = &stdout_json(&out)["caught"];
    assert_eq!(caught["Error"], "NotifyRefused", "{caught}");
    let cause: Value = serde_json::from_str(caught["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "quiet hours");
}

#[test]
fn lambda_service_errors_are_named_as_step_functions_names_them() {
    let server = LambdaServer::start(|_, _| Reply::ServiceError(404, "ResourceNotFoundException"));
    let dir = tempfile::tempdir().unwrap();
    let def = definition(
        dir.path(),
        &json!({"StartAt": "Call", "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:gone",
                     "Catch": [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "Next": "Missing"}],
                     "End": true},
            "Missing": {"Type": "Pass", "End": true}}}),
    );
    let out = exec(&[&def, "--lambda", &format!("gone={}", server.url)]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let caught = stdout_json(&out);
    assert_eq!(caught["Error"], "Lambda.ResourceNotFoundException", "{caught}");
    assert!(
        caught["Cause"].as_str().is_some_and(|c| c.contains("gone")),
        "{caught}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn retry_intervals_are_real_unless_fast() {
    let dir = tempfile::tempdir().unwrap();
    let def = definition(
        dir.path(),
        &json!({"StartAt": "Flaky", "States": {
            "Flaky": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
                      "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 2, "MaxAttempts": 1}],
                      "End": true}}}),
    );
    for fast in [false, true] {
        let calls = Arc::new(Mutex::new(0));
        let counter = calls.clone();
        let server = LambdaServer::start(move |_, _| {
            let mut n = counter.lock().unwrap();
            *n += 1;
            if *n == 1 {
                Reply::WatchError(json!({"errorType": "Transient", "errorMessage": "try again"}))
            } else {
                Reply::Result(json!({"attempt": *n}))
            }
        });
        let endpoint = format!("flaky={}", server.url);
        let mut args = vec![def.as_str(), "--lambda", &endpoint];
        if fast {
            args.push("--fast");
        }
        let started = Instant::now();
        let out = exec(&args);
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert_eq!(stdout_json(&out), json!({"attempt": 2}));
        assert_eq!(*calls.lock().unwrap(), 2, "one call and one retry");
        if fast {
            assert!(took < Duration::from_secs(2), "--fast retried after {took:?}");
        } else {
            assert!(took >= Duration::from_secs(2), "retried after only {took:?}");
        }
    }
}

/// The README's example end to end: validate-dataset runs in-process against moto's S3 and the user's
/// `notify` function is a loopback Lambda endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_dataset_runs_in_process_against_s3() {
    let aws = Aws::new().await;
    let bucket = aws.bucket(true).await;
    let contract = std::fs::read(root().join("contracts/sales.yaml")).unwrap();
    aws.put(&bucket, "contracts/incoming/sales.yaml", contract).await;
    aws.put(
        &bucket,
        "incoming/sales/good.csv",
        std::fs::read(root().join("samples/sales.csv")).unwrap(),
    )
    .await;
    aws.put(
        &bucket,
        "incoming/sales/bad.csv",
        std::fs::read(root().join("samples/sales-invalid.csv")).unwrap(),
    )
    .await;
    aws.put(&bucket, "elsewhere/no-contract.csv", b"a,b\n1,2\n".to_vec())
        .await;

    let server = LambdaServer::start(|_, body| Reply::Result(json!({"notified": body["dataset"]})));
    let notify = format!("notify={}", server.url);
    let endpoint = emulator().endpoint.clone();
    let run = |key: &str| {
        let input = json!({"bucket": bucket, "key": key}).to_string();
        exec_with(
            &[
                VALIDATE_AND_NOTIFY,
                "--input",
                &input,
                "--sub",
                "NotifyFunctionArn=arn:aws:lambda:us-east-1:123456789012:function:notify",
                "--lambda",
                &notify,
                "--fast",
            ],
            Some(&endpoint),
        )
    };

    // The binary runs synchronously here (it is a child process; nothing on this runtime needs to progress
    // meanwhile).
    // Valid data: validated (report written to S3), then handed to notify.
    let out = run("incoming/sales/good.csv");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let output = stdout_json(&out);
    let outcome = &output["validation"]["outcome"];
    assert_eq!(outcome["status"], "valid", "{output}");
    assert_eq!(outcome["rows"], 200);
    let report_key = outcome["reportKey"].as_str().expect("reportKey").to_string();
    let report: Value =
        serde_json::from_slice(&aws.get(&bucket, &report_key).await.expect("report in S3")).unwrap();
    assert_eq!(report["valid"], true);
    let dataset = format!("s3://{bucket}/incoming/sales/good.csv");
    assert_eq!(output["notified"], json!({"notified": dataset}));
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].1,
        json!({"dataset": dataset, "rows": 200, "report": report_key})
    );

    // Invalid data: the Choice sends it to the Fail state; the object is quarantined; notify is not called.
    let out = run("incoming/sales/bad.csv");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let failed = stdout_json(&out);
    assert_eq!(failed["error"], "DatasetInvalid", "{failed}");
    assert!(
        failed["cause"].as_str().is_some_and(|c| !c.is_empty()),
        "{failed}"
    );
    let quarantined = aws
        .keys(&bucket, "greenpipe/quarantine/incoming/sales/bad.csv/")
        .await;
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert!(quarantined[0].ends_with("/bad.csv"), "{quarantined:?}");
    assert_eq!(server.requests().len(), 1);

    // No contract: the handler's ContractNotFound error is caught by name.
    let out = run("elsewhere/no-contract.csv");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let failed = stdout_json(&out);
    assert_eq!(failed["error"], "NoContract", "{failed}");
    let cause: Value = serde_json::from_str(failed["cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorType"], "ContractNotFound", "{cause}");
}
