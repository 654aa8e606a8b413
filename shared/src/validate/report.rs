//! The validation report: what was checked, what failed, where, and a fingerprint of the data.
//! Serialized as JSON to the reports prefix, printed by the CLI with `--json`, and read by later stages.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ValidationReport {
    /// True when every rule passed and the data could be read to the end.
    pub valid: bool,
    /// Where the data came from (`s3://bucket/key`, or a local path).
    pub source: String,
    /// S3 version id or ETag of the object that was read, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    pub contract: ContractInfo,
    /// `csv`, `jsonl` or `parquet`.
    pub format: String,
    /// `none`, `gzip` or `zstd`.
    pub compression: String,
    /// Data rows read (CSV header excluded).
    pub rows: u64,
    /// Distinct data rows with at least one violation (a row breaking three rules counts once). Rules
    /// about the whole dataset (row count, column count, ...) mark no row; the rows of a DQDL rule count
    /// only when that rule fails overall. Duplicates count from their second occurrence on. 0 in reports
    /// written before this field existed.
    #[serde(default)]
    pub bad_rows: u64,
    /// Bytes read from the source (compressed size).
    pub bytes_read: u64,
    /// Bytes after decompression.
    pub bytes_decoded: u64,
    /// Content fingerprint of the decoded data, `xxh3-128:<hex>` ([`crate::validate::Fingerprint`]).
    /// Equal fingerprints mean equal data.
    pub fingerprint: String,
    /// One outcome per rule (declared column constraints, row-count bounds and DQDL rules).
    pub rules: Vec<RuleOutcome>,
    /// Total violations found (all are counted; `violations` keeps only the first `max_examples`).
    pub violation_count: u64,
    pub violations: Vec<Violation>,
    /// Per-column statistics.
    pub columns: Vec<ColumnStats>,
    /// A problem that stopped reading before the end (corrupt compression, unterminated quote, truncated
    /// Parquet, expanded-size limit). The data is invalid when this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fatal: Option<FatalError>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ContractInfo {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Where the contract was loaded from (empty when an input names a contract without it).
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleOutcome {
    /// The rule as text, e.g. `ColumnValues "age" between 0 and 120` or `column "age": max 120`.
    pub rule: String,
    pub passed: bool,
    /// Rows (or values) that broke the rule; 0 for dataset-level rules that passed.
    pub failed_rows: u64,
    /// The measured value for dataset-level rules (row count, completeness fraction, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    /// Why it failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One violation, located precisely.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Violation {
    /// 1-based data row (the CSV header is not counted). For Parquet, the row within the row group.
    pub row: u64,
    /// Column name, when the violation is about one column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Byte offset of the record's first byte in the decoded stream (CSV / JSONL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
    /// Parquet row group index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_group: Option<u64>,
    /// The offending value, truncated to 200 bytes (lossy UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The rule it broke (same text as in `rules`).
    pub rule: String,
    /// What is wrong, in words.
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ColumnStats {
    pub name: String,
    /// Non-null values seen.
    pub count: u64,
    pub nulls: u64,
    /// Smallest / largest value seen (numeric for int/float, text otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FatalError {
    /// Stable name: `DecodeError`, `ExpandedSizeLimit`, `UnterminatedQuote`, `InvalidParquet`,
    /// `UniqueLimit`, `ReadError`.
    pub kind: String,
    pub message: String,
    /// Byte offset in the decoded stream (or in the file, for Parquet) where it happened, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
    /// Data row reached when it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
}
