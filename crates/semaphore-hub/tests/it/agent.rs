//! The Rust agent (the `semaphore-agent` binary, started as an instance starts it) against the
//! hub: registration, jobs with their logs, a stop, idle and job-finished shutdowns, an
//! interruption, and a hub restarted in the middle of a job.
//!
//! The hub never depends on the agent: these tests run the agent's binary from the workspace's
//! target directory (see `agent_binary`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use agent_protocol::Secret;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{TestHub, settings, start_on};

/// The agent binary from this workspace's target directory, where `cargo test --workspace`
/// (and so `scripts/test.sh`) builds it; built here with `cargo build -p semaphore-agent` only
/// when missing. After changing the agent, run the workspace's tests (or build it) so that
/// these tests do not run an older build.
fn agent_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // tests run from <target>/<profile>/deps/<test binary>
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
        let binary = profile_dir.join("semaphore-agent");
        if !binary.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args([
                    "build",
                    "-q",
                    "-p",
                    "semaphore-agent",
                    "--bin",
                    "semaphore-agent",
                ])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build for the agent");
            assert!(status.success(), "cargo build -p semaphore-agent failed");
        }
        binary
    })
}

struct Agent {
    child: Child,
    dir: tempfile::TempDir,
}

impl Agent {
    /// Starts `semaphore-agent start --config-file FILE` against the hub, with a shutdown hook
    /// that records its reason.
    fn start(hub_url: &str, token: &Secret, name: &str, extra: &str) -> Agent {
        let dir = tempfile::tempdir().expect("tempdir");
        let hook = dir.path().join("hook.sh");
        std::fs::write(
            &hook,
            format!(
                "echo \"$SEMAPHORE_AGENT_SHUTDOWN_REASON\" > '{}'\n",
                dir.path().join("reason").display()
            ),
        )
        .expect("hook");
        let config = dir.path().join("config.yaml");
        std::fs::write(
            &config,
            format!(
                "endpoint: {}\ntoken: {}\nname: {name}\nno-https: true\nshutdown-hook-path: {}\n{extra}",
                hub_url.trim_start_matches("http://"),
                token.expose(),
                hook.display()
            ),
        )
        .expect("config");
        let mut command = Command::new(agent_binary());
        for (key, _) in std::env::vars() {
            if key.starts_with("SEMAPHORE_") {
                command.env_remove(key);
            }
        }
        let child = command
            .env(
                "SEMAPHORE_AGENT_LOG_FILE_PATH",
                dir.path().join("agent.log"),
            )
            .args(["start", "--config-file"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the agent");
        Agent { child, dir }
    }

    /// Waits for the agent to exit; its exit code and the reason its hook saw.
    async fn exit(mut self) -> (Option<i32>, String) {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let reason =
                    std::fs::read_to_string(self.dir.path().join("reason")).unwrap_or_default();
                return (status.code(), reason.trim().to_owned());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default();
        let _ = self.child.kill();
        panic!("the agent did not exit within 30 s; its log:\n{log}");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_for(hub: &TestHub, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let job = hub.job(id).await;
        if done(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "job {id}: timed out waiting until {what}: {}",
        hub.job(id).await
    );
}

async fn finished(hub: &TestHub, id: &str) -> Value {
    wait_for(hub, id, "it finished", |j| j["state"] == "finished").await
}

async fn plain_log(hub: &TestHub, id: &str) -> String {
    let (status, body) = hub.api("GET", &format!("/jobs/{id}/log"), None).await;
    assert_eq!(status, StatusCode::OK);
    semaphore_hub::render::plain_log(body.as_str().expect("ndjson"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_runs_jobs_with_their_logs_then_shuts_down_when_idle() {
    let hub = TestHub::start(settings()).await;
    let token = hub.create_agent_type("linux").await;
    let passing = hub
        .submit(
            "linux",
            &["echo hello from the hub", "echo $SEMAPHORE_JOB_ID"],
            None,
        )
        .await;
    let failing = hub
        .submit("linux", &["echo before", "false", "echo never"], None)
        .await;
    let agent = Agent::start(
        &hub.handle.url,
        &token,
        "e2e-agent-1",
        "disconnect-after-idle-timeout: 2\n",
    );

    let job = finished(&hub, &passing).await;
    assert_eq!(job["result"], "passed", "{job}");
    assert_eq!(job["agent"], "e2e-agent-1");
    let log = plain_log(&hub, &passing).await;
    assert!(
        log.contains("echo hello from the hub\nhello from the hub\n"),
        "{log}"
    );
    assert!(
        log.contains(&format!("{passing}\n")),
        "SEMAPHORE_JOB_ID reaches the job: {log}"
    );
    assert!(log.ends_with("Job passed\n"), "{log}");

    let job = finished(&hub, &failing).await;
    assert_eq!(job["result"], "failed", "{job}");
    let log = plain_log(&hub, &failing).await;
    assert!(
        log.contains("before\n") && !log.contains("echo never"),
        "{log}"
    );

    let (code, reason) = agent.exit().await;
    assert_eq!((code, reason.as_str()), (Some(0), "IDLE"));
    let (_, agents) = hub.api("GET", "/agents", None).await;
    assert_eq!(agents[0]["status"], "disconnected", "{agents}");
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_job_agent_shuts_down_after_its_job_and_a_stopped_job_ends_stopped() {
    let hub = TestHub::start(settings()).await;
    let token = hub.create_agent_type("linux").await;
    let id = hub
        .submit("linux", &["echo started", "sleep 60"], None)
        .await;
    let agent = Agent::start(
        &hub.handle.url,
        &token,
        "e2e-agent-2",
        "disconnect-after-job: true\n",
    );
    wait_for(&hub, &id, "it started", |j| j["state"] == "started").await;
    let (status, _) = hub.api("POST", &format!("/jobs/{id}/stop"), None).await;
    assert_eq!(status, StatusCode::OK);
    let job = finished(&hub, &id).await;
    assert_eq!(job["result"], "stopped", "{job}");
    assert_eq!(job["reason"], "stopped through the API");
    let (code, reason) = agent.exit().await;
    assert_eq!((code, reason.as_str()), (Some(0), "JOB_FINISHED"));
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_agent_has_its_job_stopped_after_the_grace_period_then_shuts_down() {
    let hub = TestHub::start(settings()).await;
    let token = hub.create_agent_type("linux").await;
    let id = hub.submit("linux", &["sleep 60"], None).await;
    let agent = Agent::start(
        &hub.handle.url,
        &token,
        "e2e-agent-3",
        "interruption-grace-period: 1\n",
    );
    wait_for(&hub, &id, "it started", |j| j["state"] == "started").await;
    agent.signal("TERM");
    let job = finished(&hub, &id).await;
    assert_eq!(job["result"], "stopped", "{job}");
    let (code, reason) = agent.exit().await;
    assert_eq!((code, reason.as_str()), (Some(0), "INTERRUPTED"));
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_asked_to_disconnect_leaves_with_the_requested_reason() {
    let hub = TestHub::start(settings()).await;
    let token = hub.create_agent_type("linux").await;
    let agent = Agent::start(&hub.handle.url, &token, "e2e-agent-4", "");
    for _ in 0..100 {
        let (_, agents) = hub.api("GET", "/agents", None).await;
        if agents.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = hub
        .api("POST", "/agents/e2e-agent-4/disconnect", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (code, reason) = agent.exit().await;
    assert_eq!((code, reason.as_str()), (Some(0), "REQUESTED"));
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_restarted_in_the_middle_of_a_job_loses_no_log_line_and_the_agent_carries_on() {
    let hub = TestHub::start(settings()).await;
    let token = hub.create_agent_type("linux").await;
    let id = hub
        .submit(
            "linux",
            &["for i in $(seq 1 40); do echo line-$i; sleep 0.1; done"],
            None,
        )
        .await;
    let agent = Agent::start(
        &hub.handle.url,
        &token,
        "e2e-agent-5",
        "disconnect-after-job: true\n",
    );
    wait_for(&hub, &id, "some log is stored", |j| {
        j["log_events"].as_u64() > Some(3)
    })
    .await;

    let TestHub { handle, dir, http } = hub;
    let addr = handle.addr;
    handle.stop().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let handle = start_on(addr, &dir.path().join("hub.db"), settings()).await;
    let hub = TestHub { handle, dir, http };

    let job = finished(&hub, &id).await;
    assert_eq!(job["result"], "passed", "{job}");
    let log = plain_log(&hub, &id).await;
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with("line-")).collect();
    let expected: Vec<String> = (1..=40).map(|i| format!("line-{i}")).collect();
    assert_eq!(lines, expected, "every line once, in order");
    let (code, reason) = agent.exit().await;
    assert_eq!((code, reason.as_str()), (Some(0), "JOB_FINISHED"));
    hub.handle.stop().await;
}
