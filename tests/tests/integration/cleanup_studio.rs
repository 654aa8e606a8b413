//! cleanup-idle's Studio apps area (ListApps, DescribeApp, ListTags, DeleteApp), its Studio settings area
//! (ListDomains, DescribeDomain, ListUserProfiles, DescribeUserProfile, ListSpaces; UpdateDomain and
//! UpdateUserProfile to turn Studio's own idle shutdown on) and its jobs over budget
//! (List/Describe/Stop for training, processing and transform jobs). moto has no Studio and its jobs
//! complete at once (nothing is ever InProgress to stop), so the SageMaker client here sends its real,
//! serialized and signed requests to a replay connector at the SDK's HTTP layer, which answers with
//! recorded SageMaker (awsJson1.1) responses that the SDK then deserializes as usual; S3 (the report) is
//! moto as everywhere else. The test reads back every request the code made: which operations, in which
//! order, with which fields.

use std::collections::BTreeMap;
use std::time::Duration;

use greenpipe::stages::cleanup_idle::{self, Clock, Deps};
use greenpipe::stages::cleanup_idle::{Area, CleanupConfig, CleanupReport, Outcome};
use greenpipe_tests::replay::{Answer, Replay};
use greenpipe_tests::{outcome_label, unique_name, Aws};
use serde_json::{json, Value};

const HOUR: i64 = 3600;
/// The run's fixed "now" (2026-09-21T…Z); every timestamp below is relative to it.
const NOW: i64 = 1_790_000_000;
const DOMAIN: &str = "d-studio1";

fn arn(app: &str) -> String {
    format!("arn:aws:sagemaker:us-east-1:123456789012:app/{DOMAIN}/{app}")
}

/// A ListApps entry. `owner` is ("user", name) or ("space", name).
fn app(owner: (&str, &str), app_type: &str, name: &str, status: &str) -> Value {
    let mut a = json!({"DomainId": DOMAIN, "AppType": app_type, "AppName": name, "Status": status,
        "CreationTime": NOW - 48 * HOUR,
        "ResourceSpec": {"InstanceType": "ml.t3.medium"}});
    let key = if owner.0 == "user" {
        "UserProfileName"
    } else {
        "SpaceName"
    };
    a[key] = json!(owner.1);
    a
}

fn described(name: &str, last_activity: i64) -> Answer {
    (
        200,
        json!({"AppArn": arn(name), "AppName": name, "DomainId": DOMAIN, "Status": "InService",
            "LastUserActivityTimestamp": last_activity,
            "ResourceSpec": {"InstanceType": "ml.m5.large"}}),
    )
}

fn tags(pairs: &[(&str, &str)]) -> Answer {
    let tags: Vec<Value> = pairs.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    (200, json!({"Tags": tags}))
}

fn sent(replay: &Replay) -> Vec<(String, Value)> {
    replay.sent()
}

fn config(managed: &str, report_bucket: &str, dry_run: bool) -> CleanupConfig {
    CleanupConfig {
        dry_run,
        managed_tag: ("greenpipe:managed".into(), Some(managed.to_string())),
        min_age: Duration::from_secs(HOUR as u64),
        studio_app_idle: Duration::from_secs(3 * HOUR as u64),
        report_bucket: Some(report_bucket.to_string()),
        areas: [Area::StudioApps].into(),
        page_size: Some(3),
        ..CleanupConfig::default()
    }
}

/// The inventory's answers: two ListApps pages, then DescribeApp + ListTags for each billed InService
/// app, in listing order.
fn inventory(managed: &str) -> Vec<Answer> {
    let m = ("greenpipe:managed", managed);
    vec![
        (
            200,
            json!({"Apps": [
                app(("user", "alice"), "KernelGateway", "idle-kg", "InService"),
                app(("space", "team"), "JupyterLab", "busy-lab", "InService"),
                app(("user", "alice"), "JupyterServer", "default", "InService"),
            ], "NextToken": "page-2"}),
        ),
        (
            200,
            json!({"Apps": [
                app(("user", "carol"), "KernelGateway", "gone-kg", "Deleted"),
                app(("space", "ops"), "CodeEditor", "kept-ce", "InService"),
                app(("user", "bob"), "JupyterLab", "theirs", "InService"),
                app(("space", "lab"), "JupyterLab", "stuck-lab", "InService"),
            ]}),
        ),
        described("idle-kg", NOW - 5 * HOUR),
        tags(&[m]),
        described("busy-lab", NOW - 600),
        tags(&[m]),
        described("kept-ce", NOW - 30 * HOUR),
        tags(&[m, ("greenpipe:keep", "until the demo")]),
        described("theirs", NOW - 30 * HOUR),
        tags(&[("team", "someone else")]),
        described("stuck-lab", NOW - 10 * HOUR),
        tags(&[m]),
    ]
}

