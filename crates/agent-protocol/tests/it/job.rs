//! The job request of `GET /jobs/{id}`: the spec's complete example and the Go agent's
//! tolerance of missing, `null` and unknown fields.

use agent_protocol::{
    Base64, Callbacks, Command, Compose, Container, CredentialType, EnvVar, ExecutorKind,
    ImagePullCredentials, JobFile, JobRequest, Logger, LoggerMethod, Secret,
};

use crate::fixtures::round_trip;

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Base64::from_encoded(value),
    }
}

fn file(path: &str, content: &str, mode: &str) -> JobFile {
    JobFile {
        path: path.into(),
        content: Base64::from_encoded(content),
        mode: mode.into(),
    }
}

#[test]
fn the_complete_example_round_trips() {
    let job: JobRequest = round_trip("spec_job_request.json");
    let expected = JobRequest {
        job_id: "d3e1c6a0-2b0e-4c1e-9a53-8b1f0e0c0e11".into(),
        executor: ExecutorKind::Shell,
        commands: vec![
            Command::new("echo Hello World"),
            Command {
                directive: "make test".into(),
                alias: Some("Run tests".into()),
            },
        ],
        epilogue_always_commands: vec![Command::new("echo always $SEMAPHORE_JOB_RESULT")],
        epilogue_on_pass_commands: vec![Command::new("echo passed")],
        epilogue_on_fail_commands: vec![Command::new("echo failed")],
        env_vars: vec![
            env(
                "SEMAPHORE_JOB_ID",
                "ZDNlMWM2YTAtMmIwZS00YzFlLTlhNTMtOGIxZjBlMGMwZTEx",
            ),
            env("A", "aGVsbG8K"),
        ],
        files: vec![
            file("test.txt", "aGVsbG8K", "0644"),
            file("~/.ssh/id_rsa", "LS0tLS1CRUdJTi...", "0600"),
            file("/tmp/a", "aGVsbG8K", "0600"),
        ],
        ssh_public_keys: vec![Base64::from_encoded(
            "c3NoLXJzYSBBQUFBQjNOemFDMXljMkVBQUFBREFRQUJBQUFCQVFD...",
        )],
        compose: Some(Compose {
            containers: vec![Container {
                name: "main".into(),
                image: "registry.semaphoreci.com/ruby:2.6".into(),
                command: String::new(),
                entrypoint: String::new(),
                user: String::new(),
                env_vars: vec![env("X", "eQ==")],
            }],
            image_pull_credentials: vec![ImagePullCredentials {
                env_vars: vec![env("DOCKER_CREDENTIAL_TYPE", "RG9ja2VySHVi")],
                files: vec![file("...", "...", "0644")],
            }],
            host_setup_commands: vec![Command::new("...")],
        }),
        callbacks: Some(Callbacks {
            finished: "https://.../finished".into(),
            teardown_finished: "https://.../teardown".into(),
            token: Secret::new("..."),
        }),
        logger: Logger {
            method: LoggerMethod::Push,
            url: "https://myorg.semaphoreci.com/api/v1/logs/d3e1...".into(),
            token: Secret::new("<jwt>"),
            max_size_in_bytes: Some(16_777_216),
        },
    };
    assert_eq!(job, expected);

    // The values the agent decodes later.
    assert_eq!(
        job.env_vars[0].value.decode().expect("base64"),
        b"d3e1c6a0-2b0e-4c1e-9a53-8b1f0e0c0e11"
    );
    assert_eq!(job.env_vars[1].value.decode().expect("base64"), b"hello\n");
    assert!(job.files[1].content.decode().is_err(), "the spec elides it");
    let compose = job.compose.as_ref().expect("compose");
    assert_eq!(
        compose.containers[0].env_vars[0]
            .value
            .decode()
            .expect("base64"),
        b"y"
    );
    assert_eq!(
        compose.image_pull_credentials[0].credential_type(),
        Some(CredentialType::DockerHub)
    );
    assert_eq!(job.commands[1].shown_name(), "Run tests");
}

#[test]
fn an_empty_object_is_a_job_with_zero_values() {
    let job: JobRequest = serde_json::from_str("{}").expect("tolerated");
    assert_eq!(job, JobRequest::default());
    assert!(job.executor.is_shell());
    assert_eq!(job.logger.method, LoggerMethod::Unset);
    assert_eq!(job.compose, None);
}

