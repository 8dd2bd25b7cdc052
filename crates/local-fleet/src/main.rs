//! `local-fleet`: the whole fleet on this machine. `run` brings one up (moto_server, the hub,
//! the stack deployed with `agent-aws-stack`, instances as processes, the scaler), runs the
//! bundled example jobs, prints what happened and takes everything down; `up`, `submit`,
//! `status` and `down` do the same in steps, from several terminals.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use local_fleet::record::{FleetRecord, render};
use local_fleet::services::{alive, processes_in, stop_pid};
use local_fleet::session::{
    FLEET_FILE, Fleet, FleetFile, FleetOptions, STATUS_FILE, SUBMITTED_FILE, Submitted, submit,
    unix_ms,
};
use semaphore_hub::jobspec::{JobSpec, parse_job_file};
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(
    name = "local-fleet",
    version,
    about = "The whole agent fleet on this machine: AWS emulated by moto_server, Semaphore by the hub, instances as processes."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring a fleet up, run jobs on it, print what happened, take it down.
    Run(RunArgs),
    /// Bring a fleet up and keep it up until Ctrl-C or `local-fleet down`.
    Up(FleetArgs),
    /// Submit job files to the fleet that is up.
    Submit(SubmitArgs),
    /// Show what the fleet that is up has done.
    Status(StatusArgs),
    /// Take the fleet that is up down.
    Down(WorkDir),
}

/// `--work-dir` when not given.
const DEFAULT_WORK_DIR: &str = "target/local-fleet";

#[derive(Debug, Clone, Args)]
struct WorkDir {
    /// Where the fleet keeps its files (cleared when a fleet comes up).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_WORK_DIR)]
    work_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
struct FleetArgs {
    #[command(flatten)]
    work: WorkDir,
    /// The stack configuration (SEMAPHORE_* keys).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "examples/linux/config.json"
    )]
    config: PathBuf,
    /// GitHub's SSH keys, so that synthesis does not call GitHub.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "examples/linux/gh_ssh_keys.json"
    )]
    github_keys: PathBuf,
    /// The group's maximum size (SEMAPHORE_AGENT_ASG_MAX_SIZE).
    #[arg(long, default_value_t = 3)]
    max_size: u32,
    /// Seconds an agent waits idle before it disconnects and its instance goes
    /// (SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    idle_timeout: u32,
    /// Seconds from an instance's launch to its boot program starting (EC2 launch and OS
    /// boot; about 30 on EC2).
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    boot_delay: f64,
    /// Seconds between scaler ticks (the Lambda ticks every 10 s).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    scaler_every: f64,
    /// The Python that has moto (the project's venv).
    #[arg(
        long,
        value_name = "FILE",
        env = "LOCAL_FLEET_PYTHON",
        default_value = ".venv/bin/python"
    )]
    python: PathBuf,
    /// The moto_server launcher.
    #[arg(long, value_name = "FILE", default_value = "scripts/moto_server.py")]
    moto_script: PathBuf,
    /// Where agent-aws-stack, semaphore-hub, agent-instance and semaphore-agent are (default:
    /// this binary's directory).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Job files (YAML or JSON job requests), or directories of them.
    #[arg(long = "jobs", value_name = "PATH", default_value = "examples/jobs")]
    jobs: Vec<PathBuf>,
    /// Submit each job this many times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Give up (and fail) when the jobs have not finished and the group is not back at its
    /// minimum after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    timeout: u64,
}

#[derive(Debug, Args)]
struct SubmitArgs {
    #[command(flatten)]
    work: WorkDir,
    /// Job files (YAML or JSON job requests), or directories of them.
    #[arg(required = true, value_name = "PATH")]
    jobs: Vec<PathBuf>,
    /// Wait for the jobs to finish; exit status 1 unless every one passed.
    #[arg(long)]
    wait: bool,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    work: WorkDir,
    /// The record as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    // LOCAL_FLEET_LOG=info (or debug) shows the stand-in's and the scaler's own logs.
    let level = std::env::var("LOCAL_FLEET_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::WARN);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run(args) => run(args).await,
        Command::Up(args) => up(args).await,
        Command::Submit(args) => submit_jobs(args).await,
        Command::Status(args) => status(args),
        Command::Down(args) => down(args),
    }
}

