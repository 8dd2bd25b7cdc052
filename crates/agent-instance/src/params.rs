//! The agent's `config.yaml`, written from the stack's agent parameters (the SSM parameter
//! `<stack>-config`, whose type `stack_contract::AgentParameters` is shared with the template),
//! and GitHub's host keys as `known_hosts` lines.

use serde_json::Value;

pub use stack_contract::{AgentParameters, ParamsError};

/// The agent's `config.yaml`. Strings are written as JSON strings, which YAML reads as
/// double-quoted scalars, so no value can break the file's structure.
pub fn agent_config_yaml(params: &AgentParameters, name: &str, token: &str, hook: &str) -> String {
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
        params.disconnect_after_idle_timeout_secs
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
    fn yaml_quotes_every_string_and_lists_env_vars() {
        let mut p = AgentParameters::parse("p", STACK_WRITES).expect("valid");
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
