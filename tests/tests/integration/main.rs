//! The workspace's integration tests, one module per area, in one test binary: each used to be a binary
//! of its own, and each of those linked the SDKs again (one link instead of thirteen). nextest still runs
//! every test in a process of its own. `cargo_lambda_watch.rs` stays apart: it builds with other features.

mod asl_conformance;
mod burst;
mod cleanup_idle;
mod cleanup_studio;
mod deploy;
mod early_stop;
mod events;
mod http1_tls;
mod notebook_activity;
mod pipeline_definition;
mod plan_stages;
mod register_catalog;
mod s3_adapter;
mod validate_dataset;
mod write_features;
