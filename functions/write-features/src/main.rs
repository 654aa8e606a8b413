//! write-features: the Lambda entry point over [`greenpipe::stages::write_features::handler`], which holds the logic
//! (contract mapping, feature group check, streaming PutRecord writer, offline sink, continuation) and its
//! documentation.

use greenpipe::stages::{serve, write_features::WriteFeatures};

/// mimalloc: PutRecord allocates per request inside the AWS SDK, where glibc malloc took about a fifth of
/// the writer's CPU (bench/features.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One runtime thread, as in `greenpipe features`: the writer loop, its request slots and their
/// connections share it, so no response wakes another thread (rows are parsed on a blocking thread, the
/// offline Parquet files are encoded on one), which costs less CPU per record (bench/README.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    serve::<WriteFeatures>().await
}
