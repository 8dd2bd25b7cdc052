//! `token`: stores the agent registration token as an encrypted SSM parameter, read from
//! stdin or a hidden prompt and never printed.

use std::io::{IsTerminal as _, Read as _};

use crate::target::RegionArgs;
use anyhow::{Context as _, Result, bail};
use aws_support::AwsFailure;
use clap::Args;

/// `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    config: super::ConfigArg,

    /// Replace the token if the parameter exists (rotation).
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    region: RegionArgs,
}

/// Reads the token from stdin: hidden at a terminal prompt, else the whole input.
fn read_token() -> Result<String> {
    let token = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Agent registration token (input hidden): ")
            .context("cannot read the token from the terminal")?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the token from stdin")?;
        text
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!(
            "no token given: pipe it in (`agent-aws-stack token < token.txt`) or type it at the prompt"
        );
    }
    if token.contains(char::is_whitespace) {
        bail!("the token contains whitespace: give exactly the registration token Semaphore shows");
    }
    Ok(token)
}

/// Stores the agent token as the SecureString parameter SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME,
/// encrypted with SEMAPHORE_AGENT_TOKEN_KMS_KEY (else AWS's `alias/aws/ssm`).
pub fn run(args: TokenArgs) -> Result<()> {
    let raw = super::load_raw(&args.config)?;
    let config = super::validate(&raw)?;
    let token = read_token()?;
    let name = config.token_parameter_name.clone();
    super::runtime()?.block_on(async {
        let sdk = args.region.resolve().await?.sdk().await;
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let mut request = ssm
            .put_parameter()
            .name(&name)
            .value(token)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .description("Semaphore agent registration token (agent-aws-stack)")
            .overwrite(args.overwrite);
        let key = if config.token_kms_key.is_empty() {
            "alias/aws/ssm".to_owned()
        } else {
            request = request.key_id(&config.token_kms_key);
            config.token_kms_key.clone()
        };
        match request.send().await {
            Ok(out) => {
                println!(
                    "✅ stored the agent token in SSM parameter {name} (SecureString, key {key}), version {}",
                    out.version()
                );
                Ok(())
            }
            Err(err) => {
                let failure = AwsFailure::new("PutParameter", &err);
                if failure.is_code("ParameterAlreadyExists") {
                    bail!("SSM parameter {name} already exists: pass --overwrite to replace the token (running agents keep the old one until they restart)");
                }
                Err(failure.into())
            }
        }
    })
}
