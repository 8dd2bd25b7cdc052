//! The `start` command end to end: agent logging (stdout and the agent log file, spec 1),
//! configuration, the HTTP hub, the process's signals, the runtime, and the exit code.
//!
//! `main.rs` calls [`main`] (no executor: every job is refused) or [`main_with`], which takes
//! the job runner to use, built from the configuration.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tracing_subscriber::filter::LevelFilter;

use agent_protocol::AgentConfig;
use tracing_subscriber::fmt::writer::MakeWriterExt;

use crate::listener::config_file::{self, StartArgs};
use crate::listener::hub::HttpHub;
use crate::listener::signals::OsSignals;
use crate::listener::{Agent, AgentSettings, Clock, JobRunner, ListenerError, NoExecutor};

/// `start` with no executor.
pub fn main(args: StartArgs) -> ExitCode {
    main_with(args, |_config| NoExecutor)
}

/// `start`: reads the configuration, then runs the listener with the runner `make_runner`
/// builds from it. Exit code 1 for a refused configuration, a failed registration or
/// `UNABLE_TO_SYNC`; 0 when the hub shut the agent down.
pub fn main_with<R: JobRunner>(
    args: StartArgs,
    make_runner: impl FnOnce(&AgentConfig) -> R,
) -> ExitCode {
    if let Err(message) = init_logging() {
        eprintln!("{message}");
        return ExitCode::FAILURE;
    }
    let loaded = match config_file::load(&args, std::env::vars()) {
        Ok(loaded) => loaded,
        Err(err) => return fail(&err),
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let runner = Arc::new(make_runner(&loaded.config));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "failed to start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match run(&loaded.config, runner).await {
            Ok(code) => ExitCode::from(code),
            Err(err) => fail(&err),
        }
    })
}

async fn run<R: JobRunner>(config: &AgentConfig, runner: Arc<R>) -> Result<u8, ListenerError> {
    let scheme = if config.no_https { "http" } else { "https" };
    let hub = HttpHub::new(
        format!("{scheme}://{}", config.endpoint),
        config.token.clone(),
    )
    .map_err(ListenerError::HttpClient)?;
    let signals = OsSignals::install().map_err(|err| ListenerError::Signals(err.to_string()))?;
    let settings = AgentSettings::from_config(config);
    tracing::info!(
        endpoint = %config.endpoint,
        name = crate::listener::driver::loggable_name(&settings.registration.name),
        single_job = config.disconnect_after_job,
        idle_timeout_secs = config.disconnect_after_idle_timeout_secs,
        "starting the agent"
    );
    let agent = Agent::new(settings, Arc::new(hub), runner, signals, Clock::start());
    Ok(agent.run().await?.exit_code())
}

/// Logs the error with its causes, to the agent log and stderr, and returns exit code 1.
fn fail(err: &ListenerError) -> ExitCode {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!("{message}");
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// Agent log lines go to stdout and are appended to `$SEMAPHORE_AGENT_LOG_FILE_PATH` (default
/// `$TMPDIR/agent_log`), at the level `SEMAPHORE_AGENT_LOG_LEVEL` names (default `info`).
fn init_logging() -> Result<(), String> {
    let level = std::env::var("SEMAPHORE_AGENT_LOG_LEVEL").unwrap_or_default();
    let filter = match level.to_lowercase().as_str() {
        "" | "info" => LevelFilter::INFO,
        "trace" => LevelFilter::TRACE,
        "debug" => LevelFilter::DEBUG,
        "warn" | "warning" => LevelFilter::WARN,
        "error" | "fatal" | "panic" => LevelFilter::ERROR,
        _ => {
            return Err(format!(
                "error: unknown SEMAPHORE_AGENT_LOG_LEVEL '{level}'"
            ));
        }
    };
    let path = std::env::var_os("SEMAPHORE_AGENT_LOG_FILE_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("agent_log"));
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|err| {
            format!(
                "error: failed to open the agent log {}: {err}",
                path.display()
            )
        })?;
    tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_ansi(false)
        .with_writer(std::io::stdout.and(Mutex::new(file)))
        .init();
    Ok(())
}
