//! validate-dataset: the Lambda entry point over [`greenpipe::stages::validate_dataset::handler`], which holds the
//! logic (event shapes, contract lookup, report, quarantine, pipeline start) and its documentation.

use greenpipe::stages::{serve, validate_dataset::ValidateDataset};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve::<ValidateDataset>().await
}
