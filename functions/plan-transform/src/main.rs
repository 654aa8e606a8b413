//! plan-transform: the Lambda entry point over [`greenpipe::stages::plan::handler`], which holds the logic
//! (model choice, request builder, existing-job check) and its documentation.

use greenpipe::stages::{plan::PlanTransform, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve::<PlanTransform>().await
}
