use std::path::PathBuf;
use std::time::{Duration, Instant};

use agent_protocol::{Command as JobCommand, JobRequest, JobResult, Secret};
use aws_config::SdkConfig;
use aws_test_support::{create_group, moto, put_parameter, unique};
use local_fleet::ec2::{Ec2StandIn, FleetEvent};
use local_fleet::instance::InstanceSpec;
use local_fleet::record::FleetRecord;
use local_fleet::scaler::run_scaler;
use local_fleet::session::unix_ms;
use scaler_tick::{GroupSelector, Overprovision, Settings, TickReport};
use semaphore_hub::client::Client;
use semaphore_hub::records::{JobRecord, JobState, SubmitJob};
use semaphore_hub::{Hub, HubHandle, HubSettings};
use stack_contract::AgentParameters;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::support::workspace_binary;

/// `agent-instance` and `semaphore-agent`, as the workspace's test build left them.
fn binaries() -> (PathBuf, PathBuf) {
    (
        workspace_binary("agent-instance"),
        workspace_binary("semaphore-agent"),
    )
}

const API_TOKEN: &str = "fleet-api-token";

const SSH_KEYS: &str =
    r#"["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"]"#;

/// A fleet on moto: a hub in process, the stack's parameters, a group of at most `max`
/// instances, the EC2 stand-in and the scaler ticking every second.
struct Fleet {
    sdk: SdkConfig,
    dir: tempfile::TempDir,
    /// `None` only while the hub is restarted.
    hub: Option<HubHandle>,
    hub_settings: HubSettings,
    client: Client,
    registration: Secret,
    instance_token_parameter: String,
    stand_in: Ec2StandIn,
    stop: watch::Sender<bool>,
    scaler: JoinHandle<()>,
    reports: mpsc::UnboundedReceiver<TickReport>,
    started: Instant,
    /// What the fleet did, observed at each step as `local-fleet` observes it.
    record: FleetRecord,
}

struct Options {
    max: i32,
    agent_lost_after_secs: i64,
    /// The instances read their token from a parameter that does not exist yet.
    instance_token_missing: bool,
    boot_flags: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max: 2,
            agent_lost_after_secs: 60,
            instance_token_missing: false,
            boot_flags: vec![],
        }
    }
}

impl Fleet {
    async fn start(test: &str, options: Options) -> Option<Fleet> {
        let sdk = moto(test).await?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (agent_instance, agent) = binaries();
        let dir = tempfile::tempdir().expect("tempdir");

        let api = Secret::new(API_TOKEN);
        let mut hub_settings = HubSettings::new("");
        hub_settings.next_sync_after_ms = 300;
        hub_settings.agent_lost_after_secs = options.agent_lost_after_secs;
        hub_settings.sweep_every_ms = 200;
        let hub = Hub::start(
            "127.0.0.1:0".parse().expect("addr"),
            &dir.path().join("hub.db"),
            hub_settings.clone(),
            &api,
        )
        .await
        .expect("hub");
        let client = Client::new(&hub.url, api).expect("client");
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
        let instance_token_parameter = if options.instance_token_missing {
            format!("{token_parameter}-for-instances")
        } else {
            token_parameter.clone()
        };
        put_parameter(&sdk, &ssh_keys_parameter, SSH_KEYS, false).await;
        let params = AgentParameters {
            endpoint: hub.addr.to_string(),
            token_parameter: instance_token_parameter.clone(),
            ssh_keys_parameter,
            disconnect_after_job: false,
            disconnect_after_idle_timeout_secs: 3,
            env_vars: vec![],
            use_pre_signed_url: false,
        };
        put_parameter(&sdk, &config_parameter, &params.to_json(), false).await;
        create_group(&sdk, &group, (0, options.max, 0), Some(&stack)).await;

        let spec = InstanceSpec {
            work_dir: dir.path().join("instances"),
            agent_instance,
            agent,
            config_parameter,
            aws_endpoint: std::env::var("AWS_ENDPOINT_URL").expect("moto endpoint"),
            region: "us-east-1".into(),
            boot_delay: Duration::ZERO,
            agent_flags: vec!["--no-https".into()],
            boot_flags: options.boot_flags,
        };
        let stand_in = Ec2StandIn::new(aws_sdk_autoscaling::Client::new(&sdk), &group, spec);
        let settings = Settings {
            token_parameter: token_parameter.clone(),
            stack_name: stack,
            metrics_url: format!("{}{}", hub.url, agent_protocol::hub_api::METRICS_PATH),
            overprovision: Overprovision::None,
            group: GroupSelector::Name(group),
        };
        let (stop, stopped) = watch::channel(false);
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let scaler_sdk = sdk.clone();
        let scaler = tokio::spawn(async move {
            run_scaler(
                settings,
                &scaler_sdk,
                Duration::from_secs(1),
                stopped,
                reports_tx,
            )
            .await;
        });
        Some(Fleet {
            sdk,
            dir,
            hub: Some(hub),
            hub_settings,
            client,
            registration,
            instance_token_parameter,
            stand_in,
            stop,
            scaler,
            reports,
            started: Instant::now(),
            record: FleetRecord::new(unix_ms(), 0, options.max),
        })
    }

