//! One module per subcommand, plus what they share: reading the configuration.

pub mod config;
pub mod execution_policy;
pub mod images;
pub mod package;
pub mod scale_once;
pub mod stack;
pub mod synth;
pub mod token;
pub mod ui;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use stack_config::{RawConfig, StackConfig, Validated};

/// `--config`, for the commands that read the configuration.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArg {
    /// JSON configuration file (wins over SEMAPHORE_AGENT_STACK_CONFIG).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    /// The file given, if any.
    pub fn path(&self) -> Option<&Path> {
        self.config.as_deref()
    }
}

/// Reads the raw configuration from `--config` or `SEMAPHORE_AGENT_STACK_CONFIG` and the
/// process environment, telling the user on stderr which file (if any) is used.
pub fn load_raw(config_flag: Option<&Path>) -> Result<RawConfig> {
    let raw = RawConfig::load(
        config_flag,
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    )?;
    match raw.file() {
        Some(path) => eprintln!("==> Using config file at {}", path.display()),
        None => eprintln!("==> No config file specified. Using environment variables"),
    }
    Ok(raw)
}

/// The single-threaded async runtime every command runs its AWS calls on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// Validates the configuration and prints its warnings to stderr.
pub fn validate(raw: &RawConfig) -> Result<StackConfig> {
    let Validated { config, warnings } = StackConfig::from_raw(raw)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    Ok(config)
}
