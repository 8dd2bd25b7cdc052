//! Integration tests of the `semaphore-agent` crate: jobs run with real bash on a PTY and
//! their event streams compared with the fixtures written from spec 7.2 (`tests/fixtures/`),
//! stopping jobs, the clean environment, bounded memory, and the binary's `run`/`version`;
//! listener mode end to end against an in-process hub and loghub over HTTP, the
//! configuration, and the binary's `start`.

#[cfg(unix)]
mod support;

#[cfg(unix)]
mod cli;
#[cfg(unix)]
mod compose;
#[cfg(unix)]
mod environment;
#[cfg(unix)]
mod memory;
#[cfg(unix)]
mod sequences;
#[cfg(unix)]
mod stop;

mod binary;
mod config_file;
mod fake_hub;
mod fake_runner;
mod listener;
mod upload;
