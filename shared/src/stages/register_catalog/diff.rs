//! Schema-change classification: what differs between the table in the catalog and the table the
//! contract asks for, and whether each difference breaks data already registered.
//!
//! | Change | Breaking when |
//! |---|---|
//! | added column | it is not nullable (rows already registered have no value), or, for CSV (read by position), it is not after every existing column |
//! | removed column | always (its data would no longer be queryable) |
//! | changed column type | always (widening included: old files keep their encoding, e.g. Parquet INT64) |
//! | column order | for CSV only |
//! | partition keys | always |
//! | location, table type, input/output format, SerDe or one of its parameters | always (old data would be read with the new settings) |
//! | `skip.header.line.count` | always (a header would be read as data, or a row skipped) |
//! | compression flag, other greenpipe-managed parameters, description | never |

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::table::{is_managed_parameter, GlueColumn, TableDef, TablePlan};

/// One difference between the catalog's table and the contract's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    #[serde(flatten)]
    pub kind: ChangeKind,
    /// Whether data already registered would be misread, or drop out of queries, after the change.
    pub breaking: bool,
    /// The change in words.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeKind {
    AddedColumn {
        column: String,
        #[serde(rename = "type")]
        ty: String,
        nullable: bool,
    },
    RemovedColumn {
        column: String,
        #[serde(rename = "type")]
        ty: String,
    },
    ChangedType {
        column: String,
        from: String,
        to: String,
    },
    ReorderedColumns {
        from: Vec<String>,
        to: Vec<String>,
    },
    PartitionKeys {
        from: Vec<String>,
        to: Vec<String>,
    },
    Storage {
        field: String,
        from: Option<String>,
        to: Option<String>,
    },
    Parameter {
        name: String,
        from: Option<String>,
        to: Option<String>,
    },
    Description {
        from: Option<String>,
        to: Option<String>,
    },
}

/// Whether any of `changes` is breaking.
pub fn is_breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.breaking)
}

/// Every difference between `existing` (from GetTable) and the table `plan` wants; empty when the
/// table is already as the contract says (then nothing is written).
pub fn classify(existing: &TableDef, plan: &TablePlan) -> Vec<Change> {
    let desired = &plan.table;
    let mut changes = Vec::new();
    let old_types: HashMap<&str, &str> = existing
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.ty.as_str()))
        .collect();
    let new_types: HashMap<&str, &str> = desired
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.ty.as_str()))
        .collect();

    for c in &existing.columns {
        if !new_types.contains_key(c.name.as_str()) {
            changes.push(Change {
                message: format!(
                    "removed column `{}` ({}): its data would no longer be queryable",
                    c.name, c.ty
                ),
                kind: ChangeKind::RemovedColumn {
                    column: c.name.clone(),
                    ty: c.ty.clone(),
                },
                breaking: true,
            });
        }
    }
    for c in &desired.columns {
        if let Some(old) = old_types.get(c.name.as_str()) {
            if !old.eq_ignore_ascii_case(&c.ty) {
                changes.push(Change {
                    message: format!("column `{}` changed type from {old} to {}", c.name, c.ty),
                    kind: ChangeKind::ChangedType {
                        column: c.name.clone(),
                        from: old.to_string(),
                        to: c.ty.clone(),
                    },
                    breaking: true,
                });
            }
        }
    }

    let kept_old: Vec<&str> = names(&existing.columns)
        .filter(|n| new_types.contains_key(n))
        .collect();
    let kept_new: Vec<&str> = names(&desired.columns)
        .filter(|n| old_types.contains_key(n))
        .collect();
    if kept_old != kept_new {
        changes.push(Change {
            message: if plan.positional {
                "columns reordered: CSV columns are read by position, so rows already registered would \
                 be misread"
                    .into()
            } else {
                "columns reordered".into()
            },
            kind: ChangeKind::ReorderedColumns {
                from: names(&existing.columns).map(str::to_string).collect(),
                to: names(&desired.columns).map(str::to_string).collect(),
            },
            breaking: plan.positional,
        });
    }

    let last_kept = desired
        .columns
        .iter()
        .rposition(|c| old_types.contains_key(c.name.as_str()));
    for (i, c) in desired.columns.iter().enumerate() {
        if old_types.contains_key(c.name.as_str()) {
            continue;
        }
        let nullable = !plan.required.contains(&c.name);
        let at_end = last_kept.is_none_or(|last| i > last);
        let (breaking, message) = if !nullable {
            (
                true,
                format!(
                    "added column `{}` ({}) is not nullable: rows already registered have no value for it",
                    c.name, c.ty
                ),
            )
        } else if plan.positional && !at_end {
            (
                true,
                format!(
                    "added column `{}` ({}) is not after the existing columns: CSV columns are read by \
                     position, so rows already registered would be misread",
                    c.name, c.ty
                ),
            )
        } else {
            (false, format!("added nullable column `{}` ({})", c.name, c.ty))
        };
        changes.push(Change {
            kind: ChangeKind::AddedColumn {
                column: c.name.clone(),
                ty: c.ty.clone(),
                nullable,
            },
            breaking,
            message,
        });
    }

    let keys = |cols: &[GlueColumn]| -> Vec<String> {
        cols.iter()
            .map(|c| format!("{} {}", c.name, c.ty.to_lowercase()))
            .collect()
    };
    let (old_keys, new_keys) = (keys(&existing.partition_keys), keys(&desired.partition_keys));
    if old_keys != new_keys {
        changes.push(Change {
            message: format!("partition keys changed from {old_keys:?} to {new_keys:?}"),
            kind: ChangeKind::PartitionKeys {
                from: old_keys,
                to: new_keys,
            },
            breaking: true,
        });
    }

    let storage = [
        ("location", &existing.location, &desired.location),
        ("table type", &existing.table_type, &desired.table_type),
        ("input format", &existing.input_format, &desired.input_format),
        ("output format", &existing.output_format, &desired.output_format),
        ("SerDe", &existing.serde_library, &desired.serde_library),
    ];
    for (field, from, to) in storage {
        if from != to {
            changes.push(storage_change(field.to_string(), from.clone(), to.clone(), true));
        }
    }
    for (key, value) in &desired.serde_parameters {
        let old = existing.serde_parameters.get(key);
        if old != Some(value) {
            changes.push(storage_change(
                format!("SerDe parameter {key}"),
                old.cloned(),
                Some(value.clone()),
                true,
            ));
        }
    }
    if existing.compressed != desired.compressed {
        // Hadoop's text input picks the codec from each file's extension, so old files still read.
        changes.push(storage_change(
            "compressed".into(),
            Some(existing.compressed.to_string()),
            Some(desired.compressed.to_string()),
            false,
        ));
    }

    let managed: BTreeSet<&String> = existing
        .parameters
        .keys()
        .filter(|k| is_managed_parameter(k))
        .chain(desired.parameters.keys())
        .collect();
    for key in managed {
        let (from, to) = (existing.parameters.get(key), desired.parameters.get(key));
        if from != to {
            let breaking = key == "skip.header.line.count";
            changes.push(Change {
                message: format!(
                    "table parameter {key} changed from {} to {}",
                    show(from.map(String::as_str)),
                    show(to.map(String::as_str))
                ),
                kind: ChangeKind::Parameter {
                    name: key.clone(),
                    from: from.cloned(),
                    to: to.cloned(),
                },
                breaking,
            });
        }
    }

    if desired.description.is_some() && desired.description != existing.description {
        changes.push(Change {
            message: "description changed".into(),
            kind: ChangeKind::Description {
                from: existing.description.clone(),
                to: desired.description.clone(),
            },
            breaking: false,
        });
    }
    changes
}

