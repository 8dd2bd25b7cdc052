//! The Semaphore agent's wire format, shared by the agent, `agent-instance`, the scaler and a
//! local hub: the hub API bodies (register, sync, job request, log token refresh), the job
//! log events, the metrics document the scaler reads, and the agent's `config.yaml` schema.
//!
//! Serde types only: no HTTP client, no runtime, no YAML parser. Every type is written from
//! `agent-protocol.md` (the spec sections are named on each module). Where the Go agent
//! tolerates something from the hub (missing fields, `null`, unknown fields or values), the
//! type's documentation says so and the type tolerates it too.
//!
//! Tokens are [`Secret`]s: plain strings on the wire, redacted in `Debug`, no `Display`.

#[macro_use]
mod wire_enum;

mod base64;
mod config;
pub mod go_json;
pub mod hub_api;
mod job;
mod log;
mod metrics;
mod precedence;
mod register;
mod secret;
mod sync;

pub use crate::base64::{Base64, Base64Error};
pub use crate::config::{AgentConfig, ConfigError, FileInjection, UploadJobLogs};
pub use crate::job::{
    Callbacks, Command, Compose, Container, CredentialType, EnvVar, ExecutorKind,
    ImagePullCredentials, JobFile, JobRequest, Logger, LoggerMethod,
};
pub use crate::log::{LogEvent, RefreshResponse};
pub use crate::metrics::Metrics;
pub use crate::precedence::{ConfigSource, ConfigSources};
pub use crate::register::{RegisterRequest, RegisterResponse};
pub use crate::secret::Secret;
pub use crate::sync::{
    AgentState, HubAction, JobResult, ShutdownHookReason, ShutdownReason, SyncRequest, SyncResponse,
};
