//! One named case per rule: the events so far, the event, the time, and the expected request
//! and step.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_core::{Effect, Event, Listener, NextSync, Step};
use agent_protocol::{
    AgentState, HubAction, JobResult, ShutdownHookReason, ShutdownReason, SyncRequest, SyncResponse,
};

/// Registration time of every case: the timestamp of the spec's sample log.
const T0: u64 = 1_795_396_373;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn hub(action: HubAction) -> Event {
    Event::SyncSucceeded(SyncResponse {
        next_sync_after_ms: Some(1000),
        ..SyncResponse::new(action)
    })
}

fn hub_job(action: HubAction, job: &str) -> Event {
    Event::SyncSucceeded(SyncResponse {
        job_id: Some(job.into()),
        next_sync_after_ms: Some(1000),
        ..SyncResponse::new(action)
    })
}

fn shutdown(reason: Option<ShutdownReason>) -> Event {
    Event::SyncSucceeded(SyncResponse {
        shutdown_reason: reason,
        ..SyncResponse::new(HubAction::Shutdown)
    })
}

fn running(job: &str) -> Event {
    Event::JobRunning { job_id: job.into() }
}

fn finished(job: &str, result: JobResult) -> Event {
    Event::JobFinished {
        job_id: job.into(),
        result,
    }
}

fn request(state: AgentState, job: Option<&str>, result: Option<JobResult>) -> SyncRequest {
    SyncRequest {
        state,
        job_id: job.map(str::to_owned),
        job_result: result,
        interrupted_at: None,
    }
}

fn interrupted(mut request: SyncRequest, secs: u64) -> SyncRequest {
    request.interrupted_at = Some(i64::try_from(T0 + secs).expect("fits"));
    request
}

fn step(next: Option<NextSync>, effects: Vec<Effect>) -> Step {
    Step {
        next_sync: next,
        effects,
    }
}

const HUB_WAIT: Option<NextSync> = Some(NextSync::After(Duration::from_secs(1)));
const RANDOM_WAIT: Option<NextSync> = Some(NextSync::Random {
    min: Duration::from_secs(3),
    max: Duration::from_secs(6),
});
const NOW: Option<NextSync> = Some(NextSync::Now);

fn start(job: &str) -> Effect {
    Effect::StartJob { job_id: job.into() }
}

fn stop(job: &str) -> Effect {
    Effect::StopJob { job_id: job.into() }
}

fn bye(reason: ShutdownHookReason) -> Effect {
    Effect::Shutdown { reason }
}

struct Case {
    name: &'static str,
    /// Events before, with their time in seconds after registration.
    given: Vec<(u64, Event)>,
    when: (u64, Event),
    request: SyncRequest,
    step: Step,
}

