//! plan-training, plan-transform and report-run against moto's S3 and SageMaker control plane: train vs
//! skip with the last-trained marker, warm start, adopting a completed job, recreating a deleted model,
//! the run report with its footprint totals, and the failure path. The state machine's part (creating the
//! planned jobs) is played by the test with the SDK, from the planned requests. Each test has its own
//! bucket and dataset name, so tests run in parallel against one server.

use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, Channel, ContainerDefinition, DataSource, OutputDataConfig, ResourceConfig,
    S3DataSource, S3DataType, StoppingCondition, TrainingInputMode, TrainingInstanceType,
    TransformDataSource, TransformInput, TransformInstanceType, TransformOutput, TransformResources,
    TransformS3DataSource,
};
use greenpipe::aws::Config;
use greenpipe::stages::plan::handler::{
    plan_training_handler, plan_transform_handler, read_marker, CarbonApi, Deps, PlanConfig,
};
use greenpipe::stages::plan::limits::JobLimits;
use greenpipe::stages::report_run::report_run_at;
use greenpipe::stages::Stage;
use greenpipe_tests::carbon::ForecastApi;
use greenpipe_tests::cloudwatch::CloudWatch;
use greenpipe_tests::{unique_name, Aws};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::123456789012:role/greenpipe-sagemaker";
const NOW: u64 = 1_795_400_000_000;
const CSV: &str = "id,amount\n1,10.5\n2,3.25\n3,7\n";

struct World {
    aws: Aws,
    sm: aws_sdk_sagemaker::Client,
    /// One set of dependencies per function, as deployed (each guarded by its own table).
    deps: Deps,
    transform: Deps,
    report: greenpipe::stages::report_run::Deps,
    bucket: String,
    name: String,
}

impl World {
    async fn new(training: &str) -> World {
        let aws = Aws::new().await;
        let bucket = aws.bucket(false).await;
        let name = unique_name("sales");
        let config = PlanConfig {
            base: Config {
                s3_force_path_style: true,
                ..Config::default()
            },
            role_arn: Some(ROLE.into()),
            ..PlanConfig::default()
        };
        let contract = format!(
            "name: {name}\nformat: {{ type: csv }}\ncolumns:\n  - {{ name: id, type: int }}\n  - {{ name: amount, type: float }}\n{training}"
        );
        aws.put(&bucket, &format!("contracts/{name}.yaml"), contract)
            .await;
        aws.put(&bucket, &format!("{name}/part-0.csv"), CSV).await;
        World {
            sm: aws_sdk_sagemaker::Client::new(&aws.sdk),
            deps: Deps::new(Stage::PlanTraining, config.clone(), &aws.sdk),
            transform: Deps::new(Stage::PlanTransform, config.clone(), &aws.sdk),
            report: greenpipe::stages::report_run::Deps::new(config, &aws.sdk),
            bucket,
            name,
            aws,
        }
    }

    fn dataset(&self, fingerprint: &str) -> Value {
        json!({
            "bucket": self.bucket, "key": format!("{}/part-0.csv", self.name), "etag": "e",
            "reportKey": "r.json", "fingerprint": fingerprint, "rows": 3,
            "contract": {"name": self.name, "version": "1", "source": format!("s3://{}/contracts/{}.yaml", self.bucket, self.name)}
        })
    }

    async fn plan_training(&self, fingerprint: &str) -> Value {
        plan_training_handler(
            &self.deps,
            json!({"dataset": self.dataset(fingerprint), "executionName": "e1"}),
        )
        .await
        .expect("plan-training")
    }

