//! `semaphore-hub`: a local Semaphore-compatible hub (`serve`) and the commands that use its
//! job API (agent types, jobs, logs, agents).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use agent_protocol::{JobResult, Secret};
use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use semaphore_hub::client::{Client, read_api_token};
use semaphore_hub::jobspec::parse_job_file;
use semaphore_hub::records::{JobState, SubmitJob};
use semaphore_hub::{Hub, HubSettings, render, token};

/// A local Semaphore-compatible hub: the self-hosted agent API, the loghub, the metrics the
/// scaler reads, and a small job API.
#[derive(Debug, Parser)]
#[command(name = "semaphore-hub", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the hub until interrupted.
    Serve(ServeArgs),
    /// Agent types (pools of agents sharing a registration token).
    #[command(subcommand, name = "agent-type")]
    AgentType(AgentTypeCommand),
    /// Every agent type.
    AgentTypes(ListArgs),
    /// One job: submit, wait, log, show, stop.
    #[command(subcommand)]
    Job(JobCommand),
    /// Every job, oldest first.
    Jobs(ListArgs),
    /// Every agent, active ones first.
    Agents(ListArgs),
    /// One agent.
    #[command(subcommand)]
    Agent(AgentCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8800")]
    listen: SocketAddr,
    /// SQLite database holding the hub's state (created when missing).
    #[arg(long, default_value = "hub.db")]
    db: PathBuf,
    /// File holding the job API's token: read when it exists, otherwise created with a new
    /// random token (mode 0600). Default: the database's path with `.api-token` appended.
    #[arg(long)]
    api_token_file: Option<PathBuf>,
    /// Base URL agents reach this hub at (job loggers point under it). Default:
    /// `http://<listen address>`.
    #[arg(long)]
    public_url: Option<String>,
    /// `next_sync_after` sent to agents, milliseconds.
    #[arg(long, default_value_t = 1000)]
    next_sync_after_ms: i64,
    /// Seconds without a sync after which an agent is declared lost.
    #[arg(long, default_value_t = 60)]
    agent_lost_after: i64,
    /// Size limit of one job's log, bytes (beyond it the loghub answers 422).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    log_limit_bytes: u64,
    /// Lifetime of a loghub token, seconds.
    #[arg(long, default_value_t = 3600)]
    log_token_ttl: i64,
    /// Execution time limit of jobs submitted without one, seconds (0: none).
    #[arg(long, default_value_t = 3600)]
    default_time_limit: u64,
    /// How often lost agents and time limits are checked, milliseconds.
    #[arg(long, default_value_t = 500)]
    sweep_every_ms: u64,
}

/// Where the hub is and how to authenticate to its job API.
#[derive(Debug, Args)]
struct HubArgs {
    /// The hub's URL.
    #[arg(
        long,
        env = "SEMAPHORE_HUB_URL",
        default_value = "http://127.0.0.1:8800"
    )]
    hub: String,
    /// File with the job API token (`serve` writes it beside its database).
    #[arg(
        long,
        env = "SEMAPHORE_HUB_API_TOKEN_FILE",
        default_value = "hub.db.api-token"
    )]
    api_token_file: PathBuf,
}

impl HubArgs {
    fn client(&self) -> Result<Client> {
        let token = match std::env::var("SEMAPHORE_HUB_API_TOKEN") {
            Ok(value) if !value.is_empty() => Secret::new(value),
            _ => read_api_token(&self.api_token_file).with_context(|| {
                format!(
                    "cannot read the API token from {} (--api-token-file, or SEMAPHORE_HUB_API_TOKEN)",
                    self.api_token_file.display()
                )
            })?,
        };
        Client::new(&self.hub, token)
    }
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    hub: HubArgs,
}

