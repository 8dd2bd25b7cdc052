//! Listener mode end to end: the agent's `Agent::run` against the fake hub and loghub over
//! real HTTP on 127.0.0.1, one test per fault, on tokio's paused clock (so the hard-coded
//! retry delays and the ten-minute rule take milliseconds).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent_protocol::{
    AgentState, Base64, EnvVar, JobResult, LogEvent, RegisterRequest, ShutdownHookReason,
    UploadJobLogs,
};
use semaphore_agent::executor::env::BaseEnv;
use semaphore_agent::listener::hub::HttpHub;
use semaphore_agent::listener::signals::ChannelSignals;
use semaphore_agent::listener::upload::{ARTIFACT_CLI, DEFAULT_COMPRESSION_SIZE, UploadSettings};
use semaphore_agent::listener::{
    AGENT_VERSION, Agent, AgentSettings, Clock, JobRunner, ListenerError, Outcome,
};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::fake_hub::{
    ACCESS_TOKEN, FIRST_LOG_TOKEN, FRESH_LOG_TOKEN, FakeHub, REGISTRATION_TOKEN,
};
use crate::fake_runner::FakeRunner;

struct World {
    hub: FakeHub,
    clock: Clock,
    dir: tempfile::TempDir,
    registration: RegisterRequest,
    hook: Option<PathBuf>,
    upload: UploadSettings,
}

impl World {
    async fn new() -> World {
        let clock = Clock::start();
        World {
            hub: FakeHub::start(clock).await,
            clock,
            dir: tempfile::tempdir().expect("tempdir"),
            registration: RegisterRequest {
                name: "test-agent-01".to_owned(),
                version: AGENT_VERSION.to_owned(),
                pid: 1,
                arch: "x86_64".to_owned(),
                ..RegisterRequest::default()
            },
            hook: None,
            upload: UploadSettings {
                policy: UploadJobLogs::Never,
                compression_size: DEFAULT_COMPRESSION_SIZE,
                cli: PathBuf::from(ARTIFACT_CLI),
                env: BaseEnv::from_host(Vec::new(), Path::new("/nonexistent")),
            },
        }
    }

    /// A shutdown hook that writes its environment to `hook_env`.
    fn with_env_writing_hook(mut self) -> World {
        let script = self.dir.path().join("hook.sh");
        let out = self.dir.path().join("hook_env");
        std::fs::write(&script, format!("env > '{}'\n", out.display())).expect("hook");
        self.hook = Some(script);
        self
    }

    fn hook_env(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hook_env")).expect("the hook ran")
    }

    fn queue_job(&self, job_id: &str) {
        let job = self.hub.job(job_id);
        self.hub.state().queued_job = Some(job);
    }

    async fn run_with_signals<R: JobRunner>(
        &self,
        runner: R,
        signals: ChannelSignals,
    ) -> Result<Outcome, ListenerError> {
        let settings = AgentSettings {
            registration: self.registration.clone(),
            shutdown_hook_path: self.hook.clone(),
            spool_dir: self.dir.path().to_path_buf(),
            upload: self.upload.clone(),
        };
        let hub = HttpHub::new(self.hub.origin.clone(), REGISTRATION_TOKEN.into()).expect("client");
        Agent::new(
            settings,
            Arc::new(hub),
            Arc::new(runner),
            signals,
            self.clock,
        )
        .run()
        .await
    }

    async fn run<R: JobRunner>(&self, runner: R) -> Outcome {
        let (_tx, signals) = ChannelSignals::sender();
        self.run_with_signals(runner, signals)
            .await
            .expect("registered")
    }

    /// The event lines the loghub accepted, parsed, in index order; checks there is no gap.
    fn pushed_events(&self) -> Vec<LogEvent> {
        let hub = self.hub.state();
        let indexes: Vec<u64> = hub.log_lines.keys().copied().collect();
        assert_eq!(
            indexes,
            (0..indexes.len() as u64).collect::<Vec<_>>(),
            "no gap"
        );
        hub.log_lines
            .values()
            .map(|line| serde_json::from_str(line).expect("an event"))
            .collect()
    }
}

fn passing_job() -> FakeRunner {
    FakeRunner::new(5, Duration::from_secs(3), JobResult::Passed)
}

fn signal_after(tx: UnboundedSender<()>, after: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        tx.send(()).expect("agent listening");
    });
}

