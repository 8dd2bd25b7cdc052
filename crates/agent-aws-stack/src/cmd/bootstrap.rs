//! `bootstrap`: prepares an account and region (the Lambda code bucket and, with policies,
//! the role CloudFormation acts as), as [`stack_deploy::bootstrap::plan`] decides; or prints
//! the bootstrap template with `--show-template`.

use anyhow::{Context as _, Result, bail};
use clap::Args;
use stack_deploy::aws::{AwsStacks, AwsStorage};
use stack_deploy::bootstrap::{self, BootstrapPlan};
use stack_deploy::{Approval, DeployOutcome, DeployRequest, Engine, Timing};

use super::ui::TermUi;
use crate::target::{Target, TargetArgs};

/// Options of `bootstrap`.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The account and region, as `aws://ACCOUNT/REGION` (else from the credentials and the
    /// AWS configuration).
    environment: Option<String>,

    /// Managed policy ARNs for the role CloudFormation acts as (comma-separated). Without
    /// them there is no such role and deploys act with your own credentials.
    #[arg(long, value_delimiter = ',', value_name = "ARN,...")]
    cloudformation_execution_policies: Vec<String>,

    /// Print the bootstrap template (JSON) for `aws://ACCOUNT/REGION` and exit, without
    /// calling AWS: to review it, or to deploy it with your own tooling.
    #[arg(long, requires = "environment")]
    show_template: bool,
}

/// Parses `aws://ACCOUNT/REGION`.
fn parse_environment(text: &str) -> Result<Target> {
    let rest = text
        .strip_prefix("aws://")
        .with_context(|| format!("`{text}` is not an environment: write aws://ACCOUNT/REGION"))?;
    let Some((account, region)) = rest.split_once('/') else {
        bail!("`{text}` is not an environment: write aws://ACCOUNT/REGION");
    };
    Target::given(account.to_owned(), region.to_owned())
}

/// Runs `bootstrap`.
pub fn run(args: BootstrapArgs) -> Result<()> {
    let target = args
        .environment
        .as_deref()
        .map(parse_environment)
        .transpose()?;
    for arn in &args.cloudformation_execution_policies {
        if !arn.starts_with("arn:") || !arn.contains(":policy/") {
            bail!(
                "--cloudformation-execution-policies: `{arn}` is not a managed policy ARN (arn:aws:iam::ACCOUNT:policy/NAME)"
            );
        }
    }
    if args.show_template {
        let Some((account, target)) = target.as_ref().and_then(|t| Some((t.known_account()?, t)))
        else {
            bail!("--show-template needs aws://ACCOUNT/REGION");
        };
        let template = bootstrap::template(
            account,
            target.region(),
            &args.cloudformation_execution_policies,
        );
        print!("{}", stack_template::model::to_pretty_json(&template));
        return Ok(());
    }
    super::runtime()?.block_on(async {
        // aws://ACCOUNT/REGION, else the same account and region `deploy` would use; the
        // credentials must belong to that account.
        let mut target = match target {
            Some(target) => target,
            None => Target::resolve(&TargetArgs::default(), false).await?,
        };
        let account = target.verified_account().await?;
        let region = target.region().to_owned();
        let sdk = target.sdk().await;
        let stacks = AwsStacks::new(&sdk);
        let storage = AwsStorage::new(&sdk);
        let given = &args.cloudformation_execution_policies;

        let survey = bootstrap::survey(&stacks, &storage, &account, &region, given).await?;
        let policies = match bootstrap::plan(&survey, given)? {
            BootstrapPlan::ReuseCdk {
                version,
                bucket,
                execution_role,
                policies_ignored,
            } => {
                let role = match execution_role.as_deref() {
                    Some(role) => format!("execution role {role}"),
                    None => "no execution role".to_owned(),
                };
                println!(
                    "✅ {account}/{region}: already bootstrapped by CDK (version {version}); deploy reuses bucket {bucket} and {role}"
                );
                if policies_ignored {
                    eprintln!(
                        "warning: the CDK execution role keeps its own policies; change them with `cdk bootstrap --cloudformation-execution-policies …`"
                    );
                }
                return Ok(());
            }
            BootstrapPlan::Deploy {
                policies,
                kept_policies,
            } => {
                if kept_policies {
                    eprintln!(
                        "==> Keeping the execution role's policies: {}",
                        policies.join(", ")
                    );
                }
                if policies.is_empty() {
                    eprintln!(
                        "warning: no --cloudformation-execution-policies: there will be no execution role and CloudFormation will act with the credentials of whoever deploys. Create a policy from execution-policy.json and pass its ARN to limit what a deploy can do"
                    );
                }
                policies
            }
        };
        let request = DeployRequest {
            stack_name: bootstrap::BOOTSTRAP_STACK.to_owned(),
            template: bootstrap::template(&account, &region, &policies),
            role_arn: None,
            tags: Vec::new(),
            approval: Approval::Never,
            force: false,
        };
        let mut ui = TermUi::new();
        let outcome = Engine::new(&stacks, &mut ui, Timing::default())
            .deploy(&request)
            .await;
        match outcome {
            Ok(DeployOutcome::NoChanges { .. }) => {
                println!("✅ {account}/{region}: already bootstrapped; nothing changed");
            }
            Ok(DeployOutcome::Done { .. }) => {
                let role = if policies.is_empty() {
                    "no execution role".to_owned()
                } else {
                    format!(
                        "execution role {} with {}",
                        bootstrap::execution_role_name(&account, &region),
                        policies.join(", ")
                    )
                };
                println!(
                    "✅ {account}/{region}: bootstrapped: bucket {}, {role}",
                    survey.bucket
                );
            }
            Err(e) => {
                println!("❌ {account}/{region}: bootstrap failed");
                return Err(e.into());
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::parse_environment;

    #[test]
    fn environments() {
        let target = parse_environment("aws://123456789012/eu-west-1").expect("valid");
        assert_eq!(target.known_account(), Some("123456789012"));
        assert_eq!(target.region(), "eu-west-1");
        assert!(parse_environment("123456789012/eu-west-1").is_err());
        assert!(parse_environment("aws://12345/eu-west-1").is_err());
    }
}
