//! The listener's main loop: registers (30 tries, 1 s apart), then runs
//! `agent_core::Listener` against the real world. It waits for the next sync, a job event or
//! a signal, whichever comes first, feeds what happened to the state machine, and carries
//! out the effects it returns: start a job in the background, stop it, or shut down.
//!
//! A job runs as one background task: fetch it (10 tries, 3 s apart), check it, set up its
//! log, run it through the [`JobRunner`], flush the log, upload it as an artifact when
//! `upload-job-logs` says so, then report the result (which forces a sync). Every wait uses tokio's clock and every timestamp the [`Clock`], so tests
//! pause time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_core::retry::{GET_JOB, REGISTER};
use agent_core::{Effect, Event, Listener, Step};
use agent_protocol::{
    AgentConfig, Base64, JobRequest, Logger, LoggerMethod, RegisterRequest, ShutdownHookReason,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::listener::hub::{Hub, Loghub};
use crate::listener::logs::{LocalLog, PushLogger, PushTarget};
use crate::listener::signals::Signals;
use crate::listener::upload::{UploadSettings, upload_job_log};
use crate::listener::{
    AGENT_VERSION, Clock, JobRunner, JobStop, ListenerError, LogSink, shutdown, with_retries,
};

/// How long a shutdown waits for a job it stopped to end before it disconnects.
pub const STOPPED_JOB_WAIT: Duration = Duration::from_secs(30);

/// What the listener needs besides its seams.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// The registration body.
    pub registration: RegisterRequest,
    /// `shutdown-hook-path`, if set.
    pub shutdown_hook_path: Option<PathBuf>,
    /// Where job log spool files go (`$TMPDIR`).
    pub spool_dir: PathBuf,
    /// Whether and how job logs are uploaded as artifacts (`upload-job-logs`).
    pub upload: UploadSettings,
}

impl AgentSettings {
    /// The settings for `config` on this machine: the registration describes this host and
    /// process, and the name is the configured one, or the one in `name-from-env`, or random.
    pub fn from_config(config: &AgentConfig) -> AgentSettings {
        let name = if !config.name.is_empty() {
            config.name.clone()
        } else if let Some(name) = (!config.name_from_env.is_empty())
            .then(|| std::env::var(&config.name_from_env).ok())
            .flatten()
            .filter(|n| !n.is_empty())
        {
            name
        } else {
            random_name()
        };
        let registration = RegisterRequest {
            name,
            version: AGENT_VERSION.to_owned(),
            pid: std::process::id(),
            os: host::os_name(),
            arch: host::arch().to_owned(),
            hostname: host::hostname(),
            single_job: config.disconnect_after_job,
            idle_timeout_secs: config.disconnect_after_idle_timeout_secs,
            interruption_grace_period_secs: config.interruption_grace_period_secs,
            job_id: (!config.job_id.is_empty()).then(|| config.job_id.clone()),
        };
        AgentSettings {
            registration,
            shutdown_hook_path: (!config.shutdown_hook_path.is_empty())
                .then(|| PathBuf::from(&config.shutdown_hook_path)),
            spool_dir: std::env::temp_dir(),
            upload: UploadSettings::from_host(config.upload_job_logs),
        }
    }
}

/// The agent's name as it may appear in a log line: a pre-signed STS URL carries a signature
/// and a session token, so it is not logged.
pub fn loggable_name(name: &str) -> &str {
    if name.starts_with("https://") || name.starts_with("http://") {
        "<pre-signed URL>"
    } else {
        name
    }
}

/// 15 random bytes, base64url: 20 characters.
fn random_name() -> String {
    let mut bytes = [0u8; 15];
    fastrand::fill(&mut bytes);
    Base64::encode(&bytes)
        .as_encoded()
        .replace('+', "-")
        .replace('/', "_")
}

/// How the agent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Why (what the shutdown hook saw).
    pub reason: ShutdownHookReason,
    /// Whether the hub accepted the disconnect.
    pub disconnected: bool,
}

impl Outcome {
    /// The process's exit code: 1 for `UNABLE_TO_SYNC`, 0 otherwise.
    pub fn exit_code(&self) -> u8 {
        self.reason.exit_code()
    }
}

/// The listener with its seams.
#[derive(Debug)]
pub struct Agent<H, R, S> {
    settings: AgentSettings,
    hub: Arc<H>,
    runner: Arc<R>,
    signals: S,
    clock: Clock,
}

