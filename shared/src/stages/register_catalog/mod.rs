//! The Glue Data Catalog from a data contract, without a crawler: the pure parts of the register-catalog
//! stage (the SDK calls are in [`handler`]).
//!
//! - [`section`]: the contract's `catalog:` section, typed and checked;
//! - [`layout`]: table location and the object's partition, from its key (`dt=2026-11-27/`);
//! - [`table`]: contract → Glue table (columns with Hive types, SerDe and formats per data format,
//!   parameters), and back from GetTable;
//! - [`diff`]: what differs between the catalog and the contract, and whether it breaks existing data.

pub mod diff;
pub mod handler;
pub mod layout;
pub mod section;
pub mod table;

pub use diff::{classify, is_breaking, Change, ChangeKind};
pub use handler::{Deps, RegisterCatalog};
pub use layout::{dataset_prefix, ObjectLayout, PartitionRef};
pub use section::{CatalogSection, CsvSerde, PartitionKey, PartitionType};
pub use table::{glue_type, GlueColumn, TableDef, TablePlan};
