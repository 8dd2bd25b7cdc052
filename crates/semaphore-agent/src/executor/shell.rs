//! The shell executor (spec 9): one `bash --login` per job on a PTY, commands run by
//! `source`-ing a file between two marks, the env file, file injection, and ending the
//! job's whole session.
//!
//! PTY crate: `pty-process` (blocking API). It is small (its only dependency is `rustix`,
//! which the workspace already builds), maintained, and its `Command::spawn` makes the child
//! a session leader with the PTY as its controlling terminal: the `setsid` + `TIOCSCTTY` in a
//! `pre_exec` hook is the one piece of `unsafe` a PTY needs, and it stays inside that crate
//! (the workspace forbids `unsafe_code`). `portable-pty` does the same with a much larger
//! dependency tree (it is built for terminal emulators, Windows ConPTY included); `nix`
//! offers `openpty` but spawning onto it still needs an unsafe `pre_exec`.
//!
//! Threads, not async: one thread per job reads the PTY (4 KiB reads) into a bounded channel
//! of 16 reads, and the job's thread parses and emits. When the sink is slow the channel
//! fills, the reader blocks, the PTY's buffer fills and the job's processes block on write,
//! so memory stays bounded whatever the job prints.

use std::cell::RefCell;
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use agent_protocol::{EnvVar, JobFile};

use super::env::{BaseEnv, decode_and_sort, env_file_path, export_line, shell_quote};
use super::files::{InjectOutcome, inject};
use super::output::{OutputChunker, chunk_text};
use super::stream::{CommandStream, Marks};
use super::{Executor, ExecutorError, StopSignal, VisibleCommand, session};
use crate::events::{EventSink, unix_now};

/// The marker echoed at the end of the session's init (spec 9.1).
pub const INIT_MARKER: &str = "87d140552e404df69f6472729d2b2c3";
/// How often a waiting executor looks at the stop signal.
const POLL: Duration = Duration::from_millis(20);
/// PTY reads in flight between the reader thread and the job's thread.
const READ_QUEUE: usize = 16;
/// Size of one PTY read.
const READ_BYTES: usize = 4096;
/// How much output of an internal (silent) command is kept.
const SILENT_OUTPUT_LIMIT: usize = 4096;

/// Where and how the job's shell runs.
#[derive(Debug, Clone)]
pub struct ShellConfig {
    /// The shell, `bash` (looked up in the agent's `PATH`).
    pub shell: PathBuf,
    /// The job's `$HOME` and working directory: the agent user's home (spec 9.1).
    pub home: PathBuf,
    /// Where the command file, the env files and `restore-tty` go: `$TMPDIR` or `/tmp`.
    pub tmp_dir: PathBuf,
    /// The shell's process environment.
    pub base_env: BaseEnv,
    /// Between SIGTERM and SIGKILL when the job's processes are ended.
    pub stop_grace: Duration,
    /// How long the shell may take to print the init marker (its login files run first).
    pub start_timeout: Duration,
}

/// The agent user's home could not be found.
#[derive(Debug, thiserror::Error)]
#[error("cannot find the home directory of the agent's user (HOME is not set)")]
pub struct NoHome;

impl ShellConfig {
    /// The default grace period between SIGTERM and SIGKILL.
    pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);
    /// The default init timeout.
    pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(120);

    /// The configuration for this machine: `$HOME` (or the user database), `$TMPDIR` or
    /// `/tmp`, and the clean environment built from the agent's.
    pub fn from_host() -> Result<ShellConfig, NoHome> {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                nix::unistd::User::from_uid(nix::unistd::getuid())
                    .ok()
                    .flatten()
                    .map(|u| u.dir)
            })
            .ok_or(NoHome)?;
        Ok(ShellConfig::new(
            home,
            std::env::temp_dir(),
            std::env::vars_os(),
        ))
    }

    /// A configuration with the given home and temp directory; the environment is the
    /// allow-listed part of `host_env`.
    pub fn new(
        home: PathBuf,
        tmp_dir: PathBuf,
        host_env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> ShellConfig {
        let base_env = BaseEnv::from_host(host_env, &home);
        ShellConfig {
            shell: PathBuf::from("bash"),
            home,
            tmp_dir,
            base_env,
            stop_grace: Self::DEFAULT_STOP_GRACE,
            start_timeout: Self::DEFAULT_START_TIMEOUT,
        }
    }
}

/// The running shell.
struct Session {
    child: Child,
    /// The session id: the shell's pid (it is the session leader).
    sid: i32,
    pty: Arc<pty_process::blocking::Pty>,
    reads: Receiver<Vec<u8>>,
    /// False once the PTY stopped giving data or the session was ended.
    alive: bool,
    /// True once the session was ended and the shell reaped: its pid may belong to another
    /// process from then on, so it is never signalled again.
    reaped: bool,
}

