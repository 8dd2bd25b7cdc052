//! A whole fleet on this machine, brought up the way a user deploys one: `moto_server` and the
//! hub started on free loopback ports, an agent type created at the hub and its token stored
//! with `agent-aws-stack token`, the stack bootstrapped and deployed with `agent-aws-stack`,
//! then the EC2 stand-in and the scaler running until the fleet goes down.
//!
//! A fleet that is up keeps two files in its work directory: `fleet.json` ([`FleetFile`],
//! where its parts listen and their PIDs, for `submit`, `status` and `down` in other
//! terminals) and `status.json` (its [`FleetRecord`], rewritten every second). Jobs submitted
//! from another terminal are appended to `submitted.jsonl` so the record knows their files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agent_protocol::LogEvent;
use anyhow::{Context as _, Result, bail};
use aws_config::SdkConfig;
use semaphore_hub::client::{Client, read_api_token};
use semaphore_hub::jobspec::JobSpec;
use semaphore_hub::records::SubmitJob;
use serde::{Deserialize, Serialize};
use stack_config::params;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::ec2::Ec2StandIn;
use crate::instance::InstanceSpec;
use crate::record::{FleetRecord, check_log};
use crate::services::{Service, free_port};
use crate::stack::{self, LocalConfig, Responder, StackCli};

/// The region the local fleet runs in.
pub const REGION: &str = "us-east-1";
/// The agent type the fleet's agents register as.
pub const AGENT_TYPE: &str = "local-fleet";
/// Where a fleet that is up says how to reach it.
pub const FLEET_FILE: &str = "fleet.json";
/// Its record, rewritten every second.
pub const STATUS_FILE: &str = "status.json";
/// The file that marks a directory as a fleet's (and so safe to clear).
pub const WORK_DIR_MARK: &str = ".local-fleet";
/// Jobs submitted from other processes: one JSON object per line.
pub const SUBMITTED_FILE: &str = "submitted.jsonl";

/// How a fleet is built.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Where everything goes (cleared when a fleet comes up).
    pub work_dir: PathBuf,
    /// The Python with moto (the project's `.venv`).
    pub python: PathBuf,
    /// `scripts/moto_server.py`.
    pub moto_script: PathBuf,
    /// Where `agent-aws-stack`, `semaphore-hub`, `agent-instance` and `semaphore-agent` are.
    pub bin_dir: PathBuf,
    /// The stack configuration file.
    pub config: PathBuf,
    /// GitHub's SSH keys for synthesis.
    pub github_keys: PathBuf,
    /// `SEMAPHORE_AGENT_ASG_MAX_SIZE` for the local stack.
    pub max_size: u32,
    /// `SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT` for the local stack, seconds.
    pub idle_timeout_secs: u32,
    /// Time from launch to the boot program starting (EC2 launch plus OS boot).
    pub boot_delay: Duration,
    /// How often the scaler ticks (the Lambda ticks every 10 s within its minute).
    pub scaler_every: Duration,
}

/// `fleet.json`: how other processes reach a fleet that is up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetFile {
    /// The process running the fleet (`local-fleet up` or `run`).
    pub pid: u32,
    /// The hub's URL.
    pub hub_url: String,
    /// The file holding the hub's API token.
    pub api_token_file: PathBuf,
    /// The emulator's endpoint.
    pub aws_endpoint: String,
    /// `moto_server`'s PID.
    pub moto_pid: u32,
    /// The hub's PID.
    pub hub_pid: u32,
    /// The stack.
    pub stack: String,
    /// Its Auto Scaling group.
    pub group: String,
    /// The agent type jobs go to.
    pub agent_type: String,
}

impl FleetFile {
    /// Reads the fleet file of `work_dir`.
    pub fn read(work_dir: &Path) -> Result<FleetFile> {
        let path = work_dir.join(FLEET_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no fleet is up in {} ({} is missing): start one with `local-fleet up`",
                work_dir.display(),
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a fleet file", path.display()))
    }

    /// A job API client for the hub.
    pub fn client(&self) -> Result<Client> {
        Client::new(&self.hub_url, read_api_token(&self.api_token_file)?)
    }
}

/// A job submitted from another process, as `submitted.jsonl` records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submitted {
    /// The hub's id.
    pub id: String,
    /// The job file.
    pub name: String,
    /// When, Unix milliseconds.
    pub at_unix_ms: i64,
}

/// Unix milliseconds now.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Submits a parsed job file to the fleet's agent type.
pub async fn submit(client: &Client, agent_type: &str, spec: &JobSpec) -> Result<String> {
    client
        .submit(&SubmitJob {
            agent_type: agent_type.to_owned(),
            request: spec.request.clone(),
            time_limit_secs: spec.time_limit_secs,
        })
        .await
}