    /// What the state machine does on the train branch: CreateTrainingJob (.sync: moto completes it at
    /// once), then CreateModel with the artifacts. Returns (DescribeTrainingJob as Step Functions
    /// returns it, the model output).
    async fn train(&self, plan: &Value) -> (Value, Value) {
        let r = &plan["request"];
        let name = r["TrainingJobName"].as_str().unwrap();
        let channels = r["InputDataConfig"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                Channel::builder()
                    .channel_name(c["ChannelName"].as_str().unwrap())
                    .data_source(
                        DataSource::builder()
                            .s3_data_source(
                                S3DataSource::builder()
                                    .s3_data_type(S3DataType::S3Prefix)
                                    .s3_uri(c["DataSource"]["S3DataSource"]["S3Uri"].as_str().unwrap())
                                    .build(),
                            )
                            .build(),
                    )
                    .content_type(c["ContentType"].as_str().unwrap())
                    .build()
            })
            .collect::<Vec<_>>();
        self.sm
            .create_training_job()
            .training_job_name(name)
            .algorithm_specification(
                AlgorithmSpecification::builder()
                    .training_image(r["AlgorithmSpecification"]["TrainingImage"].as_str().unwrap())
                    .training_input_mode(TrainingInputMode::File)
                    .build(),
            )
            .role_arn(r["RoleArn"].as_str().unwrap())
            .set_input_data_config(Some(channels))
            .output_data_config(
                OutputDataConfig::builder()
                    .s3_output_path(r["OutputDataConfig"]["S3OutputPath"].as_str().unwrap())
                    .build(),
            )
            .resource_config(
                ResourceConfig::builder()
                    .instance_type(TrainingInstanceType::from(
                        r["ResourceConfig"]["InstanceType"].as_str().unwrap(),
                    ))
                    .instance_count(1)
                    .volume_size_in_gb(10)
                    .build(),
            )
            .stopping_condition(StoppingCondition::builder().max_runtime_in_seconds(3600).build())
            .enable_managed_spot_training(r["EnableManagedSpotTraining"].as_bool().unwrap())
            .send()
            .await
            .expect("CreateTrainingJob");
        let d = self
            .sm
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
            .expect("DescribeTrainingJob");
        let artifacts = d
            .model_artifacts()
            .unwrap()
            .s3_model_artifacts()
            .unwrap()
            .to_string();
        let model_name = plan["modelName"].as_str().unwrap();
        let created = self
            .sm
            .create_model()
            .model_name(model_name)
            .execution_role_arn(plan["modelRequest"]["ExecutionRoleArn"].as_str().unwrap())
            .primary_container(
                ContainerDefinition::builder()
                    .image(
                        plan["modelRequest"]["PrimaryContainer"]["Image"]
                            .as_str()
                            .unwrap(),
                    )
                    .model_data_url(&artifacts)
                    .build(),
            )
            .send()
            .await
            .expect("CreateModel");
        // moto reports no training/billable seconds: a real spot job's figures, as Step Functions
        // passes them on (epoch-millisecond timestamps).
        let training = json!({
            "TrainingJobName": name,
            "TrainingJobStatus": d.training_job_status().unwrap().as_str(),
            "ResourceConfig": {"InstanceType": r["ResourceConfig"]["InstanceType"], "InstanceCount": 1, "VolumeSizeInGB": 10},
            "EnableManagedSpotTraining": true,
            "TrainingStartTime": 1_795_390_000_000i64, "TrainingEndTime": 1_795_390_600_000i64,
            "TrainingTimeInSeconds": 600, "BillableTimeInSeconds": 240,
            "ModelArtifacts": {"S3ModelArtifacts": artifacts},
            "OutputDataConfig": r["OutputDataConfig"], "CheckpointConfig": r["CheckpointConfig"],
        });
        (training, json!({"ModelArn": created.model_arn()}))
    }

    async fn model_exists(&self, name: &str) -> bool {
        self.sm.describe_model().model_name(name).send().await.is_ok()
    }
}

const TRAINING: &str = "training:\n  image: 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1\n  max_runtime_seconds: 1800\n  hyperparameters: { num_round: 50 }\n  warm_start: true\n";

