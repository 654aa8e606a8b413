//! register-catalog: the Lambda entry point over [`greenpipe::stages::register_catalog::handler`], which holds the logic
//! (contract lookup, table planning, schema-change policy, Glue calls) and its documentation.

use greenpipe::stages::{register_catalog::RegisterCatalog, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve::<RegisterCatalog>().await
}
