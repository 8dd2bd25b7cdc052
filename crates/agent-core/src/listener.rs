//! `Listener`: the state the agent reports in each sync and the transitions of spec 4.1-4.4
//! and 5, as `handle(event, now) -> Step`.
//!
//! Deliberate differences from the Go agent, all where the Go agent trusts the hub blindly:
//! a `run-job` while a job is active is ignored instead of starting a second job; a
//! `wait-for-jobs` while a job is active is ignored instead of reporting an idle agent that is
//! still running a job; a `stop-job` keeps the id of the job actually running; a `stop-job`
//! with no active job is ignored and one during `starting-job` is honoured (Go uses its
//! current job there without checking that it exists); and a `shutdown` while a job is
//! active stops that job first. [`Effect::StopJob`] may come twice for one job, so stopping must be
//! idempotent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_protocol::{
    AgentState, HubAction, JobResult, ShutdownHookReason, SyncRequest, SyncResponse,
};

use crate::retry::RANDOM_SYNC_INTERVAL;

/// How long the agent keeps trying after its last successful sync before it shuts down with
/// `UNABLE_TO_SYNC` and exit code 1 (spec 4.3). Registration counts as a successful sync.
pub const SYNC_GIVE_UP_AFTER: Duration = Duration::from_secs(10 * 60);

/// Something that happened to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The hub answered the sync with 200 and a body that parsed.
    SyncSucceeded(SyncResponse),
    /// The sync failed: transport error, a status other than 200, or a body that did not
    /// parse.
    SyncFailed,
    /// The job was fetched and its executor built; it is running.
    JobRunning {
        /// The job.
        job_id: String,
    },
    /// Fetching the job (after its retries) or building its executor failed.
    JobFailedToStart {
        /// The job.
        job_id: String,
    },
    /// The job ended and its log was flushed.
    JobFinished {
        /// The job.
        job_id: String,
        /// How it ended.
        result: JobResult,
    },
    /// SIGTERM or SIGINT arrived.
    Interrupted,
}

/// When to sync next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextSync {
    /// At once, cutting any wait short (a job ended, a signal arrived).
    Now,
    /// After the wait the hub asked for.
    After(Duration),
    /// After a wait drawn uniformly from this range (the caller draws it).
    Random {
        /// Shortest wait.
        min: Duration,
        /// Longest wait.
        max: Duration,
    },
}

impl NextSync {
    fn random() -> NextSync {
        NextSync::Random {
            min: RANDOM_SYNC_INTERVAL.0,
            max: RANDOM_SYNC_INTERVAL.1,
        }
    }

    /// The wait, given any random number for the `Random` case (whole milliseconds from
    /// `min` to `max`, both included; `random` is reduced modulo the span).
    pub fn wait(self, random: u64) -> Duration {
        match self {
            NextSync::Now => Duration::ZERO,
            NextSync::After(wait) => wait,
            NextSync::Random { min, max } => {
                let span =
                    u64::try_from(max.saturating_sub(min).as_millis()).unwrap_or(u64::MAX - 1) + 1;
                min + Duration::from_millis(random % span)
            }
        }
    }
}

/// Work for the caller, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// In the background: fetch the job (with its retries), build its executor, then report
    /// [`Event::JobRunning`] or [`Event::JobFailedToStart`], and when it ends
    /// [`Event::JobFinished`].
    StartJob {
        /// The job to fetch.
        job_id: String,
    },
    /// Stop the job (its whole process group, TERM then KILL). It may still be starting: the
    /// start must then be abandoned or the job stopped as soon as it exists. It ends with
    /// [`Event::JobFinished`] as usual.
    StopJob {
        /// The job to stop.
        job_id: String,
    },
    /// Stop syncing, disconnect (with its retries), run the shutdown hook with
    /// `SEMAPHORE_AGENT_SHUTDOWN_REASON=<reason>`, and exit with `reason.exit_code()`.
    Shutdown {
        /// Why.
        reason: ShutdownHookReason,
    },
}

/// What an event leads to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Step {
    /// When to sync next; `None` leaves the current wait as it is (or, after a shutdown,
    /// means there is no next sync).
    pub next_sync: Option<NextSync>,
    /// What to do, in order.
    pub effects: Vec<Effect>,
}

impl Step {
    fn sync(next: NextSync) -> Step {
        Step {
            next_sync: Some(next),
            effects: Vec::new(),
        }
    }
}

/// The listener's state: what it reports and what it is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    state: AgentState,
    job_id: Option<String>,
    job_result: Option<JobResult>,
    interrupted_at: Option<i64>,
    last_successful_sync: SystemTime,
    shutdown: Option<ShutdownHookReason>,
}

impl Listener {
    /// A registered agent waiting for jobs. Registration at `now` counts as its last
    /// successful sync; the first sync should happen at once.
    pub fn new(now: SystemTime) -> Listener {
        Listener {
            state: AgentState::WaitingForJobs,
            job_id: None,
            job_result: None,
            interrupted_at: None,
            last_successful_sync: now,
            shutdown: None,
        }
    }

