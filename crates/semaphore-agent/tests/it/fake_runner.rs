//! `FakeRunner`: a `JobRunner` that emits a fixed event stream over a set (tokio) time and
//! honours stops, recording the jobs it was given.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_protocol::{JobRequest, JobResult, LogEvent};
use semaphore_agent::listener::{BoxFuture, JobRunner, JobStop, LogSink};

#[derive(Debug, Clone)]
pub struct FakeRunner {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    output_events: usize,
    duration: Duration,
    result: JobResult,
    refuse: bool,
    runs: Mutex<Vec<JobRequest>>,
}

impl FakeRunner {
    /// A job that prints `output_events` lines at once, then runs for `duration` and ends
    /// with `result` (or `stopped` when stopped first).
    pub fn new(output_events: usize, duration: Duration, result: JobResult) -> FakeRunner {
        FakeRunner {
            inner: Arc::new(Inner {
                output_events,
                duration,
                result,
                refuse: false,
                runs: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A runner whose `check` refuses every job.
    pub fn refusing() -> FakeRunner {
        FakeRunner {
            inner: Arc::new(Inner {
                output_events: 0,
                duration: Duration::ZERO,
                result: JobResult::Passed,
                refuse: true,
                runs: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn runs(&self) -> Vec<JobRequest> {
        self.inner.runs.lock().expect("runs").clone()
    }
}

impl JobRunner for FakeRunner {
    fn check(&self, _job: &JobRequest) -> Result<(), String> {
        if self.inner.refuse {
            Err("refused".to_owned())
        } else {
            Ok(())
        }
    }

    fn run(
        &self,
        job: JobRequest,
        mut log: Box<dyn LogSink>,
        stop: JobStop,
    ) -> BoxFuture<JobResult> {
        self.inner.runs.lock().expect("runs").push(job);
        let inner = self.inner.clone();
        Box::pin(async move {
            log.emit(&LogEvent::JobStarted { timestamp: 1 });
            log.emit(&LogEvent::CmdStarted {
                timestamp: 1,
                directive: "echo hello".to_owned(),
            });
            for i in 0..inner.output_events {
                log.emit(&LogEvent::CmdOutput {
                    timestamp: 1,
                    output: format!("line {i}\n"),
                });
            }
            let result = tokio::select! {
                () = tokio::time::sleep(inner.duration) => inner.result,
                () = stop.stopped() => JobResult::Stopped,
            };
            let exit_code = if result == JobResult::Passed { 0 } else { 1 };
            log.emit(&LogEvent::CmdFinished {
                timestamp: 2,
                directive: "echo hello".to_owned(),
                exit_code,
                started_at: 1,
                finished_at: 2,
            });
            log.emit(&LogEvent::JobFinished {
                timestamp: 2,
                result,
            });
            result
        })
    }
}
