//! The docker-compose executor (the request's `executor: "dockercompose"`): the job's bash
//! session runs inside the main container of a compose project of its own, on the same PTY
//! machinery as the shell executor ([`ShellExecutor::with_program`]).
//!
//! Start (spec 8 step 2), in the Go agent's order:
//! 1. a temp directory for the job (`<tmp>/semaphore-compose-<pid>-<nanos>`, mode 0700): the
//!    compose file, the env files and the command file. It is mounted read-only at the same
//!    path in the main container, so the session `source`s the same files as a local shell;
//! 2. `compose.host_setup_commands`, each as `bash -c <directive>` on the host (output to
//!    the agent's log, as in Go; a failure fails the job);
//! 3. the agent's `files` (`hostPath:containerPath`): a missing host path fails the job with
//!    `fail-on-missing-files`, else it is skipped with a warning in the agent's log;
//! 4. the compose file ([`super::compose_file`]);
//! 5. with `image_pull_credentials`, the step "Setting up image pull credentials": one
//!    [`super::login`] per item, secrets on stdin or in the environment only;
//! 6. "Pulling docker images...": `docker compose --ansi never -f <file> -p <project> run
//!    --rm <main> true` (what the Go agent does instead of `pull`, so that images already
//!    present are not pulled again);
//! 7. "Starting the docker image..." with `Starting a new bash session.\n`: `docker compose
//!    ... run --rm --name <project>-main -v /var/run/docker.sock:/var/run/docker.sock -v
//!    <job dir>:<job dir>:ro <main> bash` on the PTY, then the session's init (spec 9.1).
//!
//! Teardown: the session is ended like the shell executor's (its whole process session,
//! TERM then KILL), then `docker rm -f <project>-main` and `docker compose ... down
//! --remove-orphans` end the containers, and the job's directory is deleted.
//!
//! Differences from the Go agent: only Compose v2 (`docker compose`), not the standalone v1
//! `docker-compose`; a project name per job (`-p`) so that concurrent agents on one machine
//! do not share containers; a job directory per job instead of `/tmp/docker-compose.yml`; no
//! SSH jump point and no `/dev/kvm` device.
//!
//! **Verified only against a stand-in `docker` program** (the tests run on machines without a
//! Docker daemon): the command lines, that secrets go to stdin and never to arguments or
//! events, the event stream, the session's commands running through a real bash that the
//! stand-in execs, `files`, and teardown. Not verified against a real Docker: that the
//! compose file and these command lines behave as intended in Docker Compose itself, and
//! that the job's files are readable in a container whose user is not the agent's or root.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use agent_protocol::{Compose, EnvVar, FileInjection, JobFile};

use super::compose_file::{compose_file, main_service};
use super::env::shell_quote;
use super::login::login;
use super::shell::{ShellConfig, ShellExecutor};
use super::{Executor, ExecutorError, StopSignal, VisibleCommand};
use crate::events::{Emitter, EventSink, unix_now};

/// The name of the login step.
pub const CREDENTIALS_STEP: &str = "Setting up image pull credentials";
/// The name of the pull step.
pub const PULL_STEP: &str = "Pulling docker images...";
/// The name of the step that starts the session in the main container.
pub const START_STEP: &str = "Starting the docker image...";
/// How long teardown waits for each `docker` command.
const TEARDOWN_LIMIT: Duration = Duration::from_secs(120);
/// No limit for the job's own host commands: the agent has no job timeout (spec 8).
const FOREVER: Duration = Duration::from_secs(60 * 60 * 24 * 365);
/// How often a waiting host command looks at the stop signal.
const POLL: Duration = Duration::from_millis(20);

/// The agent's settings that only the compose executor uses (spec 2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeSettings {
    /// `files`: host paths mounted into the main container.
    pub files: Vec<FileInjection>,
    /// `fail-on-missing-files`: a missing host path fails the job (else it is skipped).
    pub fail_on_missing_files: bool,
}

/// How a host command ended.
#[derive(Debug)]
enum HostRun {
    /// It exited (the code; -1 when killed by a signal), with its output.
    Exited(i32, Vec<u8>),
    /// A stop arrived and it was killed.
    Stopped,
    /// It could not be run.
    Failed(String),
}

