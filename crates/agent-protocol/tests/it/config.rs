//! `AgentConfig`: defaults, every key, refusal of unknown keys, viper-like scalars, the
//! startup checks, and what `agent-instance` will write.

use std::collections::BTreeSet;

use agent_protocol::{AgentConfig, ConfigError, FileInjection, Secret, UploadJobLogs};
use serde_json::{Value, json};

use crate::fixtures::text;

fn parse(value: Value) -> Result<AgentConfig, serde_json::Error> {
    serde_json::from_value(value)
}

fn valid() -> AgentConfig {
    AgentConfig {
        endpoint: "myorg.semaphoreci.com".into(),
        token: Secret::new("reg-tok"),
        ..AgentConfig::default()
    }
}

#[test]
fn the_upstream_example_is_all_defaults() {
    let config: AgentConfig =
        serde_json::from_str(&text("spec_config_example.json")).expect("parses");
    assert_eq!(config, AgentConfig::default());
    assert_eq!(config.validate(), Err(ConfigError::MissingEndpoint));
}

#[test]
fn defaults_are_the_spec_table() {
    let d = AgentConfig::default();
    assert_eq!(d.endpoint, "");
    assert!(d.token.is_empty());
    assert!(!d.no_https && !d.disconnect_after_job && !d.fail_on_missing_files);
    assert!(!d.source_pre_job_hook && !d.fail_on_pre_job_hook_error);
    assert_eq!(d.disconnect_after_idle_timeout_secs, 0);
    assert_eq!(d.interruption_grace_period_secs, 0);
    assert_eq!(d.upload_job_logs, UploadJobLogs::Never);
    assert_eq!(d.kubernetes_pod_start_timeout_secs, 300);
    assert!(d.env_vars.is_empty() && d.files.is_empty());
    assert_eq!(parse(json!({})).expect("parses"), d);
}

#[test]
fn every_key_is_read() {
    let config = parse(json!({
        "config-file": "/etc/agent/config.yaml",
        "endpoint": "myorg.semaphoreci.com",
        "token": "reg-tok",
        "no-https": true,
        "name": "agent-name-1",
        "name-from-env": "AGENT_NAME",
        "shutdown-hook-path": "/opt/hook.sh",
        "pre-job-hook-path": "/opt/pre.sh",
        "post-job-hook-path": "/opt/post.sh",
        "source-pre-job-hook": true,
        "fail-on-pre-job-hook-error": true,
        "disconnect-after-job": true,
        "job-id": "j1",
        "disconnect-after-idle-timeout": 300,
        "interruption-grace-period": 15,
        "env-vars": ["A=1", "B=2"],
        "files": ["/host:/container"],
        "fail-on-missing-files": true,
        "upload-job-logs": "when-trimmed",
        "kubernetes-executor": true,
        "kubernetes-pod-spec": "spec",
        "kubernetes-allowed-images": ["ruby:.*"],
        "kubernetes-pod-start-timeout": 60,
        "kubernetes-labels": ["a=b"],
        "kubernetes-default-image": "ubuntu",
    }))
    .expect("parses");
    assert_eq!(
        config,
        AgentConfig {
            config_file: "/etc/agent/config.yaml".into(),
            endpoint: "myorg.semaphoreci.com".into(),
            token: Secret::new("reg-tok"),
            no_https: true,
            name: "agent-name-1".into(),
            name_from_env: "AGENT_NAME".into(),
            shutdown_hook_path: "/opt/hook.sh".into(),
            pre_job_hook_path: "/opt/pre.sh".into(),
            post_job_hook_path: "/opt/post.sh".into(),
            source_pre_job_hook: true,
            fail_on_pre_job_hook_error: true,
            disconnect_after_job: true,
            job_id: "j1".into(),
            disconnect_after_idle_timeout_secs: 300,
            interruption_grace_period_secs: 15,
            env_vars: vec!["A=1".into(), "B=2".into()],
            files: vec!["/host:/container".into()],
            fail_on_missing_files: true,
            upload_job_logs: UploadJobLogs::WhenTrimmed,
            kubernetes_executor: true,
            kubernetes_pod_spec: "spec".into(),
            kubernetes_allowed_images: vec!["ruby:.*".into()],
            kubernetes_pod_start_timeout_secs: 60,
            kubernetes_labels: vec!["a=b".into()],
            kubernetes_default_image: "ubuntu".into(),
        }
    );
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(
        config.hub_base_url(),
        "http://myorg.semaphoreci.com/api/v1/self_hosted_agents"
    );
    // Everything set away from its default is written back, under exactly the known keys.
    let written = serde_json::to_value(&config).expect("serializes");
    let keys: BTreeSet<&str> = written
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, AgentConfig::KEYS.iter().copied().collect());
    assert_eq!(parse(written).expect("reads back"), config);
}

