//! plan-training: the Lambda entry point over [`greenpipe::stages::plan::handler`], which holds the logic
//! (contract, last-trained marker, request builder) and its documentation.

use greenpipe::stages::{plan::PlanTraining, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve::<PlanTraining>().await
}
