//! Configuration of an agent stack: the `SEMAPHORE_*` parameters of the original CDK app, read
//! from a JSON file (`SEMAPHORE_AGENT_STACK_CONFIG` or `--config`) and the environment (which
//! wins), then validated into a typed [`StackConfig`].
//!
//! Two stages: [`RawConfig`] holds the strings as written and where each came from;
//! [`StackConfig::from_raw`] applies defaults and every validation rule, reporting all problems
//! at once. Nothing here talks to AWS or decides what the template looks like.
//!
//! ```
//! use stack_config::{RawConfig, StackConfig};
//!
//! let raw = RawConfig::from_pairs([
//!     ("SEMAPHORE_AGENT_STACK_NAME", "ci-agents"),
//!     ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "ci-agents-token"),
//!     ("SEMAPHORE_ORGANIZATION", "acme"),
//! ]);
//! let config = StackConfig::from_raw(&raw).unwrap().config;
//! assert_eq!(config.endpoint, "acme.semaphoreci.com");
//! assert_eq!(config.asg_max_size, "1");
//! ```

mod config;
mod error;
pub mod overrides;
pub mod params;
pub mod parse;
mod raw;
pub mod unknown;

pub use config::{
    AgentOs, Arch, Imds, InstancesDistribution, MAX_STACK_NAME_LEN, MIN_INSTANCE_LIFETIME_SECS,
    MacHosts, Overprovision, StackConfig, Validated, Volume, VpcPlacement, is_kms_key_arn,
    is_valid_stack_name,
};
pub use error::ConfigError;
pub use parse::Tag;
pub use raw::{RawConfig, RawValue, STACK_CONFIG_ENV, Source, read_file};
pub use unknown::UnknownKey;
