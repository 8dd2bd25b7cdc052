//! `POST /register` (spec 3.1): the body the agent sends and what the hub answers.

use serde::{Deserialize, Serialize};

use crate::Secret;
use crate::go_json::{empty_string_as_none, null_as_default};

/// What the agent tells the hub about itself. Fields are written in the Go agent's order, so
/// the compact JSON is byte-identical to a capture.
///
/// Read leniently (for a hub): a missing or `null` field is its zero value and unknown
/// fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RegisterRequest {
    /// The configured or random agent name, or a pre-signed STS URL.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Agent version (`dev` for builds without one).
    #[serde(deserialize_with = "null_as_default")]
    pub version: String,
    /// The agent's process id.
    pub pid: u32,
    /// OS description (`PRETTY_NAME` on Linux; the Go agent often sends `""`).
    #[serde(deserialize_with = "null_as_default")]
    pub os: String,
    /// `x86_64`, `x86`, `arm64`, `arm`, … (Go names, except amd64 and 386).
    #[serde(deserialize_with = "null_as_default")]
    pub arch: String,
    /// Host name, or `""`.
    #[serde(deserialize_with = "null_as_default")]
    pub hostname: String,
    /// `disconnect-after-job`: the hub answers the finished job with `shutdown/job-finished`.
    pub single_job: bool,
    /// `disconnect-after-idle-timeout` in seconds (0: never); the hub answers `shutdown/idle`.
    #[serde(rename = "idle_timeout")]
    pub idle_timeout_secs: i64,
    /// `interruption-grace-period` in seconds: how long the hub lets a job run after SIGTERM.
    #[serde(rename = "interruption_grace_period")]
    pub interruption_grace_period_secs: i64,
    /// `job-id`: the one job the hub should assign; `None` is written as `""`.
    #[serde(with = "empty_string_as_none")]
    pub job_id: Option<String>,
}

/// The hub's answer to `/register`.
///
/// Missing fields are `""` and unknown fields are ignored, as in the Go agent (the Ruby e2e
/// hub answers `{"access_token": ...}`, which leaves both empty).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RegisterResponse {
    /// The name the hub knows the agent by; it replaces the agent's own.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// The access token for every later hub call.
    pub token: Secret,
}