fn cases() -> Vec<Case> {
    use AgentState::*;
    use JobResult::*;
    let idle = request(WaitingForJobs, None, None);
    vec![
        Case {
            name: "idle agent gets continue and waits as long as the hub says",
            given: vec![],
            when: (1, hub(HubAction::Continue)),
            request: idle.clone(),
            step: step(HUB_WAIT, vec![]),
        },
        Case {
            name: "continue without next_sync_after waits 3 to 6 s",
            given: vec![],
            when: (
                1,
                Event::SyncSucceeded(SyncResponse::new(HubAction::Continue)),
            ),
            request: idle.clone(),
            step: step(RANDOM_WAIT, vec![]),
        },
        Case {
            name: "a negative next_sync_after waits 3 to 6 s",
            given: vec![],
            when: (
                1,
                Event::SyncSucceeded(SyncResponse {
                    next_sync_after_ms: Some(-1),
                    ..SyncResponse::new(HubAction::Continue)
                }),
            ),
            request: idle.clone(),
            step: step(RANDOM_WAIT, vec![]),
        },
        Case {
            name: "an unknown action is ignored",
            given: vec![],
            when: (1, hub(HubAction::Unknown("reboot".into()))),
            request: idle.clone(),
            step: step(HUB_WAIT, vec![]),
        },
        Case {
            name: "idle agent gets run-job and starts it",
            given: vec![],
            when: (1, hub_job(HubAction::RunJob, "j1")),
            request: request(StartingJob, Some("j1"), None),
            step: step(HUB_WAIT, vec![start("j1")]),
        },
        Case {
            name: "run-job without a job id is ignored",
            given: vec![],
            when: (1, hub(HubAction::RunJob)),
            request: idle.clone(),
            step: step(HUB_WAIT, vec![]),
        },
        Case {
            name: "run-job while a job runs is ignored",
            given: vec![(1, hub_job(HubAction::RunJob, "j1")), (1, running("j1"))],
            when: (2, hub_job(HubAction::RunJob, "j2")),
            request: request(RunningJob, Some("j1"), None),
            step: step(HUB_WAIT, vec![]),
        },
        Case {
            name: "a fetched and built job reports running-job without an early sync",
            given: vec![(1, hub_job(HubAction::RunJob, "j1"))],
            when: (1, running("j1")),
            request: request(RunningJob, Some("j1"), None),
            step: step(None, vec![]),
        },
        Case {
            name: "a job that cannot be fetched is finished-job/failed at once",
            given: vec![(1, hub_job(HubAction::RunJob, "j1"))],
            when: (
                31,
                Event::JobFailedToStart {
                    job_id: "j1".into(),
                },
            ),
            request: request(FinishedJob, Some("j1"), Some(Failed)),
            step: step(NOW, vec![]),
        },
        Case {
            name: "the end of a job forces a sync with its result",
            given: vec![(1, hub_job(HubAction::RunJob, "j1")), (1, running("j1"))],
            when: (9, finished("j1", Passed)),
            request: request(FinishedJob, Some("j1"), Some(Passed)),
            step: step(NOW, vec![]),
        },
        Case {
            name: "an event about another job is ignored",
            given: vec![(1, hub_job(HubAction::RunJob, "j1")), (1, running("j1"))],
            when: (9, finished("j0", Failed)),
            request: request(RunningJob, Some("j1"), None),
            step: step(None, vec![]),
        },
        Case {
            name: "a job event while idle is ignored",
            given: vec![],
            when: (9, running("j1")),
            request: idle.clone(),
            step: step(None, vec![]),
        },
        Case {
            name: "stop-job on a running job stops it",
            given: vec![(1, hub_job(HubAction::RunJob, "j1")), (1, running("j1"))],
            when: (5, hub_job(HubAction::StopJob, "j1")),
            request: request(StoppingJob, Some("j1"), None),
            step: step(HUB_WAIT, vec![stop("j1")]),
        },
        Case {
            name: "stop-job for another id stops the running job and keeps its id",
            given: vec![(1, hub_job(HubAction::RunJob, "j1")), (1, running("j1"))],
            when: (5, hub_job(HubAction::StopJob, "j2")),
            request: request(StoppingJob, Some("j1"), None),
            step: step(HUB_WAIT, vec![stop("j1")]),
        },
        Case {
            name: "stop-job while starting stops the job",
            given: vec![(1, hub_job(HubAction::RunJob, "j1"))],
            when: (2, hub_job(HubAction::StopJob, "j1")),
            request: request(StoppingJob, Some("j1"), None),
            step: step(HUB_WAIT, vec![stop("j1")]),
        },
        Case {
            name: "a job stopped while starting is stopped again once it exists",
            given: vec![
                (1, hub_job(HubAction::RunJob, "j1")),
                (2, hub_job(HubAction::StopJob, "j1")),
            ],
            when: (3, running("j1")),
            request: request(StoppingJob, Some("j1"), None),
            step: step(None, vec![stop("j1")]),
        },
        Case {
            name: "a second stop-job is not repeated",
            given: vec![
                (1, hub_job(HubAction::RunJob, "j1")),
                (1, running("j1")),
                (2, hub_job(HubAction::StopJob, "j1")),
            ],
            when: (3, hub_job(HubAction::StopJob, "j1")),
            request: request(StoppingJob, Some("j1"), None),
            step: step(HUB_WAIT, vec![]),
        },
        Case {
            name: "a stopped job ends as finished-job/stopped",
            given: vec![
                (1, hub_job(HubAction::RunJob, "j1")),
                (1, running("j1")),
                (2, hub_job(HubAction::StopJob, "j1")),
            ],
            when: (3, finished("j1", Stopped)),
            request: request(FinishedJob, Some("j1"), Some(Stopped)),
            step: step(NOW, vec![]),
        },
        Case {
            name: "stop-job after the job finished is ignored",
            given: vec![
                (1, hub_job(HubAction::RunJob, "j1")),
                (1, running("j1")),
                (2, finished("j1", Passed)),
            ],
            when: (2, hub_job(HubAction::StopJob, "j1")),
            request: request(FinishedJob, Some("j1"), Some(Passed)),
            step: step(HUB_WAIT, vec![]),
        },
        Case {
            name: "stop-job while idle is ignored",
            given: vec![],
            when: (2, hub_job(HubAction::StopJob, "j1")),
            request: idle.clone(),
            step: step(HUB_WAIT, vec![]),
        },
        Case {
            name: "wait-for-jobs after a finished job clears job and result",
            given: vec![
                (1, hub_job(HubAction::RunJob, "j1")),
                (1, running("j1")),
                (2, finished("j1", Failed)),
            ],
            when: (2, hub(HubAction::WaitForJobs)),
            request: idle.clone(),
            step: step(HUB_WAIT, vec![]),
        },
        Case {
            name: "wait-for-jobs while a job runs is ignored",
            given: vec![(1, hub_job(HubAction::RunJob, "j1")), (1, running("j1"))],
            when: (2, hub(HubAction::WaitForJobs)),
            request: request(RunningJob, Some("j1"), None),
            step: step(HUB_WAIT, vec![]),
        },
        Case {
            name: "run-job right after finished-job starts the next job",
            given: vec![
                (1, hub_job(HubAction::RunJob, "j1")),
                (1, running("j1")),
                (2, finished("j1", Passed)),
            ],
            when: (2, hub_job(HubAction::RunJob, "j2")),
            request: request(StartingJob, Some("j2"), None),
            step: step(HUB_WAIT, vec![start("j2")]),
        },
        Case {
            name: "shutdown/idle runs the hook with IDLE",
            given: vec![],
            when: (300, shutdown(Some(ShutdownReason::Idle))),
            request: idle.clone(),
            step: step(None, vec![bye(ShutdownHookReason::Idle)]),
        },
        Case {
            name: "shutdown/job-finished runs the hook with JOB_FINISHED",
            given: vec![
                (1, hub_job(HubAction::RunJob, "j1")),
                (1, running("j1")),
                (2, finished("j1", Passed)),
            ],
            when: (2, shutdown(Some(ShutdownReason::JobFinished))),
            request: request(FinishedJob, Some("j1"), Some(Passed)),
            step: step(None, vec![bye(ShutdownHookReason::JobFinished)]),
        },
        Case {
            name: "shutdown/requested runs the hook with REQUESTED",
            given: vec![],
            when: (2, shutdown(Some(ShutdownReason::Requested))),
            request: idle.clone(),
            step: step(None, vec![bye(ShutdownHookReason::Requested)]),
        },
        Case {
            name: "shutdown/interrupted runs the hook with INTERRUPTED",
            given: vec![(2, Event::Interrupted)],
            when: (3, shutdown(Some(ShutdownReason::Interrupted))),
            request: interrupted(idle.clone(), 2),
            step: step(None, vec![bye(ShutdownHookReason::Interrupted)]),
        },
        Case {
            name: "shutdown without a reason runs the hook with UNKNOWN",
            given: vec![],
            when: (2, shutdown(None)),
            request: idle.clone(),
            step: step(None, vec![bye(ShutdownHookReason::Unknown)]),
        },
        Case {
            name: "shutdown with an unknown reason runs the hook with UNKNOWN",
            given: vec![],
            when: (2, shutdown(Some(ShutdownReason::Unknown("upgrade".into())))),
            request: idle.clone(),
            step: step(None, vec![bye(ShutdownHookReason::Unknown)]),
        },
        Case {
            name: "shutdown while a job runs stops the job first",
            given: vec![(1, hub_job(HubAction::RunJob, "j1")), (1, running("j1"))],
            when: (2, shutdown(Some(ShutdownReason::Requested))),
            request: request(RunningJob, Some("j1"), None),
            step: step(None, vec![stop("j1"), bye(ShutdownHookReason::Requested)]),
        },
        Case {
            name: "events after the shutdown are ignored",
            given: vec![
                (1, hub_job(HubAction::RunJob, "j1")),
                (1, running("j1")),
                (2, shutdown(None)),
            ],
            when: (3, finished("j1", Stopped)),
            request: request(RunningJob, Some("j1"), None),
            step: step(None, vec![]),
        },
        Case {
            name: "a sync error retries in 3 to 6 s",
            given: vec![],
            when: (10, Event::SyncFailed),
            request: idle.clone(),
            step: step(RANDOM_WAIT, vec![]),
        },
        Case {
            name: "a sync error exactly ten minutes after registration still retries",
            given: vec![(300, Event::SyncFailed)],
            when: (600, Event::SyncFailed),
            request: idle.clone(),
            step: step(RANDOM_WAIT, vec![]),
        },
        Case {
            name: "a sync error over ten minutes after the last success gives up",
            given: vec![(300, Event::SyncFailed)],
            when: (601, Event::SyncFailed),
            request: idle.clone(),
            step: step(None, vec![bye(ShutdownHookReason::UnableToSync)]),
        },
        Case {
            name: "a successful sync restarts the ten minutes",
            given: vec![(500, hub(HubAction::Continue)), (900, Event::SyncFailed)],
            when: (1100, Event::SyncFailed),
            request: idle.clone(),
            step: step(RANDOM_WAIT, vec![]),
        },
        Case {
            name: "giving up while a job runs stops the job first",
            given: vec![(1, hub_job(HubAction::RunJob, "j1")), (1, running("j1"))],
            when: (602, Event::SyncFailed),
            request: request(RunningJob, Some("j1"), None),
            step: step(
                None,
                vec![stop("j1"), bye(ShutdownHookReason::UnableToSync)],
            ),
        },
        Case {
            name: "SIGTERM records interrupted_at and forces a sync",
            given: vec![],
            when: (5, Event::Interrupted),
            request: interrupted(idle.clone(), 5),
            step: step(NOW, vec![]),
        },
        Case {
            name: "a second SIGTERM keeps the first time and forces nothing",
            given: vec![(5, Event::Interrupted)],
            when: (9, Event::Interrupted),
            request: interrupted(idle.clone(), 5),
            step: step(None, vec![]),
        },
        Case {
            name: "SIGTERM during a job is reported with the job and does not stop it",
            given: vec![(1, hub_job(HubAction::RunJob, "j1")), (1, running("j1"))],
            when: (5, Event::Interrupted),
            request: interrupted(request(RunningJob, Some("j1"), None), 5),
            step: step(NOW, vec![]),
        },
        Case {
            name: "interrupted_at stays on every later sync",
            given: vec![
                (5, Event::Interrupted),
                (6, hub_job(HubAction::RunJob, "j1")),
                (6, running("j1")),
            ],
            when: (8, finished("j1", Passed)),
            request: interrupted(request(FinishedJob, Some("j1"), Some(Passed)), 5),
            step: step(NOW, vec![]),
        },
    ]
}

