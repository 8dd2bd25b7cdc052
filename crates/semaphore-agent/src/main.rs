//! The `semaphore-agent` binary: parses the command line and hands over to the library.
//! `start` runs listener mode; `version` prints the version.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use semaphore_agent::listener::{self, config_file::StartArgs};

/// The Semaphore self-hosted agent.
#[derive(Debug, Parser)]
#[command(name = "semaphore-agent", version = listener::AGENT_VERSION)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of `StartArgs` does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Register with the hub and run the jobs it assigns (listener mode).
    Start(StartArgs),
    /// Print the version.
    Version,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Start(args) => listener::start::main(args),
        Command::Version => {
            println!("{}", listener::AGENT_VERSION);
            ExitCode::SUCCESS
        }
    }
}
