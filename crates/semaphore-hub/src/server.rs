//! The hub over HTTP: the agent API, the loghub, the metrics call and the job API (axum), and
//! the task that runs the clock's rules. [`Hub::start`] serves on a bound address and returns
//! a handle, for the binary and for in-process tests alike.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_protocol::hub_api::{self, AuthScheme};
use agent_protocol::{RefreshResponse, RegisterRequest, Secret, SyncRequest};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::HubError;
use crate::records::{AgentTypeCreated, CreateAgentType, JobSubmitted, SubmitJob};
use crate::settings::HubSettings;
use crate::state::HubState;
use crate::token;

/// Path prefix of the hub's own job API (not Semaphore's).
pub const JOB_API_PATH: &str = "/api/v1/hub";

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

struct Shared {
    state: Mutex<HubState>,
    api_token_digest: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic under the lock leaves the state as the last completed write left it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type AppState = Arc<Shared>;

/// A hub to start.
pub struct Hub;

/// A running hub: its URL, and a way to stop it.
pub struct HubHandle {
    /// `http://<address>`, the base of every API.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    sweeper: JoinHandle<()>,
}

impl Hub {
    /// Opens the database at `db` and serves on `listen` (port 0: any free port) on the
    /// current tokio runtime. An empty `settings.public_url` becomes `http://<bound address>`.
    /// `api_token` guards the job API.
    pub async fn start(
        listen: SocketAddr,
        db: &Path,
        mut settings: HubSettings,
        api_token: &Secret,
    ) -> anyhow::Result<HubHandle> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        if settings.public_url.is_empty() {
            settings.public_url = url.clone();
        }
        let sweep_every = Duration::from_millis(settings.sweep_every_ms.max(10));
        let state = HubState::open(db, settings, unix_now())
            .map_err(|e| anyhow::anyhow!("cannot open the hub database {}: {e}", db.display()))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            api_token_digest: token::digest(api_token),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("the hub's server failed: {e}");
            }
        });
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(sweep_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = shared.lock().sweep(unix_now()) {
                    tracing::error!("the hub's clock rules failed: {e}");
                }
            }
        });
        Ok(HubHandle {
            url,
            addr,
            stop: Some(stop),
            server,
            sweeper,
        })
    }
}

impl HubHandle {
    /// Stops serving (open connections finish their request) and closes the database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.sweeper.abort();
        let _ = (&mut self.server).await;
        let _ = (&mut self.sweeper).await;
    }
}

fn router(shared: AppState) -> Router {
    let base = hub_api::BASE_PATH;
    Router::new()
        .route(hub_api::REGISTER_PATH, post(register))
        .route(hub_api::SYNC_PATH, post(sync))
        .route(&format!("{base}/jobs/{{id}}"), get(job_request))
        .route(hub_api::REFRESH_PATH, post(refresh))
        .route(hub_api::DISCONNECT_PATH, post(disconnect))
        .route(hub_api::METRICS_PATH, get(metrics))
        .route(&format!("{}/{{id}}", hub_api::LOGHUB_PATH), post(push_logs))
        .route(
            &format!("{JOB_API_PATH}/agent_types"),
            get(list_agent_types).post(create_agent_type),
        )
        .route(
            &format!("{JOB_API_PATH}/agent_types/{{name}}/token"),
            post(rotate_token),
        )
        .route(
            &format!("{JOB_API_PATH}/jobs"),
            get(list_jobs).post(submit_job),
        )
        .route(&format!("{JOB_API_PATH}/jobs/{{id}}"), get(show_job))
        .route(&format!("{JOB_API_PATH}/jobs/{{id}}/log"), get(job_log))
        .route(&format!("{JOB_API_PATH}/jobs/{{id}}/stop"), post(stop_job))
        .route(&format!("{JOB_API_PATH}/agents"), get(list_agents))
        .route(
            &format!("{JOB_API_PATH}/agents/{{name}}/disconnect"),
            post(disconnect_agent),
        )
        .with_state(shared)
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        if matches!(self, HubError::Database(_)) {
            tracing::error!("{self}");
        }
        let mut text = self.to_string();
        text.push('\n');
        (self.status(), text).into_response()
    }
}

