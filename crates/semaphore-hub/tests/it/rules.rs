//! The hub's rules by named tables: one case per rule of the spec's sections 5.3, 5.4 and 10,
//! plus the cases where this hub is stricter than Semaphore's test hub.

use agent_protocol::{AgentState, HubAction, JobResult, ShutdownReason, SyncRequest};
use semaphore_hub::rules::{
    AgentView, Effect, JobView, SweepEffect, SweptAgent, SweptJob, decide, sweep,
};

const NOW: i64 = 10_000;

/// Name, agent, its job, the next queued job, the report, what is expected.
type SyncCase<'a> = (
    &'a str,
    AgentView,
    Option<JobView>,
    Option<&'a str>,
    SyncRequest,
    Expect,
);
/// Name, agents, running jobs, the effects expected (as short strings).
type SweepCase<'a> = (&'a str, Vec<SweptAgent>, Vec<SweptJob>, Vec<&'a str>);

fn agent() -> AgentView {
    AgentView {
        single_job: false,
        idle_timeout_secs: 0,
        grace_period_secs: 0,
        idle_since: NOW - 5,
        disconnect_requested: false,
    }
}

fn job(started: bool, stop_requested: bool) -> Option<JobView> {
    Some(JobView {
        id: "j1".into(),
        started,
        stop_requested,
    })
}

fn report(state: AgentState) -> SyncRequest {
    SyncRequest {
        state,
        job_id: None,
        job_result: None,
        interrupted_at: None,
    }
}

fn finished(result: JobResult) -> SyncRequest {
    SyncRequest {
        job_id: Some("j1".into()),
        job_result: Some(result),
        ..report(AgentState::FinishedJob)
    }
}

fn interrupted(mut request: SyncRequest, at: i64) -> SyncRequest {
    request.interrupted_at = Some(at);
    request
}

/// What a case expects: the action, its job or reason, and the effects.
struct Expect {
    action: HubAction,
    job_id: Option<&'static str>,
    reason: Option<ShutdownReason>,
    effects: Vec<Effect>,
}

fn expect(action: HubAction) -> Expect {
    Expect {
        action,
        job_id: None,
        reason: None,
        effects: vec![],
    }
}

fn shutdown(reason: ShutdownReason) -> Expect {
    Expect {
        reason: Some(reason),
        ..expect(HubAction::Shutdown)
    }
}

impl Expect {
    fn job(mut self, id: &'static str) -> Expect {
        self.job_id = Some(id);
        self
    }
    fn effects(mut self, effects: Vec<Effect>) -> Expect {
        self.effects = effects;
        self
    }
}

fn done(result: JobResult, reason: Option<&str>) -> Effect {
    Effect::Finished {
        job_id: "j1".into(),
        result,
        reason: reason.map(str::to_owned),
    }
}

