//! The long-running programs a local fleet starts (`moto_server`, the hub): each on a free
//! loopback port, its output in a log file, and stopped by its PID (SIGTERM, then SIGKILL
//! after a grace period) when the fleet goes down or the [`Service`] is dropped.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

/// How long a stopped service gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// A free TCP port on 127.0.0.1 (the listener is closed before the port is used).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// A program started by the fleet.
pub struct Service {
    /// What it is, for messages (`moto_server`, `semaphore-hub`).
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    child: Option<Child>,
}

impl Service {
    /// Starts `command`, its output appended to `log`.
    pub fn spawn(name: &str, command: &mut Command, log: &Path) -> Result<Service> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let err = out.try_clone()?;
        // Its own process group: a Ctrl-C at the terminal reaches the fleet, which stops this
        // in order, not this directly.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut *command, 0);
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {name} ({command:?})"))?;
        Ok(Service {
            name: name.to_owned(),
            pid: child.id(),
            log: log.to_owned(),
            child: Some(child),
        })
    }

    /// Fails, naming the log, when the program has already exited.
    pub fn check_running(&mut self) -> Result<()> {
        let Some(child) = self.child.as_mut() else {
            bail!("{} was stopped", self.name);
        };
        if let Some(status) = child.try_wait()? {
            bail!(
                "{} exited ({status}); its output is in {}:\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 20)
            );
        }
        Ok(())
    }

    /// Waits until `url` answers an HTTP GET (any status), failing when the program exits or
    /// `timeout` passes.
    pub async fn wait_http(&mut self, url: &str, timeout: Duration) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + timeout;
        loop {
            self.check_running()?;
            if http.get(url).send().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer at {url} within {timeout:?}; its output is in {}",
                    self.name,
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the program: SIGTERM, then SIGKILL after [`STOP_GRACE`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_pid(self.pid, STOP_GRACE);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a process with this id exists (and is not a zombie of ours already reaped).
pub fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(raw) = i32::try_from(pid) else {
            return false;
        };
        if nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None).is_err() {
            return false;
        }
        // A zombie (exited, not yet reaped by its parent) is gone for our purposes.
        stat_fields(pid).is_none_or(|fields| !fields.starts_with('Z'))
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

/// A process found by [`processes_in`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundProcess {
    /// Its id.
    pub pid: u32,
    /// Its command line, arguments joined by spaces.
    pub cmdline: String,
    /// Its working directory (empty when unreadable).
    pub cwd: PathBuf,
}

/// The live processes whose command line names something inside `dir` or whose working
/// directory is inside it: an instance's agent, boot program and hook, its jobs, the hub. This
/// process and its ancestors (the shell it was started from, perhaps inside `dir`) are never
/// among them. Linux only (`/proc`); empty elsewhere.
pub fn processes_in(dir: &Path) -> Vec<FoundProcess> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let needle = dir.display().to_string();
    let ours = ancestors();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if ours.contains(&pid) || !alive(pid) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .replace('\0', " ")
                    .trim_end()
                    .to_owned()
            })
            .unwrap_or_default();
        let cwd = std::fs::read_link(entry.path().join("cwd")).unwrap_or_default();
        if cmdline.contains(&needle) || cwd.starts_with(&dir) {
            found.push(FoundProcess { pid, cmdline, cwd });
        }
    }
    found
}

/// The fields of `/proc/<pid>/stat` after the command name (`state ppid …`; the name, in
/// parentheses, may hold spaces and parentheses itself).
fn stat_fields(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.rsplit_once(')')?.1.trim_start().to_owned())
}

/// This process and its ancestors.
fn ancestors() -> Vec<u32> {
    let mut chain = vec![std::process::id()];
    while let Some(&pid) = chain.last() {
        let parent = stat_fields(pid)
            .and_then(|fields| fields.split_whitespace().nth(1)?.parse::<u32>().ok());
        match parent {
            Some(ppid) if ppid > 1 && !chain.contains(&ppid) => chain.push(ppid),
            _ => break,
        }
    }
    chain
}

/// SIGTERM to `pid`, then SIGKILL if it is still there after `grace`.
pub fn stop_pid(pid: u32, grace: Duration) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, kill};
        let Ok(raw) = i32::try_from(pid) else { return };
        let target = nix::unistd::Pid::from_raw(raw);
        if kill(target, Signal::SIGTERM).is_err() {
            return;
        }
        let deadline = Instant::now() + grace;
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(pid) {
            let _ = kill(target, Signal::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = (pid, grace);
}

/// The last `lines` lines of a file, indented, for error messages.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_is_stopped_by_its_pid_even_when_it_ignores_sigterm() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("log");
        let mut service = Service::spawn(
            "stubborn",
            Command::new("bash").args(["-c", "trap '' TERM; echo up; exec sleep 60"]),
            &log,
        )
        .expect("spawn");
        let pid = service.pid;
        std::thread::sleep(Duration::from_millis(200));
        assert!(alive(pid));
        let started = Instant::now();
        service.stop();
        assert!(!alive(pid), "still running after stop");
        assert!(
            started.elapsed() >= STOP_GRACE,
            "SIGKILL came before the grace period"
        );
        assert_eq!(std::fs::read_to_string(&log).expect("log"), "up\n");
    }

    #[test]
    fn processes_in_a_directory_are_found_by_working_directory_and_command_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inside = std::fs::canonicalize(dir.path()).expect("path");
        let script = inside.join("script.sh");
        std::fs::write(&script, "sleep 30\n").expect("script");
        let spawn = |command: &mut Command| {
            std::os::unix::process::CommandExt::process_group(command, 0)
                .spawn()
                .expect("spawn")
        };
        let mut children = [
            spawn(Command::new("sleep").arg("30").current_dir(&inside)),
            spawn(Command::new("bash").arg(&script).current_dir("/")),
            spawn(Command::new("sleep").arg("31").current_dir("/")),
        ];
        std::thread::sleep(Duration::from_millis(200));
        let found: Vec<u32> = processes_in(&inside).iter().map(|p| p.pid).collect();
        let pids: Vec<u32> = children.iter().map(Child::id).collect();
        for child in &mut children {
            let group = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
        }
        assert!(
            found.contains(&pids[0]),
            "by its working directory: {found:?}"
        );
        assert!(found.contains(&pids[1]), "by its command line: {found:?}");
        assert!(!found.contains(&pids[2]), "elsewhere: {found:?}");
        // This test's own process (and its parents) are never listed.
        assert!(!found.contains(&std::process::id()));
        assert!(ancestors().contains(&std::process::id()));
    }

    #[tokio::test]
    async fn a_service_that_exits_is_reported_with_its_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("log");
        let mut service = Service::spawn(
            "broken",
            Command::new("bash").args(["-c", "echo 'no such option: --frobnicate' >&2; exit 2"]),
            &log,
        )
        .expect("spawn");
        let error = service
            .wait_http("http://127.0.0.1:9/", Duration::from_secs(5))
            .await
            .expect_err("it exited");
        let message = format!("{error:#}");
        assert!(message.contains("broken exited"), "{message}");
        assert!(
            message.contains("no such option: --frobnicate"),
            "{message}"
        );
    }
}
