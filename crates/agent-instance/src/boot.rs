//! `agent-instance boot <stack>-config`: what user data runs once per instance, as root.
//!
//! 1. IMDSv2: instance id and region.
//! 2. The stack's agent parameters (SSM `<stack>-config`).
//! 3. GitHub's SSH host keys into the agent user's `known_hosts` (merged, never duplicated).
//! 4. The agent token (SecureString, decrypted; never printed).
//! 5. The agent name: `<instance-id>__<13 random characters>`, or a pre-signed STS URL.
//! 6. `config.yaml`, written whole, readable by the agent's user only (it holds the token).
//! 7. The agent and its health check are started.
//!
//! Any failure marks the instance unhealthy in its group (which replaces it); when even that
//! fails, or the instance cannot be identified, the machine powers off, which terminates it.

use std::time::{Instant, SystemTime};

use anyhow::{Context as _, Result};

use crate::files::{Owner, ensure_dir, merge_lines, write_atomically};
use crate::instance::{InstanceAws, Metadata, Retry};
use crate::layout::{Layout, run};
use crate::params::{AgentParameters, agent_config, config_file_text, github_known_hosts};
use crate::presign::caller_identity_url;

/// Progress lines on stdout (cloud-init keeps them), each with the time since the start.
pub struct Progress {
    started: Instant,
}

impl Progress {
    /// Starts the clock.
    pub fn start() -> Progress {
        Progress {
            started: Instant::now(),
        }
    }

    /// Prints one line.
    pub fn say(&self, line: &str) {
        println!("[+{:.3}s] {line}", self.started.elapsed().as_secs_f64());
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// `<instance-id>__<13 characters from [A-Za-z0-9]>`: unique per boot, 34 characters for
/// today's instance ids (the agent accepts 8 to 80).
pub fn random_name(instance_id: &str) -> String {
    let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(13)
        .collect();
    format!("{instance_id}__{suffix}")
}

/// What the boot knows about the instance, for the failure path.
#[derive(Default)]
pub struct Identity {
    /// The instance id, once read.
    pub instance_id: Option<String>,
    /// Clients for the instance's region, once known.
    pub aws: Option<InstanceAws>,
}

/// Configures and starts the agent; fills `identity` as it learns it.
pub async fn boot(
    config_parameter: &str,
    layout: &Layout,
    retry: Retry,
    progress: &Progress,
    identity: &mut Identity,
) -> Result<()> {
    let metadata = Metadata::new();
    let instance_id = metadata.instance_id().await?;
    identity.instance_id = Some(instance_id.clone());
    let region = metadata.region().await?;
    progress.say(&format!("Instance {instance_id} in {region}"));
    let aws = identity.aws.insert(InstanceAws::new(&region).await);
    let owner = Owner::of(&layout.user)?;

    progress.say(&format!(
        "Fetching agent params from SSM parameter '{config_parameter}'..."
    ));
    let text = aws.parameter(config_parameter, false, retry).await?;
    let params = AgentParameters::parse(config_parameter, &text)?;

    progress.say(&format!(
        "Fetching GitHub SSH host keys from SSM parameter '{}'...",
        params.ssh_keys_parameter
    ));
    let keys = aws
        .parameter(&params.ssh_keys_parameter, false, retry)
        .await?;
    let lines = github_known_hosts(&params.ssh_keys_parameter, &keys)?;
    let ssh = layout.ssh_dir();
    ensure_dir(&ssh, 0o700, owner)?;
    let known_hosts = ssh.join("known_hosts");
    let existing = match std::fs::read_to_string(&known_hosts) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", known_hosts.display())),
    };
    write_atomically(
        &known_hosts,
        merge_lines(&existing, &lines).as_bytes(),
        0o644,
        owner,
    )?;
    progress.say(&format!(
        "Trusted {} GitHub host key(s) in {}",
        lines.len(),
        known_hosts.display()
    ));

    progress.say(&format!(
        "Fetching agent token from SSM parameter '{}'...",
        params.token_parameter
    ));
    let token = aws.parameter(&params.token_parameter, true, retry).await?;

    let name = if params.use_pre_signed_url {
        let credentials = aws.credentials().await?;
        progress.say("Agent name: a pre-signed STS GetCallerIdentity URL (valid 15 minutes)");
        caller_identity_url(&credentials, SystemTime::now())?
    } else {
        let name = random_name(&instance_id);
        progress.say(&format!("Agent name: {name}"));
        name
    };

    progress.say("Changing agent configuration...");
    let hook = layout.shutdown_hook();
    let config = agent_config(&params, &name, &token, &hook.to_string_lossy());
    write_atomically(
        &layout.config_file(),
        config_file_text(&config).as_bytes(),
        0o600,
        owner,
    )?;

    progress.say("Starting agent...");
    for command in &layout.start {
        run(command)?;
    }
    progress.say(&format!(
        "Agent started {:.3} s after boot began",
        progress.elapsed()
    ));
    Ok(())
}

/// After a failed boot: the group replaces the instance, or the machine powers off.
pub async fn give_up(identity: &Identity, layout: &Layout, progress: &Progress) {
    if let (Some(id), Some(aws)) = (&identity.instance_id, &identity.aws) {
        match aws.mark_unhealthy(id).await {
            Ok(()) => {
                progress.say(&format!(
                    "Marked {id} unhealthy: its Auto Scaling group replaces it"
                ));
                return;
            }
            Err(e) => progress.say(&format!("Could not mark {id} unhealthy: {e}")),
        }
    }
    progress.say(&format!(
        "Powering off (the instance terminates): `{}`",
        layout.poweroff.join(" ")
    ));
    if let Err(e) = run(&layout.poweroff) {
        progress.say(&format!("Power-off failed too: {e:#}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_names_fit_the_agents_rules_and_differ() {
        let a = random_name("i-0123456789abcdef0");
        let b = random_name("i-0123456789abcdef0");
        assert_eq!(a.len(), 34);
        assert!(a.starts_with("i-0123456789abcdef0__"));
        assert!(a[21..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
