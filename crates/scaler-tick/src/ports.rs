//! The scaler's I/O, behind small traits so ticks can run against fakes.

use std::future::Future;

use aws_support::AwsFailure;

use crate::semaphore::{Metrics, SemaphoreError, Token};
use crate::settings::GroupSelector;
use scaler_core::GroupState;

/// Reads the registration token.
pub trait TokenStore {
    /// The token held by SSM parameter `name` (decrypted).
    fn token(&self, name: &str) -> impl Future<Output = Result<Token, TickError>> + Send;
}

/// Reads the agent type's metrics from Semaphore.
pub trait MetricsSource {
    /// One metrics reading.
    fn metrics(
        &self,
        token: &Token,
    ) -> impl Future<Output = Result<Metrics, SemaphoreError>> + Send;
}

/// The Auto Scaling group.
pub trait Fleet {
    /// The group's current size and limits.
    fn describe(
        &self,
        selector: &GroupSelector,
    ) -> impl Future<Output = Result<GroupState, TickError>> + Send;
    /// Sets the desired capacity, ignoring the group's cooldown.
    fn set_desired(
        &self,
        name: &str,
        desired: u32,
    ) -> impl Future<Output = Result<(), TickError>> + Send;
}

/// Publishes the metrics to CloudWatch.
pub trait MetricsSink {
    /// One `PutMetricData` for the stack.
    fn publish(
        &self,
        stack_name: &str,
        metrics: &Metrics,
    ) -> impl Future<Output = Result<(), TickError>> + Send;
}

/// Why a tick did not complete. Each names what failed and what to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickError {
    /// The token parameter does not exist.
    #[error(
        "SSM parameter '{name}' (SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME) does not exist: create it as a SecureString holding the agent type's registration token"
    )]
    TokenMissing {
        /// The parameter name.
        name: String,
    },
    /// The token parameter could not be read or decrypted.
    #[error(
        "cannot read SSM parameter '{name}' (SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME): {failure}; check the function's ssm:GetParameter and kms:Decrypt permissions and the parameter's KMS key"
    )]
    TokenUnreadable {
        /// The parameter name.
        name: String,
        /// The AWS error.
        failure: AwsFailure,
    },
    /// Semaphore's metrics could not be read.
    #[error(transparent)]
    Semaphore(#[from] SemaphoreError),
    /// No group matches.
    #[error("no {0} found: check SEMAPHORE_AGENT_ASG_NAME / SEMAPHORE_AGENT_STACK_NAME")]
    GroupNotFound(GroupSelector),
    /// The group exists but lacks its size fields.
    #[error("Auto Scaling group '{0}' was described without its desired, minimum or maximum size")]
    GroupIncomplete(String),
    /// An Auto Scaling or CloudWatch call failed.
    #[error("{0}")]
    Aws(AwsFailure),
    /// The tick ran out of its time budget.
    #[error(
        "the tick did not finish within {0} ms and was abandoned; nothing was changed after that point"
    )]
    TimedOut(u128),
}
