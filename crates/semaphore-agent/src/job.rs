//! One job's lifecycle (spec 8) over any [`Executor`]: the order of the steps, when the job
//! fails, self-stop (exit 130), the epilogues with `SEMAPHORE_JOB_RESULT`, the pre- and
//! post-job hooks, a stop from outside, and the result.
//!
//! The executor runs the steps and emits their events; this module emits `job_started`,
//! `job_finished` and "Checking job result", and closes the sink before the executor is torn
//! down (the seam for the push logger and `upload-job-logs`, spec 7.6). Fetching the job and
//! reporting the result to the hub are the listener's.

use agent_protocol::{Base64, Command, EnvVar, JobRequest, JobResult};

use crate::events::{Emitter, EventSink, unix_now};
use crate::executor::{Executor, StopSignal, VisibleCommand};

/// The agent's configuration that reaches a job (spec 2): its `env-vars` and the hooks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobSettings {
    /// `env-vars`: `(name, value)` pairs exported after the job's own variables.
    pub env_vars: Vec<(String, String)>,
    /// `pre-job-hook-path`, when set.
    pub pre_job_hook: Option<PreJobHook>,
    /// `post-job-hook-path`, when set.
    pub post_job_hook_path: Option<String>,
}

/// The pre-job hook and how it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreJobHook {
    /// The script.
    pub path: String,
    /// `source-pre-job-hook`: run with `source` (its changes persist) instead of `bash`.
    pub source: bool,
    /// `fail-on-pre-job-hook-error`: a non-zero exit fails the job.
    pub fail_on_error: bool,
}

/// The name shown for the pre-job hook step.
pub const PRE_JOB_HOOK_NAME: &str = "Running the pre-job hook configured in the agent";
/// The name shown for the post-job hook step.
pub const POST_JOB_HOOK_NAME: &str = "Running the post-job hook configured in the agent";
/// The name of the self-stop step (spec 8 step 7).
pub const CHECKING_RESULT_NAME: &str = "Checking job result";
/// The variable the epilogues (and a self-stopping job) read.
pub const JOB_RESULT_VAR: &str = "SEMAPHORE_JOB_RESULT";
/// The exit code with which a job stops itself.
pub const SELF_STOP_EXIT_CODE: i32 = 130;

/// A job that cannot run at all: it is reported `failed` with no log events (spec 6, 11).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobRejected {
    /// The request names an executor this agent does not have.
    #[error("unsupported executor '{0}'")]
    UnsupportedExecutor(String),
    /// `logger.method` is neither `push`, `pull` nor empty.
    #[error("unsupported logger method '{0}'")]
    UnsupportedLogger(String),
}

/// Checks that the shell executor can run `request` (before any event is emitted).
pub fn check_shell_job(request: &JobRequest) -> Result<(), JobRejected> {
    if !request.executor.is_shell() {
        return Err(JobRejected::UnsupportedExecutor(
            request.executor.as_str().to_owned(),
        ));
    }
    if !request.logger.method.is_known() {
        return Err(JobRejected::UnsupportedLogger(
            request.logger.method.as_str().to_owned(),
        ));
    }
    Ok(())
}

/// Runs `request` to the end: events to `sink`, then `sink.close()`, then the executor's
/// teardown. Returns the result reported in `job_finished`.
pub fn run_job(
    request: &JobRequest,
    settings: &JobSettings,
    executor: &mut dyn Executor,
    sink: &mut dyn EventSink,
    stop: &StopSignal,
) -> JobResult {
    Emitter::new(sink).job_started();
    let result = if let Err(err) = executor.start() {
        tracing::error!(error = %err, "the job's executor did not start");
        if stop.is_stopped() {
            JobResult::Stopped
        } else {
            JobResult::Failed
        }
    } else {
        run_steps(request, settings, executor, sink, stop)
    };
    let mut events = Emitter::new(sink);
    events.job_finished(result);
    events.close();
    executor.teardown();
    result
}