    async fn submit(&mut self, commands: &[&str]) -> String {
        let request = JobRequest {
            commands: commands.iter().map(|c| JobCommand::new(*c)).collect(),
            ..JobRequest::default()
        };
        let id = self
            .client
            .submit(&SubmitJob {
                agent_type: "fleet".into(),
                request,
                time_limit_secs: None,
            })
            .await
            .expect("submit");
        let at = self.started.elapsed().as_secs_f64();
        self.record.submitted(&id, "-", at);
        id
    }

    /// The run's figures (queue time percentiles, instance-seconds per job-second), as
    /// `local-fleet` reports them.
    fn figures(&self) -> String {
        local_fleet::record::figures(&self.record.summary())
    }

    /// Stops the hub; returns its address, for [`Fleet::start_hub`].
    async fn stop_hub(&mut self) -> std::net::SocketAddr {
        let hub = self.hub.take().expect("the hub runs");
        let addr = hub.addr;
        hub.stop().await;
        addr
    }

    /// Starts the hub again on `addr` and its database.
    async fn start_hub(&mut self, addr: std::net::SocketAddr) {
        let hub = Hub::start(
            addr,
            &self.dir.path().join("hub.db"),
            self.hub_settings.clone(),
            &Secret::new(API_TOKEN),
        )
        .await
        .expect("start the hub again");
        self.hub = Some(hub);
    }

    /// Stops the hub, waits, and starts it again on the same address and database.
    async fn restart_hub(&mut self, down_for: Duration) {
        let addr = self.stop_hub().await;
        tokio::time::sleep(down_for).await;
        self.start_hub(addr).await;
    }

    /// Steps the stand-in until the job has started.
    async fn wait_started(&mut self, id: &str) {
        let watched = id.to_owned();
        self.run_until(&format!("job {id} started"), move |jobs, _| {
            jobs.iter()
                .any(|j| j.id == watched && j.state == JobState::Started)
        })
        .await;
    }

    /// The agent running a job and its instance (the boot program names agents
    /// `<instance id>__<random>`).
    async fn running(&self, id: &str) -> (String, String) {
        let agent = self
            .client
            .job(id)
            .await
            .expect("job")
            .agent
            .expect("an agent holds the job");
        let instance = agent.split("__").next().expect("instance id").to_owned();
        (agent, instance)
    }

    async fn jobs(&self) -> Vec<JobRecord> {
        self.client.jobs().await.expect("jobs")
    }