/// Runs a job in a bash session inside the main container of its compose project.
pub struct ComposeExecutor {
    config: ShellConfig,
    settings: ComposeSettings,
    compose: Compose,
    stop: StopSignal,
    /// The `docker` program (looked up in the job's `PATH`).
    docker: PathBuf,
    job_dir: Option<PathBuf>,
    project: String,
    /// Set once the compose file is written: teardown then ends the containers.
    compose_file: Option<PathBuf>,
    shell: Option<ShellExecutor>,
}

impl std::fmt::Debug for ComposeExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComposeExecutor")
            .field("project", &self.project)
            .field("job_dir", &self.job_dir)
            .finish_non_exhaustive()
    }
}

impl ComposeExecutor {
    /// An executor for `compose` that has not started anything yet. `config` is the shell
    /// executor's (home, temp directory, clean environment, stop grace).
    pub fn new(
        config: ShellConfig,
        settings: ComposeSettings,
        compose: Compose,
        stop: StopSignal,
    ) -> ComposeExecutor {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        ComposeExecutor {
            config,
            settings,
            compose,
            stop,
            docker: PathBuf::from("docker"),
            job_dir: None,
            project: format!("semaphore-job-{}-{nanos}", std::process::id()),
            compose_file: None,
            shell: None,
        }
    }

    /// The compose project's name (`-p`).
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The job's directory, once created.
    pub fn job_dir(&self) -> Option<&Path> {
        self.job_dir.as_deref()
    }

    fn main_name(&self) -> String {
        main_service(&self.compose).unwrap_or("main").to_owned()
    }

    /// `compose --ansi never -f <file> -p <project>`.
    fn compose_args(&self, file: &Path) -> Vec<OsString> {
        vec![
            "compose".into(),
            "--ansi".into(),
            "never".into(),
            "-f".into(),
            file.as_os_str().to_owned(),
            "-p".into(),
            self.project.clone().into(),
        ]
    }

