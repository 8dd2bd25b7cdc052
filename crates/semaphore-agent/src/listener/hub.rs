//! The hub and loghub as the listener sees them: the [`Hub`] and [`Loghub`] traits (one
//! method per call of spec 3 and 7.4) and [`HttpHub`], their reqwest implementation.
//!
//! Retries are the caller's ([`crate::listener::driver`], [`crate::listener::logs`]): each
//! method here makes exactly one request. Every request carries
//! `User-Agent: SemaphoreAgent/<version>` and has 30 s to complete. Bodies are compact JSON
//! with no `Content-Type`, as the Go agent sends them. Tokens go only into `Authorization`
//! headers; no error or log line here contains one.

use std::future::Future;
use std::sync::RwLock;

use agent_protocol::hub_api::{
    self, DISCONNECT_PATH, LOG_PUSH_CONTENT_TYPE, REFRESH_PATH, REGISTER_PATH, REQUEST_TIMEOUT,
    SYNC_PATH,
};
use agent_protocol::{
    JobRequest, RefreshResponse, RegisterRequest, RegisterResponse, Secret, SyncRequest,
    SyncResponse,
};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};

/// A hub or loghub call that failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No answer: connection refused, timeout, broken connection.
    #[error("request to {path} failed")]
    Transport {
        /// The path (or loghub URL) called.
        path: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// An answer with a status the call does not accept.
    #[error("{path} answered HTTP {status}")]
    Status {
        /// The path called.
        path: String,
        /// The status.
        status: u16,
    },
    /// A 200 whose body is not the expected JSON.
    #[error("{path} answered a body that does not parse")]
    Body {
        /// The path called.
        path: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The HTTP client could not be built.
    #[error("failed to build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// The hub's API (spec 3). Implementations keep the access token that `register` returns
/// and use it for every later call.
pub trait Hub: Send + Sync + 'static {
    /// `POST /register` with the registration token; any 2xx is success.
    fn register(
        &self,
        request: &RegisterRequest,
    ) -> impl Future<Output = Result<RegisterResponse, HubError>> + Send;

    /// `POST /sync`; only 200 with a parsing body is success.
    fn sync(
        &self,
        request: &SyncRequest,
    ) -> impl Future<Output = Result<SyncResponse, HubError>> + Send;

    /// `GET /jobs/{id}`; only 200 with a parsing body is success.
    fn get_job(&self, job_id: &str) -> impl Future<Output = Result<JobRequest, HubError>> + Send;

    /// `POST /refresh`: a new loghub token for the current job.
    fn refresh_log_token(&self) -> impl Future<Output = Result<Secret, HubError>> + Send;

    /// `POST /disconnect`; only 200 is success.
    fn disconnect(&self) -> impl Future<Output = Result<(), HubError>> + Send;
}

/// How the loghub answered one batch (spec 7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushStatus {
    /// 200: the batch is stored.
    Accepted,
    /// 401: the token expired; refresh it and send the same batch again.
    Unauthorized,
    /// 422: no more log space; stop pushing for good.
    NoSpace,
    /// Anything else: send the same batch again.
    Other(u16),
}

/// The loghub (spec 7.4).
pub trait Loghub: Send + Sync + 'static {
    /// `POST <logger_url>?start_from=<start_from>` with `Bearer <token>` and `body` (event
    /// lines, each ending in `\n`). `Err` only when no answer came.
    fn push(
        &self,
        logger_url: &str,
        token: &Secret,
        start_from: u64,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<PushStatus, HubError>> + Send;
}

/// The hub and loghub over HTTP(S), with one reqwest client for both.
#[derive(Debug)]
pub struct HttpHub {
    client: reqwest::Client,
    /// `<scheme>://<endpoint>`, without the API path.
    origin: String,
    registration_token: Secret,
    access_token: RwLock<Secret>,
}

impl HttpHub {
    /// A client for the hub at `origin` (`http://127.0.0.1:8000`, `https://myorg.semaphoreci.com`),
    /// registering with `registration_token`.
    pub fn new(origin: impl Into<String>, registration_token: Secret) -> Result<HttpHub, HubError> {
        // The agent's TLS is rustls on ring (smaller than aws-lc, which the AWS SDK needs and the
        // agent does not). An error only says a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(hub_api::user_agent(crate::listener::AGENT_VERSION))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(HubError::Client)?;
        Ok(HttpHub {
            client,
            origin: origin.into(),
            registration_token,
            access_token: RwLock::new(Secret::default()),
        })
    }

