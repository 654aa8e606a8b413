//! As deployed: `greenpipe run|cleanup --as-deployed`, as a user runs them, on a
//! moto server of the test's own that enforces IAM. Each stage runs under credentials of its own role,
//! built from infra/template.yaml's policies, with its environment from the template; nothing else may
//! touch the emulator while enforcement is on, hence the private server.
//!
//! Shown here: the whole pipeline (train, then skip on unchanged data, then warm start on new data), the
//! quarantine of invalid data (single and multipart copy), cleanup in dry run, acting, and the restore of
//! the endpoint it deleted, all with no AccessDenied; and the same runs failing, naming stage, call and
//! resource, when the template lacks one permission the code needs (S3, SageMaker).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::types::{
    ContainerDefinition, FeatureType, ProductionVariant, ProductionVariantInstanceType, Tag,
};
use greenpipe_tests::cloudwatch::CloudWatch;
use greenpipe_tests::featurestore::{create_feature_group, Faults, FeatureStore};
use greenpipe_tests::{private_emulator, repo_root, REGION};
use serde_json::Value;

use crate::common::{describe, stdout_json};

const GROUP: &str = "greenpipe-orders";
const ROWS: usize = 12;

const CONTRACT: &str = r#"
name: orders
format: { type: csv, header: true }
columns:
  - { name: order_id, type: int, nullable: false, unique: true, min: 1 }
  - { name: order_ts, type: timestamp, nullable: false }
  - { name: amount, type: float, nullable: false, min: 0 }
  - { name: country, type: string, allowed: [US, CA, GB] }
catalog:
  database: greenpipe
features:
  feature_group: greenpipe-orders
  record_identifier: order_id
  event_time_column: order_ts
training:
  image: 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1
  max_runtime_seconds: 1800
  warm_start: true
  hyperparameters: { num_round: 20 }
"#;

fn csv(salt: usize) -> String {
    let mut out = String::from("order_id,order_ts,amount,country\n");
    for i in 1..=ROWS {
        let country = ["US", "CA", "GB"][i % 3];
        out.push_str(&format!(
            "{i},2026-12-01T10:00:{i:02}Z,{}.5,{country}\n",
            i * 7 + salt
        ));
    }
    out
}

/// The test's own emulator, and an administrator of it for the test's own calls (set up while it does
/// not enforce IAM yet; greenpipe creates its own for its runs).
struct World {
    endpoint: String,
    sdk: SdkConfig,
    s3: aws_sdk_s3::Client,
    sagemaker: aws_sdk_sagemaker::Client,
    bucket: String,
}

impl World {
    async fn new() -> World {
        let endpoint = private_emulator().endpoint.clone();
        let open = config(
            &endpoint,
            Credentials::new("testing", "testing", None, None, "test"),
        )
        .await;
        let iam = aws_sdk_iam::Client::new(&open);
        iam.create_user()
            .user_name("test-admin")
            .send()
            .await
            .expect("CreateUser");
        iam.put_user_policy()
            .user_name("test-admin")
            .policy_name("all")
            .policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            )
            .send()
            .await
            .expect("PutUserPolicy");
        let key = iam
            .create_access_key()
            .user_name("test-admin")
            .send()
            .await
            .expect("CreateAccessKey")
            .access_key
            .expect("key");
        let sdk = config(
            &endpoint,
            Credentials::new(
                key.access_key_id(),
                key.secret_access_key(),
                None,
                None,
                "test-admin",
            ),
        )
        .await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let bucket = "gp-as-deployed".to_string();
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("CreateBucket");
        s3.put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("PutBucketVersioning");
        World {
            sagemaker: aws_sdk_sagemaker::Client::new(&sdk),
            endpoint,
            sdk,
            s3,
            bucket,
        }
    }

    async fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body.into()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
    }

    /// The contract's feature group in the emulator's control plane (the runtime is a loopback server).
    async fn feature_group(&self) {
        let features = [
            ("order_id", FeatureType::Integral),
            ("order_ts", FeatureType::String),
            ("amount", FeatureType::Fractional),
            ("country", FeatureType::String),
        ];
        let offline = format!("s3://{}/greenpipe/feature-store/", self.bucket);
        create_feature_group(
            &self.sagemaker,
            GROUP,
            "order_id",
            "order_ts",
            &features,
            &offline,
        )
        .await
        .expect("CreateFeatureGroup");
    }

    async fn exists(&self, key: &str) -> bool {
        self.s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    /// `greenpipe ARGS` with the emulator as its only AWS and the test's settings.
    fn greenpipe(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let isolated = repo_root().join("cli/tests/no-such-aws-file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_greenpipe"));
        command
            .current_dir(repo_root())
            .args(args)
            .env_remove("AWS_PROFILE")
            .env_remove("GREENPIPE_TEST_ENDPOINT")
            .env("AWS_CONFIG_FILE", &isolated)
            .env("AWS_SHARED_CREDENTIALS_FILE", &isolated)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("GREENPIPE_CONTRACTS_CACHE_SECONDS", "0");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("run the greenpipe binary")
    }
}

