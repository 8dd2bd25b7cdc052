//! The hub's HTTP surface as constants: paths under the base URL, the `Authorization`
//! schemes, the `User-Agent`, and the per-request timeout (spec sections 1, 3 and 7.4).
//!
//! Transport lives in the agent and the hub; this module only names what both must agree on.

use std::time::Duration;

use crate::Secret;

/// Path of the hub API under `<scheme>://<endpoint>`.
pub const BASE_PATH: &str = "/api/v1/self_hosted_agents";
/// `POST`, registration token: [`crate::RegisterRequest`] → [`crate::RegisterResponse`].
pub const REGISTER_PATH: &str = "/api/v1/self_hosted_agents/register";
/// `POST`, access token: [`crate::SyncRequest`] → [`crate::SyncResponse`].
pub const SYNC_PATH: &str = "/api/v1/self_hosted_agents/sync";
/// `POST`, access token, empty body: → [`crate::RefreshResponse`].
pub const REFRESH_PATH: &str = "/api/v1/self_hosted_agents/refresh";
/// `POST`, access token, empty body; the answer's body is ignored.
pub const DISCONNECT_PATH: &str = "/api/v1/self_hosted_agents/disconnect";
/// `GET`, registration token: → [`crate::Metrics`] (read by the scaler, not the agent).
pub const METRICS_PATH: &str = "/api/v1/self_hosted_agents/metrics";

/// Path of the loghub under the control plane's base URL: a job's `logger.url` is
/// `<base>/api/v1/logs/<job id>` (the agent uses whatever URL the job request carries).
pub const LOGHUB_PATH: &str = "/api/v1/logs";

/// The loghub URL of a job on a control plane at `base` (`https://org.semaphoreci.com`).
pub fn loghub_url(base: &str, job_id: &str) -> String {
    format!("{}{LOGHUB_PATH}/{job_id}", base.trim_end_matches('/'))
}

/// `GET`, access token: → [`crate::JobRequest`].
pub fn job_path(job_id: &str) -> String {
    format!("{BASE_PATH}/jobs/{job_id}")
}

/// The hub's `Authorization` value: the word `Token`, one space, the token.
pub fn hub_authorization(token: &Secret) -> String {
    format!("Token {}", token.expose())
}

/// The loghub's `Authorization` value: `Bearer`, one space, the job's logger token.
pub fn loghub_authorization(token: &Secret) -> String {
    format!("Bearer {}", token.expose())
}

/// The two `Authorization` schemes of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Token <token>`: the hub API (registration or access token) and the metrics call.
    Token,
    /// `Bearer <token>`: the loghub (the job's logger token).
    Bearer,
}

impl AuthScheme {
    fn word(self) -> &'static str {
        match self {
            AuthScheme::Token => "Token",
            AuthScheme::Bearer => "Bearer",
        }
    }
}

/// The token of an `Authorization` value in `scheme`, the inverse of [`hub_authorization`]
/// and [`loghub_authorization`]: the exact word, one space, a non-empty token. `None` for
/// anything else (another scheme, no token), which a hub answers with 401.
pub fn parse_authorization(value: &str, scheme: AuthScheme) -> Option<Secret> {
    let token = value.strip_prefix(scheme.word())?.strip_prefix(' ')?;
    (!token.is_empty()).then(|| Secret::new(token))
}

/// The `User-Agent` on every request to the hub and the loghub (`SemaphoreAgent/dev` for
/// builds without a version).
pub fn user_agent(version: &str) -> String {
    format!("SemaphoreAgent/{version}")
}

/// The loghub push URL for a batch whose first event has index `start_from` (0-based). The
/// job's `logger.url` is used as is, so it must not already carry a query.
pub fn log_push_url(logger_url: &str, start_from: u64) -> String {
    format!("{logger_url}?start_from={start_from}")
}

/// `Content-Type` of a log push: newline-terminated event lines.
pub const LOG_PUSH_CONTENT_TYPE: &str = "text/plain";

/// Time limit of every HTTP request (hub, loghub, callbacks).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
