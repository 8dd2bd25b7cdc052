//! The Windows image reads the agent parameters in PowerShell (`packer/windows/files/start.ps1`),
//! which cannot run here (no PowerShell on the build machines). These tests check it statically
//! against the contract: it reads only keys the template writes, requires the same keys, and
//! its value checks (regular expressions and an `[int]::TryParse`, taken from the script
//! itself) give the same verdict as the Rust reader on every fixture.

use regex::Regex;
use serde_json::Value;
use stack_contract::AgentParameters;

use crate::{agent_param_fixtures, key_of, workspace_root};

fn script() -> String {
    std::fs::read_to_string(workspace_root().join("packer/windows/files/start.ps1"))
        .expect("start.ps1 is in the repository")
}

/// The keys the contract writes.
fn contract_keys() -> Vec<String> {
    let text = agent_param_fixtures("valid")
        .into_iter()
        .next()
        .expect("a valid fixture")
        .1;
    let params = AgentParameters::parse("p", text.trim_end()).expect("valid");
    let value: Value = serde_json::from_str(&params.to_json()).expect("JSON");
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn reads_only_keys_the_template_writes() {
    let script = script();
    let read = Regex::new(r"\$[Pp]arams\.([A-Za-z]+)").expect("regex");
    let keys = contract_keys();
    let mut seen = Vec::new();
    for capture in read.captures_iter(&script) {
        let key = capture[1].to_owned();
        assert!(
            keys.contains(&key),
            "start.ps1 reads `{key}`, which the template never writes"
        );
        seen.push(key);
    }
    for key in [
        "disconnectAfterJob",
        "disconnectAfterIdleTimeout",
        "envVars",
        "usePreSignedURL",
    ] {
        assert!(
            seen.iter().any(|k| k == key),
            "start.ps1 no longer reads `{key}`"
        );
    }
}

#[test]
fn requires_the_same_keys() {
    let script = script();
    let list = Regex::new(r#"foreach \(\$key in ((?:"[A-Za-z]+"(?:, )?)+)\)"#).expect("regex");
    let required: Vec<String> = list.captures(&script).expect("the required-keys loop")[1]
        .split(", ")
        .map(|k| k.trim_matches('"').to_owned())
        .collect();
    assert_eq!(
        required,
        [
            "endpoint",
            "agentTokenParameterName",
            "sshKeysParameterName"
        ]
    );
    // The Rust reader refuses each of them empty.
    let text = agent_param_fixtures("valid").remove(0).1;
    for key in &required {
        let mut value: Value = serde_json::from_str(&text).expect("JSON");
        value[key.as_str()] = Value::String(String::new());
        let err = AgentParameters::parse("p", &value.to_string()).expect_err(key);
        assert!(err.problem.contains(key.as_str()), "{err}");
    }
}

/// The script's verdict on one parameter value, using the patterns written in the script.
struct WindowsReader {
    after_job: Regex,
    idle: Regex,
}

impl WindowsReader {
    fn from_script(script: &str) -> WindowsReader {
        let pattern = |variable: &str| {
            let find = Regex::new(&format!(r"\${variable} -cnotmatch '([^']+)'")).expect("regex");
            let captures = find
                .captures(script)
                .unwrap_or_else(|| panic!("start.ps1 no longer checks ${variable}"));
            Regex::new(&captures[1]).expect("the script's pattern is a valid regex")
        };
        assert!(
            script.contains("[int]::TryParse($idle, [ref]$idleSeconds)"),
            "start.ps1 no longer range-checks the idle timeout as an Int32"
        );
        WindowsReader {
            after_job: pattern("afterJob"),
            idle: pattern("idle"),
        }
    }

    /// `Err(key)` for the first value the script throws on.
    fn check(&self, value: &Value) -> Result<(), String> {
        for key in [
            "endpoint",
            "agentTokenParameterName",
            "sshKeysParameterName",
        ] {
            if value[key].as_str().is_none_or(str::is_empty) {
                return Err(key.into());
            }
        }
        // `"$($params.x)"` of a JSON string is the string itself.
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
        if !self.after_job.is_match(&text("disconnectAfterJob")) {
            return Err("disconnectAfterJob".into());
        }
        let idle = text("disconnectAfterIdleTimeout");
        // `[int]::TryParse` of a digits-only string: true within Int32.
        if !self.idle.is_match(&idle) || idle.parse::<i32>().is_err() {
            return Err("disconnectAfterIdleTimeout".into());
        }
        Ok(())
    }
}

#[test]
fn value_checks_agree_with_the_contract_on_every_fixture() {
    let reader = WindowsReader::from_script(&script());
    for (name, text) in agent_param_fixtures("valid") {
        let value: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(reader.check(&value), Ok(()), "{name}");
    }
    for (name, text) in agent_param_fixtures("invalid") {
        let value: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            reader.check(&value),
            Err(key_of(&name).to_owned()),
            "{name}"
        );
        assert!(AgentParameters::parse("p", &text).is_err(), "{name}");
    }
}