    /// Runs `program args` on the host with the job's clean environment plus `env`, `stdin`
    /// written then closed, stdout and stderr together. With `stoppable`, a stop kills it.
    fn run_host(
        &self,
        program: &Path,
        args: &[OsString],
        env: &[(String, String)],
        stdin: &[u8],
        stoppable: bool,
        limit: Duration,
    ) -> HostRun {
        let Some(dir) = &self.job_dir else {
            return HostRun::Failed("no job directory".into());
        };
        let out_path = dir.join("host-output");
        let out = match File::create(&out_path) {
            Ok(f) => f,
            Err(err) => return HostRun::Failed(err.to_string()),
        };
        let err_out = match out.try_clone() {
            Ok(f) => f,
            Err(err) => return HostRun::Failed(err.to_string()),
        };
        let spawned = Process::new(program)
            .args(args)
            .env_clear()
            .envs(self.config.base_env.vars().iter().cloned())
            .envs(env.iter().cloned())
            .current_dir(&self.config.home)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err_out)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(err) => return HostRun::Failed(format!("{}: {err}", program.display())),
        };
        if let Some(mut pipe) = child.stdin.take() {
            // A program that does not read its stdin closes it: that is not an error here.
            let _ = pipe.write_all(stdin);
        }
        let deadline = Instant::now() + limit;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(err) => return HostRun::Failed(err.to_string()),
            }
            if (stoppable && self.stop.is_stopped()) || Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                let _ = fs::remove_file(&out_path);
                return if stoppable && self.stop.is_stopped() {
                    HostRun::Stopped
                } else {
                    HostRun::Failed(format!("{} timed out", program.display()))
                };
            }
            thread::sleep(POLL);
        };
        let mut output = Vec::new();
        if let Ok(mut f) = File::open(&out_path) {
            let _ = f.read_to_end(&mut output);
        }
        let _ = fs::remove_file(&out_path);
        HostRun::Exited(status.code().unwrap_or(-1), output)
    }

    /// Steps 1 to 4 of the module's list: nothing is shown in the job's log.
    fn prepare(&mut self) -> Result<PathBuf, ExecutorError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = self
            .config
            .tmp_dir
            .join(format!("semaphore-compose-{}-{nanos}", std::process::id()));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|source| ExecutorError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        self.job_dir = Some(dir.clone());

        for command in &self.compose.host_setup_commands {
            let args = [OsString::from("-c"), OsString::from(&command.directive)];
            match self.run_host(Path::new("bash"), &args, &[], &[], true, FOREVER) {
                HostRun::Exited(0, out) => {
                    tracing::debug!(output = %String::from_utf8_lossy(&out), "host setup command passed");
                }
                HostRun::Exited(code, out) => {
                    tracing::error!(code, output = %String::from_utf8_lossy(&out), "a host setup command failed");
                    return Err(ExecutorError::Compose(format!(
                        "host setup command failed with exit code {code}"
                    )));
                }
                HostRun::Stopped => return Err(ExecutorError::Stopped),
                HostRun::Failed(err) => return Err(ExecutorError::Compose(err)),
            }
        }

        let mut volumes = Vec::new();
        for file in &self.settings.files {
            if Path::new(&file.host_path).exists() {
                volumes.push(file.clone());
            } else if self.settings.fail_on_missing_files {
                return Err(ExecutorError::Compose(format!(
                    "the file {} to inject does not exist (fail-on-missing-files)",
                    file.host_path
                )));
            } else {
                tracing::warn!(path = %file.host_path, "a file to inject does not exist; ignoring it");
            }
        }

        let text = compose_file(&self.compose, &volumes)
            .map_err(|err| ExecutorError::Compose(err.to_string()))?;
        let path = dir.join("docker-compose.yml");
        write_private(&path, text.as_bytes()).map_err(|source| ExecutorError::Io {
            path: path.display().to_string(),
            source,
        })?;
        self.compose_file = Some(path.clone());
        Ok(path)
    }

    /// "Setting up image pull credentials" (only when there are any); returns its exit code.
    fn log_in(&mut self, events: &mut Emitter<'_>) -> Result<(), ExecutorError> {
        if self.compose.image_pull_credentials.is_empty() {
            return Ok(());
        }
        let started_at = unix_now();
        events.cmd_started(CREDENTIALS_STEP);
        let mut code = 0;
        let mut stopped = false;
        for credentials in &self.compose.image_pull_credentials {
            let login = match login(credentials) {
                Ok(l) => l,
                Err(err) => {
                    events.output(format!("{err}\n"));
                    code = 1;
                    break;
                }
            };
            events.output(format!("Setting up credentials for {}\n", login.kind));
            events.output(format!("{}\n", login.shown));
            let args: Vec<OsString> = login.args.iter().map(OsString::from).collect();
            match self.run_host(
                Path::new(&login.program),
                &args,
                &login.env,
                &login.stdin,
                true,
                FOREVER,
            ) {
                HostRun::Exited(exit, out) => {
                    emit_output(events, &out);
                    if exit != 0 {
                        code = 1;
                        break;
                    }
                }
                HostRun::Stopped => {
                    stopped = true;
                    code = 1;
                    break;
                }
                HostRun::Failed(err) => {
                    events.output(format!("{err}\n"));
                    code = 1;
                    break;
                }
            }
        }
        events.cmd_finished(CREDENTIALS_STEP, code, started_at);
        match code {
            0 => Ok(()),
            _ if stopped => Err(ExecutorError::Stopped),
            _ => Err(ExecutorError::Compose("a registry login failed".into())),
        }
    }

    /// "Pulling docker images...".
    fn pull(&mut self, file: &Path, events: &mut Emitter<'_>) -> Result<(), ExecutorError> {
        let started_at = unix_now();
        events.cmd_started(PULL_STEP);
        let mut args = self.compose_args(file);
        args.extend([
            "run".into(),
            "--rm".into(),
            self.main_name().into(),
            "true".into(),
        ]);
        let outcome = self.run_host(&self.docker, &args, &[], &[], true, FOREVER);
        let (code, result) = match outcome {
            HostRun::Exited(code, out) => {
                emit_output(events, &out);
                if code == 0 {
                    (0, Ok(()))
                } else {
                    (
                        1,
                        Err(ExecutorError::Compose(format!(
                            "docker compose run (pull) failed with exit code {code}"
                        ))),
                    )
                }
            }
            HostRun::Stopped => (1, Err(ExecutorError::Stopped)),
            HostRun::Failed(err) => {
                events.output(format!("{err}\n"));
                (1, Err(ExecutorError::Compose(err)))
            }
        };
        events.cmd_finished(PULL_STEP, code, started_at);
        result
    }

    /// "Starting the docker image...": the session in the main container.
    fn start_session(
        &mut self,
        file: &Path,
        dir: &Path,
        events: &mut Emitter<'_>,
    ) -> Result<(), ExecutorError> {
        let started_at = unix_now();
        events.cmd_started(START_STEP);
        events.output("Starting a new bash session.\n".to_owned());
        let mut args = self.compose_args(file);
        let mut mount = dir.as_os_str().to_owned();
        mount.push(":");
        mount.push(dir.as_os_str());
        mount.push(":ro");
        args.extend([
            "run".into(),
            "--rm".into(),
            "--name".into(),
            format!("{}-main", self.project).into(),
            "-v".into(),
            "/var/run/docker.sock:/var/run/docker.sock".into(),
            "-v".into(),
            mount,
            self.main_name().into(),
            "bash".into(),
        ]);
        let mut config = self.config.clone();
        config.tmp_dir = dir.to_owned();
        let mut shell =
            ShellExecutor::with_program(config, self.docker.clone(), args, self.stop.clone());
        let mut no_events = crate::events::FakeSink::default();
        let result = shell.start(&mut no_events);
        self.shell = Some(shell);
        let code = match &result {
            Ok(()) => 0,
            Err(err) => {
                events.output("Failed to start the docker image\n".to_owned());
                events.output(format!("{err}\n"));
                1
            }
        };
        events.cmd_finished(START_STEP, code, started_at);
        result
    }

    /// Ends the containers: `docker rm -f <project>-main`, `docker compose ... down
    /// --remove-orphans`. Failures go to the agent's log.
    fn end_containers(&mut self, file: &Path) {
        let rm = [
            OsString::from("rm"),
            OsString::from("-f"),
            format!("{}-main", self.project).into(),
        ];
        let mut down = self.compose_args(file);
        down.extend(["down".into(), "--remove-orphans".into()]);
        for args in [rm.to_vec(), down] {
            match self.run_host(&self.docker, &args, &[], &[], false, TEARDOWN_LIMIT) {
                HostRun::Exited(0, _) => {}
                HostRun::Exited(code, out) => {
                    tracing::warn!(code, output = %String::from_utf8_lossy(&out), "a docker cleanup command failed");
                }
                HostRun::Stopped => {}
                HostRun::Failed(err) => {
                    tracing::warn!(error = %err, "a docker cleanup command failed");
                }
            }
        }
    }
}

