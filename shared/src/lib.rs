//! greenpipe's library: data contracts, the streaming validation engine, AWS adapters, configuration,
//! errors and telemetry. Lambda `main.rs` files and the CLI are thin shells over this crate.

#[cfg(feature = "aws")]
pub mod aws;
pub mod contract;
pub mod error;
#[cfg(feature = "events")]
pub mod events;
pub mod footprint;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz_targets;
pub mod pipeline;
#[cfg(feature = "aws")]
pub mod stages;
pub mod telemetry;
pub mod validate;

pub use error::{Error, Result};
