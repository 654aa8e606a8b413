//! cleanup-idle against moto (SageMaker, S3, CloudWatch Logs) and the CloudWatch loopback server (the
//! SDK's RPC v2 CBOR protocol, which moto does not speak).
//!
//! Isolation: tests share one moto, so each test marks its resources with its own managed-tag value
//! (`greenpipe:managed=<unique>`); everything else in moto is "unmanaged" for that test. Ages are exact:
//! resources are created on either side of a split second and the run's clock is fixed at
//! `split + 1 h` with a one-hour minimum age.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sagemaker::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_sagemaker::config::{ConfigBag, Intercept};
use aws_sdk_sagemaker::operation::delete_endpoint::DeleteEndpointInput;
use aws_sdk_sagemaker::types::{
    ContainerDefinition, NotebookInstanceStatus, ProductionVariant, ProductionVariantInstanceType,
    ProductionVariantServerlessConfig, Tag,
};
use greenpipe::stages::cleanup_idle::endpoint_restore;
use greenpipe::stages::cleanup_idle::{self, Clock, Deps};
use greenpipe::stages::cleanup_idle::{Area, CleanupConfig, CleanupReport, EventOverrides, Outcome};
use greenpipe::stages::{cleanup_idle::CleanupIdle, function_handler};
use greenpipe_tests::cloudwatch::CloudWatch;
use greenpipe_tests::{outcome_label, unique_name, Aws, ACCOUNT_ID};

const HOUR: Duration = Duration::from_secs(3600);

struct Fixture {
    aws: Aws,
    sm: aws_sdk_sagemaker::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    cw: CloudWatch,
    /// Value of this test's `greenpipe:managed` tag.
    managed: String,
    /// Name prefix of this test's resources.
    p: String,
    bucket: String,
    kept_bucket: String,
    report_bucket: String,
    log_prefix: String,
    /// Created before it: old; after it: young.
    split: i64,
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

impl Fixture {
    async fn new() -> Fixture {
        let aws = Aws::new().await;
        let p = unique_name("cl");
        Fixture {
            sm: aws_sdk_sagemaker::Client::new(&aws.sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(&aws.sdk),
            cw: CloudWatch::start().await,
            managed: p.clone(),
            bucket: aws.bucket(false).await,
            kept_bucket: aws.bucket(false).await,
            report_bucket: aws.bucket(false).await,
            log_prefix: format!("/aws/lambda/greenpipe-{p}-"),
            p,
            aws,
            split: 0,
        }
    }

    fn tags(&self, extra: &[(&str, &str)]) -> Vec<Tag> {
        let mut tags = vec![Tag::builder()
            .key("greenpipe:managed")
            .value(&self.managed)
            .build()];
        tags.extend(
            extra
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build()),
        );
        tags
    }

    fn name(&self, n: &str) -> String {
        format!("{}-{n}", self.p)
    }

    async fn model(&self, n: &str, tags: Vec<Tag>) {
        self.sm
            .create_model()
            .model_name(self.name(n))
            .execution_role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/greenpipe-sagemaker"))
            .primary_container(
                ContainerDefinition::builder()
                    .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1")
                    .model_data_url(format!("s3://models/{n}/model.tar.gz"))
                    .environment("SAGEMAKER_PROGRAM", "serve.py")
                    .build(),
            )
            .set_tags(Some(tags))
            .send()
            .await
            .expect("CreateModel");
    }

    async fn config(&self, n: &str, variants: &[(&str, &str, bool)], tags: Vec<Tag>) {
        let variants = variants
            .iter()
            .map(|(variant, model, serverless)| {
                let b = ProductionVariant::builder()
                    .variant_name(*variant)
                    .model_name(self.name(model));
                if *serverless {
                    b.serverless_config(
                        ProductionVariantServerlessConfig::builder()
                            .memory_size_in_mb(2048)
                            .max_concurrency(5)
                            .build(),
                    )
                    .build()
                } else {
                    b.instance_type(ProductionVariantInstanceType::MlM5Xlarge)
                        .initial_instance_count(1)
                        .initial_variant_weight(1.0)
                        .build()
                }
            })
            .collect();
        self.sm
            .create_endpoint_config()
            .endpoint_config_name(self.name(n))
            .set_production_variants(Some(variants))
            .set_tags(Some(tags))
            .send()
            .await
            .expect("CreateEndpointConfig");
    }

    /// Model `<n>-model`, config `<n>-config` with one variant `AllTraffic`, endpoint `<n>`.
    async fn endpoint(&self, n: &str, extra: &[(&str, &str)], managed: bool, serverless: bool) {
        let tags = if managed { self.tags(extra) } else { Vec::new() };
        self.model(&format!("{n}-model"), tags.clone()).await;
        self.config(
            &format!("{n}-config"),
            &[("AllTraffic", &format!("{n}-model"), serverless)],
            tags.clone(),
        )
        .await;
        self.sm
            .create_endpoint()
            .endpoint_name(self.name(n))
            .endpoint_config_name(self.name(&format!("{n}-config")))
            .set_tags(Some(tags))
            .send()
            .await
            .expect("CreateEndpoint");
    }

    async fn notebook(&self, n: &str, extra: &[(&str, &str)]) {
        self.sm
            .create_notebook_instance()
            .notebook_instance_name(self.name(n))
            .instance_type(aws_sdk_sagemaker::types::InstanceType::MlT3Medium)
            .role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/greenpipe-sagemaker"))
            .set_tags(Some(self.tags(extra)))
            .send()
            .await
            .expect("CreateNotebookInstance");
    }

