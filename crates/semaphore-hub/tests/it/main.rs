//! The hub's tests: its rules by tables, its HTTP APIs on 127.0.0.1, a restart in the middle
//! of a run, its command line, and the Rust agent end to end against it.

mod agent;
mod api;
mod cli;
mod restart;
mod rules;
mod support;
