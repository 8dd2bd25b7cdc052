//! The agent's `config.yaml`, written from the stack's agent parameters (the SSM parameter
//! `<stack>-config`, whose type `stack_contract::AgentParameters` is shared with the template),
//! and GitHub's host keys as `known_hosts` lines.

use agent_protocol::{AgentConfig, Secret, UploadJobLogs};

pub use stack_contract::{AgentParameters, ParamsError};

/// The agent's configuration for this instance: the stack's agent parameters, the agent's
/// name and token, and the shutdown hook, in the schema the agent itself reads
/// (`agent_protocol::AgentConfig`), so nothing here spells a key by hand.
pub fn agent_config(params: &AgentParameters, name: &str, token: &str, hook: &str) -> AgentConfig {
    AgentConfig {
        endpoint: params.endpoint.clone(),
        token: Secret::new(token),
        name: name.to_owned(),
        no_https: false,
        shutdown_hook_path: hook.to_owned(),
        disconnect_after_job: params.disconnect_after_job,
        disconnect_after_idle_timeout_secs: i64::from(params.disconnect_after_idle_timeout_secs),
        upload_job_logs: UploadJobLogs::WhenTrimmed,
        env_vars: params.env_vars.clone(),
        files: Vec::new(),
        fail_on_missing_files: false,
        ..AgentConfig::default()
    }
}

/// `config.yaml`'s text: `config` as YAML, which the Rust agent and the Go agent both read.
pub fn config_file_text(config: &AgentConfig) -> String {
    serde_norway::to_string(config).expect("the agent configuration serializes to YAML")
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
    fn the_config_file_reads_back_as_the_agents_schema() {
        let mut p = AgentParameters::parse("p", STACK_WRITES).expect("valid");
        p.env_vars = vec!["SEMAPHORE_CACHE_BACKEND=s3".into(), "A=b: \"c\"".into()];
        let text = config_file_text(&agent_config(&p, "i-1__abc", "to\"ken: x", "/hook"));
        let read: AgentConfig = serde_norway::from_str(&text).expect("the agent reads it");
        assert_eq!(read.token.expose(), "to\"ken: x");
        assert_eq!(read.endpoint, "test.semaphoreci.com");
        assert_eq!(read.name, "i-1__abc");
        assert!(read.disconnect_after_job);
        assert_eq!(read.disconnect_after_idle_timeout_secs, 300);
        assert_eq!(read.env_vars, p.env_vars);
        assert_eq!(read.shutdown_hook_path, "/hook");
        assert_eq!(read.upload_job_logs, UploadJobLogs::WhenTrimmed);
        read.validate()
            .expect("a configuration the agent starts with");
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