fn say(line: &str) {
    eprintln!("==> {line}");
}

impl FleetArgs {
    fn options(&self) -> Result<FleetOptions> {
        let bin_dir = match &self.bin_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_exe()
                .context("cannot find this binary's path")?
                .parent()
                .context("this binary has no directory")?
                .to_owned(),
        };
        for (flag, value) in [
            ("--boot-delay", self.boot_delay),
            ("--scaler-every", self.scaler_every),
        ] {
            if !(0.0..=3600.0).contains(&value) {
                bail!("{flag} {value} is invalid: use a number of seconds from 0 to 3600");
            }
        }
        if self.scaler_every < 0.1 {
            bail!(
                "--scaler-every {} is too short: use at least 0.1 seconds",
                self.scaler_every
            );
        }
        if self.max_size == 0 {
            bail!("--max-size 0 leaves no room for an instance: use at least 1");
        }
        Ok(FleetOptions {
            work_dir: self.work.work_dir.clone(),
            python: self.python.clone(),
            moto_script: self.moto_script.clone(),
            bin_dir,
            config: self.config.clone(),
            github_keys: self.github_keys.clone(),
            max_size: self.max_size,
            idle_timeout_secs: self.idle_timeout,
            boot_delay: Duration::from_secs_f64(self.boot_delay),
            scaler_every: Duration::from_secs_f64(self.scaler_every),
        })
    }
}

/// The job files named by `paths` (a directory stands for its `.yml`, `.yaml` and `.json`
/// files, sorted), parsed; every problem is reported before anything starts.
fn load_jobs(paths: &[PathBuf]) -> Result<Vec<(String, JobSpec)>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read the job directory {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yml" | "yaml" | "json")
                    )
                })
                .collect();
            found.sort();
            if found.is_empty() {
                bail!(
                    "the job directory {} holds no .yml, .yaml or .json file",
                    path.display()
                );
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match std::fs::read_to_string(&file) {
            Ok(text) => match parse_job_file(&text, &file.display().to_string()) {
                Ok(spec) => jobs.push((name, spec)),
                Err(e) => problems.push(e),
            },
            Err(e) => problems.push(format!("cannot read the job file {}: {e}", file.display())),
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(jobs)
}

/// Ctrl-C or SIGTERM, watched from the start so that no part of a fleet outlives one: whatever
/// the fleet is doing, it stops, takes down what it started and exits.
#[derive(Clone)]
struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    fn watch() -> Result<Interrupt> {
        let (tx, rx) = watch::channel(false);
        #[cfg(unix)]
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot watch for SIGTERM")?;
        tokio::spawn(async move {
            #[cfg(unix)]
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
            let _ = tx.send(true);
        });
        Ok(Interrupt(rx))
    }

    async fn wait(&mut self) {
        let _ = self.0.wait_for(|interrupted| *interrupted).await;
    }
}

/// The error of an interrupted command.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted; everything the fleet started is stopped")
    }
}

impl std::error::Error for Interrupted {}

/// Brings a fleet up unless interrupted first (then what was started is stopped as the
/// half-built fleet is dropped).
async fn bring_up(options: FleetOptions, interrupt: &mut Interrupt) -> Result<Fleet> {
    tokio::select! {
        fleet = Fleet::up(options, &say) => fleet,
        _ = interrupt.wait() => Err(Interrupted.into()),
    }
}

/// Prints what changed in the record since the last call.
#[derive(Default)]
struct Progress {
    printed: std::collections::BTreeSet<String>,
    sizes: usize,
}