fn studio_deps(aws: &Aws, replay: &Replay, config: CleanupConfig) -> Deps {
    let sagemaker = replay.sagemaker(&aws.sdk);
    Deps {
        config,
        region: "us-east-1".into(),
        sagemaker,
        cloudwatch: aws_sdk_cloudwatch::Client::new(&aws.sdk),
        logs: aws_sdk_cloudwatchlogs::Client::new(&aws.sdk),
        s3: aws.s3.clone(),
        sns: aws_sdk_sns::Client::new(&aws.sdk),
        events: aws_sdk_eventbridge::Client::new(&aws.sdk),
        clock: Clock::Fixed(NOW),
    }
}

fn outcomes(report: &CleanupReport) -> BTreeMap<String, String> {
    report
        .actions
        .iter()
        .map(|a| {
            (
                format!("{} {}", a.action.name(), a.resource),
                outcome_label(&a.outcome),
            )
        })
        .collect()
}

fn expected_inventory_requests() -> Vec<(String, Value)> {
    let mut want = vec![
        ("ListApps".to_string(), json!({"MaxResults": 3})),
        (
            "ListApps".to_string(),
            json!({"MaxResults": 3, "NextToken": "page-2"}),
        ),
    ];
    for (owner, app_type, name) in [
        (("UserProfileName", "alice"), "KernelGateway", "idle-kg"),
        (("SpaceName", "team"), "JupyterLab", "busy-lab"),
        (("SpaceName", "ops"), "CodeEditor", "kept-ce"),
        (("UserProfileName", "bob"), "JupyterLab", "theirs"),
        (("SpaceName", "lab"), "JupyterLab", "stuck-lab"),
    ] {
        let mut d = json!({"DomainId": DOMAIN, "AppType": app_type, "AppName": name});
        d[owner.0] = json!(owner.1);
        want.push(("DescribeApp".to_string(), d));
        // ListTags takes 50..=100 per page: the page size 3 is raised to 50.
        want.push((
            "ListTags".to_string(),
            json!({"ResourceArn": arn(name), "MaxResults": 50}),
        ));
    }
    want
}

