//! Raw configuration: the `SEMAPHORE_*` values as the user wrote them, gathered from the JSON
//! file named by `SEMAPHORE_AGENT_STACK_CONFIG` (or `--config`) and from the environment, with
//! the environment winning. Nothing is interpreted here except the original's "empty means
//! unset" rule; typing and validation happen in [`crate::StackConfig::from_raw`].

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Serialize;

use crate::error::ConfigError;
use crate::params::{self, PARAMS};
use crate::unknown::{self, UnknownKey};

/// The environment variable naming the JSON config file.
pub const STACK_CONFIG_ENV: &str = "SEMAPHORE_AGENT_STACK_CONFIG";

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "path")]
pub enum Source {
    /// The parameter's default (it was unset, or set to an empty value).
    Default,
    /// The JSON config file.
    File(PathBuf),
    /// An environment variable.
    Env,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env => f.write_str("environment"),
        }
    }
}

/// One raw value and its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawValue {
    /// The value as written; for defaults, the default.
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

/// The raw configuration: every known parameter that has a non-empty value, in the order of
/// [`PARAMS`]. Other names in the file or environment are ignored, as in the original, but
/// remembered ([`RawConfig::unknown`]) so the user can be told about likely misspellings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawConfig {
    values: IndexMap<&'static str, RawValue>,
    file: Option<PathBuf>,
    unknown: Vec<UnknownKey>,
}

impl RawConfig {
    /// Builds the raw configuration from an optional config file and an environment.
    ///
    /// `file` is the path given by `--config`, which wins over `SEMAPHORE_AGENT_STACK_CONFIG`
    /// in `env`. An environment variable overrides the file's key of the same name, even when
    /// it is empty (an empty value then means "use the default", as in the original).
    pub fn load<I, K, V>(file: Option<&Path>, env: I) -> Result<RawConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let env: IndexMap<String, String> = env
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        let file_path = match file {
            Some(path) => Some(path.to_path_buf()),
            None => env
                .get(STACK_CONFIG_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        };
        let file_values = match &file_path {
            Some(path) => read_file(path)?,
            None => IndexMap::new(),
        };
        Ok(RawConfig::from_layers(file_path, &file_values, &env))
    }

    /// Merges an already-read file map and an environment map (environment wins).
    pub fn from_layers(
        file_path: Option<PathBuf>,
        file_values: &IndexMap<String, String>,
        env: &IndexMap<String, String>,
    ) -> RawConfig {
        let mut values = IndexMap::new();
        for param in PARAMS {
            let chosen = match env.get(param.name) {
                Some(v) => Some((v.clone(), Source::Env)),
                None => file_values.get(param.name).map(|v| {
                    (
                        v.clone(),
                        Source::File(file_path.clone().unwrap_or_default()),
                    )
                }),
            };
            if let Some((value, source)) = chosen.filter(|(v, _)| !v.is_empty()) {
                values.insert(param.name, RawValue { value, source });
            }
        }
        let mut unknown: Vec<UnknownKey> = file_values
            .keys()
            .filter(|key| params::find(key).is_none())
            .map(|key| unknown::file_key(key, file_path.clone().unwrap_or_default()))
            .collect();
        unknown.extend(env.keys().filter_map(|name| unknown::env_var(name)));
        RawConfig {
            values,
            file: file_path,
            unknown,
        }
    }

    /// The names that are not stack parameters and were ignored: every such key of the config
    /// file, and the `SEMAPHORE_*` environment variables that look like a misspelt parameter
    /// (see [`crate::unknown`] for the rule). File keys first, each in its source's order.
    pub fn unknown(&self) -> &[UnknownKey] {
        &self.unknown
    }

    /// Builds a raw configuration from `NAME=value` pairs, as if they came from the
    /// environment. Unknown names are ignored. Handy for tests and examples.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> RawConfig {
        let env: IndexMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        RawConfig::from_layers(None, &IndexMap::new(), &env)
    }

    /// The config file that was read, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The user's non-empty value for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|v| v.value.as_str())
    }

    /// The user's value, or the parameter's default (`""` for required ones).
    pub fn get_or_default(&self, name: &str) -> &str {
        self.get(name)
            .or_else(|| params::find(name).and_then(|p| p.default))
            .unwrap_or("")
    }

    /// Every parameter with its effective raw value and source, defaults filled in.
    pub fn resolved(&self) -> Vec<(&'static params::Param, RawValue)> {
        PARAMS
            .iter()
            .map(|param| {
                let value = self.values.get(param.name).cloned().unwrap_or(RawValue {
                    value: param.default.unwrap_or("").to_owned(),
                    source: Source::Default,
                });
                (param, value)
            })
            .collect()
    }
}