    async fn log_group(&self, n: &str, retention: Option<i32>, tags: &[(&str, &str)]) {
        let name = format!("{}{n}", self.log_prefix);
        let mut req = self.logs.create_log_group().log_group_name(&name);
        for (k, v) in tags {
            req = req.tags(*k, *v);
        }
        req.send().await.expect("CreateLogGroup");
        if let Some(days) = retention {
            self.logs
                .put_retention_policy()
                .log_group_name(&name)
                .retention_in_days(days)
                .send()
                .await
                .expect("PutRetentionPolicy");
        }
    }

    /// The inventory: old resources, the split second, young ones.
    async fn seed(&mut self) {
        // Endpoints. busy: 12 invocations; idle: none; kept: idle but tagged; multi: two variants, only
        // `b` called; serverless: idle; unmanaged: idle, no managed tag.
        self.endpoint("busy", &[], true, false).await;
        self.endpoint("idle", &[("team", "ml")], true, false).await;
        self.endpoint("kept", &[("greenpipe:keep", "true")], true, false)
            .await;
        self.endpoint("serverless", &[], true, true).await;
        self.endpoint("unmanaged", &[], false, false).await;
        self.model("multi-a-model", self.tags(&[])).await;
        self.model("multi-b-model", self.tags(&[])).await;
        self.config(
            "multi-config",
            &[("a", "multi-a-model", false), ("b", "multi-b-model", false)],
            self.tags(&[]),
        )
        .await;
        self.sm
            .create_endpoint()
            .endpoint_name(self.name("multi"))
            .endpoint_config_name(self.name("multi-config"))
            .set_tags(Some(self.tags(&[])))
            .send()
            .await
            .expect("CreateEndpoint multi");
        self.cw
            .set_invocations(&self.name("busy"), "AllTraffic", &[5.0, 7.0]);
        // busy is mostly unused: CPU summed over ml.m5.xlarge's 4 vCPUs peaks at 40 % (10 % of the
        // instance), memory at 15 %.
        let busy = self.name("busy");
        let dims = [("EndpointName", busy.as_str()), ("VariantName", "AllTraffic")];
        for (metric, average, peak) in [("CPUUtilization", 20.0, 40.0), ("MemoryUtilization", 10.0, 15.0)] {
            self.cw
                .set_series("/aws/sagemaker/Endpoints", metric, &dims, "Average", &[average]);
            self.cw
                .set_series("/aws/sagemaker/Endpoints", metric, &dims, "Maximum", &[peak]);
        }
        self.cw.set_invocations(&self.name("multi"), "a", &[0.0]);
        self.cw.set_invocations(&self.name("multi"), "b", &[3.0]);

        // Orphans: a config nobody uses (its model stays referenced by it) and a model nobody uses.
        self.model("orphan-cfg-model", self.tags(&[])).await;
        self.config(
            "orphan-config",
            &[("AllTraffic", "orphan-cfg-model", false)],
            self.tags(&[]),
        )
        .await;
        self.model("orphan-model", self.tags(&[])).await;
        self.model("orphan-kept-model", self.tags(&[("greenpipe:keep", "1")]))
            .await;

        // Notebooks are judged only by the Jupyter activity their lifecycle configuration records.
        let long_ago = (now_secs() - 2 * 3600).to_string();
        let quiet = ("greenpipe:last-activity", long_ago.as_str());
        self.notebook("nb-idle", &[quiet]).await;
        self.notebook("nb-kept", &[quiet, ("greenpipe:keep", "true")])
            .await;
        // No signal: reported, never stopped, however old.
        self.notebook("nb-unsignalled", &[]).await;

        // Log groups are chosen by the managed tag, not by their name prefix alone.
        let managed = ("greenpipe:managed", self.managed.as_str());
        self.log_group("validate", None, &[managed]).await;
        self.log_group("plan", Some(14), &[managed]).await;
        self.log_group("kept", None, &[managed, ("greenpipe:keep", "true")])
            .await;
        self.log_group("untagged", None, &[]).await;

        for key in [
            "greenpipe/tmp/old.json",
            "greenpipe/reports/old.json",
            "data/old.csv",
        ] {
            self.aws.put(&self.bucket, key, "x").await;
            self.aws.put(&self.kept_bucket, key, "x").await;
        }
        self.aws
            .s3
            .put_bucket_tagging()
            .bucket(&self.kept_bucket)
            .tagging(
                aws_sdk_s3::types::Tagging::builder()
                    .tag_set(
                        aws_sdk_s3::types::Tag::builder()
                            .key("greenpipe:keep")
                            .value("true")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("PutBucketTagging");

        tokio::time::sleep(Duration::from_millis(1200)).await;
        self.split = now_secs();
        tokio::time::sleep(Duration::from_millis(1200)).await;

        self.endpoint("young", &[], true, false).await;
        self.notebook("nb-young", &[("greenpipe:last-activity", "2020-01-01T00:00:00Z")])
            .await;
        self.model("young-model", self.tags(&[])).await;
        self.aws.put(&self.bucket, "greenpipe/tmp/new.json", "x").await;
    }

    fn config_(&self) -> CleanupConfig {
        CleanupConfig {
            managed_tag: ("greenpipe:managed".into(), Some(self.managed.clone())),
            min_age: HOUR,
            endpoint_idle: HOUR / 2,
            notebook_idle: HOUR / 2,
            orphan_age: HOUR,
            retention: HOUR,
            buckets: vec![self.bucket.clone(), self.kept_bucket.clone()],
            log_group_prefixes: vec![self.log_prefix.clone()],
            report_bucket: Some(self.report_bucket.clone()),
            // moto has no Studio (ListApps, ListUserProfiles, ...): tests/cleanup_studio.rs covers
            // those areas.
            areas: Area::ALL
                .into_iter()
                .filter(|a| !matches!(a, Area::StudioApps | Area::StudioSettings))
                .collect(),
            page_size: Some(2),
            // This stack lets its events act (the default lets them only tighten: see
            // events_may_only_tighten_what_the_stack_allows).
            event_overrides: EventOverrides::Any,
            ..CleanupConfig::default()
        }
    }

    fn deps(&self, sm: aws_sdk_sagemaker::Client) -> Deps {
        self.cw.set_page_size(3);
        Deps {
            config: self.config_(),
            region: "us-east-1".into(),
            sagemaker: sm,
            cloudwatch: self.cw.client(&self.aws.sdk),
            logs: self.logs.clone(),
            s3: self.aws.s3.clone(),
            sns: aws_sdk_sns::Client::new(&self.aws.sdk),
            events: aws_sdk_eventbridge::Client::new(&self.aws.sdk),
            clock: Clock::Fixed(self.split + 3600),
        }
    }

    /// This test's records as (kind, resource without the test prefix, action, outcome).
    fn summary(&self, report: &CleanupReport) -> Vec<(String, String, String, String)> {
        let mut rows: Vec<_> = report
            .actions
            .iter()
            .filter(|a| {
                a.resource.contains(&self.p)
                    || a.resource.starts_with(&self.bucket)
                    || a.resource.starts_with(&self.kept_bucket)
            })
            .map(|a| {
                let resource = a
                    .resource
                    .replace(&self.log_prefix, "log:")
                    .replace(&format!("{}-", self.p), "")
                    .replace(&self.kept_bucket, "KEPT")
                    .replace(&self.bucket, "BUCKET");
                let outcome = outcome_label(&a.outcome);
                (
                    a.kind.name().to_string(),
                    resource,
                    a.action.name().to_string(),
                    outcome,
                )
            })
            .collect();
        rows.sort();
        rows
    }

    async fn endpoint_exists(&self, n: &str) -> bool {
        self.sm
            .describe_endpoint()
            .endpoint_name(self.name(n))
            .send()
            .await
            .is_ok()
    }
}

fn row(kind: &str, resource: &str, action: &str, outcome: &str) -> (String, String, String, String) {
    (kind.into(), resource.into(), action.into(), outcome.into())
}

/// The expected records, with `outcome` for the ones acted on.
fn expected(outcome: &str, lifecycle: (&str, &str)) -> Vec<(String, String, String, String)> {
    let mut rows = vec![
        row("endpoint", "busy", "right-size", "reported"),
        row("endpoint", "idle", "delete-endpoint", outcome),
        row("endpoint", "serverless", "delete-endpoint", outcome),
        row("endpoint", "kept", "delete-endpoint", "skipped:Kept"),
        row("endpoint", "young", "delete-endpoint", "skipped:TooYoung"),
        row("notebook-instance", "nb-idle", "stop-notebook-instance", outcome),
        row(
            "notebook-instance",
            "nb-kept",
            "stop-notebook-instance",
            "skipped:Kept",
        ),
        row(
            "notebook-instance",
            "nb-young",
            "stop-notebook-instance",
            "skipped:TooYoung",
        ),
        row("notebook-instance", "nb-unsignalled", "report-only", "reported"),
        row(
            "endpoint-config",
            "orphan-config",
            "delete-endpoint-config",
            outcome,
        ),
        row("model", "orphan-model", "delete-model", outcome),
        row("model", "orphan-kept-model", "delete-model", "skipped:Kept"),
        row("log-group", "log:validate", "set-log-retention", outcome),
        row("log-group", "log:kept", "set-log-retention", "skipped:Kept"),
        row("bucket", "BUCKET", lifecycle.0, lifecycle.1),
        row("bucket", "KEPT", lifecycle.0, "skipped:Kept"),
        row(
            "object",
            "BUCKET/greenpipe/tmp/old.json",
            "delete-object",
            outcome,
        ),
        row(
            "object",
            "KEPT/greenpipe/tmp/old.json",
            "delete-object",
            "skipped:Kept",
        ),
    ];
    // greenpipe/reports/old.json is not picked: validation reports outlive the idempotency window (a
    // day) whatever the retention, so a late duplicate event still finds its report.
    rows.sort();
    rows
}

#[tokio::test]
async fn dry_run_then_act_then_restore() {
    let mut f = Fixture::new().await;
    f.seed().await;
    let deps = f.deps(f.sm.clone());

    // 1. The scheduled event (events/cleanup-idle.json asks for a dry run) through the Lambda handler.
    let event: serde_json::Value = serde_json::from_slice(
        &std::fs::read(greenpipe_tests::repo_root().join("events/cleanup-idle.json")).unwrap(),
    )
    .unwrap();
    let out =
        function_handler::<CleanupIdle>(&deps, lambda_runtime::LambdaEvent::new(event, Default::default()))
            .await
            .expect("dry run");
    assert_eq!(
        out["dryRun"],
        serde_json::Value::Null,
        "the report uses snake_case"
    );
    assert_eq!(out["dry_run"], true);
    let dry = cleanup_idle::handle(&deps, serde_json::json!({"dryRun": true}))
        .await
        .unwrap();
    assert_eq!(f.summary(&dry), expected("dry-run", ("report-only", "reported")));
    assert_eq!(dry.totals.done, 0);
    assert!(dry.inventory_errors.is_empty(), "{:?}", dry.inventory_errors);
    // Nothing changed.
    assert!(f.endpoint_exists("idle").await);
    assert_eq!(f.aws.keys(&f.bucket, "greenpipe/").await.len(), 3);
    // Every listing was paginated (page size 2) and the metrics covered every variant of every
    // InService endpoint, the multi-variant one's both.
    assert!(
        dry.listing_pages["sagemaker:ListEndpoints"] >= 4,
        "{:?}",
        dry.listing_pages
    );
    assert!(dry.listing_pages["sagemaker:ListModels"] >= 1);
    assert!(
        dry.listing_pages["cloudwatch:GetMetricData"] >= 3,
        "{:?}",
        dry.listing_pages
    );
    let requests = f.cw.requests();
    let last: Vec<_> = requests
        .iter()
        .rfind(|r| r.next_token.is_none() && r.queries.iter().all(|q| q.metric_name == "Invocations"))
        .map(|r| r.queries.clone())
        .unwrap();
    let ours: Vec<(String, String)> = last
        .iter()
        .filter(|q| q.dimensions[0].1.starts_with(&f.p))
        .map(|q| {
            (
                q.dimensions[0].1.replace(&format!("{}-", f.p), ""),
                q.dimensions[1].1.clone(),
            )
        })
        .collect();
    for want in [
        ("busy", "AllTraffic"),
        ("multi", "a"),
        ("multi", "b"),
        ("serverless", "AllTraffic"),
        ("idle", "AllTraffic"),
    ] {
        assert!(
            ours.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} not queried: {ours:?}"
        );
    }
    assert!(last
        .iter()
        .all(|q| q.stat == "Sum" && q.period == 1800 && q.namespace == "AWS/SageMaker"));
    // Avoided per day in the dry run: two ml.m5.xlarge-days would be saved... one, the serverless
    // endpoint has nothing idle; plus a ml.t3.medium notebook.
    assert_eq!(
        dry.avoided_per_day.instance_hours, 48.0,
        "{:?}",
        dry.avoided_per_day
    );
    assert!(dry.avoided_per_day.footprint.usd > 0.0 && dry.avoided_per_day.footprint.kg_co2e > 0.0);
    // busy: its peak (10 % CPU, 15 % memory of a ml.m5.xlarge) fits a ml.m5.large at 20 % / 30 %:
    // ($0.23 − $0.115) × 24 h = $2.76 a day, reported, not applied.
    let right_size = dry
        .actions
        .iter()
        .find(|a| a.action == cleanup_idle::Action::RightSize && a.resource == f.name("busy"))
        .expect("busy is right-sized");
    assert!(
        right_size
            .reason
            .contains("1 × ml.m5.large (2 vCPUs, 8 GiB) would peak near 20 % / 30 %"),
        "{}",
        right_size.reason
    );
    assert!((dry.right_size_savings_per_day.footprint.usd - 2.76).abs() < 1e-9);
    assert!(dry.right_size_savings_per_day.footprint.kg_co2e > 0.0);
    assert!(f.cw.requests().iter().any(|r| r
        .queries
        .iter()
        .any(|q| q.namespace == "/aws/sagemaker/Endpoints" && q.stat == "Maximum")));

    // 2. Act, with lifecycle rules for buckets that have none.
    let act = cleanup_idle::handle(&deps, serde_json::json!({"dryRun": false, "putLifecycle": true}))
        .await
        .unwrap();
    assert_eq!(f.summary(&act), expected("done", ("put-lifecycle", "done")));
    assert!(!f.endpoint_exists("idle").await && !f.endpoint_exists("serverless").await);
    for n in ["busy", "kept", "multi", "young", "unmanaged"] {
        assert!(f.endpoint_exists(n).await, "{n} must survive");
    }
    let nb = |n: &str| {
        let sm = f.sm.clone();
        let name = f.name(n);
        async move {
            sm.describe_notebook_instance()
                .notebook_instance_name(name)
                .send()
                .await
                .unwrap()
                .notebook_instance_status()
                .cloned()
        }
    };
    assert_eq!(nb("nb-idle").await, Some(NotebookInstanceStatus::Stopped));
    assert_eq!(nb("nb-kept").await, Some(NotebookInstanceStatus::InService));
    assert_eq!(
        nb("nb-unsignalled").await,
        Some(NotebookInstanceStatus::InService),
        "a notebook without an activity signal is never stopped"
    );
    assert!(f
        .sm
        .describe_model()
        .model_name(f.name("orphan-model"))
        .send()
        .await
        .is_err());
    assert!(f
        .sm
        .describe_model()
        .model_name(f.name("orphan-kept-model"))
        .send()
        .await
        .is_ok());
    assert!(f
        .sm
        .describe_model()
        .model_name(f.name("orphan-cfg-model"))
        .send()
        .await
        .is_ok());
    assert!(f
        .sm
        .describe_endpoint_config()
        .endpoint_config_name(f.name("orphan-config"))
        .send()
        .await
        .is_err());
    let mut left = f.aws.keys(&f.bucket, "").await;
    left.sort();
    // The validation report stays (the idempotency window); expired scratch goes; data is never touched.
    assert_eq!(
        left,
        vec![
            "data/old.csv",
            "greenpipe/reports/old.json",
            "greenpipe/tmp/new.json"
        ]
    );
    assert_eq!(f.aws.keys(&f.kept_bucket, "").await.len(), 3);
    let groups = f
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&f.log_prefix)
        .send()
        .await
        .unwrap();
    let retention: BTreeMap<String, Option<i32>> = groups
        .log_groups()
        .iter()
        .map(|g| {
            (
                g.log_group_name().unwrap().replace(&f.log_prefix, ""),
                g.retention_in_days(),
            )
        })
        .collect();
    assert_eq!(
        retention,
        BTreeMap::from([
            ("kept".into(), None),
            ("plan".into(), Some(14)),
            // Untagged: not greenpipe's, whatever its name says.
            ("untagged".into(), None),
            ("validate".into(), Some(30))
        ])
    );
    let lifecycle = f
        .aws
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&f.bucket)
        .send()
        .await
        .expect("lifecycle put");
    assert_eq!(lifecycle.rules().len(), 4, "3 prefixes + abort multipart");
    // The report is in S3.
    let uri = act.report_uri.clone().unwrap();
    let key = uri.strip_prefix(&format!("s3://{}/", f.report_bucket)).unwrap();
    let stored: serde_json::Value =
        serde_json::from_slice(&f.aws.get(&f.report_bucket, key).await.unwrap()).unwrap();
    assert_eq!(stored["totals"]["done"], act.totals.done);

