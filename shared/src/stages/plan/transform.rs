//! The `CreateTransformJob` request: how batch transform splits and batches the validated data, by
//! format.
//!
//! | format        | ContentType             | SplitType | BatchStrategy | MaxPayloadInMB          | AssembleWith |
//! |---------------|-------------------------|-----------|---------------|-------------------------|--------------|
//! | CSV           | `text/csv`              | Line      | MultiRecord   | 6 (configurable)        | Line         |
//! | JSON Lines    | `application/jsonlines` | Line      | MultiRecord   | 6 (configurable)        | Line         |
//! | Parquet       | `application/x-parquet` | None      | SingleRecord  | the object's size, ≤ 100| None         |
//!
//! A Parquet file cannot be split on record boundaries, so it goes to the model whole, as one request,
//! which batch transform caps at 100 MB. Gzip input has `CompressionType: Gzip` (SageMaker decompresses
//! it); zstd is refused. `DataProcessing` (input/output JSONPath filters, joining the input to the
//! output) comes from the contract and is `{}` when none is configured.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::{fingerprint_hex, job_name, short_hash};
use super::section::TransformSection;
use super::training::{compression_type, content_type, join_uri, S3DataSource};
use super::{managed_tags, sizing, DataSize, Tag};
use crate::contract::{Compression, FormatSpec};
use crate::{Error, Result};

