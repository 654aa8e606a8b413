use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};
use write_features::{function_handler, Deps};

/// mimalloc: PutRecord allocates per request inside the AWS SDK, where glibc malloc took about a fifth of
/// the writer's CPU (bench/features.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One runtime thread, as in `greenpipe features`: the writer loop, its request slots and their
/// connections share it, so no response wakes another thread (rows are parsed on a blocking thread, the
/// offline Parquet files are encoded on one), which costs less CPU per record (bench/README.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let deps = Deps::from_env().await?;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        function_handler(&deps, event)
    }))
    .await
}
