//! AWS plumbing shared by the Lambdas, the deploy engine and `agent-instance`.
//!
//! - [`sdk_config`]: AWS SDK settings for code that runs inside a short Lambda budget: a
//!   1 s connect timeout, a bound on every attempt and on every operation, and a few retries
//!   with backoff, so throttling is ridden out but a slow API can never eat the invocation.
//! - [`AwsFailure`]: an SDK error reduced to what an operator needs in one log line (the
//!   operation, the error code, AWS's message, and whether it was throttling or a timeout).

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Time limits and retries for AWS calls made by a Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    /// Limit on opening a connection.
    pub connect: Duration,
    /// Limit on one attempt (request sent to response read).
    pub attempt: Duration,
    /// Limit on the whole operation, retries and backoff included.
    pub operation: Duration,
    /// Attempts in all (1 means no retry).
    pub max_attempts: u32,
}

impl CallBudget {
    /// For calls inside a scaler tick: at most 3 s per operation, 3 attempts.
    pub const TICK: CallBudget = CallBudget {
        connect: Duration::from_secs(1),
        attempt: Duration::from_millis(1500),
        operation: Duration::from_secs(3),
        max_attempts: 3,
    };

    /// For one-off calls with more room (custom resource, daily updater): 20 s, 5 attempts.
    pub const PATIENT: CallBudget = CallBudget {
        connect: Duration::from_secs(1),
        attempt: Duration::from_secs(5),
        operation: Duration::from_secs(20),
        max_attempts: 5,
    };

    fn timeouts(self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    fn retries(self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_secs(2))
    }
}

/// Loads the SDK configuration from the environment (region, credentials, and
/// `AWS_ENDPOINT_URL` for emulators) with `budget`'s timeouts and retries.
pub async fn sdk_config(budget: CallBudget) -> SdkConfig {
    sdk_config_in(budget, None).await
}

/// [`sdk_config`] for a region decided by the caller (else the environment's).
pub async fn sdk_config_in(budget: CallBudget, region: Option<String>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(budget.timeouts())
        .retry_config(budget.retries());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader.load().await
}

/// Error codes AWS uses for throttling, across services.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

/// What kind of failure an AWS call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// AWS throttled the call (after the SDK's own retries).
    Throttled,
    /// The call ran out of time (connect, attempt or operation limit).
    Timeout,
    /// The request never got an answer (connection refused, DNS, TLS).
    Unreachable,
    /// AWS answered with an error (access denied, not found, validation, …).
    Service,
    /// Anything else (a response that could not be read, a bad request built locally).
    Other,
}

/// An AWS SDK error, reduced to one readable line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFailure {
    /// The operation, e.g. `DescribeAutoScalingGroups`.
    pub operation: &'static str,
    /// What kind of failure.
    pub kind: FailureKind,
    /// AWS's error code, when it sent one.
    pub code: Option<String>,
    /// AWS's message, or the transport error.
    pub message: String,
}

impl AwsFailure {
    /// Classifies an SDK error from `operation`.
    pub fn new<E, R>(operation: &'static str, err: &SdkError<E, R>) -> AwsFailure
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: fmt::Debug,
    {
        let code = err.code().map(str::to_owned);
        let message = err
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| error_chain(err));
        let kind = match err {
            SdkError::TimeoutError(_) => FailureKind::Timeout,
            SdkError::DispatchFailure(d) if d.is_timeout() => FailureKind::Timeout,
            SdkError::DispatchFailure(_) => FailureKind::Unreachable,
            SdkError::ServiceError(_)
                if code
                    .as_deref()
                    .is_some_and(|c| THROTTLING_CODES.contains(&c)) =>
            {
                FailureKind::Throttled
            }
            SdkError::ServiceError(_) => FailureKind::Service,
            _ => FailureKind::Other,
        };
        AwsFailure {
            operation,
            kind,
            code,
            message,
        }
    }

    /// True when AWS answered with exactly this error code.
    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            FailureKind::Throttled => "was throttled by AWS (retries exhausted)",
            FailureKind::Timeout => "timed out",
            FailureKind::Unreachable => "could not reach AWS",
            FailureKind::Service | FailureKind::Other => "failed",
        };
        write!(f, "{} {what}", self.operation)?;
        match &self.code {
            Some(code) => write!(f, ": {code}: {}", self.message),
            None => write!(f, ": {}", self.message),
        }
    }
}

impl StdError for AwsFailure {}

/// The error and its sources, joined with ": ", without repeating a source whose text the
/// previous message already contains (HTTP clients nest their errors).
pub fn error_chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        let part = source.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = source.source();
    }
    text
}

/// Converts a Lambda deadline (milliseconds since the Unix epoch, as the runtime API gives
/// it) into a monotonic instant, so waits and timeouts can be measured against it.
pub fn deadline_instant(deadline_ms: u64) -> tokio::time::Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let remaining = u128::from(deadline_ms).saturating_sub(now_ms);
    tokio::time::Instant::now() + Duration::from_millis(u64::try_from(remaining).unwrap_or(0))
}
