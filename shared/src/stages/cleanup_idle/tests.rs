use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::footprint;

const NOW: Epoch = 1_800_000_000;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn managed() -> BTreeMap<String, String> {
    BTreeMap::from([("greenpipe:managed".to_string(), "true".to_string())])
}

fn with(mut tags: BTreeMap<String, String>, k: &str, v: &str) -> BTreeMap<String, String> {
    tags.insert(k.into(), v.into());
    tags
}

fn endpoint(name: &str, age: i64, tags: BTreeMap<String, String>, per_variant: &[f64]) -> Resource {
    let variants: Vec<Variant> = per_variant
        .iter()
        .enumerate()
        .map(|(i, n)| Variant {
            name: format!("v{i}"),
            instance_type: Some("ml.m5.xlarge".into()),
            instance_count: 1,
            serverless: false,
            shadow: false,
            invocations: Some(*n),
            utilisation: None,
        })
        .collect();
    Resource {
        kind: ResourceKind::Endpoint,
        id: name.into(),
        arn: None,
        created: Some(NOW - age),
        tags,
        detail: Detail::Endpoint {
            status: "InService".into(),
            config_name: format!("{name}-config"),
            invocations: Some(per_variant.iter().sum()),
            variants,
        },
    }
}

fn config() -> CleanupConfig {
    CleanupConfig {
        buckets: vec!["b".into()],
        ..CleanupConfig::default()
    }
}

fn decisions(p: &Plan) -> Vec<(String, Action, String)> {
    p.items
        .iter()
        .map(|i| {
            let d = match &i.decision {
                Decision::Act => "act".to_string(),
                Decision::Report => "report".to_string(),
                Decision::Mark { acts_after } => format!("mark {acts_after}"),
                Decision::Skip { why, .. } => format!("{why:?}"),
            };
            (i.id.clone(), i.action, d)
        })
        .collect()
}

