//! report-run: the Lambda entry point over [`greenpipe::stages::report_run::handler`], which holds the logic
//! (run report, footprint, EMF lines, last-trained marker) and its documentation.

use greenpipe::stages::{report_run::ReportRun, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve::<ReportRun>().await
}