#[test]
fn an_unknown_key_is_refused_by_name() {
    for key in [
        "endpiont",
        "disconnect_after_job",
        "Token",
        "kubernetes-execution-strategy",
    ] {
        let err = parse(json!({ key: "x" })).expect_err("refused");
        assert!(
            err.to_string().contains(&format!("unknown field `{key}`")),
            "{err}"
        );
    }
}

#[test]
fn scalars_are_read_as_leniently_as_viper() {
    let config = parse(json!({
        "no-https": "true",
        "disconnect-after-job": "1",
        "fail-on-missing-files": "False",
        "disconnect-after-idle-timeout": "300",
        "interruption-grace-period": " 15 ",
        "name": 12345678,
        "env-vars": "A=1,B=2 C=3",
        "files": "/a:/b",
        "upload-job-logs": null,
        "endpoint": null,
    }))
    .expect("parses");
    assert!(config.no_https && config.disconnect_after_job && !config.fail_on_missing_files);
    assert_eq!(config.disconnect_after_idle_timeout_secs, 300);
    assert_eq!(config.interruption_grace_period_secs, 15);
    assert_eq!(config.name, "12345678");
    assert_eq!(config.env_vars, ["A=1", "B=2", "C=3"]);
    assert_eq!(config.files, ["/a:/b"]);
    assert_eq!(config.upload_job_logs, UploadJobLogs::Never);
    assert_eq!(config.endpoint, "");
}

#[test]
fn bad_values_are_refused() {
    for (name, value, message) in [
        ("bool word", json!({"no-https": "yes"}), "true or false"),
        (
            "duration text",
            json!({"disconnect-after-idle-timeout": "5m"}),
            "a whole number of seconds",
        ),
        (
            "fraction",
            json!({"interruption-grace-period": 1.5}),
            "whole number",
        ),
        (
            "upload value",
            json!({"upload-job-logs": "sometimes"}),
            "unknown variant `sometimes`",
        ),
        ("list of numbers", json!({"env-vars": [1]}), "invalid type"),
        ("token number", json!({"token": 5}), "invalid type"),
    ] {
        let err = parse(value).expect_err(name);
        assert!(err.to_string().contains(message), "{name}: {err}");
    }
}