    /// Steps the stand-in until `done` holds for the jobs, for at most two minutes.
    async fn run_until(&mut self, what: &str, done: impl Fn(&[JobRecord], &Ec2StandIn) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            self.stand_in.step().await.expect("stand-in step");
            let jobs = self.jobs().await;
            if let Ok(agents) = self.client.agents().await {
                let now = self.started.elapsed().as_secs_f64();
                self.record.observe_hub(now, &jobs, &agents);
            }
            self.record
                .observe_fleet(&self.stand_in.events, &self.stand_in.sizes);
            if done(&jobs, &self.stand_in) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        panic!("timed out waiting until {what}\n{}", self.summary().await);
    }

    /// Steps until every job finished and the group is back at 0 with no instance left.
    async fn drain(&mut self) {
        self.run_until(
            "every job finished and the group is empty",
            |jobs, stand_in| {
                jobs.iter().all(|j| j.state == JobState::Finished)
                    && stand_in.sizes.last().map(|(_, d)| *d) == Some(0)
                    && stand_in.instances().next().is_none()
            },
        )
        .await;
    }

    async fn summary(&mut self) -> String {
        let mut errors = Vec::new();
        while let Ok(report) = self.reports.try_recv() {
            if let Some(e) = report.error {
                errors.push(e);
            }
        }
        let jobs = self.jobs().await;
        format!(
            "after {:?}\njobs: {:?}\nsizes: {:?}\nevents: {:?}\nscaler errors: {errors:?}",
            self.started.elapsed(),
            jobs.iter()
                .map(|j| (&j.id, j.state, j.result, &j.reason, &j.agent))
                .collect::<Vec<_>>(),
            self.stand_in.sizes,
            self.stand_in.events
        )
    }

    fn count(&self, kind: fn(&FleetEvent) -> bool) -> usize {
        self.stand_in.events.iter().filter(|(_, e)| kind(e)).count()
    }