#[derive(Debug, Subcommand)]
enum AgentTypeCommand {
    /// Create an agent type and print its registration token (shown only this once).
    Create {
        /// Its name: letters, digits, '-', '_' or '.'.
        name: String,
        /// Print JSON (`name`, `registration_token`) instead of the token alone.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Give an agent type a new registration token and print it; the old one stops working
    /// (agents already registered carry on).
    RotateToken {
        /// The agent type.
        name: String,
        /// Print JSON (`name`, `registration_token`) instead of the token alone.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        hub: HubArgs,
    },
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Queue a job from FILE (a job request as JSON, or the short YAML form); prints its id.
    Submit {
        /// The agent type that runs it.
        #[arg(long)]
        agent_type: String,
        /// Execution time limit, seconds (overrides the file's).
        #[arg(long)]
        time_limit: Option<u64>,
        /// The job file.
        file: PathBuf,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Wait for a job to finish; exit 0 when it passed, 1 when it failed, 2 when stopped.
    Wait {
        /// The job's id.
        id: String,
        /// Give up after this many seconds (exit 3).
        #[arg(long)]
        timeout: Option<u64>,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Print a job's log (plain text; `--events` for the raw event lines).
    Log {
        /// The job's id.
        id: String,
        /// Print the events as JSON lines.
        #[arg(long)]
        events: bool,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Show one job as JSON.
    Show {
        /// The job's id.
        id: String,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Stop a job (a queued one at once; a running one at its agent's next sync).
    Stop {
        /// The job's id.
        id: String,
        #[command(flatten)]
        hub: HubArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Ask an agent to disconnect (after stopping its job, if it runs one).
    Disconnect {
        /// The agent's name.
        name: String,
        #[command(flatten)]
        hub: HubArgs,
    },
}

fn main() -> ExitCode {
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
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::AgentType(AgentTypeCommand::Create { name, json, hub }) => {
            let created = hub.client()?.create_agent_type(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                println!("{}", created.registration_token.expose());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::AgentType(AgentTypeCommand::RotateToken { name, json, hub }) => {
            let rotated = hub.client()?.rotate_token(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rotated)?);
            } else {
                println!("{}", rotated.registration_token.expose());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::AgentTypes(list) => {
            let types = list.hub.client()?.agent_types().await?;
            if list.json {
                println!("{}", serde_json::to_string_pretty(&types)?);
            } else {
                let rows: Vec<Vec<String>> = types
                    .iter()
                    .map(|t| vec![t.name.clone(), render::utc(t.created_at)])
                    .collect();
                print!("{}", render::table(&["NAME", "CREATED"], &rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Job(job) => job_command(job).await,
        Command::Jobs(list) => {
            let jobs = list.hub.client()?.jobs().await?;
            if list.json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else {
                print!("{}", render::jobs_table(&jobs));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Agents(list) => {
            let agents = list.hub.client()?.agents().await?;
            if list.json {
                println!("{}", serde_json::to_string_pretty(&agents)?);
            } else {
                print!("{}", render::agents_table(&agents));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Agent(AgentCommand::Disconnect { name, hub }) => {
            hub.client()?.disconnect_agent(&name).await?;
            eprintln!("agent {name} will disconnect at its next sync");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn job_command(command: JobCommand) -> Result<ExitCode> {
    match command {
        JobCommand::Submit {
            agent_type,
            time_limit,
            file,
            hub,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read the job file {}", file.display()))?;
            let spec =
                parse_job_file(&text, &file.display().to_string()).map_err(anyhow::Error::msg)?;
            let id = hub
                .client()?
                .submit(&SubmitJob {
                    agent_type,
                    request: spec.request,
                    time_limit_secs: time_limit.or(spec.time_limit_secs),
                })
                .await?;
            println!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Wait { id, timeout, hub } => {
            let client = hub.client()?;
            let deadline = timeout.map(|t| tokio::time::Instant::now() + Duration::from_secs(t));
            loop {
                let job = client.job(&id).await?;
                if job.state == JobState::Finished {
                    let result = job.result.unwrap_or(JobResult::Failed);
                    match &job.reason {
                        Some(reason) => eprintln!("job {id} {}: {reason}", result.as_str()),
                        None => eprintln!("job {id} {}", result.as_str()),
                    }
                    return Ok(ExitCode::from(match result {
                        JobResult::Passed => 0,
                        JobResult::Failed => 1,
                        JobResult::Stopped => 2,
                    }));
                }
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    eprintln!("job {id} is still {:?} after the timeout", job.state);
                    return Ok(ExitCode::from(3));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        JobCommand::Log { id, events, hub } => {
            let log = hub.client()?.job_log(&id).await?;
            let mut out = std::io::stdout().lock();
            if events {
                out.write_all(log.as_bytes())?;
            } else {
                out.write_all(render::plain_log(&log).as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Show { id, hub } => {
            let job = hub.client()?.job(&id).await?;
            println!("{}", serde_json::to_string_pretty(&job)?);
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Stop { id, hub } => {
            let job = hub.client()?.stop_job(&id).await?;
            eprintln!("job {id}: {:?}", job.state);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(args: ServeArgs) -> Result<ExitCode> {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(tracing::Level::INFO)
        .init();
    let token_file = args.api_token_file.clone().unwrap_or_else(|| {
        let mut name = args.db.clone().into_os_string();
        name.push(".api-token");
        PathBuf::from(name)
    });
    let api_token = api_token(&token_file)?;
    let mut settings = HubSettings::new(args.public_url.clone().unwrap_or_default());
    settings.next_sync_after_ms = args.next_sync_after_ms;
    settings.agent_lost_after_secs = args.agent_lost_after;
    settings.log_limit_bytes = args.log_limit_bytes;
    settings.log_token_ttl_secs = args.log_token_ttl;
    settings.default_time_limit_secs =
        (args.default_time_limit > 0).then_some(args.default_time_limit);
    settings.sweep_every_ms = args.sweep_every_ms;
    let handle = Hub::start(args.listen, &args.db, settings, &api_token).await?;
    eprintln!(
        "semaphore-hub listening on {} (state in {}, API token in {})",
        handle.url,
        args.db.display(),
        token_file.display()
    );
    let interrupted = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    };
    interrupted.await.context("cannot wait for signals")?;
    eprintln!("semaphore-hub stopping");
    handle.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// The API token from `path`, or a new one written there (mode 0600) when it does not exist.
fn api_token(path: &Path) -> Result<Secret> {
    if path.exists() {
        return read_api_token(path);
    }
    let secret = token::new_token();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create the API token file {}", path.display()))?;
    file.write_all(secret.expose().as_bytes())?;
    Ok(secret)
}
