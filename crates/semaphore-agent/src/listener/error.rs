//! `ListenerError`: why `start` could not begin or had to give up before the sync loop
//! (configuration, HTTP client, registration). Errors later on are handled by the protocol
//! (retries, `failed` jobs, `UNABLE_TO_SYNC`) and never surface here.

use std::path::PathBuf;

use agent_protocol::ConfigError;

use crate::listener::hub::HubError;

/// A failure that ends `start` with exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    /// The config file could not be read.
    #[error("failed to read config file {}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not YAML, or its top level is not a mapping.
    #[error("failed to parse config file {}: {message}", path.display())]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// The parser's message (positions only; never the file's content).
        message: String,
    },
    /// The configuration is refused (spec section 2; the Go agent's wording).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client could not be built.
    #[error("failed to build the HTTP client")]
    HttpClient(#[source] HubError),
    /// The signal handlers could not be installed.
    #[error("failed to listen for SIGTERM/SIGINT: {0}")]
    Signals(String),
    /// Registration failed after all its retries.
    #[error("failed to register agent")]
    Register(#[source] HubError),
}
