//! `destroy`: deletes the stack in the account and region `deploy` would use (asking first
//! unless `--force`); the verdict (or `--json` report) on stdout.

use anyhow::Result;
use clap::Args;
use stack_config::AgentOs;
use stack_deploy::aws::{AwsFleet, AwsStacks, AwsStorage};
use stack_deploy::bootstrap;
use stack_deploy::cloud::Storage as _;
use stack_deploy::{DestroyReport, DestroyRequest, Engine, KeptBootstrap, LeftInPlace, Timing};

use super::ui::TermUi;
use crate::target::{Target, TargetArgs};

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

    #[command(flatten)]
    json: super::JsonArg,
}

/// Runs `destroy`.
pub fn run(args: DestroyArgs) -> Result<()> {
    let raw = super::load_raw(&args.config)?;
    let config = super::validate(&raw)?;
    super::runtime()?.block_on(async {
        // The same account and region `deploy` would use.
        let mut target = Target::resolve(&args.target, false).await?;
        let account = target.account().await?;
        let region = target.region().to_owned();
        let sdk = target.sdk().await;
        let stacks = AwsStacks::new(&sdk);
        let storage = AwsStorage::new(&sdk);
        let found = bootstrap::find(&stacks, &storage, &account, &region).await?;
        let role = found.as_ref().and_then(|b| b.execution_role.clone());
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
        let left = LeftInPlace {
            token_parameter: token_parameter(&storage, &config.token_parameter_name).await,
            bootstrap: found.as_ref().map(KeptBootstrap::of),
        };
        let report = DestroyReport::new(
            &config.stack_name,
            &account,
            &region,
            &outcome,
            left,
            config.os == AgentOs::MacOs,
        );
        super::print_result(&report, args.json, false)?;
        outcome.map(|_| ()).map_err(Into::into)
    })
}

/// The token parameter's name when it exists, so the report names only what is there; also
/// when it cannot be checked (said on stderr), since it may well exist. Its value is never
/// read back decrypted nor shown.
async fn token_parameter(storage: &AwsStorage, name: &str) -> Option<String> {
    match storage.parameter(name).await {
        Ok(found) => found.map(|_| name.to_owned()),
        Err(failure) => {
            eprintln!("warning: could not check the agent token parameter {name}: {failure}");
            Some(name.to_owned())
        }
    }
}
