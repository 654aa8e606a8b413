//! Data contracts: what a dataset must look like.
//!
//! A contract is a YAML or JSON file (or a plain DQDL ruleset, `Rules = [ ... ]`). This module holds the
//! declarative model as written by users ([`Contract`]); `compile` (in [`compiled`]) turns it into the
//! checks the engine runs, so every regex is compiled and every rule is resolved once, at load time.

pub mod dqdl;
pub mod load;

pub use load::{load_contract_file, parse_contract};

use serde::{Deserialize, Serialize};

/// Groups and repetitions a contract's regular expression may nest. The regex crate compiles a pattern
/// recursively, and under its own limit (250) a pattern of 230 stacked `*` overflowed a 2 MiB thread
/// stack in a debug build (found by fuzzing, docs/fuzzing.md).
pub const REGEX_NEST_LIMIT: u32 = 64;

/// `pattern` compiled as every contract regex is: with [`REGEX_NEST_LIMIT`].
pub fn compile_regex(pattern: &str) -> std::result::Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
}

/// A dataset contract as written by the user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Dataset name (defaults to the contract file's stem).
    #[serde(default)]
    pub name: String,
    /// Contract version, recorded in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Data format; when absent it is inferred from the object's extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FormatSpec>,
    /// Compression; when absent it is inferred from the object's extension (`.gz`, `.zst`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<Compression>,
    /// Declared columns, in file order for CSV.
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
    /// Row-count bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_count: Option<Bounds>,
    /// Largest allowed record (CSV row / JSON line), in bytes. Bigger records are violations and are not
    /// buffered whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_record_bytes: Option<u64>,
    /// A DQDL ruleset (AWS Glue Data Quality), e.g. `Rules = [ IsComplete "id", RowCount > 10 ]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dqdl: Option<String>,
    /// Resource limits for validation.
    #[serde(default)]
    pub limits: Limits,
    /// Sections owned by later stages (Glue table, Feature Store mapping, training). Kept as raw JSON here
    /// so the validation stage accepts contracts that carry them; the stages that own them parse them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
    /// Carbon-aware timing of training and transform (`stages::plan::schedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<serde_json::Value>,
}

/// Data format and its options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum FormatSpec {
    Csv {
        /// Field delimiter, one byte (default `,`). `"\t"` for TSV.
        #[serde(default = "default_delimiter")]
        delimiter: String,
        /// Quote character, one byte (default `"`).
        #[serde(default = "default_quote")]
        quote: String,
        /// Whether the first record is a header (default true). With a header, columns are matched by name.
        #[serde(default = "default_true")]
        header: bool,
    },
    Jsonl,
    Parquet,
}

fn default_delimiter() -> String {
    ",".into()
}
fn default_quote() -> String {
    "\"".into()
}
fn default_true() -> bool {
    true
}

impl FormatSpec {
    pub fn csv() -> Self {
        FormatSpec::Csv {
            delimiter: default_delimiter(),
            quote: default_quote(),
            header: true,
        }
    }