impl Progress {
    fn show(&mut self, record: &FleetRecord) {
        let mut once = |key: String, line: String| {
            if self.printed.insert(key) {
                eprintln!("[{:>6.1} s] {line}", record.now);
            }
        };
        for (at, size) in record.sizes.iter().skip(self.sizes) {
            eprintln!("[{at:>6.1} s] group desired capacity {size}");
        }
        self.sizes = record.sizes.len();
        for (id, i) in &record.instances {
            once(format!("launch {id}"), format!("instance {id} launched"));
            if let Some(r) = i.registered {
                once(
                    format!("reg {id}"),
                    format!(
                        "instance {id}: agent registered, {:.1} s after launch",
                        r - i.launched
                    ),
                );
            }
            if let Some(end) = &i.end {
                once(format!("end {id}"), format!("instance {id} {end}"));
            }
        }
        for (id, j) in &record.jobs {
            if let Some(s) = j.started {
                once(
                    format!("start {id}"),
                    format!(
                        "job {} ({id}) started on {} after {:.1} s in the queue",
                        j.name,
                        j.instance.as_deref().unwrap_or("?"),
                        s - j.submitted
                    ),
                );
            }
            if let Some(result) = &j.result {
                once(
                    format!("end {id}"),
                    format!("job {} ({id}) {result}", j.name),
                );
            }
        }
    }
}