/// A fleet that is up.
pub struct Fleet {
    /// Its options.
    pub options: FleetOptions,
    /// What it did so far.
    pub record: FleetRecord,
    /// The job API client.
    pub client: Client,
    moto: Service,
    hub: Service,
    stand_in: Ec2StandIn,
    stop_scaler: watch::Sender<bool>,
    scaler: JoinHandle<()>,
    scaler_reports: mpsc::UnboundedReceiver<scaler_tick::TickReport>,
    started: Instant,
    last_written: Option<Instant>,
    submitted_lines: usize,
}

impl Fleet {
    /// Brings a fleet up; `say` reports each step.
    pub async fn up(options: FleetOptions, say: &dyn Fn(&str)) -> Result<Fleet> {
        let work = &options.work_dir;
        if let Ok(existing) = FleetFile::read(work)
            && crate::services::alive(existing.pid)
        {
            bail!(
                "a fleet is already up in {} (pid {}): stop it with `local-fleet down` first",
                work.display(),
                existing.pid
            );
        }
        clear_work_dir(work)?;
        let work = std::fs::canonicalize(work)?;
        // The configuration first: a bad one stops everything before anything starts.
        let (moto_port, hub_port) = (free_port()?, free_port()?);
        let hub_addr = format!("127.0.0.1:{hub_port}");
        let hub_url = format!("http://{hub_addr}");
        let config = LocalConfig {
            file: options.config.clone(),
            github_keys: options.github_keys.clone(),
            context: work.join("cdk.context.json"),
            overrides: vec![
                (params::ENDPOINT.into(), hub_addr.clone()),
                (params::ASG_MAX_SIZE.into(), options.max_size.to_string()),
                (
                    params::DISCONNECT_AFTER_IDLE_TIMEOUT.into(),
                    options.idle_timeout_secs.to_string(),
                ),
                // moto 5.2 fails (HTTP 500) on an SSM parameter with tags, which the stack's
                // tags would add.
                (params::TAGS.into(), String::new()),
            ],
        };
        let stack_config = config.resolve()?;
        let binary = |name: &str| -> Result<PathBuf> {
            let path = options.bin_dir.join(name);
            if !path.exists() {
                bail!(
                    "{} is missing: build it with `cargo build -p {name}` (or run scripts/local-fleet.sh, which builds everything)",
                    path.display()
                );
            }
            Ok(path)
        };
        let (cli_binary, hub_binary) = (binary("agent-aws-stack")?, binary("semaphore-hub")?);
        let (agent_instance, agent) = (binary("agent-instance")?, binary("semaphore-agent")?);
        if !options.python.exists() {
            bail!(
                "{} is missing: create the venv with `python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements-test.txt` (scripts/local-fleet.sh does)",
                options.python.display()
            );
        }

        let mut moto = Service::spawn(
            "moto_server",
            Command::new(&options.python)
                .arg(&options.moto_script)
                .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()]),
            &work.join("moto.log"),
        )?;
        let aws_endpoint = format!("http://127.0.0.1:{moto_port}");
        moto.wait_http(
            &format!("{aws_endpoint}/moto-api/"),
            Duration::from_secs(60),
        )
        .await?;
        say(&format!("moto_server on {aws_endpoint} (pid {})", moto.pid));

        let api_token_file = work.join("hub.api-token");
        let mut hub = Service::spawn(
            "semaphore-hub",
            Command::new(&hub_binary)
                .args(["serve", "--listen", &hub_addr, "--db"])
                .arg(work.join("hub.db"))
                .arg("--api-token-file")
                .arg(&api_token_file),
            &work.join("hub.log"),
        )?;
        hub.wait_http(&hub_url, Duration::from_secs(30)).await?;
        say(&format!("semaphore-hub on {hub_url} (pid {})", hub.pid));

        let sdk = emulator_sdk(&aws_endpoint).await;
        let cli = StackCli {
            binary: cli_binary,
            aws_endpoint: aws_endpoint.clone(),
            region: REGION.into(),
            log: work.join("deploy.log"),
        };
        let client = Client::new(&hub_url, read_api_token(&api_token_file)?)?;
        let created = client.create_agent_type(AGENT_TYPE).await?;
        cli.store_token(&config, created.registration_token.expose())?;
        say(&format!(
            "agent type {AGENT_TYPE} created; its token stored in {} with `agent-aws-stack token`",
            stack_config.token_parameter_name
        ));

        let image = stack::register_agent_image(&sdk, &stack_config).await?;
        say(&format!(
            "image {} registered as {image}",
            stack_template::assets::ami_name(&stack_config)
        ));
        cli.bootstrap(&config)?;
        say("bootstrapped with `agent-aws-stack bootstrap`");
        let lambdas = stack::stand_in_lambdas(&work.join("lambdas"))?;
        let responder = Responder::start(&sdk, &aws_endpoint, REGION, &[&stack_config.stack_name])?;
        let deploy_started = Instant::now();
        let deployed = cli.deploy(&config, &lambdas);
        responder.stop().await;
        deployed?;
        say(&format!(
            "stack {} deployed with `agent-aws-stack deploy` in {:.1} s",
            stack_config.stack_name,
            deploy_started.elapsed().as_secs_f64()
        ));

        let env = stack::scaler_environment(&sdk, &stack_config.stack_name).await?;
        let settings = stack::scaler_settings(&env)?;
        let group = match &settings.group {
            scaler_tick::GroupSelector::Name(name) => name.clone(),
            scaler_tick::GroupSelector::StackTag(_) => {
                bail!("the deployed scaler has no SEMAPHORE_AGENT_ASG_NAME")
            }
        };
        let (min_size, max_size) = group_limits(&sdk, &group).await?;

        let spec = InstanceSpec {
            work_dir: work.join("instances"),
            agent_instance,
            agent,
            config_parameter: stack_config.config_parameter_name(),
            aws_endpoint: aws_endpoint.clone(),
            region: REGION.into(),
            boot_delay: options.boot_delay,
            // The hub speaks plain HTTP.
            agent_flags: vec!["--no-https".into()],
            boot_flags: vec![],
        };
        let stand_in = Ec2StandIn::new(aws_sdk_autoscaling::Client::new(&sdk), &group, spec);
        let (stop_scaler, stopped) = watch::channel(false);
        let (reports_tx, scaler_reports) = mpsc::unbounded_channel();
        let scaler_sdk = sdk.clone();
        let every = options.scaler_every;
        let scaler = tokio::spawn(async move {
            crate::scaler::run_scaler(settings, &scaler_sdk, every, stopped, reports_tx).await;
        });
        say(&format!(
            "EC2 stand-in watching {group} (min {min_size}, max {max_size}); scaler ticking every {:?}",
            options.scaler_every
        ));

        let file = FleetFile {
            pid: std::process::id(),
            hub_url,
            api_token_file,
            aws_endpoint,
            moto_pid: moto.pid,
            hub_pid: hub.pid,
            stack: stack_config.stack_name.clone(),
            group,
            agent_type: AGENT_TYPE.into(),
        };
        std::fs::write(work.join(FLEET_FILE), serde_json::to_string_pretty(&file)?)?;
        let mut options = options;
        options.work_dir = work;
        Ok(Fleet {
            options,
            record: FleetRecord::new(unix_ms(), min_size, max_size),
            client,
            moto,
            hub,
            stand_in,
            stop_scaler,
            scaler,
            scaler_reports,
            started: Instant::now(),
            last_written: None,
            submitted_lines: 0,
        })
    }

    /// Seconds since the fleet came up.
    pub fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Submits a job file's job and records it.
    pub async fn submit(&mut self, name: &str, spec: &JobSpec) -> Result<String> {
        let at = self.now();
        let id = submit(&self.client, AGENT_TYPE, spec).await?;
        self.record.submitted(&id, name, at);
        Ok(id)
    }

    /// One look at everything: the stand-in steps, the hub is observed, finished jobs' logs
    /// are checked, and the record is written (at most once a second).
    pub async fn step(&mut self) -> Result<()> {
        self.moto.check_running()?;
        self.hub.check_running()?;
        self.stand_in.step().await?;
        while let Ok(report) = self.scaler_reports.try_recv() {
            tracing::debug!(?report, "scaler tick");
        }
        self.read_submitted();
        self.record
            .observe_fleet(&self.stand_in.events, &self.stand_in.sizes);
        let now = self.now();
        // The hub may be briefly unreachable (restarted by a user): the next look catches up.
        if let (Ok(jobs), Ok(agents)) = (self.client.jobs().await, self.client.agents().await) {
            self.record.observe_hub(now, &jobs, &agents);
            for job in jobs.iter().filter(|j| j.result.is_some()) {
                let unchecked = self
                    .record
                    .jobs
                    .get(&job.id)
                    .is_some_and(|t| t.log.is_none());
                if !unchecked {
                    continue;
                }
                let result = job.result.map(|r| r.as_str()).unwrap_or_default();
                let check = match self.client.job_log(&job.id).await {
                    Ok(log) => {
                        self.save_log(&job.id, &log)?;
                        check_log(&job.request, result, &log)
                    }
                    Err(e) => Err(format!("cannot read the log: {e}")),
                };
                if let Some(track) = self.record.jobs.get_mut(&job.id) {
                    track.log = Some(check);
                }
            }
        }
        if self
            .last_written
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.write_status()?;
        }
        Ok(())
    }

    /// Where a finished job's plain-text log is kept.
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.options.work_dir.join("logs").join(format!("{id}.txt"))
    }

    /// Keeps a finished job's log as plain text (its events, one JSON object per line, are
    /// at the hub: `semaphore-hub job log <id>`).
    fn save_log(&self, id: &str, events: &str) -> Result<()> {
        let text: String = events
            .lines()
            .filter_map(|line| serde_json::from_str::<LogEvent>(line).ok())
            .filter_map(LogEvent::into_plain_text)
            .collect();
        let path = self.log_path(id);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    fn read_submitted(&mut self) {
        let Ok(text) = std::fs::read_to_string(self.options.work_dir.join(SUBMITTED_FILE)) else {
            return;
        };
        let lines: Vec<&str> = text.lines().collect();
        for line in lines.iter().skip(self.submitted_lines) {
            if let Ok(job) = serde_json::from_str::<Submitted>(line) {
                let at = ((job.at_unix_ms - self.record.started_unix_ms) as f64 / 1000.0).max(0.0);
                match self.record.jobs.get_mut(&job.id) {
                    Some(track) => {
                        track.name = job.name;
                        track.submitted = at;
                    }
                    None => self.record.submitted(&job.id, &job.name, at),
                }
            }
        }
        self.submitted_lines = lines.len();
    }

    /// Writes `status.json`.
    pub fn write_status(&mut self) -> Result<()> {
        let path = self.options.work_dir.join(STATUS_FILE);
        let partial = path.with_extension("partial");
        std::fs::write(&partial, serde_json::to_string(&self.record)?)?;
        std::fs::rename(&partial, &path)?;
        self.last_written = Some(Instant::now());
        Ok(())
    }

    /// Whether the group is back at its minimum with no instance left.
    pub fn at_rest(&self) -> bool {
        let desired = self
            .stand_in
            .sizes
            .last()
            .map(|(_, d)| *d)
            .unwrap_or_default();
        desired == self.record.min_size && self.stand_in.instances().next().is_none()
    }

    /// Takes everything down: the scaler, every instance's processes, the hub and the
    /// emulator (by PID), and removes `fleet.json`.
    pub async fn down(mut self) -> FleetRecord {
        let _ = self.stop_scaler.send(true);
        let _ = (&mut self.scaler).await;
        self.record.now = self.now();
        self.stand_in.shutdown();
        self.record
            .observe_fleet(&self.stand_in.events, &self.stand_in.sizes);
        let _ = self.write_status();
        self.hub.stop();
        self.moto.stop();
        let _ = std::fs::remove_file(self.options.work_dir.join(FLEET_FILE));
        self.record.clone()
    }
}

