//! Listener-mode figures for `scripts/bench-agent.sh`: runs the given agent binary against the
//! in-process fake hub of the tests (real clock) and prints, as `key value` lines, the idle RSS
//! after registration and the time from the hub's `run-job` answer to the job being fetched
//! (the agent emits `job_started` as soon as it has the job) and to the job's first command
//! running in bash.
//!
//! `cargo run --example bench_listener -p semaphore-agent -- <agent binary>`

// The fake hub is shared with the tests, which use more of it than this benchmark.
#[allow(dead_code)]
#[path = "../tests/it/fake_hub.rs"]
mod fake_hub;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fake_hub::{FakeHub, REGISTRATION_TOKEN};
use semaphore_agent::listener::Clock;

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let binary = std::env::args()
        .nth(1)
        .expect("usage: bench_listener <agent binary>");
    let wall0 = SystemTime::now();
    let hub = FakeHub::start(Clock::start()).await;
    hub.state().next_sync_after_ms = 100;
    let dir = std::env::temp_dir().join(format!("bench-agent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let endpoint = hub.origin.trim_start_matches("http://").to_owned();
    let mut child = std::process::Command::new(&binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &dir)
        .env("SEMAPHORE_AGENT_LOG_FILE_PATH", dir.join("agent_log"))
        .env("SEMAPHORE_AGENT_TOKEN", REGISTRATION_TOKEN)
        .args([
            "start",
            "--no-https",
            "--name",
            "bench-agent-0001",
            "--endpoint",
            &endpoint,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the agent");
    let pid = child.id();

    while hub.state().registration.is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Several syncs, then the agent is as idle as it gets.
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("idle_rss_kib {}", rss_kib(pid, "VmRSS:"));
    if std::env::var_os("BENCH_SMAPS").is_some() {
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("grep -E 'Rss(Anon|File)' /proc/{pid}/status; awk '/^[0-9a-f]+-/ {{name=$6}} /^Rss:/ {{ if ($2 > 100) print $2, name }}' /proc/{pid}/smaps | sort -rn | head -15; ls /proc/{pid}/task | wc -l"))
            .status();
    }

    let mut job = hub.job("bench-job-1");
    job.commands =
        serde_json::from_value(serde_json::json!([{"directive": "date +%s%N"}])).expect("commands");
    hub.state().queued_job = Some(job);
    while hub.state().job_results.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (run_job_ms, fetched_ms) = {
        let state = hub.state();
        let fetched = state
            .requests
            .iter()
            .position(|r| r.path.contains("/jobs/"))
            .expect("the job was fetched");
        let run_job = state.requests[..fetched]
            .iter()
            .rposition(|r| r.path.ends_with("/sync"))
            .expect("a sync answered run-job");
        (state.requests[run_job].at_ms, state.requests[fetched].at_ms)
    };
    println!("run_job_to_job_fetched_ms {}", fetched_ms - run_job_ms);
    let output = hub
        .state()
        .log_lines
        .values()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "cmd_output")
        .filter_map(|e| e["output"].as_str().map(str::to_owned))
        .find_map(|o| o.trim().parse::<u128>().ok())
        .expect("the command printed the time");
    let run_job_ns = (wall0
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos())
        + run_job_ms * 1_000_000;
    println!(
        "run_job_to_first_command_ms {:.1}",
        (output.saturating_sub(run_job_ns)) as f64 / 1e6
    );
    println!("peak_rss_kib {}", rss_kib(pid, "VmHWM:"));

    hub.state().shutdown_requested = true;
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
