//! `images`: lists and deletes agent images that no stack can use any more (other versions,
//! not referred to by any launch template), with their snapshots.

use std::collections::BTreeSet;

use crate::target::RegionArgs;
use anyhow::{Result, bail};
use aws_sdk_ec2::types::Filter;
use aws_support::AwsFailure;
use clap::{Args, Subcommand};
use stack_template::assets::VERSION;

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
    #[command(flatten)]
    region: RegionArgs,
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
pub fn run(args: ImagesArgs) -> Result<()> {
    let ImagesCommand::Prune(args) = args.command;
    super::runtime()?.block_on(async {
        let sdk = args.region.resolve().await?.sdk().await;
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
            match super::ui::ask(&question) {
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