async fn config(endpoint: &str, credentials: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(greenpipe::aws::https_client())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(credentials)
        .load()
        .await
}

/// state → outcome from a run's timeline.
fn outcome(run: &Value, state: &str) -> String {
    run["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["state"] == state)
        .and_then(|s| s["outcome"].as_str())
        .unwrap_or("absent")
        .to_string()
}

fn only_run(out: &Output) -> Value {
    let doc = stdout_json(out);
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{doc:#}");
    runs[0].clone()
}

/// A copy of the repository's template and definition in `dir`, with `edit` applied to the text of
/// the resource block `owner`.
fn mutated_template(dir: &Path, owner: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("infra/template.yaml")).unwrap();
    let header = format!("\n  {owner}:\n");
    let start = text.find(&header).expect("owner block") + 1;
    // The block ends where the next resource (a line indented by exactly two spaces) starts.
    let mut end = start + header.len() - 1;
    for line in text[end..].split_inclusive('\n') {
        let next_resource = line.starts_with("  ") && !line.starts_with("   ") && !line.trim().is_empty();
        if next_resource || !line.starts_with(' ') && !line.trim().is_empty() {
            break;
        }
        end += line.len();
    }
    let block = edit(&text[start..end]);
    assert_ne!(block, text[start..end], "the edit changed nothing in {owner}");
    let mutated = format!("{}{block}{}", &text[..start], &text[end..]);
    std::fs::create_dir_all(dir.join("infra")).unwrap();
    std::fs::create_dir_all(dir.join("statemachine")).unwrap();
    std::fs::write(dir.join("infra/template.yaml"), mutated).unwrap();
    std::fs::copy(
        repo_root().join("statemachine/pipeline.asl.json"),
        dir.join("statemachine/pipeline.asl.json"),
    )
    .unwrap();
    dir.join("infra/template.yaml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_under_its_deployed_roles() {
    let w = World::new().await;
    w.feature_group().await;
    let store = FeatureStore::start(Faults::default(), Some(w.sagemaker.clone()))
        .await
        .expect("loopback feature store");
    let store_endpoint = store.endpoint();
    w.put("contracts/incoming/orders.yaml", CONTRACT).await;
    w.put("incoming/orders/day-1.csv", csv(0)).await;
    let source = format!("s3://{}/incoming/orders/day-", w.bucket);
    let run = || {
        w.greenpipe(
            &[
                "run",
                &source,
                "--emulator",
                &w.endpoint,
                "--as-deployed",
                "--json",
            ],
            &[(
                "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME",
                store_endpoint.as_str(),
            )],
        )
    };

    // Run 1: every stage runs under its own role, nothing is denied, training runs.
    let out = tokio::task::block_in_place(run);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("infra/template.yaml"),
        "{}",
        describe(&out)
    );
    let first = only_run(&out);
    assert_eq!(first["status"], "SUCCEEDED", "{first:#}");
    assert_eq!(first["asDeployed"], "infra/template.yaml", "{first:#}");
    for state in [
        "RegisterCatalog",
        "WriteFeatures",
        "PlanTraining",
        "Train",
        "CreateModel",
        "PlanTransform",
        "Transform",
        "ReportRun",
    ] {
        assert_eq!(outcome(&first, state), "ran", "{state}: {first:#}");
    }
    assert_eq!(store.online_len(GROUP), ROWS);
    let job = first["output"]["plan"]["request"]["TrainingJobName"]
        .as_str()
        .expect("job")
        .to_string();
    let described = w
        .sagemaker
        .describe_training_job()
        .training_job_name(&job)
        .send()
        .await
        .expect("job exists");
    assert!(
        described
            .role_arn()
            .unwrap_or_default()
            .ends_with(":role/greenpipe-SageMakerExecutionRole"),
        "{described:?}"
    );

    // Run 2, same data: training is skipped, still nothing denied.
    let out = tokio::task::block_in_place(run);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let second = only_run(&out);
    assert_eq!(outcome(&second, "Train"), "skipped", "{second:#}");
    assert_eq!(outcome(&second, "KeepLastModel"), "ran", "{second:#}");

    // Run 3, a new version of the object: trains again, warm-started from the last model.
    w.put("incoming/orders/day-1.csv", csv(1)).await;
    let out = tokio::task::block_in_place(run);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let third = only_run(&out);
    assert_eq!(outcome(&third, "Train"), "ran", "{third:#}");
    assert_eq!(third["output"]["plan"]["warmStart"], true, "{third:#}");

    // Invalid data: quarantined with its report, by a single copy and by a multipart copy.
    let bad = csv(0).replace("1,2026-12-01T10:00:01Z,7.5,CA", "1,2026-12-01T10:00:01Z,-7.5,CA");
    for (key, threshold) in [
        ("incoming/orders/bad-single.csv", None),
        ("incoming/orders/bad-multi.csv", Some("1")),
    ] {
        w.put(key, bad.clone()).await;
        let source = format!("s3://{}/{key}", w.bucket);
        let mut env = vec![(
            "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME",
            store_endpoint.as_str(),
        )];
        if let Some(t) = threshold {
            env.push(("GREENPIPE_MULTIPART_COPY_THRESHOLD_BYTES", t));
        }
        let out = tokio::task::block_in_place(|| {
            w.greenpipe(
                &[
                    "run",
                    &source,
                    "--emulator",
                    &w.endpoint,
                    "--as-deployed",
                    "--json",
                ],
                &env,
            )
        });
        assert_eq!(
            out.status.code(),
            Some(1),
            "invalid data, nothing denied: {}",
            describe(&out)
        );
        let run = only_run(&out);
        let quarantined = run["validation"]["quarantineKey"]
            .as_str()
            .expect("quarantine key");
        assert!(w.exists(quarantined).await, "{quarantined}: {run:#}");
        let report = run["validation"]["reportKey"].as_str().expect("report key");
        assert!(w.exists(report).await, "{report}");
        assert!(w.exists(key).await, "the source is never removed");
    }
}

/// write-features stops before its deadline (as deployed: the template's Timeout) and the state machine
/// resumes it from the continuation, under the same role, until every row is written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_features_continues_across_invocations_as_deployed() {
    let w = World::new().await;
    w.feature_group().await;
    // Each PutRecord takes 250 ms, one at a time, and only the last second before the 900 s deadline
    // is left for writing: a few rows per invocation.
    let store = FeatureStore::start(
        Faults {
            latency: std::time::Duration::from_millis(250),
            ..Faults::default()
        },
        Some(w.sagemaker.clone()),
    )
    .await
    .expect("loopback feature store");
    let store_endpoint = store.endpoint();
    let contract = CONTRACT.split("training:").next().unwrap().to_string();
    w.put("contracts/incoming/orders.yaml", contract).await;
    w.put("incoming/orders/day-1.csv", csv(0)).await;
    let source = format!("s3://{}/incoming/orders/day-1.csv", w.bucket);
    let out = tokio::task::block_in_place(|| {
        w.greenpipe(
            &[
                "run",
                &source,
                "--emulator",
                &w.endpoint,
                "--as-deployed",
                "--json",
            ],
            &[
                (
                    "AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME",
                    store_endpoint.as_str(),
                ),
                ("GREENPIPE_FEATURES_SAFETY_SECONDS", "899"),
                ("GREENPIPE_FEATURES_CONCURRENCY", "1"),
            ],
        )
    });
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let run = only_run(&out);
    assert_eq!(outcome(&run, "Continuation"), "ran", "{run:#}");
    assert_eq!(store.online_len(GROUP), ROWS, "every row, once");
    assert_eq!(run["output"]["features"]["continuation"], Value::Null, "{run:#}");
}

