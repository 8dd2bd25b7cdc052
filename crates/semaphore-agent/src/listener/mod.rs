//! Listener mode (`semaphore-agent start`, spec sections 1 to 5 and 7.4): configuration,
//! registration, the sync loop around `agent_core::Listener`, fetching jobs and handing them
//! to a [`JobRunner`], pushing their logs, and the shutdown sequence.
//!
//! The protocol's rules live in `agent_core` (pure); this module owns the I/O behind small
//! seams so that tests replace each one: the hub and loghub ([`hub::Hub`], [`hub::Loghub`]),
//! the job executor ([`JobRunner`], implemented by the shell executor elsewhere in this
//! crate), the signals ([`signals::Signals`]) and the clock ([`Clock`], tokio's, which tests
//! pause). Running a job's commands is not here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use agent_protocol::{JobRequest, JobResult, LogEvent};

pub mod config_file;
pub mod driver;
mod error;
pub mod hub;
pub mod logs;
pub mod shutdown;
pub mod signals;
pub mod start;
pub mod upload;

pub use crate::listener::driver::{Agent, AgentSettings, Outcome};
pub use crate::listener::error::ListenerError;

/// The agent's version, sent at registration and in `User-Agent: SemaphoreAgent/<version>`.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A boxed, sendable future, as [`JobRunner::run`] returns it.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Runs jobs. The shell executor implements it; tests use a fake.
///
/// The listener fetches the job, asks [`JobRunner::check`] whether it can run, sets up the
/// job's log, reports the job running, calls [`JobRunner::run`], flushes the log, and only
/// then reports the result to the hub (spec 3.6: all logs are flushed before `finished-job`).
pub trait JobRunner: Send + Sync + 'static {
    /// Whether this runner can run `job` at all (its `executor`, for instance). An `Err`
    /// reports the job `failed` with no log events (spec 6); the text is logged.
    fn check(&self, job: &JobRequest) -> Result<(), String>;

    /// Runs `job` to the end and returns its result: every event, from `job_started` to
    /// `job_finished`, goes to `log` in order. When `stop` is raised (perhaps before the call)
    /// the job must stop (its whole process group, TERM then KILL) and end `stopped`.
    ///
    /// A blocking executor runs inside `tokio::task::spawn_blocking` and polls
    /// [`JobStop::is_stopped`]; an async one awaits [`JobStop::stopped`].
    fn run(&self, job: JobRequest, log: Box<dyn LogSink>, stop: JobStop) -> BoxFuture<JobResult>;
}

/// Receives a job's events, one at a time, as they happen. Implementations must not keep
/// them in memory (the push logger appends each to a spool file on disk).
pub trait LogSink: Send {
    /// One event. A sink that cannot store it logs the error; the job goes on.
    fn emit(&mut self, event: &LogEvent);
}

/// The "stop this job" flag shared by the listener and a running job. Raising it is
/// idempotent; it is never lowered.
#[derive(Debug, Clone, Default)]
pub struct JobStop(Arc<JobStopInner>);

#[derive(Debug, Default)]
struct JobStopInner {
    stopped: AtomicBool,
    notify: tokio::sync::Notify,
}

impl JobStop {
    /// A flag not raised yet.
    pub fn new() -> JobStop {
        JobStop::default()
    }

    /// Asks the job to stop; returns at once.
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Resolves once a stop is asked for (at once if it already was).
    pub async fn stopped(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// The wall clock as the listener sees it: the system time when the clock was made, moved on
/// by tokio's monotonic clock. With tokio's clock paused (tests), ten minutes pass in
/// milliseconds and every timestamp the agent takes moves with them.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: SystemTime,
    at: tokio::time::Instant,
}

impl Clock {
    /// A clock reading the system time now. Call it inside a tokio runtime.
    pub fn start() -> Clock {
        Clock {
            wall: SystemTime::now(),
            at: tokio::time::Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> SystemTime {
        self.wall + self.at.elapsed()
    }

    /// The current Unix time in whole seconds.
    pub fn unix_secs(&self) -> i64 {
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A runner for builds without an executor: it refuses every job, which the hub then sees
/// `failed` with no log events. `main` uses it until the shell executor is wired in.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExecutor;

impl JobRunner for NoExecutor {
    fn check(&self, _job: &JobRequest) -> Result<(), String> {
        Err("this build has no job executor".to_owned())
    }

    fn run(
        &self,
        _job: JobRequest,
        _log: Box<dyn LogSink>,
        _stop: JobStop,
    ) -> BoxFuture<JobResult> {
        Box::pin(async { JobResult::Failed })
    }
}

/// Calls `attempt` up to `policy.attempts` times, `policy.delay` apart, until it succeeds;
/// returns the last error. Each failure is logged with `what`.
pub(crate) async fn with_retries<T, E, F, Fut>(
    policy: agent_core::retry::Retry,
    what: &str,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if tries >= policy.attempts => return Err(err),
            Err(err) => {
                tracing::warn!(attempt = tries, of = policy.attempts, error = %err, "{what} failed; retrying");
                tokio::time::sleep(policy.delay).await;
            }
        }
    }
}

/// A uniformly random duration from `min` to `max` (whole milliseconds, both included).
pub(crate) fn random_between(min: Duration, max: Duration) -> Duration {
    let min_ms = u64::try_from(min.as_millis()).unwrap_or(u64::MAX);
    let max_ms = u64::try_from(max.as_millis())
        .unwrap_or(u64::MAX)
        .max(min_ms);
    Duration::from_millis(fastrand::u64(min_ms..=max_ms))
}
