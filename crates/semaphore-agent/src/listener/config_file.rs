//! Where `start` gets its configuration (spec section 2): the flags ([`StartArgs`]), the
//! `SEMAPHORE_AGENT_*` environment and the YAML file, merged by
//! `agent_protocol::AgentConfig::from_sources` (flag > environment > file > default) and
//! checked by `AgentConfig::validate`.
//!
//! This module only reads: it parses the YAML (with `serde_norway`, the maintained fork of
//! `serde_yaml`), lists the flags the user actually wrote, and warns when the file can be
//! read by other users (it holds the registration token). It never prints the file's content
//! or a token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agent_protocol::{AgentConfig, ConfigError, ConfigSources};
use serde_json::{Map, Value};

use crate::listener::ListenerError;

/// The flags of `start` (spec section 2). Each flag overrides its `SEMAPHORE_AGENT_*`
/// variable and the config file; a flag not given leaves them alone.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StartArgs {
    /// YAML file to load.
    #[arg(long, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// The hub's `host[:port]`, without scheme (e.g. myorg.semaphoreci.com).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The agent type's registration token.
    #[arg(long)]
    pub token: Option<String>,
    /// Talk to the hub over http:// instead of https://.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub no_https: Option<bool>,
    /// The agent's name (8 to 80 characters, or a pre-signed STS URL); random when empty.
    #[arg(long)]
    pub name: Option<String>,
    /// Deprecated: the environment variable that holds the agent's name.
    #[arg(long)]
    pub name_from_env: Option<String>,
    /// Script run with bash when the agent shuts down.
    #[arg(long, value_name = "PATH")]
    pub shutdown_hook_path: Option<String>,
    /// Script run inside each job before its commands.
    #[arg(long, value_name = "PATH")]
    pub pre_job_hook_path: Option<String>,
    /// Script run inside each job after its epilogues.
    #[arg(long, value_name = "PATH")]
    pub post_job_hook_path: Option<String>,
    /// Run the pre-job hook with `source` instead of `bash`.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub source_pre_job_hook: Option<bool>,
    /// A failing pre-job hook fails the job.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub fail_on_pre_job_hook_error: Option<bool>,
    /// Ask the hub to shut the agent down after one job.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub disconnect_after_job: Option<bool>,
    /// The one job the hub should assign (needs --disconnect-after-job).
    #[arg(long)]
    pub job_id: Option<String>,
    /// Ask the hub to shut the agent down after this many idle seconds (0: never).
    #[arg(long, allow_negative_numbers = true, value_name = "SECONDS")]
    pub disconnect_after_idle_timeout: Option<i64>,
    /// Seconds the hub lets a job run after the agent got SIGTERM/SIGINT.
    #[arg(long, allow_negative_numbers = true, value_name = "SECONDS")]
    pub interruption_grace_period: Option<i64>,
    /// NAME=VALUE items exported into every job, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "NAME=VALUE,...")]
    pub env_vars: Option<Vec<String>>,
    /// hostPath:containerPath items (docker-compose jobs only), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "HOST:CONTAINER,...")]
    pub files: Option<Vec<String>>,
    /// A missing --files host path fails a docker-compose job.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub fail_on_missing_files: Option<bool>,
    /// Upload the job log as an artifact: never, always or when-trimmed.
    #[arg(long, value_name = "WHEN")]
    pub upload_job_logs: Option<String>,
}