/// The template minus one permission the code needs: the run fails, naming stage, call and resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_fails_the_run_and_says_where() {
    let w = World::new().await;
    w.put(
        "contracts/incoming/orders.yaml",
        CONTRACT.split("features:").next().unwrap().to_string()
            + "training:\n  image: 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1\n",
    )
    .await;
    w.put("incoming/orders/day-1.csv", csv(0)).await;
    let source = format!("s3://{}/incoming/orders/", w.bucket);
    let dir = tempfile::tempdir().unwrap();

    let cases: [(&str, &str, &str, &str, &str); 2] = [
        // S3, enforced by resource ARN: report-run's run report.
        (
            "ReportRunFunction",
            "              Action: s3:PutObject\n",
            "              Action: s3:GetBucketLocation\n",
            "report-run (state ReportRun) was denied (s3:PutObject needs s3:PutObject)",
            "greenpipe/reports/runs/",
        ),
        // SageMaker, enforced by action: plan-training asks whether its job exists.
        (
            "PlanTrainingFunction",
            "              Action: sagemaker:DescribeTrainingJob\n",
            "              Action: sagemaker:ListTrainingJobs\n",
            "plan-training (state PlanTraining) was denied (sagemaker:DescribeTrainingJob needs sagemaker:DescribeTrainingJob)",
            "HTTP 403",
        ),
    ];
    for (i, (owner, from, to, says, names)) in cases.into_iter().enumerate() {
        let template = mutated_template(&dir.path().join(i.to_string()), owner, |block| {
            block.replacen(from, to, 1)
        });
        let template = template.to_string_lossy().into_owned();
        let out = tokio::task::block_in_place(|| {
            w.greenpipe(
                &[
                    "run",
                    &source,
                    "--emulator",
                    &w.endpoint,
                    "--as-deployed",
                    &template,
                ],
                &[],
            )
        });
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        assert!(err.contains(says) && err.contains(names), "{}", describe(&out));
        // The static check names it too, before the run.
        assert!(err.contains(&format!("{owner}: ")), "{}", describe(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_runs_under_its_deployed_role_and_its_endpoint_comes_back() {
    let w = World::new().await;
    let cw = CloudWatch::start().await;
    let managed = vec![Tag::builder().key("greenpipe:managed").value("true").build()];
    w.sagemaker
        .create_model()
        .model_name("idle-model")
        .execution_role_arn("arn:aws:iam::123456789012:role/greenpipe-SageMakerExecutionRole")
        .primary_container(
            ContainerDefinition::builder()
                .image("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1")
                .model_data_url(format!("s3://{}/greenpipe/models/m/model.tar.gz", w.bucket))
                .build(),
        )
        .set_tags(Some(managed.clone()))
        .send()
        .await
        .expect("CreateModel");
    w.sagemaker
        .create_endpoint_config()
        .endpoint_config_name("idle-config")
        .production_variants(
            ProductionVariant::builder()
                .variant_name("AllTraffic")
                .model_name("idle-model")
                .instance_type(ProductionVariantInstanceType::MlM5Large)
                .initial_instance_count(1)
                .build(),
        )
        .set_tags(Some(managed.clone()))
        .send()
        .await
        .expect("CreateEndpointConfig");
    w.sagemaker
        .create_endpoint()
        .endpoint_name("idle")
        .endpoint_config_name("idle-config")
        .set_tags(Some(managed))
        .send()
        .await
        .expect("CreateEndpoint");
    let cw_endpoint = cw.endpoint.clone();
    let env = [
        ("AWS_ENDPOINT_URL_CLOUDWATCH", cw_endpoint.as_str()),
        ("GREENPIPE_CLEANUP_MIN_AGE_HOURS", "0"),
        // moto has no ListApps (Studio apps are covered against a replay client in cleanup_studio.rs).
        (
            "GREENPIPE_CLEANUP_AREAS",
            "endpoints,notebooks,jobs,orphans,objects,buckets,log-groups",
        ),
    ];
    // Two days on: the endpoint is old enough to judge against the template's 24-hour window.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let later = (now + 2 * 86_400).to_string();
    // And a day after that: past the template's 24-hour grace period.
    let after_grace = (now + 3 * 86_400 + 3600).to_string();
    let cleanup = |act: bool, as_of: &str| {
        let mut args = vec![
            "cleanup",
            "--emulator",
            &w.endpoint,
            "--as-deployed",
            "--bucket",
            &w.bucket,
            "--json",
            "--as-of",
            as_of,
        ];
        if act {
            args.push("--act");
        }
        tokio::task::block_in_place(|| w.greenpipe(&args, &env))
    };

    let dry = cleanup(false, &later);
    assert_eq!(dry.status.code(), Some(0), "{}", describe(&dry));
    let report = stdout_json(&dry);
    assert!(
        report["inventory_errors"].as_array().is_none_or(Vec::is_empty),
        "{report:#}"
    );
    assert!(report.to_string().contains("\"idle\""), "{report:#}");

    // The first acting run only marks it (AddTags, sns:Publish to the stack's topic, events:PutEvents
    // on the default bus: all under the deployed role).
    let on_idle = |report: &Value| {
        report["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["resource"] == "idle")
            .unwrap_or_else(|| panic!("no action on the idle endpoint: {report:#}"))
            .clone()
    };
    let mark = cleanup(true, &later);
    assert_eq!(mark.status.code(), Some(0), "{}", describe(&mark));
    let report = stdout_json(&mark);
    assert_eq!(on_idle(&report)["outcome"], "marked", "{report:#}");
    let notices = report["notices"].to_string();
    assert!(
        notices.contains("mark(s) published to arn:aws:sns:") && notices.contains("put on bus default"),
        "{report:#}"
    );
    assert!(w
        .sagemaker
        .describe_endpoint()
        .endpoint_name("idle")
        .send()
        .await
        .is_ok());

    let act = cleanup(true, &after_grace);
    assert_eq!(act.status.code(), Some(0), "{}", describe(&act));
    let deleted = on_idle(&stdout_json(&act));
    assert_eq!(deleted["outcome"], "done", "{deleted:#}");
    let manifest = deleted["manifest"].as_str().expect("manifest").to_string();
    assert!(
        manifest.contains("/greenpipe/reports/cleanup/manifests/"),
        "{manifest}"
    );
    assert!(w
        .sagemaker
        .describe_endpoint()
        .endpoint_name("idle")
        .send()
        .await
        .is_err());

    // The way back: restore-endpoint from the manifest (an operator's command, not a deployed stage).
    let restored = tokio::task::block_in_place(|| w.greenpipe(&["restore-endpoint", &manifest], &[]));
    assert_eq!(restored.status.code(), Some(0), "{}", describe(&restored));
    w.sagemaker
        .describe_endpoint()
        .endpoint_name("idle")
        .send()
        .await
        .expect("the endpoint is back");
    let _ = &w.sdk;
}
