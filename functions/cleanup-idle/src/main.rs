//! cleanup-idle: the Lambda entry point over [`greenpipe::stages::cleanup_idle::handler`], which holds the logic
//! (inventory, plan, actions, report) and its documentation; the decisions themselves are in
//! [`greenpipe::stages::cleanup_idle`].

use greenpipe::stages::{cleanup_idle::CleanupIdle, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve::<CleanupIdle>().await
}