#[test]
fn transitions() {
    let cases = cases();
    assert!(cases.len() >= 30);
    for case in cases {
        let mut listener = Listener::new(at(0));
        for (secs, event) in case.given {
            listener.handle(event, at(secs));
        }
        let (secs, event) = case.when;
        let step = listener.handle(event, at(secs));
        assert_eq!(step, case.step, "{}: step", case.name);
        assert_eq!(
            listener.sync_request(),
            case.request,
            "{}: request",
            case.name
        );
    }
}

#[test]
fn a_new_listener_reports_waiting_for_jobs() {
    let listener = Listener::new(at(0));
    assert_eq!(listener.sync_request(), SyncRequest::waiting());
    assert_eq!(listener.state(), AgentState::WaitingForJobs);
    assert_eq!(listener.job_id(), None);
    assert_eq!(listener.interrupted_at(), None);
    assert_eq!(listener.shutdown_reason(), None);
}

#[test]
fn the_captured_session_replays() {
    // Spec 3.6: run-job on the first sync, continue while running, the job passes, the hub
    // answers finished-job with shutdown/job-finished; exit code 0.
    let mut l = Listener::new(at(0));
    let first = l.handle(hub_job(HubAction::RunJob, "j1"), at(0));
    assert_eq!(first.effects, vec![start("j1")]);
    l.handle(running("j1"), at(0));
    for s in 1..=8 {
        assert_eq!(
            l.sync_request(),
            request(AgentState::RunningJob, Some("j1"), None)
        );
        assert_eq!(
            l.handle(hub(HubAction::Continue), at(s)),
            step(HUB_WAIT, vec![])
        );
    }
    assert_eq!(
        l.handle(finished("j1", JobResult::Passed), at(9)).next_sync,
        NOW
    );
    assert_eq!(
        serde_json::to_string(&l.sync_request()).expect("serializes"),
        r#"{"state":"finished-job","job_id":"j1","job_result":"passed","interrupted_at":0}"#
    );
    let last = l.handle(shutdown(Some(ShutdownReason::JobFinished)), at(9));
    assert_eq!(last.effects, vec![bye(ShutdownHookReason::JobFinished)]);
    assert_eq!(l.shutdown_reason().map(|r| r.exit_code()), Some(0));
}

