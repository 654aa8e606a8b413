//! The contract's `catalog:` section, typed and checked (see `docs/contracts.md`, "catalog").

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::contract::Contract;
use crate::{Error, Result};

/// Glue (and Athena) names: at most 255 characters.
const MAX_NAME_CHARS: usize = 255;

/// Where and how a dataset is registered in the Glue Data Catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSection {
    /// Glue database; created when missing.
    pub database: String,
    /// Table name. Default: the contract's name, lowercased, other characters than letters, digits and
    /// `_` replaced by `_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Table location: `s3://bucket/prefix/`, or a key prefix in the object's bucket. Default: the folder
    /// the contract belongs to (`sales/` for `contracts/sales.yaml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Hive-style partition keys, in the order of the key's folders: `[{name: dt, type: date}]` for
    /// `sales/dt=2026-11-27/part-0.csv`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_keys: Vec<PartitionKey>,
    /// Schema change policy: whether a breaking change (removed column, changed type, ...) may be applied.
    /// Compatible changes (an added nullable column) are always applied.
    #[serde(default)]
    pub allow_breaking: bool,
    /// Table description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// SerDe for CSV data.
    #[serde(default)]
    pub csv_serde: CsvSerde,
    /// The Data Catalog (AWS account id) to write to. Default: the caller's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
}

/// One partition key: a `name=value` folder in every object key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionKey {
    pub name: String,
    #[serde(rename = "type", default)]
    pub ty: PartitionType,
}

/// Types a partition value may have (it is text in the key; it is checked against the type).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionType {
    #[default]
    String,
    /// A signed 64-bit integer (Glue `bigint`).
    Int,
    /// `YYYY-MM-DD`.
    Date,
}

impl PartitionType {
    /// The Glue / Hive type name.
    pub fn glue_type(self) -> &'static str {
        match self {
            PartitionType::String => "string",
            PartitionType::Int => "bigint",
            PartitionType::Date => "date",
        }
    }
}

/// Which Hive SerDe reads CSV data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvSerde {
    /// `LazySimpleSerDe`: Athena's default. Reads `date`, `timestamp` and numbers natively and empty fields
    /// as NULL (as the contract does), but does not understand quoted fields.
    #[default]
    LazySimple,
    /// `OpenCSVSerde`: understands quoted fields (RFC 4180), but Athena then reads `date` and `timestamp`
    /// columns only in UNIX numeric form.
    OpenCsv,
}

impl CatalogSection {
    /// The contract's `catalog` section, or `None` when it has none (the dataset is not catalogued).
    /// `source` names the contract in errors.
    pub fn from_contract(contract: &Contract, source: &str) -> Result<Option<CatalogSection>> {
        let Some(raw) = &contract.catalog else {
            return Ok(None);
        };
        let section: CatalogSection = serde_json::from_value(raw.clone())
            .map_err(|e| Error::contract_invalid(source, format!("catalog: {e}")))?;
        section
            .check(contract)
            .map_err(|m| Error::contract_invalid(source, format!("catalog: {m}")))?;
        Ok(Some(section))
    }

    /// The database name as Glue stores it (lowercase).
    pub fn database_name(&self) -> String {
        self.database.to_lowercase()
    }

    /// The table name as Glue stores it (lowercase); defaults to the sanitised contract name.
    pub fn table_name(&self, contract_name: &str) -> String {
        match &self.table {
            Some(t) => t.to_lowercase(),
            None => {
                let name: String = contract_name
                    .to_lowercase()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .take(MAX_NAME_CHARS)
                    .collect();
                name
            }
        }
    }

    fn check(&self, contract: &Contract) -> std::result::Result<(), String> {
        check_identifier("database", &self.database)?;
        if let Some(table) = &self.table {
            check_identifier("table", table)?;
        } else if self.table_name(&contract.name).is_empty() {
            return Err("no table name: set catalog.table (the contract has no name)".into());
        }
        if let Some(location) = &self.location {
            if location.trim().is_empty() {
                return Err("location is empty".into());
            }
            if let Some(rest) = location.strip_prefix("s3://") {
                if rest.split('/').next().is_none_or(str::is_empty) {
                    return Err(format!("location {location:?} names no bucket"));
                }
            } else if location.contains("://") {
                return Err(format!(
                    "location {location:?} is not an s3:// URI or a key prefix"
                ));
            }
        }
        if let Some(id) = &self.catalog_id {
            if id.trim().is_empty() {
                return Err("catalog_id is empty".into());
            }
        }
        if contract.columns.is_empty() {
            return Err("the contract declares no columns, so there is no schema to register".into());
        }
        let mut columns = HashSet::new();
        for column in &contract.columns {
            let lower = column.name.to_lowercase();
            check_column_name(&column.name)?;
            if !columns.insert(lower) {
                return Err(format!(
                    "columns {:?} and another differ only in letter case; Glue column names are lowercase",
                    column.name
                ));
            }
        }
        let mut keys = HashSet::new();
        for key in &self.partition_keys {
            check_identifier("partition key", &key.name)?;
            let lower = key.name.to_lowercase();
            if columns.contains(&lower) {
                return Err(format!(
                    "partition key {:?} is also a column; a partition key's value comes from the object key",
                    key.name
                ));
            }
            if !keys.insert(lower) {
                return Err(format!("partition key {:?} is declared twice", key.name));
            }
        }
        Ok(())
    }
}

