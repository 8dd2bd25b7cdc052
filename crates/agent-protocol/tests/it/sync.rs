//! `/sync`: the agent's reports, the hub's answers, and how unknown values are kept.

use std::time::Duration;

use agent_protocol::{
    AgentState, HubAction, JobResult, ShutdownHookReason, ShutdownReason, SyncRequest, SyncResponse,
};

use crate::fixtures::{first_line, round_trip, round_trip_text};

#[test]
fn sync_requests_round_trip_byte_for_byte() {
    let cases = [
        ("spec_sync_request_waiting.json", SyncRequest::waiting()),
        (
            "spec_sync_request_running.json",
            SyncRequest {
                state: AgentState::RunningJob,
                job_id: Some("j1".into()),
                job_result: None,
                interrupted_at: None,
            },
        ),
        (
            "captured_sync_request_finished_job.json",
            SyncRequest {
                state: AgentState::FinishedJob,
                job_id: Some("j1".into()),
                job_result: Some(JobResult::Passed),
                interrupted_at: None,
            },
        ),
    ];
    for (file, expected) in cases {
        let request: SyncRequest = round_trip(file);
        assert_eq!(request, expected, "{file}");
        assert_eq!(
            serde_json::to_string(&request).expect("serializes"),
            first_line(file),
            "{file}"
        );
    }
}

#[test]
fn an_interrupted_agent_reports_the_signal_time() {
    let request: SyncRequest = round_trip_text(
        r#"{"state":"running-job","job_id":"j1","job_result":"","interrupted_at":1795396373}"#,
        "interrupted sync",
    );
    assert_eq!(request.interrupted_at, Some(1_795_396_373));
}

#[test]
fn a_hub_refuses_an_unknown_state_and_result() {
    for (body, bad) in [
        (r#"{"state":"dancing"}"#, "dancing"),
        (r#"{"state":"finished-job","job_result":"maybe"}"#, "maybe"),
    ] {
        let err = serde_json::from_str::<SyncRequest>(body).expect_err("refused");
        assert!(
            err.to_string()
                .contains(&format!("unknown variant `{bad}`")),
            "{err}"
        );
    }
}

#[test]
fn sync_responses_round_trip() {
    let with = |action, job_id: Option<&str>, reason, ms| SyncResponse {
        action,
        job_id: job_id.map(str::to_owned),
        shutdown_reason: reason,
        next_sync_after_ms: ms,
    };
    let cases = [
        (
            "spec_sync_response_continue.json",
            with(HubAction::Continue, None, None, Some(1000)),
        ),
        (
            "spec_sync_response_run_job.json",
            with(HubAction::RunJob, Some("j1"), None, Some(1000)),
        ),
        (
            "spec_sync_response_stop_job.json",
            with(HubAction::StopJob, Some("j1"), None, None),
        ),
        (
            "spec_sync_response_wait_for_jobs.json",
            SyncResponse::new(HubAction::WaitForJobs),
        ),
        (
            "spec_sync_response_shutdown.json",
            with(
                HubAction::Shutdown,
                None,
                Some(ShutdownReason::JobFinished),
                None,
            ),
        ),
    ];
    for (file, expected) in cases {
        let response: SyncResponse = round_trip(file);
        assert_eq!(response, expected, "{file}");
    }
}

#[test]
fn unknown_actions_and_reasons_are_kept_not_refused() {
    let response: SyncResponse = round_trip_text(
        r#"{"action":"reboot","shutdown_reason":"maintenance"}"#,
        "unknown values",
    );
    assert_eq!(response.action, HubAction::Unknown("reboot".into()));
    assert!(!response.action.is_known());
    assert_eq!(
        response.shutdown_reason,
        Some(ShutdownReason::Unknown("maintenance".into()))
    );
    assert_eq!(
        ShutdownHookReason::from_hub(response.shutdown_reason.as_ref()),
        ShutdownHookReason::Unknown
    );
}

#[test]
fn missing_empty_and_extra_response_fields_are_tolerated() {
    let response: SyncResponse =
        serde_json::from_str(r#"{"job_id":"","shutdown_reason":"","extra":[1]}"#)
            .expect("tolerated");
    assert_eq!(
        response,
        SyncResponse::new(HubAction::Unknown(String::new()))
    );
    let response: SyncResponse =
        serde_json::from_str(r#"{"action":"shutdown","shutdown_reason":null}"#).expect("tolerated");
    assert_eq!(response.shutdown_reason, None);
}

#[test]
fn next_sync_after_is_used_only_when_positive() {
    for (name, ms, expected) in [
        ("missing", None, None),
        ("zero", Some(0), None),
        ("negative", Some(-5), None),
        ("one second", Some(1000), Some(Duration::from_secs(1))),
        ("one millisecond", Some(1), Some(Duration::from_millis(1))),
    ] {
        let response = SyncResponse {
            next_sync_after_ms: ms,
            ..SyncResponse::new(HubAction::Continue)
        };
        assert_eq!(response.next_sync_after(), expected, "{name}");
    }
}
