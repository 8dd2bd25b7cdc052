//! `agent-aws-stack`: deploys an auto-scaling fleet of Semaphore CI agents on AWS.
//! This file parses arguments, runs the command and turns the outcome into an exit status.

mod cmd;
mod target;

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
    /// Prepare an account and region: the Lambda code bucket and, with policies, the role
    /// CloudFormation acts as. Reuses an existing CDK bootstrap. Running it again changes
    /// nothing.
    Bootstrap(cmd::bootstrap::BootstrapArgs),
    /// Synthesize, upload the Lambda code, and create or update the stack through a change
    /// set, following its events live.
    Deploy(cmd::deploy::DeployArgs),
    /// Compare the deployed stack with the synthesized template, resource by resource.
    ///
    /// Exit status: 0 no differences, 1 differences, 2 error (as diff(1)).
    Diff(cmd::diff::DiffArgs),
    /// Delete the stack (asks first unless --force) and wait for it to go.
    Destroy(cmd::destroy::DestroyArgs),
    /// Store the agent registration token (from stdin or a hidden prompt) as the encrypted
    /// SSM parameter SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME.
    Token(cmd::token::TokenArgs),
    /// Print the IAM policy CloudFormation needs for this stack, to create the execution
    /// role's managed policy from (`aws iam create-policy --policy-document file://...`).
    ExecutionPolicy(cmd::execution_policy::ExecutionPolicyArgs),
    /// Manage this account's agent images.
    Images(cmd::images::ImagesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Synth(args) => cmd::synth::run(args),
        Command::Config(args) => cmd::config::run(args),
        Command::ScaleOnce(args) => cmd::scale_once::run(args),
        Command::Package(args) => cmd::package::run(args),
        Command::Bootstrap(args) => cmd::bootstrap::run(args),
        Command::Deploy(args) => cmd::deploy::run(args),
        Command::Destroy(args) => cmd::destroy::run(args),
        Command::Token(args) => cmd::token::run(args),
        Command::ExecutionPolicy(args) => cmd::execution_policy::run(args),
        Command::Images(args) => cmd::images::run(args),
        Command::Diff(args) => {
            return match cmd::diff::run(args) {
                Ok(false) => ExitCode::SUCCESS,
                Ok(true) => ExitCode::from(1),
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::from(2)
                }
            };
        }
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