#[test]
fn sync_answers_follow_the_rules() {
    let idle_5m = AgentView {
        idle_timeout_secs: 300,
        idle_since: NOW - 301,
        ..agent()
    };
    let idle_not_yet = AgentView {
        idle_timeout_secs: 300,
        idle_since: NOW - 300,
        ..agent()
    };
    let disconnecting = AgentView {
        disconnect_requested: true,
        ..agent()
    };
    let single = AgentView {
        single_job: true,
        ..agent()
    };
    let grace_15 = AgentView {
        grace_period_secs: 15,
        ..agent()
    };
    let waiting = report(AgentState::WaitingForJobs);
    let running = report(AgentState::RunningJob);
    #[rustfmt::skip]
    let cases: Vec<SyncCase> = vec![
        ("an idle agent with nothing queued continues",
            agent(), None, None, waiting.clone(), expect(HubAction::Continue)),
        ("an idle agent gets the queued job",
            agent(), None, Some("j2"), waiting.clone(),
            expect(HubAction::RunJob).job("j2").effects(vec![Effect::Assign("j2".into())])),
        ("an agent idle longer than its timeout is shut down as idle",
            idle_5m.clone(), None, None, waiting.clone(), shutdown(ShutdownReason::Idle)),
        ("an agent idle exactly its timeout continues",
            idle_not_yet, None, None, waiting.clone(), expect(HubAction::Continue)),
        ("a queued job wins over the idle timeout",
            idle_5m, None, Some("j2"), waiting.clone(),
            expect(HubAction::RunJob).job("j2").effects(vec![Effect::Assign("j2".into())])),
        ("a waiting agent asked to disconnect shuts down as requested, even with a job queued",
            disconnecting.clone(), None, Some("j2"), waiting.clone(), shutdown(ShutdownReason::Requested)),
        ("an interrupted waiting agent shuts down as interrupted, even with a job queued",
            agent(), None, Some("j2"), interrupted(waiting.clone(), NOW - 1), shutdown(ShutdownReason::Interrupted)),
        ("a lost run-job answer is sent again",
            agent(), job(false, false), Some("j2"), waiting.clone(), expect(HubAction::RunJob).job("j1")),
        ("a started job the agent dropped fails, and the agent takes the next",
            agent(), job(true, false), Some("j2"), waiting.clone(),
            expect(HubAction::RunJob).job("j2").effects(vec![
                done(JobResult::Failed, Some("the agent reported waiting for jobs while it held this job")),
                Effect::Release, Effect::Assign("j2".into())])),
        ("a job stopped before it started ends as stopped",
            agent(), job(false, true), None, waiting.clone(),
            expect(HubAction::Continue).effects(vec![done(JobResult::Stopped, None), Effect::Release])),
        ("a starting job is recorded as started",
            agent(), job(false, false), None, report(AgentState::StartingJob),
            expect(HubAction::Continue).effects(vec![Effect::Started("j1".into())])),
        ("a running job continues",
            agent(), job(true, false), None, running.clone(), expect(HubAction::Continue)),
        ("a running job with a stop request is stopped",
            agent(), job(true, true), None, running.clone(), expect(HubAction::StopJob).job("j1")),
        ("a stop request reaches a job that is still starting",
            agent(), job(false, true), None, report(AgentState::StartingJob),
            expect(HubAction::StopJob).job("j1").effects(vec![Effect::Started("j1".into())])),
        ("a job being stopped is not told again",
            agent(), job(true, true), None, report(AgentState::StoppingJob), expect(HubAction::Continue)),
        ("an agent asked to disconnect has its running job stopped",
            disconnecting.clone(), job(true, false), None, running.clone(), expect(HubAction::StopJob).job("j1")),
        ("an interrupted job within the grace period continues",
            grace_15.clone(), job(true, false), None, interrupted(running.clone(), NOW - 15), expect(HubAction::Continue)),
        ("an interrupted job past the grace period is stopped",
            grace_15, job(true, false), None, interrupted(running.clone(), NOW - 16), expect(HubAction::StopJob).job("j1")),
        ("with no grace period an interrupted job is stopped at once",
            agent(), job(true, false), None, interrupted(running.clone(), NOW - 1), expect(HubAction::StopJob).job("j1")),
        ("a running report for a job the hub already ended continues",
            agent(), None, None, running, expect(HubAction::Continue)),
        ("a finished job is recorded and the agent waits for jobs",
            agent(), job(true, false), Some("j2"), finished(JobResult::Passed),
            expect(HubAction::WaitForJobs).effects(vec![done(JobResult::Passed, None), Effect::Release])),
        ("a single-job agent is shut down after its job",
            single, job(true, false), None, finished(JobResult::Failed),
            shutdown(ShutdownReason::JobFinished).effects(vec![done(JobResult::Failed, None), Effect::Release])),
        ("an interrupted agent that finished its job shuts down as interrupted",
            agent(), job(true, false), None, interrupted(finished(JobResult::Passed), NOW - 3),
            shutdown(ShutdownReason::Interrupted).effects(vec![done(JobResult::Passed, None), Effect::Release])),
        ("an agent asked to disconnect shuts down as requested after its job",
            disconnecting, job(true, true), None, finished(JobResult::Stopped),
            shutdown(ShutdownReason::Requested).effects(vec![done(JobResult::Stopped, None), Effect::Release])),
    ];
    for (name, agent, job, next, request, want) in cases {
        let got = decide(&agent, job.as_ref(), next, &request, NOW);
        assert_eq!(got.response.action, want.action, "{name}");
        assert_eq!(got.response.job_id.as_deref(), want.job_id, "{name}");
        assert_eq!(got.response.shutdown_reason, want.reason, "{name}");
        assert_eq!(got.effects, want.effects, "{name}");
    }
}

#[test]
fn the_clock_finds_lost_agents_and_jobs_past_their_limit() {
    let silent = |name: &str, secs: i64, job: Option<(&str, bool)>| SweptAgent {
        name: name.into(),
        last_sync: NOW - secs,
        job: job.map(|(id, started)| (id.to_owned(), started)),
    };
    let running = |id: &str, for_secs: i64, limit: Option<u64>, stopping: bool| SweptJob {
        id: id.into(),
        started_at: NOW - for_secs,
        time_limit_secs: limit,
        stop_requested: stopping,
    };
    #[rustfmt::skip]
    let cases: Vec<SweepCase> = vec![
        ("an agent heard from within the timeout is kept",
            vec![silent("a", 60, None)], vec![], vec![]),
        ("a silent idle agent is lost",
            vec![silent("a", 61, None)], vec![], vec!["lost a"]),
        ("a silent agent's started job fails",
            vec![silent("a", 61, Some(("j1", true)))], vec![], vec!["failed j1", "lost a"]),
        ("a silent agent's job that never started is queued again",
            vec![silent("a", 61, Some(("j1", false)))], vec![], vec!["requeued j1", "lost a"]),
        ("a job within its limit runs on",
            vec![], vec![running("j1", 600, Some(600), false)], vec![]),
        ("a job past its limit is stopped",
            vec![], vec![running("j1", 601, Some(600), false)], vec!["stop j1"]),
        ("a job already being stopped is not stopped again",
            vec![], vec![running("j1", 9_999, Some(600), true)], vec![]),
        ("a job without a limit runs on",
            vec![], vec![running("j1", 9_999, None, false)], vec![]),
    ];
    for (name, agents, jobs, want) in cases {
        let got: Vec<String> = sweep(&agents, &jobs, 60, NOW)
            .into_iter()
            .map(|e| match e {
                SweepEffect::AgentLost { agent, reason } => {
                    assert!(reason.contains("stopped syncing"), "{name}: {reason}");
                    format!("lost {agent}")
                }
                SweepEffect::JobFailed { job_id, reason } => {
                    assert!(reason.contains("stopped syncing"), "{name}: {reason}");
                    format!("failed {job_id}")
                }
                SweepEffect::JobRequeued(id) => format!("requeued {id}"),
                SweepEffect::StopJob { job_id, reason } => {
                    assert!(reason.contains("time limit of 600 s"), "{name}: {reason}");
                    format!("stop {job_id}")
                }
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }
}
