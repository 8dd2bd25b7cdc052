//! The fleet on one machine, end to end: jobs queued at a local hub, the scaler's tick raising
//! the group in moto, instances booting as local processes with the image's boot program and
//! the Rust agent, the jobs running, the agents leaving when idle, the group shrinking back.

mod fleet;
