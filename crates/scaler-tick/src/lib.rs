//! The agent scaler, shared by the scaler Lambda and `agent-aws-stack scale-once`.
//!
//! The sizing rule itself is the pure `scaler_core::decide`; this crate does the I/O around it.
//!
//! - [`semaphore`]: the metrics endpoint client and document.
//! - [`settings`]: the environment variables the stack sets.
//! - [`ports`]: the I/O traits; [`aws`] implements them on the AWS SDK.
//! - [`tick`]: one tick, and the ticks of one invocation.

pub mod aws;
pub mod ports;
pub mod semaphore;
pub mod settings;
pub mod tick;

use std::time::Duration;

pub use aws::AwsIo;
pub use scaler_core::{Action, Decision, GroupState, Overprovision};
pub use semaphore::{Metrics, SemaphoreClient, Token};
pub use settings::{GroupSelector, Settings, SettingsError};
pub use tick::{InvocationReport, Mode, Scaler, TickReport};

/// The scaler as deployed: Semaphore over HTTPS, everything else on the AWS SDK.
pub type AwsScaler = Scaler<AwsIo, SemaphoreClient, AwsIo, AwsIo>;

/// Time limit of one Semaphore call attempt.
pub const SEMAPHORE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time for all Semaphore attempts of one tick.
pub const SEMAPHORE_BUDGET: Duration = Duration::from_secs(4);

/// Builds the deployed scaler from settings and the environment's AWS configuration.
pub async fn aws_scaler(settings: Settings) -> AwsScaler {
    let sdk = aws_support::sdk_config(aws_support::CallBudget::TICK).await;
    aws_scaler_on(settings, AwsIo::new(&sdk))
}

/// Builds the deployed scaler on given AWS clients (tests point a service elsewhere).
pub fn aws_scaler_on(settings: Settings, aws: AwsIo) -> AwsScaler {
    let semaphore = SemaphoreClient::new(
        settings.metrics_url.clone(),
        SEMAPHORE_ATTEMPT_TIMEOUT,
        SEMAPHORE_BUDGET,
    );
    Scaler::new(settings, aws.clone(), semaphore, aws.clone(), aws)
}
