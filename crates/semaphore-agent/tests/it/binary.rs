//! The `semaphore-agent` binary: startup errors, and one real listener run against the fake
//! hub (real time) that checks the hook's clean environment and that no token is logged.
//! Another worktree builds a binary of the same name into a shared target dir; if these
//! tests behave nonsensically, rebuild and run them again.

use std::path::Path;
use std::process::{Command, Output};

use semaphore_agent::listener::Clock;

use crate::fake_hub::{ACCESS_TOKEN, FakeHub, REGISTRATION_TOKEN};

fn agent() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_semaphore-agent"));
    // Keep the test's own environment from configuring the agent.
    for (name, _) in std::env::vars() {
        if name.starts_with("SEMAPHORE_AGENT_") {
            command.env_remove(name);
        }
    }
    command
}

fn with_log_file(command: &mut Command, dir: &Path) {
    command.env("SEMAPHORE_AGENT_LOG_FILE_PATH", dir.join("agent_log"));
}

#[test]
fn an_unknown_key_in_the_config_file_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "endpoint: e\ntoken: t\nshutdown-hook: x\n").expect("write");
    let mut command = agent();
    with_log_file(&mut command, dir.path());
    let output = command
        .args(["start", "--config-file"])
        .arg(&config)
        .output()
        .expect("run the agent");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Unrecognized option 'shutdown-hook'. Exiting..."),
        "{stderr}"
    );
}

#[test]
fn a_missing_endpoint_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = agent();
    with_log_file(&mut command, dir.path());
    let output = command
        .args(["start", "--token", "t"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr
            .matches("Semaphore endpoint was not specified. Exiting...")
            .count(),
        1,
        "said once: {stderr}"
    );
}

#[test]
fn version_prints_the_version() {
    let output = agent().arg("version").output().expect("run");
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        env!("CARGO_PKG_VERSION")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_shutdown_runs_the_hook_with_a_clean_environment_and_logs_no_token() {
    let hub = FakeHub::start(Clock::start()).await;
    hub.state().next_sync_after_ms = 200;
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = dir.path().join("hook.sh");
    let hook_env = dir.path().join("hook_env");
    std::fs::write(&hook, format!("env > '{}'\n", hook_env.display())).expect("hook");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "name: binary-agent-01\nno-https: true\n").expect("config");
    let endpoint = hub.origin.trim_start_matches("http://").to_owned();

    let mut command = agent();
    with_log_file(&mut command, dir.path());
    command
        .env("SEMAPHORE_AGENT_TOKEN", REGISTRATION_TOKEN)
        .env("SEMAPHORE_AGENT_ENDPOINT", &endpoint)
        .args([
            "start",
            "--disconnect-after-idle-timeout",
            "1",
            "--config-file",
        ])
        .arg(&config)
        .arg("--shutdown-hook-path")
        .arg(&hook);
    let output: Output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run the agent");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Agent shutting down due to: IDLE"),
        "{stdout}"
    );
    let env = std::fs::read_to_string(&hook_env).expect("the hook ran");
    assert!(
        env.contains("SEMAPHORE_AGENT_SHUTDOWN_REASON=IDLE\n"),
        "{env}"
    );
    let agent_vars: Vec<&str> = env
        .lines()
        .filter(|l| l.starts_with("SEMAPHORE_AGENT_"))
        .collect();
    assert_eq!(agent_vars, ["SEMAPHORE_AGENT_SHUTDOWN_REASON=IDLE"]);
    let log = std::fs::read_to_string(dir.path().join("agent_log")).expect("agent log");
    for text in [&env, &stdout.to_string(), &log] {
        assert!(!text.contains(REGISTRATION_TOKEN) && !text.contains(ACCESS_TOKEN));
    }
    let registration = hub.state().registration.clone().expect("registered");
    assert_eq!(registration.name, "binary-agent-01");
    assert_eq!(registration.idle_timeout_secs, 1);
}

