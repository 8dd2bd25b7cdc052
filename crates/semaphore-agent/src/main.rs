//! The `semaphore-agent` binary: parses the command line and maps outcomes to exit codes.
//! `start` runs listener mode, `run FILE` one job here, `version` prints the version.
//! Everything else is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use semaphore_agent::listener::config_file::StartArgs;

/// The Semaphore self-hosted agent.
#[derive(Debug, Parser)]
#[command(name = "semaphore-agent", version = semaphore_agent::VERSION)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

// Parsed once per process: the size of `StartArgs` does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Cmd {
    /// Register with the hub and run the jobs it assigns (listener mode).
    Start(StartArgs),
    /// Print the version.
    Version,
    /// Run one job request here with the shell executor and print its events.
    ///
    /// FILE holds the JSON body of the hub's `GET /jobs/{id}`. Each event is printed on
    /// stdout as one JSON line, as the agent streams it. SIGINT or SIGTERM stops the job.
    ///
    /// Exit codes: 0 the job passed; 1 it failed or was stopped (or cannot run here, e.g.
    /// another executor); 2 usage error, or FILE unreadable or not a job request.
    Run {
        /// The job request (JSON).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Start(args) = cli.command {
        // Listener mode sets up its own logging (stdout and the agent log file).
        return start(args);
    }
    tracing_init();
    match cli.command {
        Cmd::Start(_) => unreachable!("handled above"),
        Cmd::Version => {
            println!("{}", semaphore_agent::VERSION);
            ExitCode::SUCCESS
        }
        Cmd::Run { file } => run(&file),
    }
}

#[cfg(unix)]
fn start(args: StartArgs) -> ExitCode {
    use semaphore_agent::executor::shell::ShellConfig;
    use semaphore_agent::shell_runner::ShellRunner;

    let shell = match ShellConfig::from_host() {
        Ok(shell) => shell,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(1);
        }
    };
    semaphore_agent::listener::start::main_with(args, move |config| ShellRunner::new(shell, config))
}

#[cfg(not(unix))]
fn start(args: StartArgs) -> ExitCode {
    semaphore_agent::listener::start::main(args)
}

#[cfg(unix)]
fn run(file: &std::path::Path) -> ExitCode {
    use semaphore_agent::executor::StopSignal;
    use semaphore_agent::executor::shell::ShellConfig;
    use semaphore_agent::run::{run_file, stop_on_signals};

    let stop = StopSignal::new();
    if let Err(err) = stop_on_signals(stop.clone()) {
        eprintln!("error: cannot handle signals: {err}");
        return ExitCode::from(1);
    }
    let outcome = ShellConfig::from_host()
        .map_err(semaphore_agent::run::RunError::from)
        .and_then(|config| run_file(file, config, std::io::stdout().lock(), &stop));
    match outcome {
        Ok(agent_protocol::JobResult::Passed) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {}", error_chain(&err));
            ExitCode::from(if err.is_usage_error() { 2 } else { 1 })
        }
    }
}

#[cfg(not(unix))]
fn run(_file: &std::path::Path) -> ExitCode {
    eprintln!("error: the shell executor runs on Linux and macOS only");
    ExitCode::from(1)
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Agent logs go to stderr (stdout carries only the job's events); `RUST_LOG` names the level
/// (`error`, `warn`, `info`, `debug`, `trace`; default `warn`).
fn tracing_init() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::WARN);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .try_init();
}
