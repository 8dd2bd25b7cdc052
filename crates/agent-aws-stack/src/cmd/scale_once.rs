//! `scale-once`: one scaler tick from this machine, with the Lambda's environment variables
//! and code. Operators use it to see what the scaler would do (`--dry-run`); tests use it end
//! to end.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use clap::Args;

use crate::target::RegionArgs;
use scaler_tick::{Action, Mode, Settings, TickReport};

/// Options of `scale-once`.
#[derive(Debug, Args)]
pub struct ScaleOnceArgs {
    /// Read the metrics and the group and print the decision, but change nothing: no
    /// CloudWatch metrics, no new desired capacity.
    #[arg(long)]
    dry_run: bool,

    /// Print the tick's report as JSON instead of text.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    region: RegionArgs,
}

/// Runs one tick and prints what it read, decided and did. Fails when the tick failed.
pub fn run(args: ScaleOnceArgs) -> Result<()> {
    let settings = Settings::from_env()?;
    let mode = if args.dry_run {
        Mode::DryRun
    } else {
        Mode::Apply
    };
    let runtime = super::runtime()?;
    let (settings, report) = runtime.block_on(async {
        let target = args.region.resolve().await?;
        let sdk = aws_support::sdk_config_in(
            aws_support::CallBudget::TICK,
            Some(target.region().to_owned()),
        )
        .await;
        let scaler = scaler_tick::aws_scaler_on(settings, scaler_tick::AwsIo::new(&sdk));
        let report = scaler.tick(mode).await;
        anyhow::Ok((scaler.settings().clone(), report))
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", describe(&settings, &report, mode));
    }
    if let Some(error) = &report.error {
        bail!("{error}");
    }
    Ok(())
}

/// The report as text: what was read, decided and done.
fn describe(settings: &Settings, report: &TickReport, mode: Mode) -> String {
    let mut out = String::new();
    let counts = |map: &std::collections::BTreeMap<String, u64>| {
        map.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if let Some(m) = &report.metrics {
        let _ = writeln!(out, "Semaphore metrics from {}", settings.metrics_url);
        let _ = writeln!(
            out,
            "  jobs:   {} (demand {})",
            counts(&m.jobs),
            m.total_jobs()
        );
        let _ = writeln!(out, "  agents: {}", counts(&m.agents));
    }
    if let Some(g) = &report.group {
        let _ = writeln!(
            out,
            "Auto Scaling group {}: desired {}, min {}, max {}",
            g.name, g.desired, g.min, g.max
        );
    }
    if let Some(d) = &report.decision {
        let action = match d.action {
            Action::ScaleUp { from, to } => format!("scale up from {from} to {to}"),
            Action::Hold => "no change (the scaler never scales down)".to_owned(),
        };
        let _ = writeln!(
            out,
            "Decision: target {} (overprovision {}): {action}",
            d.target, settings.overprovision
        );
    }
    let result = match (mode, &report.error) {
        (_, Some(_)) => "tick failed (see the error below); nothing more was done",
        (Mode::DryRun, None) => "dry run: nothing changed",
        (Mode::Apply, None) if report.scaled => "desired capacity set",
        (Mode::Apply, None) => "nothing to change",
    };
    let _ = writeln!(out, "Result: {result}");
    match (&report.publish_error, report.published) {
        (Some(e), _) => {
            let _ = writeln!(out, "CloudWatch: metrics not published: {e}");
        }
        (None, true) => {
            let _ = writeln!(out, "CloudWatch: metrics published");
        }
        (None, false) => {}
    }
    out
}
