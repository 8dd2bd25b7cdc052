//! The agent's integration tests: listener mode end to end against an in-process hub and
//! loghub over HTTP, the configuration, and the binary.

mod binary;
mod config_file;
mod fake_hub;
mod fake_runner;
mod listener;