    /// Infer the format from an object key / file name, ignoring a compression suffix.
    pub fn from_extension(key: &str) -> Option<Self> {
        let lower = key.to_ascii_lowercase();
        let base = lower
            .trim_end_matches(".gz")
            .trim_end_matches(".gzip")
            .trim_end_matches(".zst")
            .trim_end_matches(".zstd");
        if base.ends_with(".csv") {
            Some(Self::csv())
        } else if base.ends_with(".tsv") {
            Some(FormatSpec::Csv {
                delimiter: "\t".into(),
                quote: default_quote(),
                header: true,
            })
        } else if base.ends_with(".jsonl") || base.ends_with(".ndjson") || base.ends_with(".json") {
            Some(FormatSpec::Jsonl)
        } else if base.ends_with(".parquet") || base.ends_with(".pq") {
            Some(FormatSpec::Parquet)
        } else {
            None
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            FormatSpec::Csv { .. } => "csv",
            FormatSpec::Jsonl => "jsonl",
            FormatSpec::Parquet => "parquet",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn from_extension(key: &str) -> Self {
        let lower = key.to_ascii_lowercase();
        if lower.ends_with(".gz") || lower.ends_with(".gzip") {
            Compression::Gzip
        } else if lower.ends_with(".zst") || lower.ends_with(".zstd") {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Column value types.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Int,
    Float,
    Bool,
    /// RFC 3339 / ISO 8601 date-time (`2026-11-27T10:00:00Z`, `2026-11-27 10:00:00.123`).
    Timestamp,
    /// ISO 8601 date (`2026-11-27`).
    Date,
}

/// One declared column and its constraints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether empty / null values are allowed (default true).
    #[serde(default = "default_true")]
    pub nullable: bool,
    /// Inclusive lower bound: a number for int/float, a date or timestamp string for those types, a string
    /// (lexicographic) otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Value>,
    /// Inclusive upper bound, same rules as `min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Value>,
    /// Allowed values (compared as text after type parsing for strings; numerically for numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<serde_json::Value>>,
    /// Regex every non-null value must match (whole value; anchors are added if missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Minimum length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// Maximum length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// Every non-null value must be distinct.
    #[serde(default)]
    pub unique: bool,
}

/// Inclusive bounds on a count.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

/// Resource limits that keep validation bounded whatever the input.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Stop decompressing past this many expanded bytes (decompression-bomb guard). Default 64 GiB.
    pub max_expanded_bytes: u64,
    /// Distinct values tracked per unique column before uniqueness checking stops with a clear error.
    /// Each tracked value costs ~9 bytes (a 64-bit hash in a hash set). Default 4,000,000 (~36 MiB).
    pub max_unique_values: u64,
    /// Violations kept as examples in the report (all are counted). Default 100.
    pub max_examples: u64,
    /// Default record size limit when `max_record_bytes` is not set. Default 1 MiB.
    pub default_max_record_bytes: u64,
    /// Most uncompressed Parquet page bytes held at once: the current page of each column read plus
    /// its dictionary page (so also the largest page), checked from each page's header before the page
    /// is read, since the Parquet reader allocates what a header claims. Default 64 MiB; at most
    /// [`Limits::MAX_PARQUET_PAGE_BYTES`].
    pub max_parquet_page_bytes: u64,
    /// Largest expansion of compressed data (gzip or zstd files, compressed Parquet pages): decoded bytes
    /// over compressed bytes, checked past the first 16 MiB of a stream and for pages over 1 MiB.
    /// Default 1000; at most [`Limits::MAX_COMPRESSION_RATIO`].
    pub max_compression_ratio: u64,
    /// Largest Parquet footer (the file's metadata), read and parsed whole. Default 16 MiB; at most
    /// [`Limits::MAX_PARQUET_FOOTER_BYTES`].
    pub max_parquet_footer_bytes: u64,
    /// Most groups nested in a Parquet schema (the root counts as one), checked before the schema is
    /// parsed. Default 32; at most [`Limits::MAX_PARQUET_SCHEMA_DEPTH`].
    pub max_parquet_schema_depth: u64,
    /// Most leaf columns in a Parquet schema. Default 10,000; at most [`Limits::MAX_PARQUET_COLUMNS`].
    pub max_parquet_columns: u64,
}

impl Limits {
    /// The ceiling of `max_parquet_page_bytes` a contract cannot raise past: what the validate
    /// function's 1024 MB can hold at about 4.2 bytes of memory per page byte, measured
    /// (docs/contracts.md, "limits").
    pub const MAX_PARQUET_PAGE_BYTES: u64 = 192 << 20;
    /// The ceiling of `max_compression_ratio`.
    pub const MAX_COMPRESSION_RATIO: u64 = 10_000;
    /// The ceiling of `max_parquet_footer_bytes`.
    pub const MAX_PARQUET_FOOTER_BYTES: u64 = 64 << 20;
    /// The ceiling of `max_parquet_schema_depth`: the Parquet crate walks the schema recursively.
    pub const MAX_PARQUET_SCHEMA_DEPTH: u64 = 64;
    /// The ceiling of `max_parquet_columns`.
    pub const MAX_PARQUET_COLUMNS: u64 = 100_000;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_expanded_bytes: 64 << 30,
            max_unique_values: 4_000_000,
            max_examples: 100,
            default_max_record_bytes: 1 << 20,
            max_parquet_page_bytes: 64 << 20,
            max_compression_ratio: 1000,
            max_parquet_footer_bytes: 16 << 20,
            max_parquet_schema_depth: 32,
            max_parquet_columns: 10_000,
        }
    }
}
