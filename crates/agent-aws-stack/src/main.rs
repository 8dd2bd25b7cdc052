//! `agent-aws-stack`: deploys an auto-scaling fleet of Semaphore CI agents on AWS.
//! This file parses arguments, runs the command and turns the outcome into an exit status.

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Deploy an auto-scaling fleet of Semaphore agents on AWS.
///
/// Configuration comes from the JSON file named by --config or SEMAPHORE_AGENT_STACK_CONFIG,
/// overridden by SEMAPHORE_* environment variables.
#[derive(Debug, Parser)]
#[command(
    name = "agent-aws-stack",
    version,
    after_help = "Exit status: 0 success, 1 the operation failed (invalid configuration, missing lookups, AWS errors), 2 usage error."
)]
struct Cli {
    /// Print more details to stderr (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// JSON configuration file (wins over SEMAPHORE_AGENT_STACK_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the stack's CloudFormation template (JSON) for the configuration.
    Synth(cmd::synth::SynthArgs),
    /// Print the resolved configuration: every parameter, its value and where it came from.
    Config(cmd::config::ConfigArgs),
    /// Run one scaler tick here, with the scaler Lambda's environment variables and code.
    ///
    /// Reads SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME, SEMAPHORE_AGENT_STACK_NAME,
    /// SEMAPHORE_ENDPOINT (may carry a scheme, e.g. http://127.0.0.1:9000),
    /// SEMAPHORE_AGENT_OVERPROVISION_STRATEGY/_FACTOR and optionally SEMAPHORE_AGENT_ASG_NAME
    /// (else the group is found by its aws:cloudformation:stack-name tag).
    ScaleOnce(cmd::scale_once::ScaleOnceArgs),
    /// Build the three Lambda zips (Linux arm64 `bootstrap`) with cargo-lambda.
    Package(cmd::package::PackageArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Synth(args) => cmd::synth::run(cli.config.as_deref(), args),
        Command::Config(args) => cmd::config::run(cli.config.as_deref(), args),
        Command::ScaleOnce(args) => cmd::scale_once::run(args),
        Command::Package(args) => cmd::package::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "agent_aws_stack=debug,stack_lookups=debug,info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGENT_AWS_STACK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