/// Steps the fleet until `done` says so, the deadline passes or the user interrupts.
async fn drive(
    fleet: &mut Fleet,
    deadline: Option<Instant>,
    interrupt: &mut Interrupt,
    done: &dyn Fn(&Fleet) -> bool,
) -> Result<()> {
    let mut progress = Progress::default();
    loop {
        fleet.step().await?;
        progress.show(&fleet.record);
        if done(fleet) {
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            bail!("gave up waiting (--timeout)");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = interrupt.wait() => return Err(Interrupted.into()),
        }
    }
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let jobs = load_jobs(&args.jobs)?;
    if args.fleet.idle_timeout == 0 {
        bail!(
            "--idle-timeout 0 never lets an idle agent go, so the group would never return to its minimum and `run` would never end: use at least 1 (`up` accepts 0)"
        );
    }
    let options = args.fleet.options()?;
    let mut interrupt = Interrupt::watch()?;
    let started = Instant::now();
    let mut fleet = bring_up(options, &mut interrupt).await?;
    say(&format!(
        "fleet up in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let submitted = async {
        for round in 0..args.repeat {
            for (name, spec) in &jobs {
                let label = if args.repeat > 1 {
                    format!("{name}#{}", round + 1)
                } else {
                    name.clone()
                };
                fleet.submit(&label, spec).await?;
            }
        }
        say(&format!("{} job(s) submitted", fleet.record.jobs.len()));
        let deadline = Instant::now() + Duration::from_secs(args.timeout);
        drive(&mut fleet, Some(deadline), &mut interrupt, &|f| {
            f.record.all_finished()
                && f.record.jobs.values().all(|j| j.log.is_some())
                && f.at_rest()
        })
        .await
    }
    .await;
    let logs: Vec<(String, PathBuf)> = fleet
        .record
        .jobs
        .iter()
        .filter(|(_, j)| j.result.as_deref() != Some("passed"))
        .map(|(id, j)| (j.name.clone(), fleet.log_path(id)))
        .collect();
    let record = fleet.down().await;
    print!("{}", render(&record));
    for (name, log) in logs {
        if log.exists() {
            eprintln!("--- {name}: the end of its log ({})", log.display());
            eprintln!("{}", local_fleet::services::tail(&log, 15));
        }
    }
    say(&format!(
        "fleet down; {:.1} s in all",
        started.elapsed().as_secs_f64()
    ));
    submitted?;
    let all_passed = record
        .jobs
        .values()
        .all(|j| j.result.as_deref() == Some("passed") && matches!(j.log, Some(Ok(_))));
    if !all_passed {
        eprintln!("error: not every job passed with its whole log (see the table above)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

async fn up(args: FleetArgs) -> Result<ExitCode> {
    let options = args.options()?;
    let mut interrupt = Interrupt::watch()?;
    let started = Instant::now();
    let mut fleet = bring_up(options, &mut interrupt).await?;
    let dir = args.work.work_dir.display().to_string();
    let flag = if dir == DEFAULT_WORK_DIR {
        String::new()
    } else {
        format!(" --work-dir {dir}")
    };
    say(&format!(
        "fleet up in {:.1} s; from another terminal: `local-fleet submit{flag} examples/jobs`, `local-fleet status{flag}`, `local-fleet down{flag}` (or Ctrl-C here)",
        started.elapsed().as_secs_f64()
    ));
    let outcome = drive(&mut fleet, None, &mut interrupt, &|_| false).await;
    let record = fleet.down().await;
    print!("{}", render(&record));
    say("fleet down");
    match outcome {
        // Ctrl-C or `local-fleet down` is how an `up` ends.
        Err(e) if e.is::<Interrupted>() => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}

async fn submit_jobs(args: SubmitArgs) -> Result<ExitCode> {
    let jobs = load_jobs(&args.jobs)?;
    let fleet = FleetFile::read(&args.work.work_dir)?;
    let client = fleet.client()?;
    let mut ids = Vec::new();
    for (name, spec) in &jobs {
        let at_unix_ms = unix_ms();
        let id = submit(&client, &fleet.agent_type, spec).await?;
        append_submitted(
            &args.work.work_dir,
            &Submitted {
                id: id.clone(),
                name: name.clone(),
                at_unix_ms,
            },
        )?;
        println!("{id}  {name}");
        ids.push((id, name.clone()));
    }
    if !args.wait {
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = false;
    for (id, name) in ids {
        let job = loop {
            let job = client.job(&id).await?;
            if let Some(result) = job.result {
                break result;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        println!("{id}  {name}  {}", job.as_str());
        failed |= job.as_str() != "passed";
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn append_submitted(work_dir: &Path, job: &Submitted) -> Result<()> {
    use std::io::Write as _;
    let path = work_dir.join(SUBMITTED_FILE);
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // One write per line: `up` reads the file while others append.
    file.write_all(format!("{}\n", serde_json::to_string(job)?).as_bytes())?;
    Ok(())
}

fn status(args: StatusArgs) -> Result<ExitCode> {
    let up = FleetFile::read(&args.work.work_dir)
        .ok()
        .filter(|f| alive(f.pid));
    let path = args.work.work_dir.join(STATUS_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no fleet has run in {} ({} is missing): start one with `local-fleet up`",
            args.work.work_dir.display(),
            path.display()
        )
    })?;
    if args.json {
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let record: FleetRecord = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a fleet record", path.display()))?;
    match &up {
        Some(f) => println!(
            "fleet up (pid {}): hub {}, emulator {}, stack {}, group {}",
            f.pid, f.hub_url, f.aws_endpoint, f.stack, f.group
        ),
        None => println!("fleet down; its last record:"),
    }
    print!("{}", render(&record));
    Ok(ExitCode::SUCCESS)
}

fn down(args: WorkDir) -> Result<ExitCode> {
    let fleet = FleetFile::read(&args.work_dir)?;
    if alive(fleet.pid) {
        // The fleet's own shutdown stops every instance, the hub and the emulator.
        stop_pid(fleet.pid, Duration::from_secs(60));
    }
    // Whatever is left when the fleet's process could not stop it (it was killed): the hub
    // and the emulator by PID, and every process of an instance (agents, boot programs and
    // hooks started from its directory, jobs running in its home).
    for pid in [fleet.hub_pid, fleet.moto_pid] {
        if alive(pid) {
            stop_pid(pid, Duration::from_secs(5));
        }
    }
    for process in processes_in(&args.work_dir.join("instances")) {
        eprintln!(
            "stopping {} (pid {}), left by the fleet",
            process.cmdline, process.pid
        );
        stop_pid(process.pid, Duration::from_secs(2));
    }
    let _ = std::fs::remove_file(args.work_dir.join(FLEET_FILE));
    println!("fleet down");
    Ok(ExitCode::SUCCESS)
}
