//! `AgentConfig`: the agent's `config.yaml` schema (spec section 2), every key with its type
//! and default, plus the startup checks the Go agent makes before it registers.
//!
//! Serde only: the agent binary parses YAML (and, for the environment, puts its strings
//! under the same keys) and `agent-instance` writes this type instead of hand-built YAML.
//! Reading is strict about keys (an unknown key is refused, naming it) and as lenient about
//! scalar types as the Go agent, which reads through viper: `"true"` for a boolean, `"300"`
//! for a number, any scalar for a string, and for a list either a sequence or one string of
//! items separated by commas or whitespace (the environment form). `null` is the default.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Secret;

wire_enum! {
    /// When to upload the job's log as an artifact (spec 7.6). Any other value is refused.
    #[derive(Default)]
    pub enum UploadJobLogs {
        /// Never.
        #[default]
        Never => "never",
        /// After every job.
        Always => "always",
        /// Only when the loghub refused more output (HTTP 422).
        WhenTrimmed => "when-trimmed",
    }
}

/// The listener's configuration, as `config.yaml` spells it (kebab-case keys).
///
/// Every key is optional; a missing key takes the default shown. `endpoint` and `token` are
/// still required: [`AgentConfig::validate`] refuses them empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct AgentConfig {
    /// `config-file`: the YAML file to load (a flag; accepted in the file, and ignored there).
    /// Default `""`; not written when empty.
    #[serde(
        deserialize_with = "lenient::string",
        skip_serializing_if = "String::is_empty"
    )]
    pub config_file: String,
    /// `endpoint`: the hub's `host[:port]` without scheme, e.g. `myorg.semaphoreci.com`.
    /// Required.
    #[serde(deserialize_with = "lenient::string")]
    pub endpoint: String,
    /// `token`: the agent type's registration token. Required.
    pub token: Secret,
    /// `no-https`: talk to the hub over `http://`. Default `false`.
    #[serde(deserialize_with = "lenient::boolean")]
    pub no_https: bool,
    /// `name`: the agent's name, 8 to 80 characters, or a pre-signed STS URL. Default `""`: a
    /// random name.
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    /// `name-from-env` (deprecated): the environment variable holding the name. Default `""`.
    #[serde(deserialize_with = "lenient::string")]
    pub name_from_env: String,
    /// `shutdown-hook-path`: script run with `bash` on shutdown. Default `""`: none.
    #[serde(deserialize_with = "lenient::string")]
    pub shutdown_hook_path: String,
    /// `pre-job-hook-path`: script run inside each job before its commands. Default `""`.
    #[serde(deserialize_with = "lenient::string")]
    pub pre_job_hook_path: String,
    /// `post-job-hook-path`: script run inside each job after its epilogues. Default `""`.
    #[serde(deserialize_with = "lenient::string")]
    pub post_job_hook_path: String,
    /// `source-pre-job-hook`: run the pre-job hook with `source` instead of `bash`.
    /// Default `false`.
    #[serde(deserialize_with = "lenient::boolean")]
    pub source_pre_job_hook: bool,
    /// `fail-on-pre-job-hook-error`: a failing pre-job hook fails the job. Default `false`.
    #[serde(deserialize_with = "lenient::boolean")]
    pub fail_on_pre_job_hook_error: bool,
    /// `disconnect-after-job`: registered as `single_job`. Default `false`.
    #[serde(deserialize_with = "lenient::boolean")]
    pub disconnect_after_job: bool,
    /// `job-id`: registered as `job_id`; needs `disconnect-after-job`. Default `""`.
    #[serde(deserialize_with = "lenient::string")]
    pub job_id: String,
    /// `disconnect-after-idle-timeout`, seconds: registered as `idle_timeout`. Default `0`
    /// (never); negative is refused.
    #[serde(
        rename = "disconnect-after-idle-timeout",
        deserialize_with = "lenient::integer"
    )]
    pub disconnect_after_idle_timeout_secs: i64,
    /// `interruption-grace-period`, seconds: registered as `interruption_grace_period`.
    /// Default `0`.
    #[serde(
        rename = "interruption-grace-period",
        deserialize_with = "lenient::integer"
    )]
    pub interruption_grace_period_secs: i64,
    /// `env-vars`: `NAME=VALUE` items exported into every job, after the job's own (so they
    /// win). Default `[]`. See [`AgentConfig::env_vars`].
    #[serde(deserialize_with = "lenient::list")]
    pub env_vars: Vec<String>,
    /// `files`: `hostPath:containerPath` items for the docker-compose executor. Default `[]`.
    /// See [`AgentConfig::file_injections`].
    #[serde(deserialize_with = "lenient::list")]
    pub files: Vec<String>,
    /// `fail-on-missing-files`: a missing `files` host path fails a compose job. Default
    /// `false`.
    #[serde(deserialize_with = "lenient::boolean")]
    pub fail_on_missing_files: bool,
    /// `upload-job-logs`: `never`, `always` or `when-trimmed`. Default `never`.
    #[serde(deserialize_with = "lenient::null_default")]
    pub upload_job_logs: UploadJobLogs,
    /// `kubernetes-executor`: the Go agent's Kubernetes executor. Default `false`; not written
    /// when false. Accepted so configs written for the Go agent parse; this agent has no
    /// Kubernetes executor.
    #[serde(
        deserialize_with = "lenient::boolean",
        skip_serializing_if = "is_false"
    )]
    pub kubernetes_executor: bool,
    /// `kubernetes-pod-spec`: Kubernetes only. Default `""`; not written when empty.
    #[serde(
        deserialize_with = "lenient::string",
        skip_serializing_if = "String::is_empty"
    )]
    pub kubernetes_pod_spec: String,
    /// `kubernetes-allowed-images`: Kubernetes only. Default `[]`; not written when empty.
    #[serde(
        deserialize_with = "lenient::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubernetes_allowed_images: Vec<String>,
    /// `kubernetes-pod-start-timeout`, seconds: Kubernetes only. Default `300`; not written
    /// when 300.
    #[serde(
        rename = "kubernetes-pod-start-timeout",
        deserialize_with = "lenient::integer",
        skip_serializing_if = "is_default_pod_start_timeout"
    )]
    pub kubernetes_pod_start_timeout_secs: i64,
    /// `kubernetes-labels`: Kubernetes only. Default `[]`; not written when empty.
    #[serde(
        deserialize_with = "lenient::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubernetes_labels: Vec<String>,
    /// `kubernetes-default-image`: Kubernetes only. Default `""`; not written when empty.
    #[serde(
        deserialize_with = "lenient::string",
        skip_serializing_if = "String::is_empty"
    )]
    pub kubernetes_default_image: String,
}