    fn access_token(&self) -> Secret {
        match self.access_token.read() {
            Ok(token) => token.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_access_token(&self, token: Secret) {
        match self.access_token.write() {
            Ok(mut slot) => *slot = token,
            Err(poisoned) => *poisoned.into_inner() = token,
        }
    }

    async fn post(
        &self,
        path: &str,
        token: &Secret,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), HubError> {
        // reqwest sends no length for an empty body; the Go agent sends `Content-Length: 0`,
        // and some proxies refuse a POST without a length.
        let length = body.len();
        let response = self
            .client
            .post(format!("{}{path}", self.origin))
            .header(AUTHORIZATION, hub_api::hub_authorization(token))
            .header(CONTENT_LENGTH, length)
            .body(body)
            .send()
            .await
            .map_err(|source| HubError::Transport {
                path: path.to_owned(),
                source,
            })?;
        read(path, response).await
    }
}

async fn read(path: &str, response: reqwest::Response) -> Result<(u16, Vec<u8>), HubError> {
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|source| HubError::Transport {
            path: path.to_owned(),
            source,
        })?;
    Ok((status, body.to_vec()))
}

fn ok_200(path: &str, (status, body): (u16, Vec<u8>)) -> Result<Vec<u8>, HubError> {
    if status == StatusCode::OK.as_u16() {
        Ok(body)
    } else {
        Err(HubError::Status {
            path: path.to_owned(),
            status,
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, HubError> {
    serde_json::from_slice(body).map_err(|source| HubError::Body {
        path: path.to_owned(),
        source,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Our own plain wire types: serializing them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

impl Hub for HttpHub {
    async fn register(&self, request: &RegisterRequest) -> Result<RegisterResponse, HubError> {
        let (status, body) = self
            .post(REGISTER_PATH, &self.registration_token, to_json(request))
            .await?;
        if !(200..300).contains(&status) {
            return Err(HubError::Status {
                path: REGISTER_PATH.to_owned(),
                status,
            });
        }
        // Any 2xx is success; an unreadable body leaves both fields empty, as in Go.
        let response: RegisterResponse = serde_json::from_slice(&body).unwrap_or_default();
        self.set_access_token(response.token.clone());
        Ok(response)
    }

    async fn sync(&self, request: &SyncRequest) -> Result<SyncResponse, HubError> {
        let answer = self
            .post(SYNC_PATH, &self.access_token(), to_json(request))
            .await?;
        parse(SYNC_PATH, &ok_200(SYNC_PATH, answer)?)
    }

    async fn get_job(&self, job_id: &str) -> Result<JobRequest, HubError> {
        let path = hub_api::job_path(job_id);
        let response = self
            .client
            .get(format!("{}{path}", self.origin))
            .header(
                AUTHORIZATION,
                hub_api::hub_authorization(&self.access_token()),
            )
            .send()
            .await
            .map_err(|source| HubError::Transport {
                path: path.clone(),
                source,
            })?;
        let answer = read(&path, response).await?;
        parse(&path, &ok_200(&path, answer)?)
    }

    async fn refresh_log_token(&self) -> Result<Secret, HubError> {
        let answer = self
            .post(REFRESH_PATH, &self.access_token(), Vec::new())
            .await?;
        let response: RefreshResponse = parse(REFRESH_PATH, &ok_200(REFRESH_PATH, answer)?)?;
        Ok(response.token)
    }

    async fn disconnect(&self) -> Result<(), HubError> {
        let answer = self
            .post(DISCONNECT_PATH, &self.access_token(), Vec::new())
            .await?;
        ok_200(DISCONNECT_PATH, answer).map(|_| ())
    }
}

impl Loghub for HttpHub {
    async fn push(
        &self,
        logger_url: &str,
        token: &Secret,
        start_from: u64,
        body: Vec<u8>,
    ) -> Result<PushStatus, HubError> {
        let response = self
            .client
            .post(hub_api::log_push_url(logger_url, start_from))
            .header(CONTENT_TYPE, LOG_PUSH_CONTENT_TYPE)
            .header(AUTHORIZATION, hub_api::loghub_authorization(token))
            .body(body)
            .send()
            .await
            .map_err(|source| HubError::Transport {
                path: logger_url.to_owned(),
                source,
            })?;
        Ok(match response.status().as_u16() {
            200 => PushStatus::Accepted,
            401 => PushStatus::Unauthorized,
            422 => PushStatus::NoSpace,
            other => PushStatus::Other(other),
        })
    }
}