    // 3. A second run: the deleted endpoints' configs and models are orphans now (the sweep takes two
    // runs by design); the rest is protected.
    let again = cleanup_idle::handle(&deps, serde_json::json!({"dryRun": true}))
        .await
        .unwrap();
    let acting: Vec<_> = f
        .summary(&again)
        .into_iter()
        .filter(|r| !r.3.starts_with("skipped"))
        .collect();
    assert_eq!(
        acting,
        vec![
            row("endpoint", "busy", "right-size", "reported"),
            row(
                "endpoint-config",
                "idle-config",
                "delete-endpoint-config",
                "dry-run"
            ),
            row(
                "endpoint-config",
                "serverless-config",
                "delete-endpoint-config",
                "dry-run"
            ),
            // Its config went in the first run; the deleted endpoints' models wait for their configs.
            row("model", "orphan-cfg-model", "delete-model", "dry-run"),
            // Still no activity signal: reported again, still not stopped.
            row("notebook-instance", "nb-unsignalled", "report-only", "reported"),
        ]
    );

    // 4. The manifest recreates the endpoint: config, models, tags.
    let idle = act.actions.iter().find(|a| a.resource == f.name("idle")).unwrap();
    let manifest_uri = idle.manifest.clone().expect("manifest written before the delete");
    let manifest = endpoint_restore::load_manifest_s3(&f.aws.s3, &manifest_uri)
        .await
        .unwrap();
    assert_eq!(manifest.models.len(), 1);
    assert_eq!(
        manifest.endpoint_config.production_variants[0]
            .instance_type
            .as_deref(),
        Some("ml.m5.xlarge")
    );
    // Simulate the orphan sweep having removed config and model since.
    f.sm.delete_endpoint_config()
        .endpoint_config_name(f.name("idle-config"))
        .send()
        .await
        .unwrap();
    f.sm.delete_model()
        .model_name(f.name("idle-model"))
        .send()
        .await
        .unwrap();
    let restored = endpoint_restore::restore_endpoint(&f.sm, &manifest)
        .await
        .unwrap();
    assert_eq!(restored.endpoint_config, "created");
    assert_eq!(restored.models[&f.name("idle-model")], "created");
    let e =
        f.sm.describe_endpoint()
            .endpoint_name(f.name("idle"))
            .send()
            .await
            .unwrap();
    assert_eq!(e.endpoint_config_name(), Some(f.name("idle-config").as_str()));
    let tags =
        f.sm.list_tags()
            .resource_arn(e.endpoint_arn().unwrap())
            .send()
            .await
            .unwrap();
    let tags: BTreeMap<_, _> = tags
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags.get("team"), Some(&"ml"));
    let model =
        f.sm.describe_model()
            .model_name(f.name("idle-model"))
            .send()
            .await
            .unwrap();
    let c = model.primary_container().unwrap();
    assert_eq!(c.model_data_url(), Some("s3://models/idle-model/model.tar.gz"));
    assert_eq!(c.environment().unwrap()["SAGEMAKER_PROGRAM"], "serve.py");
    assert!(model
        .execution_role_arn()
        .unwrap()
        .ends_with("role/greenpipe-sagemaker"));
}

