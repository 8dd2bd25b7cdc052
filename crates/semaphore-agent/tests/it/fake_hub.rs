//! An in-process hub and loghub over real HTTP on 127.0.0.1 (spec 10), with faults to
//! order: failing registrations, syncs, job fetches and disconnects, and scripted loghub
//! answers (401, 422). It records every request so tests can check the wire.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use agent_protocol::{
    AgentState, HubAction, JobRequest, JobResult, RegisterRequest, ShutdownReason, SyncRequest,
    SyncResponse,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use semaphore_agent::listener::Clock;
use tokio::time::Instant;

pub const REGISTRATION_TOKEN: &str = "reg-tok";
pub const ACCESS_TOKEN: &str = "access-tok-1";
pub const FIRST_LOG_TOKEN: &str = "log-tok-1";
pub const FRESH_LOG_TOKEN: &str = "fresh-log-token";

/// One request as the hub saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: String,
    pub user_agent: String,
    pub content_type: String,
    pub content_length: String,
    pub body: String,
    /// Tokio time since the hub started.
    pub at_ms: u128,
}

/// What the hub does and has seen.
#[derive(Debug)]
pub struct HubState {
    // Faults.
    pub register_failures: u32,
    pub sync_failures: u32,
    pub sync_always_fails: bool,
    pub get_job_always_fails: bool,
    pub disconnect_failures: u32,
    /// The next sync gets no answer for an hour.
    pub hang_next_sync: bool,
    /// Statuses the loghub answers, in order, before it answers 200.
    pub log_statuses: VecDeque<u16>,
    // Behaviour.
    pub next_sync_after_ms: i64,
    pub queued_job: Option<JobRequest>,
    pub shutdown_requested: bool,
    // Seen.
    pub registration: Option<RegisterRequest>,
    pub requests: Vec<Recorded>,
    pub syncs: Vec<SyncRequest>,
    /// Accepted log lines by index (a batch sent twice overwrites the same indexes).
    pub log_lines: BTreeMap<u64, String>,
    pub job_results: Vec<(String, JobResult)>,
    pub shutdown_sent: Option<ShutdownReason>,
    // Internal.
    job_dispatched: bool,
    idle_since: Option<Instant>,
    started: Instant,
    clock: Clock,
}

/// The running hub.
#[derive(Debug, Clone)]
pub struct FakeHub {
    pub origin: String,
    state: Arc<Mutex<HubState>>,
}

