//! Training and batch-transform planning: the contract's `training:` section, typed and checked, and pure
//! builders of the SageMaker `CreateTrainingJob`, `CreateModel` and `CreateTransformJob` requests the state
//! machine sends (PascalCase JSON, the APIs' own field names). No AWS calls here: the plan-training and
//! plan-transform stages ([`handler`]) read S3 and SageMaker, then call these.
//!
//! Names are deterministic (dataset name + data fingerprint + settings hash), so a re-run of the same data
//! with the same settings plans the same job, and SageMaker's unique-name rule turns a duplicate run into
//! a detectable "already exists" instead of a second job.

pub mod handler;
pub mod limits;
pub mod names;
pub mod schedule;
pub mod section;
pub mod sizing;
pub mod training;
pub mod transform;
pub mod tuning;

pub use handler::{PlanTraining, PlanTransform};
pub use section::{DataProcessingSection, TrainingSection, TransformSection};

use serde::{Deserialize, Serialize};

/// A SageMaker `Tag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Tags greenpipe puts on every job and model it plans (and cleanup-idle recognises as managed).
pub fn managed_tags(
    dataset: &str,
    fingerprint: &str,
    extra: &std::collections::BTreeMap<String, String>,
) -> Vec<Tag> {
    let mut tags = vec![
        Tag {
            key: "greenpipe:managed".into(),
            value: "true".into(),
        },
        Tag {
            key: "greenpipe:dataset".into(),
            value: truncate(dataset, 256),
        },
        Tag {
            key: "greenpipe:fingerprint".into(),
            value: truncate(fingerprint, 256),
        },
    ];
    for (k, v) in extra {
        if !tags.iter().any(|t| &t.key == k) {
            tags.push(Tag {
                key: truncate(k, 128),
                value: truncate(v, 256),
            });
        }
    }
    tags
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// What the planner knows about the input data besides the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSize {
    /// Object size in S3 (compressed, if it is).
    pub bytes: u64,
    /// Rows, when validation counted them.
    pub rows: Option<u64>,
}
