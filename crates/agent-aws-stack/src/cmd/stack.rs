//! `bootstrap`, `deploy`, `diff` and `destroy`: the CDK workflow, on CloudFormation directly.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use sha2::{Digest as _, Sha256};
use stack_config::{AgentOs, StackConfig};
use stack_deploy::aws::{AwsFleet, AwsStacks, AwsStorage};
use stack_deploy::bootstrap::{self, Bootstrap, BootstrapKind};
use stack_deploy::cloud::{ChangeSetKind, Stacks as _, Storage as _};
use stack_deploy::{
    Approval, DeployOutcome, DeployRequest, DestroyOutcome, DestroyRequest, Engine, Timing,
};
use stack_template::assets::LambdaAsset;
use stack_template::fingerprint::hex;

use super::synth::{SynthSource, Synthesis, synthesize};
use super::ui::TermUi;
use crate::target::{Target, TargetArgs};

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
    /// bucket lacks (built there with `package` when absent).
    #[arg(long, value_name = "DIR", default_value = "dist/lambdas")]
    lambdas: PathBuf,

    /// Output style: `events` prints one line per event even on a terminal.
    #[arg(long, value_enum)]
    progress: Option<ProgressStyleArg>,
}

/// Options of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    config: super::ConfigArg,

    #[command(flatten)]
    source: SynthSource,

    /// Compare templates only; do not create a read-only change set for CloudFormation's
    /// replacement verdicts.
    #[arg(long)]
    no_change_set: bool,
}

/// Options of `destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    config: super::ConfigArg,

    /// Delete without asking.
    #[arg(long, short = 'f')]
    force: bool,

    /// Keep this resource (logical id) when deleting a stack in DELETE_FAILED; repeatable.
    #[arg(long, value_name = "LOGICAL_ID")]
    retain: Vec<String>,

    #[command(flatten)]
    target: TargetArgs,
}

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

/// The synthesized stack and the clients for its account and region.
async fn synthesized(
    config: &StackConfig,
    source: &SynthSource,
) -> Result<(Synthesis, AwsStacks, AwsStorage)> {
    let mut target = Target::resolve(&source.target, source.no_lookups).await?;
    let synthesis = synthesize(config, source, &mut target).await?;
    let sdk = target.sdk().await;
    Ok((synthesis, AwsStacks::new(&sdk), AwsStorage::new(&sdk)))
}