#[test]
fn startup_checks() {
    let url_name = format!(
        "https://sts.amazonaws.com/?Action=GetCallerIdentity&{}",
        "X".repeat(200)
    );
    let cases: Vec<(&str, AgentConfig, Result<(), ConfigError>)> = vec![
        ("minimal config is valid", valid(), Ok(())),
        (
            "no endpoint",
            AgentConfig {
                endpoint: String::new(),
                ..valid()
            },
            Err(ConfigError::MissingEndpoint),
        ),
        (
            "no token",
            AgentConfig {
                token: Secret::default(),
                ..valid()
            },
            Err(ConfigError::MissingToken),
        ),
        (
            "endpoint is checked before token",
            AgentConfig::default(),
            Err(ConfigError::MissingEndpoint),
        ),
        (
            "negative idle timeout",
            AgentConfig {
                disconnect_after_idle_timeout_secs: -1,
                ..valid()
            },
            Err(ConfigError::NegativeIdleTimeout),
        ),
        (
            "env var value with =",
            AgentConfig {
                env_vars: vec!["A=1".into(), "X=a=b".into()],
                ..valid()
            },
            Err(ConfigError::InvalidEnvVar("X=a=b".into())),
        ),
        (
            "env var without =",
            AgentConfig {
                env_vars: vec!["X".into()],
                ..valid()
            },
            Err(ConfigError::InvalidEnvVar("X".into())),
        ),
        (
            "file without :",
            AgentConfig {
                files: vec!["/a".into()],
                ..valid()
            },
            Err(ConfigError::InvalidFile("/a".into())),
        ),
        (
            "file with two :",
            AgentConfig {
                files: vec!["/a:/b:ro".into()],
                ..valid()
            },
            Err(ConfigError::InvalidFile("/a:/b:ro".into())),
        ),
        (
            "job id without disconnect-after-job",
            AgentConfig {
                job_id: "j1".into(),
                ..valid()
            },
            Err(ConfigError::JobIdWithoutDisconnectAfterJob),
        ),
        (
            "job id with disconnect-after-job",
            AgentConfig {
                job_id: "j1".into(),
                disconnect_after_job: true,
                ..valid()
            },
            Ok(()),
        ),
        (
            "seven-character name",
            AgentConfig {
                name: "abcdefg".into(),
                ..valid()
            },
            Err(ConfigError::InvalidName("abcdefg".into())),
        ),
        (
            "eight-character name",
            AgentConfig {
                name: "abcdefgh".into(),
                ..valid()
            },
            Ok(()),
        ),
        (
            "eighty-character name",
            AgentConfig {
                name: "a".repeat(80),
                ..valid()
            },
            Ok(()),
        ),
        (
            "eighty-one-character name",
            AgentConfig {
                name: "a".repeat(81),
                ..valid()
            },
            Err(ConfigError::InvalidName("a".repeat(81))),
        ),
        (
            "long STS URL name",
            AgentConfig {
                name: url_name,
                ..valid()
            },
            Ok(()),
        ),
    ];
    for (name, config, expected) in cases {
        assert_eq!(config.validate(), expected, "{name}");
    }
}

#[test]
fn startup_messages_keep_the_go_wording() {
    for (err, message) in [
        (
            ConfigError::MissingEndpoint,
            "Semaphore endpoint was not specified. Exiting...",
        ),
        (
            ConfigError::MissingToken,
            "Agent registration token was not specified. Exiting...",
        ),
        (
            ConfigError::NegativeIdleTimeout,
            "Idle timeout can't be negative. Exiting...",
        ),
        (
            ConfigError::InvalidEnvVar("X=a=b".into()),
            "Error parsing --env-vars: X=a=b is not a valid environment variable",
        ),
    ] {
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn env_vars_and_files_split_into_pairs() {
    let config = AgentConfig {
        env_vars: vec!["A=1".into(), "EMPTY=".into(), "P=$PATH:/x".into()],
        files: vec!["/host/a:/job/a".into()],
        ..valid()
    };
    assert_eq!(
        config.env_vars().expect("valid"),
        [
            ("A".to_owned(), "1".to_owned()),
            ("EMPTY".to_owned(), String::new()),
            ("P".to_owned(), "$PATH:/x".to_owned()),
        ]
    );
    assert_eq!(
        config.file_injections().expect("valid"),
        [FileInjection {
            host_path: "/host/a".into(),
            container_path: "/job/a".into(),
        }]
    );
}

#[test]
fn agent_instance_writes_the_listener_keys_only() {
    let config = AgentConfig {
        disconnect_after_job: true,
        disconnect_after_idle_timeout_secs: 300,
        upload_job_logs: UploadJobLogs::WhenTrimmed,
        shutdown_hook_path: "/opt/semaphore/agent/hooks/shutdown.sh".into(),
        ..valid()
    };
    let written = serde_json::to_value(&config).expect("serializes");
    assert_eq!(
        written,
        json!({
            "endpoint": "myorg.semaphoreci.com",
            "token": "reg-tok",
            "no-https": false,
            "name": "",
            "name-from-env": "",
            "shutdown-hook-path": "/opt/semaphore/agent/hooks/shutdown.sh",
            "pre-job-hook-path": "",
            "post-job-hook-path": "",
            "source-pre-job-hook": false,
            "fail-on-pre-job-hook-error": false,
            "disconnect-after-job": true,
            "job-id": "",
            "disconnect-after-idle-timeout": 300,
            "interruption-grace-period": 0,
            "env-vars": [],
            "files": [],
            "fail-on-missing-files": false,
            "upload-job-logs": "when-trimmed",
        })
    );
    assert_eq!(parse(written).expect("reads back"), config);
}
