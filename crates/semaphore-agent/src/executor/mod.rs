//! Executors: what runs a job's steps somewhere (a PTY bash session on this machine, or one
//! inside the main container of a docker compose project), behind the [`Executor`] trait that `job` drives through the lifecycle of spec 8.
//!
//! An executor emits the events of the steps it runs (`cmd_started`, `cmd_output`,
//! `cmd_finished`); the job emits `job_started`, `job_finished` and the "Checking job result"
//! step, and decides the result. A stop request reaches a running executor through a shared
//! [`StopSignal`], which it checks while it waits on the job's processes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use agent_protocol::{EnvVar, JobFile};

use crate::events::EventSink;

pub mod env;
pub mod output;
pub mod stream;

#[cfg(unix)]
pub mod compose;
pub mod compose_file;
#[cfg(unix)]
pub mod files;
pub mod login;
#[cfg(unix)]
pub mod session;
#[cfg(unix)]
pub mod shell;

/// A request to stop the job, shared between whoever decides (the hub's `stop-job`, a
/// signal) and the executor. Cloning shares the same flag.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// A signal not raised yet.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Asks the job to stop. Idempotent; returns at once.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One visible command: what `cmd_started`/`cmd_finished` show, what runs, and lines shown
/// before its output (`Running: <directive>` for an alias, the hooks' notes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleCommand {
    /// The name in `cmd_started`/`cmd_finished`.
    pub name: String,
    /// The bash source run in the session.
    pub directive: String,
    /// `cmd_output` texts emitted before the command's own output, in order.
    pub preamble: Vec<String>,
}

impl VisibleCommand {
    /// A job command (spec 7.2): shown by its alias with a `Running: <directive>` line, or
    /// by its directive.
    pub fn from_request(command: &agent_protocol::Command) -> VisibleCommand {
        let name = command.shown_name().to_owned();
        let preamble = if name == command.directive {
            Vec::new()
        } else {
            vec![format!("Running: {}\n", command.directive)]
        };
        VisibleCommand {
            name,
            directive: command.directive.clone(),
            preamble,
        }
    }
}

/// Why an executor could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The PTY or the shell process could not be created.
    #[error("failed to start {program}")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The shell started but never printed the init marker.
    #[error("the shell did not become ready within {seconds} s")]
    NotReady {
        /// How long it was given.
        seconds: u64,
    },
    /// The shell exited, or the PTY failed, during init.
    #[error("the shell ended during init")]
    EndedDuringInit,
    /// A step of the compose executor's start failed (the message is the agent's log line;
    /// it never holds a secret).
    #[error("{0}")]
    Compose(String),
    /// A stop arrived during init.
    #[error("the job was stopped while the shell started")]
    Stopped,
    /// A file the executor needs could not be written.
    #[error("failed to write {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The executor the request asks for: the docker-compose executor for `dockercompose`, the
/// shell executor otherwise (call [`crate::job::check_job`] first).
#[cfg(unix)]
pub fn for_request(
    request: &agent_protocol::JobRequest,
    shell: shell::ShellConfig,
    compose: &compose::ComposeSettings,
    stop: StopSignal,
) -> Box<dyn Executor> {
    match request.executor {
        agent_protocol::ExecutorKind::DockerCompose => Box::new(compose::ComposeExecutor::new(
            shell,
            compose.clone(),
            request.compose.clone().unwrap_or_default(),
            stop,
        )),
        _ => Box::new(shell::ShellExecutor::new(shell, stop)),
    }
}

/// Runs a job's steps. Every method but [`start`](Executor::start) and
/// [`teardown`](Executor::teardown) emits the step's events to the sink it is given.
pub trait Executor {
    /// Prepares and starts the job's environment (spec 8 step 2). On error the job fails
    /// without running anything. The shell executor emits nothing here; the compose executor
    /// emits its pull and start steps (spec 7.2).
    fn start(&mut self, sink: &mut dyn EventSink) -> Result<(), ExecutorError>;

    /// "Exporting environment variables" (spec 9.3): `vars` are the job's variables then the
    /// agent's (the later wins). Returns the step's exit code.
    fn export_env_vars(&mut self, vars: &[EnvVar], sink: &mut dyn EventSink) -> i32;

    /// "Injecting Files" (spec 9.5). Returns the step's exit code.
    fn inject_files(&mut self, files: &[JobFile], sink: &mut dyn EventSink) -> i32;

    /// Runs one visible command; returns its exit code (1 when the shell died or the job was
    /// stopped while it ran).
    fn run_command(&mut self, command: &VisibleCommand, sink: &mut dyn EventSink) -> i32;

    /// Runs an internal command without events; returns its exit code and what it printed
    /// (at most a few KiB, `\r\n` turned into `\n`).
    fn run_silent(&mut self, directive: &str) -> (i32, String);

    /// Ends everything the job started (the whole process group/session, TERM then KILL)
    /// and deletes the job's temporary files. Idempotent.
    fn teardown(&mut self);
}
