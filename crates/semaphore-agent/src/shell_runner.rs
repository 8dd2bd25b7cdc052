//! The executors as the listener's job runner: each job runs in its own bash session on a PTY,
//! on this machine ([`crate::executor::shell`]) or inside the main container of its compose
//! project ([`crate::executor::compose`]), as the request's `executor` says, on a blocking
//! thread, with its events forwarded to the
//! listener's log as they happen and the listener's stop request passed on to the session.

use agent_protocol::{AgentConfig, JobRequest, JobResult, LogEvent};

use crate::events::EventSink;
use crate::executor::compose::ComposeSettings;
use crate::executor::shell::ShellConfig;
use crate::executor::{StopSignal, for_request};
use crate::job::{JobSettings, PreJobHook, check_job, run_job};
use crate::listener::{BoxFuture, JobRunner, JobStop, LogSink};

/// Runs the hub's jobs with the executor each asks for and the agent's job settings
/// (`env-vars`, the pre- and post-job hooks; `files` and `fail-on-missing-files` for compose
/// jobs).
#[derive(Debug, Clone)]
pub struct ShellRunner {
    shell: ShellConfig,
    settings: JobSettings,
    compose: ComposeSettings,
}

impl ShellRunner {
    /// A runner for `config` (already validated by `start`), running shells as `shell` says.
    pub fn new(shell: ShellConfig, config: &AgentConfig) -> ShellRunner {
        let non_empty = |path: &str| (!path.is_empty()).then(|| path.to_owned());
        let settings = JobSettings {
            env_vars: config.env_vars().unwrap_or_default(),
            pre_job_hook: non_empty(&config.pre_job_hook_path).map(|path| PreJobHook {
                path,
                source: config.source_pre_job_hook,
                fail_on_error: config.fail_on_pre_job_hook_error,
            }),
            post_job_hook_path: non_empty(&config.post_job_hook_path),
        };
        let compose = ComposeSettings {
            files: config.file_injections().unwrap_or_default(),
            fail_on_missing_files: config.fail_on_missing_files,
        };
        ShellRunner {
            shell,
            settings,
            compose,
        }
    }
}

/// The executor's events, handed to the listener's log one by one (nothing is kept).
struct Forward(Box<dyn LogSink>);

impl EventSink for Forward {
    fn emit(&mut self, event: LogEvent) {
        self.0.emit(&event);
    }
}

impl JobRunner for ShellRunner {
    fn check(&self, job: &JobRequest) -> Result<(), String> {
        check_job(job).map_err(|rejected| rejected.to_string())
    }

    fn run(&self, job: JobRequest, log: Box<dyn LogSink>, stop: JobStop) -> BoxFuture<JobResult> {
        let shell = self.shell.clone();
        let settings = self.settings.clone();
        let compose = self.compose.clone();
        Box::pin(async move {
            let signal = StopSignal::new();
            let watcher = {
                let signal = signal.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    stop.stopped().await;
                    signal.stop();
                })
            };
            let result = tokio::task::spawn_blocking(move || {
                let mut executor = for_request(&job, shell, &compose, signal.clone());
                let mut sink = Forward(log);
                run_job(&job, &settings, executor.as_mut(), &mut sink, &signal)
            })
            .await;
            watcher.abort();
            result.unwrap_or_else(|panicked| {
                tracing::error!(error = %panicked, "the job's thread ended abnormally");
                JobResult::Failed
            })
        })
    }
}
