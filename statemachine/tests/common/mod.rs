//! Helpers shared by the statemachine test binaries.

use std::path::PathBuf;

/// This package's directory: cargo and nextest set `CARGO_MANIFEST_DIR` when they run a test, which stays
/// right when the binary is reused from a build in another checkout sharing the target directory (cargo
/// does not rebuild unchanged sources for a new path, and the compile-time value would name the old one).
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
