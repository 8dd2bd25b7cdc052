//! Integration tests of the wire types: every spec payload under `tests/fixtures` parsed into
//! its expected value and written back, the enum names, and the Go-compatible edge cases.

mod base64;
mod config;
mod fixtures;
mod job;
mod log;
mod metrics;
mod names;
mod precedence;
mod register;
mod secret;
mod sync;
