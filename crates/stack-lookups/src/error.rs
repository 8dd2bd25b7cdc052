//! Errors of resolving lookups, the account and the region.

use std::path::PathBuf;

/// Why a lookup could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Lookups are disabled and the cache lacks some values. Lists every missing key.
    #[error(
        "context lookups are disabled (--no-lookups) and {} lacks {} value(s). Run `agent-aws-stack synth` once with AWS credentials for the account to fill it (or add the values by hand) and commit the file. Missing context keys: '{}'",
        path.display(),
        keys.len(),
        keys.join(", ")
    )]
    Missing {
        /// The context file.
        path: PathBuf,
        /// The missing keys, in CDK's format.
        keys: Vec<String>,
    },
    /// A cached value does not have the expected shape.
    #[error("the value of '{key}' in {} is not valid: {reason}", path.display())]
    BadCachedValue {
        /// The context file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The context file could not be read or written.
    #[error("context file {}: {reason}", path.display())]
    ContextFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// No image matched.
    #[error("no available AMI matches {query}{hint}")]
    NoAmi {
        /// The search, e.g. `name semaphore-agent-… owned by 123…`.
        query: String,
        /// What to do.
        hint: String,
    },
    /// The VPC lookup found no or several VPCs.
    #[error("{0}")]
    Vpc(String),
    /// The security group does not exist (or matched several).
    #[error("security group {group_id}: {reason}")]
    SecurityGroup {
        /// The group id.
        group_id: String,
        /// What is wrong.
        reason: String,
    },
    /// An AWS call failed.
    #[error("failed to {operation}: {message}")]
    Aws {
        /// What was being done, e.g. `describe images`.
        operation: &'static str,
        /// The SDK's error, with its context.
        message: String,
    },
}
