//! The user guide's helper steps: `token`, `execution-policy`, `images prune`. The AWS ones run
//! against moto_server (scripts/test.sh starts it) and are skipped without it.

mod common;

use common::{aws_cli, text};

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, RequestLaunchTemplateData, VolumeType,
};
use aws_test_support::{moto, unique};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_with_stdin(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("output")
}

#[test]
fn shipped_execution_policy_is_the_commands_output_for_the_example() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = common::cli(dir.path())
        .arg("execution-policy")
        .arg("--config")
        .arg(root().join("examples/linux/config.json"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let shipped = std::fs::read_to_string(root().join("execution-policy.json")).expect("shipped");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        shipped,
        "regenerate it: agent-aws-stack execution-policy --config examples/linux/config.json > execution-policy.json"
    );
    let policy: serde_json::Value = serde_json::from_str(&shipped).expect("JSON");
    assert!(
        policy
            .to_string()
            .contains("arn:aws:iam::*:role/ci-agents-*"),
        "scoped to the example's stack"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_is_stored_encrypted_and_never_printed() {
    let Some(sdk) = moto("token").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let name = unique("agent-token");
    let secret = "s3cr3t-registration-token-0123456789";
    let token_cmd = |extra: &[&str]| {
        let mut cmd = aws_cli(dir.path());
        cmd.arg("token")
            .args(extra)
            .env("SEMAPHORE_AGENT_STACK_NAME", "ci-agents")
            .env("SEMAPHORE_ORGANIZATION", "acme")
            .env("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", &name);
        cmd
    };

    let out = run_with_stdin(token_cmd(&[]), &format!("{secret}\n"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(secret), "{}", text(&out));
    assert!(text(&out).contains("(SecureString, key alias/aws/ssm), version 1"));

    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let stored = ssm
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .expect("stored");
    let parameter = stored.parameter().expect("parameter");
    assert_eq!(parameter.value(), Some(secret));
    assert_eq!(
        parameter.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );

    // No silent replacement; --overwrite rotates.
    let out = run_with_stdin(token_cmd(&[]), "another-token");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--overwrite"), "{}", text(&out));
    let out = run_with_stdin(token_cmd(&["--overwrite"]), "another-token");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("version 2"), "{}", text(&out));

    // Nothing given: a clear error, nothing written.
    let out = run_with_stdin(token_cmd(&["--overwrite"]), "  \n");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no token given"), "{}", text(&out));
}

/// Registers an image named `name` backed by a fresh snapshot; returns the image and the
/// snapshot it lists.
async fn image(sdk: &SdkConfig, name: &str) -> (String, String) {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .send()
        .await
        .expect("volume");
    let snapshot = ec2
        .create_snapshot()
        .volume_id(volume.volume_id().expect("volume id"))
        .send()
        .await
        .expect("snapshot")
        .snapshot_id()
        .expect("snapshot id")
        .to_owned();
    let image = ec2
        .register_image()
        .name(name)
        .root_device_name("/dev/sda1")
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name("/dev/sda1")
                .ebs(
                    EbsBlockDevice::builder()
                        .snapshot_id(&snapshot)
                        .volume_type(VolumeType::Gp3)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("image")
        .image_id()
        .expect("image id")
        .to_owned();
    // The snapshot the image lists (moto may record its own copy of the one given).
    let listed = ec2
        .describe_images()
        .image_ids(&image)
        .send()
        .await
        .expect("image")
        .images()[0]
        .block_device_mappings()
        .iter()
        .find_map(|m| m.ebs()?.snapshot_id().map(str::to_owned))
        .unwrap_or(snapshot);
    (image, listed)
}

async fn exists(sdk: &SdkConfig, image: &str) -> bool {
    aws_sdk_ec2::Client::new(sdk)
        .describe_images()
        .owners("self")
        .send()
        .await
        .expect("images")
        .images()
        .iter()
        .any(|i| i.image_id() == Some(image))
}

async fn snapshot_exists(sdk: &SdkConfig, snapshot: &str) -> bool {
    aws_sdk_ec2::Client::new(sdk)
        .describe_snapshots()
        .owner_ids("self")
        .send()
        .await
        .expect("snapshots")
        .snapshots()
        .iter()
        .any(|s| s.snapshot_id() == Some(snapshot))
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_deletes_old_unused_images_and_their_snapshots_only() {
    let Some(sdk) = moto("images-prune").await else {
        return;
    };
    let tag = unique("t");
    let version = stack_template::assets::VERSION;
    let (old, old_snapshot) = image(
        &sdk,
        &format!("semaphore-agent-v0.1.0-ubuntu-noble-x86_64-{tag}"),
    )
    .await;
    let (in_use, _) = image(
        &sdk,
        &format!("semaphore-agent-v0.1.0-ubuntu-jammy-x86_64-{tag}"),
    )
    .await;
    let (kept_version, _) = image(
        &sdk,
        &format!("semaphore-agent-v0.2.0-windows-x86_64-{tag}"),
    )
    .await;
    let (current, _) = image(
        &sdk,
        &format!("semaphore-agent-v{version}-ubuntu-noble-x86_64-{tag}"),
    )
    .await;
    let (unrelated, _) = image(&sdk, &format!("someone-elses-{tag}")).await;
    aws_sdk_ec2::Client::new(&sdk)
        .create_launch_template()
        .launch_template_name(unique("agents"))
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(&in_use)
                .build(),
        )
        .send()
        .await
        .expect("launch template");

    let dir = tempfile::tempdir().expect("temp dir");
    let prune = |extra: &[&str]| {
        aws_cli(dir.path())
            .args(["images", "prune", "--keep-version", "v0.2.0"])
            .args(extra)
            .output()
            .expect("runs")
    };
    let out = prune(&["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("delete {old} ")),
        "{}",
        text(&out)
    );
    assert!(exists(&sdk, &old).await, "a dry run deletes nothing");

    let out = prune(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--yes"), "{}", text(&out));
    assert!(exists(&sdk, &old).await);

    let out = prune(&["--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!exists(&sdk, &old).await, "{}", text(&out));
    assert!(
        !snapshot_exists(&sdk, &old_snapshot).await,
        "{}",
        text(&out)
    );
    for kept in [&in_use, &kept_version, &current, &unrelated] {
        assert!(exists(&sdk, kept).await, "{kept} kept: {}", text(&out));
    }
    assert!(
        text(&out).contains(&format!("keep   {in_use} "))
            && text(&out).contains("a launch template uses it"),
        "{}",
        text(&out)
    );
}