const DEFAULT_POD_START_TIMEOUT_SECS: i64 = 300;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_default_pod_start_timeout(secs: &i64) -> bool {
    *secs == DEFAULT_POD_START_TIMEOUT_SECS
}

impl Default for AgentConfig {
    fn default() -> AgentConfig {
        AgentConfig {
            config_file: String::new(),
            endpoint: String::new(),
            token: Secret::default(),
            no_https: false,
            name: String::new(),
            name_from_env: String::new(),
            shutdown_hook_path: String::new(),
            pre_job_hook_path: String::new(),
            post_job_hook_path: String::new(),
            source_pre_job_hook: false,
            fail_on_pre_job_hook_error: false,
            disconnect_after_job: false,
            job_id: String::new(),
            disconnect_after_idle_timeout_secs: 0,
            interruption_grace_period_secs: 0,
            env_vars: Vec::new(),
            files: Vec::new(),
            fail_on_missing_files: false,
            upload_job_logs: UploadJobLogs::Never,
            kubernetes_executor: false,
            kubernetes_pod_spec: String::new(),
            kubernetes_allowed_images: Vec::new(),
            kubernetes_pod_start_timeout_secs: DEFAULT_POD_START_TIMEOUT_SECS,
            kubernetes_labels: Vec::new(),
            kubernetes_default_image: String::new(),
        }
    }
}

/// A `files` item: a host path mounted into the compose job's main container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInjection {
    /// Path on the agent's machine.
    pub host_path: String,
    /// Path inside the container.
    pub container_path: String,
}

