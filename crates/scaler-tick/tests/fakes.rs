//! Ticks and invocations against in-memory fakes: every fault of the issue's list, the token
//! cache, and the tick schedule (on tokio's paused clock, so a minute takes no time).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_support::{AwsFailure, FailureKind};
use scaler_tick::ports::{Fleet, MetricsSink, MetricsSource, TickError, TokenStore};
use scaler_tick::semaphore::{Metrics, SemaphoreError, Token};
use scaler_tick::settings::{GroupSelector, Settings};
use scaler_tick::tick::{INTERVAL, Mode, Scaler, TICK_BUDGET};
use scaler_tick::{Action, GroupState, Overprovision};
use tokio::time::Instant;

/// What each fake answers, and what it was asked.
#[derive(Default)]
struct World {
    token: Option<Result<Token, TickError>>,
    token_reads: u32,
    /// Answers to successive metrics calls; the last one repeats.
    metrics: VecDeque<Result<Metrics, SemaphoreError>>,
    metrics_delay: Duration,
    tokens_seen: Vec<Token>,
    group: Option<GroupState>,
    describe_error: Option<TickError>,
    set_error: Option<TickError>,
    publish_error: Option<TickError>,
    published: u32,
    sets: Vec<(String, u32)>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<World>>);

impl Fake {
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.0.lock().expect("lock")
    }
}

impl TokenStore for Fake {
    async fn token(&self, name: &str) -> Result<Token, TickError> {
        let mut w = self.world();
        w.token_reads += 1;
        w.token
            .clone()
            .unwrap_or(Err(TickError::TokenMissing { name: name.into() }))
    }
}

impl MetricsSource for Fake {
    async fn metrics(&self, token: &Token) -> Result<Metrics, SemaphoreError> {
        let (answer, delay) = {
            let mut w = self.world();
            w.tokens_seen.push(token.clone());
            let answer = if w.metrics.len() > 1 {
                w.metrics.pop_front()
            } else {
                w.metrics.front().cloned()
            };
            (answer, w.metrics_delay)
        };
        tokio::time::sleep(delay).await;
        answer.unwrap_or_else(|| {
            Err(SemaphoreError::Status {
                url: "fake".into(),
                status: 500,
            })
        })
    }
}

impl Fleet for Fake {
    async fn describe(&self, selector: &GroupSelector) -> Result<GroupState, TickError> {
        let w = self.world();
        if let Some(e) = &w.describe_error {
            return Err(e.clone());
        }
        w.group
            .clone()
            .ok_or_else(|| TickError::GroupNotFound(selector.clone()))
    }

    async fn set_desired(&self, name: &str, desired: u32) -> Result<(), TickError> {
        let mut w = self.world();
        if let Some(e) = &w.set_error {
            return Err(e.clone());
        }
        w.sets.push((name.into(), desired));
        if let Some(g) = w.group.as_mut() {
            g.desired = desired;
        }
        Ok(())
    }
}

impl MetricsSink for Fake {
    async fn publish(&self, _stack: &str, _metrics: &Metrics) -> Result<(), TickError> {
        let mut w = self.world();
        if let Some(e) = &w.publish_error {
            return Err(e.clone());
        }
        w.published += 1;
        Ok(())
    }
}

fn metrics(queued: u64, running: u64) -> Metrics {
    let body = format!(
        r#"{{"jobs":{{"queued":{queued},"running":{running}}},"agents":{{"idle":0,"occupied":{running}}}}}"#
    );
    Metrics::parse(body.as_bytes()).expect("valid")
}

fn settings(overprovision: Overprovision) -> Settings {
    Settings {
        token_parameter: "agent-token".into(),
        stack_name: "stack".into(),
        metrics_url: "http://fake".into(),
        overprovision,
        group: GroupSelector::StackTag("stack".into()),
    }
}

