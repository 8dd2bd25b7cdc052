//! A hub on 127.0.0.1 in a temporary directory, and a client of its APIs as an agent, the
//! scaler and a person would call them.

use std::net::SocketAddr;
use std::path::Path;

use agent_protocol::hub_api::{self, BASE_PATH};
use agent_protocol::{RegisterRequest, Secret, SyncRequest, SyncResponse};
use reqwest::StatusCode;
use semaphore_hub::{Hub, HubHandle, HubSettings};
use serde_json::Value;

pub const API_TOKEN: &str = "api-token-for-tests";

pub struct TestHub {
    pub handle: HubHandle,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

pub fn settings() -> HubSettings {
    let mut settings = HubSettings::new("");
    settings.next_sync_after_ms = 100;
    settings.sweep_every_ms = 50;
    settings
}

impl TestHub {
    pub async fn start(settings: HubSettings) -> TestHub {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let handle = start_on(any_port(), &dir.path().join("hub.db"), settings).await;
        TestHub {
            handle,
            dir,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.url)
    }

    /// A job API call with the API token; answers the status and the JSON body (or Null).
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = self.url(&format!("/api/v1/hub{path}"));
        let mut request = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        }
        .bearer_auth(API_TOKEN);
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("call the job API");
        let status = response.status();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn create_agent_type(&self, name: &str) -> Secret {
        let (status, body) = self
            .api(
                "POST",
                "/agent_types",
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Secret::new(body["registration_token"].as_str().expect("token"))
    }

    pub async fn submit(&self, agent_type: &str, commands: &[&str], limit: Option<u64>) -> String {
        let commands: Vec<Value> = commands
            .iter()
            .map(|c| serde_json::json!({ "directive": c }))
            .collect();
        let (status, body) = self
            .api(
                "POST",
                "/jobs",
                Some(serde_json::json!({
                    "agent_type": agent_type,
                    "request": { "commands": commands },
                    "time_limit_secs": limit,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("id").to_owned()
    }

    pub async fn job(&self, id: &str) -> Value {
        let (status, body) = self.api("GET", &format!("/jobs/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// An agent API call with `Authorization: Token <token>` and a body without a
    /// Content-Type, as the Go agent sends it.
    pub async fn agent_call(
        &self,
        path: &str,
        token: &Secret,
        body: Option<String>,
    ) -> (StatusCode, String) {
        let request =
            if path.starts_with(&format!("{BASE_PATH}/jobs/")) || path == hub_api::METRICS_PATH {
                self.http.get(self.url(path))
            } else {
                self.http
                    .post(self.url(path))
                    .body(body.unwrap_or_default())
            };
        let response = request
            .header("Authorization", hub_api::hub_authorization(token))
            .send()
            .await
            .expect("call the agent API");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    pub async fn register(&self, registration: &Secret, name: &str, single_job: bool) -> Secret {
        let request = RegisterRequest {
            name: name.into(),
            version: "test".into(),
            single_job,
            interruption_grace_period_secs: 0,
            ..RegisterRequest::default()
        };
        let (status, body) = self
            .agent_call(
                hub_api::REGISTER_PATH,
                registration,
                Some(serde_json::to_string(&request).expect("json")),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let answer: agent_protocol::RegisterResponse =
            serde_json::from_str(&body).expect("register answer");
        assert_eq!(answer.name, name);
        answer.token
    }

    pub async fn sync(&self, access: &Secret, request: &SyncRequest) -> SyncResponse {
        let (status, body) = self
            .agent_call(
                hub_api::SYNC_PATH,
                access,
                Some(serde_json::to_string(request).expect("json")),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str(&body).expect("sync answer")
    }

    pub async fn push(
        &self,
        logger_url: &str,
        token: &Secret,
        start_from: u64,
        lines: &[String],
    ) -> StatusCode {
        let mut body = String::new();
        for line in lines {
            body.push_str(line);
            body.push('\n');
        }
        self.http
            .post(hub_api::log_push_url(logger_url, start_from))
            .header("Authorization", hub_api::loghub_authorization(token))
            .header("Content-Type", hub_api::LOG_PUSH_CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .expect("push logs")
            .status()
    }
}

pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

pub async fn start_on(addr: SocketAddr, db: &Path, settings: HubSettings) -> HubHandle {
    Hub::start(addr, db, settings, &Secret::new(API_TOKEN))
        .await
        .expect("start the hub")
}

/// `n` numbered output events, as an agent writes them.
pub fn events(from: u64, n: u64) -> Vec<String> {
    (from..from + n)
        .map(|i| format!(r#"{{"event":"cmd_output","timestamp":1,"output":"line {i}\n"}}"#))
        .collect()
}

pub fn running(job: &str) -> SyncRequest {
    SyncRequest {
        state: agent_protocol::AgentState::RunningJob,
        job_id: Some(job.into()),
        job_result: None,
        interrupted_at: None,
    }
}

pub fn finished(job: &str, result: agent_protocol::JobResult) -> SyncRequest {
    SyncRequest {
        state: agent_protocol::AgentState::FinishedJob,
        job_id: Some(job.into()),
        job_result: Some(result),
        interrupted_at: None,
    }
}
