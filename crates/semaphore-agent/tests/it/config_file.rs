//! `start`'s configuration: flag > `SEMAPHORE_AGENT_*` > YAML file > default, list options
//! from the environment, unknown keys, startup errors and the readable-file warning.

use std::path::{Path, PathBuf};

use agent_protocol::{AgentConfig, ConfigError};
use semaphore_agent::listener::ListenerError;
use semaphore_agent::listener::config_file::{StartArgs, load};

fn write_config(dir: &Path, yaml: &str, mode: u32) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, yaml).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    path
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const BASE: &str = "endpoint: file.example.com\ntoken: file-token\n";

#[test]
fn precedence_is_flag_then_env_then_file_then_default() {
    // (case, flag, env, file, expected name)
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        &'static str,
    );
    let cases: [Case; 5] = [
        (
            "all four: the flag wins",
            Some("from-flag-1"),
            Some("from-env-01"),
            Some("from-file-1"),
            "from-flag-1",
        ),
        (
            "no flag: the env wins",
            None,
            Some("from-env-01"),
            Some("from-file-1"),
            "from-env-01",
        ),
        (
            "empty env counts as unset",
            None,
            Some(""),
            Some("from-file-1"),
            "from-file-1",
        ),
        ("file only", None, None, Some("from-file-1"), "from-file-1"),
        ("nothing: the default", None, None, None, ""),
    ];
    for (case, flag, env_value, file_value, expected) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let yaml = match file_value {
            Some(name) => format!("{BASE}name: {name}\n"),
            None => BASE.to_owned(),
        };
        let args = StartArgs {
            config_file: Some(write_config(dir.path(), &yaml, 0o600)),
            name: flag.map(str::to_owned),
            ..StartArgs::default()
        };
        let vars = match env_value {
            Some(v) => env(&[("SEMAPHORE_AGENT_NAME", v)]),
            None => Vec::new(),
        };
        let loaded = load(&args, vars).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(loaded.config.name, expected, "{case}");
        assert!(loaded.warnings.is_empty(), "{case}");
    }
}

#[test]
fn every_key_type_reads_from_the_environment() {
    let loaded = load(
        &StartArgs::default(),
        env(&[
            ("SEMAPHORE_AGENT_ENDPOINT", "hub.example.com"),
            ("SEMAPHORE_AGENT_TOKEN", "env-token"),
            ("SEMAPHORE_AGENT_NO_HTTPS", "true"),
            ("SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT", "300"),
            ("SEMAPHORE_AGENT_UPLOAD_JOB_LOGS", "when-trimmed"),
            ("OTHER", "ignored"),
        ]),
    )
    .expect("valid");
    assert_eq!(loaded.config.endpoint, "hub.example.com");
    assert_eq!(loaded.config.token.expose(), "env-token");
    assert!(loaded.config.no_https);
    assert_eq!(loaded.config.disconnect_after_idle_timeout_secs, 300);
    assert_eq!(loaded.config.upload_job_logs.as_str(), "when-trimmed");
}

#[test]
fn env_lists_accept_commas_and_spaces_and_replace_the_file_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), &format!("{BASE}env-vars: [A=1]\n"), 0o600);
    for value in ["C=3,D=4", "C=3 D=4", "C=3, D=4"] {
        let args = StartArgs {
            config_file: Some(path.clone()),
            ..StartArgs::default()
        };
        let loaded = load(&args, env(&[("SEMAPHORE_AGENT_ENV_VARS", value)])).expect("valid");
        assert_eq!(loaded.config.env_vars, ["C=3", "D=4"], "{value:?}");
    }
}

#[test]
fn flag_lists_replace_env_lists() {
    let args = StartArgs {
        endpoint: Some("e".into()),
        token: Some("t".into()),
        env_vars: Some(vec!["X=1".into(), "Y=2".into()]),
        ..StartArgs::default()
    };
    let loaded = load(&args, env(&[("SEMAPHORE_AGENT_ENV_VARS", "C=3")])).expect("valid");
    assert_eq!(loaded.config.env_vars, ["X=1", "Y=2"]);
}

#[test]
fn an_unknown_key_in_the_file_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = StartArgs {
        config_file: Some(write_config(
            dir.path(),
            &format!("{BASE}colour: blue\n"),
            0o600,
        )),
        ..StartArgs::default()
    };
    let err = load(&args, Vec::new()).expect_err("refused");
    assert!(matches!(&err, ListenerError::Config(ConfigError::UnknownKey(k)) if k == "colour"));
    assert_eq!(err.to_string(), "Unrecognized option 'colour'. Exiting...");
}

#[test]
fn startup_errors_keep_the_go_wording() {
    let cases = [
        ("", "Semaphore endpoint was not specified. Exiting..."),
        (
            "endpoint: e\n",
            "Agent registration token was not specified. Exiting...",
        ),
        (
            "endpoint: e\ntoken: t\ndisconnect-after-idle-timeout: -1\n",
            "Idle timeout can't be negative. Exiting...",
        ),
    ];
    for (yaml, message) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let args = StartArgs {
            config_file: Some(write_config(dir.path(), yaml, 0o600)),
            ..StartArgs::default()
        };
        let err = load(&args, Vec::new()).expect_err(message);
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn the_config_file_may_come_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), BASE, 0o600);
    let loaded = load(
        &StartArgs::default(),
        env(&[("SEMAPHORE_AGENT_CONFIG_FILE", path.to_str().expect("utf-8"))]),
    )
    .expect("valid");
    assert_eq!(loaded.config.endpoint, "file.example.com");
}

#[cfg(unix)]
#[test]
fn a_config_file_others_can_read_is_warned_about_without_its_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = StartArgs {
        config_file: Some(write_config(dir.path(), BASE, 0o644)),
        ..StartArgs::default()
    };
    let loaded = load(&args, Vec::new()).expect("valid");
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("644"), "{}", loaded.warnings[0]);
    assert!(!loaded.warnings[0].contains("file-token"));
}

#[test]
fn a_bad_token_value_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = StartArgs {
        config_file: Some(write_config(
            dir.path(),
            "endpoint: e\ntoken: [98765]\n",
            0o600,
        )),
        ..StartArgs::default()
    };
    let err = load(&args, Vec::new()).expect_err("refused");
    assert!(!err.to_string().contains("98765"), "{err}");
}

#[test]
fn a_yaml_error_names_the_place_not_the_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = StartArgs {
        config_file: Some(write_config(
            dir.path(),
            "token: \"secret-value\n  : [",
            0o600,
        )),
        ..StartArgs::default()
    };
    let err = load(&args, Vec::new()).expect_err("refused");
    assert!(!err.to_string().contains("secret-value"), "{err}");
    let _ = AgentConfig::KEYS;
}