#[test]
fn nulls_and_unknown_fields_are_tolerated() {
    let job: JobRequest = serde_json::from_str(
        r#"{"job_id":null,"executor":null,"commands":null,"env_vars":null,"files":null,
            "ssh_public_keys":null,"compose":null,"callbacks":null,"logger":null,
            "execution_time_limit":3600,"new_field":{"a":1}}"#,
    )
    .expect("tolerated");
    assert_eq!(job, JobRequest::default());
    let job: JobRequest = serde_json::from_str(
        r#"{"commands":[{"directive":"ls","alias":null,"extra":1}],
            "env_vars":[{"name":"A","value":null}],
            "logger":{"method":"push","token":null}}"#,
    )
    .expect("tolerated");
    assert_eq!(job.commands, vec![Command::new("ls")]);
    assert_eq!(job.env_vars, vec![env("A", "")]);
    assert!(job.logger.token.is_empty());
}

#[test]
fn unknown_executor_and_logger_method_parse_for_the_agent_to_refuse() {
    let job: JobRequest =
        serde_json::from_str(r#"{"executor":"kubernetes","logger":{"method":"carrier-pigeon"}}"#)
            .expect("parses");
    assert_eq!(job.executor, ExecutorKind::Unknown("kubernetes".into()));
    assert!(!job.executor.is_shell());
    assert_eq!(
        job.logger.method,
        LoggerMethod::Unknown("carrier-pigeon".into())
    );
    let back = serde_json::to_value(&job).expect("serializes");
    assert_eq!(back["executor"], "kubernetes");
}

#[test]
fn the_shown_name_is_the_alias_when_not_empty() {
    for (name, alias, shown) in [
        ("no alias", None, "make test"),
        ("empty alias", Some(""), "make test"),
        ("alias", Some("Run tests"), "Run tests"),
    ] {
        let command = Command {
            directive: "make test".into(),
            alias: alias.map(str::to_owned),
        };
        assert_eq!(command.shown_name(), shown, "{name}");
    }
}

#[test]
fn file_modes_parse_as_octal_like_go() {
    for (mode, bits) in [
        ("0644", Some(0o644)),
        ("644", Some(0o644)),
        ("0600", Some(0o600)),
        ("0755", Some(0o755)),
        ("4755", Some(0o4755)),
        ("0", Some(0)),
        ("", None),
        ("+644", None),
        ("-644", None),
        ("0o644", None),
        ("0x1ff", None),
        ("8", None),
        ("rw-r--r--", None),
        (" 644", None),
        ("77777777777", None),
    ] {
        assert_eq!(file("f", "", mode).mode_bits(), bits, "mode {mode:?}");
    }
}

#[test]
fn credential_type_is_read_from_the_decoded_variable() {
    let creds = |value: &str| ImagePullCredentials {
        env_vars: vec![env("OTHER", "eA=="), env("DOCKER_CREDENTIAL_TYPE", value)],
        files: vec![],
    };
    for (name, value, expected) in [
        (
            "docker hub",
            "RG9ja2VySHVi",
            Some(CredentialType::DockerHub),
        ),
        ("ecr", "QVdTX0VDUg==", Some(CredentialType::AwsEcr)),
        ("gcr", "R0NS", Some(CredentialType::Gcr)),
        (
            "unknown",
            "UXVheQ==",
            Some(CredentialType::Unknown("Quay".into())),
        ),
        ("not base64", "%%%%", None),
    ] {
        assert_eq!(creds(value).credential_type(), expected, "{name}");
    }
    let none = ImagePullCredentials::default();
    assert_eq!(none.credential_type(), None);
}

#[test]
fn debug_output_hides_base64_values_and_tokens() {
    let job: JobRequest = round_trip("spec_job_request.json");
    let debug = format!("{job:?}");
    assert!(!debug.contains("aGVsbG8K"), "{debug}");
    assert!(!debug.contains("<jwt>"), "{debug}");
    assert!(debug.contains("SEMAPHORE_JOB_ID"), "names stay visible");
}