fn stack_tags(config: &StackConfig) -> Vec<(String, String)> {
    config
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// Finds the bootstrap, or says how to make one.
async fn require_bootstrap(
    stacks: &AwsStacks,
    storage: &AwsStorage,
    account: &str,
    region: &str,
) -> Result<Bootstrap> {
    let found = bootstrap::find(stacks, storage, account, region).await?;
    let found = bootstrap::usable(found, account, region).map_err(anyhow::Error::msg)?;
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
pub fn deploy(args: DeployArgs) -> Result<()> {
    let raw = super::load_raw(args.config.path())?;
    let config = super::validate(&raw)?;
    super::runtime()?.block_on(async {
        let (synthesis, stacks, storage) = synthesized(&config, &args.source).await?;
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
            tags: stack_tags(&config),
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
        verdict_deploy(&config.stack_name, outcome)
    })
}

fn verdict_deploy(
    stack: &str,
    outcome: Result<DeployOutcome, stack_deploy::DeployError>,
) -> Result<()> {
    match outcome {
        Ok(DeployOutcome::NoChanges { .. }) => {
            println!("✅ {stack}: no changes");
            Ok(())
        }
        Ok(DeployOutcome::Done {
            stack_id,
            kind,
            counts,
            seconds,
            ..
        }) => {
            let verb = match kind {
                ChangeSetKind::Create => "created",
                ChangeSetKind::Update => "updated",
            };
            println!("✅ {stack}: {verb} in {seconds:.1} s ({counts}); {stack_id}");
            Ok(())
        }
        Err(e) => {
            println!("❌ {stack}: deploy failed");
            Err(e.into())
        }
    }
}

/// Makes sure the bucket holds the three zips this binary's template names, uploading the
/// missing ones from `dir` (building them there first when they are not).
async fn publish_lambdas(storage: &AwsStorage, bucket: &str, dir: &Path) -> Result<()> {
    let keys: Vec<String> = LambdaAsset::ALL.iter().map(|a| a.s3_key()).collect();
    let missing = stack_deploy::assets::missing(storage, bucket, &keys).await?;
    if missing.is_empty() {
        eprintln!("==> Lambda code already in s3://{bucket}");
        return Ok(());
    }
    let mut zips = local_zips(dir, &missing);
    if zips.is_err() {
        eprintln!(
            "==> Building the Lambda zips into {} (not in the bucket, not built yet)",
            dir.display()
        );
        super::package::build(dir, None)?;
        zips = local_zips(dir, &missing);
    }
    for (key, path, bytes) in zips? {
        eprintln!(
            "==> Uploading {} ({} bytes) to s3://{bucket}/{key}",
            path.display(),
            bytes.len()
        );
        stack_deploy::assets::upload(storage, bucket, &key, bytes).await?;
    }
    Ok(())
}

/// Reads the zips for `keys` from a `package` folder, checking each against the manifest's
/// SHA-256 and S3 key (a zip built from other sources has another key).
fn local_zips(dir: &Path, keys: &[String]) -> Result<Vec<(String, PathBuf, Vec<u8>)>> {
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let manifest: Vec<super::package::ManifestEntry> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a package manifest", manifest_path.display()))?;
    let mut out = Vec::new();
    for key in keys {
        let Some(entry) = manifest.iter().find(|e| &e.s3_key == key) else {
            bail!(
                "{} has no zip for {key}: it was built from other sources than this agent-aws-stack; run `agent-aws-stack package --output {}` again",
                manifest_path.display(),
                dir.display()
            );
        };
        let path = dir.join(format!("{}.zip", entry.function));
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let sha = hex(&Sha256::digest(&bytes));
        if sha != entry.sha256 {
            bail!(
                "{} does not match its manifest (SHA-256 {sha}, manifest says {}); run `agent-aws-stack package --output {}` again",
                path.display(),
                entry.sha256,
                dir.display()
            );
        }
        out.push((key.clone(), path, bytes));
    }
    Ok(out)
}

/// Runs `diff`; `Ok(true)` when the stack differs from the template.
pub fn diff(args: DiffArgs) -> Result<bool> {
    let raw = super::load_raw(args.config.path())?;
    let config = super::validate(&raw)?;
    super::runtime()?.block_on(async {
        let (synthesis, stacks, storage) = synthesized(&config, &args.source).await?;
        // The change set needs the bootstrap's role; without a bootstrap, templates only.
        let role = bootstrap::find(&stacks, &storage, &synthesis.account, &synthesis.region)
            .await
            .ok()
            .flatten()
            .and_then(|b| b.execution_role);
        let request = DeployRequest {
            stack_name: config.stack_name.clone(),
            template: synthesis.template.to_json(),
            role_arn: role,
            tags: stack_tags(&config),
            approval: Approval::Never,
            force: false,
        };
        let mut ui = TermUi::new();
        let found = Engine::new(&stacks, &mut ui, Timing::default())
            .diff(&request, !args.no_change_set)
            .await?;
        for line in stack_deploy::render::diff_lines(&config.stack_name, &found.diff, ui.colors()) {
            println!("{line}");
        }
        if !found.exists {
            println!("(stack {} does not exist yet)", config.stack_name);
        } else if !found.diff.is_empty() {
            println!(
                "(replacement from {})",
                if found.from_change_set {
                    "CloudFormation's change set"
                } else {
                    "the resource schemas"
                }
            );
        }
        let differs = !found.diff.is_empty();
        println!(
            "Number of stacks with differences: {}",
            usize::from(differs)
        );
        Ok(differs)
    })
}

/// Runs `destroy`.
pub fn destroy(args: DestroyArgs) -> Result<()> {
    let raw = super::load_raw(args.config.path())?;
    let config = super::validate(&raw)?;
    super::runtime()?.block_on(async {
        // The same account and region `deploy` would use.
        let mut target = Target::resolve(&args.target, false).await?;
        let account = target.account().await?;
        let region = target.region().to_owned();
        let sdk = target.sdk().await;
        let stacks = AwsStacks::new(&sdk);
        let storage = AwsStorage::new(&sdk);
        let role = bootstrap::find(&stacks, &storage, &account, &region)
            .await?
            .and_then(|b| b.execution_role);
        let request = DestroyRequest {
            stack_name: config.stack_name.clone(),
            role_arn: role,
            force: args.force,
            retain: args.retain.clone(),
        };
        let mut ui = TermUi::new();
        let fleet = AwsFleet::new(&sdk);
        let outcome = Engine::new(&stacks, &mut ui, Timing::default())
            .destroy(&request, &fleet)
            .await;
        let stack = &config.stack_name;
        match outcome {
            Ok(DestroyOutcome::Absent) => {
                println!("✅ {stack}: no such stack in {account}/{region}; nothing to delete");
            }
            Ok(DestroyOutcome::Deleted { retained }) => {
                for (id, kind) in &retained {
                    println!("kept {id} ({kind}): CloudFormation could not delete it");
                }
                println!("✅ {stack}: deleted");
            }
            Err(e) => {
                println!("❌ {stack}: destroy failed");
                return Err(e.into());
            }
        }
        if config.os == AgentOs::MacOs {
            println!(
                "macOS: the dedicated hosts stay allocated (and billed) until you release them, at least 24 h after allocation. \
                 List them with `aws ec2 describe-hosts --region {region}`, release them with `aws ec2 release-hosts --host-ids <ids>`, \
                 and delete the host resource group `{stack}` with `aws resource-groups delete-group --group {stack}` once it is empty."
            );
        }
        println!(
            "Left in place on purpose: the agent token parameter {} and the bootstrap (bucket and role).",
            config.token_parameter_name
        );
        Ok(())
    })
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
pub fn bootstrap(args: BootstrapArgs) -> Result<()> {
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
        let mut policies = args.cloudformation_execution_policies;

        let found = bootstrap::find(&stacks, &storage, &account, &region).await?;
        if policies.is_empty()
            && let Some(Bootstrap {
                kind: BootstrapKind::Own,
                execution_role: Some(_),
                ..
            }) = &found
        {
            // As CDK: a bootstrap run without policies keeps the role's current ones.
            let deployed = stacks.get_template(bootstrap::BOOTSTRAP_STACK).await?;
            policies = bootstrap::deployed_policies(&deployed);
            eprintln!(
                "==> Keeping the execution role's policies: {}",
                policies.join(", ")
            );
        }
        if let Some(Bootstrap {
            kind: BootstrapKind::Cdk(version),
            bucket,
            execution_role,
        }) = &found
        {
            println!(
                "✅ {account}/{region}: already bootstrapped by CDK (version {version}); deploy reuses bucket {bucket} and role {}",
                execution_role.as_deref().unwrap_or("-")
            );
            if !policies.is_empty() {
                eprintln!(
                    "warning: the CDK execution role keeps its own policies; change them with `cdk bootstrap --cloudformation-execution-policies …`"
                );
            }
            return Ok(());
        }
        let bucket = bootstrap::bucket_name(&account, &region);
        if found.is_none() && storage.bucket_exists(&bucket).await? {
            bail!(
                "bucket {bucket} already exists but no bootstrap stack owns it (left by an earlier `cdk bootstrap`?). Run `cdk bootstrap` to adopt it again, or empty and delete it, then run this again"
            );
        }
        if policies.is_empty() {
            eprintln!(
                "warning: no --cloudformation-execution-policies: there will be no execution role and CloudFormation will act with the credentials of whoever deploys. Create a policy from execution-policy.json and pass its ARN to limit what a deploy can do"
            );
        }
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
                println!("✅ {account}/{region}: bootstrapped: bucket {bucket}, {role}");
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