/// SageMaker's default mini-batch limit for line-split input.
pub const DEFAULT_MAX_PAYLOAD_MB: u32 = 6;
/// Batch transform's largest request.
pub const MAX_PAYLOAD_MB: u32 = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTransformJob {
    pub transform_job_name: String,
    pub model_name: String,
    pub transform_input: TransformInput,
    pub transform_output: TransformOutput,
    pub transform_resources: TransformResources,
    pub batch_strategy: String,
    #[serde(rename = "MaxPayloadInMB")]
    pub max_payload_in_mb: u32,
    pub max_concurrent_transforms: u32,
    pub data_processing: DataProcessing,
    pub environment: BTreeMap<String, String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransformInput {
    pub data_source: TransformDataSource,
    pub content_type: String,
    pub compression_type: String,
    pub split_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransformDataSource {
    pub s3_data_source: TransformS3DataSource,
}

/// Like [`S3DataSource`] without the distribution type (transform inputs have none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransformS3DataSource {
    pub s3_data_type: String,
    pub s3_uri: String,
}

impl From<S3DataSource> for TransformS3DataSource {
    fn from(s: S3DataSource) -> Self {
        TransformS3DataSource {
            s3_data_type: s.s3_data_type,
            s3_uri: s.s3_uri,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransformOutput {
    pub s3_output_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<String>,
    pub assemble_with: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransformResources {
    pub instance_type: String,
    pub instance_count: u32,
}

/// `{}` when nothing is configured (the state machine always passes the key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataProcessing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_source: Option<String>,
}

/// Everything [`plan_transform`] needs besides the contract section.
#[derive(Debug, Clone)]
pub struct TransformPlanInput<'a> {
    pub dataset: &'a str,
    pub fingerprint: &'a str,
    pub model_name: &'a str,
    pub data_uri: &'a str,
    pub format: &'a FormatSpec,
    pub compression: Compression,
    pub size: DataSize,
    /// `s3://bucket/prefix/` default for results (dataset folder and job name appended).
    pub transform_uri: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransformPlan {
    pub request: CreateTransformJob,
    pub sizing: String,
}

/// Build the transform request (see the module table).
pub fn plan_transform(section: &TransformSection, input: &TransformPlanInput<'_>) -> Result<TransformPlan> {
    let compression = compression_type(input.compression, input.data_uri)?;
    let content_type = content_type(input.format).to_string();
    let line_split = !matches!(input.format, FormatSpec::Parquet);
    let (split_type, batch_strategy, assemble_with, max_payload) = if line_split {
        let payload = section.max_payload_mb.unwrap_or(DEFAULT_MAX_PAYLOAD_MB);
        ("Line", "MultiRecord", "Line", payload)
    } else {
        let mb = input.size.bytes.div_ceil(1 << 20);
        if mb > u64::from(MAX_PAYLOAD_MB) {
            return Err(Error::UnsupportedFormat(format!(
                "{}: a Parquet object goes to batch transform whole, and {mb} MB is over its {MAX_PAYLOAD_MB} MB request limit; split the data into smaller files",
                input.data_uri
            )));
        }
        let floor = section.max_payload_mb.unwrap_or(DEFAULT_MAX_PAYLOAD_MB);
        (
            "None",
            "SingleRecord",
            "None",
            (mb as u32).max(floor).min(MAX_PAYLOAD_MB),
        )
    };
    let data_processing = match &section.data_processing {
        None => DataProcessing::default(),
        Some(dp) => {
            if !line_split && dp.join_source.as_deref() == Some("Input") {
                return Err(Error::UnsupportedFormat(format!(
                    "{}: batch transform joins the input to the output for CSV and JSON Lines only, not Parquet",
                    input.data_uri
                )));
            }
            DataProcessing {
                input_filter: dp.input_filter.clone(),
                output_filter: dp.output_filter.clone(),
                join_source: dp.join_source.clone(),
            }
        }
    };
    let (instance_type, sizing) = match &section.instance_type {
        Some(t) => (t.clone(), format!("transform: {t} from the contract")),
        None => {
            let s = sizing::transform_for(
                section.accelerator.as_deref(),
                input.size.bytes,
                input.size.rows,
                input.format,
                input.compression,
            );
            (s.instance_type, s.reason)
        }
    };
    let accept = section
        .accept
        .clone()
        .or_else(|| line_split.then(|| content_type.clone()));

    let settings = serde_json::json!({
        "model": input.model_name, "instanceType": instance_type, "instanceCount": section.instance_count,
        "maxPayload": max_payload, "concurrency": section.max_concurrent_transforms, "accept": accept,
        "dataProcessing": data_processing, "environment": section.environment,
    });
    let fp = fingerprint_hex(input.fingerprint);
    let name = job_name(
        input.dataset,
        &[&fp[..fp.len().min(12)], &short_hash(&settings.to_string(), 6)],
    );
    let output = match &section.output_prefix {
        Some(prefix) => prefix.clone(),
        None => join_uri(
            input.transform_uri,
            &format!("{}/{name}/", super::names::sanitize(input.dataset)),
        ),
    };
    let mut tags = managed_tags(input.dataset, input.fingerprint, &BTreeMap::new());
    tags.push(Tag {
        key: "greenpipe:model".into(),
        value: input.model_name.chars().take(256).collect(),
    });
    let request = CreateTransformJob {
        transform_job_name: name,
        model_name: input.model_name.to_string(),
        transform_input: TransformInput {
            data_source: TransformDataSource {
                s3_data_source: TransformS3DataSource {
                    s3_data_type: "S3Prefix".into(),
                    s3_uri: input.data_uri.to_string(),
                },
            },
            content_type,
            compression_type: compression.into(),
            split_type: split_type.into(),
        },
        transform_output: TransformOutput {
            s3_output_path: output,
            accept,
            assemble_with: assemble_with.into(),
        },
        transform_resources: TransformResources {
            instance_type,
            instance_count: section.instance_count,
        },
        batch_strategy: batch_strategy.into(),
        max_payload_in_mb: max_payload,
        max_concurrent_transforms: section.max_concurrent_transforms,
        data_processing,
        environment: section.environment.clone(),
        tags,
    };
    Ok(TransformPlan { request, sizing })
}

impl CreateTransformJob {
    /// A copy with another job name (retry after a failed or stopped job); the output follows the name.
    pub fn renamed(&self, name: &str) -> CreateTransformJob {
        let mut r = self.clone();
        r.transform_output.s3_output_path = r
            .transform_output
            .s3_output_path
            .replace(&format!("/{}/", self.transform_job_name), &format!("/{name}/"));
        r.transform_job_name = name.to_string();
        r
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::stages::plan::names::is_valid;

    const FP: &str = "blake3:4c1b2a4f0e6bd4a0b8f1a2f4e3d6c9b8a7f6e5d4c3b2a1908f7e6d5c4b3a2918";

    fn section(v: Value) -> TransformSection {
        serde_json::from_value(v).unwrap()
    }

    fn plan(
        s: &TransformSection,
        format: &FormatSpec,
        compression: Compression,
        uri: &str,
        bytes: u64,
    ) -> Result<Value> {
        let input = TransformPlanInput {
            dataset: "sales",
            fingerprint: FP,
            model_name: "sales-4c1b2a4f0e6b-abcdef",
            data_uri: uri,
            format,
            compression,
            size: DataSize { bytes, rows: None },
            transform_uri: "s3://art/greenpipe/transform",
        };
        plan_transform(s, &input).map(|p| serde_json::to_value(p.request).unwrap())
    }

    #[test]
    fn the_inferentia_switch_right_sizes_onto_inf2() {
        let r = plan(
            &section(json!({"accelerator": "inferentia"})),
            &FormatSpec::csv(),
            Compression::None,
            "s3://b/sales/x.csv",
            1000,
        )
        .unwrap();
        assert_eq!(r["TransformResources"]["InstanceType"], "ml.inf2.xlarge");
    }

    #[test]
    fn csv_splits_lines_in_mini_batches() {
        let r = plan(
            &TransformSection::default(),
            &FormatSpec::csv(),
            Compression::None,
            "s3://b/sales/x.csv",
            1000,
        )
        .unwrap();
        assert_eq!(
            r["TransformInput"],
            json!({
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/sales/x.csv"}},
            "ContentType": "text/csv", "CompressionType": "None", "SplitType": "Line"})
        );
        assert_eq!(r["BatchStrategy"], "MultiRecord");
        assert_eq!(r["MaxPayloadInMB"], 6);
        assert_eq!(r["TransformOutput"]["AssembleWith"], "Line");
        assert_eq!(r["TransformOutput"]["Accept"], "text/csv");
        assert_eq!(
            r["TransformResources"],
            json!({"InstanceType": "ml.m5.large", "InstanceCount": 1})
        );
        assert_eq!(r["DataProcessing"], json!({}));
        assert_eq!(r["Environment"], json!({}));
        assert_eq!(r["MaxConcurrentTransforms"], 1);
        assert_eq!(r["ModelName"], "sales-4c1b2a4f0e6b-abcdef");
        let name = r["TransformJobName"].as_str().unwrap();
        assert!(
            is_valid(name) && name.starts_with("sales-4c1b2a4f0e6b-"),
            "{name}"
        );
        assert_eq!(
            r["TransformOutput"]["S3OutputPath"],
            format!("s3://art/greenpipe/transform/sales/{name}/")
        );
    }

    #[test]
    fn jsonl_gzip() {
        let r = plan(
            &section(json!({"max_payload_mb": 20})),
            &FormatSpec::Jsonl,
            Compression::Gzip,
            "s3://b/x.jsonl.gz",
            1000,
        )
        .unwrap();
        assert_eq!(r["TransformInput"]["ContentType"], "application/jsonlines");
        assert_eq!(r["TransformInput"]["CompressionType"], "Gzip");
        assert_eq!(r["TransformInput"]["SplitType"], "Line");
        assert_eq!(r["BatchStrategy"], "MultiRecord");
        assert_eq!(r["MaxPayloadInMB"], 20);
    }

    #[test]
    fn parquet_goes_whole() {
        let r = plan(
            &TransformSection::default(),
            &FormatSpec::Parquet,
            Compression::None,
            "s3://b/x.parquet",
            30 << 20,
        )
        .unwrap();
        assert_eq!(r["TransformInput"]["ContentType"], "application/x-parquet");
        assert_eq!(r["TransformInput"]["SplitType"], "None");
        assert_eq!(r["BatchStrategy"], "SingleRecord");
        assert_eq!(r["MaxPayloadInMB"], 30);
        assert_eq!(r["TransformOutput"]["AssembleWith"], "None");
        assert!(r["TransformOutput"].get("Accept").is_none());
        let small = plan(
            &TransformSection::default(),
            &FormatSpec::Parquet,
            Compression::None,
            "s3://b/x.parquet",
            1000,
        )
        .unwrap();
        assert_eq!(small["MaxPayloadInMB"], 6);
        let err = plan(
            &TransformSection::default(),
            &FormatSpec::Parquet,
            Compression::None,
            "s3://b/x.parquet",
            101 << 20,
        )
        .unwrap_err();
        assert_eq!(err.error_type(), "UnsupportedFormat");
        let join = section(json!({"data_processing": {"join_source": "Input"}}));
        assert_eq!(
            plan(
                &join,
                &FormatSpec::Parquet,
                Compression::None,
                "s3://b/x.parquet",
                1
            )
            .unwrap_err()
            .error_type(),
            "UnsupportedFormat"
        );
    }

    #[test]
    fn zstd_is_refused() {
        let err = plan(
            &TransformSection::default(),
            &FormatSpec::csv(),
            Compression::Zstd,
            "s3://b/x.csv.zst",
            1,
        )
        .unwrap_err();
        assert_eq!(err.error_type(), "UnsupportedFormat");
    }

    #[test]
    fn data_processing_and_overrides() {
        let s = section(json!({
            "instance_type": "ml.c5.xlarge", "instance_count": 2, "max_concurrent_transforms": 4, "accept": "application/json",
            "environment": {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "120"},
            "data_processing": {"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]"}
        }));
        let r = plan(&s, &FormatSpec::csv(), Compression::None, "s3://b/x.csv", 1).unwrap();
        assert_eq!(
            r["DataProcessing"],
            json!({"InputFilter": "$[1:]", "OutputFilter": "$[0,-1]", "JoinSource": "Input"})
        );
        assert_eq!(
            r["TransformResources"],
            json!({"InstanceType": "ml.c5.xlarge", "InstanceCount": 2})
        );
        assert_eq!(r["MaxConcurrentTransforms"], 4);
        assert_eq!(r["TransformOutput"]["Accept"], "application/json");
        assert_eq!(r["Environment"]["SAGEMAKER_MODEL_SERVER_TIMEOUT"], "120");
        // Other settings, other job: a re-run with the same settings gets the same name.
        let default = plan(
            &TransformSection::default(),
            &FormatSpec::csv(),
            Compression::None,
            "s3://b/x.csv",
            1,
        )
        .unwrap();
        assert_ne!(r["TransformJobName"], default["TransformJobName"]);
        let again = plan(&s, &FormatSpec::csv(), Compression::None, "s3://b/x.csv", 1).unwrap();
        assert_eq!(r, again);
    }
}
