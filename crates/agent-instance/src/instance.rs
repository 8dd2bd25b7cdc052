//! The instance's view of AWS: IMDSv2 for its identity, region and credentials, then SSM and
//! Auto Scaling clients that use nothing else.
//!
//! Credentials always come from the instance profile through IMDSv2, never from the
//! environment or `~/.aws`: a job may have left credentials there (the shutdown hook runs in
//! the agent's environment), and they must not decide which instance gets terminated.
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` and `AWS_ENDPOINT_URL` are honoured (tests point them
//! at local fakes).

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use aws_support::AwsFailure;

/// How SSM reads are retried at boot. Instance-profile credentials and fresh IAM roles can
/// take a few seconds to work after launch, so every failure but a missing parameter is
/// retried, with a random pause so a fleet starting together does not retry in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all.
    pub attempts: u32,
    /// Shortest pause between attempts.
    pub min_pause: Duration,
    /// Longest pause between attempts.
    pub max_pause: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 30,
            min_pause: Duration::from_millis(750),
            max_pause: Duration::from_millis(5000),
        }
    }
}

impl Retry {
    fn pause(&self) -> Duration {
        let min = self.min_pause.as_millis() as u64;
        let max = (self.max_pause.as_millis() as u64).max(min);
        Duration::from_millis(fastrand::u64(min..=max))
    }
}

/// IMDSv2 (the client always uses a session token; IMDSv1 is never tried).
pub struct Metadata {
    client: aws_config::imds::Client,
}

impl Default for Metadata {
    fn default() -> Metadata {
        Metadata::new()
    }
}

impl Metadata {
    /// A client with short timeouts and a few retries.
    pub fn new() -> Metadata {
        Metadata {
            client: aws_config::imds::Client::builder()
                .connect_timeout(Duration::from_secs(1))
                .read_timeout(Duration::from_secs(2))
                .max_attempts(5)
                .build(),
        }
    }

    async fn get(&self, path: &str) -> Result<String> {
        let value = self
            .client
            .get(format!("/latest/meta-data/{path}"))
            .await
            .with_context(|| format!("instance metadata (IMDSv2) {path}"))?;
        let value: String = value.into();
        if value.trim().is_empty() {
            bail!("instance metadata (IMDSv2) {path} is empty");
        }
        Ok(value.trim().to_owned())
    }

    /// `i-0123…`.
    pub async fn instance_id(&self) -> Result<String> {
        self.get("instance-id").await
    }

    /// `us-east-1`, …
    pub async fn region(&self) -> Result<String> {
        self.get("placement/region").await
    }
}

/// AWS clients acting as the instance profile, in the instance's region.
pub struct InstanceAws {
    config: SdkConfig,
    credentials: SharedCredentialsProvider,
    /// The region the clients use.
    pub region: String,
}

impl InstanceAws {
    /// Clients for `region` with instance-profile credentials.
    pub async fn new(region: &str) -> InstanceAws {
        let credentials =
            SharedCredentialsProvider::new(ImdsCredentialsProvider::builder().build());
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(credentials.clone())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(5))
                    .build(),
            )
            .load()
            .await;
        InstanceAws {
            config,
            credentials,
            region: region.to_owned(),
        }
    }

    /// The instance profile's current credentials.
    pub async fn credentials(&self) -> Result<Credentials> {
        self.credentials
            .provide_credentials()
            .await
            .context("instance profile credentials from IMDSv2")
    }

    /// Reads an SSM parameter (decrypted when `decrypt`), retrying as [`Retry`] says.
    /// The value is returned, never logged.
    pub async fn parameter(&self, name: &str, decrypt: bool, retry: Retry) -> Result<String> {
        let ssm = aws_sdk_ssm::Client::new(&self.config);
        let mut attempt = 1;
        loop {
            let result = ssm
                .get_parameter()
                .name(name)
                .with_decryption(decrypt)
                .send()
                .await;
            match result {
                Ok(out) => {
                    return out
                        .parameter()
                        .and_then(|p| p.value())
                        .map(str::to_owned)
                        .with_context(|| format!("SSM parameter {name} has no value"));
                }
                Err(err) => {
                    let failure = AwsFailure::new("GetParameter", &err);
                    if failure.is_code("ParameterNotFound") {
                        bail!(
                            "SSM parameter {name} does not exist in {}: create it (see the README) or fix the stack's configuration",
                            self.region
                        );
                    }
                    if attempt >= retry.attempts {
                        bail!("reading SSM parameter {name} failed {attempt} times: {failure}");
                    }
                    println!("Reading SSM parameter {name} failed ({failure}); retrying");
                    attempt += 1;
                    tokio::time::sleep(retry.pause()).await;
                }
            }
        }
    }

    /// Marks the instance unhealthy, at once (the group's grace period is not waited for):
    /// the group then replaces it.
    pub async fn mark_unhealthy(&self, instance_id: &str) -> Result<(), AwsFailure> {
        aws_sdk_autoscaling::Client::new(&self.config)
            .set_instance_health()
            .instance_id(instance_id)
            .health_status("Unhealthy")
            .should_respect_grace_period(false)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsFailure::new("SetInstanceHealth", &e))
    }

    /// Terminates the instance through its group, lowering the desired capacity when
    /// `decrement` (so the group does not launch a replacement).
    pub async fn terminate(&self, instance_id: &str, decrement: bool) -> Result<(), AwsFailure> {
        aws_sdk_autoscaling::Client::new(&self.config)
            .terminate_instance_in_auto_scaling_group()
            .instance_id(instance_id)
            .should_decrement_desired_capacity(decrement)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsFailure::new("TerminateInstanceInAutoScalingGroup", &e))
    }
}