struct CurrentJob {
    id: String,
    stop: JobStop,
    task: JoinHandle<()>,
}

impl<H: Hub + Loghub, R: JobRunner, S: Signals> Agent<H, R, S> {
    /// An agent that will talk to `hub`, run jobs with `runner` and listen to `signals`.
    pub fn new(
        settings: AgentSettings,
        hub: Arc<H>,
        runner: Arc<R>,
        signals: S,
        clock: Clock,
    ) -> Agent<H, R, S> {
        Agent {
            settings,
            hub,
            runner,
            signals,
            clock,
        }
    }

    /// Registers, syncs until the hub or the ten-minute rule ends it, disconnects and runs
    /// the shutdown hook. `Err` only when registration failed after all its tries.
    pub async fn run(mut self) -> Result<Outcome, ListenerError> {
        let registered = with_retries(REGISTER, "register", || {
            self.hub.register(&self.settings.registration)
        })
        .await
        .map_err(ListenerError::Register)?;
        tracing::info!(
            name = loggable_name(&registered.name),
            "registered with the hub"
        );

        let mut listener = Listener::new(self.clock.now());
        let (events_tx, mut events_rx) = mpsc::unbounded_channel::<Event>();
        let mut current: Option<CurrentJob> = None;
        let mut next_sync = Instant::now();
        let mut signals_open = true;

        let reason = loop {
            let step = tokio::select! {
                Some(event) = events_rx.recv() => listener.handle(event, self.clock.now()),
                got = self.signals.next(), if signals_open => match got {
                    Some(()) => listener.handle(Event::Interrupted, self.clock.now()),
                    None => {
                        signals_open = false;
                        Step::default()
                    }
                },
                () = tokio::time::sleep_until(next_sync) => {
                    let request = listener.sync_request();
                    let event = match self.hub.sync(&request).await {
                        Ok(response) => {
                            tracing::debug!(state = request.state.as_str(), action = response.action.as_str(), "synced");
                            Event::SyncSucceeded(response)
                        }
                        Err(err) => {
                            tracing::error!(error = %err, "[SYNC ERR] Failed to sync with API");
                            Event::SyncFailed
                        }
                    };
                    // A sync with no next time (say, a step ignored) must not spin.
                    next_sync = Instant::now() + agent_core::retry::RANDOM_SYNC_INTERVAL.0;
                    listener.handle(event, self.clock.now())
                }
            };
            if let Some(next) = step.next_sync {
                next_sync = Instant::now() + next.wait(fastrand::u64(..));
            }
            let mut shutdown = None;
            for effect in step.effects {
                match effect {
                    Effect::StartJob { job_id } => {
                        let stop = JobStop::new();
                        let task = tokio::spawn(job_task(
                            job_id.clone(),
                            self.hub.clone(),
                            self.runner.clone(),
                            stop.clone(),
                            JobPlaces {
                                spool_dir: self.settings.spool_dir.clone(),
                                upload: self.settings.upload.clone(),
                            },
                            events_tx.clone(),
                        ));
                        current = Some(CurrentJob {
                            id: job_id,
                            stop,
                            task,
                        });
                    }
                    Effect::StopJob { job_id } => {
                        if let Some(job) = current.as_ref().filter(|job| job.id == job_id) {
                            tracing::info!(job_id = %job_id, "stopping the job");
                            job.stop.stop();
                        }
                    }
                    Effect::Shutdown { reason } => shutdown = Some(reason),
                }
            }
            if let Some(reason) = shutdown {
                break reason;
            }
        };

        if let Some(job) = current.take()
            && job.stop.is_stopped()
            && !job.task.is_finished()
            && tokio::time::timeout(STOPPED_JOB_WAIT, job.task)
                .await
                .is_err()
        {
            tracing::warn!(job_id = %job.id, "the stopped job did not end in time");
        }
        let disconnected = shutdown::disconnect(self.hub.as_ref()).await;
        if let Some(path) = &self.settings.shutdown_hook_path {
            shutdown::run_hook(path, reason).await;
        }
        tracing::info!("Agent shutting down due to: {}", reason.as_str());
        Ok(Outcome {
            reason,
            disconnected,
        })
    }
}

/// Where a job's log goes besides the loghub.
struct JobPlaces {
    spool_dir: PathBuf,
    upload: UploadSettings,
}

