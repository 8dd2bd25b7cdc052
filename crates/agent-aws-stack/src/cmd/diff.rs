//! `diff`: the deployed stack against the synthesized template, resource by resource, on
//! stdout (or as a `--json` report). Exit status 0 no differences, 1 differences, 2 error.

use anyhow::Result;
use clap::Args;
use stack_deploy::bootstrap;
use stack_deploy::{Approval, DeployRequest, DiffReport, Engine, Timing};

use super::synth::SynthSource;
use super::ui::TermUi;

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

    #[command(flatten)]
    json: super::JsonArg,
}

/// Runs `diff`; `Ok(true)` when the stack differs from the template.
pub fn run(args: DiffArgs) -> Result<bool> {
    let raw = super::load_raw(&args.config)?;
    let config = super::validate(&raw)?;
    super::runtime()?.block_on(async {
        let (synthesis, stacks, storage) = super::synthesized(&config, &args.source).await?;
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
            tags: super::stack_tags(&config),
            approval: Approval::Never,
            force: false,
        };
        let mut ui = TermUi::new();
        let found = Engine::new(&stacks, &mut ui, Timing::default())
            .diff(&request, !args.no_change_set)
            .await?;
        let report = DiffReport::new(&config.stack_name, found);
        super::print_result(&report, args.json, console::colors_enabled())?;
        Ok(report.differs())
    })
}