/// Fails DeleteEndpoint for one endpoint name, before the request is sent. moto cannot be told to
/// fail one call, so the fault is injected at the SDK's own interceptor layer (the request never
/// reaches moto, exactly as a network or permission failure would surface to our code).
#[derive(Debug)]
struct FailDeleteEndpoint(String);

impl Intercept for FailDeleteEndpoint {
    fn name(&self) -> &'static str {
        "FailDeleteEndpoint"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sagemaker::error::BoxError> {
        match context.input().downcast_ref::<DeleteEndpointInput>() {
            Some(input) if input.endpoint_name() == Some(self.0.as_str()) => {
                Err("injected failure: AccessDenied".into())
            }
            _ => Ok(()),
        }
    }
}

#[tokio::test]
async fn one_failing_delete_leaves_the_others_done() {
    let mut f = Fixture::new().await;
    f.endpoint("idle-a", &[], true, false).await;
    f.endpoint("idle-b", &[], true, false).await;
    f.model("orphan-model", f.tags(&[])).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    f.split = now_secs();
    let conf = aws_sdk_sagemaker::config::Builder::from(&f.aws.sdk)
        .interceptor(FailDeleteEndpoint(f.name("idle-a")))
        .build();
    let mut deps = f.deps(aws_sdk_sagemaker::Client::from_conf(conf));
    deps.config.areas = [Area::Endpoints, Area::Orphans].into_iter().collect();
    deps.config.dry_run = false;
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    let rows = f.summary(&report);
    assert_eq!(
        rows,
        vec![
            row("endpoint", "idle-a", "delete-endpoint", "failed:AwsError"),
            row("endpoint", "idle-b", "delete-endpoint", "done"),
            row("model", "orphan-model", "delete-model", "done"),
        ]
    );
    assert!(f.endpoint_exists("idle-a").await);
    assert!(!f.endpoint_exists("idle-b").await);
    assert_eq!(report.totals.failed, 1);
    let failed = &report
        .actions
        .iter()
        .find(|a| a.resource == f.name("idle-a"))
        .unwrap();
    let Outcome::Failed { message, .. } = &failed.outcome else {
        unreachable!()
    };
    assert!(message.contains("injected failure"), "{message}");
    // Its manifest was written (the delete came after it) and the table shows the failure.
    assert!(report.table().contains("FAILED (AwsError)"));
}

