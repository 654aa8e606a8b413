//! The pipeline's stages, one folder each: the deployed Lambda function of the same name is a thin
//! `main.rs` over the folder's `handler` (its typed request, its `Deps` with only the clients it uses,
//! the SDK calls) and the folder's pure logic beside it.
//!
//! | stage | folder | calls |
//! |---|---|---|
//! | validate-dataset | [`validate_dataset`] | S3, Step Functions (StartExecution) |
//! | register-catalog | [`register_catalog`] | S3, Glue Data Catalog |
//! | write-features | [`write_features`] | S3, SageMaker (DescribeFeatureGroup), Feature Store runtime |
//! | plan-training, plan-transform | [`plan`] | S3, SageMaker (Describe*/List*) |
//! | report-run | [`report_run`] | S3 |
//! | cleanup-idle | [`cleanup_idle`] | S3, SageMaker, CloudWatch, CloudWatch Logs |
//!
//! What each may call, and what that needs from its IAM role, is [`crate::aws::access`]: every client a
//! stage builds is guarded by that table, and the template's roles are checked against it.

use std::fmt;

use crate::aws::access::{self, Call};

pub mod cleanup_idle;
pub mod plan;
pub mod register_catalog;
pub mod report_run;
pub mod validate_dataset;
pub mod write_features;

/// A deployed Lambda function of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    ValidateDataset,
    RegisterCatalog,
    WriteFeatures,
    PlanTraining,
    PlanTransform,
    ReportRun,
    CleanupIdle,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::ValidateDataset,
        Stage::RegisterCatalog,
        Stage::WriteFeatures,
        Stage::PlanTraining,
        Stage::PlanTransform,
        Stage::ReportRun,
        Stage::CleanupIdle,
    ];

    /// The function's name as deployed (and its crate's).
    pub fn name(self) -> &'static str {
        match self {
            Stage::ValidateDataset => "validate-dataset",
            Stage::RegisterCatalog => "register-catalog",
            Stage::WriteFeatures => "write-features",
            Stage::PlanTraining => "plan-training",
            Stage::PlanTransform => "plan-transform",
            Stage::ReportRun => "report-run",
            Stage::CleanupIdle => "cleanup-idle",
        }
    }

    /// The function's logical id in `infra/template.yaml`: `validate-dataset` → `ValidateDatasetFunction`
    /// (its ARN reaches the state machine definition as `${ValidateDatasetFunctionArn}`).
    pub fn function_id(self) -> String {
        let pascal: String = self
            .name()
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        format!("{pascal}Function")
    }

    /// Whether a Task state of the pipeline's definition invokes it (all but cleanup-idle, which runs on
    /// its schedule).
    pub fn in_pipeline(self) -> bool {
        self != Stage::CleanupIdle
    }

    pub fn by_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Every operation the stage's code can send, with what each needs ([`access`]).
    pub fn calls(self) -> &'static [Call] {
        access::calls(self)
    }

    /// The entry for `operation` (`s3:GetObject`), if the stage may send it.
    pub fn call(self, operation: &str) -> Option<&'static Call> {
        self.calls().iter().find(|c| c.operation == operation)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
