//! `agent-instance`: boot, health check and shutdown hook of a Semaphore agent instance.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use agent_instance::boot::{Identity, Progress, boot, give_up};
use agent_instance::instance::Retry;
use agent_instance::layout::Layout;
use agent_instance::shutdown::{health_check, shutdown_hook};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    layout: LayoutArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Configure and start the agent (user data runs this once, as root)
    Boot {
        /// The stack's agent parameter, `<stack>-config`
        config_parameter: String,
        /// Attempts at each SSM read
        #[arg(long, default_value_t = Retry::default().attempts)]
        attempts: u32,
        /// Shortest and longest pause between attempts, in milliseconds
        #[arg(long, value_name = "MIN-MAX", default_value_t = default_pause())]
        pause_ms: String,
    },
    /// Power off when the agent is gone (run every minute)
    HealthCheck,
    /// The agent's shutdown hook: terminate this instance through its group
    ShutdownHook {
        /// Why the agent stopped (the agent sets it)
        #[arg(
            long,
            env = "SEMAPHORE_AGENT_SHUTDOWN_REASON",
            default_value = "UNKNOWN"
        )]
        reason: String,
    },
}

/// Where things are (defaults: this repository's images).
#[derive(Args)]
struct LayoutArgs {
    /// The agent's directory
    #[arg(long, global = true)]
    agent_dir: Option<PathBuf>,
    /// The user that runs the agent
    #[arg(long, global = true)]
    user: Option<String>,
    /// That user's home
    #[arg(long, global = true)]
    home: Option<PathBuf>,
    /// A command that starts the agent or its health check (repeat for several)
    #[arg(long = "start-command", global = true, value_name = "COMMAND")]
    start: Vec<String>,
    /// The command that powers the machine off
    #[arg(long = "poweroff-command", global = true, value_name = "COMMAND")]
    poweroff: Option<String>,
    /// Text in the running agent's command line
    #[arg(long, global = true)]
    agent_pattern: Option<String>,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

impl LayoutArgs {
    fn layout(self) -> Layout {
        let mut layout = Layout::image_default();
        if let Some(dir) = self.agent_dir {
            layout.agent_pattern = format!("{}/agent start", dir.display());
            layout.agent_dir = dir;
        }
        if let Some(user) = self.user {
            layout.user = user;
        }
        if let Some(home) = self.home {
            layout.home = home;
        }
        if !self.start.is_empty() {
            layout.start = self.start.iter().map(|c| words(c)).collect();
        }
        if let Some(poweroff) = self.poweroff {
            layout.poweroff = words(&poweroff);
        }
        if let Some(pattern) = self.agent_pattern {
            layout.agent_pattern = pattern;
        }
        layout
    }
}

/// [`Retry::default`]'s pauses as `MIN-MAX` milliseconds.
fn default_pause() -> String {
    let retry = Retry::default();
    format!(
        "{}-{}",
        retry.min_pause.as_millis(),
        retry.max_pause.as_millis()
    )
}

fn retry(attempts: u32, pause_ms: &str) -> Result<Retry, String> {
    let (min, max) = pause_ms
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .filter(|(min, max): &(u64, u64)| min <= max)
        .ok_or_else(|| format!("--pause-ms: `{pause_ms}` is not MIN-MAX milliseconds"))?;
    Ok(Retry {
        attempts: attempts.max(1),
        min_pause: Duration::from_millis(min),
        max_pause: Duration::from_millis(max),
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let layout = cli.layout.layout();
    let progress = Progress::start();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Boot {
            config_parameter,
            attempts,
            pause_ms,
        } => runtime.block_on(async {
            let mut identity = Identity::default();
            let result = match retry(attempts, &pause_ms) {
                Ok(retry) => {
                    boot(&config_parameter, &layout, retry, &progress, &mut identity).await
                }
                Err(e) => Err(anyhow::anyhow!(e)),
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    progress.say(&format!("Boot failed: {e:#}"));
                    give_up(&identity, &layout, &progress).await;
                    ExitCode::FAILURE
                }
            }
        }),
        Command::HealthCheck => match health_check(&layout, &progress) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                progress.say(&format!("Health check failed: {e:#}"));
                ExitCode::FAILURE
            }
        },
        Command::ShutdownHook { reason } => {
            match runtime.block_on(shutdown_hook(&reason, &layout, &progress)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            }
        }
    }
}
