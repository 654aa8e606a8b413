//! validate-dataset: an uploaded object checked against its data contract, streamed ([`crate::validate`]
//! is the engine); bad data quarantined with a report, good data starting the pipeline
//! ([`crate::pipeline`]). See [`handler`] for the steps, each idempotent.

pub mod handler;

pub use handler::{handle, Deps, Outcome, ValidateDataset};