#[tokio::test]
async fn studio_apps_dry_run_then_delete_the_idle_managed_ones() {
    let aws = Aws::new().await;
    let managed = unique_name("studio");
    let report_bucket = aws.bucket(false).await;

    // Dry run: the inventory's requests and nothing else.
    let replay = Replay::new(inventory(&managed));
    let deps = studio_deps(&aws, &replay, config(&managed, &report_bucket, true));
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    assert_eq!(sent(&replay), expected_inventory_requests());
    assert!(
        report.inventory_errors.is_empty(),
        "{:?}",
        report.inventory_errors
    );
    let want: BTreeMap<String, String> = [
        (
            "delete-studio-app d-studio1/space:lab/JupyterLab/stuck-lab",
            "dry-run",
        ),
        (
            "delete-studio-app d-studio1/space:ops/CodeEditor/kept-ce",
            "skipped:Kept",
        ),
        (
            "delete-studio-app d-studio1/user:alice/KernelGateway/idle-kg",
            "dry-run",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // busy-lab is active (10 min), default is a JupyterServer (not billed), gone-kg is Deleted, and
    // bob's app is not greenpipe's: none is in the plan.
    assert_eq!(outcomes(&report), want);
    assert_eq!(report.listing_pages.get("sagemaker:ListApps"), Some(&2));
    assert_eq!(report.listing_pages.get("sagemaker:ListTags"), Some(&5));

    // Act: the same inventory, then one DeleteApp per idle managed app, in plan order (by id). The
    // first is refused (ResourceInUse); the second still runs.
    let mut events = inventory(&managed);
    events.push((
        400,
        json!({"__type": "ResourceInUse", "Message": "App is being updated"}),
    ));
    events.push((200, json!({})));
    let replay = Replay::new(events);
    let deps = studio_deps(&aws, &replay, config(&managed, &report_bucket, false));
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    let requests = sent(&replay);
    assert_eq!(requests[..12], expected_inventory_requests()[..]);
    assert_eq!(
        requests[12..],
        [
            (
                "DeleteApp".to_string(),
                json!({"DomainId": DOMAIN, "SpaceName": "lab", "AppType": "JupyterLab",
                    "AppName": "stuck-lab"})
            ),
            (
                "DeleteApp".to_string(),
                json!({"DomainId": DOMAIN, "UserProfileName": "alice", "AppType": "KernelGateway",
                    "AppName": "idle-kg"})
            ),
        ]
    );
    let got = outcomes(&report);
    assert_eq!(
        got["delete-studio-app d-studio1/space:lab/JupyterLab/stuck-lab"], "failed:AwsError",
        "{got:?}"
    );
    assert_eq!(
        got["delete-studio-app d-studio1/user:alice/KernelGateway/idle-kg"],
        "done"
    );
    assert_eq!(
        got["delete-studio-app d-studio1/space:ops/CodeEditor/kept-ce"],
        "skipped:Kept"
    );
    let failed = report
        .actions
        .iter()
        .find_map(|a| match &a.outcome {
            Outcome::Failed { message, .. } => Some(message.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        failed.contains("DeleteApp") && failed.contains("ResourceInUse"),
        "{failed}"
    );

    // The report in S3 says the same.
    let uri = report.report_uri.clone().unwrap();
    let key = uri.trim_start_matches(&format!("s3://{report_bucket}/"));
    let stored: Value = serde_json::from_slice(&aws.get(&report_bucket, key).await.unwrap()).unwrap();
    assert_eq!(stored["dry_run"], json!(false));
    assert_eq!(stored["actions"].as_array().unwrap().len(), 3);
}

fn job_summary(prefix: &str, name: &str) -> Value {
    let mut j = json!({"CreationTime": NOW - 40 * HOUR});
    j[format!("{prefix}JobName")] = json!(name);
    j[format!("{prefix}JobArn")] = json!(format!(
        "arn:aws:sagemaker:us-east-1:123456789012:{}-job/{name}",
        prefix.to_lowercase()
    ));
    j[format!("{prefix}JobStatus")] = json!("InProgress");
    j
}

#[tokio::test]
async fn jobs_over_budget_are_stopped_with_the_right_call() {
    let aws = Aws::new().await;
    let managed = unique_name("jobs");
    let report_bucket = aws.bucket(false).await;
    let m = ("greenpipe:managed", managed.as_str());
    let config = CleanupConfig {
        areas: [Area::Jobs].into(),
        job_budget: Duration::from_secs(24 * HOUR as u64),
        ..config(&managed, &report_bucket, false)
    };
    let replay = Replay::new(vec![
        (
            200,
            json!({"TrainingJobSummaries": [job_summary("Training", "long-train"),
                job_summary("Training", "budgeted-train")]}),
        ),
        (
            200,
            json!({"TrainingJobStatus": "InProgress", "TrainingStartTime": NOW - 30 * HOUR,
                "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 50}}),
        ),
        tags(&[m]),
        (
            200,
            json!({"TrainingJobStatus": "InProgress", "TrainingStartTime": NOW - 30 * HOUR,
                "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50}}),
        ),
        tags(&[m, ("greenpipe:budget-hours", "48")]),
        (200, json!({"ProcessingJobSummaries": []})),
        (
            200,
            json!({"TransformJobSummaries": [job_summary("Transform", "long-transform")]}),
        ),
        (
            200,
            json!({"TransformJobStatus": "InProgress", "TransformStartTime": NOW - 26 * HOUR,
                "ModelName": "m1",
                "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}}),
        ),
        tags(&[m]),
        (200, json!({})),
        (200, json!({})),
    ]);
    let deps = studio_deps(&aws, &replay, config);
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    assert!(
        report.inventory_errors.is_empty(),
        "{:?}",
        report.inventory_errors
    );
    let ops: Vec<(String, Value)> = sent(&replay);
    let names: Vec<&str> = ops.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        names,
        [
            "ListTrainingJobs",
            "DescribeTrainingJob",
            "ListTags",
            "DescribeTrainingJob",
            "ListTags",
            "ListProcessingJobs",
            "ListTransformJobs",
            "DescribeTransformJob",
            "ListTags",
            "StopTrainingJob",
            "StopTransformJob",
        ]
    );
    for (i, kind) in [(0, "TrainingJobs"), (5, "ProcessingJobs"), (6, "TransformJobs")] {
        assert_eq!(
            ops[i].1,
            json!({"StatusEquals": "InProgress", "MaxResults": 3}),
            "List{kind}"
        );
    }
    assert_eq!(ops[9].1, json!({"TrainingJobName": "long-train"}));
    assert_eq!(ops[10].1, json!({"TransformJobName": "long-transform"}));
    let got = outcomes(&report);
    assert_eq!(
        got,
        [
            ("stop-job long-train".to_string(), "done".to_string()),
            ("stop-job long-transform".to_string(), "done".to_string()),
        ]
        .into_iter()
        .collect::<BTreeMap<_, _>>(),
        "budgeted-train runs 30 h of its 48 h budget"
    );
}

/// Studio's own idle-shutdown setting, as Describe* answers it.
fn lifecycle(state: &str, extra: Value) -> Value {
    let mut idle = json!({"LifecycleManagement": state});
    for (k, v) in extra.as_object().unwrap() {
        idle[k] = v.clone();
    }
    json!({"AppLifecycleManagement": {"IdleSettings": idle}})
}

/// The settings area's answers after the apps area's: one domain whose default leaves JupyterLab's idle
/// shutdown off (with a maximum of 100 minutes its users may set), alice who inherits it, bob who turns
/// Code Editor's off, and the space `team` that alice owns.
fn settings_inventory(managed: &str) -> Vec<Answer> {
    let m = ("greenpipe:managed", managed);
    let domain = || {
        (
            200,
            json!({"DomainId": DOMAIN, "DomainArn": format!("arn:aws:sagemaker:us-east-1:123456789012:domain/{DOMAIN}"),
                "Status": "InService", "CreationTime": NOW - 30 * 24 * HOUR,
                "DefaultUserSettings": {
                    "JupyterLabAppSettings": lifecycle("DISABLED", json!({"MaxIdleTimeoutInMinutes": 100})),
                    "CodeEditorAppSettings": lifecycle("ENABLED", json!({"IdleTimeoutInMinutes": 90}))}}),
        )
    };
    vec![
        // The apps area: alice's JupyterLab app in the space `team`, in use 10 minutes ago.
        (
            200,
            json!({"Apps": [app(("space", "team"), "JupyterLab", "lab1", "InService")]}),
        ),
        described("lab1", NOW - 600),
        tags(&[m]),
        // The settings area.
        (200, json!({"Domains": [{"DomainId": DOMAIN}]})),
        domain(),
        tags(&[m]),
        (
            200,
            json!({"UserProfiles": [{"DomainId": DOMAIN, "UserProfileName": "alice"},
                {"DomainId": DOMAIN, "UserProfileName": "bob"}]}),
        ),
        (
            200,
            json!({"DomainId": DOMAIN, "UserProfileName": "alice", "UserSettings": {},
                "UserProfileArn": "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-studio1/alice"}),
        ),
        (
            200,
            json!({"DomainId": DOMAIN, "UserProfileName": "bob", "CreationTime": NOW - 20 * 24 * HOUR,
                "UserProfileArn": "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-studio1/bob",
                "UserSettings": {"CodeEditorAppSettings": lifecycle("DISABLED", json!({}))}}),
        ),
        tags(&[m]),
        (
            200,
            json!({"Spaces": [{"DomainId": DOMAIN, "SpaceName": "team",
                "OwnershipSettingsSummary": {"OwnerUserProfileName": "alice"}}]}),
        ),
    ]
}

#[tokio::test]
async fn studio_idle_shutdown_is_reported_then_enabled_where_it_is_off() {
    let aws = Aws::new().await;
    let managed = unique_name("studio-idle");
    let report_bucket = aws.bucket(false).await;
    let settings = |dry_run, minutes| CleanupConfig {
        areas: [Area::StudioApps, Area::StudioSettings].into(),
        studio_idle_shutdown_minutes: minutes,
        ..config(&managed, &report_bucket, dry_run)
    };

    // Not enforced: the domain, bob's profile and alice's app (busy, but nothing would stop it when
    // idle) are reported; nothing is changed.
    let replay = Replay::new(settings_inventory(&managed));
    let deps = studio_deps(&aws, &replay, settings(false, None));
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    assert!(
        report.inventory_errors.is_empty(),
        "{:?}",
        report.inventory_errors
    );
    let want: BTreeMap<String, String> = [
        ("report-only d-studio1", "reported"),
        ("report-only d-studio1/user:bob", "reported"),
        ("report-only d-studio1/space:team/JupyterLab/lab1", "reported"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(outcomes(&report), want);
    let ops: Vec<(String, Value)> = sent(&replay);
    assert_eq!(
        ops[3..],
        [
            ("ListDomains".to_string(), json!({"MaxResults": 3})),
            ("DescribeDomain".to_string(), json!({"DomainId": DOMAIN})),
            (
                "ListTags".to_string(),
                json!({"ResourceArn": format!("arn:aws:sagemaker:us-east-1:123456789012:domain/{DOMAIN}"), "MaxResults": 50})
            ),
            (
                "ListUserProfiles".to_string(),
                json!({"DomainIdEquals": DOMAIN, "MaxResults": 3})
            ),
            (
                "DescribeUserProfile".to_string(),
                json!({"DomainId": DOMAIN, "UserProfileName": "alice"})
            ),
            (
                "DescribeUserProfile".to_string(),
                json!({"DomainId": DOMAIN, "UserProfileName": "bob"})
            ),
            (
                "ListTags".to_string(),
                json!({"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-studio1/bob", "MaxResults": 50})
            ),
            (
                "ListSpaces".to_string(),
                json!({"DomainIdEquals": DOMAIN, "MaxResults": 3})
            ),
        ]
    );
    assert_eq!(ops.len(), 11, "nothing but the inventory: {ops:?}");

    // Enforced (120 minutes): each setting is read again and only what is off is sent, within the
    // bounds the domain gives its users; Code Editor's domain default (on, 90 minutes) is not touched.
    let mut answers = settings_inventory(&managed);
    answers.extend([
        settings_inventory(&managed)[4].clone(),
        (200, json!({"DomainArn": "arn"})),
        settings_inventory(&managed)[8].clone(),
        (200, json!({"UserProfileArn": "arn"})),
    ]);
    let replay = Replay::new(answers);
    let deps = studio_deps(&aws, &replay, settings(false, Some(120)));
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    let got = outcomes(&report);
    assert_eq!(got["enable-studio-idle-shutdown d-studio1"], "done", "{got:?}");
    assert_eq!(
        got["enable-studio-idle-shutdown d-studio1/user:bob"], "done",
        "{got:?}"
    );
    assert_eq!(
        got["report-only d-studio1/space:team/JupyterLab/lab1"],
        "reported"
    );
    let ops = sent(&replay);
    assert_eq!(
        ops[11..],
        [
            ("DescribeDomain".to_string(), json!({"DomainId": DOMAIN})),
            (
                "UpdateDomain".to_string(),
                json!({"DomainId": DOMAIN, "DefaultUserSettings": {"JupyterLabAppSettings": {
                    "AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "ENABLED",
                        "IdleTimeoutInMinutes": 100, "MaxIdleTimeoutInMinutes": 100}}}}})
            ),
            (
                "DescribeUserProfile".to_string(),
                json!({"DomainId": DOMAIN, "UserProfileName": "bob"})
            ),
            (
                "UpdateUserProfile".to_string(),
                json!({"DomainId": DOMAIN, "UserProfileName": "bob", "UserSettings": {"CodeEditorAppSettings": {
                    "AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "ENABLED",
                        "IdleTimeoutInMinutes": 120}}}}})
            ),
        ]
    );
}

/// An endpoint config's shadow variants (moto has none): an endpoint whose production variant is quiet
/// but whose shadow variant is called is busy; one where both are quiet is idle, and its reason names
/// the shadow. SageMaker is replayed, CloudWatch is the loopback metrics server.
#[tokio::test]
async fn an_endpoint_with_only_its_shadow_variant_busy_is_not_idle() {
    let aws = Aws::new().await;
    let managed = unique_name("shadow");
    let report_bucket = aws.bucket(false).await;
    let cw = greenpipe_tests::cloudwatch::CloudWatch::start().await;
    let arn = |n: &str| format!("arn:aws:sagemaker:us-east-1:123456789012:endpoint/{n}");
    let summary = |n: &str| {
        json!({"EndpointName": n, "EndpointArn": arn(n), "CreationTime": NOW - 48 * HOUR,
            "LastModifiedTime": NOW - 48 * HOUR, "EndpointStatus": "InService"})
    };
    let endpoint = |n: &str| {
        let mut d = summary(n);
        d["EndpointConfigName"] = json!(format!("{n}-config"));
        (200, d)
    };
    let endpoint_config = |n: &str| {
        let variant = |v: &str| {
            json!({"VariantName": v, "ModelName": format!("{n}-{v}"), "InstanceType": "ml.m5.xlarge",
                "InitialInstanceCount": 1})
        };
        (
            200,
            json!({"EndpointConfigName": format!("{n}-config"), "CreationTime": NOW - 48 * HOUR,
                "EndpointConfigArn": format!("arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{n}-config"),
                "ProductionVariants": [variant("AllTraffic")],
                "ShadowProductionVariants": [variant("shadow")]}),
        )
    };
    let m = ("greenpipe:managed", managed.as_str());
    let replay = Replay::new(vec![
        (200, json!({"Endpoints": [summary("shadowed"), summary("quiet")]})),
        endpoint("shadowed"),
        endpoint_config("shadowed"),
        tags(&[m]),
        endpoint("quiet"),
        endpoint_config("quiet"),
        tags(&[m]),
    ]);
    cw.set_invocations("shadowed", "AllTraffic", &[0.0]);
    cw.set_invocations("shadowed", "shadow", &[4.0, 2.0]);
    cw.set_invocations("quiet", "AllTraffic", &[0.0]);
    cw.set_invocations("quiet", "shadow", &[0.0]);
    let mut deps = studio_deps(
        &aws,
        &replay,
        CleanupConfig {
            areas: [Area::Endpoints].into(),
            endpoint_idle: Duration::from_secs(24 * HOUR as u64),
            ..config(&managed, &report_bucket, true)
        },
    );
    deps.cloudwatch = cw.client(&aws.sdk);
    let report = cleanup_idle::run(&deps, &deps.config).await.unwrap();
    assert!(
        report.inventory_errors.is_empty(),
        "{:?}",
        report.inventory_errors
    );
    assert_eq!(
        outcomes(&report),
        [("delete-endpoint quiet".to_string(), "dry-run".to_string())]
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        "shadowed: its shadow variant was called 6 times"
    );
    let reason = &report.actions[0].reason;
    assert!(
        reason.contains("2 variant(s) (AllTraffic, shadow (shadow))"),
        "{reason}"
    );
    // Both variants of both endpoints were asked for.
    let asked: Vec<Vec<(String, String)>> = cw
        .requests()
        .iter()
        .flat_map(|r| r.queries.iter().map(|q| q.dimensions.clone()))
        .collect();
    for (e, v) in [
        ("shadowed", "shadow"),
        ("quiet", "shadow"),
        ("quiet", "AllTraffic"),
    ] {
        assert!(
            asked
                .iter()
                .any(|d| d.contains(&("EndpointName".into(), e.into()))
                    && d.contains(&("VariantName".into(), v.into()))),
            "{e}/{v}: {asked:?}"
        );
    }
}