/// The output of a host command as `cmd_output` events of at most 100 bytes each, `\r\n`
/// turned into `\n`, invalid UTF-8 replaced byte by byte.
fn emit_output(events: &mut Emitter<'_>, bytes: &[u8]) {
    let mut chunker = super::output::OutputChunker::new();
    chunker.push(bytes, Instant::now(), &mut |text| events.output(text));
    chunker.drain(&mut |text| events.output(text));
}

/// Writes a new file readable by the agent's user only.
fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content)
}

/// A bash word for an injected file's destination inside the container: absolute paths as
/// they are, `~/x` and relative paths under the container user's home (the `~` unquoted).
pub fn destination_word(path: &str) -> String {
    let quote = |s: &str| String::from_utf8_lossy(&shell_quote(s.as_bytes())).into_owned();
    if path.starts_with('/') {
        quote(path)
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("~/{}", quote(rest))
    } else if path == "~" {
        "~".to_owned()
    } else {
        format!("~/{}", quote(path))
    }
}

impl Executor for ComposeExecutor {
    fn start(&mut self, sink: &mut dyn EventSink) -> Result<(), ExecutorError> {
        let file = self.prepare()?;
        let dir = self.job_dir.clone().ok_or(ExecutorError::EndedDuringInit)?;
        let mut events = Emitter::new(sink);
        self.log_in(&mut events)?;
        self.pull(&file, &mut events)?;
        self.start_session(&file, &dir, &mut events)
    }

