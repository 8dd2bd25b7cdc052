//! The Semaphore self-hosted agent in Rust (issue 13), as a library with a thin binary.
//!
//! This crate owns the shell executor ([`executor::shell`], spec 9), a job's lifecycle and
//! result ([`job`], spec 8), and the event sinks a job writes to ([`events`], spec 7.1). Wire
//! types come from `agent_protocol`; the listener's state machine from `agent_core`.
//! [`listener`] owns listener mode (`start`): configuration, registration, the sync loop,
//! log pushing and shutdown; it runs each job through [`shell_runner`].
//!
//! The event stream of every job is the Go agent's (spec 7.2, including its quirks, such as
//! no `cmd_finished` after a file that is not base64). Deliberate differences, none of them
//! visible in the events:
//!
//! - the job's shell starts from a clean environment (an allow-list of the agent's, see
//!   [`executor::env::INHERITED_VARS`]), never `SEMAPHORE_AGENT_*` or a token;
//! - a stop ends every process of the job's session, SIGTERM then SIGKILL after a grace
//!   period, where the Go agent kills bash and relies on the PTY hangup;
//! - the `.env-*` files are mode 0600 (they hold secrets), and the command file is
//!   `current-agent-cmd-<shell pid>` so that two agents on one machine do not collide;
//! - paths the agent puts on the shell's command line are quoted;
//! - with a self-stop (exit 130) the session is still torn down.
//!
//! Running one job by hand, as `semaphore-agent run FILE` does:
//!
//! ```no_run
//! use semaphore_agent::events::JsonLinesSink;
//! use semaphore_agent::executor::StopSignal;
//! use semaphore_agent::executor::shell::{ShellConfig, ShellExecutor};
//! use semaphore_agent::job::{JobSettings, run_job};
//!
//! let request: agent_protocol::JobRequest =
//!     serde_json::from_str(r#"{"commands": [{"directive": "echo hello"}]}"#).expect("valid");
//! let stop = StopSignal::new();
//! let mut executor = ShellExecutor::new(ShellConfig::from_host().expect("a home"), stop.clone());
//! let mut sink = JsonLinesSink::new(std::io::stdout());
//! let result = run_job(&request, &JobSettings::default(), &mut executor, &mut sink, &stop);
//! println!("{result}");
//! ```

pub mod events;
pub mod executor;
pub mod job;
pub mod listener;
#[cfg(unix)]
pub mod run;
#[cfg(unix)]
pub mod shell_runner;

/// The agent's version, as `version` prints it and `User-Agent` sends it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