/// Runs a job in a PTY bash session: `bash --login` on this machine, or whatever program
/// [`ShellExecutor::with_program`] names (the compose executor's `docker compose run ... bash`).
pub struct ShellExecutor {
    config: ShellConfig,
    /// The program spawned on the PTY and its arguments.
    program: PathBuf,
    args: Vec<OsString>,
    stop: StopSignal,
    session: Option<Session>,
    env_files: Vec<PathBuf>,
}

impl std::fmt::Debug for ShellExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShellExecutor")
            .field("config", &self.config)
            .field("shell_pid", &self.shell_pid())
            .finish_non_exhaustive()
    }
}

/// How waiting for the PTY ended.
enum Wait {
    /// The caller's condition was met.
    Done,
    /// The PTY closed (the shell exited or was killed).
    Closed,
    /// A stop was requested.
    Stopped,
    /// The time limit passed.
    TimedOut,
}

impl ShellExecutor {
    /// An executor that has not started its shell yet.
    pub fn new(config: ShellConfig, stop: StopSignal) -> ShellExecutor {
        let program = config.shell.clone();
        ShellExecutor::with_program(config, program, vec![OsString::from("--login")], stop)
    }

    /// An executor whose session is `program args...` on the PTY instead of `bash --login`:
    /// the program must end up in an interactive bash reading the PTY (the session's init,
    /// the marks and the env files work as for the local shell; `config.tmp_dir` must be the
    /// same path for the agent and for that bash).
    pub fn with_program(
        config: ShellConfig,
        program: PathBuf,
        args: Vec<OsString>,
        stop: StopSignal,
    ) -> ShellExecutor {
        ShellExecutor {
            config,
            program,
            args,
            stop,
            session: None,
            env_files: Vec::new(),
        }
    }

    /// The shell's pid (also its session and process group id), once started.
    pub fn shell_pid(&self) -> Option<i32> {
        self.session.as_ref().map(|s| s.sid)
    }

    /// The env files written so far (`<tmp>/.env-<nanos>`, spec 9.4).
    pub fn env_files(&self) -> &[PathBuf] {
        &self.env_files
    }

    /// `<tmp>/current-agent-cmd-<shell pid>`. The Go agent uses `current-agent-cmd` for
    /// every job, so two agents on one machine overwrite each other's commands; the shell's
    /// pid keeps concurrent jobs apart. Deleted at teardown.
    fn cmd_file(&self) -> PathBuf {
        let pid = self.shell_pid().unwrap_or(0);
        self.config.tmp_dir.join(format!("current-agent-cmd-{pid}"))
    }