fn run_steps(
    request: &JobRequest,
    settings: &JobSettings,
    executor: &mut dyn Executor,
    sink: &mut dyn EventSink,
    stop: &StopSignal,
) -> JobResult {
    let mut vars: Vec<EnvVar> = request.env_vars.clone();
    vars.extend(settings.env_vars.iter().map(|(name, value)| EnvVar {
        name: name.clone(),
        value: Base64::encode(value.as_bytes()),
    }));

    // Steps 3-6. `None`: the setup failed (the epilogues still run).
    let last_exit = 'steps: {
        if executor.export_env_vars(&vars, sink) != 0 || stop.is_stopped() {
            break 'steps None;
        }
        if executor.inject_files(&request.files, sink) != 0 || stop.is_stopped() {
            break 'steps None;
        }
        if let Some(hook) = &settings.pre_job_hook {
            let code = executor.run_command(&pre_job_hook_command(hook), sink);
            if (code != 0 && hook.fail_on_error) || stop.is_stopped() {
                break 'steps None;
            }
        }
        Some(run_until_failure(&request.commands, executor, sink, stop))
    };

    // Step 7.
    let mut skip_epilogues = stop.is_stopped();
    let mut result = match last_exit {
        _ if stop.is_stopped() => JobResult::Stopped,
        None => JobResult::Failed,
        Some(SELF_STOP_EXIT_CODE) => {
            skip_epilogues = true;
            check_job_result(executor, sink)
        }
        Some(0) => JobResult::Passed,
        Some(_) => JobResult::Failed,
    };

    // Step 8.
    if !skip_epilogues {
        let job_result = EnvVar {
            name: JOB_RESULT_VAR.to_owned(),
            value: Base64::encode(result.as_str().as_bytes()),
        };
        executor.export_env_vars(&[job_result], sink);
        if !stop.is_stopped() {
            run_until_failure(&request.epilogue_always_commands, executor, sink, stop);
        }
        let specific = if result == JobResult::Passed {
            &request.epilogue_on_pass_commands
        } else {
            &request.epilogue_on_fail_commands
        };
        if !stop.is_stopped() {
            run_until_failure(specific, executor, sink, stop);
        }
    }

    // Step 9: even after a stop (the shell is gone then, so it fails at once, as in Go).
    if let Some(path) = &settings.post_job_hook_path {
        let command = VisibleCommand {
            name: POST_JOB_HOOK_NAME.to_owned(),
            directive: format!("bash {path}"),
            preamble: vec![format!("Running: bash {path}\n")],
        };
        executor.run_command(&command, sink);
    }

    // Step 10.
    if stop.is_stopped() {
        result = JobResult::Stopped;
    }
    result
}

/// Runs `commands` in order until one exits non-zero or a stop arrives; returns the last
/// exit code (0 when there are none).
fn run_until_failure(
    commands: &[Command],
    executor: &mut dyn Executor,
    sink: &mut dyn EventSink,
    stop: &StopSignal,
) -> i32 {
    for command in commands {
        if stop.is_stopped() {
            return 1;
        }
        let code = executor.run_command(&VisibleCommand::from_request(command), sink);
        if code != 0 {
            return code;
        }
    }
    0
}

fn pre_job_hook_command(hook: &PreJobHook) -> VisibleCommand {
    let runner = if hook.source { "source" } else { "bash" };
    let directive = format!("{runner} {}", hook.path);
    let warning = if hook.fail_on_error {
        "Warning: The agent is configured to fail the job if the pre-job hook fails.\n"
    } else {
        "Warning: The agent is configured to proceed with the job even if the pre-job hook fails.\n"
    };
    VisibleCommand {
        name: PRE_JOB_HOOK_NAME.to_owned(),
        preamble: vec![format!("Running: {directive}\n"), warning.to_owned()],
        directive,
    }
}

/// Self-stop (spec 8 step 7): the job's own `SEMAPHORE_JOB_RESULT` decides.
fn check_job_result(executor: &mut dyn Executor, sink: &mut dyn EventSink) -> JobResult {
    let mut events = Emitter::new(sink);
    let started_at = unix_now();
    events.cmd_started(CHECKING_RESULT_NAME);
    let (_, printed) = executor.run_silent(&format!("echo ${JOB_RESULT_VAR}"));
    let value = printed.trim_end_matches(['\r', '\n']);
    let (result, message) = match value {
        "passed" | "failed" => (
            JobResult::from_wire(value).unwrap_or(JobResult::Failed),
            format!("{JOB_RESULT_VAR}={value} - stopping job and marking it as {value}"),
        ),
        other => (
            JobResult::Stopped,
            format!(
                "{JOB_RESULT_VAR} is set to '{other}' - stopping job and marking it as stopped"
            ),
        ),
    };
    events.output(message);
    events.cmd_finished(CHECKING_RESULT_NAME, 0, started_at);
    result
}
