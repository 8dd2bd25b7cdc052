//! The Semaphore agent's listener protocol as a pure state machine (spec sections 4 and 5):
//! the agent's state, job and interruption as reported in every sync, what each hub action
//! and each job or signal event does to them, when the next sync happens, and when the agent
//! gives up.
//!
//! Nothing here does I/O, reads the clock or draws random numbers: `now` is passed in, and a
//! random wait is returned as a range for the caller to draw from. The agent binary owns the
//! hub client, the executor, the timers and the shutdown hook, and runs the [`Effect`]s this
//! crate returns. The retry policies of the hub calls are here too ([`retry`]), as data.

mod listener;
pub mod retry;

pub use crate::listener::{Effect, Event, Listener, NextSync, SYNC_GIVE_UP_AFTER, Step};
