//! One module per subcommand, plus what they share: reading the configuration, the stack's
//! clients and tags for the commands that deploy, and printing a result (text or `--json`)
//! on stdout. How the deploy engine's progress looks on stderr is [`ui`].

pub mod bootstrap;
pub mod config;
pub mod deploy;
pub mod destroy;
pub mod diff;
pub mod execution_policy;
pub mod images;
pub mod package;
pub mod scale_once;
pub mod synth;
pub mod token;
pub mod ui;

use std::fmt::Display;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;
use stack_config::{RawConfig, StackConfig, Validated};
use stack_deploy::aws::{AwsStacks, AwsStorage};

use crate::target::Target;
use synth::{SynthSource, Synthesis, synthesize};

/// `--config` and `--strict`, for the commands that read the configuration.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArg {
    /// JSON configuration file (wins over SEMAPHORE_AGENT_STACK_CONFIG).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Fail, doing nothing, when the config file has a key that is not a stack parameter or
    /// a SEMAPHORE_* variable looks like a misspelt one (otherwise a warning).
    #[arg(long)]
    strict: bool,
}

impl ConfigArg {
    /// The file given, if any.
    pub fn path(&self) -> Option<&Path> {
        self.config.as_deref()
    }
}

/// Reads the raw configuration from `--config` or `SEMAPHORE_AGENT_STACK_CONFIG` and the
/// process environment, telling the user on stderr which file (if any) is used and which
/// names are ignored (an error with `--strict`).
pub fn load_raw(args: &ConfigArg) -> Result<RawConfig> {
    let raw = RawConfig::load(
        args.path(),
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    )?;
    match raw.file() {
        Some(path) => eprintln!("==> Using config file at {}", path.display()),
        None => eprintln!("==> No config file specified. Using environment variables"),
    }
    check_unknown(raw.unknown(), args.strict)?;
    Ok(raw)
}

/// Warns about each ignored name, or with `strict` refuses them all at once.
fn check_unknown(unknown: &[stack_config::UnknownKey], strict: bool) -> Result<()> {
    if unknown.is_empty() {
        return Ok(());
    }
    if !strict {
        for key in unknown {
            eprintln!("warning: {key}");
        }
        return Ok(());
    }
    let list: Vec<String> = unknown.iter().map(|k| format!("\n  - {k}")).collect();
    anyhow::bail!(
        "--strict: {} name(s) in the configuration are not stack parameters; nothing was done:{}",
        unknown.len(),
        list.concat()
    )
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

/// The synthesized stack and the clients for its account and region.
pub async fn synthesized(
    config: &StackConfig,
    source: &SynthSource,
) -> Result<(Synthesis, AwsStacks, AwsStorage)> {
    let mut target = Target::resolve(&source.target, source.no_lookups).await?;
    let synthesis = synthesize(config, source, &mut target).await?;
    let sdk = target.sdk().await;
    Ok((synthesis, AwsStacks::new(&sdk), AwsStorage::new(&sdk)))
}

/// The configuration's tags as stack tags.
pub fn stack_tags(config: &StackConfig) -> Vec<(String, String)> {
    config
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// `--json`, for the commands whose result scripts read.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct JsonArg {
    /// Print the result as one JSON document on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
}

/// Prints a command's result on stdout: its JSON document with `--json`, else its text
/// (`{:#}`, coloured, when `colors`; formatted with stdout's width, which the diff's
/// security tables fit in).
pub fn print_result<T: Serialize + Display>(result: &T, json: JsonArg, colors: bool) -> Result<()> {
    let width = ui::stdout_width();
    let text = if json.json {
        serde_json::to_string_pretty(result).context("failed to write the result as JSON")?
    } else if colors {
        format!("{result:#width$}")
    } else {
        format!("{result:width$}")
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").context("failed to write the result to stdout")?;
    out.flush().context("failed to write the result to stdout")
}