/// Database, table and partition key names: what Athena accepts unquoted (letters, digits, `_`).
fn check_identifier(what: &str, name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} name is empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "{what} name {name:?} is over {MAX_NAME_CHARS} characters"
        ));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "{what} name {name:?} may only contain letters, digits and `_` (Athena's rule)"
        ));
    }
    Ok(())
}

/// Column names: any printable text up to 255 characters (Glue's rule; Athena quotes unusual ones).
fn check_column_name(name: &str) -> std::result::Result<(), String> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "column name {name:?} is over {MAX_NAME_CHARS} characters"
        ));
    }
    if name.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("column name {name:?} contains a control character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::contract::{ColumnSpec, ColumnType};

    fn contract(catalog: serde_json::Value) -> Contract {
        Contract {
            name: "Sales-2026".into(),
            columns: vec![
                ColumnSpec {
                    name: "id".into(),
                    ty: ColumnType::Int,
                    nullable: false,
                    min: None,
                    max: None,
                    allowed: None,
                    regex: None,
                    min_length: None,
                    max_length: None,
                    unique: true,
                },
                ColumnSpec {
                    name: "Amount".into(),
                    ty: ColumnType::Float,
                    nullable: true,
                    min: None,
                    max: None,
                    allowed: None,
                    regex: None,
                    min_length: None,
                    max_length: None,
                    unique: false,
                },
            ],
            catalog: Some(catalog),
            ..Contract::default()
        }
    }

    fn parse(catalog: serde_json::Value) -> Result<Option<CatalogSection>> {
        CatalogSection::from_contract(&contract(catalog), "contracts/sales.yaml")
    }

    #[test]
    fn defaults() {
        let s = parse(json!({"database": "ML"})).unwrap().unwrap();
        assert_eq!(s.database_name(), "ml");
        assert_eq!(s.table_name("Sales-2026"), "sales_2026");
        assert_eq!(s.location, None);
        assert!(s.partition_keys.is_empty());
        assert!(!s.allow_breaking);
        assert_eq!(s.csv_serde, CsvSerde::LazySimple);
        let none = CatalogSection::from_contract(&Contract::default(), "c.yaml").unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn full_section() {
        let s = parse(json!({
            "database": "ml", "table": "Sales", "location": "s3://lake/sales/",
            "partition_keys": [{"name": "dt", "type": "date"}, {"name": "region"}],
            "allow_breaking": true, "description": "d", "csv_serde": "open_csv", "catalog_id": "123456789012"
        }))
        .unwrap()
        .unwrap();
        assert_eq!(s.table_name("x"), "sales");
        assert_eq!(s.partition_keys[0].ty, PartitionType::Date);
        assert_eq!(s.partition_keys[1].ty, PartitionType::String);
        assert!(s.allow_breaking);
        assert_eq!(s.csv_serde, CsvSerde::OpenCsv);
    }

    #[test]
    fn rejects_bad_sections() {
        let cases = [
            (json!({"table": "t"}), "missing field `database`"),
            (json!({"database": "ml", "tabel": "t"}), "unknown field `tabel`"),
            (json!({"database": "my-db"}), "database name \"my-db\""),
            (json!({"database": "ml", "table": ""}), "table name is empty"),
            (
                json!({"database": "ml", "location": "https://x/y"}),
                "not an s3:// URI",
            ),
            (
                json!({"database": "ml", "location": "s3:///y"}),
                "names no bucket",
            ),
            (
                json!({"database": "ml", "partition_keys": [{"name": "ID"}]}),
                "is also a column",
            ),
            (
                json!({"database": "ml", "partition_keys": [{"name": "dt"}, {"name": "DT"}]}),
                "declared twice",
            ),
            (
                json!({"database": "ml", "partition_keys": [{"name": "dt", "type": "float"}]}),
                "unknown variant `float`",
            ),
            (
                json!({"database": "ml", "csv_serde": "regex"}),
                "unknown variant `regex`",
            ),
            (json!("ml"), "catalog:"),
        ];
        for (catalog, want) in cases {
            let err = parse(catalog.clone()).unwrap_err();
            assert_eq!(err.error_type(), "ContractInvalid", "{catalog}");
            assert!(err.to_string().contains(want), "{catalog}: {err}");
            assert!(err.to_string().contains("contracts/sales.yaml"), "{err}");
        }
    }

    #[test]
    fn needs_columns_and_distinct_lowercase_names() {
        let mut c = contract(json!({"database": "ml"}));
        c.columns[1].name = "ID".into();
        let err = CatalogSection::from_contract(&c, "c.yaml").unwrap_err();
        assert!(err.to_string().contains("letter case"), "{err}");
        c.columns.clear();
        let err = CatalogSection::from_contract(&c, "c.yaml").unwrap_err();
        assert!(err.to_string().contains("no columns"), "{err}");
        let mut c = contract(json!({"database": "ml"}));
        c.name = "---".into();
        // "---" sanitises to "___", which is a usable name.
        assert!(CatalogSection::from_contract(&c, "c.yaml").is_ok());
        c.name = String::new();
        let err = CatalogSection::from_contract(&c, "c.yaml").unwrap_err();
        assert!(err.to_string().contains("set catalog.table"), "{err}");
    }
}
