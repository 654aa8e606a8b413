use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};
use write_features::{function_handler, Deps};

/// mimalloc: PutRecord allocates per request inside the AWS SDK, where glibc malloc took about a fifth of
/// the writer's CPU (bench/features.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let deps = Deps::from_env().await?;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        function_handler(&deps, event)
    }))
    .await
}
