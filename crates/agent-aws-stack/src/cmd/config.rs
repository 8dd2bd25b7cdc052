//! `agent-aws-stack config`: the resolved configuration, with defaults filled in and the
//! source of every value, then the validation verdict.

use anyhow::Result;
use clap::Args;
use serde::Serialize;

/// Arguments of `config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    config: super::ConfigArg,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    value: &'a str,
    source: String,
    description: &'a str,
}

/// Prints every parameter; fails (after printing) when the configuration is invalid.
pub fn run(args: ConfigArgs) -> Result<()> {
    let raw = super::load_raw(&args.config)?;
    let resolved = raw.resolved();
    let entries: Vec<Entry<'_>> = resolved
        .iter()
        .map(|(param, value)| Entry {
            name: param.name,
            value: &value.value,
            source: value.source.to_string(),
            description: param.doc,
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    } else {
        let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
        for e in &entries {
            println!("{:width$}  {:?}  ({})", e.name, e.value, e.source);
        }
    }
    super::validate(&raw)?;
    eprintln!("==> The configuration is valid");
    Ok(())
}
