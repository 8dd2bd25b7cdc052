//! What the binary's integration tests share.

use std::path::Path;
use std::process::Command;

/// The binary with a clean environment (only PATH and HOME), run in `dir`.
pub fn cli(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agent-aws-stack"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .current_dir(dir);
    cmd
}
