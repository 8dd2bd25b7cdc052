//! Properties that hold whatever the hub sends and whatever order jobs and signals arrive in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_core::{Effect, Event, Listener, NextSync};
use agent_protocol::{AgentState, HubAction, JobResult, ShutdownReason, SyncResponse};
use proptest::prelude::*;

fn job_id() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("j1".to_owned())),
        Just(Some("j2".to_owned())),
    ]
}

fn action() -> impl Strategy<Value = HubAction> {
    prop_oneof![
        Just(HubAction::Continue),
        Just(HubAction::RunJob),
        Just(HubAction::StopJob),
        Just(HubAction::WaitForJobs),
        Just(HubAction::Shutdown),
        Just(HubAction::Unknown("x".into())),
    ]
}

fn result() -> impl Strategy<Value = JobResult> {
    prop_oneof![
        Just(JobResult::Passed),
        Just(JobResult::Failed),
        Just(JobResult::Stopped),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    let id = || prop_oneof![Just("j1".to_owned()), Just("j2".to_owned())];
    prop_oneof![
        4 => (action(), job_id(), prop::option::of(-10i64..5000)).prop_map(|(action, job_id, ms)| {
            Event::SyncSucceeded(SyncResponse {
                action,
                job_id,
                shutdown_reason: Some(ShutdownReason::Idle),
                next_sync_after_ms: ms,
            })
        }),
        1 => Just(Event::SyncFailed),
        2 => id().prop_map(|job_id| Event::JobRunning { job_id }),
        1 => id().prop_map(|job_id| Event::JobFailedToStart { job_id }),
        2 => (id(), result()).prop_map(|(job_id, result)| Event::JobFinished { job_id, result }),
        1 => Just(Event::Interrupted),
    ]
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_396_373 + secs)
}

proptest! {
    #[test]
    fn reports_stay_consistent(events in prop::collection::vec((0u64..400, event()), 0..40)) {
        let mut listener = Listener::new(at(0));
        let mut secs = 0;
        let mut first_interrupt = None;
        for (gap, event) in events {
            secs += gap;
            let before = listener.clone();
            let step = listener.handle(event, at(secs));
            let request = listener.sync_request();

            // A result only in finished-job; a job id whenever the agent is not idle.
            prop_assert_eq!(request.job_result.is_some(), request.state == AgentState::FinishedJob);
            prop_assert_eq!(request.job_id.is_none(), request.state == AgentState::WaitingForJobs);

            // The first interruption time never changes.
            if first_interrupt.is_none() {
                first_interrupt = request.interrupted_at;
            }
            prop_assert_eq!(request.interrupted_at, first_interrupt);

            // A shutdown is final: last effect, no next sync, nothing afterwards.
            if before.shutdown_reason().is_some() {
                prop_assert!(step.effects.is_empty() && step.next_sync.is_none());
                prop_assert_eq!(&before, &listener);
            }
            if let Some(pos) = step.effects.iter().position(|e| matches!(e, Effect::Shutdown { .. })) {
                prop_assert_eq!(pos, step.effects.len() - 1);
                prop_assert!(step.next_sync.is_none());
                prop_assert!(listener.shutdown_reason().is_some());
            }

            // A job starts only from an idle agent, and becomes the reported job.
            for effect in &step.effects {
                match effect {
                    Effect::StartJob { job_id } => {
                        prop_assert!(matches!(
                            before.state(),
                            AgentState::WaitingForJobs | AgentState::FinishedJob
                        ));
                        prop_assert_eq!(listener.state(), AgentState::StartingJob);
                        prop_assert_eq!(listener.job_id(), Some(job_id.as_str()));
                    }
                    Effect::StopJob { job_id } => {
                        prop_assert_eq!(before.job_id(), Some(job_id.as_str()));
                    }
                    Effect::Shutdown { .. } => {}
                }
            }

            // A job end always forces a sync.
            if before.state() != AgentState::FinishedJob
                && listener.state() == AgentState::FinishedJob
            {
                prop_assert_eq!(step.next_sync, Some(NextSync::Now));
            }
        }
    }
}
