//! The docker-compose executor against a stand-in `docker` (and `aws`) put first on the
//! job's `PATH`: there is no Docker daemon where these tests run. The stand-in records every
//! call's arguments and every login's stdin into files, answers `login`, `rm`, `down` and the
//! pull (`compose ... run --rm main true`) with success (the pull fails when a marker file
//! exists), and for `compose ... run ... main bash` execs a real `bash` on the PTY, so the
//! job's commands really run. What these tests verify is therefore only what the agent does
//! and sends; that Docker Compose accepts the file and the command lines is not verified.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use agent_protocol::{FileInjection, JobRequest, JobResult, LogEvent};
use semaphore_agent::events::{FakeSink, unix_now};
use semaphore_agent::executor::compose::ComposeSettings;
use semaphore_agent::executor::shell::ShellConfig;
use semaphore_agent::executor::{StopSignal, for_request};
use semaphore_agent::job::{JobSettings, check_job, run_job};
use serde_json::json;

use crate::support::{
    ForwardSink, Harness, Outcome, assert_fixture, fixture_request, wait_for_started,
};

const DOCKER: &str = r#"#!/usr/bin/env bash
dir=__DIR__
# One write per call: the two sides of a pipeline record theirs at the same time.
printf '%s\n' "docker$(printf ' %s' "$@")" >> "$dir/calls.log"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "-f" ]; then cp "${args[$((i + 1))]}" "$dir/compose.yml"; fi
done
case "$1" in
  login)
    n=$(ls "$dir" | grep -c '^login-stdin-')
    cat > "$dir/login-stdin-$n"
    echo "Login Succeeded"
    exit 0 ;;
  rm) exit 0 ;;
  compose)
    shift
    while [ $# -gt 0 ]; do
      case "$1" in
        --ansi|-f|-p) shift 2 ;;
        run) shift; break ;;
        down|pull) exit 0 ;;
        *) shift ;;
      esac
    done
    while [ $# -gt 0 ]; do
      case "$1" in
        --rm) shift ;;
        --name|-v) shift 2 ;;
        *) break ;;
      esac
    done
    service="$1"; shift
    if [ "$1" = true ]; then
      if [ -e "$dir/slow-pull" ]; then exec sleep 1000; fi
      if [ -e "$dir/fail-pull" ]; then echo "pull access denied for $service"; exit 1; fi
      echo "Pulled $service"
      exit 0
    fi
    exec "$@" ;;
esac
echo "stand-in docker: unexpected call" >&2
exit 1
"#;

const AWS: &str = r#"#!/usr/bin/env bash
dir=__DIR__
# One write per call: the two sides of a pipeline record theirs at the same time.
printf '%s\n' "aws$(printf ' %s' "$@")" >> "$dir/calls.log"
printf 'AWS_SECRET_ACCESS_KEY=%s\n' "$AWS_SECRET_ACCESS_KEY" >> "$dir/aws-env.log"
case "$1 $2" in
  "ecr get-login-password") printf 'ecr-password-from-aws' ;;
  "sts get-caller-identity") echo 123456789012 ;;
esac
"#;

/// A job harness whose `PATH` starts with the stand-ins.
struct Stand {
    harness: Harness,
    settings: ComposeSettings,
}

