//! Contract → Glue table definition: columns with Hive types, SerDe and input/output formats per data
//! format, table parameters; and the conversions to and from the Glue SDK's types.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_glue::types::{Column, PartitionInput, SerDeInfo, StorageDescriptor, Table, TableInput};
use serde::{Deserialize, Serialize};

use super::layout::PartitionRef;
use super::section::{CatalogSection, CsvSerde};
use crate::contract::{ColumnType, Compression, Contract, FormatSpec};
use crate::{Error, Result};

pub const TEXT_INPUT_FORMAT: &str = "org.apache.hadoop.mapred.TextInputFormat";
pub const TEXT_OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";
pub const PARQUET_INPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
pub const PARQUET_OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
pub const LAZY_SIMPLE_SERDE: &str = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";
pub const OPEN_CSV_SERDE: &str = "org.apache.hadoop.hive.serde2.OpenCSVSerde";
pub const JSON_SERDE: &str = "org.openx.data.jsonserde.JsonSerDe";
pub const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
pub const EXTERNAL_TABLE: &str = "EXTERNAL_TABLE";

/// Table parameters greenpipe sets and therefore compares; any other parameter on an existing table (set
/// by a person, Athena or Lake Formation) is left alone and kept on update. Every `greenpipe:*` key is
/// managed too.
pub const MANAGED_PARAMETERS: &[&str] = &[
    "classification",
    "compressionType",
    "typeOfData",
    "EXTERNAL",
    "skip.header.line.count",
    "delimiter",
];

/// Whether greenpipe owns table parameter `key`.
pub fn is_managed_parameter(key: &str) -> bool {
    MANAGED_PARAMETERS.contains(&key) || key.starts_with("greenpipe:")
}

/// A column (or partition key) as Glue stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlueColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

impl GlueColumn {
    pub fn new(name: impl Into<String>, ty: impl Into<String>) -> Self {
        GlueColumn {
            name: name.into(),
            ty: ty.into(),
        }
    }
}

/// The parts of a Glue table greenpipe manages, in plain types: what a contract asks for, or what
/// GetTable returned ([`TableDef::from_glue`]), so the two can be compared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_type: Option<String>,
    pub columns: Vec<GlueColumn>,
    pub partition_keys: Vec<GlueColumn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    pub compressed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serde_library: Option<String>,
    pub serde_parameters: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
}

/// The Glue / Hive type of a contract column type.
pub fn glue_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String => "string",
        ColumnType::Int => "bigint",
        ColumnType::Float => "double",
        ColumnType::Bool => "boolean",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Date => "date",
    }
}

/// Everything needed to create or update one table from a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePlan {
    /// Glue database (lowercase).
    pub database: String,
    pub catalog_id: Option<String>,
    /// The table as the contract wants it.
    pub table: TableDef,
    /// Columns the contract declares non-nullable (lowercase names).
    pub required: BTreeSet<String>,
    /// Whether the SerDe maps columns by position (CSV), which makes order part of the schema.
    pub positional: bool,
    /// The contract's schema change policy.
    pub allow_breaking: bool,
}