/// A configuration the agent refuses at startup (exit 1). The first four and `UnknownKey` keep
/// the Go agent's wording, which users and scripts already know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `endpoint` is empty.
    MissingEndpoint,
    /// `token` is empty.
    MissingToken,
    /// `disconnect-after-idle-timeout` is negative.
    NegativeIdleTimeout,
    /// An `env-vars` item is not exactly `NAME=VALUE` with one `=`.
    InvalidEnvVar(String),
    /// A `files` item is not exactly `hostPath:containerPath` with one `:`.
    InvalidFile(String),
    /// `job-id` is set without `disconnect-after-job`.
    JobIdWithoutDisconnectAfterJob,
    /// `name` is not a URL and not 8 to 80 characters long.
    InvalidName(String),
    /// A key that is not in [`AgentConfig::KEYS`] (in the file, or among the flags).
    UnknownKey(String),
    /// A value of the wrong type or out of the key's set.
    InvalidValue {
        /// The key.
        key: String,
        /// Where the value came from.
        from: crate::ConfigSource,
        /// What is wrong with it.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingEndpoint => {
                f.write_str("Semaphore endpoint was not specified. Exiting...")
            }
            ConfigError::MissingToken => {
                f.write_str("Agent registration token was not specified. Exiting...")
            }
            ConfigError::NegativeIdleTimeout => {
                f.write_str("Idle timeout can't be negative. Exiting...")
            }
            ConfigError::InvalidEnvVar(item) => write!(
                f,
                "Error parsing --env-vars: {item} is not a valid environment variable"
            ),
            ConfigError::InvalidFile(item) => write!(
                f,
                "Error parsing --files: {item} is not a valid file injection (hostPath:containerPath)"
            ),
            ConfigError::JobIdWithoutDisconnectAfterJob => {
                f.write_str("job-id can only be used with disconnect-after-job")
            }
            ConfigError::InvalidName(name) => write!(
                f,
                "agent name '{name}' must be between 8 and 80 characters long ({} given)",
                name.chars().count()
            ),
            ConfigError::UnknownKey(key) => write!(f, "Unrecognized option '{key}'. Exiting..."),
            ConfigError::InvalidValue { key, from, message } => {
                write!(f, "invalid value for '{key}' from the {from}: {message}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl AgentConfig {
    /// Every key, in the spec's order: what a file, the environment (`SEMAPHORE_AGENT_` plus
    /// the key in upper snake case) and the flags may set.
    pub const KEYS: &'static [&'static str] = &[
        "config-file",
        "endpoint",
        "token",
        "no-https",
        "name",
        "name-from-env",
        "shutdown-hook-path",
        "pre-job-hook-path",
        "post-job-hook-path",
        "source-pre-job-hook",
        "fail-on-pre-job-hook-error",
        "disconnect-after-job",
        "job-id",
        "disconnect-after-idle-timeout",
        "interruption-grace-period",
        "env-vars",
        "files",
        "fail-on-missing-files",
        "upload-job-logs",
        "kubernetes-executor",
        "kubernetes-pod-spec",
        "kubernetes-allowed-images",
        "kubernetes-pod-start-timeout",
        "kubernetes-labels",
        "kubernetes-default-image",
    ];

    /// The startup checks, in the order the agent reports them; the first failure wins.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.endpoint.is_empty() {
            return Err(ConfigError::MissingEndpoint);
        }
        if self.token.is_empty() {
            return Err(ConfigError::MissingToken);
        }
        if self.disconnect_after_idle_timeout_secs < 0 {
            return Err(ConfigError::NegativeIdleTimeout);
        }
        self.env_vars()?;
        self.file_injections()?;
        if !self.job_id.is_empty() && !self.disconnect_after_job {
            return Err(ConfigError::JobIdWithoutDisconnectAfterJob);
        }
        if !self.name.is_empty() && !is_url(&self.name) {
            let len = self.name.chars().count();
            if !(8..=80).contains(&len) {
                return Err(ConfigError::InvalidName(self.name.clone()));
            }
        }
        Ok(())
    }

    /// `env-vars` as `(name, value)` pairs. Like the Go agent, an item must split on `=` into
    /// exactly two parts, so a value containing `=` is refused.
    pub fn env_vars(&self) -> Result<Vec<(String, String)>, ConfigError> {
        self.env_vars
            .iter()
            .map(|item| match item.split('=').collect::<Vec<_>>()[..] {
                [name, value] => Ok((name.to_owned(), value.to_owned())),
                _ => Err(ConfigError::InvalidEnvVar(item.clone())),
            })
            .collect()
    }

    /// `files` as host/container path pairs; an item must contain exactly one `:`.
    pub fn file_injections(&self) -> Result<Vec<FileInjection>, ConfigError> {
        self.files
            .iter()
            .map(|item| match item.split(':').collect::<Vec<_>>()[..] {
                [host, container] => Ok(FileInjection {
                    host_path: host.to_owned(),
                    container_path: container.to_owned(),
                }),
                _ => Err(ConfigError::InvalidFile(item.clone())),
            })
            .collect()
    }

    /// The hub's base URL: `https://<endpoint>`, or `http://` with `no-https`.
    pub fn hub_base_url(&self) -> String {
        let scheme = if self.no_https { "http" } else { "https" };
        format!("{scheme}://{}{}", self.endpoint, crate::hub_api::BASE_PATH)
    }
}

/// A name that is a URL (a pre-signed STS `GetCallerIdentity` URL) has no length limit. We
/// count as a URL what starts with `http://` or `https://`.
fn is_url(name: &str) -> bool {
    name.starts_with("https://") || name.starts_with("http://")
}

/// viper-like scalar reading for the config keys: see the module documentation.
mod lenient {
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, Deserializer, SeqAccess, Visitor};

    /// `null` is the default; anything else as `T` reads it.
    pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Default,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }

    struct BoolVisitor;

    impl Visitor<'_> for BoolVisitor {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true or false")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            // The strings Go's strconv.ParseBool accepts.
            match v {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }

        fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }

        fn visit_none<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }
    }

    /// A boolean, or one of the strings Go's `strconv.ParseBool` accepts.
    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        d.deserialize_any(BoolVisitor)
    }

    struct IntVisitor;

    impl Visitor<'_> for IntVisitor {
        type Value = i64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number of seconds")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }

        fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
            Ok(0)
        }

        fn visit_none<E: de::Error>(self) -> Result<i64, E> {
            Ok(0)
        }
    }

    /// An integer, or a string holding one.
    pub fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(IntVisitor)
    }

    struct StringVisitor;

    impl Visitor<'_> for StringVisitor {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
    }

    /// A string, or any scalar written as one.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(StringVisitor)
    }

    struct ListVisitor;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings, or one string of items separated by commas or spaces")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                items.push(item);
            }
            Ok(items)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(v.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect())
        }

        fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }
    }

    /// A sequence of strings, or one string split on commas and whitespace.
    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(ListVisitor)
    }
}
