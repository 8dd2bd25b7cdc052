//! The stack's agent parameters: the `<stack>-config` SSM parameter the template writes and
//! every instance reads at boot (`agent-instance boot` on Linux and macOS, `start.ps1` on
//! Windows).
//!
//! The value is compact JSON with the original's key order and value types: the two
//! disconnect settings are **strings** (`"true"`, `"300"`), `usePreSignedURL` is a boolean.
//! [`AgentParameters::to_json`] writes exactly that; [`AgentParameters::parse`] reads it (and
//! also numbers and booleans where the original wrote strings, so a hand-edited parameter
//! still boots). The value rules ([`disconnect_after_job`], [`idle_timeout_secs`]) are the
//! ones `agent-aws-stack config` applies, so a value that passes configuration always boots.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest idle timeout, in seconds: the agent and the Windows script read it as a 32-bit
/// signed integer (about 68 years).
pub const MAX_IDLE_TIMEOUT_SECS: u32 = i32::MAX as u32;

/// What the stack tells each instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentParameters {
    /// Semaphore host, without scheme (`acme.semaphoreci.com`).
    pub endpoint: String,
    /// The SecureString parameter holding the agent registration token.
    pub token_parameter: String,
    /// The String parameter holding GitHub's SSH host keys (a JSON array).
    pub ssh_keys_parameter: String,
    /// Disconnect (and terminate the instance) after each job.
    pub disconnect_after_job: bool,
    /// Disconnect after this many idle seconds (0: never).
    pub disconnect_after_idle_timeout_secs: u32,
    /// `NAME=VALUE` entries for every job's environment.
    pub env_vars: Vec<String>,
    /// Register under a pre-signed STS `GetCallerIdentity` URL instead of a random name.
    pub use_pre_signed_url: bool,
}

/// The JSON keys, in the order the original wrote them.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    endpoint: Option<String>,
    agent_token_parameter_name: Option<String>,
    ssh_keys_parameter_name: Option<String>,
    disconnect_after_job: Option<Value>,
    disconnect_after_idle_timeout: Option<Value>,
    #[serde(default)]
    env_vars: Vec<String>,
    #[serde(rename = "usePreSignedURL")]
    use_pre_signed_url: Option<Value>,
}

/// The parameter's value cannot be used; names the parameter and the key.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("agent parameters in {parameter}: {problem}")]
pub struct ParamsError {
    /// The SSM parameter read.
    pub parameter: String,
    /// What is wrong, naming the key.
    pub problem: String,
}

/// Reads `SEMAPHORE_AGENT_DISCONNECT_AFTER_JOB`'s value: exactly `true` or `false`.
pub fn disconnect_after_job(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Reads `SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT`'s value: a whole number of seconds
/// from 0 to [`MAX_IDLE_TIMEOUT_SECS`], digits only (no sign, unit or fraction).
pub fn idle_timeout_secs(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>()
        .ok()
        .filter(|secs| *secs <= MAX_IDLE_TIMEOUT_SECS)
}

fn boolean(value: Option<&Value>, default: bool) -> Option<bool> {
    match value {
        None | Some(Value::Null) => Some(default),
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => disconnect_after_job(s.trim()),
        Some(_) => None,
    }
}

fn seconds(value: Option<&Value>, default: u32) -> Option<u32> {
    match value {
        None | Some(Value::Null) => Some(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n <= MAX_IDLE_TIMEOUT_SECS),
        Some(Value::String(s)) => idle_timeout_secs(s.trim()),
        Some(_) => None,
    }
}

impl AgentParameters {
    /// The parameter's value as the template writes it.
    pub fn to_json(&self) -> String {
        let wire = Wire {
            endpoint: Some(self.endpoint.clone()),
            agent_token_parameter_name: Some(self.token_parameter.clone()),
            ssh_keys_parameter_name: Some(self.ssh_keys_parameter.clone()),
            disconnect_after_job: Some(Value::String(self.disconnect_after_job.to_string())),
            disconnect_after_idle_timeout: Some(Value::String(
                self.disconnect_after_idle_timeout_secs.to_string(),
            )),
            env_vars: self.env_vars.clone(),
            use_pre_signed_url: Some(Value::Bool(self.use_pre_signed_url)),
        };
        serde_json::to_string(&wire).expect("strings and booleans serialize")
    }

    /// Parses the parameter's value; `parameter` names it in errors. Missing disconnect
    /// settings take the stack's defaults (`true`, 300 s).
    pub fn parse(parameter: &str, text: &str) -> Result<AgentParameters, ParamsError> {
        let problem = |problem: String| ParamsError {
            parameter: parameter.to_owned(),
            problem,
        };
        let wire: Wire = serde_json::from_str(text)
            .map_err(|e| problem(format!("not the JSON object the stack writes ({e})")))?;
        let required = |value: Option<String>, key: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| problem(format!("`{key}` is missing or empty")))
        };
        let params = AgentParameters {
            endpoint: required(wire.endpoint, "endpoint")?,
            token_parameter: required(wire.agent_token_parameter_name, "agentTokenParameterName")?,
            ssh_keys_parameter: required(wire.ssh_keys_parameter_name, "sshKeysParameterName")?,
            disconnect_after_job: boolean(wire.disconnect_after_job.as_ref(), true).ok_or_else(
                || problem("`disconnectAfterJob` must be \"true\" or \"false\"".into()),
            )?,
            disconnect_after_idle_timeout_secs: seconds(
                wire.disconnect_after_idle_timeout.as_ref(),
                300,
            )
            .ok_or_else(|| {
                problem(format!(
                    "`disconnectAfterIdleTimeout` must be a whole number of seconds from 0 to {MAX_IDLE_TIMEOUT_SECS}"
                ))
            })?,
            env_vars: wire.env_vars,
            use_pre_signed_url: match wire.use_pre_signed_url {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => b,
                Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
                Some(_) => return Err(problem("`usePreSignedURL` must be true or false".into())),
            },
        };
        if let Some(bad) = params.env_vars.iter().find(|v| !is_env_assignment(v)) {
            return Err(problem(format!(
                "`envVars` entry `{bad}` is not NAME=VALUE"
            )));
        }
        Ok(params)
    }
}

