//! `POST /sync` (spec 3.2, 4, 5): the agent's state report, the hub's action, and the names
//! of states, actions, job results and shutdown reasons, including the values the shutdown
//! hook sees in `SEMAPHORE_AGENT_SHUTDOWN_REASON`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::go_json::{empty_string_as_none, zero_as_none};

wire_enum! {
    /// What the agent is doing, as reported in every sync (spec 4.1).
    pub enum AgentState {
        /// Idle, ready for `run-job`.
        WaitingForJobs => "waiting-for-jobs",
        /// Fetching the job and building its executor.
        StartingJob => "starting-job",
        /// The job runs.
        RunningJob => "running-job",
        /// The hub asked to stop the job and it has not ended yet.
        StoppingJob => "stopping-job",
        /// The job ended (its result is in `job_result`); waiting for `wait-for-jobs`.
        FinishedJob => "finished-job",
    }
}

wire_enum! {
    /// How a job ended: in `finished-job` syncs and in the `job_finished` event.
    pub enum JobResult {
        /// Commands exited 0 (or a self-stop set `passed`).
        Passed => "passed",
        /// A command, the job's setup, or fetching the job failed.
        Failed => "failed",
        /// The hub stopped the job.
        Stopped => "stopped",
    }
}

wire_enum! {
    /// What the hub tells the agent to do next (spec 4.4).
    ///
    /// Open: the Go agent reads a string and ignores an action it does not know, so an
    /// unknown action (or none at all, kept as `Unknown("")`) parses and means "do nothing".
    pub enum HubAction {
        /// An action this crate does not know; the agent ignores it.
        other Unknown,
        /// Nothing to do.
        Continue => "continue",
        /// Run the job `job_id`.
        RunJob => "run-job",
        /// Stop the job `job_id`.
        StopJob => "stop-job",
        /// Forget the finished job and go back to `waiting-for-jobs`.
        WaitForJobs => "wait-for-jobs",
        /// Disconnect, run the shutdown hook and exit 0.
        Shutdown => "shutdown",
    }
}

wire_enum! {
    /// Why the hub sends `shutdown` (spec 5.2).
    ///
    /// Open: any other value is kept and maps to `UNKNOWN` for the shutdown hook.
    pub enum ShutdownReason {
        /// A reason this crate does not know.
        other Unknown,
        /// Idle longer than the registered `idle_timeout`.
        Idle => "idle",
        /// The agent registered with `single_job` and its job finished.
        JobFinished => "job-finished",
        /// Someone asked for the agent to be disconnected.
        Requested => "requested",
        /// The agent reported `interrupted_at` (SIGTERM/SIGINT).
        Interrupted => "interrupted",
    }
}

wire_enum! {
    /// The value of `SEMAPHORE_AGENT_SHUTDOWN_REASON` for the shutdown hook (spec 5.2): the
    /// hub's reason in upper snake case, `UNKNOWN` for a missing or unknown one, and
    /// `UNABLE_TO_SYNC` when the agent gives up after ten minutes without a successful sync.
    pub enum ShutdownHookReason {
        /// Hub reason `idle`.
        Idle => "IDLE",
        /// Hub reason `job-finished`.
        JobFinished => "JOB_FINISHED",
        /// Hub reason `requested`.
        Requested => "REQUESTED",
        /// Hub reason `interrupted`.
        Interrupted => "INTERRUPTED",
        /// `shutdown` without a reason, or with one this crate does not know.
        Unknown => "UNKNOWN",
        /// Decided by the agent: no successful sync for ten minutes.
        UnableToSync => "UNABLE_TO_SYNC",
    }
}

impl ShutdownHookReason {
    /// The environment variable the shutdown hook reads.
    pub const ENV_VAR: &'static str = "SEMAPHORE_AGENT_SHUTDOWN_REASON";

    /// The hook's value for a hub-requested shutdown.
    pub fn from_hub(reason: Option<&ShutdownReason>) -> ShutdownHookReason {
        match reason {
            Some(ShutdownReason::Idle) => ShutdownHookReason::Idle,
            Some(ShutdownReason::JobFinished) => ShutdownHookReason::JobFinished,
            Some(ShutdownReason::Requested) => ShutdownHookReason::Requested,
            Some(ShutdownReason::Interrupted) => ShutdownHookReason::Interrupted,
            Some(ShutdownReason::Unknown(_)) | None => ShutdownHookReason::Unknown,
        }
    }

    /// The agent's exit code after this shutdown: 1 for `UNABLE_TO_SYNC`, 0 when the hub
    /// asked for it.
    pub fn exit_code(&self) -> u8 {
        match self {
            ShutdownHookReason::UnableToSync => 1,
            _ => 0,
        }
    }
}

/// The agent's report: always all four fields, with `""` and `0` for "none".
///
/// Read leniently (for a hub): only `state` is required; unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// What the agent is doing.
    pub state: AgentState,
    /// The current job, if any.
    #[serde(default, with = "empty_string_as_none")]
    pub job_id: Option<String>,
    /// Set only in `finished-job`.
    #[serde(default, with = "empty_string_as_none")]
    pub job_result: Option<JobResult>,
    /// Unix seconds at which SIGTERM/SIGINT arrived; once set, every sync carries it.
    #[serde(default, with = "zero_as_none")]
    pub interrupted_at: Option<i64>,
}

impl SyncRequest {
    /// An idle agent's report.
    pub fn waiting() -> SyncRequest {
        SyncRequest {
            state: AgentState::WaitingForJobs,
            job_id: None,
            job_result: None,
            interrupted_at: None,
        }
    }
}

/// The hub's answer to a sync. Only the fields the action needs are written.
///
/// Read leniently, as the Go agent does: every field may be missing (`action` then reads as
/// `HubAction::Unknown("")`), `""` reads as `None`, unknown fields are ignored, and unknown
/// `action` and `shutdown_reason` values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// What to do.
    #[serde(default = "no_action")]
    pub action: HubAction,
    /// The job for `run-job` and `stop-job`.
    #[serde(
        default,
        with = "empty_string_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub job_id: Option<String>,
    /// Why, for `shutdown`.
    #[serde(
        default,
        with = "empty_string_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub shutdown_reason: Option<ShutdownReason>,
    /// Milliseconds until the next sync, as sent; see [`SyncResponse::next_sync_after`].
    #[serde(
        default,
        rename = "next_sync_after",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_sync_after_ms: Option<i64>,
}

fn no_action() -> HubAction {
    HubAction::Unknown(String::new())
}

impl SyncResponse {
    /// A response with only an action.
    pub fn new(action: HubAction) -> SyncResponse {
        SyncResponse {
            action,
            job_id: None,
            shutdown_reason: None,
            next_sync_after_ms: None,
        }
    }

    /// The wait before the next sync when the hub chose one: `None` when `next_sync_after`
    /// is missing, zero or negative (the agent then picks 3–6 s at random).
    pub fn next_sync_after(&self) -> Option<Duration> {
        self.next_sync_after_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    }
}
