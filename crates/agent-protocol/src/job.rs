//! The job request: the body of `GET /jobs/{id}` (spec 6). Commands, epilogues, environment
//! variables and files (base64), the docker-compose description, callbacks and the logger.
//!
//! Read the way the Go agent reads it: every field may be missing or `null` (it is then its
//! zero value), unknown fields are ignored, and base64 is decoded only when used
//! ([`Base64::decode`]). `executor` and `logger.method` are open enums: an unknown value
//! parses, and it is the agent that fails the job for it.

use serde::{Deserialize, Serialize};

use crate::go_json::null_as_default;
use crate::{Base64, Secret};

/// One job, as the hub describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JobRequest {
    /// The job's id.
    #[serde(deserialize_with = "null_as_default")]
    pub job_id: String,
    /// Which executor runs the job.
    #[serde(deserialize_with = "null_as_default")]
    pub executor: ExecutorKind,
    /// The job's commands, run in order until the first non-zero exit.
    #[serde(deserialize_with = "null_as_default")]
    pub commands: Vec<Command>,
    /// Epilogue run whatever the result.
    #[serde(deserialize_with = "null_as_default")]
    pub epilogue_always_commands: Vec<Command>,
    /// Epilogue run after `epilogue_always_commands` when the job passed.
    #[serde(deserialize_with = "null_as_default")]
    pub epilogue_on_pass_commands: Vec<Command>,
    /// Epilogue run after `epilogue_always_commands` when the job failed.
    #[serde(deserialize_with = "null_as_default")]
    pub epilogue_on_fail_commands: Vec<Command>,
    /// Variables exported into the job, before the agent's own `env-vars`.
    #[serde(deserialize_with = "null_as_default")]
    pub env_vars: Vec<EnvVar>,
    /// Files written before the commands run.
    #[serde(deserialize_with = "null_as_default")]
    pub files: Vec<JobFile>,
    /// Keys for the hosted SSH jump point. Self-hosted agents ignore them.
    #[serde(deserialize_with = "null_as_default")]
    pub ssh_public_keys: Vec<Base64>,
    /// The containers for the docker-compose executor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<Compose>,
    /// API-mode callbacks (sent only with `logger.method == "pull"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callbacks: Option<Callbacks>,
    /// Where the job's events go.
    #[serde(deserialize_with = "null_as_default")]
    pub logger: Logger,
}

wire_enum! {
    /// The request's `executor`.
    #[derive(Default)]
    pub enum ExecutorKind {
        /// Any other value: the job fails without log events.
        other Unknown,
        /// `""`: the shell executor, as for `shell`. Kept apart so a request round-trips.
        #[default]
        Unset => "",
        /// The shell executor (a PTY bash session).
        Shell => "shell",
        /// The docker-compose executor, with [`JobRequest::compose`].
        DockerCompose => "dockercompose",
    }
}

impl ExecutorKind {
    /// Whether the shell executor runs the job (`""` or `shell`).
    pub fn is_shell(&self) -> bool {
        matches!(self, ExecutorKind::Unset | ExecutorKind::Shell)
    }
}

/// One command of the job or of an epilogue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Command {
    /// The bash source to run.
    #[serde(deserialize_with = "null_as_default")]
    pub directive: String,
    /// The name shown instead of the directive, when not empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

impl Command {
    /// A command without alias.
    pub fn new(directive: impl Into<String>) -> Command {
        Command {
            directive: directive.into(),
            alias: None,
        }
    }

    /// The name of the command in `cmd_started`/`cmd_finished`: the alias when it is not
    /// empty, the directive otherwise.
    pub fn shown_name(&self) -> &str {
        match self.alias.as_deref() {
            Some(alias) if !alias.is_empty() => alias,
            _ => &self.directive,
        }
    }
}

/// One environment variable. The value is base64 of the raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvVar {
    /// The variable's name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Its value, standard base64.
    pub value: Base64,
}

/// One file to write before the commands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JobFile {
    /// Absolute, `~`-prefixed, or relative to `$HOME` (spec 9.5).
    #[serde(deserialize_with = "null_as_default")]
    pub path: String,
    /// The content, standard base64.
    pub content: Base64,
    /// Octal permission bits as given (`"0644"`, `"644"`); see [`JobFile::mode_bits`].
    #[serde(deserialize_with = "null_as_default")]
    pub mode: String,
}