/// Fetches, checks, runs and reports one job; see the module documentation.
async fn job_task<H: Hub + Loghub, R: JobRunner>(
    job_id: String,
    hub: Arc<H>,
    runner: Arc<R>,
    stop: JobStop,
    places: JobPlaces,
    events: mpsc::UnboundedSender<Event>,
) {
    let JobPlaces { spool_dir, upload } = places;
    // The loop is gone only when the agent is shutting down; nothing is left to tell.
    let report = |event: Event| {
        let _ = events.send(event);
    };
    let failed = || Event::JobFailedToStart {
        job_id: job_id.clone(),
    };
    let request: JobRequest = match with_retries(GET_JOB, "get job", || hub.get_job(&job_id)).await
    {
        Ok(request) => request,
        Err(err) => {
            tracing::error!(job_id = %job_id, error = %err, "failed to get the job; reporting it failed");
            return report(failed());
        }
    };
    if let Err(why) = runner.check(&request) {
        tracing::error!(job_id = %job_id, reason = %why, "the job cannot run; reporting it failed");
        return report(failed());
    }
    enum Log {
        Push(PushLogger),
        Local(LocalLog),
    }
    let opened = match &request.logger.method {
        LoggerMethod::Push => PushLogger::start(
            &spool_dir,
            PushTarget {
                url: request.logger.url.clone(),
                token: request.logger.token.clone(),
            },
            hub.clone(),
            hub.clone(),
        )
        .map(|(sink, log)| (sink, Log::Push(log))),
        LoggerMethod::Pull | LoggerMethod::Unset => LocalLog::start(
            &spool_dir,
            request
                .logger
                .max_size_in_bytes
                .unwrap_or(Logger::DEFAULT_MAX_SIZE_IN_BYTES),
        )
        .map(|(sink, log)| (sink, Log::Local(log))),
        LoggerMethod::Unknown(method) => {
            tracing::error!(job_id = %job_id, method = %method, "unsupported logger method; reporting the job failed");
            return report(failed());
        }
    };
    let (sink, log) = match opened {
        Ok(opened) => opened,
        Err(err) => {
            tracing::error!(job_id = %job_id, error = %err, "failed to create the job log spool; reporting the job failed");
            return report(failed());
        }
    };
    report(Event::JobRunning {
        job_id: job_id.clone(),
    });
    tracing::info!(job_id = %job_id, "running the job");
    let sink: Box<dyn LogSink> = Box::new(sink);
    // The upload (after the job) needs the job's artifact token and organization URL.
    let env_vars = request.env_vars.clone();
    // In its own task, so a runner that panics still ends the job (as `failed`).
    let result = match tokio::spawn(runner.run(request, sink, stop)).await {
        Ok(result) => result,
        Err(err) => {
            tracing::error!(job_id = %job_id, error = %err, "the job runner failed; reporting the job failed");
            agent_protocol::JobResult::Failed
        }
    };
    let (trimmed, spool) = match log {
        Log::Push(log) => {
            let (pushed, spool) = log.close().await;
            tracing::info!(job_id = %job_id, events = pushed.pushed, trimmed = pushed.trimmed, "job log closed");
            (pushed.trimmed, spool)
        }
        Log::Local(log) => log.close(),
    };
    upload_job_log(&upload, &job_id, &env_vars, trimmed, spool.path()).await;
    drop(spool);
    tracing::info!(job_id = %job_id, result = result.as_str(), "job finished");
    report(Event::JobFinished { job_id, result });
}

/// What the registration says about this machine.
mod host {
    /// Linux: `PRETTY_NAME` (else `NAME`) from `/etc/os-release`; "" when unknown.
    pub fn os_name() -> String {
        let Ok(text) = std::fs::read_to_string("/etc/os-release") else {
            return String::new();
        };
        let field = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_owned())
        };
        field("PRETTY_NAME")
            .or_else(|| field("NAME"))
            .unwrap_or_default()
    }

    /// The Go agent's architecture names.
    pub fn arch() -> &'static str {
        match std::env::consts::ARCH {
            "x86_64" => "x86_64",
            "x86" => "x86",
            "aarch64" => "arm64",
            other => other,
        }
    }

    /// The host name, or "".
    pub fn hostname() -> String {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|name| name.trim().to_owned())
            .unwrap_or_default()
    }
}
