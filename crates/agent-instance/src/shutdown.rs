//! The health check and the agent's shutdown hook.

use std::process::Command;

use anyhow::{Context as _, Result};

use crate::boot::Progress;
use crate::instance::{InstanceAws, Metadata};
use crate::layout::{Layout, run};

/// Whether a process other than this one has `pattern` in its command line (`pgrep -f`,
/// which Linux and macOS both have).
pub fn agent_running(pattern: &str) -> Result<bool> {
    let out = Command::new("pgrep")
        .args(["-f", "--", pattern])
        .output()
        .context("cannot run pgrep")?;
    let me = std::process::id();
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|pid| pid.parse::<u32>().ok())
        .any(|pid| pid != me))
}

/// `agent-instance health-check` (every minute): powers the machine off when the agent is
/// gone, so the group replaces it. The agent's own shutdown hook normally terminates the
/// instance first; this catches a crash, a reboot (the agent is not started at boot), or a
/// job that broke the instance's access to AWS.
pub fn health_check(layout: &Layout, progress: &Progress) -> Result<bool> {
    if agent_running(&layout.agent_pattern)? {
        progress.say("Agent is running.");
        return Ok(true);
    }
    progress.say("Agent is not running: powering off so the group replaces this instance.");
    run(&layout.poweroff)?;
    Ok(false)
}

/// `SEMAPHORE_AGENT_SHUTDOWN_REASON` values after which the fleet shrinks.
pub fn decrements(reason: &str) -> bool {
    reason == "IDLE"
}

/// Attempts at terminating before powering off instead.
const TERMINATE_ATTEMPTS: u32 = 3;

/// The agent's shutdown hook: terminates the instance through its group. After an idle
/// timeout the desired capacity drops with it (the fleet's scale-in); after a job or any
/// other reason it does not, so the group starts a fresh instance. When the call keeps
/// failing the machine powers off (the group replaces it, without a decrement).
pub async fn shutdown_hook(reason: &str, layout: &Layout, progress: &Progress) -> Result<()> {
    let decrement = decrements(reason);
    let attempt = async {
        let metadata = Metadata::new();
        let id = metadata.instance_id().await?;
        let region = metadata.region().await?;
        anyhow::Ok((id, InstanceAws::new(&region).await))
    };
    let failure = match attempt.await {
        Ok((id, aws)) => {
            progress.say(&format!(
                "Agent shut down ({reason}): terminating {id} {} desired capacity",
                if decrement {
                    "and decrementing"
                } else {
                    "without decrementing"
                }
            ));
            let mut last = None;
            for n in 1..=TERMINATE_ATTEMPTS {
                match aws.terminate(&id, decrement).await {
                    Ok(()) => {
                        progress.say("Termination requested.");
                        return Ok(());
                    }
                    Err(e) => {
                        progress.say(&format!("Attempt {n} failed: {e}"));
                        last = Some(e);
                        tokio::time::sleep(std::time::Duration::from_secs(u64::from(n))).await;
                    }
                }
            }
            anyhow::anyhow!("TerminateInstanceInAutoScalingGroup kept failing: {last:?}")
        }
        Err(e) => e,
    };
    progress.say(&format!("{failure:#}; powering off instead"));
    run(&layout.poweroff)?;
    Err(failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idle_shrinks_the_fleet() {
        assert!(decrements("IDLE"));
        for reason in [
            "JOB_FINISHED",
            "REQUESTED",
            "INTERRUPTED",
            "UNABLE_TO_SYNC",
            "UNKNOWN",
            "",
        ] {
            assert!(!decrements(reason), "{reason}");
        }
    }
}
