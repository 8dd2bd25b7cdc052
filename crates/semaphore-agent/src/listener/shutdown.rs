//! The end of the agent (spec 5.1): disconnect from the hub (100 tries, 1 s apart; a final
//! failure is only logged), then run the shutdown hook with
//! `SEMAPHORE_AGENT_SHUTDOWN_REASON=<REASON>`.
//!
//! Unlike the Go agent, the hook does not inherit the agent's whole environment: every
//! `SEMAPHORE_AGENT_*` variable is dropped (the registration token may be one), so no token
//! reaches it. Its output is captured and logged; a non-zero exit is only logged.

use std::path::Path;
use std::process::Stdio;

use agent_core::retry::DISCONNECT;
use agent_protocol::ShutdownHookReason;

use crate::listener::hub::Hub;
use crate::listener::with_retries;

/// Disconnects with the spec's retries. Returns whether the hub accepted it.
pub async fn disconnect<H: Hub>(hub: &H) -> bool {
    match with_retries(DISCONNECT, "disconnect", || hub.disconnect()).await {
        Ok(()) => true,
        Err(err) => {
            tracing::error!(attempts = DISCONNECT.attempts, error = %err, "failed to disconnect from the hub; shutting down anyway");
            false
        }
    }
}

/// The environment a child of the agent starts with: the agent's, less every
/// `SEMAPHORE_AGENT_*` variable.
pub fn clean_env(env: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    env.into_iter()
        .filter(|(name, _)| !name.starts_with("SEMAPHORE_AGENT_"))
        .collect()
}

/// How the hook ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    /// It ran; its exit code (`None` when killed by a signal).
    Exited(Option<i32>),
    /// It could not be started.
    NotStarted(String),
}

/// Runs `bash <path>` with the clean environment plus the reason, waits for it, and logs its
/// output.
pub async fn run_hook(path: &Path, reason: ShutdownHookReason) -> HookOutcome {
    tracing::info!(path = %path.display(), reason = reason.as_str(), "running the shutdown hook");
    let output = tokio::process::Command::new("bash")
        .arg(path)
        .env_clear()
        .envs(clean_env(std::env::vars()))
        .env(ShutdownHookReason::ENV_VAR, reason.as_str())
        .stdin(Stdio::null())
        .output()
        .await;
    match output {
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            if output.status.success() {
                tracing::info!(output = %text, "shutdown hook finished");
            } else {
                tracing::error!(status = %output.status, output = %text, "shutdown hook failed");
            }
            HookOutcome::Exited(output.status.code())
        }
        Err(err) => {
            tracing::error!(path = %path.display(), error = %err, "failed to start the shutdown hook");
            HookOutcome::NotStarted(err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clean_environment_has_no_agent_variable() {
        let env = [
            ("PATH", "/bin"),
            ("SEMAPHORE_AGENT_TOKEN", "t"),
            ("SEMAPHORE_AGENT_ENDPOINT", "e"),
            ("SEMAPHORE_JOB_ID", "j"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let names: Vec<String> = clean_env(env).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["PATH", "SEMAPHORE_JOB_ID"]);
    }
}