fn names(columns: &[GlueColumn]) -> impl Iterator<Item = &str> {
    columns.iter().map(|c| c.name.as_str())
}

fn show(value: Option<&str>) -> String {
    value.map_or_else(|| "(unset)".to_string(), |v| format!("{v:?}"))
}

fn storage_change(field: String, from: Option<String>, to: Option<String>, breaking: bool) -> Change {
    Change {
        message: format!(
            "{field} changed from {} to {}",
            show(from.as_deref()),
            show(to.as_deref())
        ),
        kind: ChangeKind::Storage { field, from, to },
        breaking,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::stages::register_catalog::table::{EXTERNAL_TABLE, LAZY_SIMPLE_SERDE, TEXT_INPUT_FORMAT};

    fn table(columns: &[(&str, &str)]) -> TableDef {
        TableDef {
            name: "t".into(),
            description: None,
            table_type: Some(EXTERNAL_TABLE.into()),
            columns: columns.iter().map(|(n, t)| GlueColumn::new(*n, *t)).collect(),
            partition_keys: vec![GlueColumn::new("dt", "date")],
            location: Some("s3://b/t/".into()),
            input_format: Some(TEXT_INPUT_FORMAT.into()),
            output_format: Some("out".into()),
            compressed: false,
            serde_library: Some(LAZY_SIMPLE_SERDE.into()),
            serde_parameters: BTreeMap::from([("field.delim".into(), ",".into())]),
            parameters: BTreeMap::from([
                ("classification".into(), "csv".into()),
                ("skip.header.line.count".into(), "1".into()),
            ]),
        }
    }

    fn plan(columns: &[(&str, &str)], required: &[&str], positional: bool) -> TablePlan {
        TablePlan {
            database: "db".into(),
            catalog_id: None,
            table: table(columns),
            required: required.iter().map(|s| s.to_string()).collect(),
            positional,
            allow_breaking: false,
        }
    }

    const BASE: &[(&str, &str)] = &[("id", "bigint"), ("amount", "double")];

    fn kinds(changes: &[Change]) -> Vec<(&str, bool)> {
        changes
            .iter()
            .map(|c| {
                let kind = match &c.kind {
                    ChangeKind::AddedColumn { .. } => "added",
                    ChangeKind::RemovedColumn { .. } => "removed",
                    ChangeKind::ChangedType { .. } => "type",
                    ChangeKind::ReorderedColumns { .. } => "reordered",
                    ChangeKind::PartitionKeys { .. } => "partition_keys",
                    ChangeKind::Storage { .. } => "storage",
                    ChangeKind::Parameter { .. } => "parameter",
                    ChangeKind::Description { .. } => "description",
                };
                (kind, c.breaking)
            })
            .collect()
    }

    #[test]
    fn identical_is_no_change() {
        let existing = table(BASE);
        assert!(classify(&existing, &plan(BASE, &["id"], true)).is_empty());
        // Extra parameters set by someone else, and type-name case, are not changes.
        let mut existing = table(&[("id", "BIGINT"), ("amount", "double")]);
        existing
            .parameters
            .insert("transient_lastDdlTime".into(), "1".into());
        existing
            .serde_parameters
            .insert("timestamp.formats".into(), "x".into());
        assert!(classify(&existing, &plan(BASE, &[], true)).is_empty());
    }

    #[test]
    fn added_nullable_column_at_the_end_is_compatible() {
        let desired = [("id", "bigint"), ("amount", "double"), ("note", "string")];
        let changes = classify(&table(BASE), &plan(&desired, &["id"], true));
        assert_eq!(kinds(&changes), [("added", false)]);
        assert!(!is_breaking(&changes));
        assert_eq!(changes[0].message, "added nullable column `note` (string)");
    }

    #[test]
    fn added_columns_that_break() {
        let desired = [("id", "bigint"), ("amount", "double"), ("note", "string")];
        let changes = classify(&table(BASE), &plan(&desired, &["note"], false));
        assert_eq!(kinds(&changes), [("added", true)]);
        assert!(
            changes[0].message.contains("not nullable"),
            "{}",
            changes[0].message
        );

        // In the middle: breaking for CSV (positional), fine for JSON / Parquet.
        let middle = [("id", "bigint"), ("note", "string"), ("amount", "double")];
        let changes = classify(&table(BASE), &plan(&middle, &[], true));
        assert_eq!(kinds(&changes), [("added", true)]);
        assert!(changes[0].message.contains("by position"));
        let changes = classify(&table(BASE), &plan(&middle, &[], false));
        assert_eq!(kinds(&changes), [("added", false)]);
    }

    #[test]
    fn removed_and_changed_columns_break() {
        let changes = classify(&table(BASE), &plan(&[("id", "bigint")], &[], false));
        assert_eq!(kinds(&changes), [("removed", true)]);
        assert!(changes[0].message.contains("removed column `amount` (double)"));

        let changes = classify(
            &table(BASE),
            &plan(&[("id", "string"), ("amount", "double")], &[], false),
        );
        assert_eq!(kinds(&changes), [("type", true)]);
        assert_eq!(
            changes[0].message,
            "column `id` changed type from bigint to string"
        );
        // Widening is breaking too (old Parquet files keep INT64).
        let changes = classify(
            &table(BASE),
            &plan(&[("id", "double"), ("amount", "double")], &[], false),
        );
        assert!(is_breaking(&changes));
    }

    #[test]
    fn reordering_matters_only_for_csv() {
        let swapped = [("amount", "double"), ("id", "bigint")];
        assert_eq!(
            kinds(&classify(&table(BASE), &plan(&swapped, &[], true))),
            [("reordered", true)]
        );
        assert_eq!(
            kinds(&classify(&table(BASE), &plan(&swapped, &[], false))),
            [("reordered", false)]
        );
    }

    #[test]
    fn storage_partition_and_parameters() {
        let existing = table(BASE);
        let mut p = plan(BASE, &[], true);
        p.table.partition_keys = vec![GlueColumn::new("day", "date")];
        p.table.location = Some("s3://b/other/".into());
        p.table.serde_parameters.insert("field.delim".into(), ";".into());
        p.table.compressed = true;
        p.table.parameters.insert("compressionType".into(), "gzip".into());
        p.table.parameters.remove("skip.header.line.count");
        p.table.description = Some("new".into());
        let changes = classify(&existing, &p);
        assert_eq!(
            kinds(&changes),
            [
                ("partition_keys", true),
                ("storage", true),
                ("storage", true),
                ("storage", false),
                ("parameter", false),
                ("parameter", true),
                ("description", false),
            ]
        );
        assert_eq!(
            changes[1].message,
            "location changed from \"s3://b/t/\" to \"s3://b/other/\""
        );
        assert_eq!(
            changes[5].message,
            "table parameter skip.header.line.count changed from \"1\" to (unset)"
        );
    }

    #[test]
    fn changes_serialise_with_their_kind() {
        let changes = classify(&table(BASE), &plan(&[("id", "bigint")], &[], false));
        let json = serde_json::to_value(&changes).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "kind": "removed_column", "column": "amount", "type": "double", "breaking": true,
                "message": "removed column `amount` (double): its data would no longer be queryable"
            }])
        );
        let back: Vec<Change> = serde_json::from_value(json).unwrap();
        assert_eq!(back, changes);
    }
}
