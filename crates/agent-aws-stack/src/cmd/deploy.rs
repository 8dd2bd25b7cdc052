//! `deploy`: synthesize, check the bootstrap, upload the Lambda code the bucket lacks, then
//! create or update the stack through the engine; the verdict (or `--json` report) on stdout.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use stack_deploy::aws::{AwsStacks, AwsStorage};
use stack_deploy::bootstrap::{self, Bootstrap, BootstrapKind};
use stack_deploy::{Approval, DeployReport, DeployRequest, Engine, Timing};
use stack_template::assets::LambdaAsset;

use super::synth::SynthSource;
use super::ui::TermUi;

/// `--require-approval` values (CDK's names).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RequireApproval {
    /// Never ask.
    Never,
    /// Ask for any change.
    AnyChange,
    /// Ask when IAM or security group permissions widen.
    Broadening,
}

/// `--progress` values, accepted for CDK compatibility.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProgressStyleArg {
    /// A live bar on a terminal (events scroll above it).
    Bar,
    /// One line per event, even on a terminal.
    Events,
}

/// Options of `deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    config: super::ConfigArg,

    #[command(flatten)]
    source: SynthSource,

    /// When to ask before changing the stack.
    #[arg(long, value_enum, default_value = "broadening")]
    require_approval: RequireApproval,

    /// Approve the change without asking (same as --require-approval never).
    #[arg(long, short = 'y')]
    yes: bool,

    /// Repair a failed stack without asking: delete a stack whose creation failed, continue a
    /// failed rollback.
    #[arg(long)]
    force: bool,

    /// Folder with the Lambda zips and manifest.json from `package`; used for zips the
    /// bucket lacks (built there with `package` when absent, in a source checkout).
    #[arg(long, value_name = "DIR", default_value = "dist/lambdas")]
    lambdas: PathBuf,

    /// Output style: `events` prints one line per event even on a terminal.
    #[arg(long, value_enum)]
    progress: Option<ProgressStyleArg>,

    #[command(flatten)]
    json: super::JsonArg,
}

/// Finds the bootstrap, or says how to make one.
async fn require_bootstrap(
    stacks: &AwsStacks,
    storage: &AwsStorage,
    account: &str,
    region: &str,
) -> Result<Bootstrap> {
    let found = bootstrap::find(stacks, storage, account, region).await?;
    let found = bootstrap::usable(found, account, region)?;
    match &found.kind {
        BootstrapKind::Cdk(version) => eprintln!(
            "==> Using the CDK bootstrap (version {version}): bucket {}",
            found.bucket
        ),
        BootstrapKind::Own => eprintln!("==> Using bucket {}", found.bucket),
    }
    match &found.execution_role {
        Some(role) => eprintln!("==> CloudFormation acts as {role}"),
        None => eprintln!(
            "warning: no execution role in the bootstrap: CloudFormation acts with your own credentials"
        ),
    }
    Ok(found)
}

/// Runs `deploy`.
pub fn run(args: DeployArgs) -> Result<()> {
    let raw = super::load_raw(&args.config)?;
    let config = super::validate(&raw)?;
    super::runtime()?.block_on(async {
        let (synthesis, stacks, storage) = super::synthesized(&config, &args.source).await?;
        let boot =
            require_bootstrap(&stacks, &storage, &synthesis.account, &synthesis.region).await?;
        publish_lambdas(&storage, &boot.bucket, &args.lambdas).await?;

        let approval = match (args.yes, args.require_approval) {
            (true, _) | (_, RequireApproval::Never) => Approval::Never,
            (_, RequireApproval::AnyChange) => Approval::AnyChange,
            (_, RequireApproval::Broadening) => Approval::Broadening,
        };
        let request = DeployRequest {
            stack_name: config.stack_name.clone(),
            template: synthesis.template.to_json(),
            role_arn: boot.execution_role.clone(),
            tags: super::stack_tags(&config),
            approval,
            force: args.force,
        };
        let mut ui = TermUi::new();
        if matches!(args.progress, Some(ProgressStyleArg::Events)) {
            ui = ui.plain();
        }
        let outcome = Engine::new(&stacks, &mut ui, Timing::default())
            .deploy(&request)
            .await;
        let report = DeployReport::new(&config.stack_name, &outcome);
        super::print_result(&report, args.json, false)?;
        outcome.map(|_| ()).map_err(Into::into)
    })
}

/// Makes sure the bucket holds the three zips this binary's template names, uploading the
/// missing ones from `dir` (building them there first when they are not, saying so).
async fn publish_lambdas(storage: &AwsStorage, bucket: &str, dir: &Path) -> Result<()> {
    let keys: Vec<String> = LambdaAsset::ALL.iter().map(|a| a.s3_key()).collect();
    let missing = stack_deploy::assets::missing(storage, bucket, &keys).await?;
    if missing.is_empty() {
        eprintln!("==> Lambda code already in s3://{bucket}");
        return Ok(());
    }
    let mut zips = stack_deploy::assets::local_zips(dir, &missing);
    if let Err(why) = &zips {
        eprintln!(
            "==> s3://{bucket} lacks {} Lambda zip(s) and {} cannot supply them ({why}): building them now with `agent-aws-stack package --output {}` (cargo-lambda, from this binary's source checkout; several minutes the first time). Run `package` yourself beforehand to skip this",
            missing.len(),
            dir.display(),
            dir.display()
        );
        super::package::build(dir, None, super::package::Listing::Stderr)
            .context("the Lambda zips are not in the bucket and could not be built")?;
        zips = stack_deploy::assets::local_zips(dir, &missing);
    }
    for zip in zips? {
        eprintln!(
            "==> Uploading {} ({} bytes) to s3://{bucket}/{}",
            zip.path.display(),
            zip.bytes.len(),
            zip.key
        );
        stack_deploy::assets::upload(storage, bucket, &zip.key, zip.bytes).await?;
    }
    Ok(())
}