    fn write_pty(&mut self, text: &str) -> bool {
        let Some(session) = self.session.as_mut().filter(|s| s.alive) else {
            return false;
        };
        let mut pty: &pty_process::blocking::Pty = &session.pty;
        match pty.write_all(text.as_bytes()).and_then(|()| pty.flush()) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(error = %err, "failed to write to the job's PTY");
                session.alive = false;
                false
            }
        }
    }

    /// Hands PTY data to `on_data` until it returns true, the PTY closes, a stop arrives or
    /// `limit` passes. `on_tick` runs at least every [`POLL`] (for the output flusher).
    fn wait(
        &mut self,
        limit: Duration,
        on_data: &mut dyn FnMut(&[u8]) -> bool,
        on_tick: &mut dyn FnMut(Instant),
    ) -> Wait {
        let deadline = Instant::now() + limit;
        let Some(session) = self.session.as_mut().filter(|s| s.alive) else {
            return Wait::Closed;
        };
        loop {
            if self.stop.is_stopped() {
                return Wait::Stopped;
            }
            let now = Instant::now();
            if now >= deadline {
                return Wait::TimedOut;
            }
            match session.reads.recv_timeout(POLL.min(deadline - now)) {
                Ok(data) => {
                    if on_data(&data) {
                        return Wait::Done;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    session.alive = false;
                    return Wait::Closed;
                }
            }
            on_tick(Instant::now());
        }
    }

    /// Ends the whole session (TERM, grace, KILL) and reaps the shell.
    fn end_session(&mut self) {
        let grace = self.config.stop_grace;
        if let Some(session) = self.session.as_mut().filter(|s| !s.reaped) {
            // The shell is not reaped yet (a zombie at worst), so `sid` is still ours.
            session::terminate(session.sid, grace);
            session.alive = false;
            if let Err(err) = session.child.wait() {
                tracing::warn!(error = %err, "failed to reap the job's shell");
            }
            session.reaped = true;
        }
    }

    /// Runs `directive` in the session; command output goes to `output` (raw bytes, or
    /// through the chunker when `chunker` is given). Returns the exit code: 1 when the
    /// session died or a stop arrived.
    fn run_in_session(
        &mut self,
        directive: &str,
        output: &mut dyn FnMut(&[u8], Instant),
        tick: &mut dyn FnMut(Instant),
    ) -> i32 {
        if self.session.as_ref().is_none_or(|s| !s.alive) {
            return 1;
        }
        // Step 1: the command text, verbatim, in a file (multi-line commands and quoting).
        let cmd_file = self.cmd_file();
        if let Err(err) = write_file(&cmd_file, directive.as_bytes(), 0o644) {
            tracing::error!(error = %err, path = %cmd_file.display(), "failed to write the command file");
            return 1;
        }
        let marks = Marks::new(unix_now());
        if !self.write_pty(&marks.instruction(&quoted(&cmd_file))) {
            return 1;
        }
        let mut stream = CommandStream::new(&marks);
        let mut code = None;
        let mut on_data = |data: &[u8]| {
            let now = Instant::now();
            code = stream.feed(data, &mut |bytes| output(bytes, now));
            code.is_some()
        };
        // No limit: the agent has no job timeout, the hub sends stop-job (spec 8).
        let forever = Duration::from_secs(60 * 60 * 24 * 365);
        match self.wait(forever, &mut on_data, tick) {
            Wait::Done => {}
            Wait::Stopped => {
                // Like the Go agent, which closes the PTY first: nothing the dying processes
                // print reaches the log (bash would add "Terminated").
                self.end_session();
                return 1;
            }
            Wait::Closed | Wait::TimedOut => return 1,
        }
        code.unwrap_or(1)
    }

    fn start_session(&mut self) -> Result<(), ExecutorError> {
        let spawn_error = |source: std::io::Error| ExecutorError::Spawn {
            program: self.program.display().to_string(),
            source,
        };
        let to_io = |e: pty_process::Error| match e {
            pty_process::Error::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        };
        let (pty, pts) = pty_process::blocking::open()
            .map_err(to_io)
            .map_err(spawn_error)?;
        pty.resize(pty_process::Size::new(24, 80))
            .map_err(to_io)
            .map_err(spawn_error)?;
        let child = pty_process::blocking::Command::new(&self.program)
            .args(&self.args)
            .env_clear()
            .envs(self.config.base_env.vars().iter().cloned())
            .current_dir(&self.config.home)
            .spawn(pts)
            .map_err(to_io)
            .map_err(spawn_error)?;
        let sid = i32::try_from(child.id()).expect("pids fit in i32");
        let pty = Arc::new(pty);
        let (tx, reads) = sync_channel::<Vec<u8>>(READ_QUEUE);
        let reader = Arc::clone(&pty);
        thread::Builder::new()
            .name(format!("pty-reader-{sid}"))
            .spawn(move || {
                let mut buf = vec![0u8; READ_BYTES];
                loop {
                    match (&*reader).read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if tx.send(buf[..n].to_vec()).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        // EIO once every slave fd is closed: the session is gone.
                        Err(_) => break,
                    }
                }
            })
            .map_err(spawn_error)?;
        self.session = Some(Session {
            child,
            sid,
            pty,
            reads,
            alive: true,
            reaped: false,
        });
        self.init_session()
    }

    /// Spec 9.1: quiet prompt, no echo, home directory, then wait for the marker.
    fn init_session(&mut self) -> Result<(), ExecutorError> {
        let restore = self.config.tmp_dir.join("restore-tty");
        let init = format!(
            "export PS1=''\nstty -echo\necho stty `stty -g` > {}\ncd ~\necho '{INIT_MARKER}'\n",
            quoted(&restore)
        );
        if !self.write_pty(&init) {
            return Err(ExecutorError::EndedDuringInit);
        }
        let mut line: Vec<u8> = Vec::new();
        let mut on_data = |data: &[u8]| {
            for &b in data {
                if b == b'\n' {
                    let text = String::from_utf8_lossy(&line);
                    if text.contains(INIT_MARKER) && !text.contains("echo") {
                        return true;
                    }
                    line.clear();
                } else if line.len() < 64 * 1024 {
                    line.push(b);
                }
            }
            false
        };
        match self.wait(self.config.start_timeout, &mut on_data, &mut |_| {}) {
            Wait::Done => Ok(()),
            Wait::Closed => Err(ExecutorError::EndedDuringInit),
            Wait::Stopped => Err(ExecutorError::Stopped),
            Wait::TimedOut => Err(ExecutorError::NotReady {
                seconds: self.config.start_timeout.as_secs(),
            }),
        }
    }

    /// Writes an env file and sources it silently. Returns the step's exit code; each name
    /// goes to `logged` as it is written.
    fn write_and_source_env(
        &mut self,
        vars: &[super::env::ExportVar],
        logged: &mut dyn FnMut(&str),
    ) -> i32 {
        let path = env_file_path(&self.config.tmp_dir);
        // 0600, not the Go agent's 0644: the file holds the job's secrets.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        let mut file = match file {
            Ok(f) => f,
            Err(err) => {
                tracing::error!(error = %err, path = %path.display(), "failed to create the env file");
                return 1;
            }
        };
        self.env_files.push(path.clone());
        for var in vars {
            if let Err(err) = file.write_all(&export_line(var)) {
                tracing::error!(error = %err, path = %path.display(), "failed to write the env file");
                return 1;
            }
            logged(&var.name);
        }
        drop(file);
        let (code, _) = self.run_silent(&format!("source {}", quoted(&path)));
        if code == 0 { 0 } else { 1 }
    }
}

