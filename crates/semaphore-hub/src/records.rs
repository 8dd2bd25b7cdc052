//! What the hub keeps: agent types, agents and jobs. These records are stored as JSON in
//! SQLite and are also the bodies of the job API's answers (token digests are never
//! serialized; they live in their own columns).

use agent_protocol::{AgentState, JobRequest, JobResult};
use serde::{Deserialize, Serialize};

/// An agent type: a pool of agents that share a registration token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentTypeRecord {
    /// Its unique name.
    pub name: String,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// Digest of the registration token (a column, never serialized).
    #[serde(skip)]
    pub token_digest: String,
}

/// Whether an agent is still connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Registered and syncing.
    Active,
    /// It disconnected itself.
    Disconnected,
    /// It stopped syncing and the hub gave up on it.
    Lost,
}

/// A registered agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// Its unique name (among active agents).
    pub name: String,
    /// Its agent type.
    pub agent_type: String,
    /// Agent version, OS, architecture, host name and pid as registered.
    pub version: String,
    /// OS description.
    pub os: String,
    /// Architecture.
    pub arch: String,
    /// Host name.
    pub hostname: String,
    /// Process id.
    pub pid: u32,
    /// `disconnect-after-job`.
    pub single_job: bool,
    /// `disconnect-after-idle-timeout`, seconds (0: never).
    pub idle_timeout_secs: i64,
    /// `interruption-grace-period`, seconds.
    pub grace_period_secs: i64,
    /// The one job this agent asked for at registration, if any.
    pub pinned_job: Option<String>,
    /// When it registered.
    pub registered_at: i64,
    /// Connected, disconnected or lost.
    pub status: AgentStatus,
    /// When it stopped being active, and why.
    pub ended_at: Option<i64>,
    /// Why it is no longer active.
    pub end_reason: Option<String>,
    /// The state it last reported.
    pub state: AgentState,
    /// The job assigned to it.
    pub job: Option<String>,
    /// Since when it has had no job.
    pub idle_since: i64,
    /// When it reported SIGTERM/SIGINT.
    pub interrupted_at: Option<i64>,
    /// Someone asked for it to be disconnected.
    pub disconnect_requested: bool,
    /// When it last synced (kept in memory only: a restarted hub counts from its start).
    #[serde(skip)]
    pub last_sync: i64,
    /// Digest of its access token (a column, never serialized).
    #[serde(skip)]
    pub token_digest: String,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for an agent.
    Queued,
    /// Handed to an agent (`run-job`), not yet reported started.
    Assigned,
    /// The agent reported it starting or running.
    Started,
    /// Ended; see the result.
    Finished,
}

/// A job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Its id.
    pub id: String,
    /// Submission order.
    pub seq: u64,
    /// The agent type that runs it.
    pub agent_type: String,
    /// Where it is.
    pub state: JobState,
    /// The agent it was assigned to.
    pub agent: Option<String>,
    /// When it was submitted, assigned, started and finished (Unix seconds).
    pub submitted_at: i64,
    /// When an agent got it.
    pub assigned_at: Option<i64>,
    /// When the agent reported it running.
    pub started_at: Option<i64>,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// How it ended.
    pub result: Option<JobResult>,
    /// Why, when the hub ended it (lost agent, time limit) or failed it.
    pub reason: Option<String>,
    /// Why a stop was asked for (a person, the time limit, a disconnect).
    pub stop_reason: Option<String>,
    /// Execution time limit in seconds.
    pub time_limit_secs: Option<u64>,
    /// Log events stored.
    pub log_events: u64,
    /// Log bytes stored.
    pub log_bytes: u64,
    /// The loghub refused more (its size limit was reached).
    pub log_trimmed: bool,
    /// The job request the agent gets (its logger is filled in at each fetch).
    pub request: JobRequest,
}

/// Body of `POST /api/v1/hub/agent_types`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateAgentType {
    /// The new type's name.
    pub name: String,
}

/// Answer to `POST /api/v1/hub/agent_types`: the only time the registration token is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentTypeCreated {
    /// The agent type.
    pub name: String,
    /// Its registration token, for the agents' `token` setting.
    pub registration_token: agent_protocol::Secret,
}

/// Body of `POST /api/v1/hub/jobs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitJob {
    /// The agent type that runs it.
    pub agent_type: String,
    /// The job request (spec section 6); its `job_id` and `logger` are the hub's to set.
    pub request: JobRequest,
    /// Execution time limit in seconds (the hub's default when missing).
    #[serde(default)]
    pub time_limit_secs: Option<u64>,
}

/// Answer to `POST /api/v1/hub/jobs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobSubmitted {
    /// The new job's id.
    pub id: String,
}