/// Empties the work directory for a new fleet and marks it as the fleet's. A directory that
/// holds anything and lacks the mark (a mistyped `--work-dir ~`) is refused, never cleared.
fn clear_work_dir(work: &Path) -> Result<()> {
    let marked = work.join(WORK_DIR_MARK).exists();
    let empty = std::fs::read_dir(work).map_or(true, |mut d| d.next().is_none());
    if work.exists() && !empty && !marked {
        bail!(
            "{} is not empty and was not made by local-fleet: choose another --work-dir (a fleet clears its directory when it comes up)",
            work.display()
        );
    }
    if work.exists() {
        std::fs::remove_dir_all(work)
            .with_context(|| format!("cannot clear {}", work.display()))?;
    }
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    std::fs::write(
        work.join(WORK_DIR_MARK),
        "A local fleet's work directory: `local-fleet up` and `run` clear it.\n",
    )?;
    Ok(())
}

/// The SDK configuration for the emulator (dummy credentials, the fleet's region).
pub async fn emulator_sdk(endpoint: &str) -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_autoscaling::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "local-fleet",
        ))
        .load()
        .await
}

async fn group_limits(sdk: &SdkConfig, group: &str) -> Result<(i32, i32)> {
    let out = aws_sdk_autoscaling::Client::new(sdk)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .with_context(|| format!("cannot describe the group {group}"))?;
    let g = out
        .auto_scaling_groups()
        .first()
        .with_context(|| format!("the stack's group {group} does not exist"))?;
    Ok((g.min_size().unwrap_or(0), g.max_size().unwrap_or(0)))
}