impl Stand {
    fn new() -> Stand {
        let harness = Harness::new();
        let bin = harness.dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let quoted = format!("'{}'", bin.display());
        for (name, text) in [("docker", DOCKER), ("aws", AWS)] {
            let path = bin.join(name);
            std::fs::write(&path, text.replace("__DIR__", &quoted)).expect("stand-in");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        Stand {
            harness,
            settings: ComposeSettings::default(),
        }
    }

    fn bin(&self) -> PathBuf {
        self.harness.dir.path().join("bin")
    }

    fn config(&self) -> ShellConfig {
        let mut env: Vec<(OsString, OsString)> = Harness::host_env()
            .into_iter()
            .filter(|(k, _)| k != "PATH")
            .collect();
        let path = format!(
            "{}:{}",
            self.bin().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        env.push(("PATH".into(), path.into()));
        let mut config = ShellConfig::new(self.harness.home(), self.harness.tmp(), env);
        config.stop_grace = Duration::from_millis(500);
        config.start_timeout = Duration::from_secs(30);
        config
    }

    fn request(&self, value: serde_json::Value) -> JobRequest {
        self.harness.request(&value.to_string())
    }

    fn run(&self, request: &JobRequest) -> Outcome {
        check_job(request).expect("a job this agent runs");
        let stop = StopSignal::new();
        let mut sink = FakeSink::default();
        let started = unix_now();
        let mut executor = for_request(request, self.config(), &self.settings, stop.clone());
        let result = run_job(
            request,
            &JobSettings::default(),
            executor.as_mut(),
            &mut sink,
            &stop,
        );
        drop(executor);
        Outcome {
            result,
            events: sink.events,
            started,
            finished: unix_now(),
        }
    }

    /// The recorded calls, the job's project name replaced by `<P>` and the temp dir by
    /// `{TMP}`.
    fn calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.bin().join("calls.log")).unwrap_or_default();
        let tmp = self.harness.tmp().display().to_string();
        text.lines()
            .map(|l| {
                let l = l.replace(&tmp, "{TMP}");
                let l = replace_numbered(&l, "semaphore-compose-", "<DIR>");
                replace_numbered(&l, "semaphore-job-", "<P>")
            })
            .collect()
    }

    fn compose_file(&self) -> String {
        std::fs::read_to_string(self.bin().join("compose.yml")).unwrap_or_default()
    }
}

