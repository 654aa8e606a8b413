//! Where a table and an object's partition live in S3, from the contract's `catalog` section and the
//! object's key: `s3://bucket/<location>/<k1>=<v1>/<k2>=<v2>/<file>`.

use serde::{Deserialize, Serialize};

use super::section::{CatalogSection, PartitionKey, PartitionType};
use crate::{Error, Result};

/// The table location and, for a partitioned table, the object's partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLayout {
    /// `s3://bucket/prefix/`.
    pub table_location: String,
    pub partition: Option<PartitionRef>,
}

/// One partition: its values (in partition-key order, as Glue wants them) and its folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRef {
    pub values: Vec<String>,
    /// `s3://bucket/prefix/dt=2026-11-27/`.
    pub location: String,
}

/// The folder a contract covers: `contracts/incoming/sales.yaml` (under `contracts/`) → `incoming/sales/`
/// (see [`crate::aws::contracts`] for how contracts belong to folders). `None` when the key is not a
/// contract under that prefix.
pub fn dataset_prefix(contracts_prefix: &str, contract_key: &str) -> Option<String> {
    let rel = contract_key.strip_prefix(contracts_prefix)?;
    let (stem, _ext) = rel.rsplit_once('.')?;
    (!stem.is_empty()).then(|| format!("{stem}/"))
}

/// Resolve the layout of the object `s3://bucket/key`. `dataset_prefix` is the default location (see
/// [`dataset_prefix`]). The object must be under the table location and, when the table is partitioned,
/// directly inside one `name=value` folder per partition key, in order; values are Hive-unescaped
/// (`%3A` → `:`) and checked against their type.
pub fn resolve(
    section: &CatalogSection,
    dataset_prefix: Option<&str>,
    bucket: &str,
    key: &str,
) -> Result<ObjectLayout> {
    let mismatch = |message: String| Error::KeyLayoutMismatch {
        key: format!("s3://{bucket}/{key}"),
        message,
    };
    let (table_bucket, prefix) = match (&section.location, dataset_prefix) {
        (Some(location), _) => match location.strip_prefix("s3://") {
            Some(rest) => {
                let (b, p) = rest.split_once('/').unwrap_or((rest, ""));
                (b, folder(p))
            }
            None => (bucket, folder(location)),
        },
        (None, Some(prefix)) => (bucket, folder(prefix)),
        (None, None) => {
            return Err(mismatch(
                "the contract's folder is unknown: set catalog.location".into(),
            ))
        }
    };
    let table_location = format!("s3://{table_bucket}/{prefix}");
    let rest = match key.strip_prefix(prefix.as_str()) {
        Some(rest) if table_bucket == bucket => rest,
        _ => {
            return Err(mismatch(format!(
                "the object is not under the table location {table_location}"
            )))
        }
    };
    let (dirs, file) = rest.rsplit_once('/').unwrap_or(("", rest));
    if file.is_empty() {
        return Err(mismatch("the key names a folder, not an object".into()));
    }
    if section.partition_keys.is_empty() {
        return Ok(ObjectLayout {
            table_location,
            partition: None,
        });
    }

    let expected = || {
        let keys: Vec<String> = section
            .partition_keys
            .iter()
            .map(|k| format!("{}=<{}>/", k.name.to_lowercase(), type_name(k.ty)))
            .collect();
        format!("{table_location}{}<file>", keys.concat())
    };
    let segments: Vec<&str> = if dirs.is_empty() {
        Vec::new()
    } else {
        dirs.split('/').collect()
    };
    if segments.len() != section.partition_keys.len() {
        return Err(mismatch(format!(
            "expected {}, one folder per partition key",
            expected()
        )));
    }
    let mut values = Vec::with_capacity(segments.len());
    for (segment, partition_key) in segments.iter().zip(&section.partition_keys) {
        let value = partition_value(segment, partition_key)
            .map_err(|m| mismatch(format!("folder {segment:?}: {m} (expected {})", expected())))?;
        values.push(value);
    }
    Ok(ObjectLayout {
        partition: Some(PartitionRef {
            values,
            location: format!("{table_location}{dirs}/"),
        }),
        table_location,
    })
}

/// A key prefix as a folder: no leading `/`, exactly one trailing `/`; the bucket root is `""`.
fn folder(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

fn type_name(ty: PartitionType) -> &'static str {
    match ty {
        PartitionType::String => "string",
        PartitionType::Int => "int",
        PartitionType::Date => "YYYY-MM-DD",
    }
}

/// The value of one `name=value` folder, checked against the partition key.
fn partition_value(segment: &str, key: &PartitionKey) -> std::result::Result<String, String> {
    let Some((name, raw)) = segment.split_once('=') else {
        return Err(format!("not a `{}=value` folder", key.name.to_lowercase()));
    };
    if !name.eq_ignore_ascii_case(&key.name) {
        return Err(format!(
            "partition key {name:?} where {:?} was expected",
            key.name
        ));
    }
    // Hive escapes special characters in partition folder names as %XX.
    let value = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| "the value does not decode to UTF-8".to_string())?
        .into_owned();
    if value.is_empty() {
        return Err("empty partition value".into());
    }
    let ok = match key.ty {
        PartitionType::String => true,
        PartitionType::Int => value.parse::<i64>().is_ok(),
        PartitionType::Date => is_date(&value),
    };
    if ok {
        Ok(value)
    } else {
        Err(format!("{value:?} is not a valid {}", type_name(key.ty)))
    }
}