impl StartArgs {
    /// The flags given, by config key, as `AgentConfig::from_sources` takes them.
    pub fn flags(&self) -> Map<String, Value> {
        let mut flags = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                flags.insert(key.to_owned(), value);
            }
        };
        let string = |v: &Option<String>| v.clone().map(Value::String);
        let boolean = |v: &Option<bool>| v.map(Value::Bool);
        let integer = |v: &Option<i64>| v.map(Value::from);
        let list = |v: &Option<Vec<String>>| {
            v.clone()
                .map(|items| Value::Array(items.into_iter().map(Value::String).collect()))
        };
        put(
            "config-file",
            self.config_file
                .as_ref()
                .map(|p| Value::String(p.display().to_string())),
        );
        put("endpoint", string(&self.endpoint));
        put("token", string(&self.token));
        put("no-https", boolean(&self.no_https));
        put("name", string(&self.name));
        put("name-from-env", string(&self.name_from_env));
        put("shutdown-hook-path", string(&self.shutdown_hook_path));
        put("pre-job-hook-path", string(&self.pre_job_hook_path));
        put("post-job-hook-path", string(&self.post_job_hook_path));
        put("source-pre-job-hook", boolean(&self.source_pre_job_hook));
        put(
            "fail-on-pre-job-hook-error",
            boolean(&self.fail_on_pre_job_hook_error),
        );
        put("disconnect-after-job", boolean(&self.disconnect_after_job));
        put("job-id", string(&self.job_id));
        put(
            "disconnect-after-idle-timeout",
            integer(&self.disconnect_after_idle_timeout),
        );
        put(
            "interruption-grace-period",
            integer(&self.interruption_grace_period),
        );
        put("env-vars", list(&self.env_vars));
        put("files", list(&self.files));
        put(
            "fail-on-missing-files",
            boolean(&self.fail_on_missing_files),
        );
        put("upload-job-logs", string(&self.upload_job_logs));
        flags
    }
}

/// The configuration `start` runs with, and the warnings found while reading it.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The merged, validated configuration.
    pub config: AgentConfig,
    /// Things worth a warning (a config file other users can read).
    pub warnings: Vec<String>,
}

/// Reads the flags, `env` (the process environment, or any map of it) and the config file
/// named by the flag or by `SEMAPHORE_AGENT_CONFIG_FILE`, merges them by precedence and
/// validates the result.
pub fn load(
    args: &StartArgs,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedConfig, ListenerError> {
    let env: BTreeMap<String, String> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with("SEMAPHORE_AGENT_"))
        .collect();
    let file_path = args.config_file.clone().or_else(|| {
        env.get(&AgentConfig::env_var_name("config-file"))
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let mut warnings = Vec::new();
    let file = match &file_path {
        Some(path) => {
            if let Some(mode) = readable_by_others(path) {
                warnings.push(format!(
                    "config file {} can be read by other users (mode {mode:o}) and holds the registration token; run chmod 600 on it",
                    path.display()
                ));
            }
            Some(read_yaml(path)?)
        }
        None => None,
    };
    let sources = ConfigSources {
        flags: args.flags(),
        env,
        file,
    };
    let config = AgentConfig::from_sources(&sources).map_err(redact)?;
    config.validate()?;
    if config.kubernetes_executor {
        warnings.push(
            "kubernetes-executor is set, but this agent has no Kubernetes executor; jobs run with the executor their request names"
                .to_owned(),
        );
    }
    Ok(LoadedConfig { config, warnings })
}

/// A value error about the token would quote the token: keep only the key and the source.
fn redact(err: ConfigError) -> ConfigError {
    match err {
        ConfigError::InvalidValue { key, from, .. } if key == "token" => {
            ConfigError::InvalidValue {
                key,
                from,
                message: "not a string".to_owned(),
            }
        }
        other => other,
    }
}

/// The file's permission bits when group or others may read or write it (unix only).
pub fn readable_by_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The file's top-level mapping. An empty file is an empty mapping.
fn read_yaml(path: &Path) -> Result<Map<String, Value>, ListenerError> {
    let text = std::fs::read_to_string(path).map_err(|source| ListenerError::ReadConfig {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_error = |message: String| ListenerError::ParseConfig {
        path: path.to_path_buf(),
        message,
    };
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    // Through serde_json::Value, so `from_sources` sees the same shapes as from flags.
    let value: Value = serde_norway::from_str(&text).map_err(|err| {
        // The location only: serde_norway's message may quote a scalar of the file.
        parse_error(match err.location() {
            Some(at) => format!("invalid YAML at line {}, column {}", at.line(), at.column()),
            None => "invalid YAML".to_owned(),
        })
    })?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(parse_error(
            "the top level is not a mapping of keys".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_left_out_are_not_sources() {
        let args = StartArgs {
            endpoint: Some("hub:1".into()),
            no_https: Some(true),
            ..StartArgs::default()
        };
        let flags = args.flags();
        assert_eq!(flags.len(), 2);
        assert_eq!(flags["no-https"], Value::Bool(true));
    }
}