impl TablePlan {
    /// The table for `contract` (whose `catalog` section is `section`), holding data in `format` /
    /// `compression` under `table_location` (`s3://bucket/prefix/`). `contract_source` is recorded in
    /// the table parameters and names the contract in errors.
    pub fn new(
        contract: &Contract,
        section: &CatalogSection,
        format: &FormatSpec,
        compression: Compression,
        table_location: &str,
        contract_source: &str,
    ) -> Result<TablePlan> {
        let columns = contract
            .columns
            .iter()
            .map(|c| GlueColumn::new(c.name.to_lowercase(), glue_type(c.ty)))
            .collect();
        let partition_keys = section
            .partition_keys
            .iter()
            .map(|k| GlueColumn::new(k.name.to_lowercase(), k.ty.glue_type()))
            .collect();
        let required = contract
            .columns
            .iter()
            .filter(|c| !c.nullable)
            .map(|c| c.name.to_lowercase())
            .collect();

        let mut parameters = BTreeMap::from([
            ("typeOfData".to_string(), "file".to_string()),
            ("EXTERNAL".to_string(), "TRUE".to_string()),
            (
                "compressionType".to_string(),
                compression_name(compression).to_string(),
            ),
            ("greenpipe:contract".to_string(), contract_source.to_string()),
        ]);
        let (input_format, output_format, serde_library, serde_parameters, classification) = match format {
            FormatSpec::Csv {
                delimiter,
                quote,
                header,
            } => {
                if *header {
                    parameters.insert("skip.header.line.count".into(), "1".into());
                }
                parameters.insert("delimiter".into(), delimiter.clone());
                let (library, serde_parameters) = match section.csv_serde {
                    CsvSerde::LazySimple => (
                        LAZY_SIMPLE_SERDE,
                        BTreeMap::from([
                            ("field.delim".to_string(), delimiter.clone()),
                            ("serialization.format".to_string(), delimiter.clone()),
                            // The contract reads an empty field as NULL; so must the table.
                            ("serialization.null.format".to_string(), String::new()),
                        ]),
                    ),
                    CsvSerde::OpenCsv => (
                        OPEN_CSV_SERDE,
                        BTreeMap::from([
                            ("separatorChar".to_string(), delimiter.clone()),
                            ("quoteChar".to_string(), quote.clone()),
                        ]),
                    ),
                };
                (
                    TEXT_INPUT_FORMAT,
                    TEXT_OUTPUT_FORMAT,
                    library,
                    serde_parameters,
                    "csv",
                )
            }
            FormatSpec::Jsonl => (
                TEXT_INPUT_FORMAT,
                TEXT_OUTPUT_FORMAT,
                JSON_SERDE,
                BTreeMap::new(),
                "json",
            ),
            FormatSpec::Parquet => {
                if compression != Compression::None {
                    return Err(Error::UnsupportedFormat(format!(
                        "{contract_source}: a Parquet file compresses its pages itself; whole-file {} is \
                         not supported",
                        compression_name(compression)
                    )));
                }
                (
                    PARQUET_INPUT_FORMAT,
                    PARQUET_OUTPUT_FORMAT,
                    PARQUET_SERDE,
                    BTreeMap::from([("serialization.format".to_string(), "1".to_string())]),
                    "parquet",
                )
            }
        };
        parameters.insert("classification".into(), classification.into());

        Ok(TablePlan {
            database: section.database_name(),
            catalog_id: section.catalog_id.clone(),
            table: TableDef {
                name: section.table_name(&contract.name),
                description: section.description.clone().filter(|d| !d.is_empty()),
                table_type: Some(EXTERNAL_TABLE.into()),
                columns,
                partition_keys,
                location: Some(table_location.to_string()),
                input_format: Some(input_format.into()),
                output_format: Some(output_format.into()),
                compressed: compression != Compression::None,
                serde_library: Some(serde_library.into()),
                serde_parameters,
                parameters,
            },
            required,
            positional: matches!(format, FormatSpec::Csv { .. }),
            allow_breaking: section.allow_breaking,
        })
    }

