//! The hub's decisions as pure functions: what to answer an agent's sync ([`decide`]) and what
//! the clock alone changes ([`sweep`]: lost agents, execution time limits). No I/O; `now` is
//! passed in (Unix seconds, the protocol's unit). The store applies the [`Effect`]s.
//!
//! The sync rules are the spec's section 10 (they follow Semaphore's own test hub), with one
//! deliberate difference: an agent that was asked to disconnect or was interrupted is never
//! handed a new job, even when one is queued, because it is about to go away.

use agent_protocol::{AgentState, HubAction, JobResult, ShutdownReason, SyncRequest, SyncResponse};

/// What the rules need to know about the syncing agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView {
    /// Registered with `single_job` (`disconnect-after-job`).
    pub single_job: bool,
    /// Registered `idle_timeout` in seconds; 0 means never.
    pub idle_timeout_secs: i64,
    /// Registered `interruption_grace_period` in seconds.
    pub grace_period_secs: i64,
    /// Since when the agent has had no job (registration, or its last job's end).
    pub idle_since: i64,
    /// Someone asked for this agent to be disconnected.
    pub disconnect_requested: bool,
}

/// The job the hub has assigned to the syncing agent, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    /// The job's id.
    pub id: String,
    /// The agent reported it starting or running.
    pub started: bool,
    /// A stop was asked for (a person, the time limit, the agent's shutdown), with why.
    pub stop_requested: bool,
}

/// A change the store makes after a sync, besides answering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Assign this queued job to the agent (the answer is `run-job`).
    Assign(String),
    /// The agent reported the job starting or running: record its start.
    Started(String),
    /// The job ended with this result.
    Finished {
        /// The job.
        job_id: String,
        /// Its result.
        result: JobResult,
        /// Why, when the hub decided the end rather than the job.
        reason: Option<String>,
    },
    /// The agent no longer holds a job: it is idle from now.
    Release,
}

/// An answer and the changes that go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The body of the sync answer (without `next_sync_after`, which the hub adds).
    pub response: SyncResponse,
    /// What the store records.
    pub effects: Vec<Effect>,
}

impl Decision {
    fn answer(action: HubAction) -> Decision {
        Decision {
            response: SyncResponse::new(action),
            effects: Vec::new(),
        }
    }

    fn shutdown(reason: ShutdownReason) -> Decision {
        let mut decision = Decision::answer(HubAction::Shutdown);
        decision.response.shutdown_reason = Some(reason);
        decision
    }

    fn with_job(action: HubAction, job_id: &str) -> Decision {
        let mut decision = Decision::answer(action);
        decision.response.job_id = Some(job_id.to_owned());
        decision
    }

    fn then(mut self, effect: Effect) -> Decision {
        self.effects.push(effect);
        self
    }

    fn after(mut self, effects: Vec<Effect>) -> Decision {
        let mut all = effects;
        all.append(&mut self.effects);
        self.effects = all;
        self
    }
}