#[test]
fn a_clock_that_goes_back_does_not_give_up() {
    let mut l = Listener::new(at(1000));
    assert_eq!(
        l.handle(Event::SyncFailed, at(0)),
        step(RANDOM_WAIT, vec![])
    );
}

#[test]
fn giving_up_exits_with_code_1() {
    let mut l = Listener::new(at(0));
    l.handle(Event::SyncFailed, at(601));
    assert_eq!(l.shutdown_reason(), Some(ShutdownHookReason::UnableToSync));
    assert_eq!(ShutdownHookReason::UnableToSync.exit_code(), 1);
}

#[test]
fn the_wait_before_the_next_sync() {
    let random = NextSync::Random {
        min: Duration::from_secs(3),
        max: Duration::from_secs(6),
    };
    for (name, next, draw, wait) in [
        ("now", NextSync::Now, 12345, Duration::ZERO),
        (
            "as the hub says",
            NextSync::After(Duration::from_millis(1500)),
            7,
            Duration::from_millis(1500),
        ),
        ("random at its lowest", random, 0, Duration::from_secs(3)),
        (
            "random at its highest",
            random,
            3000,
            Duration::from_secs(6),
        ),
        ("random wraps around", random, 3001, Duration::from_secs(3)),
        (
            "random in between",
            random,
            1234,
            Duration::from_millis(4234),
        ),
        (
            "any draw stays in range",
            random,
            u64::MAX,
            Duration::from_millis(3000 + u64::MAX % 3001),
        ),
    ] {
        assert_eq!(next.wait(draw), wait, "{name}");
    }
}
