//! Where things are on an agent image, and the commands that start the agent and power the
//! machine off. The defaults are the images' (`packer/`); tests point them elsewhere.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// The image's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The agent's directory: `agent`, `config.yaml`, `hooks/shutdown`.
    pub agent_dir: PathBuf,
    /// The user that runs the agent and its jobs.
    pub user: String,
    /// That user's home (`.ssh/known_hosts` goes there).
    pub home: PathBuf,
    /// Commands that start the agent and its health check, run in order.
    pub start: Vec<Vec<String>>,
    /// The command that powers the machine off (the launch template makes that a termination).
    pub poweroff: Vec<String>,
    /// A process whose command line contains this is the running agent.
    pub agent_pattern: String,
}

/// `/opt/semaphore/agent`, on every OS.
pub const AGENT_DIR: &str = "/opt/semaphore/agent";

impl Layout {
    /// The layout of this repository's images for the OS this program was built for.
    pub fn image_default() -> Layout {
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let macos = cfg!(target_os = "macos");
        Layout {
            agent_dir: PathBuf::from(AGENT_DIR),
            user: "semaphore".into(),
            home: PathBuf::from(if macos {
                "/Users/semaphore"
            } else {
                "/home/semaphore"
            }),
            start: if macos {
                // The agent's daemon is loaded at OS start but does not run at load; the
                // health check's lives outside /Library/LaunchDaemons, so that it runs only
                // once the agent has been started.
                vec![
                    words("launchctl start com.semaphoreci.agent"),
                    words(
                        "launchctl load -w /opt/semaphore/agent/launchd/com.semaphoreci.health-check.plist",
                    ),
                ]
            } else {
                vec![words(
                    "systemctl start semaphore-agent.service semaphore-agent-health.timer",
                )]
            },
            poweroff: if macos {
                words("shutdown -h now")
            } else {
                words("systemctl poweroff")
            },
            agent_pattern: format!("{AGENT_DIR}/agent start"),
        }
    }

    /// `config.yaml`.
    pub fn config_file(&self) -> PathBuf {
        self.agent_dir.join("config.yaml")
    }

    /// The shutdown hook the agent runs.
    pub fn shutdown_hook(&self) -> PathBuf {
        self.agent_dir.join("hooks").join("shutdown")
    }

    /// `~/.ssh` of the agent's user.
    pub fn ssh_dir(&self) -> PathBuf {
        self.home.join(".ssh")
    }
}

/// Runs `command` (program and arguments) and fails unless it exits 0.
pub fn run(command: &[String]) -> Result<()> {
    let Some((program, args)) = command.split_first() else {
        bail!("an empty command");
    };
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("cannot run `{}`", command.join(" ")))?;
    if !status.success() {
        bail!("`{}` failed ({status})", command.join(" "));
    }
    Ok(())
}
