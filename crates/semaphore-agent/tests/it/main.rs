//! Integration tests of the `semaphore-agent` crate: jobs run with real bash on a PTY and
//! their event streams compared with the fixtures written from spec 7.2 (`tests/fixtures/`),
//! stopping jobs, the clean environment, bounded memory, and the binary's `run`/`version`.

#[cfg(unix)]
mod support;

#[cfg(unix)]
mod cli;
#[cfg(unix)]
mod environment;
#[cfg(unix)]
mod memory;
#[cfg(unix)]
mod sequences;
#[cfg(unix)]
mod stop;
