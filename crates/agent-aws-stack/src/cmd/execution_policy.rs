//! `execution-policy`: prints the IAM policy CloudFormation needs to deploy this stack.

use anyhow::Result;
use clap::Args;

/// `execution-policy`.
#[derive(Debug, Args)]
pub struct ExecutionPolicyArgs {
    #[command(flatten)]
    config: super::ConfigArg,

    /// The ARN partition (`aws`, `aws-cn`, `aws-us-gov`).
    #[arg(long, default_value = "aws")]
    partition: String,
}

/// Prints the IAM policy CloudFormation needs for this stack (for
/// `bootstrap --cloudformation-execution-policies`).
pub fn run(args: ExecutionPolicyArgs) -> Result<()> {
    let raw = super::load_raw(&args.config)?;
    let config = super::validate(&raw)?;
    let document = stack_deploy::execution_policy::document(&config.stack_name, &args.partition);
    print!("{}", stack_template::model::to_pretty_json(&document));
    Ok(())
}
