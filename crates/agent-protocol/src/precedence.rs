//! Where each `AgentConfig` key comes from (spec section 2): an explicit flag, else the
//! `SEMAPHORE_AGENT_<KEY>` environment variable, else the config file, else the default.
//!
//! Pure: the caller parses the flags and the YAML file into JSON values and hands over the
//! environment; this module picks one value per key and reads the result as an
//! [`AgentConfig`], naming the key and its source when a value is wrong. A list from one
//! source replaces the others' lists as a whole; nothing is merged inside a key.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::{AgentConfig, ConfigError};

/// The configuration as each source gives it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigSources {
    /// Flags given on the command line, by key (`"no-https": true`). Only flags the user
    /// wrote: a flag left at its default must not be here, or it would hide the others.
    pub flags: Map<String, Value>,
    /// The process environment (or just its `SEMAPHORE_AGENT_*` part). Variables for other
    /// purposes (`SEMAPHORE_AGENT_LOG_LEVEL`, …) are ignored; an empty value counts as unset,
    /// as in the Go agent.
    pub env: BTreeMap<String, String>,
    /// The config file's top-level mapping, if a file was given.
    pub file: Option<Map<String, Value>>,
}

/// Where a configuration value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A command-line flag.
    Flag,
    /// An environment variable, by name.
    Env(String),
    /// The config file.
    File,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Flag => f.write_str("flag"),
            ConfigSource::Env(name) => write!(f, "environment variable {name}"),
            ConfigSource::File => f.write_str("config file"),
        }
    }
}

impl AgentConfig {
    /// The environment variable that sets `key`: `SEMAPHORE_AGENT_` and the key in upper
    /// snake case (`no-https` → `SEMAPHORE_AGENT_NO_HTTPS`).
    pub fn env_var_name(key: &str) -> String {
        format!("SEMAPHORE_AGENT_{}", key.to_uppercase().replace('-', "_"))
    }

    /// Picks each key's value by precedence (flag > environment > file > default) and reads
    /// the result. An unknown key in the file or among the flags is refused by name; a value
    /// of the wrong type is refused naming its key and source. Environment values are
    /// strings, read as the key's type (`"true"`, `"300"`, lists split on commas and
    /// whitespace). Does not run [`AgentConfig::validate`].
    pub fn from_sources(sources: &ConfigSources) -> Result<AgentConfig, ConfigError> {
        let file = sources.file.clone().unwrap_or_default();
        if let Some(key) = file
            .keys()
            .chain(sources.flags.keys())
            .find(|key| !AgentConfig::KEYS.contains(&key.as_str()))
        {
            return Err(ConfigError::UnknownKey(key.clone()));
        }
        let mut chosen: Vec<(&str, Value, ConfigSource)> = Vec::new();
        for key in AgentConfig::KEYS {
            let env_name = AgentConfig::env_var_name(key);
            if let Some(value) = sources.flags.get(*key) {
                chosen.push((key, value.clone(), ConfigSource::Flag));
            } else if let Some(value) = sources.env.get(&env_name).filter(|v| !v.is_empty()) {
                chosen.push((
                    key,
                    Value::String(value.clone()),
                    ConfigSource::Env(env_name),
                ));
            } else if let Some(value) = file.get(*key) {
                chosen.push((key, value.clone(), ConfigSource::File));
            }
        }
        let merged: Map<String, Value> = chosen
            .iter()
            .map(|(key, value, _)| ((*key).to_owned(), value.clone()))
            .collect();
        serde_json::from_value(Value::Object(merged)).map_err(|whole| {
            // Name the key at fault: read each value on its own (the keys are independent).
            chosen
                .iter()
                .find_map(|(key, value, from)| {
                    let mut single = Map::new();
                    single.insert((*key).to_owned(), value.clone());
                    serde_json::from_value::<AgentConfig>(Value::Object(single))
                        .err()
                        .map(|e| ConfigError::InvalidValue {
                            key: (*key).to_owned(),
                            from: from.clone(),
                            message: e.to_string(),
                        })
                })
                // Not expected, as the keys are read independently; keep serde's message.
                .unwrap_or_else(|| ConfigError::InvalidValue {
                    key: String::new(),
                    from: ConfigSource::File,
                    message: whole.to_string(),
                })
        })
    }
}