    /// `database.table`, for messages.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.table.name)
    }

    /// The definition to write over `existing`: the contract's, keeping what greenpipe does not manage
    /// (other table parameters, extra SerDe parameters of the same SerDe, a description set by hand).
    pub fn merged_with(&self, existing: &TableDef) -> TableDef {
        let mut merged = self.table.clone();
        merged.parameters = existing
            .parameters
            .iter()
            .filter(|(k, _)| !is_managed_parameter(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(self.table.parameters.clone())
            .collect();
        if existing.serde_library == self.table.serde_library {
            let mut serde_parameters = existing.serde_parameters.clone();
            serde_parameters.extend(self.table.serde_parameters.clone());
            merged.serde_parameters = serde_parameters;
        }
        if merged.description.is_none() {
            merged.description = existing.description.clone();
        }
        merged
    }

    /// The partition for `partition`: the table's storage (columns, formats, SerDe) at the partition's
    /// location, with `parameters` (per-object facts such as the data fingerprint live here, not on the
    /// table, so registering another object never changes the table).
    pub fn partition_input(
        &self,
        partition: &PartitionRef,
        parameters: BTreeMap<String, String>,
    ) -> Result<PartitionInput> {
        Ok(PartitionInput::builder()
            .set_values(Some(partition.values.clone()))
            .storage_descriptor(storage_descriptor(&self.table, Some(&partition.location))?)
            .set_parameters(Some(hash_map(&parameters)))
            .build())
    }
}

impl TableDef {
    /// The SDK's TableInput for CreateTable / UpdateTable.
    pub fn to_table_input(&self) -> Result<TableInput> {
        TableInput::builder()
            .name(&self.name)
            .set_description(self.description.clone())
            .set_table_type(self.table_type.clone())
            .storage_descriptor(storage_descriptor(self, self.location.as_deref())?)
            // Athena wants the list even when empty.
            .set_partition_keys(Some(glue_columns(&self.partition_keys)?))
            .set_parameters(Some(hash_map(&self.parameters)))
            .build()
            .map_err(build_error)
    }

    /// The managed parts of a table returned by GetTable. Names and types are lowercased (Glue stores
    /// names in lowercase; type names are case-insensitive).
    pub fn from_glue(table: &Table) -> TableDef {
        let sd = table.storage_descriptor();
        let serde = sd.and_then(|sd| sd.serde_info());
        TableDef {
            name: table.name().to_string(),
            description: table.description().filter(|d| !d.is_empty()).map(str::to_string),
            table_type: table.table_type().map(str::to_string),
            columns: sd.map(|sd| from_glue_columns(sd.columns())).unwrap_or_default(),
            partition_keys: from_glue_columns(table.partition_keys()),
            location: sd.and_then(|sd| sd.location()).map(str::to_string),
            input_format: sd.and_then(|sd| sd.input_format()).map(str::to_string),
            output_format: sd.and_then(|sd| sd.output_format()).map(str::to_string),
            compressed: sd.is_some_and(|sd| sd.compressed()),
            serde_library: serde.and_then(|s| s.serialization_library()).map(str::to_string),
            serde_parameters: serde
                .and_then(|s| s.parameters())
                .map(btree_map)
                .unwrap_or_default(),
            parameters: table.parameters().map(btree_map).unwrap_or_default(),
        }
    }
}

fn storage_descriptor(table: &TableDef, location: Option<&str>) -> Result<StorageDescriptor> {
    Ok(StorageDescriptor::builder()
        .set_columns(Some(glue_columns(&table.columns)?))
        .set_location(location.map(str::to_string))
        .set_input_format(table.input_format.clone())
        .set_output_format(table.output_format.clone())
        .compressed(table.compressed)
        .serde_info(
            SerDeInfo::builder()
                .set_serialization_library(table.serde_library.clone())
                .set_parameters(Some(hash_map(&table.serde_parameters)))
                .build(),
        )
        .build())
}

fn glue_columns(columns: &[GlueColumn]) -> Result<Vec<Column>> {
    columns
        .iter()
        .map(|c| {
            Column::builder()
                .name(&c.name)
                .r#type(&c.ty)
                .build()
                .map_err(build_error)
        })
        .collect()
}

fn from_glue_columns(columns: &[Column]) -> Vec<GlueColumn> {
    columns
        .iter()
        .map(|c| GlueColumn::new(c.name().to_lowercase(), c.r#type().unwrap_or("").to_lowercase()))
        .collect()
}

fn hash_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn btree_map(map: &HashMap<String, String>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn build_error(e: aws_sdk_glue::error::BuildError) -> Error {
    Error::from(e)
}

/// `compressionType` values, as Glue crawlers write them.
pub fn compression_name(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::parse_contract;

    const CONTRACT: &str = r#"
name: Sales
format: { type: csv, delimiter: ";", header: true }
columns:
  - { name: ID, type: int, nullable: false }
  - { name: amount, type: float }
  - { name: ok, type: bool }
  - { name: at, type: timestamp }
  - { name: day, type: date, nullable: false }
  - { name: note, type: string }
catalog:
  database: ML
  partition_keys: [{ name: dt, type: date }]
"#;

    fn plan_for(yaml: &str, format: Option<FormatSpec>, compression: Compression) -> Result<TablePlan> {
        let contract = parse_contract(yaml.as_bytes(), "contracts/sales.yaml").unwrap();
        let section = CatalogSection::from_contract(&contract, "s3://b/contracts/sales.yaml")
            .unwrap()
            .unwrap();
        let format = format.or(contract.format.clone()).unwrap();
        TablePlan::new(
            &contract,
            &section,
            &format,
            compression,
            "s3://b/sales/",
            "s3://b/contracts/sales.yaml",
        )
    }

    #[test]
    fn csv_table() {
        let plan = plan_for(CONTRACT, None, Compression::Gzip).unwrap();
        assert_eq!(plan.qualified_name(), "ml.sales");
        let t = &plan.table;
        let cols: Vec<(&str, &str)> = t
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.ty.as_str()))
            .collect();
        assert_eq!(
            cols,
            [
                ("id", "bigint"),
                ("amount", "double"),
                ("ok", "boolean"),
                ("at", "timestamp"),
                ("day", "date"),
                ("note", "string")
            ]
        );
        assert_eq!(t.partition_keys, [GlueColumn::new("dt", "date")]);
        assert_eq!(plan.required, BTreeSet::from(["id".into(), "day".into()]));
        assert!(plan.positional);
        assert_eq!(t.serde_library.as_deref(), Some(LAZY_SIMPLE_SERDE));
        assert_eq!(t.serde_parameters["field.delim"], ";");
        assert_eq!(t.serde_parameters["serialization.null.format"], "");
        assert_eq!(t.input_format.as_deref(), Some(TEXT_INPUT_FORMAT));
        assert_eq!(t.output_format.as_deref(), Some(TEXT_OUTPUT_FORMAT));
        assert!(t.compressed);
        assert_eq!(t.parameters["classification"], "csv");
        assert_eq!(t.parameters["compressionType"], "gzip");
        assert_eq!(t.parameters["skip.header.line.count"], "1");
        assert_eq!(t.parameters["greenpipe:contract"], "s3://b/contracts/sales.yaml");
        assert_eq!(t.location.as_deref(), Some("s3://b/sales/"));
        assert_eq!(t.table_type.as_deref(), Some(EXTERNAL_TABLE));
        assert!(t.parameters.keys().all(|k| is_managed_parameter(k)));
    }

    #[test]
    fn csv_without_header_and_open_csv() {
        let yaml = CONTRACT
            .replace("header: true", "header: false")
            .replace("database: ML", "database: ML\n  csv_serde: open_csv");
        let t = plan_for(&yaml, None, Compression::None).unwrap().table;
        assert!(!t.parameters.contains_key("skip.header.line.count"));
        assert_eq!(t.parameters["compressionType"], "none");
        assert!(!t.compressed);
        assert_eq!(t.serde_library.as_deref(), Some(OPEN_CSV_SERDE));
        assert_eq!(
            t.serde_parameters,
            BTreeMap::from([
                ("separatorChar".into(), ";".into()),
                ("quoteChar".into(), "\"".into())
            ])
        );
    }

    #[test]
    fn jsonl_and_parquet_tables() {
        let t = plan_for(CONTRACT, Some(FormatSpec::Jsonl), Compression::Zstd)
            .unwrap()
            .table;
        assert_eq!(t.serde_library.as_deref(), Some(JSON_SERDE));
        assert_eq!(t.input_format.as_deref(), Some(TEXT_INPUT_FORMAT));
        assert_eq!(t.parameters["classification"], "json");
        assert_eq!(t.parameters["compressionType"], "zstd");
        assert!(!t.parameters.contains_key("delimiter"));

        let plan = plan_for(CONTRACT, Some(FormatSpec::Parquet), Compression::None).unwrap();
        assert!(!plan.positional);
        let t = plan.table;
        assert_eq!(t.serde_library.as_deref(), Some(PARQUET_SERDE));
        assert_eq!(t.input_format.as_deref(), Some(PARQUET_INPUT_FORMAT));
        assert_eq!(t.output_format.as_deref(), Some(PARQUET_OUTPUT_FORMAT));
        assert_eq!(t.parameters["classification"], "parquet");
        assert!(!t.compressed);

        let err = plan_for(CONTRACT, Some(FormatSpec::Parquet), Compression::Gzip).unwrap_err();
        assert_eq!(err.error_type(), "UnsupportedFormat");
    }

    /// What CreateTable sends comes back from GetTable as the same definition.
    #[test]
    fn glue_round_trip() {
        let plan = plan_for(CONTRACT, None, Compression::None).unwrap();
        let input = plan.table.to_table_input().unwrap();
        assert_eq!(input.partition_keys().len(), 1);
        let table = Table::builder()
            .name(input.name())
            .database_name("ml")
            .set_description(input.description().map(str::to_string))
            .set_table_type(input.table_type().map(str::to_string))
            .set_storage_descriptor(input.storage_descriptor().cloned())
            .set_partition_keys(Some(input.partition_keys().to_vec()))
            .set_parameters(input.parameters().cloned())
            .build()
            .unwrap();
        assert_eq!(TableDef::from_glue(&table), plan.table);
    }

    #[test]
    fn merge_keeps_unmanaged_settings() {
        let plan = plan_for(CONTRACT, None, Compression::None).unwrap();
        let mut existing = plan.table.clone();
        existing.parameters.insert("owner_team".into(), "data".into());
        existing.parameters.insert("classification".into(), "old".into());
        existing.parameters.insert("greenpipe:stale".into(), "x".into());
        existing
            .serde_parameters
            .insert("timestamp.formats".into(), "yyyy".into());
        existing.description = Some("by hand".into());
        let merged = plan.merged_with(&existing);
        assert_eq!(merged.parameters["owner_team"], "data");
        assert_eq!(merged.parameters["classification"], "csv");
        assert!(!merged.parameters.contains_key("greenpipe:stale"));
        assert_eq!(merged.serde_parameters["timestamp.formats"], "yyyy");
        assert_eq!(merged.description.as_deref(), Some("by hand"));
        // Another SerDe: its parameters are not carried over.
        existing.serde_library = Some(OPEN_CSV_SERDE.into());
        assert!(!plan
            .merged_with(&existing)
            .serde_parameters
            .contains_key("timestamp.formats"));
    }

    #[test]
    fn partition_input_copies_the_storage() {
        let plan = plan_for(CONTRACT, None, Compression::None).unwrap();
        let partition = PartitionRef {
            values: vec!["2026-11-27".into()],
            location: "s3://b/sales/dt=2026-11-27/".into(),
        };
        let params = BTreeMap::from([("greenpipe:fingerprint".to_string(), "blake3:ab".to_string())]);
        let input = plan.partition_input(&partition, params).unwrap();
        assert_eq!(input.values(), ["2026-11-27"]);
        let sd = input.storage_descriptor().unwrap();
        assert_eq!(sd.location(), Some("s3://b/sales/dt=2026-11-27/"));
        assert_eq!(sd.columns().len(), 6);
        assert_eq!(
            sd.serde_info().and_then(|s| s.serialization_library()),
            Some(LAZY_SIMPLE_SERDE)
        );
        assert_eq!(input.parameters().unwrap()["greenpipe:fingerprint"], "blake3:ab");
    }
}
