//! `agent-aws-stack synth`: configuration → lookups → GitHub keys → template on stdout (or
//! `--output FILE`). AWS is called only for values the context cache lacks, and never with
//! `--no-lookups`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;
use stack_config::StackConfig;
use stack_lookups::ContextCache;
use stack_template::{Environment, SynthInput};

use crate::target::{Target, TargetArgs};

/// Arguments of `synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    #[command(flatten)]
    config: super::ConfigArg,

    /// Write the template to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    #[command(flatten)]
    source: SynthSource,
}

/// Where synthesis gets what it needs besides the configuration (shared by every command
/// that synthesizes).
#[derive(Debug, Clone, Args)]
pub struct SynthSource {
    /// Lookup cache in CDK's format.
    #[arg(long, value_name = "FILE", default_value = "cdk.context.json")]
    pub context: PathBuf,

    /// Never call AWS for lookups: every lookup must be in the context cache, and the account
    /// and region must be given.
    #[arg(long)]
    pub no_lookups: bool,

    /// GitHub SSH host keys as a JSON array of strings, instead of fetching them.
    #[arg(long, value_name = "FILE")]
    pub github_keys: Option<PathBuf>,

    #[command(flatten)]
    pub target: TargetArgs,

    /// GitHub meta API address (for tests and GitHub Enterprise mirrors).
    #[arg(long, hide = true, default_value = github_keys::META_URL)]
    pub github_meta_url: String,
}

/// A synthesized stack and where it goes.
pub struct Synthesis {
    /// The template.
    pub template: stack_template::Template,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
}

/// Runs `synth`.
pub fn run(args: SynthArgs) -> Result<()> {
    let raw = super::load_raw(&args.config)?;
    let config = super::validate(&raw)?;
    let runtime = super::runtime()?;
    let synthesis = runtime.block_on(async {
        let mut target = Target::resolve(&args.source.target, args.source.no_lookups).await?;
        synthesize(&config, &args.source, &mut target).await
    })?;
    write_output(
        args.output.as_deref(),
        &synthesis.template.to_pretty_string(),
    )
}

/// Fills the lookups for `target` (the account and region, resolved by the caller the one way
/// every command does), reads the GitHub keys and renders the template.
pub async fn synthesize(
    config: &StackConfig,
    args: &SynthSource,
    target: &mut Target,
) -> Result<Synthesis> {
    let account = target.account().await?;
    let region = target.region().to_owned();

    let mut cache = ContextCache::load(&args.context)?;
    let missing = stack_lookups::missing(config, &account, &region, &cache);
    if !missing.is_empty() {
        if args.no_lookups {
            return Err(stack_lookups::missing_error(&cache, &missing).into());
        }
        let sdk = target.sdk().await;
        let ec2 = stack_lookups::AwsEc2::new(aws_sdk_ec2::Client::new(&sdk));
        eprintln!(
            "==> Looking up {} value(s) in {account}/{region}, recording them in {}",
            missing.len(),
            cache.path().display()
        );
        stack_lookups::fill(&ec2, &account, &mut cache, missing).await?;
        cache.save()?;
    }
    let lookups = stack_lookups::from_cache(config, &account, &region, &cache)?;
    let ssh_keys = github_ssh_keys(args).await?;

    let environment = Environment {
        account: account.clone(),
        region: region.clone(),
    };
    let synthesized = stack_template::synth(SynthInput {
        config,
        lookups: &lookups,
        environment: &environment,
        ssh_keys: &ssh_keys,
    })?;
    for warning in &synthesized.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(Synthesis {
        template: synthesized.template,
        account,
        region,
    })
}

/// GitHub's SSH host keys: from `--github-keys`, else the hour-long cache in the current
/// folder, else fetched (and cached).
async fn github_ssh_keys(args: &SynthSource) -> Result<Vec<String>> {
    if let Some(path) = &args.github_keys {
        return github_keys::read_key_file(path).context("failed to read the GitHub SSH keys file");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let cache = github_keys::Cache::new(".");
    if let Some(cached) = cache.fresh(now) {
        eprintln!(
            "==> GitHub SSH keys found locally at '{}'",
            cached.path.display()
        );
        return Ok(cached.keys);
    }
    let client = reqwest::Client::builder()
        .build()
        .context("failed to build the HTTP client")?;
    let keys = github_keys::fetch(&client, &args.github_meta_url)
        .await
        .context(
            "failed to fetch GitHub's SSH host keys (use --github-keys FILE to work offline)",
        )?;
    let path = cache.store(&keys, now)?;
    eprintln!(
        "==> GitHub SSH keys fetched and stored at '{}'",
        path.display()
    );
    Ok(keys)
}

/// Writes the template to stdout, or to a file through a temporary file and a rename, so a
/// failure never leaves a partial template behind.
fn write_output(output: Option<&Path>, template: &str) -> Result<()> {
    match output {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(template.as_bytes())
                .and_then(|()| stdout.flush())
                .context("failed to write the template to stdout")
        }
        Some(path) => {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, template)
                .and_then(|()| std::fs::rename(&tmp, path))
                .with_context(|| format!("failed to write the template to {}", path.display()))?;
            eprintln!("==> Template written to {}", path.display());
            Ok(())
        }
    }
}
