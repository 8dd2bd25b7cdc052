//! What the binary's integration tests share.

use std::path::Path;
use std::process::{Command, Output};

/// The binary with a clean environment (only PATH and HOME), run in `dir`.
pub fn cli(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agent-aws-stack"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .current_dir(dir);
    cmd
}

/// [`cli`] plus the test's AWS settings (moto's endpoint and dummy credentials), nothing more.
#[allow(dead_code)] // not every test binary that includes this module talks to AWS
pub fn aws_cli(dir: &Path) -> Command {
    let mut cmd = cli(dir);
    for key in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
    ] {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    cmd
}

/// Exit status, stdout and stderr of a run, for assertion messages.
#[allow(dead_code)] // not every test binary that includes this module prints runs
pub fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
