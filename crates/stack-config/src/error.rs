//! Errors of reading and validating the configuration.

use std::fmt;
use std::path::PathBuf;

/// Why the configuration could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file named by `SEMAPHORE_AGENT_STACK_CONFIG` or `--config` does not exist.
    /// (The wording is the original's.)
    #[error("Config file {} does not exist", path.display())]
    FileNotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// The config file exists but could not be read.
    #[error("config file {} could not be read", path.display())]
    FileUnreadable {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid JSON.
    #[error("config file {} is not valid JSON", path.display())]
    FileNotJson {
        /// The path as given.
        path: PathBuf,
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The config file is JSON but not an object.
    #[error("config file {} must hold a JSON object of \"NAME\": \"value\" pairs", path.display())]
    FileNotObject {
        /// The path as given.
        path: PathBuf,
    },
    /// One or more parameters are invalid; every problem found is listed.
    #[error("{}", Problems(.0))]
    Invalid(Vec<String>),
}

impl ConfigError {
    /// The individual problems, one per invalid parameter or rule.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid(problems) => problems.clone(),
            other => vec![other.to_string()],
        }
    }
}

struct Problems<'a>(&'a [String]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => f.write_str(one),
            many => {
                write!(f, "invalid configuration, {} problems:", many.len())?;
                for problem in many {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}
