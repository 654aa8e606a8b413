use serde_json::json;

use super::offline::{file_key, parquet_file, split_s3_uri, Hour};
use super::*;
use crate::contract::parse_contract;

fn group() -> FeatureGroup {
    FeatureGroup {
        name: "sales".into(),
        record_identifier: "order_id".into(),
        event_time: "event_time".into(),
        features: vec![
            ("order_id".into(), FeatureType::Integral),
            ("event_time".into(), FeatureType::String),
            ("amount".into(), FeatureType::Fractional),
            ("country".into(), FeatureType::String),
            ("qty".into(), FeatureType::Integral),
        ],
        offline_uri: None,
        online: true,
    }
}

fn section(v: serde_json::Value) -> FeaturesSection {
    serde_json::from_value(v).unwrap()
}

fn strings(v: &[Option<&str>]) -> Vec<Option<String>> {
    v.iter().map(|s| s.map(str::to_string)).collect()
}

#[test]
fn parses_the_section() {
    let yaml = r#"
name: sales
columns: [{name: order_id, type: int}]
features:
  feature_group: sales-fg
  record_identifier: order_id
  event_time_column: order_ts
  features: [amount, {column: quantity, name: qty}]
  target_stores: [OnlineStore]
  concurrency: 8
"#;
    let contract = parse_contract(yaml.as_bytes(), "c.yaml").unwrap();
    let s = FeaturesSection::from_contract(&contract, "c.yaml")
        .unwrap()
        .unwrap();
    assert_eq!(s.feature_group.as_deref(), Some("sales-fg"));
    let f = s.features.unwrap();
    assert_eq!((f[1].column(), f[1].feature()), ("quantity", "qty"));
    assert_eq!((f[0].column(), f[0].feature()), ("amount", "amount"));
    for bad in [
        "features: {concurrency: 0}",
        "features: {target_stores: []}",
        "features: {nope: 1}",
    ] {
        let c = parse_contract(format!("name: x\n{bad}\n").as_bytes(), "c.yaml").unwrap();
        let err = FeaturesSection::from_contract(&c, "c.yaml").unwrap_err();
        assert_eq!(err.error_type(), "ContractInvalid", "{bad}");
    }
}

#[test]
fn maps_rows_to_records() {
    let s = section(
        json!({"event_time_column": "ts", "features": ["amount", {"column": "quantity", "name": "qty"}]}),
    );
    let m = Mapping::plan(&s, &group(), None, 0).unwrap();
    assert_eq!(m.columns, ["order_id", "ts", "amount", "quantity"]);
    let r = m
        .record(strings(&[
            Some("7"),
            Some("2026-11-27 10:00:00.25"),
            Some(" 1.5 "),
            None,
        ]))
        .unwrap();
    assert_eq!(
        r,
        vec![
            ("order_id".to_string(), "7".to_string()),
            ("event_time".to_string(), "2026-11-27T10:00:00.250Z".to_string()),
            ("amount".to_string(), "1.5".to_string()),
        ]
    );
    let err = |v: &[Option<&str>]| m.record(strings(v)).unwrap_err().error_type;
    assert_eq!(
        err(&[None, Some("2026-11-27T10:00:00Z"), None, None]),
        "MissingRecordIdentifier"
    );
    assert_eq!(err(&[Some("1"), None, None, None]), "MissingEventTime");
    assert_eq!(
        err(&[Some("1"), Some("yesterday"), None, None]),
        "InvalidEventTime"
    );
    assert_eq!(
        err(&[Some("1"), Some("1700000000"), Some("abc"), None]),
        "TypeMismatch"
    );
    assert_eq!(err(&[Some("x1"), Some("1700000000"), None, None]), "TypeMismatch");
    assert_eq!(
        err(&[Some("1"), Some("1700000000"), None, Some("2.5")]),
        "TypeMismatch"
    );
}

#[test]
fn a_column_read_by_two_features_reaches_both() {
    // `qty` and `amount` both read column "n": the first must leave the value for the second, trimmed
    // or not.
    let s = section(json!({
        "event_time_column": "ts",
        "features": [{"column": "n", "name": "qty"}, {"column": "n", "name": "amount"}, "country"]
    }));
    let m = Mapping::plan(&s, &group(), None, 0).unwrap();
    assert_eq!(m.columns, ["order_id", "ts", "n", "country"]);
    for n in ["3", " 3 "] {
        let r = m
            .record(strings(&[Some(" 7"), Some("1700000000"), Some(n), Some("FR ")]))
            .unwrap();
        assert_eq!(
            r,
            vec![
                ("order_id".to_string(), "7".to_string()),
                ("event_time".to_string(), "2023-11-14T22:13:20Z".to_string()),
                ("qty".to_string(), "3".to_string()),
                ("amount".to_string(), "3".to_string()),
                ("country".to_string(), "FR".to_string()),
            ],
            "{n:?}"
        );
    }
}

#[test]
fn default_mapping_and_run_event_time() {
    let s = section(json!({}));
    let cols: Vec<String> = ["order_id", "amount", "country", "other"]
        .map(String::from)
        .to_vec();
    let run = parse_event_time("2026-11-27T09:30:00Z").unwrap();
    let m = Mapping::plan(&s, &group(), Some(&cols), run).unwrap();
    assert_eq!(m.columns, ["order_id", "amount", "country"]);
    let r = m.record(strings(&[Some("1"), Some("2"), Some("FR")])).unwrap();
    assert_eq!(
        r[1],
        ("event_time".to_string(), "2026-11-27T09:30:00Z".to_string())
    );
    assert_eq!(r.len(), 4);
}

