//! The hub's errors, each with the HTTP status it is answered with.

use axum::http::StatusCode;

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No credentials, the wrong scheme, or an unknown or expired token (401).
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// The thing named does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A name already taken (409).
    #[error("{0}")]
    Conflict(String),
    /// A malformed request (400).
    #[error("{0}")]
    Invalid(String),
    /// The job's log reached the hub's size limit (422: the agent stops pushing).
    #[error("the job's log reached the hub's size limit")]
    LogFull,
    /// SQLite failed (500).
    #[error("database: {0}")]
    Database(String),
}

impl HubError {
    /// The status the HTTP layer answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            HubError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            HubError::NotFound(_) => StatusCode::NOT_FOUND,
            HubError::Conflict(_) => StatusCode::CONFLICT,
            HubError::Invalid(_) => StatusCode::BAD_REQUEST,
            HubError::LogFull => StatusCode::UNPROCESSABLE_ENTITY,
            HubError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<rusqlite::Error> for HubError {
    fn from(e: rusqlite::Error) -> HubError {
        HubError::Database(e.to_string())
    }
}
