//! A local Semaphore-compatible control plane, so that agents, the scaler and a whole fleet
//! can run together on one machine without a Semaphore account.
//!
//! - The agent API under `/api/v1/self_hosted_agents` (register, sync, jobs, refresh,
//!   disconnect) with the rules of `agent-protocol.md` sections 5.3, 5.4 and 10, decided by
//!   the pure functions of [`rules`].
//! - The loghub, `POST /api/v1/logs/<job>?start_from=N`: per-job Bearer tokens that expire,
//!   batches de-duplicated by `start_from`, a per-job size limit answered with 422.
//! - `GET /api/v1/self_hosted_agents/metrics`, as the scaler reads it.
//! - A job API of its own under `/api/v1/hub` (agent types, jobs, logs, agents), guarded by
//!   an API token.
//!
//! State lives in memory and is written through to SQLite (WAL) before answers depend on it
//! ([`state`]); tokens are random, stored as SHA-256 digests and compared in constant time
//! ([`token`]). The wire types come from `agent-protocol`; this crate never depends on the
//! agent, and nothing deployed links it.

pub mod client;
pub mod error;
pub mod jobspec;
pub mod records;
pub mod render;
pub mod rules;
pub mod server;
pub mod settings;
pub mod state;
pub mod token;

pub use crate::error::HubError;
pub use crate::server::{Hub, HubHandle};
pub use crate::settings::HubSettings;