#[tokio::test]
async fn invalid_events_and_caps() {
    let mut f = Fixture::new().await;
    for n in ["e1", "e2", "e3"] {
        f.endpoint(n, &[], true, false).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    f.split = now_secs();
    let mut deps = f.deps(f.sm.clone());
    deps.config.areas = [Area::Endpoints].into_iter().collect();
    let err = cleanup_idle::handle(&deps, serde_json::json!({"dryrun": false}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidEvent");
    let err = cleanup_idle::handle(&deps, serde_json::json!([1]))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidEvent");
    let report = cleanup_idle::handle(&deps, serde_json::json!({"maxActions": 2}))
        .await
        .unwrap();
    let rows = f.summary(&report);
    assert_eq!(rows.iter().filter(|r| r.3 == "dry-run").count(), 2, "{rows:?}");
    assert_eq!(
        rows.iter().filter(|r| r.3 == "skipped:CapReached").count(),
        1,
        "{rows:?}"
    );
}

/// An endpoint in a VPC is deleted only with a manifest that brings it back as it was: the models'
/// VpcConfig is in the manifest and restored; a setting the manifest cannot carry (here data capture)
/// keeps the endpoint, reported with that setting named.
#[tokio::test]
async fn vpc_endpoints_are_deleted_only_with_a_complete_manifest() {
    let mut f = Fixture::new().await;
    let vpc = || {
        aws_sdk_sagemaker::types::VpcConfig::builder()
            .security_group_ids("sg-0123")
            .subnets("subnet-a")
            .subnets("subnet-b")
            .build()
    };
    for n in ["vpc", "capture"] {
        f.sm.create_model()
            .model_name(f.name(&format!("{n}-model")))
            .execution_role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/greenpipe-sagemaker"))
            .primary_container(
                ContainerDefinition::builder()
                    .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1")
                    .model_data_url(format!("s3://models/{n}/model.tar.gz"))
                    .build(),
            )
            .vpc_config(vpc())
            .set_tags(Some(f.tags(&[])))
            .send()
            .await
            .expect("CreateModel");
        let mut config =
            f.sm.create_endpoint_config()
                .endpoint_config_name(f.name(&format!("{n}-config")))
                .production_variants(
                    ProductionVariant::builder()
                        .variant_name("AllTraffic")
                        .model_name(f.name(&format!("{n}-model")))
                        .instance_type(ProductionVariantInstanceType::MlM5Xlarge)
                        .initial_instance_count(1)
                        .build(),
                )
                .set_tags(Some(f.tags(&[])));
        if n == "capture" {
            config = config.data_capture_config(
                aws_sdk_sagemaker::types::DataCaptureConfig::builder()
                    .enable_capture(true)
                    .initial_sampling_percentage(10)
                    .destination_s3_uri("s3://capture/endpoint/")
                    .capture_options(
                        aws_sdk_sagemaker::types::CaptureOption::builder()
                            .capture_mode(aws_sdk_sagemaker::types::CaptureMode::Input)
                            .build(),
                    )
                    .build(),
            );
        }
        config.send().await.expect("CreateEndpointConfig");
        f.sm.create_endpoint()
            .endpoint_name(f.name(n))
            .endpoint_config_name(f.name(&format!("{n}-config")))
            .set_tags(Some(f.tags(&[])))
            .send()
            .await
            .expect("CreateEndpoint");
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    f.split = now_secs();
    let mut deps = f.deps(f.sm.clone());
    deps.config.areas = [Area::Endpoints].into_iter().collect();
    deps.config.dry_run = false;
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    assert_eq!(
        f.summary(&report),
        vec![
            row("endpoint", "capture", "delete-endpoint", "reported"),
            row("endpoint", "vpc", "delete-endpoint", "done"),
        ]
    );
    assert!(f.endpoint_exists("capture").await);
    assert!(!f.endpoint_exists("vpc").await);
    let held = report
        .actions
        .iter()
        .find(|a| a.resource == f.name("capture"))
        .unwrap();
    assert!(
        held.reason.contains("not deleted") && held.reason.contains("DataCaptureConfig"),
        "{}",
        held.reason
    );
    assert_eq!(held.manifest, None);

    // The deleted one's manifest carries its VPC; with its model gone too, a restore brings both back
    // as they were.
    let done = report
        .actions
        .iter()
        .find(|a| a.resource == f.name("vpc"))
        .unwrap();
    let uri = done.manifest.clone().expect("manifest");
    let manifest = endpoint_restore::load_manifest_s3(&f.aws.s3, &uri).await.unwrap();
    let spec = manifest.models[0]
        .vpc_config
        .clone()
        .expect("vpc in the manifest");
    assert_eq!(spec.subnets, ["subnet-a", "subnet-b"]);
    assert_eq!(spec.security_group_ids, ["sg-0123"]);
    f.sm.delete_model()
        .model_name(f.name("vpc-model"))
        .send()
        .await
        .unwrap();
    let restored = endpoint_restore::restore_endpoint(&f.sm, &manifest)
        .await
        .unwrap();
    assert_eq!(restored.models[&f.name("vpc-model")], "created");
    let model =
        f.sm.describe_model()
            .model_name(f.name("vpc-model"))
            .send()
            .await
            .unwrap();
    assert_eq!(model.vpc_config(), Some(&vpc()));
    assert!(f.endpoint_exists("vpc").await);
}

/// A queue that receives what `subscribe` sends it (SNS or EventBridge), read back as JSON bodies.
struct Inbox {
    sqs: aws_sdk_sqs::Client,
    url: String,
    arn: String,
}

impl Inbox {
    async fn new(aws: &Aws, name: &str) -> Inbox {
        let sqs = aws_sdk_sqs::Client::new(&aws.sdk);
        let url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("CreateQueue")
            .queue_url
            .expect("queue url");
        let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT_ID}:{name}");
        Inbox { sqs, url, arn }
    }

    /// Every message waiting (the queue drained).
    async fn drain(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("ReceiveMessage");
            if got.messages().is_empty() {
                return out;
            }
            for m in got.messages() {
                out.push(serde_json::from_str(m.body().unwrap_or_default()).expect("JSON body"));
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
        }
    }
}

/// The grace period end to end on moto: a first run tags both idle endpoints and tells the SNS topic
/// (one message) and the EventBridge bus (an event each); a run inside the grace period waits and
/// sends nothing; the run after it deletes the endpoint still idle and clears the mark of the one
/// that was called meanwhile. A notice that cannot be sent takes its mark back.
#[tokio::test]
async fn grace_period_marks_notifies_waits_and_acts_only_when_still_idle() {
    let mut f = Fixture::new().await;
    for n in ["idle", "revived", "unlucky"] {
        f.endpoint(n, &[], true, false).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    f.split = now_secs();

    // The owners' channels: a topic and a bus, each delivering to a queue.
    let sns = aws_sdk_sns::Client::new(&f.aws.sdk);
    let events = aws_sdk_eventbridge::Client::new(&f.aws.sdk);
    let topic = sns
        .create_topic()
        .name(f.name("notices"))
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn
        .expect("topic arn");
    let mail = Inbox::new(&f.aws, &f.name("mail")).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&mail.arn)
        .send()
        .await
        .expect("Subscribe");
    let bus = f.name("bus");
    events
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("CreateEventBus");
    events
        .put_rule()
        .name(f.name("planned"))
        .event_bus_name(&bus)
        .event_pattern(r#"{"source": ["greenpipe.cleanup"], "detail-type": ["Cleanup Planned"]}"#)
        .send()
        .await
        .expect("PutRule");
    let feed = Inbox::new(&f.aws, &f.name("feed")).await;
    events
        .put_targets()
        .rule(f.name("planned"))
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&feed.arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("PutTargets");

    let mut deps = f.deps(f.sm.clone());
    deps.config.areas = [Area::Endpoints].into_iter().collect();
    deps.config.dry_run = false;
    deps.config.grace = 24 * HOUR;
    deps.config.notice_topic_arn = Some(topic.clone());
    deps.config.notice_event_bus = Some(bus.clone());
    let t0 = f.split + 3600;
    let mark_of = |n: &str| {
        let arn = format!("arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:endpoint/{}", f.name(n));
        let sm = f.sm.clone();
        async move {
            sm.list_tags()
                .resource_arn(arn)
                .send()
                .await
                .expect("ListTags")
                .tags()
                .iter()
                .find(|t| t.key() == Some(cleanup_idle::MARK_TAG))
                .and_then(|t| t.value().map(str::to_string))
        }
    };
    let deadline = cleanup_idle::handler::rfc3339(t0 + 24 * 3600);

    // A dry run marks nothing and tells no one.
    deps.config.dry_run = true;
    deps.clock = Clock::Fixed(t0);
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    assert_eq!(report.totals.would_mark, 3, "{}", report.table());
    assert_eq!(mark_of("idle").await, None);
    deps.config.dry_run = false;

    // Run 1: marked, told.
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    assert_eq!(
        f.summary(&report),
        vec![
            row("endpoint", "idle", "delete-endpoint", "marked"),
            row("endpoint", "revived", "delete-endpoint", "marked"),
            row("endpoint", "unlucky", "delete-endpoint", "marked"),
        ],
        "{}",
        report.table()
    );
    for n in ["idle", "revived", "unlucky"] {
        assert_eq!(
            mark_of(n).await,
            Some(format!("delete-endpoint@{deadline}")),
            "{n}"
        );
        assert!(f.endpoint_exists(n).await);
    }
    let mail_got = mail.drain().await;
    assert_eq!(mail_got.len(), 1, "{mail_got:#?}");
    let message = mail_got[0]["Message"].as_str().unwrap_or_default();
    assert_eq!(mail_got[0]["Subject"], "greenpipe cleanup: 3 resource(s) marked");
    for n in ["idle", "revived", "unlucky"] {
        assert!(
            message.contains(&format!(
                "- endpoint {}: delete-endpoint after {deadline} if still idle",
                f.name(n)
            )),
            "{message}"
        );
    }
    assert!(message.contains("greenpipe:keep=true"), "{message}");
    let feed_got = feed.drain().await;
    let mut told: Vec<String> = feed_got
        .iter()
        .map(|e| {
            assert_eq!(e["detail-type"], "Cleanup Planned", "{e:#}");
            assert_eq!(e["detail"]["actsAfter"], deadline.as_str(), "{e:#}");
            assert_eq!(e["detail"]["runId"], report.run_id.as_str(), "{e:#}");
            e["detail"]["resource"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    told.sort();
    assert_eq!(told, ["idle", "revived", "unlucky"].map(|n| f.name(n)));
    assert_eq!(report.notices.len(), 2, "{:?}", report.notices);

    // Run 2, an hour later: all three wait; no one is told again.
    deps.clock = Clock::Fixed(t0 + 3600);
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    assert!(
        f.summary(&report).iter().all(|r| r.3 == "skipped:InGrace"),
        "{}",
        report.table()
    );
    assert_eq!(report.totals.in_grace, 3);
    assert!(mail.drain().await.is_empty() && feed.drain().await.is_empty());

    // Meanwhile "revived" is called; "unlucky" is opted out by its owner.
    f.cw.set_invocations(&f.name("revived"), "AllTraffic", &[3.0]);
    f.sm.add_tags()
        .resource_arn(format!(
            "arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:endpoint/{}",
            f.name("unlucky")
        ))
        .tags(Tag::builder().key("greenpipe:keep").value("true").build())
        .send()
        .await
        .expect("AddTags");

    // Run 3, after the grace period: only the endpoint still idle and not kept goes; the other marks
    // are cleared.
    deps.clock = Clock::Fixed(t0 + 25 * 3600);
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    assert_eq!(
        f.summary(&report),
        vec![
            row("endpoint", "idle", "delete-endpoint", "done"),
            row("endpoint", "revived", "clear-mark", "done"),
            row("endpoint", "unlucky", "clear-mark", "done"),
            row("endpoint", "unlucky", "delete-endpoint", "skipped:Kept"),
        ],
        "{}",
        report.table()
    );
    assert!(!f.endpoint_exists("idle").await);
    assert!(f.endpoint_exists("revived").await && f.endpoint_exists("unlucky").await);
    assert_eq!(mark_of("revived").await, None);
    assert_eq!(mark_of("unlucky").await, None);
    // The restore manifest leaves the mark out: a restored endpoint starts a grace period of its own.
    let manifest = report
        .actions
        .iter()
        .find_map(|a| a.manifest.clone())
        .expect("a manifest");
    let (bucket, key) = manifest.trim_start_matches("s3://").split_once('/').unwrap();
    let body = String::from_utf8(f.aws.get(bucket, key).await.expect("manifest")).unwrap();
    assert!(!body.contains(cleanup_idle::MARK_TAG), "{body}");
    assert!(body.contains("greenpipe:managed"), "{body}");

    // A notice that cannot be sent (the topic is gone) takes the run's marks back.
    f.cw.set_invocations(&f.name("revived"), "AllTraffic", &[0.0]);
    sns.delete_topic()
        .topic_arn(&topic)
        .send()
        .await
        .expect("DeleteTopic");
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    let failed = report
        .actions
        .iter()
        .find(|a| a.resource == f.name("revived"))
        .unwrap();
    match &failed.outcome {
        Outcome::Failed { message, .. } => assert!(
            message.contains("no notice could be sent") && message.contains("the mark was removed"),
            "{message}"
        ),
        other => panic!("{other:?}\n{}", report.table()),
    }
    assert_eq!(mark_of("revived").await, None);
    assert!(
        report
            .notices
            .iter()
            .any(|n| n.starts_with("notice failed, marks removed")),
        "{:?}",
        report.notices
    );
    assert!(feed.drain().await.is_empty(), "no event for a mark taken back");
}