/// `YYYY-MM-DD`, a real calendar day (the engine's date parser).
fn is_date(s: &str) -> bool {
    crate::validate::values::parse_date(s.as_bytes()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::register_catalog::section::CsvSerde;

    fn section(location: Option<&str>, keys: &[(&str, PartitionType)]) -> CatalogSection {
        CatalogSection {
            database: "ml".into(),
            table: None,
            location: location.map(str::to_string),
            partition_keys: keys
                .iter()
                .map(|(name, ty)| PartitionKey {
                    name: name.to_string(),
                    ty: *ty,
                })
                .collect(),
            allow_breaking: false,
            description: None,
            csv_serde: CsvSerde::LazySimple,
            catalog_id: None,
        }
    }

    #[test]
    fn dataset_prefixes() {
        assert_eq!(
            dataset_prefix("contracts/", "contracts/incoming/sales.yaml").as_deref(),
            Some("incoming/sales/")
        );
        assert_eq!(
            dataset_prefix("contracts/", "contracts/sales.v2.json").as_deref(),
            Some("sales.v2/")
        );
        assert_eq!(dataset_prefix("contracts/", "other/sales.yaml"), None);
        assert_eq!(dataset_prefix("contracts/", "contracts/.yaml"), None);
    }

    #[test]
    fn unpartitioned_defaults_to_the_contract_folder() {
        let s = section(None, &[]);
        let l = resolve(&s, Some("incoming/sales/"), "b", "incoming/sales/2026/x.csv").unwrap();
        assert_eq!(l.table_location, "s3://b/incoming/sales/");
        assert_eq!(l.partition, None);
        let err = resolve(&s, Some("incoming/sales/"), "b", "incoming/other/x.csv").unwrap_err();
        assert_eq!(err.error_type(), "KeyLayoutMismatch");
        assert!(
            err.to_string()
                .contains("not under the table location s3://b/incoming/sales/"),
            "{err}"
        );
        let err = resolve(&s, None, "b", "x.csv").unwrap_err();
        assert!(err.to_string().contains("set catalog.location"), "{err}");
    }

    #[test]
    fn explicit_locations() {
        let s = section(Some("/data/sales"), &[]);
        let l = resolve(&s, Some("ignored/"), "b", "data/sales/x.csv").unwrap();
        assert_eq!(l.table_location, "s3://b/data/sales/");
        let s = section(Some("s3://b/data/"), &[]);
        assert_eq!(
            resolve(&s, None, "b", "data/x.csv").unwrap().table_location,
            "s3://b/data/"
        );
        let err = resolve(&s, None, "other", "data/x.csv").unwrap_err();
        assert!(err.to_string().contains("s3://b/data/"), "{err}");
        let s = section(Some("s3://b"), &[]);
        assert_eq!(resolve(&s, None, "b", "x.csv").unwrap().table_location, "s3://b/");
        let err = resolve(&s, None, "b", "dir/").unwrap_err();
        assert!(err.to_string().contains("names a folder"), "{err}");
    }

    #[test]
    fn partitions_from_hive_folders() {
        let s = section(
            None,
            &[("dt", PartitionType::Date), ("Region", PartitionType::String)],
        );
        let l = resolve(
            &s,
            Some("sales/"),
            "b",
            "sales/dt=2026-11-27/region=eu%2Fwest/part-0.csv",
        )
        .unwrap();
        assert_eq!(l.table_location, "s3://b/sales/");
        assert_eq!(
            l.partition,
            Some(PartitionRef {
                values: vec!["2026-11-27".into(), "eu/west".into()],
                location: "s3://b/sales/dt=2026-11-27/region=eu%2Fwest/".into(),
            })
        );
        let s = section(None, &[("n", PartitionType::Int)]);
        let l = resolve(&s, Some("t/"), "b", "t/N=-42/x.parquet").unwrap();
        assert_eq!(l.partition.unwrap().values, ["-42"]);
    }

    #[test]
    fn partition_mismatches() {
        let s = section(None, &[("dt", PartitionType::Date)]);
        let cases = [
            ("sales/x.csv", "one folder per partition key"),
            ("sales/2026/dt=2026-01-01/x.csv", "one folder per partition key"),
            ("sales/day=2026-01-01/x.csv", "partition key \"day\""),
            ("sales/dt=2026-02-30/x.csv", "not a valid YYYY-MM-DD"),
            ("sales/dt=/x.csv", "empty partition value"),
            ("sales/2026-01-01/x.csv", "not a `dt=value` folder"),
            ("sales/dt=%FF/x.csv", "UTF-8"),
        ];
        for (key, want) in cases {
            let err = resolve(&s, Some("sales/"), "b", key).unwrap_err();
            assert_eq!(err.error_type(), "KeyLayoutMismatch", "{key}");
            let text = err.to_string();
            assert!(text.contains(want), "{key}: {text}");
            assert!(text.contains("s3://b/sales/dt=<YYYY-MM-DD>/<file>"), "{text}");
        }
        let s = section(None, &[("n", PartitionType::Int)]);
        let err = resolve(&s, Some("t/"), "b", "t/n=1.5/x.csv").unwrap_err();
        assert!(err.to_string().contains("not a valid int"), "{err}");
    }

    #[test]
    fn dates() {
        for ok in ["2024-02-29", "2000-02-29", "2026-12-31", "0001-01-01"] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "1900-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "2026-01-1x",
            "+026-01-01",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }
}
