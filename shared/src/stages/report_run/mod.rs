//! report-run: the last state of every execution. [`handler`] reads the state and writes the report;
//! [`run_report`] builds it (pure: stages, durations, dollars, kWh and kgCO2e); [`utilisation`] reads a
//! training job's CloudWatch series into the summary plan-training sizes the next job from.

pub mod handler;
pub mod run_report;
pub mod utilisation;

pub use handler::{report_run_at, report_run_handler, Deps, ReportRun};
