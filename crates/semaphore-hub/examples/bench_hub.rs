//! Load generator for `scripts/bench-hub.sh`: against a running `semaphore-hub serve` (its URL,
//! API token file and pid as arguments), registers AGENTS agents (default 500) that each sync
//! once a second for SECONDS (default 30) as real agents do, then pushes LOG_MB megabytes
//! (default 200) of job log in the agent's 2000-event batches. Prints figures only:
//! syncs per second, sync latency percentiles, the hub's memory before and after the
//! registrations (per agent), and log ingest MB/s.

use std::time::{Duration, Instant};

use agent_protocol::hub_api;
use agent_protocol::{
    AgentState, JobRequest, RegisterRequest, RegisterResponse, Secret, SyncRequest, SyncResponse,
};
use semaphore_hub::client::Client;
use semaphore_hub::records::SubmitJob;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, token_file, pid] = args.as_slice() else {
        anyhow::bail!("usage: bench_hub <hub url> <api token file> <hub pid>");
    };
    let agents = env_number("AGENTS", 500);
    let seconds = env_number("SECONDS", 30);
    let log_mb = env_number("LOG_MB", 200);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let api_token = Secret::new(std::fs::read_to_string(token_file)?.trim());
    let client = Client::new(url, api_token)?;
    let kind = format!("bench-{}", std::process::id());
    let registration = client.create_agent_type(&kind).await?.registration_token;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .build()?;

    let rss_before = rss_kib(pid);
    let mut tokens = Vec::new();
    for i in 0..agents {
        let body = serde_json::to_string(&RegisterRequest {
            name: format!("bench-agent-{i:05}"),
            version: "bench".into(),
            ..RegisterRequest::default()
        })?;
        let answer: RegisterResponse = http
            .post(format!("{url}{}", hub_api::REGISTER_PATH))
            .header("Authorization", hub_api::hub_authorization(&registration))
            .body(body)
            .send()
            .await?
            .json()
            .await?;
        tokens.push(answer.token);
    }
    // Every agent syncs once; then the hub holds what a fleet of this size costs it.
    let body = serde_json::to_string(&SyncRequest::waiting())?;
    for token in &tokens {
        http.post(format!("{url}{}", hub_api::SYNC_PATH))
            .header("Authorization", hub_api::hub_authorization(token))
            .body(body.clone())
            .send()
            .await?;
    }
    let rss_after = rss_kib(pid);

    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let http = http.clone();
        let url = format!("{url}{}", hub_api::SYNC_PATH);
        let body = body.clone();
        // Spread the agents over the second, as agents started at different times are.
        let offset = Duration::from_micros(1_000_000 * i as u64 / agents.max(1));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut next = started + offset;
            while next < deadline {
                tokio::time::sleep_until(next.into()).await;
                let t0 = Instant::now();
                let answer = http
                    .post(&url)
                    .header("Authorization", hub_api::hub_authorization(&token))
                    .body(body.clone())
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t0.elapsed());
                    }
                    _ => errors += 1,
                }
                next += Duration::from_secs(1);
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!("agents {agents}");
    println!("syncs {}", latencies.len());
    println!("sync_errors {errors}");
    println!("syncs_per_s {:.0}", latencies.len() as f64 / elapsed);
    println!("sync_p50_ms {:.2}", pct(0.50));
    println!("sync_p99_ms {:.2}", pct(0.99));
    println!("sync_max_ms {:.2}", pct(1.0));
    println!("hub_rss_kib_before_agents {rss_before}");
    println!("hub_rss_kib_after_agents {rss_after}");
    println!(
        "hub_bytes_per_agent {:.0}",
        (rss_after.saturating_sub(rss_before) * 1024) as f64 / agents.max(1) as f64
    );

    // Log ingest: one job, the agent's batches of 2000 events, one after another.
    let registration_body = serde_json::to_string(&RegisterRequest {
        name: "bench-log-agent".into(),
        ..RegisterRequest::default()
    })?;
    let access: RegisterResponse = http
        .post(format!("{url}{}", hub_api::REGISTER_PATH))
        .header("Authorization", hub_api::hub_authorization(&registration))
        .body(registration_body)
        .send()
        .await?
        .json()
        .await?;
    let id = client
        .submit(&SubmitJob {
            agent_type: kind,
            request: JobRequest {
                commands: vec![agent_protocol::Command::new("true")],
                ..JobRequest::default()
            },
            time_limit_secs: None,
        })
        .await?;
    let run: SyncResponse = http
        .post(format!("{url}{}", hub_api::SYNC_PATH))
        .header("Authorization", hub_api::hub_authorization(&access.token))
        .body(body.clone())
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(
        run.job_id.as_deref() == Some(id.as_str()),
        "the bench job was not assigned"
    );
    let job: JobRequest = http
        .get(format!("{url}{}", hub_api::job_path(&id)))
        .header("Authorization", hub_api::hub_authorization(&access.token))
        .send()
        .await?
        .json()
        .await?;
    let running = SyncRequest {
        state: AgentState::RunningJob,
        job_id: Some(id.clone()),
        job_result: None,
        interrupted_at: None,
    };
    http.post(format!("{url}{}", hub_api::SYNC_PATH))
        .header("Authorization", hub_api::hub_authorization(&access.token))
        .body(serde_json::to_string(&running)?)
        .send()
        .await?;
    let line = format!(
        r#"{{"event":"cmd_output","timestamp":1795396373,"output":"{}\n"}}"#,
        "x".repeat(40)
    );
    let mut batch = String::new();
    for _ in 0..2000 {
        batch.push_str(&line);
        batch.push('\n');
    }
    let batches = (log_mb * 1024 * 1024).div_ceil(batch.len() as u64);
    let t0 = Instant::now();
    for b in 0..batches {
        let status = http
            .post(hub_api::log_push_url(&job.logger.url, b * 2000))
            .header(
                "Authorization",
                hub_api::loghub_authorization(&job.logger.token),
            )
            .body(batch.clone())
            .send()
            .await?
            .status();
        anyhow::ensure!(status.is_success(), "log push answered {status}");
    }
    let secs = t0.elapsed().as_secs_f64();
    let mb = (batches * batch.len() as u64) as f64 / 1024.0 / 1024.0;
    println!("log_mb {mb:.0}");
    println!("log_ingest_mb_per_s {:.1}", mb / secs);
    println!(
        "log_ingest_events_per_s {:.0}",
        (batches * 2000) as f64 / secs
    );
    Ok(())
}
