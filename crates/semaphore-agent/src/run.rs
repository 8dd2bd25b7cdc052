//! `semaphore-agent run FILE`: one job request (the `GET /jobs/{id}` body, spec 6) read from
//! a file and run here with the executor it asks for (shell or docker compose), its events as JSON lines on stdout.
//!
//! No hub and no loghub: the events go to stdout and nowhere else, SIGINT/SIGTERM stop the
//! job (result `stopped`), and the agent's settings are the defaults (no `env-vars`, no
//! hooks). The exit code is decided by `main` from [`RunError`] and the job's result.

use std::io::Write;
use std::path::{Path, PathBuf};

use agent_protocol::{JobRequest, JobResult};

use crate::events::JsonLinesSink;
use crate::executor::compose::ComposeSettings;
use crate::executor::shell::{NoHome, ShellConfig};
use crate::executor::{StopSignal, for_request};
use crate::job::{JobRejected, JobSettings, check_job, run_job};

/// Why `run` could not run the job.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file could not be read.
    #[error("cannot read job request file {path}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a job request (neither its JSON nor its YAML reading).
    #[error("job request file {path} is not a valid job request")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The request cannot run here (the Go agent fails such a job without events).
    #[error("job request file {path}: {source}")]
    Rejected {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: JobRejected,
    },
    /// No home directory for the job.
    #[error(transparent)]
    NoHome(#[from] NoHome),
}

impl RunError {
    /// Whether the fault is in how the command was called (exit 2) rather than in the job
    /// (exit 1).
    pub fn is_usage_error(&self) -> bool {
        matches!(self, RunError::Unreadable { .. } | RunError::Invalid { .. })
    }
}

/// Reads a job request from `path`: the hub's JSON, or the same document written as YAML (as
/// the Go agent's `run` reads it).
pub fn read_request(path: &Path) -> Result<JobRequest, RunError> {
    let text = std::fs::read_to_string(path).map_err(|source| RunError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |source: Box<dyn std::error::Error + Send + Sync>| RunError::Invalid {
        path: path.to_owned(),
        source,
    };
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(&text).map_err(|e| invalid(Box::new(e)));
    }
    serde_norway::from_str(&text).map_err(|e| invalid(Box::new(e)))
}

/// Runs the job in `path`, events to `out`, stopping it when `stop` is raised.
pub fn run_file(
    path: &Path,
    config: ShellConfig,
    out: impl Write,
    stop: &StopSignal,
) -> Result<JobResult, RunError> {
    let request = read_request(path)?;
    check_job(&request).map_err(|source| RunError::Rejected {
        path: path.to_owned(),
        source,
    })?;
    let mut executor = for_request(&request, config, &ComposeSettings::default(), stop.clone());
    let mut sink = JsonLinesSink::new(out);
    Ok(run_job(
        &request,
        &JobSettings::default(),
        executor.as_mut(),
        &mut sink,
        stop,
    ))
}

/// Raises `stop` on SIGINT or SIGTERM (from a thread of its own).
pub fn stop_on_signals(stop: StopSignal) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                tracing::info!(signal, "signal received; stopping the job");
                stop.stop();
            }
        })?;
    Ok(())
}