impl JobFile {
    /// The mode as permission bits, parsed like Go's `strconv.ParseUint(mode, 8, 32)`:
    /// octal digits only, no sign or prefix. `None` when it does not parse (the agent then
    /// prints `bad file permission '<mode>'`).
    pub fn mode_bits(&self) -> Option<u32> {
        if self.mode.is_empty() || !self.mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return None;
        }
        u32::from_str_radix(&self.mode, 8).ok()
    }
}

/// The docker-compose executor's description.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Compose {
    /// The containers; the first is the main one, where the commands run.
    #[serde(deserialize_with = "null_as_default")]
    pub containers: Vec<Container>,
    /// Registry logins to run before pulling.
    #[serde(deserialize_with = "null_as_default")]
    pub image_pull_credentials: Vec<ImagePullCredentials>,
    /// Commands run on the host before the containers start.
    #[serde(deserialize_with = "null_as_default")]
    pub host_setup_commands: Vec<Command>,
}

/// One container of a compose job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Container {
    /// Service name (`main` for the first).
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Image reference.
    #[serde(deserialize_with = "null_as_default")]
    pub image: String,
    /// Command override, or `""`.
    #[serde(deserialize_with = "null_as_default")]
    pub command: String,
    /// Entrypoint override, or `""`.
    #[serde(deserialize_with = "null_as_default")]
    pub entrypoint: String,
    /// User override, or `""`.
    #[serde(deserialize_with = "null_as_default")]
    pub user: String,
    /// The container's environment.
    #[serde(deserialize_with = "null_as_default")]
    pub env_vars: Vec<EnvVar>,
}

/// One registry login: its kind is the `DOCKER_CREDENTIAL_TYPE` variable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ImagePullCredentials {
    /// `DOCKER_CREDENTIAL_TYPE` and the variables that kind of login needs.
    #[serde(deserialize_with = "null_as_default")]
    pub env_vars: Vec<EnvVar>,
    /// Files the login needs (a GCR key file, for instance).
    #[serde(deserialize_with = "null_as_default")]
    pub files: Vec<JobFile>,
}

wire_enum! {
    /// The decoded value of `DOCKER_CREDENTIAL_TYPE`.
    pub enum CredentialType {
        /// A type this crate does not know.
        other Unknown,
        /// Docker Hub.
        DockerHub => "DockerHub",
        /// Any registry with user and password.
        GenericDocker => "GenericDocker",
        /// Amazon ECR.
        AwsEcr => "AWS_ECR",
        /// Google Container Registry.
        Gcr => "GCR",
    }
}

impl ImagePullCredentials {
    /// The name of the variable that says which kind of login this is.
    pub const TYPE_VAR: &'static str = "DOCKER_CREDENTIAL_TYPE";

    /// The login's kind; `None` when `DOCKER_CREDENTIAL_TYPE` is missing or not base64 of
    /// UTF-8.
    pub fn credential_type(&self) -> Option<CredentialType> {
        let var = self.env_vars.iter().find(|v| v.name == Self::TYPE_VAR)?;
        let bytes = var.value.decode().ok()?;
        let text = String::from_utf8(bytes).ok()?;
        Some(CredentialType::from_wire(&text))
    }
}

/// API-mode callbacks. Self-hosted (push) jobs send none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Callbacks {
    /// URL for `{"result": ...}` when the job finishes.
    #[serde(deserialize_with = "null_as_default")]
    pub finished: String,
    /// URL for `{}` after teardown.
    #[serde(deserialize_with = "null_as_default")]
    pub teardown_finished: String,
    /// Bearer token for both, or empty.
    pub token: Secret,
}

wire_enum! {
    /// The logger's `method`.
    #[derive(Default)]
    pub enum LoggerMethod {
        /// Any other value: building the job fails.
        other Unknown,
        /// `""`: treated as `pull`. Kept apart so a request round-trips.
        #[default]
        Unset => "",
        /// Stream the events to `logger.url` (every self-hosted job).
        Push => "push",
        /// Keep the events in a local file for API mode.
        Pull => "pull",
    }
}

/// Where the job's events go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Logger {
    /// Push or pull.
    #[serde(deserialize_with = "null_as_default")]
    pub method: LoggerMethod,
    /// The loghub URL for `push`, without a query.
    #[serde(deserialize_with = "null_as_default")]
    pub url: String,
    /// The loghub's Bearer token; replaced by `/refresh` after a 401.
    pub token: Secret,
    /// Size at which a `pull` log counts as trimmed; unused with `push`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size_in_bytes: Option<u64>,
}

impl Logger {
    /// The `pull` size limit when the request gives none: 16 MiB.
    pub const DEFAULT_MAX_SIZE_IN_BYTES: u64 = 16 * 1024 * 1024;
}
