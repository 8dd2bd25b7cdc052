//! The Semaphore self-hosted agent in Rust (issue 13), as a library with a thin binary.
//!
//! [`listener`] owns listener mode (`start`): configuration, registration, the sync loop,
//! log pushing and shutdown. Wire types come from `agent_protocol`, the protocol's state
//! machine from `agent_core`.

pub mod listener;