#[test]
fn mapping_errors_are_typed() {
    let unknown = section(json!({"features": ["nope"]}));
    let err = Mapping::plan(&unknown, &group(), None, 0).unwrap_err();
    assert_eq!(err.error_type(), "FeatureGroupMismatch");
    let cols = vec!["order_id".to_string()];
    let missing_column = section(json!({"event_time_column": "ts"}));
    let err = Mapping::plan(&missing_column, &group(), Some(&cols), 0).unwrap_err();
    assert_eq!(err.error_type(), "FeatureGroupMismatch");
}

#[test]
fn event_time_formats() {
    let t = parse_event_time("2026-11-27T10:00:00Z").unwrap();
    assert_eq!(
        format_event_time(t, FeatureType::String).unwrap(),
        "2026-11-27T10:00:00Z"
    );
    assert_eq!(
        format_event_time(t, FeatureType::Fractional).unwrap(),
        "1795773600"
    );
    assert_eq!(
        format_event_time(t + 250_000, FeatureType::Fractional).unwrap(),
        "1795773600.25"
    );
    assert_eq!(format_event_time(t, FeatureType::Integral), None);
    assert_eq!(parse_event_time("1795773600.5"), Some(t + 500_000));
    assert_eq!(parse_event_time(""), None);
}

/// The offline sink's partition of an event time at either end of the representable range: no
/// wrap-around (which debug builds would panic on), and the year keeps its sign.
#[test]
fn offline_hour_of_extreme_times() {
    let early = Hour::of(i64::MIN);
    assert!(early.year < 0, "{early:?}");
    let late = Hour::of(i64::MAX);
    assert!(late.year > 9999, "{late:?}");
    assert!((1..=12).contains(&early.month) && (1..=12).contains(&late.month));
    let before_1970 = Hour::of(-1);
    assert_eq!(before_1970.path(), "year=1969/month=12/day=31/hour=23");
}

#[test]
fn offline_layout() {
    let t = parse_event_time("2026-11-27T09:59:59.999Z").unwrap();
    let h = Hour::of(t);
    assert_eq!(h.path(), "year=2026/month=11/day=27/hour=09");
    let (bucket, prefix) =
        split_s3_uri("s3://b/off/123/sagemaker/us-east-1/offline-store/g-1/data/").unwrap();
    assert_eq!(
        (bucket.as_str(), prefix.as_str()),
        ("b", "off/123/sagemaker/us-east-1/offline-store/g-1/data")
    );
    let k1 = file_key(&prefix, h, t, "etag1", 1);
    assert!(k1.starts_with("off/123/sagemaker/us-east-1/offline-store/g-1/data/year=2026/month=11/day=27/hour=09/20261127T095959Z_"), "{k1}");
    assert!(k1.ends_with(".parquet"));
    assert_eq!(k1, file_key(&prefix, h, t, "etag1", 1));
    assert_ne!(k1, file_key(&prefix, h, t, "etag2", 1));
}

#[test]
fn offline_parquet_reads_back() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let g = group();
    let rows = vec![
        strings(&[
            Some("1"),
            Some("2026-11-27T09:00:00Z"),
            Some("1.5"),
            Some("FR"),
            None,
        ]),
        strings(&[Some("2"), Some("2026-11-27T09:10:00Z"), None, None, Some("3")]),
    ];
    let bytes = parquet_file(&g.features, &rows, 1_000_000).unwrap();
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
    let rows: Vec<String> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().to_string())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].contains("order_id: 1")
            && rows[0].contains("amount: 1.5")
            && rows[0].contains("country: \"FR\""),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains("qty: 3")
            && rows[1].contains("amount: null")
            && rows[1].contains("is_deleted: false"),
        "{}",
        rows[1]
    );
}

/// write-features reads Parquet through the same page accounting as validation: the pages of the
/// columns it projects are counted together, per column, against the smaller of the contract's limit
/// and its own; a column it does not project is not counted.
#[test]
fn parquet_pages_held_at_once_are_bounded_per_column_read() {
    use super::rows::{read_rows, Resume, RowSpec};
    use crate::contract::{Compression, FormatSpec, Limits};
    let file = bytes::Bytes::from(crate::validate::tests::wide_parquet(3, 400_000));
    let spec = |columns: &[&str]| RowSpec {
        format: FormatSpec::Parquet,
        compression: Compression::None,
        columns: columns.iter().map(|c| c.to_string()).collect(),
        csv_names: Vec::new(),
        max_record_bytes: 1 << 20,
        max_expanded_bytes: 1 << 30,
        limits: Limits::default(),
        max_parquet_page_bytes: 1 << 20,
    };
    let mut rows = 0;
    let err = read_rows(&file, &spec(&["a", "b", "c"]), Resume::default(), &mut |b| {
        rows += b.len();
        true
    })
    .unwrap_err();
    assert_eq!(err.error_type(), "DataUnreadable", "{err}");
    assert!(
        err.to_string().contains("the 3 columns read would hold 1200"),
        "{err}"
    );
    assert_eq!(rows, 0);
    read_rows(&file, &spec(&["a", "c"]), Resume::default(), &mut |b| {
        rows += b.len();
        true
    })
    .unwrap();
    assert_eq!(rows, 1);
}