impl Executor for ShellExecutor {
    fn start(&mut self, _sink: &mut dyn EventSink) -> Result<(), ExecutorError> {
        if let Err(err) = fs::create_dir_all(&self.config.tmp_dir) {
            return Err(ExecutorError::Io {
                path: self.config.tmp_dir.display().to_string(),
                source: err,
            });
        }
        let result = self.start_session();
        if result.is_err() {
            self.teardown();
        }
        result
    }

    fn export_env_vars(&mut self, vars: &[EnvVar], sink: &mut dyn EventSink) -> i32 {
        let mut events = crate::events::Emitter::new(sink);
        let name = "Exporting environment variables";
        let started_at = unix_now();
        events.cmd_started(name);
        let code = match decode_and_sort(vars) {
            Ok(vars) => {
                self.write_and_source_env(&vars, &mut |n| events.output(format!("Exporting {n}\n")))
            }
            Err(failure) => {
                // The Go agent logs nothing in the job for this (spec 7.2): the agent's log
                // names the variable, never its value (it may be a secret).
                tracing::error!(variable = %failure.name, error = %failure.error, "a job variable is not base64");
                1
            }
        };
        events.cmd_finished(name, code, started_at);
        code
    }

    fn inject_files(&mut self, files: &[JobFile], sink: &mut dyn EventSink) -> i32 {
        let mut events = crate::events::Emitter::new(sink);
        let name = "Injecting Files";
        let started_at = unix_now();
        events.cmd_started(name);
        let outcome = inject(files, &self.config.home, &mut |line| events.output(line));
        if outcome != InjectOutcome::DecodeFailed {
            events.cmd_finished(name, outcome.exit_code(), started_at);
        }
        outcome.exit_code()
    }

    fn run_command(&mut self, command: &VisibleCommand, sink: &mut dyn EventSink) -> i32 {
        let events = RefCell::new(crate::events::Emitter::new(sink));
        let started_at = unix_now();
        events.borrow_mut().cmd_started(&command.name);
        for line in &command.preamble {
            events.borrow_mut().output(line.clone());
        }
        let chunker = RefCell::new(OutputChunker::new());
        let code = self.run_in_session(
            &command.directive,
            &mut |bytes, now| {
                chunker
                    .borrow_mut()
                    .push(bytes, now, &mut |text| events.borrow_mut().output(text));
            },
            &mut |now| {
                chunker
                    .borrow_mut()
                    .tick(now, &mut |text| events.borrow_mut().output(text));
            },
        );
        chunker
            .borrow_mut()
            .drain(&mut |text| events.borrow_mut().output(text));
        events
            .borrow_mut()
            .cmd_finished(&command.name, code, started_at);
        code
    }

    fn run_silent(&mut self, directive: &str) -> (i32, String) {
        let mut captured = Vec::new();
        let code = self.run_in_session(
            directive,
            &mut |bytes, _| {
                let room = SILENT_OUTPUT_LIMIT.saturating_sub(captured.len());
                captured.extend_from_slice(&bytes[..bytes.len().min(room)]);
            },
            &mut |_| {},
        );
        (code, chunk_text(&captured))
    }

    fn teardown(&mut self) {
        if self.session.is_some() {
            let cmd_file = self.cmd_file();
            self.end_session();
            self.session = None;
            self.env_files.push(cmd_file);
        }
        // The env files hold the job's secrets; the command file goes too.
        for path in self.env_files.drain(..) {
            if let Err(err) = fs::remove_file(&path)
                && err.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(error = %err, path = %path.display(), "failed to delete an env file");
            }
        }
    }
}

impl Drop for ShellExecutor {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// A path as one bash word.
fn quoted(path: &Path) -> String {
    String::from_utf8_lossy(&shell_quote(path.as_os_str().as_encoded_bytes())).into_owned()
}

/// Writes `content` to `path` with `mode` (for a new file), truncating it.
fn write_file(path: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    file.write_all(content)
}