    fn export_env_vars(&mut self, vars: &[EnvVar], sink: &mut dyn EventSink) -> i32 {
        match self.shell.as_mut() {
            Some(shell) => shell.export_env_vars(vars, sink),
            None => 1,
        }
    }

    fn inject_files(&mut self, files: &[JobFile], sink: &mut dyn EventSink) -> i32 {
        let mut events = Emitter::new(sink);
        let name = "Injecting Files";
        let started_at = unix_now();
        events.cmd_started(name);
        let mut code = 0;
        for (i, file) in files.iter().enumerate() {
            events.output(format!(
                "Injecting {} with file mode {}\n",
                file.path, file.mode
            ));
            let Ok(content) = file.content.decode() else {
                // As the shell executor and the Go agent: no cmd_finished in this case.
                events.output("Failed to decode the content of the file.\n".to_owned());
                return 1;
            };
            let (Some(dir), Some(shell)) = (self.job_dir.clone(), self.shell.as_mut()) else {
                code = 1;
                break;
            };
            let staged = dir.join(format!("file-{i}"));
            if let Err(err) = write_private(&staged, &content) {
                events.output(format!("{err}\n"));
                code = 255;
                break;
            }
            let src = String::from_utf8_lossy(&shell_quote(staged.as_os_str().as_encoded_bytes()))
                .into_owned();
            let dest = destination_word(&file.path);
            let steps = [
                (
                    format!("mkdir -p \"$(dirname {dest})\""),
                    format!("Failed to create destination path {}\n", file.path),
                ),
                (
                    format!("cp {src} {dest}"),
                    format!(
                        "Failed to move to destination path {} {}\n",
                        staged.display(),
                        file.path
                    ),
                ),
                (
                    format!(
                        "chmod {} {dest}",
                        String::from_utf8_lossy(&shell_quote(file.mode.as_bytes()))
                    ),
                    format!("Failed to set file mode to {}\n", file.mode),
                ),
            ];
            for (directive, failure) in steps {
                let (exit, _) = shell.run_silent(&directive);
                if exit != 0 {
                    events.output(failure);
                    code = 1;
                    break;
                }
            }
            let _ = fs::remove_file(&staged);
            if code != 0 {
                break;
            }
        }
        events.cmd_finished(name, code, started_at);
        code
    }

    fn run_command(&mut self, command: &VisibleCommand, sink: &mut dyn EventSink) -> i32 {
        match self.shell.as_mut() {
            Some(shell) => shell.run_command(command, sink),
            None => {
                let mut events = Emitter::new(sink);
                let started_at = unix_now();
                events.cmd_started(&command.name);
                events.cmd_finished(&command.name, 1, started_at);
                1
            }
        }
    }

    fn run_silent(&mut self, directive: &str) -> (i32, String) {
        match self.shell.as_mut() {
            Some(shell) => shell.run_silent(directive),
            None => (1, String::new()),
        }
    }

    fn teardown(&mut self) {
        if let Some(mut shell) = self.shell.take() {
            shell.teardown();
        }
        if let Some(file) = self.compose_file.take() {
            self.end_containers(&file);
        }
        if let Some(dir) = self.job_dir.take()
            && let Err(err) = fs::remove_dir_all(&dir)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %err, path = %dir.display(), "failed to delete the job's directory");
        }
    }
}

impl Drop for ComposeExecutor {
    fn drop(&mut self) {
        self.teardown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert_eq!(destination_word("/a b/c"), "'/a b/c'");
        assert_eq!(destination_word("~/.ssh/id"), "~/.ssh/id");
        assert_eq!(destination_word("x y"), "~/'x y'");
        assert_eq!(destination_word("~"), "~");
    }
}