    async fn stop(mut self) -> String {
        let _ = self.stop.send(true);
        let summary = self.summary().await;
        let _ = (&mut self.scaler).await;
        self.stand_in.shutdown();
        if let Some(hub) = self.hub.take() {
            hub.stop().await;
        }
        summary
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_jobs_raise_the_group_run_on_local_instances_and_the_group_shrinks_back() {
    let Some(mut fleet) = Fleet::start("local_fleet", Options::default()).await else {
        return;
    };
    let mut ids = Vec::new();
    for i in 0..4 {
        let echo = format!("echo job-{i} on $(hostname)");
        ids.push(fleet.submit(&[&echo, "sleep 1"]).await);
    }
    fleet.drain().await;
    let summary = fleet.summary().await;
    eprintln!("{summary}\n{}", fleet.figures());
    for id in &ids {
        let job = fleet.client.job(id).await.expect("job");
        assert_eq!(job.result, Some(JobResult::Passed), "{summary}");
        let log = fleet.client.job_log(id).await.expect("log");
        assert!(log.contains("job-"), "{log}");
    }
    let peak = fleet.stand_in.sizes.iter().map(|(_, d)| *d).max();
    assert_eq!(peak, Some(2), "the group rose to its maximum: {summary}");
    assert!(
        fleet.count(|e| matches!(e, FleetEvent::Launched(_))) >= 2,
        "{summary}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_killed_in_the_middle_of_a_job_fails_that_job_and_is_replaced() {
    let options = Options {
        max: 1,
        agent_lost_after_secs: 3,
        ..Options::default()
    };
    let Some(mut fleet) = Fleet::start("local_fleet_kill", options).await else {
        return;
    };
    let doomed = fleet.submit(&["echo started", "sleep 60"]).await;
    fleet.wait_started(&doomed).await;
    let later = fleet.submit(&["echo after the failure"]).await;
    let (agent, instance) = fleet.running(&doomed).await;
    assert!(fleet.stand_in.instance(&instance).is_some(), "{agent}");
    fleet.stand_in.kill(&instance).await.expect("kill");
    fleet.drain().await;
    let summary = fleet.summary().await;
    let failed = fleet.client.job(&doomed).await.expect("job");
    assert_eq!(failed.result, Some(JobResult::Failed), "{summary}");
    assert!(
        failed
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("stopped syncing")),
        "{summary}"
    );
    let next = fleet.client.job(&later).await.expect("job");
    assert_eq!(next.result, Some(JobResult::Passed), "{summary}");
    assert_ne!(
        next.agent.as_deref(),
        Some(agent.as_str()),
        "another instance ran it"
    );
    assert_eq!(fleet.count(|e| matches!(e, FleetEvent::Killed(_))), 1);
    assert!(
        fleet.count(|e| matches!(e, FleetEvent::Launched(_))) >= 2,
        "{summary}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_boot_that_fails_marks_the_instance_unhealthy_and_it_is_replaced() {
    let options = Options {
        max: 1,
        instance_token_missing: true,
        boot_flags: vec![
            "--attempts".into(),
            "2".into(),
            "--pause-ms".into(),
            "100-200".into(),
        ],
        ..Options::default()
    };
    let Some(mut fleet) = Fleet::start("local_fleet_boot_fails", options).await else {
        return;
    };
    let id = fleet.submit(&["echo finally"]).await;
    fleet
        .run_until("a failed boot was replaced", |_, stand_in| {
            stand_in
                .events
                .iter()
                .any(|(_, e)| matches!(e, FleetEvent::Unhealthy(_)))
        })
        .await;
    // The token appears (someone ran `agent-aws-stack token`): the next boot succeeds.
    put_parameter(
        &fleet.sdk,
        &fleet.instance_token_parameter,
        fleet.registration.expose(),
        true,
    )
    .await;
    fleet.drain().await;
    let summary = fleet.summary().await;
    let job = fleet.client.job(&id).await.expect("job");
    assert_eq!(job.result, Some(JobResult::Passed), "{summary}");
    assert!(
        fleet.count(|e| matches!(e, FleetEvent::Launched(_))) >= 2,
        "{summary}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hub_restarted_in_the_middle_of_a_run_loses_no_job_and_agents_carry_on() {
    let Some(mut fleet) = Fleet::start("local_fleet_hub_restart", Options::default()).await else {
        return;
    };
    let mut ids = Vec::new();
    for i in 0..3 {
        let command = format!("for n in $(seq 1 20); do echo job-{i}-line-$n; sleep 0.1; done");
        ids.push(fleet.submit(&[&command]).await);
    }
    fleet
        .run_until("a job is running", |jobs, _| {
            jobs.iter().any(|j| j.state == JobState::Started)
        })
        .await;
    fleet.restart_hub(Duration::from_secs(2)).await;
    fleet.drain().await;
    let summary = fleet.summary().await;
    for (i, id) in ids.iter().enumerate() {
        let job = fleet.client.job(id).await.expect("job");
        assert_eq!(job.result, Some(JobResult::Passed), "{summary}");
        let log = semaphore_hub::render::plain_log(&fleet.client.job_log(id).await.expect("log"));
        let lines: Vec<&str> = log.lines().filter(|l| l.starts_with("job-")).collect();
        let expected: Vec<String> = (1..=20).map(|n| format!("job-{i}-line-{n}")).collect();
        assert_eq!(lines, expected, "every line once, in order: {summary}");
    }
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_rotated_in_the_middle_of_a_run_keeps_agents_working_and_new_instances_use_the_new_one()
 {
    let options = Options {
        max: 1,
        ..Options::default()
    };
    let Some(mut fleet) = Fleet::start("local_fleet_rotation", options).await else {
        return;
    };
    let first = fleet.submit(&["sleep 2", "echo first"]).await;
    fleet.wait_started(&first).await;
    // What `agent-aws-stack token` does after a reset in Semaphore's UI.
    let rotated = fleet.client.rotate_token("fleet").await.expect("rotate");
    put_parameter(
        &fleet.sdk,
        &fleet.instance_token_parameter,
        rotated.registration_token.expose(),
        true,
    )
    .await;
    let second = fleet.submit(&["echo second"]).await;
    fleet.drain().await;
    let third = fleet.submit(&["echo third"]).await;
    fleet.drain().await;
    let summary = fleet.summary().await;
    for id in [&first, &second, &third] {
        let job = fleet.client.job(id).await.expect("job");
        assert_eq!(job.result, Some(JobResult::Passed), "{summary}");
    }
    let first_agent = fleet.client.job(&first).await.expect("job").agent;
    let third_agent = fleet.client.job(&third).await.expect("job").agent;
    assert_ne!(
        first_agent, third_agent,
        "a new instance, registered with the new token: {summary}"
    );
    assert!(
        fleet.count(|e| matches!(e, FleetEvent::Launched(_))) >= 2,
        "{summary}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_spot_interruption_ends_the_running_job_with_a_result_and_the_capacity_is_replaced() {
    let options = Options {
        max: 1,
        ..Options::default()
    };
    let Some(mut fleet) = Fleet::start("local_fleet_spot", options).await else {
        return;
    };
    let interrupted = fleet.submit(&["echo started", "sleep 60"]).await;
    fleet.wait_started(&interrupted).await;
    let next = fleet.submit(&["echo on the replacement"]).await;
    let (agent, instance) = fleet.running(&interrupted).await;
    fleet
        .stand_in
        .spot_interrupt(&instance, Duration::from_secs(2))
        .expect("spot notice");
    fleet.drain().await;
    let summary = fleet.summary().await;
    let ended = fleet.client.job(&interrupted).await.expect("job");
    // SIGTERM at the OS shutdown: the agent reports the interruption, the hub stops the job
    // (no grace period is configured), and the agent leaves before the machine goes.
    assert_eq!(ended.result, Some(JobResult::Stopped), "{summary}");
    let replacement = fleet.client.job(&next).await.expect("job");
    assert_eq!(replacement.result, Some(JobResult::Passed), "{summary}");
    assert_ne!(
        replacement.agent.as_deref(),
        Some(agent.as_str()),
        "{summary}"
    );
    assert_eq!(fleet.count(|e| matches!(e, FleetEvent::SpotNotice(_))), 1);
    assert!(
        fleet.count(|e| matches!(e, FleetEvent::Launched(_))) >= 2,
        "{summary}"
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn semaphore_unreachable_for_a_minute_loses_no_job_and_no_log_line() {
    let options = Options {
        max: 1,
        ..Options::default()
    };
    let Some(mut fleet) = Fleet::start("local_fleet_outage", options).await else {
        return;
    };
    // Longer than the outage, so that its log is pushed again once the hub is back.
    let id = fleet
        .submit(&["for n in $(seq 1 75); do echo line-$n; sleep 1; done"])
        .await;
    fleet.wait_started(&id).await;
    let desired_before = fleet.stand_in.sizes.last().map(|(_, d)| *d);
    // The stand-in keeps watching the group while the hub is away.
    let addr = fleet.stop_hub().await;
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(60) {
        fleet.stand_in.step().await.expect("stand-in step");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        fleet.stand_in.sizes.last().map(|(_, d)| *d),
        desired_before,
        "the group keeps its size while the scaler cannot read the metrics"
    );
    assert!(
        fleet.stand_in.instances().next().is_some(),
        "the instance stays"
    );
    fleet.start_hub(addr).await;
    fleet.drain().await;
    let summary = fleet.summary().await;
    assert!(
        summary.contains("scaler errors: [") && !summary.contains("scaler errors: []"),
        "the ticks during the outage failed: {summary}"
    );
    let job = fleet.client.job(&id).await.expect("job");
    assert_eq!(job.result, Some(JobResult::Passed), "{summary}");
    let log = semaphore_hub::render::plain_log(&fleet.client.job_log(&id).await.expect("log"));
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with("line-")).collect();
    let expected: Vec<String> = (1..=75).map(|n| format!("line-{n}")).collect();
    assert_eq!(lines, expected, "every line once, in order");
    fleet.stop().await;
}
