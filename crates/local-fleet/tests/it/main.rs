//! The fleet on one machine, end to end: jobs queued at a local hub, the scaler's tick raising
//! the group in moto, instances booting as local processes with the image's boot program and
//! the Rust agent, the jobs running, the agents leaving when idle, the group shrinking back;
//! and the `local-fleet` binary that does all of it from a deploy with `agent-aws-stack`.

mod cli;
mod fleet;
mod support;
