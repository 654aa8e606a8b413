//! greenpipe's library: data contracts, the streaming validation engine, AWS adapters, configuration,
//! errors and telemetry. Lambda `main.rs` files and the CLI are thin shells over this crate.

pub mod aws;
pub mod contract;
pub mod error;
pub mod footprint;
pub mod pipeline;
pub mod stages;
pub mod telemetry;
pub mod validate;

pub use error::{Error, Result};