impl FakeHub {
    /// Starts the hub on 127.0.0.1:0 in the current runtime. `clock` gives the hub the same
    /// idea of "now" as the agent (for the grace period).
    pub async fn start(clock: Clock) -> FakeHub {
        let state = Arc::new(Mutex::new(HubState {
            register_failures: 0,
            sync_failures: 0,
            sync_always_fails: false,
            get_job_always_fails: false,
            disconnect_failures: 0,
            hang_next_sync: false,
            log_statuses: VecDeque::new(),
            next_sync_after_ms: 1000,
            queued_job: None,
            shutdown_requested: false,
            registration: None,
            requests: Vec::new(),
            syncs: Vec::new(),
            log_lines: BTreeMap::new(),
            job_results: Vec::new(),
            shutdown_sent: None,
            job_dispatched: false,
            idle_since: None,
            started: Instant::now(),
            clock,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let origin = format!("http://{}", listener.local_addr().expect("local addr"));
        let app = Router::new().fallback(handle).with_state(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        FakeHub { origin, state }
    }

    pub fn state(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().expect("hub state")
    }

    /// The loghub URL a job's logger gets.
    pub fn log_url(&self, job_id: &str) -> String {
        format!("{}/logs/{job_id}", self.origin)
    }

    /// A job pushing its log to this loghub.
    pub fn job(&self, job_id: &str) -> JobRequest {
        serde_json::from_value(serde_json::json!({
            "job_id": job_id,
            "executor": "shell",
            "commands": [{"directive": "echo hello"}],
            "logger": {"method": "push", "url": self.log_url(job_id), "token": FIRST_LOG_TOKEN},
        }))
        .expect("job request")
    }

    pub fn requests_to(&self, path_end: &str) -> Vec<Recorded> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.path.ends_with(path_end))
            .cloned()
            .collect()
    }
}

type Shared = Arc<Mutex<HubState>>;

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let hang = uri.path().ends_with("/sync") && {
        let mut hub = state.lock().expect("hub state");
        std::mem::take(&mut hub.hang_next_sync)
    };
    if hang {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    answer(&state, method, uri, headers, body)
}

fn answer(
    state: &Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut hub = state.lock().expect("hub state");
    let path = uri.path().to_owned();
    let record = Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().unwrap_or_default().to_owned(),
        authorization: header("authorization"),
        user_agent: header("user-agent"),
        content_type: header("content-type"),
        content_length: header("content-length"),
        body: String::from_utf8_lossy(&body).into_owned(),
        at_ms: hub.started.elapsed().as_millis(),
    };
    hub.requests.push(record.clone());
    let base = agent_protocol::hub_api::BASE_PATH;
    let access = format!("Token {ACCESS_TOKEN}");
    match path.strip_prefix(base) {
        Some("/register") => {
            if record.authorization != format!("Token {REGISTRATION_TOKEN}") {
                return (StatusCode::UNAUTHORIZED, String::new());
            }
            if hub.register_failures > 0 {
                hub.register_failures -= 1;
                return (StatusCode::SERVICE_UNAVAILABLE, String::new());
            }
            let request: RegisterRequest = serde_json::from_slice(&body).expect("register body");
            let answer = serde_json::json!({"name": request.name, "token": ACCESS_TOKEN});
            hub.registration = Some(request);
            hub.idle_since = Some(Instant::now());
            (StatusCode::CREATED, answer.to_string())
        }
        Some("/sync") => {
            if record.authorization != access {
                return (StatusCode::UNAUTHORIZED, String::new());
            }
            if hub.sync_always_fails || hub.sync_failures > 0 {
                hub.sync_failures = hub.sync_failures.saturating_sub(1);
                return (StatusCode::INTERNAL_SERVER_ERROR, "oops".to_owned());
            }
            let request: SyncRequest = serde_json::from_slice(&body).expect("sync body");
            hub.syncs.push(request.clone());
            let mut response = decide(&mut hub, &request);
            response.next_sync_after_ms = Some(hub.next_sync_after_ms);
            if response.action == HubAction::Shutdown {
                hub.shutdown_sent = response.shutdown_reason.clone();
            }
            (
                StatusCode::OK,
                serde_json::to_string(&response).expect("sync response"),
            )
        }
        Some("/refresh") => {
            if record.authorization != access {
                return (StatusCode::UNAUTHORIZED, String::new());
            }
            (
                StatusCode::OK,
                serde_json::json!({"token": FRESH_LOG_TOKEN}).to_string(),
            )
        }
        Some("/disconnect") => {
            if hub.disconnect_failures > 0 {
                hub.disconnect_failures -= 1;
                return (StatusCode::BAD_GATEWAY, String::new());
            }
            (StatusCode::OK, String::new())
        }
        Some(rest) if rest.starts_with("/jobs/") => {
            let id = &rest["/jobs/".len()..];
            if hub.get_job_always_fails {
                return (StatusCode::INTERNAL_SERVER_ERROR, String::new());
            }
            let job = hub.queued_job.clone().filter(|job| job.job_id == id);
            match job {
                Some(job) => (StatusCode::OK, serde_json::to_string(&job).expect("job")),
                None => (StatusCode::NOT_FOUND, String::new()),
            }
        }
        _ if path.starts_with("/logs/") => {
            if let Some(status) = hub.log_statuses.pop_front() {
                return (StatusCode::from_u16(status).expect("status"), String::new());
            }
            let start_from: u64 = record
                .query
                .strip_prefix("start_from=")
                .and_then(|n| n.parse().ok())
                .expect("start_from");
            for (i, line) in record.body.lines().enumerate() {
                hub.log_lines.insert(start_from + i as u64, line.to_owned());
            }
            (StatusCode::OK, String::new())
        }
        _ => (StatusCode::NOT_FOUND, String::new()),
    }
}

/// The sync rules of spec 10.
fn decide(hub: &mut HubState, request: &SyncRequest) -> SyncResponse {
    let registration = hub.registration.clone().unwrap_or_default();
    let shutdown = |reason| SyncResponse {
        shutdown_reason: Some(reason),
        ..SyncResponse::new(HubAction::Shutdown)
    };
    let now = hub.clock.unix_secs();
    match request.state {
        AgentState::WaitingForJobs => {
            if let Some(job) = hub.queued_job.clone().filter(|_| !hub.job_dispatched) {
                hub.job_dispatched = true;
                hub.idle_since = None;
                return SyncResponse {
                    job_id: Some(job.job_id.clone()),
                    ..SyncResponse::new(HubAction::RunJob)
                };
            }
            if hub.shutdown_requested {
                return shutdown(ShutdownReason::Requested);
            }
            if request.interrupted_at.is_some() {
                return shutdown(ShutdownReason::Interrupted);
            }
            let idle_since = *hub.idle_since.get_or_insert_with(Instant::now);
            if registration.idle_timeout_secs > 0
                && idle_since.elapsed().as_secs_f64() > registration.idle_timeout_secs as f64
            {
                return shutdown(ShutdownReason::Idle);
            }
            SyncResponse::new(HubAction::Continue)
        }
        AgentState::StartingJob | AgentState::StoppingJob => SyncResponse::new(HubAction::Continue),
        AgentState::RunningJob => {
            let grace_over = request.interrupted_at.is_some_and(|at| {
                now > at + registration.interruption_grace_period_secs
                    || registration.interruption_grace_period_secs == 0
            });
            if hub.shutdown_requested || grace_over {
                return SyncResponse {
                    job_id: request.job_id.clone(),
                    ..SyncResponse::new(HubAction::StopJob)
                };
            }
            SyncResponse::new(HubAction::Continue)
        }
        AgentState::FinishedJob => {
            if let (Some(id), Some(result)) = (&request.job_id, request.job_result)
                && !hub.job_results.iter().any(|(seen, _)| seen == id)
            {
                hub.job_results.push((id.clone(), result));
            }
            if hub.shutdown_requested {
                return shutdown(ShutdownReason::Requested);
            }
            if request.interrupted_at.is_some() {
                return shutdown(ShutdownReason::Interrupted);
            }
            if registration.single_job {
                return shutdown(ShutdownReason::JobFinished);
            }
            hub.idle_since = Some(Instant::now());
            SyncResponse::new(HubAction::WaitForJobs)
        }
    }
}