/// `prefix` followed by digits and dashes, replaced by `with` everywhere in `text`.
fn replace_numbered(text: &str, prefix: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i]);
        out.push_str(with);
        let after = &rest[i + prefix.len()..];
        let mut end = after
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(after.len());
        // Keep the dash of a trailing `-main` (the container's name).
        if after[..end].ends_with('-') {
            end -= 1;
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn base_request() -> serde_json::Value {
    json!({
        "job_id": "c",
        "executor": "dockercompose",
        "compose": {"containers": [{"name": "main", "image": "ruby:3"}]},
        "commands": [{"directive": "echo hi"}]
    })
}

const PULL: &str =
    "docker compose --ansi never -f {TMP}/<DIR>/docker-compose.yml -p <P> run --rm main true";
const START: &str = "docker compose --ansi never -f {TMP}/<DIR>/docker-compose.yml -p <P> run --rm --name <P>-main -v /var/run/docker.sock:/var/run/docker.sock -v {TMP}/<DIR>:{TMP}/<DIR>:ro main bash";
const RM: &str = "docker rm -f <P>-main";
const DOWN: &str =
    "docker compose --ansi never -f {TMP}/<DIR>/docker-compose.yml -p <P> down --remove-orphans";

#[test]
fn compose_hello_world_event_stream_and_calls() {
    let stand = Stand::new();
    let request = fixture_request(&stand.harness, "compose_hello_world");
    let outcome = stand.run(&request);
    assert_eq!(outcome.result, JobResult::Passed);
    assert_fixture(
        "compose_hello_world",
        &outcome,
        &stand.harness.home(),
        &stand.harness.tmp(),
    );
    let calls = stand.calls();
    assert_eq!(calls, [PULL, START, RM, DOWN], "{calls:#?}");
    // The compose file: main links db, its variables decoded.
    let file = stand.compose_file();
    assert!(file.contains("  \"main\":\n    image: \"registry.semaphoreci.com/ruby:3.3\"\n    environment:\n      - \"IN_CONTAINER=yes\"\n    links:\n      - \"db\"\n"), "{file}");
    assert!(
        file.contains("  \"db\":\n    image: \"postgres:16\"\n"),
        "{file}"
    );
    // The file was injected through the session (the stand-in's container is this machine).
    let injected = stand.harness.home().join("test.txt");
    assert_eq!(
        std::fs::read_to_string(&injected).expect("injected"),
        "hello\n"
    );
    let mode = std::fs::metadata(&injected)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // The job's directory is gone.
    let left: Vec<_> = std::fs::read_dir(stand.harness.tmp())
        .expect("tmp")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("semaphore-compose-")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn each_credential_type_logs_in_with_the_secret_on_stdin_only() {
    let stand = Stand::new();
    let b = |s: &str| {
        agent_protocol::Base64::encode(s.as_bytes())
            .as_encoded()
            .to_owned()
    };
    let var = |n: &str, v: &str| json!({"name": n, "value": b(v)});
    let mut request = base_request();
    request["compose"]["image_pull_credentials"] = json!([
        {"env_vars": [var("DOCKER_CREDENTIAL_TYPE", "DockerHub"), var("DOCKERHUB_USERNAME", "hubuser"), var("DOCKERHUB_PASSWORD", "hub-secret-1")]},
        {"env_vars": [var("DOCKER_CREDENTIAL_TYPE", "GenericDocker"), var("DOCKER_USERNAME", "genuser"), var("DOCKER_PASSWORD", "generic-secret-2"), var("DOCKER_URL", "reg.example.com")]},
        {"env_vars": [var("DOCKER_CREDENTIAL_TYPE", "AWS_ECR"), var("AWS_REGION", "eu-west-1"), var("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"), var("AWS_SECRET_ACCESS_KEY", "aws-secret-3")]},
        {"env_vars": [var("DOCKER_CREDENTIAL_TYPE", "GCR"), var("GCR_HOSTNAME", "eu.gcr.io")],
         "files": [{"path": "/tmp/gcr/keyfile.json", "content": b("{\"private_key\":\"gcr-secret-4\"}"), "mode": "0600"}]}
    ]);
    let outcome = stand.run(&stand.request(request));
    assert_eq!(outcome.result, JobResult::Passed);
    let mut calls = stand.calls();
    // The two sides of the ECR pipeline start together: their order is not fixed.
    calls[3..5].sort();
    assert_eq!(
        calls[..6],
        [
            "docker login --username hubuser --password-stdin",
            "docker login --username genuser --password-stdin reg.example.com",
            "aws sts get-caller-identity --query Account --output text",
            "aws ecr get-login-password --region eu-west-1",
            "docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "docker login -u _json_key --password-stdin https://eu.gcr.io",
        ],
        "{calls:#?}"
    );
    assert_eq!(calls[6], PULL);
    let stdin = |n: usize| {
        std::fs::read_to_string(stand.bin().join(format!("login-stdin-{n}"))).expect("stdin")
    };
    assert_eq!(stdin(0), "hub-secret-1");
    assert_eq!(stdin(1), "generic-secret-2");
    assert_eq!(stdin(2), "ecr-password-from-aws");
    assert_eq!(stdin(3), "{\"private_key\":\"gcr-secret-4\"}");
    // The AWS CLI got the credential's secret key, not the agent's.
    let aws_env = std::fs::read_to_string(stand.bin().join("aws-env.log")).expect("aws env");
    assert!(
        aws_env
            .lines()
            .all(|l| l == "AWS_SECRET_ACCESS_KEY=aws-secret-3"),
        "{aws_env}"
    );
    let events = serde_json::to_string(&outcome.events).expect("json");
    let argv = calls.join("\n");
    for secret in [
        "hub-secret-1",
        "generic-secret-2",
        "aws-secret-3",
        "gcr-secret-4",
        "ecr-password-from-aws",
    ] {
        assert!(!events.contains(secret), "{secret} in the events");
        assert!(!argv.contains(secret), "{secret} in an argv");
    }
    // The login step as the job's log shows it.
    let outputs: String = outcome
        .events
        .iter()
        .skip_while(|e| !matches!(e, LogEvent::CmdStarted { directive, .. } if directive == "Setting up image pull credentials"))
        .take_while(|e| !matches!(e, LogEvent::CmdFinished { .. }))
        .filter_map(|e| match e {
            LogEvent::CmdOutput { output, .. } => Some(output.as_str()),
            _ => None,
        })
        .collect();
    assert!(outputs.starts_with("Setting up credentials for DockerHub\ndocker login --username $DOCKERHUB_USERNAME --password-stdin\nLogin Succeeded\n"), "{outputs}");
    assert!(
        outputs.contains("Setting up credentials for GCR\n"),
        "{outputs}"
    );
    assert!(outcome.events.iter().any(|e| matches!(e, LogEvent::CmdFinished { directive, exit_code: 0, .. } if directive == "Setting up image pull credentials")));
}

#[test]
fn an_unknown_credential_type_fails_the_job_before_the_pull() {
    let stand = Stand::new();
    let mut request = base_request();
    request["compose"]["image_pull_credentials"] =
        json!([{"env_vars": [{"name": "DOCKER_CREDENTIAL_TYPE", "value": "UXVheQ=="}]}]);
    let outcome = stand.run(&stand.request(request));
    assert_eq!(outcome.result, JobResult::Failed);
    assert!(outcome.events.iter().any(|e| matches!(e, LogEvent::CmdOutput { output, .. } if output == "Unknown Handler for credential type Quay\n")));
    assert_eq!(stand.calls(), [RM, DOWN]);
}

#[test]
fn host_setup_commands_run_on_the_host_before_the_pull() {
    let stand = Stand::new();
    let mut request = base_request();
    request["compose"]["host_setup_commands"] = json!([
        {"directive": "echo one >> {TMP}/host-setup"},
        {"directive": "echo two >> {TMP}/host-setup; echo host >> \"$(dirname $(command -v docker))/calls.log\""}
    ]);
    let outcome = stand.run(&stand.request(request));
    assert_eq!(outcome.result, JobResult::Passed);
    let ran = std::fs::read_to_string(stand.harness.tmp().join("host-setup")).expect("ran");
    assert_eq!(ran, "one\ntwo\n");
    assert_eq!(stand.calls()[..2], ["host", PULL]);

    // A failing one fails the job before any docker call, with no event but the job's.
    let stand = Stand::new();
    let mut request = base_request();
    request["compose"]["host_setup_commands"] = json!([{"directive": "exit 3"}]);
    let outcome = stand.run(&stand.request(request));
    assert_eq!(outcome.result, JobResult::Failed);
    assert_eq!(outcome.events.len(), 2);
    assert!(stand.calls().is_empty(), "{:?}", stand.calls());
}

#[test]
fn files_are_mounted_and_missing_ones_skipped_or_fatal() {
    let stand = Stand::new();
    let present = stand.harness.tmp().join("present.txt");
    std::fs::write(&present, "x").expect("write");
    let missing = stand.harness.tmp().join("missing.txt");
    let files = vec![
        FileInjection {
            host_path: present.display().to_string(),
            container_path: "/etc/present.txt".into(),
        },
        FileInjection {
            host_path: missing.display().to_string(),
            container_path: "/etc/missing.txt".into(),
        },
    ];
    let mut stand = stand;
    stand.settings = ComposeSettings {
        files: files.clone(),
        fail_on_missing_files: false,
    };
    let outcome = stand.run(&stand.request(base_request()));
    assert_eq!(outcome.result, JobResult::Passed);
    let file = stand.compose_file();
    assert!(
        file.contains(&format!(
            "    volumes:\n      - \"{}:/etc/present.txt\"\n",
            present.display()
        )),
        "{file}"
    );
    assert!(!file.contains("missing.txt"), "{file}");

    let mut stand = Stand::new();
    stand.settings = ComposeSettings {
        files,
        fail_on_missing_files: true,
    };
    let outcome = stand.run(&stand.request(base_request()));
    assert_eq!(outcome.result, JobResult::Failed);
    assert_eq!(outcome.events.len(), 2, "{:?}", outcome.events);
    assert!(stand.calls().is_empty(), "{:?}", stand.calls());
}

#[test]
fn a_failing_pull_fails_the_job_and_still_tears_down() {
    let stand = Stand::new();
    std::fs::write(stand.bin().join("fail-pull"), "").expect("marker");
    let outcome = stand.run(&stand.request(base_request()));
    assert_eq!(outcome.result, JobResult::Failed);
    let names: Vec<String> = outcome
        .events
        .iter()
        .map(|e| match e {
            LogEvent::CmdStarted { directive, .. } => format!("started {directive}"),
            LogEvent::CmdOutput { output, .. } => format!("output {output}"),
            LogEvent::CmdFinished {
                directive,
                exit_code,
                ..
            } => format!("finished {directive} {exit_code}"),
            LogEvent::JobStarted { .. } => "job_started".into(),
            LogEvent::JobFinished { result, .. } => format!("job_finished {}", result.as_str()),
        })
        .collect();
    assert_eq!(
        names,
        [
            "job_started",
            "started Pulling docker images...",
            "output pull access denied for main\n",
            "finished Pulling docker images... 1",
            "job_finished failed",
        ]
    );
    assert_eq!(stand.calls(), [PULL, RM, DOWN]);
}

#[test]
fn a_stopped_job_ends_its_session_and_tears_the_containers_down() {
    let stand = Stand::new();
    let mut request = base_request();
    request["commands"] = json!([{"directive": "sleep 1000"}]);
    let request = stand.request(request);
    let config = stand.config();
    let settings = stand.settings.clone();
    let stop = StopSignal::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut executor = for_request(&request, config, &settings, stop.clone());
            let mut sink = ForwardSink(tx);
            run_job(
                &request,
                &JobSettings::default(),
                executor.as_mut(),
                &mut sink,
                &stop,
            )
        })
    };
    wait_for_started(&rx, "sleep 1000");
    thread::sleep(Duration::from_millis(300));
    stop.stop();
    let result = handle.join().expect("the job's thread");
    assert_eq!(result, JobResult::Stopped);
    let calls = stand.calls();
    assert_eq!(calls[calls.len() - 2..], [RM, DOWN], "{calls:#?}");
}

