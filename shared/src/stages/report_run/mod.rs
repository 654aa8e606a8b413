//! report-run: the last state of every execution. [`handler`] reads the state and writes the report;
//! [`run_report`] builds it (pure: stages, durations, dollars, kWh and kgCO2e).

pub mod handler;
pub mod run_report;

pub use handler::{report_run_at, report_run_handler, Deps, ReportRun};