#[tokio::test(start_paused = true)]
async fn register_5xx_is_retried_then_the_agent_syncs_with_the_access_token() {
    let world = World::new().await;
    {
        let mut hub = world.hub.state();
        hub.register_failures = 3;
        hub.shutdown_requested = true;
    }
    let outcome = world.run(passing_job()).await;

    assert_eq!(outcome.reason, ShutdownHookReason::Requested);
    assert_eq!(outcome.exit_code(), 0);
    let registers = world.hub.requests_to("/register");
    assert_eq!(registers.len(), 4);
    for pair in registers.windows(2) {
        assert!(pair[1].at_ms - pair[0].at_ms >= 1000, "1 s apart");
    }
    let register = &registers[3];
    assert_eq!(
        register.authorization,
        format!("Token {REGISTRATION_TOKEN}")
    );
    assert_eq!(
        register.user_agent,
        format!("SemaphoreAgent/{AGENT_VERSION}")
    );
    assert_eq!(register.content_type, "", "Go sends no Content-Type");
    let body: serde_json::Value = serde_json::from_str(&register.body).expect("json");
    assert_eq!(body["name"], "test-agent-01");
    let syncs = world.hub.requests_to("/sync");
    assert_eq!(syncs[0].authorization, format!("Token {ACCESS_TOKEN}"));
    assert_eq!(
        syncs[0].body,
        r#"{"state":"waiting-for-jobs","job_id":"","job_result":"","interrupted_at":0}"#
    );
    assert_eq!(world.hub.requests_to("/disconnect").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn registration_gives_up_after_30_tries() {
    let world = World::new().await;
    world.hub.state().register_failures = 1000;
    let (_tx, signals) = ChannelSignals::sender();
    let err = world
        .run_with_signals(passing_job(), signals)
        .await
        .expect_err("registration fails");
    assert!(matches!(err, ListenerError::Register(_)), "{err:?}");
    assert_eq!(world.hub.requests_to("/register").len(), 30);
    assert!(world.hub.requests_to("/sync").is_empty());
}

#[tokio::test(start_paused = true)]
async fn sync_errors_are_retried_3_to_6_s_apart_and_the_agent_goes_on() {
    let mut world = World::new().await;
    world.registration.single_job = true;
    world.hub.state().sync_failures = 4;
    world.queue_job("j1");
    let outcome = world.run(passing_job()).await;

    assert_eq!(outcome.reason, ShutdownHookReason::JobFinished);
    let syncs = world.hub.requests_to("/sync");
    for pair in syncs[..5].windows(2) {
        let gap = pair[1].at_ms - pair[0].at_ms;
        assert!((3000..=6000).contains(&gap), "gap {gap} ms");
    }
    assert_eq!(
        world.hub.state().job_results,
        [("j1".to_owned(), JobResult::Passed)]
    );
}

#[tokio::test(start_paused = true)]
async fn get_job_failing_reports_failed_with_no_events() {
    let mut world = World::new().await;
    world.registration.single_job = true;
    world.queue_job("j1");
    world.hub.state().get_job_always_fails = true;
    let runner = passing_job();
    let outcome = world.run(runner.clone()).await;

    assert_eq!(outcome.reason, ShutdownHookReason::JobFinished);
    let gets = world.hub.requests_to("/jobs/j1");
    assert_eq!(gets.len(), 10);
    for pair in gets.windows(2) {
        assert!(pair[1].at_ms - pair[0].at_ms >= 3000, "3 s apart");
    }
    assert_eq!(gets[0].method, "GET");
    assert_eq!(gets[0].authorization, format!("Token {ACCESS_TOKEN}"));
    assert_eq!(
        world.hub.state().job_results,
        [("j1".to_owned(), JobResult::Failed)]
    );
    assert!(runner.runs().is_empty(), "the job never ran");
    assert!(
        world.hub.requests_to("/logs/j1").is_empty(),
        "no log events"
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_the_runner_refuses_is_failed_with_no_events() {
    let mut world = World::new().await;
    world.registration.single_job = true;
    world.queue_job("j1");
    world.run(FakeRunner::refusing()).await;
    assert_eq!(
        world.hub.state().job_results,
        [("j1".to_owned(), JobResult::Failed)]
    );
    assert!(world.hub.requests_to("/logs/j1").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_job_runs_its_logs_are_pushed_before_finished_job_and_the_spool_is_deleted() {
    let mut world = World::new().await.with_env_writing_hook();
    world.registration.single_job = true;
    world.queue_job("j1");
    let runner = passing_job();
    let outcome = world.run(runner.clone()).await;

    assert_eq!(outcome.reason, ShutdownHookReason::JobFinished);
    assert_eq!(runner.runs().len(), 1);
    let events = world.pushed_events();
    assert_eq!(events.len(), 9);
    assert!(matches!(events[0], LogEvent::JobStarted { .. }));
    assert!(matches!(
        events[8],
        LogEvent::JobFinished {
            result: JobResult::Passed,
            ..
        }
    ));
    // Every push came before the finished-job sync (spec 3.6).
    let hub = world.hub.state();
    let last_push = hub
        .requests
        .iter()
        .rposition(|r| r.path.starts_with("/logs/"))
        .expect("a push");
    let finished = hub
        .requests
        .iter()
        .position(|r| r.body.contains("finished-job"))
        .expect("a finished-job sync");
    assert!(last_push < finished);
    let push = hub
        .requests
        .iter()
        .find(|r| r.path.starts_with("/logs/"))
        .expect("push");
    assert_eq!(push.content_type, "text/plain");
    assert_eq!(push.authorization, format!("Bearer {FIRST_LOG_TOKEN}"));
    assert_eq!(push.user_agent, format!("SemaphoreAgent/{AGENT_VERSION}"));
    let states: Vec<AgentState> = hub.syncs.iter().map(|s| s.state).collect();
    assert!(states.contains(&AgentState::RunningJob), "{states:?}");
    drop(hub);
    assert!(
        world
            .hook_env()
            .contains("SEMAPHORE_AGENT_SHUTDOWN_REASON=JOB_FINISHED\n"),
        "{}",
        world.hook_env()
    );
    let left: Vec<_> = std::fs::read_dir(world.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("job_log_"))
        .collect();
    assert!(left.is_empty(), "spool deleted");
}

#[tokio::test(start_paused = true)]
async fn a_finished_job_forces_a_sync_at_once() {
    let mut world = World::new().await;
    world.registration.single_job = true;
    world.queue_job("j1");
    world.hub.state().next_sync_after_ms = 60_000;
    world.run(passing_job()).await;

    let syncs = world.hub.requests_to("/sync");
    let finished = syncs
        .iter()
        .find(|r| r.body.contains("finished-job"))
        .expect("finished-job sync");
    // Run-job at 0 s, job of 3 s, flush of at most a few seconds; the hub's 60 s never came.
    assert!(finished.at_ms < 20_000, "at {} ms", finished.at_ms);
}

#[tokio::test(start_paused = true)]
async fn log_push_401_refreshes_the_token_and_sends_the_same_batch_again() {
    let mut world = World::new().await;
    world.registration.single_job = true;
    world.queue_job("j1");
    world.hub.state().log_statuses.push_back(401);
    world
        .run(FakeRunner::new(
            5,
            Duration::from_secs(10),
            JobResult::Passed,
        ))
        .await;

    let pushes = world.hub.requests_to("/logs/j1");
    assert_eq!(pushes[0].authorization, format!("Bearer {FIRST_LOG_TOKEN}"));
    assert_eq!(pushes[0].query, "start_from=0");
    assert_eq!(pushes[1].authorization, format!("Bearer {FRESH_LOG_TOKEN}"));
    assert_eq!(pushes[1].query, "start_from=0");
    assert_eq!(pushes[1].body, pushes[0].body, "the same batch");
    let refreshes = world.hub.requests_to("/refresh");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].authorization, format!("Token {ACCESS_TOKEN}"));
    assert_eq!(refreshes[0].body, "");
    assert_eq!(refreshes[0].content_length, "0");
    assert_eq!(world.pushed_events().len(), 9);
}

#[tokio::test(start_paused = true)]
async fn log_push_422_ends_pushing_and_the_job_still_passes() {
    let mut world = World::new().await;
    world.registration.single_job = true;
    world.queue_job("j1");
    world.hub.state().log_statuses.push_back(422);
    world
        .run(FakeRunner::new(
            5,
            Duration::from_secs(10),
            JobResult::Passed,
        ))
        .await;

    assert_eq!(
        world.hub.requests_to("/logs/j1").len(),
        1,
        "no push after 422"
    );
    assert_eq!(
        world.hub.state().job_results,
        [("j1".to_owned(), JobResult::Passed)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_loud_job_is_pushed_in_batches_of_at_most_2000() {
    let mut world = World::new().await;
    world.registration.single_job = true;
    world.queue_job("j1");
    world
        .run(FakeRunner::new(
            4500,
            Duration::from_secs(1),
            JobResult::Passed,
        ))
        .await;

    let starts: Vec<String> = world
        .hub
        .requests_to("/logs/j1")
        .iter()
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        starts[..3],
        ["start_from=0", "start_from=2000", "start_from=4000"]
    );
    assert_eq!(world.pushed_events().len(), 4504);
}

#[tokio::test(start_paused = true)]
async fn other_loghub_errors_resend_the_same_batch() {
    let mut world = World::new().await;
    world.registration.single_job = true;
    world.queue_job("j1");
    world.hub.state().log_statuses.extend([500, 503]);
    world.run(passing_job()).await;
    let starts: Vec<String> = world
        .hub
        .requests_to("/logs/j1")
        .iter()
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        starts[..3],
        ["start_from=0", "start_from=0", "start_from=0"]
    );
    assert_eq!(world.pushed_events().len(), 9);
}

#[tokio::test(start_paused = true)]
async fn disconnect_failures_are_retried() {
    let world = World::new().await;
    {
        let mut hub = world.hub.state();
        hub.shutdown_requested = true;
        hub.disconnect_failures = 5;
    }
    let outcome = world.run(passing_job()).await;
    assert!(outcome.disconnected);
    let disconnects = world.hub.requests_to("/disconnect");
    assert_eq!(disconnects.len(), 6);
    assert_eq!(
        disconnects[0].authorization,
        format!("Token {ACCESS_TOKEN}")
    );
    assert_eq!(disconnects[0].body, "");
    assert_eq!(disconnects[0].content_length, "0");
}

#[tokio::test(start_paused = true)]
async fn disconnect_gives_up_after_100_tries_and_the_shutdown_goes_on() {
    let world = World::new().await.with_env_writing_hook();
    {
        let mut hub = world.hub.state();
        hub.shutdown_requested = true;
        hub.disconnect_failures = 1000;
    }
    let outcome = world.run(passing_job()).await;
    assert!(!outcome.disconnected);
    assert_eq!(outcome.exit_code(), 0);
    assert_eq!(world.hub.requests_to("/disconnect").len(), 100);
    assert!(
        world
            .hook_env()
            .contains("SEMAPHORE_AGENT_SHUTDOWN_REASON=REQUESTED\n")
    );
}

#[tokio::test(start_paused = true)]
async fn sigterm_while_idle_forces_a_sync_and_the_hub_shuts_the_agent_down() {
    let world = World::new().await.with_env_writing_hook();
    world.hub.state().next_sync_after_ms = 60_000;
    let (tx, signals) = ChannelSignals::sender();
    signal_after(tx, Duration::from_secs(5));
    let outcome = world
        .run_with_signals(passing_job(), signals)
        .await
        .expect("ran");

    assert_eq!(outcome.reason, ShutdownHookReason::Interrupted);
    let syncs = world.hub.requests_to("/sync");
    assert_eq!(syncs.len(), 2, "the signal cut the 60 s wait short");
    assert!(
        (5000..6000).contains(&syncs[1].at_ms),
        "at {} ms",
        syncs[1].at_ms
    );
    let interrupted_at = world.hub.state().syncs[1]
        .interrupted_at
        .expect("interrupted_at");
    assert!(interrupted_at > 0);
    assert!(
        world
            .hook_env()
            .contains("SEMAPHORE_AGENT_SHUTDOWN_REASON=INTERRUPTED\n")
    );
}

#[tokio::test(start_paused = true)]
async fn sigterm_without_grace_period_gets_the_job_stopped() {
    let world = World::new().await;
    world.queue_job("j1");
    let (tx, signals) = ChannelSignals::sender();
    signal_after(tx, Duration::from_secs(5));
    let runner = FakeRunner::new(1, Duration::from_secs(3600), JobResult::Passed);
    let outcome = world.run_with_signals(runner, signals).await.expect("ran");

    assert_eq!(outcome.reason, ShutdownHookReason::Interrupted);
    assert_eq!(
        world.hub.state().job_results,
        [("j1".to_owned(), JobResult::Stopped)]
    );
    let states: Vec<AgentState> = world.hub.state().syncs.iter().map(|s| s.state).collect();
    assert!(states.contains(&AgentState::StoppingJob) || states.contains(&AgentState::FinishedJob));
    assert!(matches!(
        world.pushed_events().last(),
        Some(LogEvent::JobFinished {
            result: JobResult::Stopped,
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn sigterm_with_a_grace_period_lets_the_job_finish() {
    let mut world = World::new().await;
    world.registration.interruption_grace_period_secs = 120;
    world.queue_job("j1");
    let (tx, signals) = ChannelSignals::sender();
    signal_after(tx, Duration::from_secs(5));
    let runner = FakeRunner::new(1, Duration::from_secs(60), JobResult::Passed);
    let outcome = world.run_with_signals(runner, signals).await.expect("ran");

    assert_eq!(outcome.reason, ShutdownHookReason::Interrupted);
    assert_eq!(
        world.hub.state().job_results,
        [("j1".to_owned(), JobResult::Passed)]
    );
}

#[tokio::test(start_paused = true)]
async fn sigterm_with_a_grace_period_stops_the_job_once_it_is_over() {
    let mut world = World::new().await;
    world.registration.interruption_grace_period_secs = 30;
    world.queue_job("j1");
    let (tx, signals) = ChannelSignals::sender();
    signal_after(tx, Duration::from_secs(5));
    let runner = FakeRunner::new(1, Duration::from_secs(3600), JobResult::Passed);
    let started = Instant::now();
    let outcome = world.run_with_signals(runner, signals).await.expect("ran");

    assert_eq!(outcome.reason, ShutdownHookReason::Interrupted);
    assert_eq!(
        world.hub.state().job_results,
        [("j1".to_owned(), JobResult::Stopped)]
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(35),
        "not before the grace period: {took:?}"
    );
    assert!(took < Duration::from_secs(60), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn idle_shutdown_runs_the_hook_with_idle() {
    let mut world = World::new().await.with_env_writing_hook();
    world.registration.idle_timeout_secs = 5;
    let outcome = world.run(passing_job()).await;
    assert_eq!(outcome.reason, ShutdownHookReason::Idle);
    assert_eq!(outcome.exit_code(), 0);
    let env = world.hook_env();
    assert!(
        env.contains("SEMAPHORE_AGENT_SHUTDOWN_REASON=IDLE\n"),
        "{env}"
    );
    assert!(!env.contains(REGISTRATION_TOKEN) && !env.contains(ACCESS_TOKEN));
}

#[tokio::test(start_paused = true)]
async fn ten_minutes_without_a_successful_sync_ends_the_agent_with_unable_to_sync() {
    let world = World::new().await.with_env_writing_hook();
    world.hub.state().sync_always_fails = true;
    let started = Instant::now();
    let outcome = world.run(passing_job()).await;

    assert_eq!(outcome.reason, ShutdownHookReason::UnableToSync);
    assert_eq!(outcome.exit_code(), 1);
    let syncs = world.hub.requests_to("/sync");
    let last = syncs.last().expect("syncs").at_ms;
    assert!((600_000..=606_000).contains(&last), "gave up at {last} ms");
    assert!(started.elapsed() >= Duration::from_secs(600));
    assert_eq!(world.hub.requests_to("/disconnect").len(), 1);
    assert!(
        world
            .hook_env()
            .contains("SEMAPHORE_AGENT_SHUTDOWN_REASON=UNABLE_TO_SYNC\n")
    );
}

#[tokio::test(start_paused = true)]
async fn a_hub_that_does_not_answer_times_out_after_30_s_as_a_sync_error() {
    let world = World::new().await;
    {
        let mut hub = world.hub.state();
        hub.hang_next_sync = true;
        hub.shutdown_requested = true;
    }
    let started = Instant::now();
    let outcome = world.run(passing_job()).await;
    assert_eq!(outcome.reason, ShutdownHookReason::Requested);
    let took = started.elapsed();
    // 30 s timeout, then the 3-6 s wait of a sync error.
    assert!(
        (Duration::from_secs(33)..Duration::from_secs(40)).contains(&took),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn wait_for_jobs_clears_the_finished_job() {
    let mut world = World::new().await;
    world.registration.idle_timeout_secs = 5;
    world.queue_job("j1");
    let outcome = world.run(passing_job()).await;

    assert_eq!(outcome.reason, ShutdownHookReason::Idle);
    let hub = world.hub.state();
    let after_finish: Vec<_> = hub
        .syncs
        .iter()
        .skip_while(|s| s.state != AgentState::FinishedJob)
        .skip(1)
        .collect();
    assert!(!after_finish.is_empty());
    for sync in after_finish {
        assert_eq!(sync.state, AgentState::WaitingForJobs);
        assert_eq!((sync.job_id.as_deref(), sync.job_result), (None, None));
    }
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_requested_during_a_job_stops_it_first() {
    let world = World::new().await.with_env_writing_hook();
    world.queue_job("j1");
    let hub = world.hub.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        hub.state().shutdown_requested = true;
    });
    let runner = FakeRunner::new(1, Duration::from_secs(3600), JobResult::Passed);
    let outcome = world.run(runner).await;

    assert_eq!(outcome.reason, ShutdownHookReason::Requested);
    assert_eq!(
        world.hub.state().job_results,
        [("j1".to_owned(), JobResult::Stopped)]
    );
    let stop_jobs = world
        .hub
        .state()
        .syncs
        .iter()
        .filter(|s| s.state == AgentState::RunningJob)
        .count();
    assert!(stop_jobs >= 1);
    assert!(
        world
            .hook_env()
            .contains("SEMAPHORE_AGENT_SHUTDOWN_REASON=REQUESTED\n")
    );
}

#[tokio::test(start_paused = true)]
async fn syncs_follow_next_sync_after() {
    let mut world = World::new().await;
    world.registration.idle_timeout_secs = 10;
    world.hub.state().next_sync_after_ms = 2500;
    world.run(passing_job()).await;
    let syncs = world.hub.requests_to("/sync");
    assert!(syncs.len() >= 4);
    for pair in syncs.windows(2) {
        let gap = pair[1].at_ms - pair[0].at_ms;
        assert!((2500..2600).contains(&gap), "gap {gap} ms");
    }
}

#[tokio::test(start_paused = true)]
async fn a_loghub_that_keeps_failing_is_given_up_after_60_s_and_the_job_completes() {
    let mut world = World::new().await;
    world.registration.single_job = true;
    world.queue_job("j1");
    world.hub.state().log_statuses.extend([500; 1000]);
    world.run(passing_job()).await;

    assert_eq!(
        world.hub.state().job_results,
        [("j1".to_owned(), JobResult::Passed)]
    );
    let finished = world
        .hub
        .requests_to("/sync")
        .into_iter()
        .find(|r| r.body.contains("finished-job"))
        .expect("finished-job sync");
    // The job ends at about 3 s; closing its log waits 60 s before giving up.
    assert!(
        (63_000..70_000).contains(&finished.at_ms),
        "at {} ms",
        finished.at_ms
    );
    assert!(world.pushed_events().is_empty());
}

/// `upload-job-logs: when-trimmed`: a job whose log the loghub cut short (422) is uploaded
/// with the artifact CLI after its last push and before its result is reported; a job whose
/// log went through whole is not.
#[cfg(unix)]
#[tokio::test(start_paused = true)]
async fn a_trimmed_log_is_uploaded_as_an_artifact_before_the_result_is_reported() {
    for trimmed in [true, false] {
        let mut world = World::new().await;
        world.registration.single_job = true;
        let stand_in = crate::upload::StandIn::new(world.dir.path(), 0);
        world.upload = UploadSettings {
            policy: UploadJobLogs::WhenTrimmed,
            compression_size: DEFAULT_COMPRESSION_SIZE,
            cli: PathBuf::from(ARTIFACT_CLI),
            env: BaseEnv::from_host([("PATH".into(), stand_in.path())], Path::new("/home/agent")),
        };
        let mut job = world.hub.job("j1");
        for (name, value) in [
            ("SEMAPHORE_ARTIFACT_TOKEN", "artifact-token"),
            ("SEMAPHORE_ORGANIZATION_URL", "https://acme.semaphoreci.com"),
        ] {
            job.env_vars.push(EnvVar {
                name: name.to_owned(),
                value: Base64::encode(value.as_bytes()),
            });
        }
        world.hub.state().queued_job = Some(job);
        if trimmed {
            world.hub.state().log_statuses.push_back(422);
        }
        world
            .run(FakeRunner::new(
                3,
                Duration::from_secs(5),
                JobResult::Passed,
            ))
            .await;

        assert_eq!(
            world.hub.state().job_results,
            [("j1".to_owned(), JobResult::Passed)],
            "trimmed={trimmed}"
        );
        assert_eq!(stand_in.ran(), trimmed, "trimmed={trimmed}");
        if trimmed {
            assert_eq!(stand_in.args()[4], "agent/job_logs.txt");
            assert_eq!(
                String::from_utf8(stand_in.file()).expect("utf-8"),
                "echo hello\nline 0\nline 1\nline 2\n"
            );
            assert!(stand_in.env().contains("SEMAPHORE_JOB_ID=j1\n"));
        }
        let spools: Vec<_> = std::fs::read_dir(world.dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("job_log_"))
            .collect();
        assert!(spools.is_empty(), "spool and text removed: {spools:?}");
    }
}