#[test]
fn the_binarys_run_command_runs_a_compose_job() {
    let stand = Stand::new();
    let file = stand.harness.tmp().join("job.json");
    std::fs::write(&file, base_request().to_string()).expect("request");
    let path = format!(
        "{}:{}",
        stand.bin().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_semaphore-agent"))
        .arg("run")
        .arg(&file)
        .env("HOME", stand.harness.home())
        .env("TMPDIR", stand.harness.tmp())
        .env("PATH", path)
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#""directive":"Starting the docker image...""#),
        "{stdout}"
    );
    assert!(stdout.contains(r#""output":"hi\n""#), "{stdout}");
    assert_eq!(stand.calls(), [PULL, START, RM, DOWN]);
}

#[test]
fn a_stop_during_the_pull_stops_the_job_and_tears_down() {
    let stand = Stand::new();
    std::fs::write(stand.bin().join("slow-pull"), "").expect("marker");
    let request = stand.request(base_request());
    let config = stand.config();
    let settings = stand.settings.clone();
    let stop = StopSignal::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut executor = for_request(&request, config, &settings, stop.clone());
            let mut sink = ForwardSink(tx);
            run_job(
                &request,
                &JobSettings::default(),
                executor.as_mut(),
                &mut sink,
                &stop,
            )
        })
    };
    wait_for_started(&rx, "Pulling docker images...");
    thread::sleep(Duration::from_millis(300));
    stop.stop();
    let result = handle.join().expect("the job's thread");
    assert_eq!(result, JobResult::Stopped);
    let rest: Vec<LogEvent> = rx.try_iter().collect();
    assert!(
        matches!(
            rest.as_slice(),
            [
                LogEvent::CmdFinished { exit_code: 1, .. },
                LogEvent::JobFinished {
                    result: JobResult::Stopped,
                    ..
                }
            ]
        ),
        "{rest:?}"
    );
    assert_eq!(stand.calls(), [PULL, RM, DOWN]);
}