/// Waits (real time) until `done` holds, for up to 20 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_reported_as_interrupted_at_and_the_hub_decides() {
    let hub = FakeHub::start(Clock::start()).await;
    hub.state().next_sync_after_ms = 60_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = hub.origin.trim_start_matches("http://").to_owned();
    let mut command = agent();
    with_log_file(&mut command, dir.path());
    let child = command
        .args([
            "start",
            "--no-https",
            "--endpoint",
            &endpoint,
            "--token",
            REGISTRATION_TOKEN,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the agent");
    let pid = child.id().to_string();
    eventually("the first sync", || !hub.state().syncs.is_empty()).await;

    // Two SIGTERMs: the first is reported, the second changes nothing and kills nothing.
    for _ in 0..2 {
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("the agent ends");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Agent shutting down due to: INTERRUPTED"),
        "{stdout}"
    );
    let hub = hub.state();
    assert!(
        hub.syncs.len() >= 2,
        "a sync was forced before the hub's 60 s"
    );
    assert!(hub.syncs.last().and_then(|s| s.interrupted_at).is_some());
    assert_eq!(
        hub.requests
            .iter()
            .filter(|r| r.path.ends_with("/disconnect"))
            .count(),
        1
    );
}

/// The whole agent as the images run it: listener mode with the real shell executor, a job
/// from the hub run in bash on a PTY, its events pushed to the loghub, then the job-finished
/// shutdown. The job's own environment holds no agent variable and no token.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_from_the_hub_runs_in_bash_and_its_events_reach_the_loghub() {
    let hub = FakeHub::start(Clock::start()).await;
    let mut job = hub.job("job-bash-1");
    job.commands = serde_json::from_value(serde_json::json!([
        {"directive": "echo hello from $SEMAPHORE_JOB_ID"},
        {"directive": "env | sort"},
    ]))
    .expect("commands");
    job.env_vars = serde_json::from_value(serde_json::json!([
        {"name": "SEMAPHORE_JOB_ID", "value": "am9iLWJhc2gtMQ=="},
    ]))
    .expect("env vars");
    {
        let mut state = hub.state();
        state.next_sync_after_ms = 200;
        state.queued_job = Some(job);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = hub.origin.trim_start_matches("http://").to_owned();
    let mut command = agent();
    with_log_file(&mut command, dir.path());
    command
        .env("SEMAPHORE_AGENT_TOKEN", REGISTRATION_TOKEN)
        .env("SEMAPHORE_AGENT_ENDPOINT", &endpoint)
        .env("HOME", dir.path())
        .args([
            "start",
            "--no-https",
            "--disconnect-after-job",
            "--name",
            "bash-agent-0001",
        ]);
    let output: Output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run the agent");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");

    let state = hub.state();
    assert_eq!(
        state.job_results,
        [("job-bash-1".to_owned(), agent_protocol::JobResult::Passed)]
    );
    let lines: Vec<&String> = state.log_lines.values().collect();
    let kinds: Vec<String> = lines
        .iter()
        .map(|l| {
            let event: serde_json::Value = serde_json::from_str(l).expect("event JSON");
            event["event"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("job_started"));
    assert_eq!(kinds.last().map(String::as_str), Some("job_finished"));
    let all = lines
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("hello from job-bash-1"), "{all}");
    assert!(!all.contains("SEMAPHORE_AGENT_"), "{all}");
    for token in [REGISTRATION_TOKEN, ACCESS_TOKEN] {
        assert!(!all.contains(token), "a token reached the job: {all}");
        assert!(!stdout.contains(token), "a token was logged: {stdout}");
    }
}

/// `upload-job-logs: always` as the images configure it (here through the environment), with
/// `SEMAPHORE_AGENT_LOGS_COMPRESSION_SIZE` at its 1 MiB minimum: a job printing more than that
/// has its plain-text log gzipped and pushed with the `artifact` CLI found in `PATH`, which
/// gets the job's artifact token and never the agent's registration token.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_uploads_a_big_job_log_gzipped_with_the_artifact_cli() {
    use std::io::Read;

    let hub = FakeHub::start(Clock::start()).await;
    let mut job = hub.job("job-upload-1");
    job.commands = serde_json::from_value(serde_json::json!([
        {"directive": "head -c 1200000 /dev/zero | tr '\\0' 'a' | fold -w 99"},
    ]))
    .expect("commands");
    job.env_vars = serde_json::from_value(serde_json::json!([
        {"name": "SEMAPHORE_ARTIFACT_TOKEN", "value": agent_protocol::Base64::encode(b"artifact-token-9")},
        {"name": "SEMAPHORE_ORGANIZATION_URL", "value": agent_protocol::Base64::encode(b"https://acme.semaphoreci.com")},
    ]))
    .expect("env vars");
    {
        let mut state = hub.state();
        state.next_sync_after_ms = 200;
        state.queued_job = Some(job);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let stand_in = crate::upload::StandIn::new(dir.path(), 0);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let endpoint = hub.origin.trim_start_matches("http://").to_owned();
    let mut command = agent();
    with_log_file(&mut command, dir.path());
    command
        .env("SEMAPHORE_AGENT_TOKEN", REGISTRATION_TOKEN)
        .env("SEMAPHORE_AGENT_ENDPOINT", &endpoint)
        .env("SEMAPHORE_AGENT_UPLOAD_JOB_LOGS", "always")
        .env("SEMAPHORE_AGENT_LOGS_COMPRESSION_SIZE", "1048576")
        .env("PATH", stand_in.path())
        .env("TMPDIR", &tmp)
        .env("HOME", dir.path())
        .args([
            "start",
            "--no-https",
            "--disconnect-after-job",
            "--name",
            "upload-agent-0001",
        ]);
    let output: Output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run the agent");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert_eq!(
        hub.state().job_results,
        [("job-upload-1".to_owned(), agent_protocol::JobResult::Passed)]
    );

    let args = stand_in.args();
    assert_eq!(args[..2], ["push", "job"]);
    assert_eq!(args[3..], ["-d", "agent/job_logs.txt.gz"]);
    let mut text = String::new();
    flate2::read::GzDecoder::new(stand_in.file().as_slice())
        .read_to_string(&mut text)
        .expect("gzip");
    let line = format!("{}\n", "a".repeat(99));
    assert!(
        text.starts_with("Exporting environment variables\n"),
        "{}",
        &text[..200]
    );
    assert_eq!(text.matches(line.as_str()).count(), 1_200_000 / 99);
    let env = stand_in.env();
    assert!(env.contains("SEMAPHORE_ARTIFACT_TOKEN=artifact-token-9\n"));
    assert!(env.contains("SEMAPHORE_JOB_ID=job-upload-1\n"));
    assert!(
        !env.contains(REGISTRATION_TOKEN) && !env.contains(ACCESS_TOKEN),
        "{env}"
    );
    assert!(!env.contains("SEMAPHORE_AGENT_"), "{env}");
    assert!(
        !stdout.contains("artifact-token-9"),
        "a token was logged: {stdout}"
    );
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .expect("tmp")
        .map(|e| e.expect("entry").file_name())
        .filter(|name| name.to_string_lossy().starts_with("job_log_"))
        .collect();
    assert!(left.is_empty(), "temporary logs removed: {left:?}");
}
