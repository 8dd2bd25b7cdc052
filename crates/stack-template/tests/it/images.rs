//! The Makefile that builds the images and `synth` name them the same way: same version,
//! same OS and architecture words, same content hash over the same files.

use std::process::Command;

use crate::support::workspace_root;
use stack_config::{RawConfig, StackConfig};
use stack_template::assets::ami_name;

fn make(args: &[&str]) -> Option<String> {
    let out = match Command::new("make")
        .arg("-s")
        .args(args)
        .current_dir(workspace_root())
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: make is not available ({e})");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "make {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn synth_name(os: &str, arch: &str) -> String {
    let raw = RawConfig::from_pairs([
        ("SEMAPHORE_AGENT_STACK_NAME", "ci-agents"),
        ("SEMAPHORE_ORGANIZATION", "acme"),
        ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "ci-agents-token"),
        ("SEMAPHORE_AGENT_OS", os),
        ("SEMAPHORE_AGENT_ARCH", arch),
        (
            "SEMAPHORE_AGENT_LICENSE_CONFIGURATION_ARN",
            "arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-1",
        ),
    ]);
    let config = StackConfig::from_raw(&raw).expect("valid").config;
    ami_name(&config)
}

#[test]
fn makefile_and_synth_agree_on_every_image_name() {
    let cases = [
        ("linux", "focal", "ubuntu-focal", "x86_64"),
        ("linux", "jammy", "ubuntu-jammy", "arm64"),
        ("linux", "noble", "ubuntu-noble", "x86_64"),
        ("windows", "focal", "windows", "x86_64"),
        ("macos", "focal", "macos", "arm64"),
        ("macos", "focal", "macos", "x86_64"),
    ];
    for (packer_os, ubuntu, os, arch) in cases {
        let Some(from_make) = make(&[
            "print-ami-name",
            &format!("PACKER_OS={packer_os}"),
            &format!("UBUNTU_VERSION={ubuntu}"),
            &format!("AMI_ARCH={arch}"),
        ]) else {
            return;
        };
        assert_eq!(
            from_make,
            synth_name(os, arch),
            "{packer_os} {ubuntu} {arch}"
        );
    }
}

#[test]
fn each_image_has_its_own_hash() {
    let names: Vec<String> = [
        ("ubuntu-noble", "x86_64"),
        ("windows", "x86_64"),
        ("macos", "arm64"),
    ]
    .iter()
    .map(|(os, arch)| synth_name(os, arch))
    .collect();
    let hashes: std::collections::BTreeSet<&str> = names
        .iter()
        .map(|n| n.rsplit('-').next().expect("hash"))
        .collect();
    assert_eq!(hashes.len(), 3, "{names:?}");
    // Not the hash of nothing: every image has sources.
    assert!(
        !hashes.contains("d41d8cd98f00b204e9800998ecf8427e"),
        "{names:?}"
    );
}

#[test]
fn makefile_refuses_unknown_values_naming_the_variable() {
    for (arg, variable) in [
        ("UBUNTU_VERSION=bionic", "UBUNTU_VERSION"),
        ("AMI_ARCH=i386", "AMI_ARCH"),
        ("PACKER_OS=freebsd", "PACKER_OS"),
    ] {
        let Ok(out) = Command::new("make")
            .args(["-s", "print-ami-name", arg])
            .current_dir(workspace_root())
            .output()
        else {
            return;
        };
        assert!(!out.status.success(), "{arg}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(variable),
            "{arg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
