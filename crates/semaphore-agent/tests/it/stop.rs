//! Stopping a job (spec 9.7): during a command and during the epilogues, with the post-job
//! hook, and with processes that ignore SIGTERM and SIGHUP: the whole session is gone
//! afterwards and nothing is orphaned.

use std::time::{Duration, Instant};

use agent_protocol::JobResult;

use crate::support::{
    Harness, assert_fixture, fixture_request, processes_matching, wait_for_started,
};

/// Runs a fixture case, stops it once `directive` has been running a moment, and checks the
/// events and the result.
fn stop_case(harness: &Harness, case: &str, directive: &str) -> crate::support::Outcome {
    let request = fixture_request(harness, case);
    let (stop, rx, handle) = harness.spawn(request);
    wait_for_started(&rx, directive);
    std::thread::sleep(Duration::from_millis(300));
    stop.stop();
    let outcome = handle.join().expect("the job thread ends");
    assert_eq!(outcome.result, JobResult::Stopped, "{case}");
    assert_fixture(case, &outcome, &harness.home(), &harness.tmp());
    outcome
}

#[test]
fn stop_during_a_command() {
    let harness = Harness::new();
    stop_case(&harness, "stop_during_command", "sleep 1000");
}

#[test]
fn stop_during_the_epilogues() {
    let harness = Harness::new();
    stop_case(&harness, "stop_during_epilogue", "sleep 1000");
}

#[test]
fn the_post_job_hook_still_runs_after_a_stop() {
    let mut harness = Harness::new();
    let hook = harness.tmp().join("post.sh");
    std::fs::write(&hook, "echo post-hook\n").expect("hook written");
    harness.settings.post_job_hook_path = Some(hook.to_string_lossy().into_owned());
    stop_case(&harness, "stop_with_post_job_hook", "sleep 1000");
}

#[test]
fn stopping_ends_the_whole_session_with_term_then_kill() {
    let mut harness = Harness::new();
    harness.grace = Duration::from_millis(700);
    let marker = format!(
        "orphan-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    let pid_file = harness.tmp().join("shell.pid");
    // A background job that ignores TERM and HUP (only KILL ends it), one that would die of
    // the hangup, and a foreground command: all in the job's session.
    let directive = format!(
        "echo $$ > {pid}; (trap '' TERM HUP; exec -a {marker}-stubborn sleep 1000) & \
         (exec -a {marker}-plain sleep 1000) & sleep 1000",
        pid = pid_file.display()
    );
    let request =
        harness.request(&serde_json::json!({"commands": [{"directive": directive}]}).to_string());
    let (stop, rx, handle) = harness.spawn(request);
    wait_for_started(&rx, &directive);
    let deadline = Instant::now() + Duration::from_secs(10);
    while processes_matching(&marker).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the background jobs never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let stopped_at = Instant::now();
    stop.stop();
    let outcome = handle.join().expect("the job thread ends");
    assert_eq!(outcome.result, JobResult::Stopped);
    assert!(
        stopped_at.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        stopped_at.elapsed()
    );
    let left = processes_matching(&marker);
    assert!(left.is_empty(), "orphans left: {left:?}");
    #[cfg(target_os = "linux")]
    {
        let sid: i32 = std::fs::read_to_string(&pid_file)
            .expect("the shell wrote its pid")
            .trim()
            .parse()
            .expect("a pid");
        assert!(
            semaphore_agent::executor::session::members(sid).is_empty(),
            "processes left in the job's session"
        );
    }
}

#[test]
fn a_stop_before_any_command_skips_everything_but_job_events() {
    let harness = Harness::new();
    let request = harness.request(r#"{"commands": [{"directive": "echo never"}]}"#);
    let stop = semaphore_agent::executor::StopSignal::new();
    stop.stop();
    let mut sink = semaphore_agent::events::FakeSink::default();
    let outcome = harness.run_with(&request, &mut sink, &stop);
    assert_eq!(outcome.result, JobResult::Stopped);
    assert!(matches!(
        outcome.events.last(),
        Some(agent_protocol::LogEvent::JobFinished { .. })
    ));
    assert!(
        !outcome
            .events
            .iter()
            .any(|e| matches!(e, agent_protocol::LogEvent::CmdStarted { directive, .. } if directive == "echo never"))
    );
    assert_eq!(sink.closed, 1);
}
