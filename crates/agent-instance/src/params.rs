//! The stack's agent parameters (the SSM parameter `<stack>-config`) and the agent's
//! `config.yaml` written from them.

use serde::Deserialize;
use serde_json::Value;

/// What the stack tells each instance, as the stack writes it: compact JSON where the two
/// disconnect settings are strings (`"true"`, `"300"`). Numbers and booleans are accepted too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentParams {
    /// Semaphore host, without scheme (`acme.semaphoreci.com`).
    pub endpoint: String,
    /// The SecureString parameter holding the agent token.
    pub token_parameter: String,
    /// The String parameter holding GitHub's SSH host keys (a JSON array).
    pub ssh_keys_parameter: String,
    /// Disconnect after each job.
    pub disconnect_after_job: bool,
    /// Disconnect after this many idle seconds (0: never).
    pub disconnect_after_idle_timeout: u64,
    /// `NAME=VALUE` entries for every job's environment.
    pub env_vars: Vec<String>,
    /// Register under a pre-signed STS `GetCallerIdentity` URL instead of a random name.
    pub use_pre_signed_url: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    endpoint: Option<String>,
    agent_token_parameter_name: Option<String>,
    ssh_keys_parameter_name: Option<String>,
    disconnect_after_job: Option<Value>,
    disconnect_after_idle_timeout: Option<Value>,
    #[serde(default)]
    env_vars: Vec<String>,
    use_pre_signed_u_r_l: Option<Value>,
}

/// A parameter value the stack should never have written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("agent parameters in {parameter}: {problem}")]
pub struct ParamsError {
    /// The SSM parameter read.
    pub parameter: String,
    /// What is wrong, naming the key.
    pub problem: String,
}

fn boolean(value: Option<&Value>, default: bool) -> Option<bool> {
    match value {
        None | Some(Value::Null) => Some(default),
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => match s.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Some(_) => None,
    }
}

fn seconds(value: Option<&Value>, default: u64) -> Option<u64> {
    match value {
        None | Some(Value::Null) => Some(default),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    }
}

impl AgentParams {
    /// Parses the parameter's value; `parameter` names it in errors.
    pub fn parse(parameter: &str, text: &str) -> Result<AgentParams, ParamsError> {
        let problem = |problem: String| ParamsError {
            parameter: parameter.to_owned(),
            problem,
        };
        let raw: Raw = serde_json::from_str(text)
            .map_err(|e| problem(format!("not the JSON object the stack writes ({e})")))?;
        let required = |value: Option<String>, key: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| problem(format!("`{key}` is missing or empty")))
        };
        let params = AgentParams {
            endpoint: required(raw.endpoint, "endpoint")?,
            token_parameter: required(raw.agent_token_parameter_name, "agentTokenParameterName")?,
            ssh_keys_parameter: required(raw.ssh_keys_parameter_name, "sshKeysParameterName")?,
            disconnect_after_job: boolean(raw.disconnect_after_job.as_ref(), true).ok_or_else(
                || problem("`disconnectAfterJob` must be \"true\" or \"false\"".into()),
            )?,
            disconnect_after_idle_timeout: seconds(raw.disconnect_after_idle_timeout.as_ref(), 300)
                .ok_or_else(|| {
                    problem("`disconnectAfterIdleTimeout` must be a whole number of seconds".into())
                })?,
            env_vars: raw.env_vars,
            use_pre_signed_url: boolean(raw.use_pre_signed_u_r_l.as_ref(), false)
                .ok_or_else(|| problem("`usePreSignedURL` must be true or false".into()))?,
        };
        if let Some(bad) = params.env_vars.iter().find(|v| !v.contains('=')) {
            return Err(problem(format!(
                "`envVars` entry `{bad}` is not NAME=VALUE"
            )));
        }
        Ok(params)
    }
}

