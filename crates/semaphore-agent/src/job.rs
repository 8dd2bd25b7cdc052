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
    /// A `dockercompose` job without any container.
    #[error("the docker compose job has no container")]
    NoContainers,
    /// `logger.method` is neither `push`, `pull` nor empty.
    #[error("unsupported logger method '{0}'")]
    UnsupportedLogger(String),
}

/// Checks that this agent can run `request` (before any event is emitted): the shell
/// executor (`""`/`shell`) or the docker-compose executor (`dockercompose`, with at least one
/// container), and a known logger method.
pub fn check_job(request: &JobRequest) -> Result<(), JobRejected> {
    match &request.executor {
        kind if kind.is_shell() => {}
        agent_protocol::ExecutorKind::DockerCompose => {
            if request
                .compose
                .as_ref()
                .is_none_or(|c| c.containers.is_empty())
            {
                return Err(JobRejected::NoContainers);
            }
        }
        other => {
            return Err(JobRejected::UnsupportedExecutor(other.as_str().to_owned()));
        }
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
    let result = if let Err(err) = executor.start(sink) {
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
            directive: format!("bash {}", shell_word(path)),
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
    let shown = format!("{runner} {}", hook.path);
    let warning = if hook.fail_on_error {
        "Warning: The agent is configured to fail the job if the pre-job hook fails.\n"
    } else {
        "Warning: The agent is configured to proceed with the job even if the pre-job hook fails.\n"
    };
    VisibleCommand {
        name: PRE_JOB_HOOK_NAME.to_owned(),
        preamble: vec![format!("Running: {shown}\n"), warning.to_owned()],
        directive: format!("{runner} {}", shell_word(&hook.path)),
    }
}

/// A hook path as one bash word. The log shows the path as given, as the Go agent does, but
/// unlike it a path with spaces still runs.
fn shell_word(path: &str) -> String {
    String::from_utf8_lossy(&crate::executor::env::shell_quote(path.as_bytes())).into_owned()
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

#[cfg(test)]
mod tests {
    //! The lifecycle with a [`FakeExecutor`]: which steps run, in which order, and the result.

    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    use agent_protocol::LogEvent;

    use super::*;
    use crate::events::EventSink;
    use crate::executor::ExecutorError;

    /// Records every call into a log shared with the sink, and answers from a script.
    struct FakeExecutor {
        log: Rc<RefCell<Vec<String>>>,
        fail_start: bool,
        env_code: i32,
        codes: HashMap<String, i32>,
        stop_on: Option<(String, StopSignal)>,
        job_result_var: String,
    }

    impl FakeExecutor {
        fn new(log: &Rc<RefCell<Vec<String>>>) -> FakeExecutor {
            FakeExecutor {
                log: Rc::clone(log),
                fail_start: false,
                env_code: 0,
                codes: HashMap::new(),
                stop_on: None,
                job_result_var: String::new(),
            }
        }
    }

    impl Executor for FakeExecutor {
        fn start(&mut self, _: &mut dyn EventSink) -> Result<(), ExecutorError> {
            self.log.borrow_mut().push("start".into());
            if self.fail_start {
                Err(ExecutorError::EndedDuringInit)
            } else {
                Ok(())
            }
        }
        fn export_env_vars(&mut self, vars: &[EnvVar], _: &mut dyn EventSink) -> i32 {
            let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
            self.log
                .borrow_mut()
                .push(format!("export {}", names.join(",")));
            if names == [JOB_RESULT_VAR] {
                0
            } else {
                self.env_code
            }
        }
        fn inject_files(&mut self, _: &[agent_protocol::JobFile], _: &mut dyn EventSink) -> i32 {
            self.log.borrow_mut().push("files".into());
            0
        }
        fn run_command(&mut self, command: &VisibleCommand, _: &mut dyn EventSink) -> i32 {
            self.log
                .borrow_mut()
                .push(format!("run {}", command.directive));
            if let Some((directive, stop)) = &self.stop_on
                && *directive == command.directive
            {
                stop.stop();
                return 1;
            }
            self.codes.get(&command.directive).copied().unwrap_or(0)
        }
        fn run_silent(&mut self, directive: &str) -> (i32, String) {
            self.log.borrow_mut().push(format!("silent {directive}"));
            (0, format!("{}\n", self.job_result_var))
        }
        fn teardown(&mut self) {
            self.log.borrow_mut().push("teardown".into());
        }
    }

    struct LogSink(Rc<RefCell<Vec<String>>>, Vec<LogEvent>);

    impl EventSink for LogSink {
        fn emit(&mut self, event: LogEvent) {
            self.1.push(event);
        }
        fn close(&mut self) {
            self.0.borrow_mut().push("close".into());
        }
    }

    fn request() -> JobRequest {
        serde_json::from_str(
            r#"{"commands": [{"directive": "c1"}, {"directive": "c2"}],
                "env_vars": [{"name": "A", "value": "eA=="}],
                "epilogue_always_commands": [{"directive": "always"}],
                "epilogue_on_pass_commands": [{"directive": "pass"}],
                "epilogue_on_fail_commands": [{"directive": "fail"}]}"#,
        )
        .expect("a valid request")
    }

    type Setup = fn(&mut FakeExecutor, &mut JobSettings, &StopSignal);

    #[test]
    fn lifecycle_table() {
        let cases: &[(&str, Setup, &[&str], JobResult)] = &[
            (
                "everything passes",
                |_, _, _| {},
                &[
                    "start",
                    "export A,X",
                    "files",
                    "run c1",
                    "run c2",
                    "export SEMAPHORE_JOB_RESULT",
                    "run always",
                    "run pass",
                    "close",
                    "teardown",
                ],
                JobResult::Passed,
            ),
            (
                "the executor does not start: nothing runs",
                |e, _, _| e.fail_start = true,
                &["start", "close", "teardown"],
                JobResult::Failed,
            ),
            (
                "env export fails: straight to the epilogues",
                |e, _, _| e.env_code = 1,
                &[
                    "start",
                    "export A,X",
                    "export SEMAPHORE_JOB_RESULT",
                    "run always",
                    "run fail",
                    "close",
                    "teardown",
                ],
                JobResult::Failed,
            ),
            (
                "a failing command ends the commands",
                |e, _, _| {
                    e.codes.insert("c1".into(), 2);
                },
                &[
                    "start",
                    "export A,X",
                    "files",
                    "run c1",
                    "export SEMAPHORE_JOB_RESULT",
                    "run always",
                    "run fail",
                    "close",
                    "teardown",
                ],
                JobResult::Failed,
            ),
            (
                "a failing always-epilogue does not stop the on-pass list",
                |e, _, _| {
                    e.codes.insert("always".into(), 1);
                },
                &[
                    "start",
                    "export A,X",
                    "files",
                    "run c1",
                    "run c2",
                    "export SEMAPHORE_JOB_RESULT",
                    "run always",
                    "run pass",
                    "close",
                    "teardown",
                ],
                JobResult::Passed,
            ),
            (
                "exit 130 checks the job's own result and skips the epilogues",
                |e, _, _| {
                    e.codes.insert("c1".into(), 130);
                    e.job_result_var = "passed".into();
                },
                &[
                    "start",
                    "export A,X",
                    "files",
                    "run c1",
                    "silent echo $SEMAPHORE_JOB_RESULT",
                    "close",
                    "teardown",
                ],
                JobResult::Passed,
            ),
            (
                "a stop during a command skips the epilogues but not the post-job hook",
                |e, s, stop| {
                    e.stop_on = Some(("c1".into(), stop.clone()));
                    s.post_job_hook_path = Some("/hooks/post job.sh".into());
                },
                &[
                    "start",
                    "export A,X",
                    "files",
                    "run c1",
                    "run bash '/hooks/post job.sh'",
                    "close",
                    "teardown",
                ],
                JobResult::Stopped,
            ),
            (
                "a stop during the epilogues makes the result stopped",
                |e, _, stop| e.stop_on = Some(("always".into(), stop.clone())),
                &[
                    "start",
                    "export A,X",
                    "files",
                    "run c1",
                    "run c2",
                    "export SEMAPHORE_JOB_RESULT",
                    "run always",
                    "close",
                    "teardown",
                ],
                JobResult::Stopped,
            ),
            (
                "a failing pre-job hook fails the job when configured",
                |e, s, _| {
                    e.codes.insert("bash /hooks/pre.sh".into(), 1);
                    s.pre_job_hook = Some(PreJobHook {
                        path: "/hooks/pre.sh".into(),
                        source: false,
                        fail_on_error: true,
                    });
                },
                &[
                    "start",
                    "export A,X",
                    "files",
                    "run bash /hooks/pre.sh",
                    "export SEMAPHORE_JOB_RESULT",
                    "run always",
                    "run fail",
                    "close",
                    "teardown",
                ],
                JobResult::Failed,
            ),
            (
                "a failing pre-job hook is ignored otherwise",
                |e, s, _| {
                    e.codes.insert("source /hooks/pre.sh".into(), 1);
                    s.pre_job_hook = Some(PreJobHook {
                        path: "/hooks/pre.sh".into(),
                        source: true,
                        fail_on_error: false,
                    });
                },
                &[
                    "start",
                    "export A,X",
                    "files",
                    "run source /hooks/pre.sh",
                    "run c1",
                    "run c2",
                    "export SEMAPHORE_JOB_RESULT",
                    "run always",
                    "run pass",
                    "close",
                    "teardown",
                ],
                JobResult::Passed,
            ),
        ];
        for (name, setup, want_log, want_result) in cases {
            let log = Rc::new(RefCell::new(Vec::new()));
            let stop = StopSignal::new();
            let mut executor = FakeExecutor::new(&log);
            let mut settings = JobSettings {
                env_vars: vec![("X".into(), "y".into())],
                ..JobSettings::default()
            };
            setup(&mut executor, &mut settings, &stop);
            let mut sink = LogSink(Rc::clone(&log), Vec::new());
            let result = run_job(&request(), &settings, &mut executor, &mut sink, &stop);
            assert_eq!(&result, want_result, "{name}");
            assert_eq!(log.borrow().as_slice(), *want_log, "{name}");
            assert!(
                matches!(sink.1.first(), Some(LogEvent::JobStarted { .. })),
                "{name}"
            );
            assert!(
                matches!(sink.1.last(), Some(LogEvent::JobFinished { result, .. }) if result == want_result),
                "{name}"
            );
        }
    }

    #[test]
    fn other_executors_and_loggers_are_rejected_before_any_event() {
        let mut request = request();
        request.executor = agent_protocol::ExecutorKind::DockerCompose;
        assert_eq!(check_job(&request), Err(JobRejected::NoContainers));
        request.compose = Some(agent_protocol::Compose {
            containers: vec![agent_protocol::Container {
                name: "main".into(),
                image: "ruby:3".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(check_job(&request), Ok(()));
        request.executor = agent_protocol::ExecutorKind::from_wire("kubernetes");
        assert_eq!(
            check_job(&request),
            Err(JobRejected::UnsupportedExecutor("kubernetes".into()))
        );
        let mut request = super::tests::request();
        request.logger.method = agent_protocol::LoggerMethod::from_wire("carrier-pigeon");
        assert!(matches!(
            check_job(&request),
            Err(JobRejected::UnsupportedLogger(_))
        ));
    }
}
