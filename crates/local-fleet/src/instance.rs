//! One local instance: a directory standing in for its disk, its own metadata service, and the
//! image's real programs run as processes: `agent-instance boot <stack>-config` (user data),
//! whose start command launches the Rust agent against the hub, with the image's shutdown hook.
//!
//! Everything the instance starts stays in one process group, and its jobs run in sessions of
//! their own inside its directory (their home): terminating the instance kills both, as the
//! machine going would.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use tokio::process::{Child, Command};

use crate::imds::{Imds, InstanceIdentity};

/// What every instance of the fleet runs and where it reaches AWS.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// Where instance directories go.
    pub work_dir: PathBuf,
    /// The `agent-instance` binary (the image's boot program).
    pub agent_instance: PathBuf,
    /// The `semaphore-agent` binary (installed as `<agent dir>/agent`).
    pub agent: PathBuf,
    /// The stack's agent parameter, `<stack>-config`.
    pub config_parameter: String,
    /// The AWS emulator's endpoint (`AWS_ENDPOINT_URL`).
    pub aws_endpoint: String,
    /// The region.
    pub region: String,
    /// Time between the launch and the boot program starting (EC2 launch plus OS boot).
    pub boot_delay: Duration,
    /// Extra flags for `semaphore-agent start` (`--no-https` for a local hub).
    pub agent_flags: Vec<String>,
    /// Extra flags for `agent-instance boot` (`--attempts`, `--pause-ms`).
    pub boot_flags: Vec<String>,
}

/// A running local instance.
pub struct LocalInstance {
    /// Its id in the emulator.
    pub id: String,
    /// Its directory.
    pub dir: PathBuf,
    /// When the group launched it.
    pub launched_at: Instant,
    imds: Imds,
    boot: Option<Child>,
    group: Option<i32>,
}

impl LocalInstance {
    /// Prepares the instance's directory and metadata service; [`LocalInstance::boot`] runs
    /// its user data.
    pub async fn create(spec: &InstanceSpec, id: &str, zone: &str) -> Result<LocalInstance> {
        let dir = spec.work_dir.join(id);
        let agent_dir = dir.join("agent");
        std::fs::create_dir_all(agent_dir.join("hooks"))
            .with_context(|| format!("cannot create {}", agent_dir.display()))?;
        std::fs::create_dir_all(dir.join("home"))?;
        let imds = Imds::start(InstanceIdentity {
            instance_id: id.to_owned(),
            region: spec.region.clone(),
            availability_zone: zone.to_owned(),
        })
        .await?;
        let env = format!(
            "export AWS_EC2_METADATA_SERVICE_ENDPOINT='{}' AWS_ENDPOINT_URL='{}' AWS_REGION='{}'\n\
             unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE\n",
            imds.endpoint, spec.aws_endpoint, spec.region
        );
        let layout = format!(
            "--agent-dir '{}' --home '{}' --user \"$(id -un)\" --poweroff-command '{}'",
            agent_dir.display(),
            dir.join("home").display(),
            dir.join("poweroff").display()
        );
        // The image's agent is `<agent dir>/agent`; the boot program recognises it by that path.
        link_or_copy(&spec.agent, &agent_dir.join("agent"))?;
        // The image's agent runs as its own user, with its own home: jobs start there and
        // write there, never in the home of whoever runs the fleet.
        write_script(
            &dir.join("start-agent"),
            &format!(
                "cd '{dir}'\nexport HOME='{home}'\nnohup '{agent}' start --config-file '{config}' {flags} >> '{dir}/agent.out' 2>&1 &\n",
                dir = dir.display(),
                home = dir.join("home").display(),
                agent = agent_dir.join("agent").display(),
                config = agent_dir.join("config.yaml").display(),
                flags = spec.agent_flags.join(" "),
            ),
        )?;
        // The agent runs hooks in a clean environment: the hook brings its own.
        write_script(
            &agent_dir.join("hooks").join("shutdown"),
            &format!(
                "{env}exec '{}' {layout} shutdown-hook >> '{}/hook.out' 2>&1\n",
                spec.agent_instance.display(),
                dir.display()
            ),
        )?;
        write_script(
            &dir.join("poweroff"),
            &format!("touch '{}/powered-off'\n", dir.display()),
        )?;
        write_script(
            &dir.join("user-data"),
            &format!(
                "{env}exec '{}' {layout} --start-command '{}' boot '{}' {} >> '{}/boot.out' 2>&1\n",
                spec.agent_instance.display(),
                dir.join("start-agent").display(),
                spec.config_parameter,
                spec.boot_flags.join(" "),
                dir.display()
            ),
        )?;
        Ok(LocalInstance {
            id: id.to_owned(),
            dir,
            launched_at: Instant::now(),
            imds,
            boot: None,
            group: None,
        })
    }

    /// Runs the user data in a process group of its own.
    pub fn boot(&mut self) -> Result<()> {
        let mut command = Command::new("bash");
        command
            .arg(self.dir.join("user-data"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(false);
        #[cfg(unix)]
        command.process_group(0);
        let child = command
            .spawn()
            .context("cannot run the instance's user data")?;
        self.group = child.id().and_then(|pid| i32::try_from(pid).ok());
        self.boot = Some(child);
        Ok(())
    }

    /// Whether the boot program has been started.
    pub fn booted(&self) -> bool {
        self.boot.is_some()
    }

    /// The instance powered itself off (its health check or a failed boot did).
    pub fn powered_off(&self) -> bool {
        self.dir.join("powered-off").exists()
    }

    /// The metadata service, to announce a spot interruption.
    pub fn imds(&self) -> &Imds {
        &self.imds
    }

    /// What the OS does at shutdown with the image's agent unit (`KillMode=mixed`): SIGTERM
    /// to the agent's side (the instance's process group), not to the jobs, which go with the
    /// machine ([`LocalInstance::terminate`]).
    pub fn signal_shutdown(&self) {
        #[cfg(unix)]
        if let Some(group) = self.group {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(group),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }

    /// Sends `signal` to every process of the instance: its process group (the boot program,
    /// the agent, hooks) and whatever runs inside its directory (jobs, which the agent starts
    /// in sessions of their own on a terminal, in the instance's home).
    #[cfg(unix)]
    fn signal_all(&self, signal: nix::sys::signal::Signal) {
        use nix::unistd::Pid;
        if let Some(group) = self.group {
            let _ = nix::sys::signal::killpg(Pid::from_raw(group), signal);
        }
        for process in crate::services::processes_in(&self.dir) {
            if let Ok(pid) = i32::try_from(process.pid) {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
            }
        }
    }

    /// Ends every process of the instance at once (SIGKILL), as the machine going would.
    pub fn terminate(&mut self) {
        #[cfg(unix)]
        if self.group.is_some() {
            self.signal_all(nix::sys::signal::Signal::SIGKILL);
            self.group = None;
        }
        if let Some(mut child) = self.boot.take() {
            let _ = child.start_kill();
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}

impl Drop for LocalInstance {
    fn drop(&mut self) {
        self.terminate();
    }
}

fn write_script(path: &Path, body: &str) -> Result<()> {
    std::fs::write(path, format!("#!/usr/bin/env bash\n{body}"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    let _ = std::fs::remove_file(to);
    #[cfg(unix)]
    if std::os::unix::fs::symlink(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("cannot install {} as {}", from.display(), to.display()))
}
