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
//! Each folder's `handler.rs` implements [`StageFunction`] for its stage: the table of what it may call
//! (and what that needs from its IAM role, see [`crate::aws::access`]; every client the stage builds is
//! guarded by it, and the template's role is checked against it), its `Deps`, and its handler.
//! [`Stage::visit`] is the one place that maps a [`Stage`] to its implementation.

use std::collections::BTreeMap;
use std::fmt;

use aws_config::SdkConfig;

use crate::aws::access::Call;
use crate::Result;

pub mod cleanup_idle;
mod function;
pub mod plan;
pub mod register_catalog;
pub mod report_run;
pub mod validate_dataset;
pub mod write_features;

pub use function::{
    deadline_of, function_handler, invoke, serve, Host, LocalFunction, Lookup, StageFunction, MEMORY_VARIABLE,
};

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

    /// `visitor` applied to the stage's [`StageFunction`]: the one match from a [`Stage`] to its code.
    pub fn visit<V: Visitor>(self, visitor: V) -> V::Out {
        match self {
            Stage::ValidateDataset => visitor.visit::<validate_dataset::ValidateDataset>(),
            Stage::RegisterCatalog => visitor.visit::<register_catalog::RegisterCatalog>(),
            Stage::WriteFeatures => visitor.visit::<write_features::WriteFeatures>(),
            Stage::PlanTraining => visitor.visit::<plan::PlanTraining>(),
            Stage::PlanTransform => visitor.visit::<plan::PlanTransform>(),
            Stage::ReportRun => visitor.visit::<report_run::ReportRun>(),
            Stage::CleanupIdle => visitor.visit::<cleanup_idle::CleanupIdle>(),
        }
    }

    /// Every operation the stage's code can send, with what each needs ([`StageFunction::CALLS`]).
    pub fn calls(self) -> &'static [Call] {
        struct Calls;
        impl Visitor for Calls {
            type Out = &'static [Call];
            fn visit<F: StageFunction + 'static>(self) -> Self::Out {
                F::CALLS
            }
        }
        self.visit(Calls)
    }

    /// The placeholders of the stage's call table that its settings decide
    /// ([`StageFunction::placeholders`]).
    pub fn placeholders(self, env: Lookup<'_>, bucket: &str) -> Result<BTreeMap<&'static str, String>> {
        struct Placeholders<'a>(Lookup<'a>, &'a str);
        impl Visitor for Placeholders<'_> {
            type Out = Result<BTreeMap<&'static str, String>>;
            fn visit<F: StageFunction + 'static>(self) -> Self::Out {
                F::placeholders(self.0, self.1)
            }
        }
        self.visit(Placeholders(env, bucket))
    }

    /// The stage's handler with its dependencies, to run in this process (`greenpipe exec`).
    pub fn local(self, env: Lookup<'_>, sdk: &SdkConfig) -> Result<Box<dyn LocalFunction>> {
        struct Local<'a>(Lookup<'a>, &'a SdkConfig);
        impl Visitor for Local<'_> {
            type Out = Result<Box<dyn LocalFunction>>;
            fn visit<F: StageFunction + 'static>(self) -> Self::Out {
                function::local::<F>(self.0, self.1)
            }
        }
        self.visit(Local(env, sdk))
    }

    /// The entry for `operation` (`s3:GetObject`), if the stage may send it.
    pub fn call(self, operation: &str) -> Option<&'static Call> {
        self.calls().iter().find(|c| c.operation == operation)
    }
}

/// What [`Stage::visit`] does with a stage's [`StageFunction`].
pub trait Visitor {
    type Out;
    fn visit<F: StageFunction + 'static>(self) -> Self::Out;
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one match in [`Stage::visit`] maps every stage to its own implementation (not a neighbour's
    /// with the same `Deps`, as plan-training's and plan-transform's are).
    #[test]
    fn every_stage_visits_its_own_function() {
        struct StageOf;
        impl Visitor for StageOf {
            type Out = (Stage, usize);
            fn visit<F: StageFunction + 'static>(self) -> Self::Out {
                (F::STAGE, F::CALLS.len())
            }
        }
        for stage in Stage::ALL {
            let (visited, calls) = stage.visit(StageOf);
            assert_eq!(visited, stage);
            assert!(calls > 0, "{stage} has an empty call table");
        }
    }
}