/// Reads the JSON config file into `NAME -> string`, every key included (the ones that are
/// not parameters are ignored later, and reported). JSON strings are kept as written;
/// numbers and booleans are turned into their JSON text (`false` → `"false"`, where the
/// original treated `false` and `0` as unset and `true` as false); `null` means unset. The
/// launch-template overrides may be given as a JSON object or array, which is re-serialized.
/// Other objects and arrays are errors.
pub fn read_file(path: &Path) -> Result<IndexMap<String, String>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::FileNotFound {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(ConfigError::FileUnreadable {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| ConfigError::FileNotJson {
            path: path.to_path_buf(),
            source,
        })?;
    let serde_json::Value::Object(object) = json else {
        return Err(ConfigError::FileNotObject {
            path: path.to_path_buf(),
        });
    };
    let mut values = IndexMap::new();
    let mut problems = Vec::new();
    for (key, value) in object {
        let text = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))
                if key == params::ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON =>
            {
                v.to_string()
            }
            // Not a parameter: kept (as JSON) only so that it is reported as unknown.
            v if params::find(&key).is_none() => v.to_string(),
            _ => {
                problems.push(format!(
                    "{key} must be a string, a number or a boolean in {}",
                    path.display()
                ));
                continue;
            }
        };
        values.insert(key, text);
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn write_config(json: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(json.as_bytes()).expect("write");
        file
    }

    #[test]
    fn environment_overrides_file() {
        let file = write_config(
            r#"{"SEMAPHORE_AGENT_STACK_NAME":"from-file","SEMAPHORE_ORGANIZATION":"org"}"#,
        );
        let raw = RawConfig::load(
            Some(file.path()),
            env(&[("SEMAPHORE_AGENT_STACK_NAME", "from-env")]),
        )
        .expect("loads");
        assert_eq!(raw.get("SEMAPHORE_AGENT_STACK_NAME"), Some("from-env"));
        assert_eq!(raw.get("SEMAPHORE_ORGANIZATION"), Some("org"));
        let resolved = raw.resolved();
        let (_, name) = &resolved[0];
        assert_eq!(name.source, Source::Env);
        let org = resolved
            .iter()
            .find(|(p, _)| p.name == "SEMAPHORE_ORGANIZATION")
            .expect("present");
        assert_eq!(org.1.source, Source::File(file.path().to_path_buf()));
    }

    #[test]
    fn config_file_is_found_through_the_environment() {
        let file = write_config(r#"{"SEMAPHORE_AGENT_OS":"windows"}"#);
        let path = file.path().to_str().expect("utf-8 path").to_owned();
        let raw = RawConfig::load(None, env(&[(STACK_CONFIG_ENV, &path)])).expect("loads");
        assert_eq!(raw.get("SEMAPHORE_AGENT_OS"), Some("windows"));
        assert_eq!(raw.file(), Some(file.path()));
    }

    #[test]
    fn empty_environment_value_masks_the_file_and_gives_the_default() {
        let file = write_config(r#"{"SEMAPHORE_AGENT_INSTANCE_TYPE":"t3.large"}"#);
        let raw = RawConfig::load(
            Some(file.path()),
            env(&[("SEMAPHORE_AGENT_INSTANCE_TYPE", "")]),
        )
        .expect("loads");
        assert_eq!(raw.get("SEMAPHORE_AGENT_INSTANCE_TYPE"), None);
        assert_eq!(
            raw.get_or_default("SEMAPHORE_AGENT_INSTANCE_TYPE"),
            "t2.micro"
        );
    }

    #[test]
    fn unknown_names_are_ignored() {
        let raw = RawConfig::from_pairs([("SEMAPHORE_AGENT_NOPE", "x"), ("HOME", "/root")]);
        assert_eq!(raw.get("SEMAPHORE_AGENT_NOPE"), None);
        assert!(
            raw.resolved()
                .iter()
                .all(|(_, v)| v.source == Source::Default)
        );
    }

    #[test]
    fn r16_misspelt_keys_are_reported_with_the_parameter_they_resemble() {
        let file = write_config(
            r#"{"SEMAPHORE_AGENT_STACK_NAME": "s", "SEMAPHORE_AGENT_INSTANCE_TYP": "c6i.large",
                "SEMAPHORE_AGENT_UPLOAD_JOB_LOGS": "always", "notes": {"why": "x"}, "gone": null}"#,
        );
        let raw = RawConfig::load(
            Some(file.path()),
            env(&[
                ("SEMAPHORE_AGENT_ASG_MAX_SIZ", "3"),
                ("SEMAPHORE_GIT_BRANCH", "main"),
                ("SEMAPHORE_AGENT_TOKEN", "secret"),
                ("HOME", "/root"),
            ]),
        )
        .expect("loads");
        assert_eq!(raw.get("SEMAPHORE_AGENT_INSTANCE_TYPE"), None);
        let reported: Vec<(&str, Option<&str>, bool)> = raw
            .unknown()
            .iter()
            .map(|k| {
                (
                    k.name.as_str(),
                    k.did_you_mean,
                    k.origin == crate::unknown::Origin::Env,
                )
            })
            .collect();
        assert_eq!(
            reported,
            vec![
                (
                    "SEMAPHORE_AGENT_INSTANCE_TYP",
                    Some("SEMAPHORE_AGENT_INSTANCE_TYPE"),
                    false
                ),
                ("SEMAPHORE_AGENT_UPLOAD_JOB_LOGS", None, false),
                ("notes", None, false),
                (
                    "SEMAPHORE_AGENT_ASG_MAX_SIZ",
                    Some("SEMAPHORE_AGENT_ASG_MAX_SIZE"),
                    true
                ),
            ]
        );
        assert!(
            raw.unknown()
                .iter()
                .all(|k| !k.to_string().contains("secret")),
            "values are never repeated"
        );
    }

    #[test]
    fn json_scalars_are_stringified_and_null_is_unset() {
        let file = write_config(
            r#"{"SEMAPHORE_AGENT_USE_DYNAMIC_SCALING": false, "SEMAPHORE_AGENT_ASG_MAX_SIZE": 5,
                "SEMAPHORE_AGENT_KEY_NAME": null, "SEMAPHORE_AGENT_USE_IPV6": true,
                "SEMAPHORE_AGENT_ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON": {"instanceType": "t3.large"}}"#,
        );
        let raw = RawConfig::load(Some(file.path()), env(&[])).expect("loads");
        assert_eq!(
            raw.get("SEMAPHORE_AGENT_USE_DYNAMIC_SCALING"),
            Some("false")
        );
        assert_eq!(raw.get("SEMAPHORE_AGENT_ASG_MAX_SIZE"), Some("5"));
        assert_eq!(raw.get("SEMAPHORE_AGENT_KEY_NAME"), None);
        assert_eq!(raw.get("SEMAPHORE_AGENT_USE_IPV6"), Some("true"));
        assert_eq!(
            raw.get("SEMAPHORE_AGENT_ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON"),
            Some(r#"{"instanceType":"t3.large"}"#)
        );
    }

    #[test]
    fn file_errors_name_the_file() {
        let missing = Path::new("/nonexistent/agent-stack.json");
        let err = RawConfig::load(Some(missing), env(&[])).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "Config file /nonexistent/agent-stack.json does not exist"
        );

        let broken = write_config("{not json");
        let err = RawConfig::load(Some(broken.path()), env(&[])).expect_err("broken");
        assert!(
            err.to_string().starts_with(&format!(
                "config file {} is not valid JSON",
                broken.path().display()
            )),
            "{err}"
        );

        let array = write_config("[1]");
        let err = RawConfig::load(Some(array.path()), env(&[])).expect_err("array");
        assert!(err.to_string().contains("must hold a JSON object"), "{err}");

        let nested = write_config(r#"{"SEMAPHORE_AGENT_TAGS": {"a": "b"}}"#);
        let err = RawConfig::load(Some(nested.path()), env(&[])).expect_err("nested");
        assert!(
            err.to_string()
                .contains("SEMAPHORE_AGENT_TAGS must be a string"),
            "{err}"
        );
    }
}
