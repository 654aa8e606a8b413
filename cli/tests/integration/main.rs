//! The `greenpipe` CLI's integration tests, one module per area, in one test binary (one link instead of
//! seven); nextest still runs every test in a process of its own.

mod as_deployed;
mod cleanup;
mod cli;
mod common;
mod exec;
mod features;
mod hostile;
mod pipeline_e2e;
mod s3;
