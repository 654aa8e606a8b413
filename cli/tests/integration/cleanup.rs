//! `greenpipe cleanup` and `greenpipe restore-endpoint` as a user runs them: the binary, the standard AWS
//! environment pointing at moto, settings from the same GREENPIPE_CLEANUP_* variables as the Lambda.

use std::process::Output;

use greenpipe_tests::Aws;

use crate::common::{describe, greenpipe_on_emulator, stdout_json};

fn greenpipe(args: &[&str], bucket: &str) -> Output {
    greenpipe_on_emulator()
        .args(args)
        // Only greenpipe's own objects in this test's bucket, and everything under its prefixes is expired.
        .env("GREENPIPE_CLEANUP_AREAS", "objects")
        .env("GREENPIPE_CLEANUP_BUCKETS", bucket)
        .env("GREENPIPE_CLEANUP_REPORT_BUCKET", bucket)
        .env("GREENPIPE_CLEANUP_RETENTION_DAYS", "0")
        .env("GREENPIPE_CLEANUP_MIN_AGE_HOURS", "0")
        .output()
        .expect("run the greenpipe binary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_reports_then_acts_on_expired_objects_only() {
    let aws = Aws::new().await;
    let bucket = aws.bucket(false).await;
    aws.put(&bucket, "greenpipe/tmp/scratch.bin", "x").await;
    aws.put(&bucket, "greenpipe/quarantine/incoming/bad.csv", "a,b\n")
        .await;
    aws.put(&bucket, "incoming/sales/data.csv", "a,b\n1,2\n").await;

    // Dry run (the default): the report names both expired objects, and nothing changes.
    let dry = greenpipe(&["cleanup", "--json"], &bucket);
    assert_eq!(dry.status.code(), Some(0), "{}", describe(&dry));
    let report = stdout_json(&dry);
    assert_eq!(report["dry_run"], true, "{report}");
    let text = report.to_string();
    assert!(text.contains("greenpipe/tmp/scratch.bin"), "{report}");
    assert!(text.contains("greenpipe/quarantine/incoming/bad.csv"), "{report}");
    assert!(
        !text.contains("incoming/sales/data.csv"),
        "data is never a cleanup candidate: {report}"
    );
    assert!(aws.get(&bucket, "greenpipe/tmp/scratch.bin").await.is_some());

    // The table form says the same for a person.
    let table = greenpipe(&["cleanup", "--dry-run"], &bucket);
    assert_eq!(table.status.code(), Some(0), "{}", describe(&table));
    assert!(String::from_utf8_lossy(&table.stdout).contains("greenpipe/tmp/scratch.bin"));

    // Act: the expired objects go, the dataset stays.
    let act = greenpipe(&["cleanup", "--act", "--json"], &bucket);
    assert_eq!(act.status.code(), Some(0), "{}", describe(&act));
    assert_eq!(stdout_json(&act)["dry_run"], false);
    assert!(aws.get(&bucket, "greenpipe/tmp/scratch.bin").await.is_none());
    assert!(aws
        .get(&bucket, "greenpipe/quarantine/incoming/bad.csv")
        .await
        .is_none());
    assert!(aws.get(&bucket, "incoming/sales/data.csv").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_endpoint_without_a_manifest_is_a_clear_error() {
    let aws = Aws::new().await;
    let bucket = aws.bucket(false).await;
    let missing = format!("s3://{bucket}/greenpipe/reports/cleanup/manifests/none.json");
    let out = greenpipe(&["restore-endpoint", &missing], &bucket);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(!out.stderr.is_empty(), "{}", describe(&out));
    let out = greenpipe(&["restore-endpoint", "cli/tests/no-such-manifest.json"], &bucket);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

/// `greenpipe notebooks attach` on moto: a dry run reads the instance and the configuration and says
/// what it would do; a running instance without --stop is refused; a missing configuration names the
/// stack output to look for. (Carrying the steps out needs UpdateNotebookInstance, which moto lacks:
/// `local/src/notebooks.rs` replays it at the SDK's HTTP layer.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notebooks_attach_dry_run_and_refusals() {
    let aws = Aws::new().await;
    let sm = aws_sdk_sagemaker::Client::new(&aws.sdk);
    let name = greenpipe_tests::unique_name("nb");
    let stack = greenpipe_tests::unique_name("stack");
    let config = format!("{stack}-notebook-activity");
    sm.create_notebook_instance_lifecycle_config()
        .notebook_instance_lifecycle_config_name(&config)
        .send()
        .await
        .unwrap();
    sm.create_notebook_instance()
        .notebook_instance_name(&name)
        .instance_type(aws_sdk_sagemaker::types::InstanceType::MlT3Medium)
        .role_arn("arn:aws:iam::123456789012:role/notebook")
        .send()
        .await
        .unwrap();
    let status = sm
        .describe_notebook_instance()
        .notebook_instance_name(&name)
        .send()
        .await
        .unwrap()
        .notebook_instance_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    assert_eq!(status, "InService");

    let run = |args: &[&str]| {
        greenpipe_on_emulator()
            .args(["notebooks", "attach", &name, "--stack", &stack])
            .args(args)
            .output()
            .expect("run the greenpipe binary")
    };
    let dry = run(&["--dry-run", "--stop"]);
    assert_eq!(dry.status.code(), Some(0), "{}", describe(&dry));
    let out = String::from_utf8_lossy(&dry.stdout);
    for line in [
        "(InService, lifecycle configuration: none)",
        "would: stop it",
        &format!("would: attach lifecycle configuration {config}"),
        "would: start it again",
        "dry run: nothing changed",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }

    let refused = run(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--stop"),
        "{}",
        describe(&refused)
    );

    let missing = greenpipe_on_emulator()
        .args([
            "notebooks",
            "attach",
            &name,
            "--config",
            "no-such-config",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2), "{}", describe(&missing));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("NotebookActivityLifecycleConfigName"),
        "{}",
        describe(&missing)
    );
}

/// `greenpipe rightsize ENDPOINT` on moto (the endpoint) and the CloudWatch loopback (its metrics: moto
/// does not speak CloudWatch's current protocol): a called ml.m5.xlarge endpoint peaking at 10 % CPU
/// and 15 % memory is told that a ml.m5.large holds it, and what that saves; one too busy is told to
/// keep its type and why; an endpoint that does not exist is exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rightsize_names_the_smaller_type_and_its_saving() {
    use aws_sdk_sagemaker::types::{ContainerDefinition, ProductionVariant, ProductionVariantInstanceType};
    use greenpipe_tests::cloudwatch::CloudWatch;

    let aws = Aws::new().await;
    let sm = aws_sdk_sagemaker::Client::new(&aws.sdk);
    let cw = CloudWatch::start().await;
    let name = |n: &str| greenpipe_tests::unique_name(n);
    let (light, busy) = (name("light"), name("busy"));
    for endpoint in [&light, &busy] {
        sm.create_model()
            .model_name(endpoint)
            .execution_role_arn("arn:aws:iam::123456789012:role/greenpipe-sagemaker")
            .primary_container(ContainerDefinition::builder().image("img:1").build())
            .send()
            .await
            .expect("CreateModel");
        sm.create_endpoint_config()
            .endpoint_config_name(endpoint)
            .production_variants(
                ProductionVariant::builder()
                    .variant_name("AllTraffic")
                    .model_name(endpoint)
                    .instance_type(ProductionVariantInstanceType::MlM5Xlarge)
                    .initial_instance_count(1)
                    .build(),
            )
            .send()
            .await
            .expect("CreateEndpointConfig");
        sm.create_endpoint()
            .endpoint_name(endpoint)
            .endpoint_config_name(endpoint)
            .send()
            .await
            .expect("CreateEndpoint");
        cw.set_invocations(endpoint, "AllTraffic", &[120.0]);
    }
    let seed = |endpoint: &str, cpu_peak: f64, memory_peak: f64| {
        let dims = [("EndpointName", endpoint), ("VariantName", "AllTraffic")];
        for (metric, peak) in [("CPUUtilization", cpu_peak), ("MemoryUtilization", memory_peak)] {
            cw.set_series(
                "/aws/sagemaker/Endpoints",
                metric,
                &dims,
                "Average",
                &[peak / 2.0],
            );
            cw.set_series("/aws/sagemaker/Endpoints", metric, &dims, "Maximum", &[peak]);
        }
    };
    // CPU summed over 4 vCPUs: 40 % is 10 % of the instance.
    seed(&light, 40.0, 15.0);
    seed(&busy, 280.0, 15.0);

    let run = |args: Vec<String>| {
        let mut command = greenpipe_on_emulator();
        command
            .args(args)
            .env("AWS_ENDPOINT_URL_CLOUDWATCH", &cw.endpoint);
        // The loopback is served by this test's runtime: wait off its worker threads.
        tokio::task::spawn_blocking(move || command.output().expect("run the greenpipe binary"))
    };
    let out = run(vec!["rightsize".into(), light.clone(), "--json".into()])
        .await
        .expect("join");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = stdout_json(&out);
    let v = &doc["variants"][0];
    assert_eq!(v["recommended"], "ml.m5.large", "{doc:#}");
    assert_eq!(v["utilisation"]["cpu"]["peak"], 10.0, "{doc:#}");
    // ($0.23 − $0.115) × 24 h.
    assert!(
        (v["saving_per_day"]["usd"].as_f64().unwrap() - 2.76).abs() < 1e-9,
        "{doc:#}"
    );
    assert!(v["saving_per_day"]["kg_co2e"].as_f64().unwrap() > 0.0);

    let out = run(vec![
        "rightsize".into(),
        busy.clone(),
        "--window-hours".into(),
        "12".into(),
    ])
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("keep: peaked at 70 % CPU and 15 % memory: not under-used")
            && text.contains("over 12.0 h"),
        "{text}"
    );

    let out = run(vec!["rightsize".into(), name("missing")])
        .await
        .expect("join");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}