#[test]
fn grace_period_marks_first_acts_after_and_clears_stale_marks() {
    let c = CleanupConfig {
        grace: Duration::from_secs(24 * 3600),
        ..config()
    };
    let at = |t: Epoch| super::plan::mark_value(Action::DeleteEndpoint, &super::handler::rfc3339(t));
    let marked = |name: &str, value: &str, calls: f64| {
        endpoint(name, 3 * DAY, with(managed(), MARK_TAG, value), &[calls])
    };
    let inv = Inventory {
        resources: vec![
            endpoint("fresh", 3 * DAY, managed(), &[0.0]),
            marked("waiting", &at(NOW + HOUR), 0.0),
            marked("due", &at(NOW - HOUR), 0.0),
            marked("due-but-busy", &at(NOW - HOUR), 4.0),
            // A mark for another action, or one that is not a mark: marked anew.
            marked(
                "other-action",
                &super::plan::mark_value(Action::StopNotebookInstance, &super::handler::rfc3339(NOW - DAY)),
                0.0,
            ),
            marked("garbled", "soon", 0.0),
            endpoint(
                "opted-out",
                3 * DAY,
                with(
                    with(managed(), MARK_TAG, &at(NOW - HOUR)),
                    "greenpipe:keep",
                    "true",
                ),
                &[0.0],
            ),
            // Outside the scope: never tagged (the role may not), never acted on.
            endpoint(
                "unmanaged",
                3 * DAY,
                with(BTreeMap::new(), MARK_TAG, &at(NOW - HOUR)),
                &[0.0],
            ),
        ],
        ..Inventory::default()
    };
    let p = plan(&inv, &c, NOW, "us-east-1");
    let next = "mark 2027-01-16T08:00:00Z".to_string();
    assert_eq!(
        decisions(&p),
        vec![
            ("due".into(), Action::DeleteEndpoint, "act".into()),
            ("fresh".into(), Action::DeleteEndpoint, next.clone()),
            ("garbled".into(), Action::DeleteEndpoint, next.clone()),
            ("opted-out".into(), Action::DeleteEndpoint, "Kept".into()),
            ("other-action".into(), Action::DeleteEndpoint, next),
            ("waiting".into(), Action::DeleteEndpoint, "InGrace".into()),
            ("due-but-busy".into(), Action::ClearMark, "act".into()),
            ("opted-out".into(), Action::ClearMark, "act".into()),
        ],
    );
    assert_eq!(super::handler::rfc3339(NOW + DAY), "2027-01-16T08:00:00Z");
    let waiting = p.items.iter().find(|i| i.id == "waiting").unwrap();
    assert!(
        matches!(&waiting.decision, Decision::Skip { detail, .. } if detail.contains("after 2027-01-15T09:00:00Z (60 min from now)")),
        "{waiting:?}"
    );
    // Marks cost no action from the cap; a due action does.
    let capped = plan(
        &inv,
        &CleanupConfig {
            max_actions: 0,
            ..c.clone()
        },
        NOW,
        "us-east-1",
    );
    assert_eq!(
        capped
            .items
            .iter()
            .filter(|i| matches!(i.decision, Decision::Mark { .. }))
            .count(),
        3
    );
    let due = capped.items.iter().find(|i| i.id == "due").unwrap();
    assert!(matches!(
        due.decision,
        Decision::Skip {
            why: SkipReason::CapReached,
            ..
        }
    ));
    // Held by the cap, its mark stays.
    assert!(!capped
        .items
        .iter()
        .any(|i| i.id == "due" && i.action == Action::ClearMark));

    // Jobs over their budget, settings and objects never wait; without a grace period nothing does.
    assert!(!Action::StopJob.graced() && !Action::DeleteObject.graced() && !Action::SetLogRetention.graced());
    let at_once = plan(&inv, &config(), NOW, "us-east-1");
    assert!(at_once
        .items
        .iter()
        .filter(|i| i.action == Action::DeleteEndpoint)
        .all(|i| matches!(
            i.decision,
            Decision::Act
                | Decision::Skip {
                    why: SkipReason::Kept,
                    ..
                }
        )));

    // In the report and its table.
    let records: Vec<ActionRecord> = p.items.iter().map(|i| ActionRecord::pending(i, false)).collect();
    let report = CleanupReport::new("r".into(), "t".into(), false, "us-east-1".into(), &p, records);
    assert_eq!(
        (report.totals.marked, report.totals.in_grace, report.totals.done),
        (3, 1, 3)
    );
    let table = report.table();
    assert!(
        table.contains("marked: acts after 2027-01-16T08:00:00Z"),
        "{table}"
    );
    assert!(
        table.contains("grace period: 3 marked, 0 would mark, 1 waiting out an earlier mark"),
        "{table}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["actions"][1]["outcome"], "marked");
    assert_eq!(json["actions"][1]["acts_after"], "2027-01-16T08:00:00Z");
}

#[test]
fn marks_round_trip() {
    let v = super::plan::mark_value(Action::DeleteModel, &super::handler::rfc3339(NOW));
    assert_eq!(v, "delete-model@2027-01-15T08:00:00Z");
    assert_eq!(super::plan::parse_mark(&v), Some(("delete-model", NOW)));
    for bad in ["", "delete-model", "delete-model@", "delete-model@yesterday", "@"] {
        assert_eq!(super::plan::parse_mark(bad), None, "{bad}");
    }
}

#[test]
fn endpoints_idle_over_all_variants() {
    let inv = Inventory {
        resources: vec![
            endpoint("busy", 3 * DAY, managed(), &[12.0]),
            endpoint("idle", 3 * DAY, managed(), &[0.0]),
            endpoint("young", HOUR, managed(), &[0.0]),
            endpoint("kept", 3 * DAY, with(managed(), "greenpipe:keep", "true"), &[0.0]),
            endpoint("multi", 3 * DAY, managed(), &[0.0, 5.0]),
            endpoint("unmanaged", 3 * DAY, BTreeMap::new(), &[0.0]),
            endpoint(
                "keep-false",
                3 * DAY,
                with(managed(), "greenpipe:keep", "false"),
                &[0.0, 0.0],
            ),
        ],
        ..Inventory::default()
    };
    let p = plan(&inv, &config(), NOW, "us-east-1");
    assert_eq!(
        decisions(&p),
        vec![
            ("idle".into(), Action::DeleteEndpoint, "act".into()),
            ("keep-false".into(), Action::DeleteEndpoint, "act".into()),
            ("kept".into(), Action::DeleteEndpoint, "Kept".into()),
        ],
    );
    assert_eq!(p.unmanaged, 1);
    assert!(
        p.items[1].reason.contains("2 variant(s) (v0, v1)"),
        "{}",
        p.items[1].reason
    );
    // A one-instance ml.m5.xlarge for a day: 24 instance-hours at $0.23.
    let avoided = p.items[0].avoided_per_day.as_ref().unwrap();
    assert_eq!(avoided.instance_hours, 24.0);
    assert!((avoided.footprint.usd - 24.0 * 0.23).abs() < 1e-9, "{avoided:?}");
    assert!(avoided.footprint.kg_co2e > 0.0);

    // Young endpoints are not judged idle before the whole window has passed, even with min age 0.
    let c = CleanupConfig {
        min_age: Duration::ZERO,
        ..config()
    };
    let p = plan(&inv, &c, NOW, "us-east-1");
    assert!(!p.items.iter().any(|i| i.id == "young"));
    // Metrics unavailable: never idle.
    let mut e = endpoint("unknown", 3 * DAY, managed(), &[0.0]);
    if let Detail::Endpoint { invocations, .. } = &mut e.detail {
        *invocations = None;
    }
    let p = plan(
        &Inventory {
            resources: vec![e],
            ..Inventory::default()
        },
        &c,
        NOW,
        "us-east-1",
    );
    assert!(p.items.is_empty());
}

#[test]
fn busy_endpoints_that_use_little_of_their_instances_are_right_sized() {
    use super::inventory::{InstanceUse, Usage};
    let used = |cpu: f64, memory: f64| InstanceUse {
        cpu: Some(Usage {
            average: cpu / 2.0,
            peak: cpu,
        }),
        memory: Some(Usage {
            average: memory / 2.0,
            peak: memory,
        }),
        gpu: None,
    };
    let with_use = |name: &str, u: Option<InstanceUse>| {
        let mut e = endpoint(name, 3 * DAY, managed(), &[40.0]);
        if let Detail::Endpoint { variants, .. } = &mut e.detail {
            variants[0].utilisation = u;
        }
        e
    };
    let inv = Inventory {
        resources: vec![
            // ml.m5.xlarge (4 vCPUs, 16 GiB) peaking at 10 % CPU, 15 % memory: ml.m5.large holds it.
            with_use("light", Some(used(10.0, 15.0))),
            // Busy enough: left alone.
            with_use("heavy", Some(used(55.0, 15.0))),
            with_use("memory-bound", Some(used(10.0, 45.0))),
            // Unread metrics: not judged.
            with_use("unread", None),
        ],
        ..Inventory::default()
    };
    let p = plan(&inv, &config(), NOW, "us-east-1");
    assert_eq!(
        decisions(&p),
        vec![("light".into(), Action::RightSize, "report".into())]
    );
    let item = &p.items[0];
    assert!(
        item.reason
            .contains("v0 on 1 × ml.m5.xlarge peaked at 10 % CPU and 15 % memory (40 invocations)")
            && item
                .reason
                .contains("1 × ml.m5.large (2 vCPUs, 8 GiB) would peak near 20 % / 30 %")
            && item.reason.contains("saving $83.95"),
        "{}",
        item.reason
    );
    // Per day: ($0.23 − $0.115) × 24 = $2.76; the energy and carbon of the difference.
    let saving = item.avoided_per_day.as_ref().unwrap();
    assert!((saving.footprint.usd - 2.76).abs() < 1e-9, "{saving:?}");
    let big = footprint::endpoint_hours("ml.m5.xlarge", 1, 24.0, "us-east-1").unwrap();
    let small = footprint::endpoint_hours("ml.m5.large", 1, 24.0, "us-east-1").unwrap();
    assert!((saving.footprint.kwh - (big.footprint.kwh - small.footprint.kwh)).abs() < 1e-12);
    assert!(saving.footprint.embodied_kg_co2e > 0.0);
    // Never acted on, whatever the mode: the report totals it apart.
    let records: Vec<ActionRecord> = p.items.iter().map(|i| ActionRecord::pending(i, false)).collect();
    let report = CleanupReport::new("r".into(), "t".into(), false, "us-east-1".into(), &p, records);
    assert_eq!(report.totals.reported, 1);
    assert_eq!(report.totals.done, 0);
    assert!((report.right_size_savings_per_day.footprint.usd - 2.76).abs() < 1e-9);
    assert_eq!(report.avoided_per_day.footprint.usd, 0.0);
    assert!(
        report.table().contains("right-sizing would save per day: $2.76"),
        "{}",
        report.table()
    );
}

#[test]
fn notebooks_jobs_apps_orphans_objects_logs_buckets() {
    let r = |kind, id: &str, age: i64, tags, detail| Resource {
        kind,
        id: id.into(),
        arn: None,
        created: Some(NOW - age),
        tags,
        detail,
    };
    let job = |status: &str, hours: i64, model: Option<&str>| Detail::Job {
        status: status.into(),
        started: Some(NOW - hours * HOUR),
        instance_type: Some("ml.g5.xlarge".into()),
        instance_count: 2,
        model_name: model.map(str::to_string),
    };
    let inv = Inventory {
        resources: vec![
            r(
                ResourceKind::NotebookInstance,
                "nb-idle",
                2 * DAY,
                managed(),
                Detail::Notebook {
                    status: "InService".into(),
                    instance_type: "ml.t3.medium".into(),
                    last_activity: Some(NOW - 5 * HOUR),
                },
            ),
            r(
                ResourceKind::NotebookInstance,
                "nb-active",
                2 * DAY,
                managed(),
                Detail::Notebook {
                    status: "InService".into(),
                    instance_type: "ml.t3.medium".into(),
                    last_activity: Some(NOW - 600),
                },
            ),
            r(
                ResourceKind::NotebookInstance,
                "nb-unsignalled",
                30 * DAY,
                managed(),
                Detail::Notebook {
                    status: "InService".into(),
                    instance_type: "ml.t3.medium".into(),
                    last_activity: None,
                },
            ),
            r(
                ResourceKind::NotebookInstance,
                "nb-stopped",
                2 * DAY,
                managed(),
                Detail::Notebook {
                    status: "Stopped".into(),
                    instance_type: "ml.t3.medium".into(),
                    last_activity: Some(NOW - 5 * DAY),
                },
            ),
            r(
                ResourceKind::StudioApp,
                "d/user:u/JupyterLab/default",
                2 * DAY,
                managed(),
                Detail::StudioApp {
                    status: "InService".into(),
                    app_type: "JupyterLab".into(),
                    instance_type: Some("ml.t3.medium".into()),
                    last_activity: Some(NOW - 4 * HOUR),
                    idle_shutdown: None,
                },
            ),
            r(
                ResourceKind::StudioApp,
                "d/user:u/JupyterServer/default",
                2 * DAY,
                managed(),
                Detail::StudioApp {
                    status: "InService".into(),
                    app_type: "JupyterServer".into(),
                    instance_type: None,
                    last_activity: Some(NOW - 4 * DAY),
                    idle_shutdown: None,
                },
            ),
            r(
                ResourceKind::TrainingJob,
                "train-long",
                2 * DAY,
                managed(),
                job("InProgress", 30, None),
            ),
            r(
                ResourceKind::TrainingJob,
                "train-ok",
                2 * DAY,
                managed(),
                job("InProgress", 3, None),
            ),
            r(
                ResourceKind::TrainingJob,
                "train-budget",
                2 * DAY,
                with(managed(), "greenpipe:budget-hours", "48"),
                job("InProgress", 30, None),
            ),
            r(
                ResourceKind::TransformJob,
                "transform",
                2 * DAY,
                managed(),
                job("InProgress", 1, Some("m-used-by-job")),
            ),
            r(
                ResourceKind::EndpointConfig,
                "cfg-orphan",
                10 * DAY,
                managed(),
                Detail::EndpointConfig {
                    model_names: vec!["m-in-orphan-cfg".into()],
                },
            ),
            r(
                ResourceKind::EndpointConfig,
                "cfg-young",
                2 * DAY,
                managed(),
                Detail::EndpointConfig { model_names: vec![] },
            ),
            r(
                ResourceKind::Model,
                "m-orphan",
                10 * DAY,
                managed(),
                Detail::Model,
            ),
            r(
                ResourceKind::Model,
                "m-in-orphan-cfg",
                10 * DAY,
                managed(),
                Detail::Model,
            ),
            r(
                ResourceKind::Model,
                "m-used-by-job",
                10 * DAY,
                managed(),
                Detail::Model,
            ),
            // Log groups are chosen by tag: the name prefix alone does not make one ours.
            r(
                ResourceKind::LogGroup,
                "/aws/lambda/greenpipe-untagged",
                2 * DAY,
                BTreeMap::new(),
                Detail::LogGroup { retention_days: None },
            ),
            r(
                ResourceKind::LogGroup,
                "/aws/lambda/greenpipe-validate",
                2 * DAY,
                managed(),
                Detail::LogGroup { retention_days: None },
            ),
            r(
                ResourceKind::LogGroup,
                "/aws/lambda/greenpipe-plan",
                2 * DAY,
                BTreeMap::new(),
                Detail::LogGroup {
                    retention_days: Some(14),
                },
            ),
            r(
                ResourceKind::LogGroup,
                "/aws/lambda/other",
                2 * DAY,
                BTreeMap::new(),
                Detail::LogGroup { retention_days: None },
            ),
            r(
                ResourceKind::Bucket,
                "b",
                90 * DAY,
                BTreeMap::new(),
                Detail::Bucket {
                    lifecycle_rules: 0,
                    intelligent_tiering: false,
                },
            ),
            r(
                ResourceKind::Object,
                "b/greenpipe/tmp/old",
                40 * DAY,
                BTreeMap::new(),
                Detail::Object {
                    bucket: "b".into(),
                    key: "greenpipe/tmp/old".into(),
                    size: 10,
                },
            ),
            r(
                ResourceKind::Object,
                "b/greenpipe/tmp/new",
                2 * DAY,
                BTreeMap::new(),
                Detail::Object {
                    bucket: "b".into(),
                    key: "greenpipe/tmp/new".into(),
                    size: 10,
                },
            ),
            r(
                ResourceKind::Object,
                "b/data/old",
                400 * DAY,
                BTreeMap::new(),
                Detail::Object {
                    bucket: "b".into(),
                    key: "data/old".into(),
                    size: 10,
                },
            ),
        ],
        ..Inventory::default()
    };
    let p = plan(&inv, &config(), NOW, "us-east-1");
    let act = |s: &str| (s.to_string(), "act".to_string());
    let got: Vec<(String, String)> = decisions(&p).into_iter().map(|(id, _, d)| (id, d)).collect();
    assert_eq!(
        got,
        vec![
            act("nb-idle"),
            ("nb-unsignalled".to_string(), "report".to_string()),
            act("d/user:u/JupyterLab/default"),
            act("train-long"),
            act("cfg-orphan"),
            act("m-orphan"),
            act("/aws/lambda/greenpipe-validate"),
            ("b".into(), "report".into()),
            act("b/greenpipe/tmp/old"),
        ]
    );
    // Two ml.g5.xlarge for a day.
    let train = p.items.iter().find(|i| i.id == "train-long").unwrap();
    assert_eq!(train.avoided_per_day.as_ref().unwrap().instance_hours, 48.0);

    // With put_lifecycle the bucket finding becomes an action; the cap of 2 stops after two actions.
    let c = CleanupConfig {
        put_lifecycle: true,
        max_actions: 2,
        max_object_deletes: 0,
        ..config()
    };
    let p = plan(&inv, &c, NOW, "us-east-1");
    assert_eq!(p.acting().count(), 2);
    let capped: Vec<&str> = p
        .items
        .iter()
        .filter(|i| {
            matches!(
                i.decision,
                Decision::Skip {
                    why: SkipReason::CapReached,
                    ..
                }
            )
        })
        .map(|i| i.id.as_str())
        .collect();
    assert_eq!(capped.len(), 6, "{capped:?}");
    assert!(capped.contains(&"b") && capped.contains(&"b/greenpipe/tmp/old"));
}

#[test]
fn config_from_env_and_overrides() {
    let env = |vars: &[(&str, &str)]| {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        CleanupConfig::from_lookup(|n| map.get(n).cloned())
    };
    assert_eq!(env(&[]).unwrap(), CleanupConfig::default());
    let c = env(&[
        ("GREENPIPE_CLEANUP_DRY_RUN", "false"),
        ("GREENPIPE_CLEANUP_REPORT_BUCKET", "r"),
        ("GREENPIPE_CLEANUP_MIN_AGE_HOURS", "1.5"),
        ("GREENPIPE_CLEANUP_KEEP_TAGS", "team:keep, do-not-delete"),
        ("GREENPIPE_CLEANUP_MANAGED_TAG", "owner"),
        ("GREENPIPE_CLEANUP_PREFIXES", "/tmp,scratch/"),
        ("GREENPIPE_CLEANUP_AREAS", "endpoints,log-groups"),
        ("GREENPIPE_CLEANUP_LOG_RETENTION_DAYS", "14"),
    ])
    .unwrap();
    assert!(!c.dry_run);
    assert_eq!(c.min_age, Duration::from_secs(5400));
    assert_eq!(c.keep_tags, vec!["greenpipe:keep", "team:keep", "do-not-delete"]);
    assert_eq!(c.managed_tag, ("owner".to_string(), None));
    assert_eq!(c.prefixes, vec!["tmp/", "scratch/"]);
    assert_eq!(c.areas.len(), 2);
    assert_eq!(c.log_retention_days, 14);
    for (name, value) in [
        ("GREENPIPE_CLEANUP_DRY_RUN", "perhaps"),
        ("GREENPIPE_CLEANUP_MIN_AGE_HOURS", "-1"),
        ("GREENPIPE_CLEANUP_MAX_ACTIONS", "ten"),
        ("GREENPIPE_CLEANUP_SCOPE", "everything"),
        ("GREENPIPE_CLEANUP_LOG_RETENTION_DAYS", "10"),
        ("GREENPIPE_CLEANUP_AREAS", "endpoints,gpus"),
        ("GREENPIPE_CLEANUP_PREFIXES", "/"),
        ("GREENPIPE_CLEANUP_PAGE_SIZE", "0"),
        ("GREENPIPE_CLEANUP_MANAGED_TAG", "=x"),
    ] {
        let err = env(&[(name, value)]).unwrap_err();
        assert_eq!(err.error_type(), "ConfigError");
        assert!(err.to_string().contains(name), "{err}");
    }
    // Acting needs somewhere to put restore manifests.
    let err = env(&[("GREENPIPE_CLEANUP_DRY_RUN", "false")]).unwrap_err();
    assert!(
        err.to_string().contains("GREENPIPE_CLEANUP_REPORT_BUCKET"),
        "{err}"
    );

    let o: Overrides =
        serde_json::from_str(r#"{"dryRun": false, "maxActions": 3, "retentionDays": 7}"#).unwrap();
    let err = CleanupConfig::default().with_overrides(&o).unwrap_err();
    assert_eq!(err.error_type(), "InvalidEvent");
    let base = CleanupConfig {
        report_bucket: Some("r".into()),
        ..CleanupConfig::default()
    };
    let c = base.with_overrides(&o).unwrap();
    assert!(!c.dry_run);
    assert_eq!((c.max_actions, c.retention), (3, Duration::from_secs(7 * 86_400)));
    assert!(
        serde_json::from_str::<Overrides>(r#"{"dryrun": false}"#).is_err(),
        "typos are refused"
    );
}

#[test]
fn report_totals_table_and_emf() {
    let inv = Inventory {
        resources: vec![
            endpoint("idle", 3 * DAY, managed(), &[0.0]),
            endpoint("kept", 3 * DAY, with(managed(), "greenpipe:keep", "yes"), &[0.0]),
        ],
        ..Inventory::default()
    };
    let p = plan(&inv, &config(), NOW, "us-east-1");
    let records: Vec<ActionRecord> = p.items.iter().map(|i| ActionRecord::pending(i, true)).collect();
    let r = CleanupReport::new(
        "run".into(),
        "2027-01-15T08:00:00Z".into(),
        true,
        "us-east-1".into(),
        &p,
        records,
    );
    assert_eq!((r.totals.would_do, r.totals.kept, r.totals.done), (1, 1, 0));
    assert_eq!(r.avoided_per_day.instance_hours, 24.0);
    let table = r.table();
    assert!(
        table.contains("would do") && table.contains("skipped: tagged greenpipe:keep"),
        "{table}"
    );
    let lines = r.emf_lines(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["AvoidedPerDayInstanceHours"], 24.0);
    assert_eq!(v["Mode"], "dry-run");
    let v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(v["ActionsWouldDo"], 1.0);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["actions"][0]["outcome"], "dry-run");
    assert_eq!(json["actions"][0]["kind"], "endpoint");
    assert_eq!(json["actions"][1]["why"], "kept");
}

// ---- property: for random inventories, the planner never acts on a busy, kept, too-young or unmanaged
// resource and never exceeds its caps.

const IDLE_OFF: [&[&str]; 4] = [
    &[],
    &["JupyterLab"],
    &["CodeEditor"],
    &["JupyterLab", "CodeEditor"],
];

fn arb_resource() -> impl Strategy<Value = Resource> {
    let tags = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(m, keep, other_keep, keep_false)| {
            let mut t = BTreeMap::new();
            if m {
                t.insert("greenpipe:managed".to_string(), "true".to_string());
            }
            if keep {
                t.insert(
                    "greenpipe:keep".to_string(),
                    if keep_false { "false" } else { "1" }.to_string(),
                );
            }
            if other_keep {
                t.insert("team:keep".to_string(), String::new());
            }
            t
        },
    );
    let age = prop_oneof![Just(None), (0i64..60 * DAY).prop_map(Some)];
    let quiet = 0i64..10 * DAY;
    let status = prop_oneof![
        Just("InService"),
        Just("InProgress"),
        Just("Stopped"),
        Just("Failed")
    ];
    let detail = (
        0u8..10,
        quiet,
        status,
        prop::collection::vec(0u8..3, 0..3),
        0usize..2,
        0u8..4,
    )
        .prop_map(|(k, quiet, status, inv, rules, name)| {
            let status = status.to_string();
            match k {
                0 => (
                    ResourceKind::Endpoint,
                    Detail::Endpoint {
                        status,
                        config_name: format!("cfg{name}"),
                        invocations: Some(inv.iter().map(|&i| f64::from(i)).sum()),
                        variants: inv
                            .iter()
                            .enumerate()
                            .map(|(i, &n)| Variant {
                                name: format!("v{i}"),
                                instance_type: Some("ml.m5.large".into()),
                                instance_count: 1,
                                serverless: false,
                                shadow: i == 1,
                                invocations: Some(f64::from(n)),
                                utilisation: None,
                            })
                            .collect(),
                    },
                ),
                1 => (
                    ResourceKind::NotebookInstance,
                    Detail::Notebook {
                        status,
                        instance_type: "ml.t3.medium".into(),
                        last_activity: (quiet % 3 != 0).then_some(NOW - quiet),
                    },
                ),
                2 => (
                    ResourceKind::StudioApp,
                    Detail::StudioApp {
                        status,
                        app_type: ["KernelGateway", "JupyterLab", "Canvas", "RSession"][name as usize].into(),
                        instance_type: None,
                        last_activity: (quiet % 5 != 0).then_some(NOW - quiet),
                        idle_shutdown: [None, Some(false), Some(true)][rules % 3],
                    },
                ),
                9 => (
                    ResourceKind::StudioIdleShutdown,
                    Detail::StudioIdleShutdown {
                        level: ["domain", "user-profile"][rules % 2].into(),
                        off: IDLE_OFF[name as usize].iter().map(|t| t.to_string()).collect(),
                    },
                ),
                3 => (
                    ResourceKind::TrainingJob,
                    Detail::Job {
                        status,
                        started: Some(NOW - quiet),
                        instance_type: Some("ml.unknown".into()),
                        instance_count: 1,
                        model_name: None,
                    },
                ),
                4 => (
                    ResourceKind::EndpointConfig,
                    Detail::EndpointConfig {
                        model_names: vec![format!("m{name}")],
                    },
                ),
                5 => (ResourceKind::Model, Detail::Model),
                6 => (ResourceKind::LogGroup, Detail::LogGroup { retention_days: None }),
                7 => (
                    ResourceKind::Bucket,
                    Detail::Bucket {
                        lifecycle_rules: rules,
                        intelligent_tiering: false,
                    },
                ),
                _ => (
                    ResourceKind::Object,
                    Detail::Object {
                        bucket: "b".into(),
                        key: format!("greenpipe/tmp/{name}"),
                        size: 1,
                    },
                ),
            }
        });
    (tags, age, detail, 0u32..1000).prop_map(|(tags, age, (kind, detail), n)| {
        let id = match (&detail, kind) {
            (Detail::Object { key, .. }, _) => format!("b/{key}/{n}"),
            (_, ResourceKind::Bucket) => "b".to_string(),
            (_, ResourceKind::LogGroup) => format!("/aws/lambda/greenpipe-{n}"),
            (_, ResourceKind::EndpointConfig) => format!("cfg{}", n % 4),
            (_, ResourceKind::Model) => format!("m{}", n % 4),
            _ => format!("{}-{n}", kind.name()),
        };
        let detail = match detail {
            Detail::Object { bucket, size, .. } => Detail::Object {
                bucket,
                key: id["b/".len()..].to_string(),
                size,
            },
            d => d,
        };
        Resource {
            kind,
            id,
            arn: None,
            created: age.map(|a| NOW - a),
            tags,
            detail,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn planner_never_acts_on_protected_resources(
        resources in prop::collection::vec(arb_resource(), 0..60),
        max_actions in 0u32..8,
        max_object_deletes in 0u32..5,
        min_age_hours in 0u64..72,
        all_scope in any::<bool>(),
        put_lifecycle in any::<bool>(),
        studio_minutes in prop::option::of(60i32..600),
        grace_hours in prop::option::of(1u64..72),
        marks in prop::collection::vec((0usize..60, 0usize..3, -100i64..100), 0..20),
    ) {
        let c = CleanupConfig {
            max_actions,
            max_object_deletes,
            min_age: Duration::from_secs(min_age_hours * 3600),
            scope: if all_scope { Scope::All } else { Scope::Managed },
            keep_tags: vec!["greenpipe:keep".into(), "team:keep".into()],
            buckets: vec!["b".into()],
            put_lifecycle,
            studio_idle_shutdown_minutes: studio_minutes,
            endpoint_idle: Duration::from_secs(6 * 3600),
            orphan_age: Duration::from_secs(2 * 86_400),
            retention: Duration::from_secs(7 * 86_400),
            grace: Duration::from_secs(grace_hours.unwrap_or(0) * 3600),
            ..CleanupConfig::default()
        };
        let mut unique = std::collections::HashSet::new();
        let mut resources: Vec<Resource> = resources.into_iter().filter(|r| unique.insert((r.kind, r.id.clone()))).collect();
        // Earlier runs' marks: some for the action a rule picks, some for another, some garbled; due
        // (in the past) or not.
        let actions = [Action::DeleteEndpoint, Action::StopNotebookInstance, Action::DeleteStudioApp];
        let n = resources.len();
        for (i, which, hours) in marks {
            if n == 0 { break; }
            let value = match which {
                2 => "garbled".to_string(),
                _ => super::plan::mark_value(actions[(i + which) % 3], &super::handler::rfc3339(NOW + hours * HOUR)),
            };
            resources[i % n].tags.insert(MARK_TAG.into(), value);
        }
        let inv = Inventory { resources: resources.clone(), ..Inventory::default() };
        let p = plan(&inv, &c, NOW, "us-east-1");
        let by_id: HashMap<(ResourceKind, &str), &Resource> = resources.iter().map(|r| ((r.kind, r.id.as_str()), r)).collect();
        let (mut actions, mut objects) = (0u32, 0u32);
        for item in p.acting() {
            let r = by_id[&(item.kind, item.id.as_str())];
            // A mark is cleared only where nothing is planned.
            if item.action == Action::ClearMark {
                prop_assert!(r.tags.contains_key(MARK_TAG));
                let planned = p.items.iter().any(|o| o.id == item.id && o.kind == item.kind && o.action != Action::ClearMark
                    && matches!(o.decision, Decision::Act | Decision::Mark { .. }));
                prop_assert!(!planned, "cleared the mark of {:?}, which is planned", item);
                continue;
            }
            let kept = r.tags.get("greenpipe:keep").is_some_and(|v| v != "false") || r.tags.contains_key("team:keep");
            prop_assert!(!kept, "acted on kept {item:?}");
            let created = r.created;
            prop_assert!(created.is_some_and(|t| NOW - t >= c.min_age.as_secs() as i64), "acted on too young {item:?}");
            if r.kind.scoped_by_tag() && !all_scope {
                prop_assert!(r.tags.get("greenpipe:managed").map(String::as_str) == Some("true"), "acted on unmanaged {item:?}");
            }
            prop_assert!(item.action != Action::ReportOnly);
            // Nothing inside its grace period: with one, a graced action needs a due mark for itself.
            if grace_hours.is_some() && item.action.graced() {
                let mark = r.tags.get(MARK_TAG).and_then(|v| super::plan::parse_mark(v));
                prop_assert!(
                    mark.is_some_and(|(a, t)| a == item.action.name() && t <= NOW),
                    "acted inside the grace period {:?} (mark {:?})", item, r.tags.get(MARK_TAG)
                );
            }
            // Nothing busy: every variant (shadow ones too) quiet, no recent Jupyter or user activity.
            let secs = |d: Duration| d.as_secs() as i64;
            match &r.detail {
                Detail::Endpoint { invocations, variants, .. } => {
                    prop_assert_eq!(*invocations, Some(0.0), "acted on a called endpoint {:?}", item);
                    prop_assert!(variants.iter().all(|v| v.invocations.unwrap_or(0.0) == 0.0));
                }
                Detail::Notebook { last_activity, .. } => prop_assert!(
                    last_activity.is_some_and(|t| NOW - t >= secs(c.notebook_idle)),
                    "stopped a notebook in use or without its signal {:?}", item
                ),
                Detail::StudioApp { last_activity, app_type, .. } => {
                    let seen = match app_type.as_str() {
                        "Canvas" | "RSession" => *last_activity,
                        _ => last_activity.or(r.created),
                    };
                    prop_assert!(seen.is_some_and(|t| NOW - t >= secs(c.studio_app_idle)), "deleted an app in use {:?}", item);
                }
                Detail::StudioIdleShutdown { off, .. } => prop_assert!(!off.is_empty() && studio_minutes.is_some()),
                _ => {}
            }
            if item.kind == ResourceKind::Object { objects += 1 } else { actions += 1 }
        }
        prop_assert!(actions <= max_actions, "{actions} actions over the cap {max_actions}");
        prop_assert!(objects <= max_object_deletes, "{objects} object deletes over the cap {max_object_deletes}");
        // Every skip is explained and the plan never lists the same resource twice.
        let mut seen = std::collections::HashSet::new();
        for item in &p.items {
            prop_assert!(seen.insert((item.kind, item.id.clone(), item.action)), "duplicate {item:?}");
            prop_assert!(!item.reason.is_empty());
        }
    }
}

#[test]
fn events_may_only_tighten_what_the_stack_allows() {
    let acting = CleanupConfig {
        dry_run: false,
        report_bucket: Some("r".into()),
        buckets: vec!["data".into()],
        ..CleanupConfig::default()
    };
    let o = |json: &str| serde_json::from_str::<Overrides>(json).unwrap();
    // Safer: allowed.
    for safer in [
        r#"{"dryRun": true}"#,
        r#"{"maxActions": 1, "retentionDays": 60, "minAgeHours": 48}"#,
        r#"{"buckets": ["data"], "prefixes": ["greenpipe/tmp/x/"], "areas": ["objects"]}"#,
        r#"{"keepTags": ["team:keep"]}"#,
    ] {
        acting
            .with_event_overrides(&o(safer))
            .unwrap_or_else(|e| panic!("{safer}: {e}"));
    }
    // Looser: refused, naming the field.
    let dry = CleanupConfig {
        dry_run: true,
        ..acting.clone()
    };
    for (config, looser, field) in [
        (&dry, r#"{"dryRun": false}"#, "dryRun"),
        (&acting, r#"{"scope": "all"}"#, "scope"),
        (&acting, r#"{"maxActions": 500}"#, "maxActions"),
        (&acting, r#"{"retentionDays": 0}"#, "retentionDays"),
        (&acting, r#"{"endpointIdleHours": 1}"#, "endpointIdleHours"),
        (&acting, r#"{"buckets": ["someone-elses"]}"#, "buckets"),
        (&acting, r#"{"prefixes": ["incoming/"]}"#, "prefixes"),
        (&acting, r#"{"putLifecycle": true}"#, "putLifecycle"),
    ] {
        let err = config.with_event_overrides(&o(looser)).unwrap_err();
        assert_eq!(err.error_type(), "InvalidEvent", "{looser}");
        assert!(err.to_string().contains(field), "{looser}: {err}");
    }
    // The stack may allow any override.
    let open = CleanupConfig {
        event_overrides: super::EventOverrides::Any,
        ..dry
    };
    assert!(
        !open
            .with_event_overrides(&o(r#"{"dryRun": false}"#))
            .unwrap()
            .dry_run
    );
}

#[test]
fn validation_reports_outlive_the_idempotency_window() {
    let c = CleanupConfig {
        retention: Duration::ZERO,
        ..CleanupConfig::default()
    };
    assert_eq!(c.retention_of("greenpipe/tmp/x"), Duration::ZERO);
    assert_eq!(
        c.retention_of("greenpipe/reports/incoming/a.csv/v1.json"),
        super::IDEMPOTENCY_WINDOW
    );
}

#[test]
fn notebook_activity_tags() {
    use super::listing::activity_time;
    assert_eq!(activity_time("2026-12-07T17:00:00Z"), Some(1_796_662_800));
    assert_eq!(activity_time(" 1796662800 "), Some(1_796_662_800));
    assert_eq!(activity_time("2026-12-07T18:00:00+01:00"), Some(1_796_662_800));
    for junk in ["", "yesterday", "2026-13-01T00:00:00Z"] {
        assert_eq!(activity_time(junk), None, "{junk:?}");
    }
}

fn studio(kind: ResourceKind, id: &str, detail: Detail) -> Resource {
    Resource {
        kind,
        id: id.into(),
        arn: None,
        created: Some(NOW - 30 * DAY),
        tags: managed(),
        detail,
    }
}

fn app(id: &str, app_type: &str, last_activity: Option<Epoch>, idle_shutdown: Option<bool>) -> Resource {
    studio(
        ResourceKind::StudioApp,
        id,
        Detail::StudioApp {
            status: "InService".into(),
            app_type: app_type.into(),
            instance_type: Some("ml.t3.medium".into()),
            last_activity,
            idle_shutdown,
        },
    )
}

fn idle_shutdown(id: &str, level: &str, off: &[&str]) -> Resource {
    studio(
        ResourceKind::StudioIdleShutdown,
        id,
        Detail::StudioIdleShutdown {
            level: level.into(),
            off: off.iter().map(|t| t.to_string()).collect(),
        },
    )
}

#[test]
fn studio_idle_shutdown_is_reported_or_enabled_and_sessions_judged_by_user_activity() {
    let inv = Inventory {
        resources: vec![
            idle_shutdown("d-off", "domain", &["JupyterLab", "CodeEditor"]),
            idle_shutdown("d-on", "domain", &[]),
            idle_shutdown("d-on/user:bob", "user-profile", &["CodeEditor"]),
            // Busy (10 minutes ago) but nothing would stop it when idle: reported.
            app(
                "d-off/space:s/JupyterLab/a",
                "JupyterLab",
                Some(NOW - 600),
                Some(false),
            ),
            // Busy and covered: nothing to say.
            app(
                "d-on/space:t/JupyterLab/b",
                "JupyterLab",
                Some(NOW - 600),
                Some(true),
            ),
            // Idle is idle, covered or not: deleted by cleanup's own rule.
            app(
                "d-off/space:u/CodeEditor/c",
                "CodeEditor",
                Some(NOW - 5 * HOUR),
                Some(false),
            ),
            // Canvas and RStudio sessions: by user activity, never by age alone.
            app(
                "d-on/user:bob/Canvas/default",
                "Canvas",
                Some(NOW - 5 * HOUR),
                None,
            ),
            app("d-on/user:amy/Canvas/default", "Canvas", None, None),
            app("d-on/user:amy/RSession/r1", "RSession", Some(NOW - 600), None),
            app("d-on/user:cy/RSession/r2", "RSession", Some(NOW - 4 * DAY), None),
            // RStudioServerPro is the domain's server, not a user's instance.
            app(
                "d-on/-/RStudioServerPro/default",
                "RStudioServerPro",
                Some(NOW - 9 * DAY),
                None,
            ),
        ],
        ..Inventory::default()
    };
    let report = "report".to_string();
    let act = "act".to_string();
    let p = plan(&inv, &config(), NOW, "us-east-1");
    assert_eq!(
        decisions(&p),
        [
            (
                "d-off/space:s/JupyterLab/a".to_string(),
                Action::ReportOnly,
                report.clone()
            ),
            (
                "d-off/space:u/CodeEditor/c".to_string(),
                Action::DeleteStudioApp,
                act.clone()
            ),
            (
                "d-on/user:bob/Canvas/default".to_string(),
                Action::DeleteStudioApp,
                act.clone()
            ),
            (
                "d-on/user:cy/RSession/r2".to_string(),
                Action::DeleteStudioApp,
                act.clone()
            ),
            ("d-off".to_string(), Action::ReportOnly, report.clone()),
            ("d-on/user:bob".to_string(), Action::ReportOnly, report.clone()),
        ]
    );
    assert!(
        p.items[4].reason.contains("JupyterLab, CodeEditor (domain)"),
        "{}",
        p.items[4].reason
    );
    assert!(
        p.items[4]
            .reason
            .contains("GREENPIPE_CLEANUP_STUDIO_IDLE_SHUTDOWN_MINUTES"),
        "{}",
        p.items[4].reason
    );

    // With a timeout configured, the settings are changed; a kept or unmanaged one still is not.
    let mut inv = inv;
    inv.resources.push(studio(
        ResourceKind::StudioIdleShutdown,
        "d-kept",
        Detail::StudioIdleShutdown {
            level: "domain".into(),
            off: vec!["JupyterLab".into()],
        },
    ));
    inv.resources
        .last_mut()
        .unwrap()
        .tags
        .insert("greenpipe:keep".into(), "1".into());
    inv.resources
        .push(idle_shutdown("d-theirs", "domain", &["JupyterLab"]));
    inv.resources.last_mut().unwrap().tags.clear();
    let c = CleanupConfig {
        studio_idle_shutdown_minutes: Some(120),
        ..config()
    };
    let p = plan(&inv, &c, NOW, "us-east-1");
    let settings: Vec<_> = decisions(&p)
        .into_iter()
        .filter(|(id, ..)| !id.contains("/space:") && id.matches('/').count() <= 1)
        .collect();
    assert_eq!(
        settings,
        [
            (
                "d-kept".to_string(),
                Action::EnableStudioIdleShutdown,
                "Kept".to_string()
            ),
            ("d-off".to_string(), Action::EnableStudioIdleShutdown, act.clone()),
            ("d-on/user:bob".to_string(), Action::EnableStudioIdleShutdown, act),
        ]
    );
    assert_eq!(p.unmanaged, 1);
    assert!(p
        .items
        .iter()
        .any(|i| i.reason.ends_with("enable it, 120 minutes")));
}

#[test]
fn studio_idle_shutdown_minutes_within_sagemakers_bounds() {
    let read = |v: &str| {
        CleanupConfig::from_lookup(|name| {
            (name == "GREENPIPE_CLEANUP_STUDIO_IDLE_SHUTDOWN_MINUTES").then(|| v.to_string())
        })
    };
    assert_eq!(read("").unwrap().studio_idle_shutdown_minutes, None);
    assert_eq!(read("120").unwrap().studio_idle_shutdown_minutes, Some(120));
    for bad in ["59", "525601", "-5", "two hours"] {
        let e = read(bad).unwrap_err().to_string();
        assert!(
            e.contains("GREENPIPE_CLEANUP_STUDIO_IDLE_SHUTDOWN_MINUTES"),
            "{bad}: {e}"
        );
    }
}