    /// The body of the next sync, built from the current state.
    pub fn sync_request(&self) -> SyncRequest {
        SyncRequest {
            state: self.state,
            job_id: self.job_id.clone(),
            job_result: self.job_result,
            interrupted_at: self.interrupted_at,
        }
    }

    /// The state reported.
    pub fn state(&self) -> AgentState {
        self.state
    }

    /// The current job, if any.
    pub fn job_id(&self) -> Option<&str> {
        self.job_id.as_deref()
    }

    /// Unix seconds of the first SIGTERM/SIGINT, if one arrived.
    pub fn interrupted_at(&self) -> Option<i64> {
        self.interrupted_at
    }

    /// Why the agent is shutting down, once it is; it then ignores every event.
    pub fn shutdown_reason(&self) -> Option<ShutdownHookReason> {
        self.shutdown
    }

    /// Applies one event that happened at `now`.
    pub fn handle(&mut self, event: Event, now: SystemTime) -> Step {
        if self.shutdown.is_some() {
            return Step::default();
        }
        match event {
            Event::SyncSucceeded(response) => {
                self.last_successful_sync = now;
                self.on_action(response)
            }
            Event::SyncFailed => {
                let since = now
                    .duration_since(self.last_successful_sync)
                    .unwrap_or(Duration::ZERO);
                if since > SYNC_GIVE_UP_AFTER {
                    self.shut_down(ShutdownHookReason::UnableToSync)
                } else {
                    Step::sync(NextSync::random())
                }
            }
            Event::JobRunning { job_id } if self.is_current(&job_id) => match self.state {
                AgentState::StartingJob => {
                    self.state = AgentState::RunningJob;
                    Step::default()
                }
                // Stopped while starting: now that the job exists, stop it.
                AgentState::StoppingJob => Step {
                    next_sync: None,
                    effects: vec![Effect::StopJob { job_id }],
                },
                _ => Step::default(),
            },
            Event::JobFailedToStart { job_id } if self.is_current(&job_id) => {
                self.finish(JobResult::Failed)
            }
            Event::JobFinished { job_id, result } if self.is_current(&job_id) => {
                self.finish(result)
            }
            // Stale: about a job that is not the current one, or not active.
            Event::JobRunning { .. }
            | Event::JobFailedToStart { .. }
            | Event::JobFinished { .. } => Step::default(),
            Event::Interrupted => {
                if self.interrupted_at.is_some() {
                    // Only the first signal counts; the hub already knows.
                    return Step::default();
                }
                let secs = now
                    .duration_since(UNIX_EPOCH)
                    .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                    .unwrap_or(0);
                // 0 means "not interrupted" on the wire, so a clock at the epoch reports 1.
                self.interrupted_at = Some(secs.max(1));
                Step::sync(NextSync::Now)
            }
        }
    }

    fn job_active(&self) -> bool {
        matches!(
            self.state,
            AgentState::StartingJob | AgentState::RunningJob | AgentState::StoppingJob
        )
    }

    fn is_current(&self, job_id: &str) -> bool {
        self.job_active() && self.job_id.as_deref() == Some(job_id)
    }

    fn finish(&mut self, result: JobResult) -> Step {
        self.state = AgentState::FinishedJob;
        self.job_result = Some(result);
        Step::sync(NextSync::Now)
    }

    fn shut_down(&mut self, reason: ShutdownHookReason) -> Step {
        let mut effects = Vec::new();
        if matches!(self.state, AgentState::StartingJob | AgentState::RunningJob)
            && let Some(job_id) = self.job_id.clone()
        {
            effects.push(Effect::StopJob { job_id });
        }
        effects.push(Effect::Shutdown { reason });
        self.shutdown = Some(reason);
        Step {
            next_sync: None,
            effects,
        }
    }

    fn on_action(&mut self, response: SyncResponse) -> Step {
        let next = response
            .next_sync_after()
            .map_or_else(NextSync::random, NextSync::After);
        let mut step = Step::sync(next);
        match response.action {
            HubAction::RunJob => {
                let idle = matches!(
                    self.state,
                    AgentState::WaitingForJobs | AgentState::FinishedJob
                );
                if let (true, Some(job_id)) = (idle, response.job_id) {
                    self.state = AgentState::StartingJob;
                    self.job_id = Some(job_id.clone());
                    self.job_result = None;
                    step.effects.push(Effect::StartJob { job_id });
                }
            }
            HubAction::StopJob => {
                if matches!(self.state, AgentState::StartingJob | AgentState::RunningJob)
                    && let Some(job_id) = self.job_id.clone()
                {
                    self.state = AgentState::StoppingJob;
                    step.effects.push(Effect::StopJob { job_id });
                }
            }
            HubAction::WaitForJobs => {
                if !self.job_active() {
                    self.state = AgentState::WaitingForJobs;
                    self.job_id = None;
                    self.job_result = None;
                }
            }
            HubAction::Shutdown => {
                return self.shut_down(ShutdownHookReason::from_hub(
                    response.shutdown_reason.as_ref(),
                ));
            }
            HubAction::Continue | HubAction::Unknown(_) => {}
        }
        step
    }
}