/// A healthy world: token, 3 queued jobs, a group of 0..5 at 0.
fn healthy() -> Fake {
    let fake = Fake::default();
    {
        let mut w = fake.world();
        w.token = Some(Ok(Token::new("s3cr3t")));
        w.metrics.push_back(Ok(metrics(3, 0)));
        w.group = Some(GroupState {
            name: "stack-asg".into(),
            desired: 0,
            min: 0,
            max: 5,
        });
    }
    fake
}

fn scaler(fake: &Fake, overprovision: Overprovision) -> Scaler<Fake, Fake, Fake, Fake> {
    Scaler::new(
        settings(overprovision),
        fake.clone(),
        fake.clone(),
        fake.clone(),
        fake.clone(),
    )
}

fn throttled(operation: &'static str) -> TickError {
    TickError::Aws(AwsFailure {
        operation,
        kind: FailureKind::Throttled,
        code: Some("Throttling".into()),
        message: "Rate exceeded".into(),
    })
}

#[tokio::test]
async fn a_healthy_tick_publishes_and_scales_up() {
    let fake = healthy();
    let report = scaler(&fake, Overprovision::Number(1))
        .tick(Mode::Apply)
        .await;
    assert!(report.ok(), "{:?}", report.error);
    assert!(report.scaled && report.published);
    let w = fake.world();
    assert_eq!(w.sets, vec![("stack-asg".to_owned(), 4)]);
    assert_eq!(w.tokens_seen, vec![Token::new("s3cr3t")]);
}

#[tokio::test]
async fn dry_run_reads_but_changes_nothing() {
    let fake = healthy();
    let report = scaler(&fake, Overprovision::None).tick(Mode::DryRun).await;
    assert!(report.ok());
    assert_eq!(
        report.decision.as_ref().map(|d| d.action),
        Some(Action::ScaleUp { from: 0, to: 3 })
    );
    assert!(!report.scaled && !report.published);
    let w = fake.world();
    assert!(w.sets.is_empty());
    assert_eq!(w.published, 0);
}

/// Every Semaphore fault ends the tick before the group is touched, and the next tick, once
/// Semaphore answers again, scales normally.
#[tokio::test]
async fn semaphore_faults_never_scale_and_the_next_tick_recovers() {
    let faults = [
        SemaphoreError::Status {
            url: "u".into(),
            status: 503,
        },
        SemaphoreError::Timeout {
            url: "u".into(),
            timeout_ms: 2000,
        },
        SemaphoreError::Malformed {
            url: "u".into(),
            detail: "missing field `jobs.running`".into(),
        },
        SemaphoreError::Transport {
            url: "u".into(),
            detail: "connection refused".into(),
        },
    ];
    for fault in faults {
        let fake = healthy();
        fake.world().metrics.push_front(Err(fault.clone()));
        let s = scaler(&fake, Overprovision::None);
        let first = s.tick(Mode::Apply).await;
        assert_eq!(first.error, Some(TickError::Semaphore(fault.clone())));
        assert!(!first.scaled && !first.published);
        assert!(fake.world().sets.is_empty(), "{fault} must not scale");
        let second = s.tick(Mode::Apply).await;
        assert!(second.ok(), "after {fault}: {:?}", second.error);
        assert_eq!(fake.world().sets, vec![("stack-asg".to_owned(), 3)]);
    }
}

#[tokio::test]
async fn token_is_cached_and_reread_after_a_rejection() {
    let fake = healthy();
    let s = scaler(&fake, Overprovision::None);
    s.tick(Mode::Apply).await;
    s.tick(Mode::Apply).await;
    assert_eq!(fake.world().token_reads, 1, "one SSM read for two ticks");
    fake.world()
        .metrics
        .push_front(Err(SemaphoreError::Rejected {
            url: "u".into(),
            status: 401,
        }));
    let rejected = s.tick(Mode::Apply).await;
    assert!(rejected.error.is_some());
    s.tick(Mode::Apply).await;
    assert_eq!(
        fake.world().token_reads,
        2,
        "a rejected token is read again"
    );
}

