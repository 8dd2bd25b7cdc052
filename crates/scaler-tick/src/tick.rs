//! One tick (read demand, read the group, decide, act) and the loop of ticks that fills one
//! invocation.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::ports::{Fleet, MetricsSink, MetricsSource, TickError, TokenStore};
use crate::semaphore::{Metrics, SemaphoreClient, SemaphoreError, Token};
use crate::settings::Settings;
use scaler_core::{Action, Decision, GroupState, decide};

/// Time between tick starts (the original's cadence).
pub const INTERVAL: Duration = Duration::from_secs(10);
/// A tick is abandoned after this long; nothing after that point happens.
pub const TICK_BUDGET: Duration = Duration::from_secs(6);
/// Room kept between the end of the last possible tick and the invocation's deadline.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(2);
/// How long a token read from SSM is reused before it is read again.
pub const TOKEN_TTL: Duration = Duration::from_secs(300);

impl MetricsSource for SemaphoreClient {
    async fn metrics(&self, token: &Token) -> Result<Metrics, SemaphoreError> {
        SemaphoreClient::metrics(self, token).await
    }
}

/// Whether a tick may change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Publish metrics and scale the group.
    Apply,
    /// Read only: no metrics published, the group left alone.
    DryRun,
}

/// What one tick saw, decided and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickReport {
    /// The metrics read from Semaphore.
    pub metrics: Option<Metrics>,
    /// The group as described.
    pub group: Option<GroupState>,
    /// The decision.
    pub decision: Option<Decision>,
    /// Whether the desired capacity was changed.
    pub scaled: bool,
    /// Whether the metrics reached CloudWatch.
    pub published: bool,
    /// The failure that ended the tick early.
    #[serde(serialize_with = "display")]
    pub error: Option<TickError>,
    /// A CloudWatch failure (does not stop scaling).
    #[serde(serialize_with = "display")]
    pub publish_error: Option<TickError>,
    /// How long the tick took.
    pub elapsed_ms: u128,
}

fn display<S: serde::Serializer>(e: &Option<TickError>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_some(&e.to_string()),
        None => s.serialize_none(),
    }
}

impl TickReport {
    /// True when the tick completed (a CloudWatch failure alone still counts as completed).
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Logs the tick in one line (two when CloudWatch also failed). Never the token.
    pub fn log(&self) {
        if let Some(e) = &self.publish_error {
            tracing::warn!(error = %e, "metrics not published to CloudWatch; scaling went on");
        }
        if let Some(e) = &self.error {
            tracing::error!(error = %e, elapsed_ms = self.elapsed_ms, "tick failed; the next tick tries again");
            return;
        }
        let (Some(m), Some(g), Some(d)) = (&self.metrics, &self.group, &self.decision) else {
            return;
        };
        let action = match d.action {
            Action::ScaleUp { from, to } if self.scaled => format!("scaled up from {from} to {to}"),
            Action::ScaleUp { from, to } => format!("would scale up from {from} to {to} (dry run)"),
            Action::Hold => "no need to scale up".to_owned(),
        };
        tracing::info!(
            jobs = ?m.jobs,
            agents = ?m.agents,
            group = %g.name,
            desired = g.desired,
            min = g.min,
            max = g.max,
            target = d.target,
            elapsed_ms = self.elapsed_ms,
            "{action}"
        );
    }
}

/// What an invocation's ticks amounted to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InvocationReport {
    /// Ticks run.
    pub ticks: u32,
    /// Ticks that failed.
    pub failed: u32,
    /// Ticks that raised the desired capacity.
    pub scaled: u32,
    /// The last failure's message.
    pub last_error: Option<String>,
}

/// The scaler: settings, ports, and the token cache kept across ticks and warm invocations.
#[derive(Debug)]
pub struct Scaler<T, S, F, M> {
    settings: Settings,
    tokens: T,
    semaphore: S,
    fleet: F,
    sink: M,
    token: Mutex<Option<(Token, Instant)>>,
}

impl<T, S, F, M> Scaler<T, S, F, M>
where
    T: TokenStore + Sync,
    S: MetricsSource + Sync,
    F: Fleet + Sync,
    M: MetricsSink + Sync,
{
    /// A scaler over the given ports.
    pub fn new(settings: Settings, tokens: T, semaphore: S, fleet: F, sink: M) -> Self {
        Scaler {
            settings,
            tokens,
            semaphore,
            fleet,
            sink,
            token: Mutex::new(None),
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// One tick within [`TICK_BUDGET`]. The report is returned, not logged (see
    /// [`TickReport::log`]).
    pub async fn tick(&self, mode: Mode) -> TickReport {
        let started = Instant::now();
        let mut report = TickReport::default();
        match tokio::time::timeout(TICK_BUDGET, self.run_tick(mode, &mut report)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => report.error = Some(e),
            Err(_) => report.error = Some(TickError::TimedOut(TICK_BUDGET.as_millis())),
        }
        report.elapsed_ms = started.elapsed().as_millis();
        report
    }

    async fn run_tick(&self, mode: Mode, report: &mut TickReport) -> Result<(), TickError> {
        let token = self.cached_token().await?;
        let metrics = match self.semaphore.metrics(&token).await {
            Ok(m) => m,
            Err(e) => {
                if e.token_rejected() {
                    self.forget_token();
                }
                return Err(e.into());
            }
        };
        let metrics = &*report.metrics.insert(metrics);
        let publish = async {
            match mode {
                Mode::Apply => Some(self.sink.publish(&self.settings.stack_name, metrics).await),
                Mode::DryRun => None,
            }
        };
        let (published, group) = tokio::join!(publish, self.fleet.describe(&self.settings.group));
        match published {
            Some(Ok(())) => report.published = true,
            Some(Err(e)) => report.publish_error = Some(e),
            None => {}
        }
        let group = report.group.insert(group?);
        let decision = decide(metrics.total_jobs(), group, self.settings.overprovision);
        let action = decision.action;
        report.decision = Some(decision);
        if let (Action::ScaleUp { to, .. }, Mode::Apply) = (action, mode) {
            self.fleet.set_desired(&group.name, to).await?;
            report.scaled = true;
        }
        Ok(())
    }

    async fn cached_token(&self) -> Result<Token, TickError> {
        if let Some((token, at)) = self.lock_token().as_ref()
            && at.elapsed() < TOKEN_TTL
        {
            return Ok(token.clone());
        }
        let token = self.tokens.token(&self.settings.token_parameter).await?;
        *self.lock_token() = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    fn forget_token(&self) {
        *self.lock_token() = None;
    }

    fn lock_token(&self) -> std::sync::MutexGuard<'_, Option<(Token, Instant)>> {
        self.token
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ticks every [`INTERVAL`] from now while a whole tick still fits before `deadline`
    /// (with [`SAFETY_MARGIN`] to spare). With a 60 s budget: six ticks, at 0, 10, … 50 s.
    pub async fn run_until(&self, deadline: Instant) -> InvocationReport {
        let mut report = InvocationReport::default();
        let mut next = Instant::now();
        while next + TICK_BUDGET + SAFETY_MARGIN <= deadline {
            tokio::time::sleep_until(next).await;
            let tick = self.tick(Mode::Apply).await;
            tick.log();
            report.ticks += 1;
            if tick.scaled {
                report.scaled += 1;
            }
            if let Some(e) = tick.error {
                report.failed += 1;
                report.last_error = Some(e.to_string());
            }
            next += INTERVAL;
        }
        report
    }
}
