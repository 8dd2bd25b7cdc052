//! The SSH keys updater: once a day, copy GitHub's SSH host keys into the stack's SSM
//! parameter (agents write them to `known_hosts` at boot), writing only when they changed.
//!
//! Keys are compared as a set: GitHub reordering its list is not a change. A failed or
//! malformed fetch changes nothing; the parameter keeps the last good keys.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use aws_support::{AwsFailure, error_chain};

/// The parameter's name.
pub const PARAMETER_ENV: &str = "SSM_PARAMETER";
/// Overrides the meta API URL (tests, GitHub Enterprise proxies).
pub const META_URL_ENV: &str = "GITHUB_META_URL";
/// Limit on the whole GitHub fetch (the function has 10 s).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the keys are kept.
pub trait KeyStore {
    /// The stored keys; `None` when the parameter does not exist.
    fn read(&self, name: &str) -> impl Future<Output = Result<Option<String>, AwsFailure>> + Send;
    /// Overwrites the parameter with `value`.
    fn write(&self, name: &str, value: &str)
    -> impl Future<Output = Result<(), AwsFailure>> + Send;
}

impl KeyStore for aws_sdk_ssm::Client {
    async fn read(&self, name: &str) -> Result<Option<String>, AwsFailure> {
        match self.get_parameter().name(name).send().await {
            Ok(output) => Ok(output.parameter.and_then(|p| p.value)),
            Err(e) => {
                let failure = AwsFailure::new("GetParameter", &e);
                if failure.is_code("ParameterNotFound") {
                    Ok(None)
                } else {
                    Err(failure)
                }
            }
        }
    }

    async fn write(&self, name: &str, value: &str) -> Result<(), AwsFailure> {
        self.put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .tier(aws_sdk_ssm::types::ParameterTier::Standard)
            .data_type("text")
            .overwrite(true)
            .send()
            .await
            .map_err(|e| AwsFailure::new("PutParameter", &e))?;
        Ok(())
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The parameter was written with this many keys.
    Updated {
        /// Keys written.
        keys: usize,
    },
    /// The parameter already held the same keys.
    Unchanged,
}

/// Why a run changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// `SSM_PARAMETER` is not set.
    #[error("{PARAMETER_ENV} is not set: it must name the SSM parameter holding the keys")]
    NoParameter,
    /// GitHub could not be read.
    #[error("cannot fetch GitHub's SSH keys; the parameter is left as it was: {0}")]
    Fetch(String),
    /// SSM failed.
    #[error("SSM parameter '{name}': {failure}")]
    Ssm {
        /// The parameter.
        name: String,
        /// The AWS error.
        failure: AwsFailure,
    },
}

/// The keys as a set, for comparison.
fn key_set<'a>(keys: impl IntoIterator<Item = &'a String>) -> BTreeSet<&'a str> {
    keys.into_iter().map(|k| k.trim()).collect()
}

/// One run: fetch from `meta_url`, compare with parameter `name`, write if different.
pub async fn update(
    http: &reqwest::Client,
    meta_url: &str,
    store: &impl KeyStore,
    name: &str,
) -> Result<Outcome, UpdateError> {
    let fetched =
        match tokio::time::timeout(FETCH_TIMEOUT, github_keys::fetch(http, meta_url)).await {
            Ok(Ok(keys)) => keys,
            Ok(Err(e)) => return Err(UpdateError::Fetch(error_chain(&e))),
            Err(_) => {
                return Err(UpdateError::Fetch(format!(
                    "no answer from {meta_url} within {} s",
                    FETCH_TIMEOUT.as_secs()
                )));
            }
        };
    let ssm_error = |failure| UpdateError::Ssm {
        name: name.to_owned(),
        failure,
    };
    let stored = store.read(name).await.map_err(ssm_error)?;
    let stored: Option<Vec<String>> = match stored.as_deref().map(serde_json::from_str) {
        None => {
            tracing::info!(parameter = name, "the parameter does not exist yet");
            None
        }
        Some(Ok(keys)) => Some(keys),
        Some(Err(e)) => {
            tracing::warn!(parameter = name, error = %e, "the parameter does not hold a JSON list of keys; replacing it");
            None
        }
    };
    if stored
        .as_ref()
        .is_some_and(|stored| key_set(stored) == key_set(&fetched))
    {
        tracing::info!(keys = fetched.len(), "keys haven't changed; not updating");
        return Ok(Outcome::Unchanged);
    }
    // Stored in GitHub's order, compact, as synth writes the parameter's initial value.
    let value = serde_json::to_string(&fetched).unwrap_or_default();
    store.write(name, &value).await.map_err(ssm_error)?;
    tracing::info!(
        keys = fetched.len(),
        parameter = name,
        "keys changed; parameter updated"
    );
    Ok(Outcome::Updated {
        keys: fetched.len(),
    })
}
