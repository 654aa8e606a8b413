//! Helpers shared by the CLI tests.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// The repository root (see [`greenpipe_tests::repo_root`]: found at run time, not where the test was built).
pub fn root() -> PathBuf {
    greenpipe_tests::repo_root()
}

/// Exit code, stdout and stderr of a run, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// stdout parsed as JSON; the test fails with the whole run described when it is not.
pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", describe(out)))
}

/// The `greenpipe` binary, run from the repository root with the emulator as its only AWS: the standard
/// environment (endpoint, region, test credentials, path-style S3) and nothing from the user's own setup.
pub fn greenpipe_on_emulator() -> Command {
    let isolated = root().join("cli/tests/no-such-aws-file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenpipe"));
    command
        .current_dir(root())
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", &isolated)
        .env("AWS_SHARED_CREDENTIALS_FILE", &isolated)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &greenpipe_tests::emulator().endpoint)
        .env("AWS_REGION", greenpipe_tests::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("GREENPIPE_S3_FORCE_PATH_STYLE", "true");
    command
}