/// The agent's `config.yaml`. Strings are written as JSON strings, which YAML reads as
/// double-quoted scalars, so no value can break the file's structure.
pub fn agent_config_yaml(params: &AgentParams, name: &str, token: &str, hook: &str) -> String {
    let quoted = |s: &str| Value::String(s.to_owned()).to_string();
    let mut out = String::new();
    out.push_str(&format!("endpoint: {}\n", quoted(&params.endpoint)));
    out.push_str(&format!("token: {}\n", quoted(token)));
    out.push_str(&format!("name: {}\n", quoted(name)));
    out.push_str("no-https: false\n");
    out.push_str(&format!("shutdown-hook-path: {}\n", quoted(hook)));
    out.push_str(&format!(
        "disconnect-after-job: {}\n",
        params.disconnect_after_job
    ));
    out.push_str(&format!(
        "disconnect-after-idle-timeout: {}\n",
        params.disconnect_after_idle_timeout
    ));
    out.push_str("upload-job-logs: \"when-trimmed\"\n");
    if params.env_vars.is_empty() {
        out.push_str("env-vars: []\n");
    } else {
        out.push_str("env-vars:\n");
        for var in &params.env_vars {
            out.push_str(&format!("  - {}\n", quoted(var)));
        }
    }
    out.push_str("files: []\n");
    out.push_str("fail-on-missing-files: false\n");
    out
}

/// GitHub's host keys parameter (a JSON array of `"<type> <base64>"`) as `known_hosts` lines.
pub fn github_known_hosts(parameter: &str, text: &str) -> Result<Vec<String>, ParamsError> {
    let keys: Vec<String> = serde_json::from_str(text).map_err(|e| ParamsError {
        parameter: parameter.to_owned(),
        problem: format!("not a JSON array of SSH keys ({e})"),
    })?;
    if let Some(bad) = keys.iter().find(|k| k.split_whitespace().count() != 2) {
        return Err(ParamsError {
            parameter: parameter.to_owned(),
            problem: format!("`{bad}` is not \"<key type> <base64 key>\""),
        });
    }
    Ok(keys
        .iter()
        .map(|k| format!("github.com {}", k.trim()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK_WRITES: &str = r#"{"endpoint":"test.semaphoreci.com","agentTokenParameterName":"test-token","sshKeysParameterName":"test-stack-ssh-public-keys","disconnectAfterJob":"true","disconnectAfterIdleTimeout":"300","envVars":[],"usePreSignedURL":false}"#;

    #[test]
    fn parses_what_the_stack_writes() {
        let p = AgentParams::parse("test-stack-config", STACK_WRITES).expect("valid");
        assert_eq!(
            p,
            AgentParams {
                endpoint: "test.semaphoreci.com".into(),
                token_parameter: "test-token".into(),
                ssh_keys_parameter: "test-stack-ssh-public-keys".into(),
                disconnect_after_job: true,
                disconnect_after_idle_timeout: 300,
                env_vars: vec![],
                use_pre_signed_url: false,
            }
        );
    }

    #[test]
    fn names_the_bad_key() {
        let text = STACK_WRITES.replace(r#""300""#, r#""five""#);
        let err = AgentParams::parse("p", &text).expect_err("refused");
        assert!(err.problem.contains("disconnectAfterIdleTimeout"), "{err}");
        let text = STACK_WRITES.replace(r#""endpoint":"test.semaphoreci.com","#, "");
        let err = AgentParams::parse("p", &text).expect_err("refused");
        assert!(err.to_string().contains("`endpoint` is missing"), "{err}");
        let err = AgentParams::parse("p", "[]").expect_err("refused");
        assert!(
            err.to_string().starts_with("agent parameters in p:"),
            "{err}"
        );
    }

    #[test]
    fn yaml_quotes_every_string_and_lists_env_vars() {
        let mut p = AgentParams::parse("p", STACK_WRITES).expect("valid");
        p.env_vars = vec!["SEMAPHORE_CACHE_BACKEND=s3".into(), "A=b: \"c\"".into()];
        let yaml = agent_config_yaml(&p, "i-1__abc", "to\"ken", "/hook");
        assert!(yaml.contains("token: \"to\\\"ken\"\n"), "{yaml}");
        assert!(yaml.contains("disconnect-after-job: true\n"));
        assert!(yaml.contains("disconnect-after-idle-timeout: 300\n"));
        assert!(
            yaml.contains(
                "env-vars:\n  - \"SEMAPHORE_CACHE_BACKEND=s3\"\n  - \"A=b: \\\"c\\\"\"\n"
            )
        );
        assert!(yaml.contains("shutdown-hook-path: \"/hook\"\n"));
    }

    #[test]
    fn known_hosts_lines_for_github() {
        let lines = github_known_hosts("k", r#"["ssh-ed25519 AAAA", "ecdsa-sha2-nistp256 BBBB"]"#)
            .expect("valid");
        assert_eq!(
            lines,
            vec![
                "github.com ssh-ed25519 AAAA",
                "github.com ecdsa-sha2-nistp256 BBBB"
            ]
        );
        assert!(github_known_hosts("k", r#"["one-part"]"#).is_err());
    }
}
