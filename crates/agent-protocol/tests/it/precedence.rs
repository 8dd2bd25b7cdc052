//! Flag > `SEMAPHORE_AGENT_*` environment > config file > default, one key at a time.

use std::collections::BTreeMap;

use agent_protocol::{AgentConfig, ConfigError, ConfigSource, ConfigSources, UploadJobLogs};
use serde_json::{Map, Value, json};

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn each_key_takes_the_highest_source_that_sets_it() {
    let sources = ConfigSources {
        flags: map(json!({"endpoint": "flag.example", "no-https": false})),
        env: env(&[
            ("SEMAPHORE_AGENT_ENDPOINT", "env.example"),
            ("SEMAPHORE_AGENT_TOKEN", "env-token"),
            ("SEMAPHORE_AGENT_NO_HTTPS", "true"),
        ]),
        file: Some(map(json!({
            "endpoint": "file.example",
            "token": "file-token",
            "name": "from-the-file",
        }))),
    };
    let config = AgentConfig::from_sources(&sources).expect("valid");
    assert_eq!(config.endpoint, "flag.example", "flag beats env and file");
    assert_eq!(config.token.expose(), "env-token", "env beats file");
    assert_eq!(config.name, "from-the-file", "file beats default");
    assert!(!config.no_https, "an explicit false flag beats env true");
    assert_eq!(config.upload_job_logs, UploadJobLogs::Never, "default");
}

#[test]
fn environment_strings_are_read_as_the_keys_types() {
    let sources = ConfigSources {
        env: env(&[
            ("SEMAPHORE_AGENT_DISCONNECT_AFTER_JOB", "true"),
            ("SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT", "300"),
            ("SEMAPHORE_AGENT_ENV_VARS", "C=3,D=4 E=5"),
            ("SEMAPHORE_AGENT_UPLOAD_JOB_LOGS", "when-trimmed"),
        ]),
        file: Some(map(json!({"env-vars": ["A=1", "B=2"]}))),
        ..ConfigSources::default()
    };
    let config = AgentConfig::from_sources(&sources).expect("valid");
    assert!(config.disconnect_after_job);
    assert_eq!(config.disconnect_after_idle_timeout_secs, 300);
    assert_eq!(
        config.env_vars,
        ["C=3", "D=4", "E=5"],
        "the environment's list replaces the file's"
    );
    assert_eq!(config.upload_job_logs, UploadJobLogs::WhenTrimmed);
}

#[test]
fn empty_and_unrelated_variables_are_ignored() {
    let sources = ConfigSources {
        env: env(&[
            ("SEMAPHORE_AGENT_NAME", ""),
            ("SEMAPHORE_AGENT_LOG_LEVEL", "debug"),
            ("SEMAPHORE_AGENT_SHUTDOWN_REASON", "IDLE"),
            ("PATH", "/usr/bin"),
        ]),
        file: Some(map(json!({"name": "file-name"}))),
        ..ConfigSources::default()
    };
    let config = AgentConfig::from_sources(&sources).expect("valid");
    assert_eq!(config.name, "file-name");
    assert_eq!(
        config,
        AgentConfig {
            name: "file-name".into(),
            ..AgentConfig::default()
        }
    );
}

#[test]
fn no_sources_give_the_defaults() {
    assert_eq!(
        AgentConfig::from_sources(&ConfigSources::default()).expect("valid"),
        AgentConfig::default()
    );
}

#[test]
fn unknown_keys_are_refused_by_name_with_the_go_wording() {
    for (name, sources, key) in [
        (
            "file",
            ConfigSources {
                file: Some(map(json!({"endpoint": "e", "endpiont": "e"}))),
                ..ConfigSources::default()
            },
            "endpiont",
        ),
        (
            "flag",
            ConfigSources {
                flags: map(json!({"verbose": true})),
                ..ConfigSources::default()
            },
            "verbose",
        ),
    ] {
        let err = AgentConfig::from_sources(&sources).expect_err(name);
        assert_eq!(err, ConfigError::UnknownKey(key.into()), "{name}");
        assert_eq!(
            err.to_string(),
            format!("Unrecognized option '{key}'. Exiting..."),
            "{name}"
        );
    }
}

#[test]
fn a_bad_value_names_its_key_and_source() {
    let sources = ConfigSources {
        env: env(&[("SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT", "5m")]),
        file: Some(map(json!({"endpoint": "e", "upload-job-logs": "never"}))),
        ..ConfigSources::default()
    };
    let err = AgentConfig::from_sources(&sources).expect_err("refused");
    let ConfigError::InvalidValue { key, from, message } = &err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(key, "disconnect-after-idle-timeout");
    assert_eq!(
        from,
        &ConfigSource::Env("SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT".into())
    );
    assert!(message.contains("\"5m\""), "{message}");
    assert!(
        err.to_string().starts_with(
            "invalid value for 'disconnect-after-idle-timeout' from the environment variable SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT: "
        ),
        "{err}"
    );

    let sources = ConfigSources {
        file: Some(map(json!({"upload-job-logs": "sometimes"}))),
        ..ConfigSources::default()
    };
    let err = AgentConfig::from_sources(&sources).expect_err("refused");
    assert!(
        matches!(&err, ConfigError::InvalidValue { key, from: ConfigSource::File, .. } if key == "upload-job-logs"),
        "{err:?}"
    );
}

#[test]
fn environment_variable_names() {
    for (key, var) in [
        ("endpoint", "SEMAPHORE_AGENT_ENDPOINT"),
        ("no-https", "SEMAPHORE_AGENT_NO_HTTPS"),
        (
            "disconnect-after-idle-timeout",
            "SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT",
        ),
        ("env-vars", "SEMAPHORE_AGENT_ENV_VARS"),
    ] {
        assert_eq!(AgentConfig::env_var_name(key), var);
    }
}
