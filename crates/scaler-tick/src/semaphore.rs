//! Semaphore's agent metrics: `GET /api/v1/self_hosted_agents/metrics`.

use std::fmt;
use std::time::Duration;

use aws_support::error_chain;

/// The agent type's registration token. Never printed: `Debug` shows a placeholder and there
/// is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps the token read from SSM.
    pub fn new(value: impl Into<String>) -> Token {
        Token(value.into())
    }

    fn header(&self) -> String {
        format!("Token {}", self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The metrics document, defined once for the scaler, the agent and the hub.
pub use agent_protocol::Metrics;

/// Why the metrics could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SemaphoreError {
    /// 401/404: the token is not an agent type's registration token for this organization.
    #[error(
        "Semaphore rejected the agent type registration token with {status} at {url}: check that the SSM parameter holds the registration token of an agent type of this organization (SEMAPHORE_ENDPOINT)"
    )]
    Rejected {
        /// The URL called.
        url: String,
        /// The status.
        status: u16,
    },
    /// Any other non-200 answer.
    #[error("Semaphore answered {status} at {url}")]
    Status {
        /// The URL called.
        url: String,
        /// The status.
        status: u16,
    },
    /// No answer within the time limit.
    #[error("Semaphore did not answer within {timeout_ms} ms at {url}")]
    Timeout {
        /// The URL called.
        url: String,
        /// The limit.
        timeout_ms: u128,
    },
    /// Connection or protocol failure.
    #[error("cannot reach Semaphore at {url}: {detail}")]
    Transport {
        /// The URL called.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// A 200 answer that is not the metrics document.
    #[error("Semaphore sent malformed metrics from {url}: {detail}")]
    Malformed {
        /// The URL called.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
}

impl SemaphoreError {
    /// Whether the token should be read again before the next call.
    pub fn token_rejected(&self) -> bool {
        matches!(self, SemaphoreError::Rejected { .. })
    }

    fn retryable(&self) -> bool {
        match self {
            SemaphoreError::Status { status, .. } => *status == 429 || *status >= 500,
            SemaphoreError::Timeout { .. } | SemaphoreError::Transport { .. } => true,
            SemaphoreError::Rejected { .. } | SemaphoreError::Malformed { .. } => false,
        }
    }
}

/// HTTP client for the metrics endpoint.
#[derive(Debug, Clone)]
pub struct SemaphoreClient {
    http: reqwest::Client,
    url: String,
    attempt_timeout: Duration,
    budget: Duration,
}

impl SemaphoreClient {
    /// Each attempt may take `attempt_timeout`; retries (on 429, 5xx, timeouts and connection
    /// failures) stop once `budget` is spent.
    pub fn new(url: impl Into<String>, attempt_timeout: Duration, budget: Duration) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "agent-aws-stack-scaler/",
                env!("CARGO_PKG_VERSION")
            ))
            .connect_timeout(attempt_timeout.min(Duration::from_secs(1)))
            .timeout(attempt_timeout)
            .build()
            // fails only when the TLS backend cannot start, where `Client::new` panics too;
            // a fallback client would silently drop the timeouts
            .expect("the HTTP client's TLS backend initializes");
        SemaphoreClient {
            http,
            url: url.into(),
            attempt_timeout,
            budget,
        }
    }

    /// The URL this client calls.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Reads the metrics, retrying transient failures within the budget.
    pub async fn metrics(&self, token: &Token) -> Result<Metrics, SemaphoreError> {
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(200);
        loop {
            let result = self.attempt(token).await;
            match result {
                Err(e)
                    if e.retryable()
                        && started.elapsed() + backoff + self.attempt_timeout <= self.budget =>
                {
                    tracing::debug!(error = %e, "retrying the Semaphore metrics call");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                other => return other,
            }
        }
    }

    async fn attempt(&self, token: &Token) -> Result<Metrics, SemaphoreError> {
        let url = || self.url.clone();
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                SemaphoreError::Timeout {
                    url: url(),
                    timeout_ms: self.attempt_timeout.as_millis(),
                }
            } else {
                SemaphoreError::Transport {
                    url: url(),
                    detail: error_chain(&e),
                }
            }
        };
        let response = self
            .http
            .get(&self.url)
            .header(reqwest::header::AUTHORIZATION, token.header())
            // The original sent this header; keep it for whoever reads the hub's logs.
            .header("Agent", "aws-dynamic-scaler")
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        match status {
            200 => {}
            401 | 404 => return Err(SemaphoreError::Rejected { url: url(), status }),
            _ => return Err(SemaphoreError::Status { url: url(), status }),
        }
        let body = response.bytes().await.map_err(transport)?;
        Metrics::parse(&body).map_err(|detail| SemaphoreError::Malformed { url: url(), detail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The metrics document's own rules are tested with its definition, in agent-protocol.

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new("s3cr3t-token");
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }
}