/// `NAME=VALUE` with a non-empty name.
pub fn is_env_assignment(entry: &str) -> bool {
    entry
        .split_once('=')
        .is_some_and(|(name, _)| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value the original wrote for its test stack, byte for byte.
    const ORIGINAL: &str = r#"{"endpoint":"test.semaphoreci.com","agentTokenParameterName":"test-token","sshKeysParameterName":"test-stack-ssh-public-keys","disconnectAfterJob":"true","disconnectAfterIdleTimeout":"300","envVars":[],"usePreSignedURL":false}"#;

    fn original() -> AgentParameters {
        AgentParameters {
            endpoint: "test.semaphoreci.com".into(),
            token_parameter: "test-token".into(),
            ssh_keys_parameter: "test-stack-ssh-public-keys".into(),
            disconnect_after_job: true,
            disconnect_after_idle_timeout_secs: 300,
            env_vars: vec![],
            use_pre_signed_url: false,
        }
    }

    #[test]
    fn writes_the_originals_bytes_and_reads_them_back() {
        assert_eq!(original().to_json(), ORIGINAL);
        assert_eq!(AgentParameters::parse("p", ORIGINAL), Ok(original()));
        let mut other = original();
        other.disconnect_after_job = false;
        other.disconnect_after_idle_timeout_secs = 0;
        other.env_vars = vec!["SEMAPHORE_CACHE_BACKEND=s3".into(), "A=b=c".into()];
        other.use_pre_signed_url = true;
        assert_eq!(AgentParameters::parse("p", &other.to_json()), Ok(other));
    }

    #[test]
    fn value_rules() {
        for (text, expected) in [
            ("0", Some(0)),
            ("300", Some(300)),
            ("2147483647", Some(MAX_IDLE_TIMEOUT_SECS)),
            ("2147483648", None),
            ("18446744073709551616", None),
            ("5m", None),
            ("-1", None),
            ("+5", None),
            ("abc", None),
            ("", None),
            (" 300", None),
            ("3.5", None),
        ] {
            assert_eq!(idle_timeout_secs(text), expected, "{text:?}");
        }
        for (text, expected) in [
            ("true", Some(true)),
            ("false", Some(false)),
            ("maybe", None),
            ("True", None),
            ("1", None),
            ("", None),
        ] {
            assert_eq!(disconnect_after_job(text), expected, "{text:?}");
        }
    }

    #[test]
    fn tolerates_numbers_and_booleans_and_defaults() {
        let text = r#"{"endpoint":"e","agentTokenParameterName":"t","sshKeysParameterName":"k","disconnectAfterJob":false,"disconnectAfterIdleTimeout":60}"#;
        let p = AgentParameters::parse("p", text).expect("valid");
        assert!(!p.disconnect_after_job);
        assert_eq!(p.disconnect_after_idle_timeout_secs, 60);
        let text = r#"{"endpoint":"e","agentTokenParameterName":"t","sshKeysParameterName":"k"}"#;
        let p = AgentParameters::parse("p", text).expect("valid");
        assert!(p.disconnect_after_job);
        assert_eq!(p.disconnect_after_idle_timeout_secs, 300);
        assert!(!p.use_pre_signed_url);
    }

    #[test]
    fn names_the_bad_key() {
        for (from, to, key) in [
            (r#""300""#, r#""five""#, "disconnectAfterIdleTimeout"),
            (r#""300""#, "-1", "disconnectAfterIdleTimeout"),
            (r#""true""#, r#""maybe""#, "disconnectAfterJob"),
            ("false}", "\"no\"}", "usePreSignedURL"),
            (r#""envVars":[]"#, r#""envVars":["=x"]"#, "envVars"),
            (
                r#""endpoint":"test.semaphoreci.com""#,
                r#""endpoint":"""#,
                "endpoint",
            ),
        ] {
            let text = ORIGINAL.replace(from, to);
            assert_ne!(text, ORIGINAL);
            let err = AgentParameters::parse("stack-config", &text).expect_err(key);
            assert!(err.problem.contains(key), "{key}: {err}");
            assert!(
                err.to_string()
                    .starts_with("agent parameters in stack-config: ")
            );
        }
        assert!(AgentParameters::parse("p", "[]").is_err());
    }
}
