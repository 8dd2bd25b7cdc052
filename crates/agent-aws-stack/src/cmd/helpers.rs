//! The user guide's helper steps as commands: store the agent token, print the execution
//! policy, and delete agent images no stack can use any more.

use std::collections::BTreeSet;
use std::io::{IsTerminal as _, Read as _};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use aws_sdk_ec2::types::Filter;
use clap::{Args, Subcommand};
use lambda_support::AwsFailure;
use stack_deploy::Ui as _;
use stack_template::assets::VERSION;

use super::ui::TermUi;

/// `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Replace the token if the parameter exists (rotation).
    #[arg(long)]
    overwrite: bool,
    /// AWS region (else AWS_REGION or the profile's).
    #[arg(long)]
    region: Option<String>,
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
pub fn token(config_flag: Option<&Path>, args: TokenArgs) -> Result<()> {
    let raw = super::load_raw(config_flag)?;
    let config = super::validate(&raw)?;
    let token = read_token()?;
    let name = config.token_parameter_name.clone();
    super::runtime()?.block_on(async {
        let sdk = stack_lookups::aws_config(args.region.clone()).await;
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

/// `execution-policy`.
#[derive(Debug, Args)]
pub struct ExecutionPolicyArgs {
    /// The ARN partition (`aws`, `aws-cn`, `aws-us-gov`).
    #[arg(long, default_value = "aws")]
    partition: String,
}

/// Prints the IAM policy CloudFormation needs for this stack (for
/// `bootstrap --cloudformation-execution-policies`).
pub fn execution_policy(config_flag: Option<&Path>, args: ExecutionPolicyArgs) -> Result<()> {
    let raw = super::load_raw(config_flag)?;
    let config = super::validate(&raw)?;
    let document = stack_deploy::execution_policy::document(&config.stack_name, &args.partition);
    print!("{}", stack_template::model::to_pretty_json(&document));
    Ok(())
}

/// `images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    #[command(subcommand)]
    command: ImagesCommand,
}

#[derive(Debug, Subcommand)]
enum ImagesCommand {
    /// Delete this account's agent images (and their snapshots) of other versions than this
    /// one, keeping any image a launch template still uses.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
struct PruneArgs {
    /// Only list what would be deleted.
    #[arg(long)]
    dry_run: bool,
    /// Delete without asking.
    #[arg(long)]
    yes: bool,
    /// Keep images of this version too (repeatable), e.g. v0.10.0.
    #[arg(long, value_name = "VERSION")]
    keep_version: Vec<String>,
    /// AWS region (else AWS_REGION or the profile's).
    #[arg(long)]
    region: Option<String>,
}

/// An agent image and what becomes of it.
#[derive(Debug)]
struct Image {
    id: String,
    name: String,
    snapshots: Vec<String>,
    keep: Option<&'static str>,
}

/// Every image id any version of any launch template in the region refers to.
async fn images_in_launch_templates(ec2: &aws_sdk_ec2::Client) -> Result<BTreeSet<String>> {
    let mut used = BTreeSet::new();
    let mut templates = ec2.describe_launch_templates().into_paginator().send();
    while let Some(page) = templates.next().await {
        let page = page.map_err(|e| AwsFailure::new("DescribeLaunchTemplates", &e))?;
        for template in page.launch_templates() {
            let Some(id) = template.launch_template_id() else {
                continue;
            };
            let mut versions = ec2
                .describe_launch_template_versions()
                .launch_template_id(id)
                .into_paginator()
                .send();
            while let Some(page) = versions.next().await {
                let page =
                    page.map_err(|e| AwsFailure::new("DescribeLaunchTemplateVersions", &e))?;
                used.extend(
                    page.launch_template_versions()
                        .iter()
                        .filter_map(|v| v.launch_template_data()?.image_id())
                        .map(str::to_owned),
                );
            }
        }
    }
    Ok(used)
}

async fn plan(ec2: &aws_sdk_ec2::Client, keep_versions: &[String]) -> Result<Vec<Image>> {
    let used = images_in_launch_templates(ec2).await?;
    let out = ec2
        .describe_images()
        .owners("self")
        .filters(
            Filter::builder()
                .name("name")
                .values("semaphore-agent-*")
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsFailure::new("DescribeImages", &e))?;
    let current = format!("semaphore-agent-v{VERSION}-");
    let kept: Vec<String> = keep_versions
        .iter()
        .map(|v| format!("semaphore-agent-v{}-", v.trim_start_matches('v')))
        .collect();
    let mut images: Vec<Image> = out
        .images()
        .iter()
        .map(|image| {
            let id = image.image_id().unwrap_or_default().to_owned();
            let name = image.name().unwrap_or_default().to_owned();
            let keep = if used.contains(&id) {
                Some("a launch template uses it")
            } else if name.starts_with(&current) {
                Some("this version's image")
            } else if kept.iter().any(|k| name.starts_with(k.as_str())) {
                Some("--keep-version")
            } else {
                None
            };
            Image {
                snapshots: image
                    .block_device_mappings()
                    .iter()
                    .filter_map(|m| m.ebs()?.snapshot_id())
                    .map(str::to_owned)
                    .collect(),
                id,
                name,
                keep,
            }
        })
        .collect();
    images.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(images)
}

/// Runs `images …`.
pub fn images(args: ImagesArgs) -> Result<()> {
    let ImagesCommand::Prune(args) = args.command;
    super::runtime()?.block_on(async {
        let sdk = stack_lookups::aws_config(args.region.clone()).await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let images = plan(&ec2, &args.keep_version).await?;
        let doomed: Vec<&Image> = images.iter().filter(|i| i.keep.is_none()).collect();
        for image in &images {
            match image.keep {
                Some(why) => println!("keep   {} {} ({why})", image.id, image.name),
                None => println!(
                    "delete {} {} and {} snapshot(s)",
                    image.id,
                    image.name,
                    image.snapshots.len()
                ),
            }
        }
        if doomed.is_empty() {
            println!("✅ nothing to delete");
            return Ok(());
        }
        if args.dry_run {
            println!("dry run: {} image(s) would be deleted", doomed.len());
            return Ok(());
        }
        if !args.yes {
            let question = format!("Delete {} image(s) and their snapshots?", doomed.len());
            match TermUi::new().confirm(&question) {
                Ok(true) => {}
                Ok(false) => bail!("not deleted"),
                Err(why) => bail!(
                    "deleting {} image(s) needs approval but {why}: run again with --yes (or --dry-run to list only)",
                    doomed.len()
                ),
            }
        }
        for image in doomed {
            ec2.deregister_image()
                .image_id(&image.id)
                .send()
                .await
                .map_err(|e| AwsFailure::new("DeregisterImage", &e))?;
            for snapshot in &image.snapshots {
                ec2.delete_snapshot()
                    .snapshot_id(snapshot)
                    .send()
                    .await
                    .map_err(|e| AwsFailure::new("DeleteSnapshot", &e))?;
            }
            println!("deleted {} {}", image.id, image.name);
        }
        println!("✅ images pruned");
        Ok(())
    })
}
