//! The job API from the command line's side: a small HTTP client for `semaphore-hub`'s own
//! commands (`agent-type create`, `job submit`, `jobs`, ...).

use std::path::Path;

use agent_protocol::Secret;
use anyhow::{Context as _, Result, bail};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::records::{
    AgentRecord, AgentTypeCreated, AgentTypeRecord, CreateAgentType, JobRecord, JobSubmitted,
    SubmitJob,
};
use crate::server::JOB_API_PATH;

/// Reads the job API's token from the file `serve` writes it to (`--api-token-file`).
pub fn read_api_token(path: &Path) -> Result<Secret> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        bail!(
            "{} is empty: it should hold the hub's API token",
            path.display()
        );
    }
    Ok(Secret::new(token))
}

/// A client of one hub.
pub struct Client {
    base: String,
    token: Secret,
    http: reqwest::Client,
}

impl Client {
    /// A client of the hub at `base` (`http://127.0.0.1:8800`) with the API token.
    pub fn new(base: &str, token: Secret) -> Result<Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(agent_protocol::hub_api::REQUEST_TIMEOUT)
            .build()
            .context("cannot build an HTTP client")?;
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    async fn call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Vec<u8>> {
        let url = format!("{}{JOB_API_PATH}{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(self.token.expose());
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach the hub at {}: is `semaphore-hub serve` running there? (--hub)",
                self.base
            )
        })?;
        let status = response.status();
        let bytes = response.bytes().await?.to_vec();
        if status == StatusCode::UNAUTHORIZED {
            bail!(
                "the hub refused the API token: pass the one `serve` wrote (--api-token-file or SEMAPHORE_HUB_API_TOKEN)"
            );
        }
        if !status.is_success() {
            bail!("{}", String::from_utf8_lossy(&bytes).trim());
        }
        Ok(bytes)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let bytes = self.call(Method::GET, path, None).await?;
        serde_json::from_slice(&bytes).context("the hub's answer does not parse")
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: Option<Vec<u8>>) -> Result<T> {
        let bytes = self.call(Method::POST, path, body).await?;
        serde_json::from_slice(&bytes).context("the hub's answer does not parse")
    }

    /// Creates an agent type; the answer holds its registration token.
    pub async fn create_agent_type(&self, name: &str) -> Result<AgentTypeCreated> {
        let body = serde_json::to_vec(&CreateAgentType {
            name: name.to_owned(),
        })?;
        self.post("/agent_types", Some(body)).await
    }

    /// Gives an agent type a new registration token (the old one stops working).
    pub async fn rotate_token(&self, name: &str) -> Result<AgentTypeCreated> {
        self.post(&format!("/agent_types/{name}/token"), None).await
    }

    /// Every agent type.
    pub async fn agent_types(&self) -> Result<Vec<AgentTypeRecord>> {
        self.get("/agent_types").await
    }

    /// Queues a job; returns its id.
    pub async fn submit(&self, job: &SubmitJob) -> Result<String> {
        let answer: JobSubmitted = self.post("/jobs", Some(serde_json::to_vec(job)?)).await?;
        Ok(answer.id)
    }

    /// Every job.
    pub async fn jobs(&self) -> Result<Vec<JobRecord>> {
        self.get("/jobs").await
    }

    /// One job.
    pub async fn job(&self, id: &str) -> Result<JobRecord> {
        self.get(&format!("/jobs/{id}")).await
    }

    /// A job's events, one JSON line each.
    pub async fn job_log(&self, id: &str) -> Result<String> {
        let bytes = self
            .call(Method::GET, &format!("/jobs/{id}/log"), None)
            .await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Asks for a job to stop.
    pub async fn stop_job(&self, id: &str) -> Result<JobRecord> {
        self.post(&format!("/jobs/{id}/stop"), None).await
    }

    /// Every agent.
    pub async fn agents(&self) -> Result<Vec<AgentRecord>> {
        self.get("/agents").await
    }

    /// Asks an agent to disconnect.
    pub async fn disconnect_agent(&self, name: &str) -> Result<AgentRecord> {
        self.post(&format!("/agents/{name}/disconnect"), None).await
    }
}