type Answer = Result<Response, HubError>;

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Answer {
    let body = serde_json::to_vec(value).map_err(|e| HubError::Invalid(e.to_string()))?;
    Ok((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn credentials(headers: &HeaderMap, scheme: AuthScheme) -> Result<Secret, HubError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| hub_api::parse_authorization(v, scheme))
        .ok_or(HubError::Unauthorized(
            "missing or malformed Authorization header",
        ))
}

/// Bodies are read whatever their `Content-Type` (the Go agent sends none).
fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, HubError> {
    serde_json::from_slice(body).map_err(|e| HubError::Invalid(format!("{what}: {e}")))
}

async fn register(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let token = credentials(&headers, AuthScheme::Token)?;
    let request: RegisterRequest = parse(&body, "register body")?;
    let answer = s.lock().register(&token, request, unix_now())?;
    json(StatusCode::OK, &answer)
}

async fn sync(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let token = credentials(&headers, AuthScheme::Token)?;
    let request: SyncRequest = parse(&body, "sync body")?;
    let answer = s.lock().sync(&token, &request, unix_now())?;
    json(StatusCode::OK, &answer)
}

async fn job_request(
    State(s): State<AppState>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Answer {
    let token = credentials(&headers, AuthScheme::Token)?;
    let request = s.lock().job_request(&token, &id, unix_now())?;
    json(StatusCode::OK, &request)
}

async fn refresh(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    let token = credentials(&headers, AuthScheme::Token)?;
    let fresh = s.lock().refresh(&token, unix_now())?;
    json(StatusCode::OK, &RefreshResponse { token: fresh })
}

async fn disconnect(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    let token = credentials(&headers, AuthScheme::Token)?;
    s.lock().disconnect(&token, unix_now())?;
    Ok(StatusCode::OK.into_response())
}

/// As Semaphore answers it: 401 without a `Token` credential, 404 for an unknown token, both
/// with the plain status text.
async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let Ok(token) = credentials(&headers, AuthScheme::Token) else {
        return (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
    };
    match s.lock().metrics(&token) {
        Ok(metrics) => json(StatusCode::OK, &metrics).unwrap_or_else(IntoResponse::into_response),
        Err(_) => (StatusCode::NOT_FOUND, "Not Found\n").into_response(),
    }
}

#[derive(Deserialize)]
struct StartFrom {
    start_from: Option<u64>,
}

async fn push_logs(
    State(s): State<AppState>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<StartFrom>,
    body: Bytes,
) -> Answer {
    let token = credentials(&headers, AuthScheme::Bearer)?;
    let start_from = query
        .start_from
        .ok_or_else(|| HubError::Invalid("the start_from query parameter is missing".into()))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| HubError::Invalid("the log batch is not UTF-8".into()))?;
    s.lock()
        .push_logs(&id, &token, start_from, text, unix_now())?;
    Ok(StatusCode::OK.into_response())
}

fn api_auth(s: &Shared, headers: &HeaderMap) -> Result<(), HubError> {
    let token = credentials(headers, AuthScheme::Bearer)?;
    if token::matches(&token, &s.api_token_digest) {
        Ok(())
    } else {
        Err(HubError::Unauthorized("unknown API token"))
    }
}

async fn list_agent_types(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    api_auth(&s, &headers)?;
    json(StatusCode::OK, &s.lock().agent_types())
}

async fn create_agent_type(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    api_auth(&s, &headers)?;
    let request: CreateAgentType = parse(&body, "agent type")?;
    let (record, token) = s.lock().create_agent_type(&request.name, unix_now())?;
    tracing::info!(agent_type = %record.name, "agent type created");
    json(
        StatusCode::CREATED,
        &AgentTypeCreated {
            name: record.name,
            registration_token: token,
        },
    )
}

async fn rotate_token(
    State(s): State<AppState>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Answer {
    api_auth(&s, &headers)?;
    let token = s.lock().rotate_registration_token(&name)?;
    json(
        StatusCode::OK,
        &AgentTypeCreated {
            name,
            registration_token: token,
        },
    )
}

async fn list_jobs(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    api_auth(&s, &headers)?;
    json(StatusCode::OK, &s.lock().jobs())
}

async fn submit_job(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    api_auth(&s, &headers)?;
    let request: SubmitJob = parse(&body, "job")?;
    let id = s.lock().submit_job(
        &request.agent_type,
        request.request,
        request.time_limit_secs,
        unix_now(),
    )?;
    json(StatusCode::CREATED, &JobSubmitted { id })
}

async fn show_job(
    State(s): State<AppState>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Answer {
    api_auth(&s, &headers)?;
    json(StatusCode::OK, &s.lock().job(&id)?)
}

#[derive(Deserialize)]
struct LogFrom {
    from: Option<u64>,
}

async fn job_log(
    State(s): State<AppState>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<LogFrom>,
) -> Answer {
    api_auth(&s, &headers)?;
    let lines = s.lock().log_lines(&id, query.from.unwrap_or(0))?;
    let mut body = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        body.push_str(&line);
        body.push('\n');
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        body,
    )
        .into_response())
}

async fn stop_job(
    State(s): State<AppState>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Answer {
    api_auth(&s, &headers)?;
    let job = s
        .lock()
        .stop_job(&id, "stopped through the API", unix_now())?;
    json(StatusCode::OK, &job)
}

async fn list_agents(State(s): State<AppState>, headers: HeaderMap) -> Answer {
    api_auth(&s, &headers)?;
    json(StatusCode::OK, &s.lock().agents())
}

async fn disconnect_agent(
    State(s): State<AppState>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Answer {
    api_auth(&s, &headers)?;
    let agent = s.lock().request_disconnect(&name)?;
    tracing::info!(agent = %name, "disconnect requested");
    json(StatusCode::OK, &agent)
}