/// The answer to one sync.
///
/// * `agent`: the registered agent; `job`: the job the hub assigned to it (if any);
///   `next_queued`: the oldest queued job it may take (if any); `now`: Unix seconds.
pub fn decide(
    agent: &AgentView,
    job: Option<&JobView>,
    next_queued: Option<&str>,
    request: &SyncRequest,
    now: i64,
) -> Decision {
    let interrupted_at = request.interrupted_at.filter(|at| *at > 0);
    match request.state {
        AgentState::WaitingForJobs => {
            let mut before = Vec::new();
            if let Some(job) = job {
                if !job.started && !job.stop_requested && interrupted_at.is_none() {
                    // The `run-job` answer was lost on its way: send it again.
                    return Decision::with_job(HubAction::RunJob, &job.id);
                }
                // The agent dropped a job it held (it never started it, or it restarted).
                let result = if job.stop_requested {
                    JobResult::Stopped
                } else {
                    JobResult::Failed
                };
                let reason = (!job.stop_requested).then(|| {
                    "the agent reported waiting for jobs while it held this job".to_owned()
                });
                before.push(Effect::Finished {
                    job_id: job.id.clone(),
                    result,
                    reason,
                });
                before.push(Effect::Release);
            }
            let idle_since = if before.is_empty() {
                agent.idle_since
            } else {
                now
            };
            let decision = if agent.disconnect_requested {
                Decision::shutdown(ShutdownReason::Requested)
            } else if interrupted_at.is_some() {
                Decision::shutdown(ShutdownReason::Interrupted)
            } else if let Some(next) = next_queued {
                Decision::with_job(HubAction::RunJob, next).then(Effect::Assign(next.to_owned()))
            } else if agent.idle_timeout_secs > 0 && now - idle_since > agent.idle_timeout_secs {
                Decision::shutdown(ShutdownReason::Idle)
            } else {
                Decision::answer(HubAction::Continue)
            };
            decision.after(before)
        }
        AgentState::StartingJob | AgentState::RunningJob | AgentState::StoppingJob => {
            let Some(job) = job else {
                // Nothing assigned (the hub failed the job meanwhile): let the agent finish.
                return Decision::answer(HubAction::Continue);
            };
            let mut effects = Vec::new();
            if !job.started {
                effects.push(Effect::Started(job.id.clone()));
            }
            let grace_over = interrupted_at.is_some_and(|at| now > at + agent.grace_period_secs);
            let stop = job.stop_requested || agent.disconnect_requested || grace_over;
            let decision = if stop && request.state != AgentState::StoppingJob {
                Decision::with_job(HubAction::StopJob, &job.id)
            } else {
                Decision::answer(HubAction::Continue)
            };
            decision.after(effects)
        }
        AgentState::FinishedJob => {
            let mut effects = Vec::new();
            if let Some(job) = job {
                effects.push(Effect::Finished {
                    job_id: job.id.clone(),
                    result: request.job_result.unwrap_or(JobResult::Failed),
                    reason: None,
                });
            }
            effects.push(Effect::Release);
            let decision = if agent.disconnect_requested {
                Decision::shutdown(ShutdownReason::Requested)
            } else if interrupted_at.is_some() {
                Decision::shutdown(ShutdownReason::Interrupted)
            } else if agent.single_job {
                Decision::shutdown(ShutdownReason::JobFinished)
            } else {
                Decision::answer(HubAction::WaitForJobs)
            };
            decision.after(effects)
        }
    }
}

/// An agent as the sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweptAgent {
    /// Its name.
    pub name: String,
    /// When it last synced (Unix seconds; a restarted hub counts from its start).
    pub last_sync: i64,
    /// The job it holds, if any, and whether that job started.
    pub job: Option<(String, bool)>,
}

/// A running job as the sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweptJob {
    /// Its id.
    pub id: String,
    /// When the agent reported it started.
    pub started_at: i64,
    /// Its execution time limit in seconds (none: no limit).
    pub time_limit_secs: Option<u64>,
    /// A stop was already asked for.
    pub stop_requested: bool,
}

/// A change the clock alone brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepEffect {
    /// The agent stopped syncing: it is declared lost and its token stops working.
    AgentLost {
        /// The agent.
        agent: String,
        /// Why.
        reason: String,
    },
    /// A job that had started on a lost agent ends as failed.
    JobFailed {
        /// The job.
        job_id: String,
        /// Why.
        reason: String,
    },
    /// A job assigned to a lost agent that never started goes back to the queue.
    JobRequeued(String),
    /// A job ran past its time limit: the agent is told to stop it.
    StopJob {
        /// The job.
        job_id: String,
        /// Why.
        reason: String,
    },
}

/// What the clock changes at `now`: agents silent for more than `lost_after_secs` are lost
/// (their started job fails, a job they never started is queued again), and started jobs past
/// their time limit are stopped.
pub fn sweep(
    agents: &[SweptAgent],
    jobs: &[SweptJob],
    lost_after_secs: i64,
    now: i64,
) -> Vec<SweepEffect> {
    let mut effects = Vec::new();
    for agent in agents {
        let silent = now - agent.last_sync;
        if silent <= lost_after_secs {
            continue;
        }
        let reason = format!(
            "agent {} stopped syncing: nothing heard for {silent} s",
            agent.name
        );
        match &agent.job {
            Some((job_id, true)) => effects.push(SweepEffect::JobFailed {
                job_id: job_id.clone(),
                reason: reason.clone(),
            }),
            Some((job_id, false)) => effects.push(SweepEffect::JobRequeued(job_id.clone())),
            None => {}
        }
        effects.push(SweepEffect::AgentLost {
            agent: agent.name.clone(),
            reason,
        });
    }
    for job in jobs {
        let Some(limit) = job.time_limit_secs else {
            continue;
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        if !job.stop_requested && now - job.started_at > limit {
            effects.push(SweepEffect::StopJob {
                job_id: job.id.clone(),
                reason: format!("the execution time limit of {limit} s was exceeded"),
            });
        }
    }
    effects
}
