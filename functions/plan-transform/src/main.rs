use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};
use plan_transform::{function_handler, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let deps = Deps::from_env(greenpipe::stages::Stage::PlanTransform).await?;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        function_handler(&deps, event)
    }))
    .await
}