#[tokio::test]
async fn token_faults_are_reported_per_tick_and_retried() {
    let fake = healthy();
    fake.world().token = Some(Err(TickError::TokenMissing {
        name: "agent-token".into(),
    }));
    let s = scaler(&fake, Overprovision::None);
    let report = s.tick(Mode::Apply).await;
    let message = report.error.expect("fails").to_string();
    assert!(
        message.contains("agent-token") && message.contains("SecureString"),
        "{message}"
    );
    assert!(
        fake.world().tokens_seen.is_empty(),
        "Semaphore is not called without a token"
    );
    // the parameter appears: the next tick works
    fake.world().token = Some(Ok(Token::new("s3cr3t")));
    assert!(s.tick(Mode::Apply).await.ok());
    assert_eq!(fake.world().token_reads, 2);
}

#[tokio::test]
async fn missing_group_and_throttling_fail_the_tick_without_scaling() {
    let fake = healthy();
    fake.world().group = None;
    let report = scaler(&fake, Overprovision::None).tick(Mode::Apply).await;
    let message = report.error.expect("fails").to_string();
    assert!(
        message.contains("aws:cloudformation:stack-name=stack"),
        "{message}"
    );

    let fake = healthy();
    fake.world().describe_error = Some(throttled("DescribeAutoScalingGroups"));
    let report = scaler(&fake, Overprovision::None).tick(Mode::Apply).await;
    assert!(
        report
            .error
            .expect("fails")
            .to_string()
            .contains("throttled")
    );
    assert!(fake.world().sets.is_empty());

    let fake = healthy();
    fake.world().set_error = Some(throttled("SetDesiredCapacity"));
    let report = scaler(&fake, Overprovision::None).tick(Mode::Apply).await;
    assert!(!report.scaled);
    assert!(
        report
            .error
            .expect("fails")
            .to_string()
            .starts_with("SetDesiredCapacity")
    );
}

/// CloudWatch failing must not stop scaling (the original aborted the tick).
#[tokio::test]
async fn cloudwatch_failure_does_not_block_scaling() {
    let fake = healthy();
    fake.world().publish_error = Some(throttled("PutMetricData"));
    let report = scaler(&fake, Overprovision::None).tick(Mode::Apply).await;
    assert!(report.ok() && report.scaled && !report.published);
    assert!(report.publish_error.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_hung_call_is_cut_at_the_tick_budget() {
    let fake = healthy();
    fake.world().metrics_delay = Duration::from_secs(3600);
    let started = Instant::now();
    let report = scaler(&fake, Overprovision::None).tick(Mode::Apply).await;
    assert!(matches!(report.error, Some(TickError::TimedOut(6000))));
    assert_eq!(started.elapsed(), TICK_BUDGET);
    assert!(fake.world().sets.is_empty());
}

/// A 60 s invocation ticks six times (0, 10, … 50 s) and returns before its deadline, even
/// when every tick hangs to its budget.
#[tokio::test(start_paused = true)]
async fn an_invocation_ticks_every_ten_seconds_and_ends_before_the_deadline() {
    for delay in [Duration::ZERO, Duration::from_secs(3600)] {
        let fake = healthy();
        fake.world().metrics_delay = delay;
        let s = scaler(&fake, Overprovision::None);
        let started = Instant::now();
        let deadline = started + Duration::from_secs(60);
        let report = s.run_until(deadline).await;
        assert_eq!(report.ticks, 6, "delay {delay:?}");
        assert!(
            Instant::now() < deadline - Duration::from_secs(1),
            "ended {:?}",
            started.elapsed()
        );
        assert_eq!(fake.world().tokens_seen.len(), 6);
        if delay.is_zero() {
            assert_eq!((report.failed, report.scaled), (0, 1));
        } else {
            assert_eq!(report.failed, 6);
            assert!(report.last_error.expect("error").contains("did not finish"));
        }
    }
    // too little time left for a whole tick: no tick rather than one cut off by Lambda
    let fake = healthy();
    let report = scaler(&fake, Overprovision::None)
        .run_until(Instant::now() + INTERVAL - Duration::from_secs(3))
        .await;
    assert_eq!(report.ticks, 0);
}
