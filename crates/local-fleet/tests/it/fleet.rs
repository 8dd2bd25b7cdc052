use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use agent_protocol::{Command as JobCommand, JobRequest, JobResult, Secret};
use aws_test_support::{create_group, moto, put_parameter, unique};
use local_fleet::ec2::{Ec2StandIn, FleetEvent};
use local_fleet::instance::InstanceSpec;
use local_fleet::scaler::run_scaler;
use scaler_tick::{GroupSelector, Overprovision, Settings};
use semaphore_hub::records::{JobState, SubmitJob};
use semaphore_hub::{Hub, HubSettings};
use stack_contract::AgentParameters;

/// `agent-instance` and `semaphore-agent` from this workspace's target directory, where
/// `cargo test --workspace` (and so `scripts/test.sh`) builds them; built here with `cargo
/// build -p` only when missing. After changing either program, run the workspace's tests (or
/// build them) so that this test does not run an older build.
fn binaries() -> &'static (PathBuf, PathBuf) {
    static BINARIES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target dir")
            .to_owned();
        let paths = (dir.join("agent-instance"), dir.join("semaphore-agent"));
        if !paths.0.exists() || !paths.1.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args([
                    "build",
                    "-q",
                    "-p",
                    "agent-instance",
                    "-p",
                    "semaphore-agent",
                    "--bins",
                ])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build");
            assert!(
                status.success(),
                "cargo build of the instance's binaries failed"
            );
        }
        paths
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_jobs_raise_the_group_run_on_local_instances_and_the_group_shrinks_back() {
    let Some(sdk) = moto("local_fleet").await else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (agent_instance, agent) = binaries().clone();
    let dir = tempfile::tempdir().expect("tempdir");

    let api = Secret::new("fleet-api-token");
    let mut hub_settings = HubSettings::new("");
    hub_settings.next_sync_after_ms = 300;
    let hub = Hub::start(
        "127.0.0.1:0".parse().expect("addr"),
        &dir.path().join("hub.db"),
        hub_settings,
        &api,
    )
    .await
    .expect("hub");
    let client = semaphore_hub::client::Client::new(&hub.url, api).expect("client");
    let registration = client
        .create_agent_type("fleet")
        .await
        .expect("type")
        .registration_token;

    let stack = unique("fleet");
    let group = format!("{stack}-asg");
    let token_parameter = format!("/semaphore/{stack}/token");
    let ssh_keys_parameter = format!("{stack}-ssh-public-keys");
    let config_parameter = format!("{stack}-config");
    put_parameter(&sdk, &token_parameter, registration.expose(), true).await;
    put_parameter(
        &sdk,
        &ssh_keys_parameter,
        r#"["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"]"#,
        false,
    )
    .await;
    let params = AgentParameters {
        endpoint: hub.addr.to_string(),
        token_parameter: token_parameter.clone(),
        ssh_keys_parameter,
        disconnect_after_job: false,
        disconnect_after_idle_timeout_secs: 3,
        env_vars: vec![],
        use_pre_signed_url: false,
    };
    put_parameter(&sdk, &config_parameter, &params.to_json(), false).await;
    create_group(&sdk, &group, (0, 2, 0), Some(&stack)).await;

    let mut ids = Vec::new();
    for i in 0..4 {
        let request = JobRequest {
            commands: vec![
                JobCommand::new(format!("echo job-{i} on $(hostname)")),
                JobCommand::new("sleep 1"),
            ],
            ..JobRequest::default()
        };
        ids.push(
            client
                .submit(&SubmitJob {
                    agent_type: "fleet".into(),
                    request,
                    time_limit_secs: None,
                })
                .await
                .expect("submit"),
        );
    }

    let spec = InstanceSpec {
        work_dir: dir.path().join("instances"),
        agent_instance,
        agent,
        config_parameter,
        aws_endpoint: std::env::var("AWS_ENDPOINT_URL").expect("moto endpoint"),
        region: "us-east-1".into(),
        boot_delay: Duration::ZERO,
        agent_flags: vec!["--no-https".into()],
    };
    let mut stand_in = Ec2StandIn::new(aws_sdk_autoscaling::Client::new(&sdk), &group, spec);
    let settings = Settings {
        token_parameter,
        stack_name: stack.clone(),
        metrics_url: format!("{}{}", hub.url, agent_protocol::hub_api::METRICS_PATH),
        overprovision: Overprovision::None,
        group: GroupSelector::Name(group.clone()),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (reports, mut tick_reports) = tokio::sync::mpsc::unbounded_channel();
    let scaler_sdk = sdk.clone();
    let scaler = tokio::spawn(async move {
        run_scaler(
            settings,
            &scaler_sdk,
            Duration::from_secs(1),
            stopped,
            reports,
        )
        .await;
    });

    let started = Instant::now();
    let mut finished_all = false;
    while started.elapsed() < Duration::from_secs(120) {
        stand_in.step().await.expect("stand-in step");
        let jobs = client.jobs().await.expect("jobs");
        finished_all = jobs.iter().all(|j| j.state == JobState::Finished);
        let desired = stand_in.sizes.last().map(|(_, d)| *d);
        if finished_all && desired == Some(0) && stand_in.instances().next().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(true);
    let _ = scaler.await;
    let mut errors = Vec::new();
    while let Ok(report) = tick_reports.try_recv() {
        if let Some(e) = report.error {
            errors.push(e);
        }
    }

    let jobs = client.jobs().await.expect("jobs");
    let summary = format!(
        "jobs: {:?}\nsizes: {:?}\nevents: {:?}\nscaler errors: {errors:?}",
        jobs.iter()
            .map(|j| (&j.id, j.state, j.result, &j.reason))
            .collect::<Vec<_>>(),
        stand_in.sizes,
        stand_in.events
    );
    eprintln!("{summary}");
    eprintln!("{}", figures(&jobs, &stand_in.events));
    assert!(finished_all, "{summary}");
    for id in &ids {
        let job = client.job(id).await.expect("job");
        assert_eq!(job.result, Some(JobResult::Passed), "{summary}");
        let log = client.job_log(id).await.expect("log");
        assert!(log.contains("job-"), "{log}");
    }
    let peak = stand_in.sizes.iter().map(|(_, d)| *d).max();
    assert_eq!(peak, Some(2), "the group rose to its maximum: {summary}");
    assert_eq!(stand_in.sizes.last().map(|(_, d)| *d), Some(0), "{summary}");
    let launched = stand_in
        .events
        .iter()
        .filter(|(_, e)| matches!(e, FleetEvent::Launched(_)))
        .count();
    assert!(launched >= 2, "{summary}");
    hub.stop().await;
}

/// Queue time (submitted → started) percentiles and instance-seconds per job-second, as the
/// test output reports them. The hub keeps whole seconds.
fn figures(
    jobs: &[semaphore_hub::records::JobRecord],
    events: &[(Duration, FleetEvent)],
) -> String {
    let mut queue: Vec<i64> = jobs
        .iter()
        .filter_map(|j| Some(j.started_at? - j.submitted_at))
        .collect();
    queue.sort_unstable();
    let pct = |p: f64| {
        let i = ((queue.len().max(1) - 1) as f64 * p).round() as usize;
        queue.get(i).copied().unwrap_or(0)
    };
    let job_secs: i64 = jobs
        .iter()
        .filter_map(|j| Some(j.finished_at? - j.started_at?))
        .sum();
    let mut launched = std::collections::BTreeMap::new();
    let mut instance_secs = 0.0;
    for (at, event) in events {
        match event {
            FleetEvent::Launched(id) => {
                launched.insert(id.clone(), *at);
            }
            FleetEvent::Terminated(id) | FleetEvent::PoweredOff(id) => {
                if let Some(start) = launched.remove(id) {
                    instance_secs += (*at - start).as_secs_f64();
                }
            }
            FleetEvent::Booted(_) => {}
        }
    }
    format!(
        "queue time p50 {} s, p95 {} s; {instance_secs:.1} instance-seconds for {job_secs} job-seconds ({:.2} per job-second)",
        pct(0.5),
        pct(0.95),
        instance_secs / job_secs.max(1) as f64
    )
}