#[tokio::test]
async fn trains_then_skips_unchanged_data_then_warm_starts_on_new_data() {
    let w = World::new(TRAINING).await;
    let fp = "blake3:1111111111111111aaaa";
    let plan = w.plan_training(fp).await;
    assert_eq!(plan["train"], true, "{plan}");
    assert_eq!(plan["reason"], "new data: no model trained before");
    let r = &plan["request"];
    assert_eq!(r["EnableManagedSpotTraining"], true);
    assert_eq!(
        r["StoppingCondition"],
        json!({"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 3600})
    );
    assert!(r["CheckpointConfig"]["S3Uri"]
        .as_str()
        .unwrap()
        .starts_with(&format!("s3://{}/greenpipe/checkpoints/", w.bucket)));
    assert_eq!(r["ResourceConfig"]["InstanceType"], "ml.m5.large");
    assert_eq!(r["HyperParameters"], json!({"num_round": "50"}));
    // Nothing trained yet: no model channel even with warm_start.
    assert_eq!(r["InputDataConfig"].as_array().unwrap().len(), 1);
    assert_eq!(plan["modelName"], r["TrainingJobName"]);

    // The state machine trains and creates the model; report-run records it.
    let (training, model) = w.train(&plan).await;
    let state = json!({
        "dataset": w.dataset(fp), "execution": {"Name": unique_name("exec"), "StartTime": "2026-11-27T10:00:00Z"},
        "status": "SUCCEEDED", "catalog": {"action": "created"}, "features": {"written": 3, "durationMs": 800, "memoryMb": 512},
        "plan": plan, "training": training, "model": model,
    });
    let out = report_run_at(&w.report, state.clone(), NOW)
        .await
        .expect("report-run");
    assert_eq!(out["status"], "SUCCEEDED");
    let marker_key = w.deps.config.marker_key(&w.name);
    assert_eq!(out["markerUri"], format!("s3://{}/{marker_key}", w.bucket));
    let marker = read_marker(&w.aws.s3, &w.bucket, &marker_key)
        .await
        .unwrap()
        .expect("marker");
    assert_eq!(marker.fingerprint, fp);
    assert_eq!(marker.model_name, plan["modelName"].as_str().unwrap());
    assert!(
        marker.model_data_url.ends_with("/output/model.tar.gz"),
        "{}",
        marker.model_data_url
    );

    // Same data, same settings: skipped, and the last model is the one to use.
    let again = w.plan_training(fp).await;
    assert_eq!(again["train"], false);
    assert_eq!(
        again["reason"],
        format!(
            "fingerprint unchanged since {}",
            plan["trainingJobName"].as_str().unwrap()
        )
    );
    assert_eq!(again["modelName"], plan["modelName"]);
    assert_eq!(again["request"], json!({}));
    assert_eq!(again["modelRequest"], json!({}));
    let transform = plan_transform_handler(&w.transform, json!({"dataset": w.dataset(fp), "plan": again}))
        .await
        .unwrap();
    assert_eq!(transform["transform"], true, "{transform}");
    assert_eq!(transform["request"]["ModelName"], plan["modelName"]);
    assert_eq!(transform["request"]["TransformInput"]["SplitType"], "Line");
    assert_eq!(transform["request"]["BatchStrategy"], "MultiRecord");
    assert!(transform["reason"]
        .as_str()
        .unwrap()
        .contains("the last trained model"));

    // New data: trains again, warm-started from the last model's artifacts.
    let next = w.plan_training("blake3:2222222222222222bbbb").await;
    assert_eq!(next["train"], true);
    assert_eq!(
        next["reason"],
        format!("new data since {}", plan["trainingJobName"].as_str().unwrap())
    );
    assert_ne!(next["trainingJobName"], plan["trainingJobName"]);
    let channels = next["request"]["InputDataConfig"].as_array().unwrap();
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[1]["ChannelName"], "model");
    assert_eq!(
        channels[1]["DataSource"]["S3DataSource"]["S3Uri"],
        marker.model_data_url
    );
    assert_eq!(next["warmStart"], true);
}

/// SageMaker's per-minute series for `job`'s one host over ten minutes, as the CloudWatch loopback
/// answers them: memory at `memory` % (peaking 5 points higher), CPU summed over cores at `cpu` %
/// (peaking at 1.5 times).
fn publish_utilisation(cw: &CloudWatch, job: &str, memory: f64, cpu: f64) {
    let host = format!("{job}/algo-1");
    for (metric, mean, peak) in [
        ("MemoryUtilization", memory, memory + 5.0),
        ("CPUUtilization", cpu, cpu * 1.5),
    ] {
        let dims = [("Host", host.as_str())];
        let ns = "/aws/sagemaker/TrainingJobs";
        cw.set_series(ns, metric, &dims, "Average", &[mean; 10]);
        cw.set_series(ns, metric, &dims, "Maximum", &[peak; 10]);
    }
}

#[tokio::test]
async fn the_next_job_is_sized_from_the_last_jobs_measured_use() {
    let mut w = World::new(TRAINING).await;
    let cw = CloudWatch::start().await;
    w.report.cloudwatch = cw.client(&w.aws.sdk);
    let w = w;
    let run = |fp: &'static str| {
        let w = &w;
        async move {
            let plan = w.plan_training(fp).await;
            assert_eq!(plan["train"], true, "{plan}");
            plan
        }
    };
    // Run 1: the table's choice for small data, and memory ran near full (95 % peak of 8 GiB).
    let first = run("blake3:5555555555555555eeee").await;
    assert_eq!(first["request"]["ResourceConfig"]["InstanceType"], "ml.m5.large");
    let report = |plan: Value, training: Value, model: Value| {
        let w = &w;
        async move {
            let execution = unique_name("exec");
            let state = json!({
                "dataset": w.dataset(plan["fingerprint"].as_str().unwrap()),
                "execution": {"Name": execution, "StartTime": "2026-11-27T10:00:00Z"},
                "status": "SUCCEEDED", "plan": plan, "training": training, "model": model,
            });
            report_run_at(&w.report, state, NOW).await.expect("report-run");
            let key = format!("greenpipe/reports/runs/{execution}.json");
            let report: Value =
                serde_json::from_slice(&w.aws.get(&w.bucket, &key).await.expect("report")).unwrap();
            report
        }
    };
    let (training, model) = w.train(&first).await;
    publish_utilisation(&cw, first["trainingJobName"].as_str().unwrap(), 90.0, 100.0);
    let r = report(first.clone(), training, model).await;
    let line = r["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "training")
        .unwrap()
        .clone();
    // CPU: 100 % summed over ml.m5.large's 2 vCPUs = 50 %, peak 75 %; memory 90 %, peak 95 %.
    assert_eq!(
        line["utilisation"]["memory"],
        json!({"average": 90.0, "peak": 95.0}),
        "{line:#}"
    );
    assert_eq!(line["utilisation"]["cpu"], json!({"average": 50.0, "peak": 75.0}));
    assert_eq!(line["utilisation"]["samples"], 10);
    let marker = read_marker(&w.aws.s3, &w.bucket, &w.deps.config.marker_key(&w.name))
        .await
        .unwrap()
        .expect("marker");
    assert_eq!(marker.utilisation.as_ref().unwrap().instance_type, "ml.m5.large");

    // Run 2, new data: up-sized from the evidence; the settings (and so the skip rule) unchanged.
    let second = run("blake3:6666666666666666ffff").await;
    assert_eq!(
        second["request"]["ResourceConfig"]["InstanceType"],
        "ml.m5.xlarge"
    );
    assert_eq!(second["settingsHash"], first["settingsHash"]);
    let sizing = second["sizing"].as_str().unwrap_or_default();
    assert!(
        sizing.contains("up-sized from ml.m5.large to ml.m5.xlarge"),
        "{second:#}"
    );
    // It used 10 % of its 16 GiB.
    let (training, model) = w.train(&second).await;
    publish_utilisation(&cw, second["trainingJobName"].as_str().unwrap(), 5.0, 40.0);
    report(second.clone(), training, model).await;

    // Run 3: down-sized again, with the reason in the plan.
    let third = run("blake3:7777777777777777aaaa").await;
    assert_eq!(third["request"]["ResourceConfig"]["InstanceType"], "ml.m5.large");
    let sizing = third["sizing"].as_str().unwrap_or_default();
    assert!(
        sizing.contains("down-sized from ml.m5.xlarge to ml.m5.large")
            && sizing.contains(second["trainingJobName"].as_str().unwrap()),
        "{third:#}"
    );
}

#[tokio::test]
async fn run_report_has_footprint_totals() {
    let w = World::new(TRAINING).await;
    let fp = "blake3:3333333333333333cccc";
    let plan = w.plan_training(fp).await;
    let (training, model) = w.train(&plan).await;
    let transform_plan = plan_transform_handler(
        &w.transform,
        json!({"dataset": w.dataset(fp), "plan": plan, "model": model}),
    )
    .await
    .unwrap();
    assert_eq!(transform_plan["transform"], true);
    assert!(transform_plan["reason"]
        .as_str()
        .unwrap()
        .contains("the model this run trained"));
    let execution = unique_name("exec");
    let transform_output = transform_plan["request"]["TransformOutput"]["S3OutputPath"]
        .as_str()
        .expect("transform output path")
        .to_string();
    let state = json!({
        "dataset": w.dataset(fp), "execution": {"Name": execution, "StartTime": "2026-11-27T10:00:00Z"},
        "status": "SUCCEEDED", "catalog": {"action": "created"}, "features": {"written": 3},
        "plan": plan, "training": training, "model": model, "transformPlan": transform_plan,
        "transform": {"TransformJobName": transform_plan["transformJobName"], "TransformJobStatus": "Completed",
                      "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
                      "TransformOutput": {"S3OutputPath": transform_output},
                      "TransformStartTime": 1_795_391_000, "TransformEndTime": 1_795_391_300},
    });
    // What SageMaker would have left: the model artifact under <output path>/<job>/, two transform
    // output parts; and a sibling job's artifact, which is not this run's.
    let key_of = |uri: &str| {
        uri.splitn(4, '/')
            .nth(3)
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string()
    };
    let job = training["TrainingJobName"].as_str().unwrap();
    let models = key_of(training["OutputDataConfig"]["S3OutputPath"].as_str().unwrap());
    w.aws
        .put(
            &w.bucket,
            &format!("{models}/{job}/output/model.tar.gz"),
            vec![7u8; 5000],
        )
        .await;
    w.aws
        .put(
            &w.bucket,
            &format!("{models}/{job}-other/output/model.tar.gz"),
            vec![7u8; 999],
        )
        .await;
    let outputs = key_of(&transform_output);
    for part in ["part-0.csv.out", "part-1.csv.out"] {
        w.aws
            .put(&w.bucket, &format!("{outputs}/{part}"), vec![b'1'; 150])
            .await;
    }
    let out = report_run_at(&w.report, state, NOW).await.unwrap();
    let key = format!("greenpipe/reports/runs/{execution}.json");
    assert_eq!(out["reportUri"], format!("s3://{}/{key}", w.bucket));
    let report: Value = serde_json::from_slice(&w.aws.get(&w.bucket, &key).await.expect("report")).unwrap();
    assert_eq!(report["status"], "SUCCEEDED");
    assert_eq!(report["recordsWritten"], 3);
    let stage = |name: &str| {
        report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap()
            .clone()
    };
    // 600 s trained, 240 s billed on spot: 60 % saved against on-demand ml.m5.large ($0.115/h).
    let t = stage("training");
    assert_eq!(t["durationSeconds"], 600.0);
    let usd = t["footprint"]["usd"].as_f64().unwrap();
    assert!((usd - 0.115 * 240.0 / 3600.0).abs() < 1e-12, "{usd}");
    assert!((t["spot"]["savingsFraction"].as_f64().unwrap() - 0.6).abs() < 1e-9);
    assert_eq!(stage("transform")["durationSeconds"], 300.0);
    assert_eq!(stage("catalog")["measured"], false);
    // What the run left, listed under the role's ListBucket: one month of 5,300 bytes of S3 Standard.
    let stored: Vec<(String, u64, u64)> = report["stored"]
        .as_array()
        .expect("stored")
        .iter()
        .map(|s| {
            (
                s["what"].as_str().unwrap().to_string(),
                s["objects"].as_u64().unwrap(),
                s["bytes"].as_u64().unwrap(),
            )
        })
        .filter(|(what, ..)| what != "checkpoints")
        .collect();
    assert_eq!(
        stored,
        [
            ("training output".to_string(), 1, 5000),
            ("transform output".to_string(), 2, 300)
        ],
        "{report:#}"
    );
    let storage = report["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["usage"] == "storage")
        .expect("storage line");
    let usd = storage["footprint"]["usd"].as_f64().unwrap();
    assert!(
        (usd - 5300.0 / (1u64 << 30) as f64 * 0.023).abs() < 1e-15,
        "{storage:#}"
    );
    // Totals add up the stages and the usage lines, and the output carries them.
    let sum = |field: &str| -> f64 {
        ["stages", "usage"]
            .iter()
            .flat_map(|list| report[*list].as_array().unwrap().iter())
            .filter_map(|s| s["footprint"][field].as_f64())
            .sum()
    };
    for (total, field) in [("usd", "usd"), ("kwh", "kwh"), ("kgco2e", "kg_co2e")] {
        let t = report["totals"][total].as_f64().unwrap();
        assert!(t > 0.0, "{total}");
        assert!((t - sum(field)).abs() < 1e-12, "{total}");
        assert!(
            (out["totals"][total].as_f64().unwrap() - t).abs() < 1e-15,
            "{total}"
        );
    }
}

#[tokio::test]
async fn failure_path_report_and_no_marker() {
    let w = World::new(TRAINING).await;
    let fp = "blake3:4444444444444444dddd";
    let plan = w.plan_training(fp).await;
    let execution = unique_name("exec");
    let failed_job = json!({"TrainingJobName": plan["trainingJobName"], "TrainingJobStatus": "Failed",
        "FailureReason": "ClientError: Spot capacity not available", "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "TrainingTimeInSeconds": 120, "BillableTimeInSeconds": 60});
    let state = json!({
        "dataset": w.dataset(fp), "execution": {"Name": execution, "StartTime": "2026-11-27T10:00:00Z"},
        "status": "FAILED", "plan": plan,
        "error": {"Error": "SageMaker.TrainingJobFailed", "Cause": failed_job.to_string()},
    });
    let out = report_run_at(&w.report, state, NOW).await.unwrap();
    assert_eq!(out["status"], "FAILED");
    assert!(out.get("markerUri").is_none());
    let report: Value = serde_json::from_slice(
        &w.aws
            .get(&w.bucket, &format!("greenpipe/reports/runs/{execution}.json"))
            .await
            .expect("report"),
    )
    .unwrap();
    assert_eq!(report["error"]["Error"], "SageMaker.TrainingJobFailed");
    let stages = report["stages"].as_array().unwrap();
    let training = stages.iter().find(|s| s["stage"] == "training").unwrap();
    assert_eq!(training["status"], "failed");
    assert_eq!(training["reason"], "ClientError: Spot capacity not available");
    assert!(training["footprint"]["usd"].as_f64().unwrap() > 0.0);
    assert_eq!(
        stages.iter().find(|s| s["stage"] == "transform").unwrap()["status"],
        "not run"
    );
    assert!(
        read_marker(&w.aws.s3, &w.bucket, &w.deps.config.marker_key(&w.name))
            .await
            .unwrap()
            .is_none()
    );
    // Nothing was recorded: the next run plans the same training again.
    assert_eq!(w.plan_training(fp).await["train"], true);
}

#[tokio::test]
async fn adopts_a_completed_job_and_recreates_a_deleted_model() {
    let w = World::new(TRAINING).await;
    let fp = "blake3:5555555555555555eeee";
    let plan = w.plan_training(fp).await;
    // A run trained but died before its report: the job exists, no marker, no model.
    w.train(&plan).await;
    let name = plan["modelName"].as_str().unwrap().to_string();
    w.sm.delete_model().model_name(&name).send().await.unwrap();
    let adopted = w.plan_training(fp).await;
    assert_eq!(adopted["train"], false, "{adopted}");
    assert!(
        adopted["reason"].as_str().unwrap().contains("already completed"),
        "{adopted}"
    );
    assert_eq!(adopted["modelName"], name);
    assert!(
        w.model_exists(&name).await,
        "model recreated from the job's artifacts"
    );
    let marker = read_marker(&w.aws.s3, &w.bucket, &w.deps.config.marker_key(&w.name))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marker.training_job_name, name);

    // Deleted again (a cleanup of unused models): the skip recreates it from the marker.
    w.sm.delete_model().model_name(&name).send().await.unwrap();
    let skipped = w.plan_training(fp).await;
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap()
            .starts_with("fingerprint unchanged"),
        "{skipped}"
    );
    assert!(w.model_exists(&name).await);

    // A transform that already ran (same data, model and settings) is not run again.
    let t = plan_transform_handler(&w.transform, json!({"dataset": w.dataset(fp), "plan": skipped}))
        .await
        .unwrap();
    assert_eq!(t["transform"], true);
    let r = &t["request"];
    w.sm.create_transform_job()
        .transform_job_name(r["TransformJobName"].as_str().unwrap())
        .model_name(r["ModelName"].as_str().unwrap())
        .transform_input(
            TransformInput::builder()
                .data_source(
                    TransformDataSource::builder()
                        .s3_data_source(
                            TransformS3DataSource::builder()
                                .s3_data_type(S3DataType::S3Prefix)
                                .s3_uri(
                                    r["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
                                        .as_str()
                                        .unwrap(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .transform_output(
            TransformOutput::builder()
                .s3_output_path(r["TransformOutput"]["S3OutputPath"].as_str().unwrap())
                .build(),
        )
        .transform_resources(
            TransformResources::builder()
                .instance_type(TransformInstanceType::MlM5Large)
                .instance_count(1)
                .build(),
        )
        .send()
        .await
        .expect("CreateTransformJob");
    let again = plan_transform_handler(&w.transform, json!({"dataset": w.dataset(fp), "plan": skipped}))
        .await
        .unwrap();
    assert_eq!(again["transform"], false, "{again}");
    assert_eq!(again["transformJobName"], r["TransformJobName"]);
    assert!(
        again["reason"].as_str().unwrap().contains("already ran"),
        "{again}"
    );
    assert_eq!(again["request"], json!({}));
}

#[tokio::test]
async fn no_training_section_and_no_model() {
    let w = World::new("").await;
    let plan = w.plan_training("blake3:66").await;
    assert_eq!(plan["train"], false);
    assert!(plan["reason"]
        .as_str()
        .unwrap()
        .contains("has no training section"));
    for key in [
        "fingerprint",
        "trainingJobName",
        "modelName",
        "request",
        "modelRequest",
    ] {
        assert!(plan.get(key).is_some(), "{key}");
    }
    let t = plan_transform_handler(
        &w.transform,
        json!({"dataset": w.dataset("blake3:66"), "plan": plan}),
    )
    .await
    .unwrap();
    assert_eq!(t["transform"], false);
    assert!(t["reason"].as_str().unwrap().starts_with("no model"), "{t}");
    assert_eq!(t["request"], json!({}));
    // Bad input is a typed error, not a panic.
    let err = plan_training_handler(&w.deps, json!({"dataset": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidEvent");
    let missing = plan_training_handler(
        &w.deps,
        json!({"dataset": {"bucket": w.bucket, "key": "k.csv", "fingerprint": "f",
        "contract": {"name": "x", "source": format!("s3://{}/contracts/missing.yaml", w.bucket)}}}),
    )
    .await
    .unwrap_err();
    assert_eq!(missing.error_type(), "ContractNotFound");
}

#[tokio::test]
async fn contracts_cannot_ask_for_more_than_the_stack_allows() {
    let w = World::new(TRAINING).await;
    let limited = |limits: JobLimits| {
        Deps::new(
            Stage::PlanTraining,
            PlanConfig {
                limits,
                ..w.deps.config.clone()
            },
            &w.aws.sdk,
        )
    };
    let input = json!({"dataset": w.dataset("blake3:7777"), "executionName": "e1"});
    // The stack's defaults (infra/template.yaml) allow the contract's image and the planned instance.
    let allowed = limited(JobLimits {
        image_repositories: vec!["arn:aws:ecr:*:683313688378:repository/*".into()],
        instance_types: vec!["ml.m5.large".into()],
        max_instance_count: Some(2),
        max_runtime_seconds: Some(86_400),
    });
    let plan = plan_training_handler(&allowed, input.clone()).await.unwrap();
    assert_eq!(plan["train"], true, "{plan}");
    // Another account's image, or a runtime over the cap: refused, nothing started.
    for limits in [
        JobLimits {
            image_repositories: vec!["arn:aws:ecr:*:111122223333:repository/*".into()],
            ..JobLimits::default()
        },
        JobLimits {
            max_runtime_seconds: Some(600),
            ..JobLimits::default()
        },
    ] {
        let err = plan_training_handler(&limited(limits), input.clone())
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), "PlanRefused", "{err}");
    }
    let jobs = w.sm.list_training_jobs().send().await.unwrap();
    assert!(
        jobs.training_job_summaries()
            .iter()
            .all(|j| !j.training_job_name().unwrap_or_default().contains("7777")),
        "a refused plan starts nothing"
    );
}

/// A contract's `schedule` (issue 23, item 3): with a forecast API configured, plan-training asks it for
/// the region's zone with the token and starts at the hour whose window is cleanest and still ends by the
/// deadline (not the cleaner hour after it); plan-transform does the same for its own run; report-run
/// carries the window and what it avoided. When the API fails, the contract's profile decides and the
/// failure is in the plan.
#[tokio::test]
async fn a_deadline_starts_training_and_transform_in_the_cleanest_window_before_it() {
    let api = ForecastApi::start().await;
    api.set_forecast(&[
        ("2026-12-08T00:00:00Z", 400.0),
        ("2026-12-08T01:00:00Z", 380.0),
        ("2026-12-08T02:00:00Z", 120.0),
        ("2026-12-08T03:00:00Z", 90.0),
        ("2026-12-08T04:00:00Z", 300.0),
        ("2026-12-08T05:00:00Z", 60.0),
        ("2026-12-08T06:00:00Z", 10.0),
        ("2026-12-08T07:00:00Z", 10.0),
    ]);
    // The profile (used when the API fails): cleanest at 02:00 UTC.
    let mut profile = vec!["350"; 24];
    profile[2] = "50";
    let schedule = format!(
        "schedule:\n  deadline_hours: 6\n  regions: [ap-south-1, eu-north-1]\n  profile: {{ source: \"test grid's typical day\", g_per_kwh: [{}] }}\n",
        profile.join(", ")
    );
    let mut w = World::new(&format!("{TRAINING}{schedule}")).await;
    let api_config = CarbonApi {
        url: api.url.clone(),
        token: Some("t0ken".into()),
        zone: None,
    };
    w.deps.config.carbon_api = Some(api_config.clone());
    w.transform.config.carbon_api = Some(api_config);
    let fp = "blake3:5555555555555555cccc";
    let clocked = |now: &str| {
        json!({"dataset": w.dataset(fp), "executionName": "e1",
               "startedAt": "2026-12-08T00:00:00Z", "now": now})
    };

    // 30 min of training (max_runtime_seconds: no earlier run), deadline 06:00: the latest start is
    // 05:30, so 05:00 (60 g) wins over 03:00 (90 g); 06:00 (10 g) would end after the deadline.
    let plan = plan_training_handler(&w.deps, clocked("2026-12-08T00:05:00Z"))
        .await
        .expect("plan-training");
    assert_eq!(plan["train"], true, "{plan:#}");
    assert_eq!(plan["startAt"], "2026-12-08T05:00:00Z", "{plan:#}");
    let window = &plan["schedule"];
    assert_eq!(window["startAt"], plan["startAt"]);
    assert_eq!(window["waitSeconds"], 4 * 3600 + 55 * 60);
    assert_eq!(window["deadline"], "2026-12-08T06:00:00Z");
    assert_eq!(window["durationSeconds"], 1800);
    assert_eq!(window["expectedGPerKwh"], 60.0);
    assert_eq!(window["nowGPerKwh"], 400.0);
    let kwh = window["estimatedKwh"].as_f64().expect("ml.m5.large is modelled");
    let avoided = window["avoidedKgCo2e"].as_f64().unwrap();
    assert!(kwh > 0.0 && (avoided - kwh * 0.340).abs() < 1e-12, "{window:#}");
    assert!(
        window["forecastSource"]
            .as_str()
            .unwrap()
            .contains("zone US-MIDA-PJM"),
        "{window:#}"
    );
    // The regions the data may move to, best first: eu-north-1's grid pays for the move, ap-south-1's
    // does not (report only).
    let regions = window["regions"].as_array().expect("regions compared");
    assert_eq!(regions[0]["region"], "eu-north-1", "{window:#}");
    assert!(regions[0]["netAvoidedKgCo2e"].as_f64().unwrap() > 0.0);
    assert_eq!(regions[1]["region"], "ap-south-1");
    assert!(regions[1]["netAvoidedKgCo2e"].as_f64().unwrap() < 0.0);
    assert!(regions[0]["moveUsd"].as_f64().unwrap() > 0.0);
    let asked = api.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].target,
        "/v3/carbon-intensity/forecast?zone=US-MIDA-PJM&horizonHours=7"
    );
    assert_eq!(asked[0].auth_token.as_deref(), Some("t0ken"));

    // The transform (one hour by default) entered at 00:40: its latest start is 05:00.
    let transform = plan_transform_handler(
        &w.transform,
        json!({"dataset": w.dataset(fp), "plan": {"modelName": "some-model"},
               "startedAt": "2026-12-08T00:00:00Z", "now": "2026-12-08T00:40:00Z"}),
    )
    .await
    .expect("plan-transform");
    assert_eq!(transform["transform"], true, "{transform:#}");
    assert_eq!(transform["startAt"], "2026-12-08T05:00:00Z");
    assert_eq!(transform["schedule"]["durationSeconds"], 3600);

    // The run report: the training line carries its window, the totals what waiting avoided.
    let (training, model) = w.train(&plan).await;
    let state = json!({
        "dataset": w.dataset(fp), "execution": {"Name": unique_name("exec"), "StartTime": "2026-12-08T00:00:00Z"},
        "status": "SUCCEEDED", "plan": plan, "training": training, "model": model,
    });
    let out = report_run_at(&w.report, state, NOW).await.expect("report-run");
    let line = out["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "training")
        .expect("training line");
    assert_eq!(line["carbonWindow"]["startAt"], "2026-12-08T05:00:00Z", "{out:#}");
    assert_eq!(out["totals"]["carbonAvoidedKgco2e"].as_f64(), Some(avoided));

    // New data with the API down: the contract's profile decides (02:00), and the plan says why.
    api.fail_with(503);
    let mut input = clocked("2026-12-08T00:05:00Z");
    input["dataset"]["fingerprint"] = json!("blake3:6666666666666666dddd");
    let fallback = plan_training_handler(&w.deps, input)
        .await
        .expect("plan-training without the API");
    assert_eq!(fallback["startAt"], "2026-12-08T02:00:00Z", "{fallback:#}");
    assert_eq!(fallback["schedule"]["forecastSource"], "test grid's typical day");
    assert!(
        fallback["schedule"]["forecastError"]
            .as_str()
            .unwrap()
            .contains("answered 503"),
        "{fallback:#}"
    );
}
