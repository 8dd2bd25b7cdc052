//! Embeds content hashes of the repository's Packer folders and Lambda sources, so `synth`
//! can name the AMI and the Lambda assets without reading the tree or cross-compiling.

#[allow(dead_code)]
#[path = "src/fingerprint.rs"]
mod fingerprint;

use std::path::Path;

/// Packer folders whose hash goes into AMI names, and the env var each is exported as.
const PACKER_FOLDERS: &[(&str, &str)] = &[
    ("linux", "PACKER_HASH_LINUX"),
    ("windows", "PACKER_HASH_WINDOWS"),
    ("macos", "PACKER_HASH_MACOS"),
];

/// Each Lambda, the env var its fingerprint is exported as, and the sources its zip is built
/// from (relative to the workspace root).
const LAMBDAS: &[(&str, &str, &[&str])] = &[
    (
        "scaler",
        "ASSET_HASH_SCALER",
        &[
            "Cargo.toml",
            "Cargo.lock",
            "lambdas/scaler",
            "crates/scaler-core",
        ],
    ),
    (
        "az-rebalance-suspender",
        "ASSET_HASH_AZ_REBALANCE_SUSPENDER",
        &["Cargo.toml", "Cargo.lock", "lambdas/az-rebalance-suspender"],
    ),
    (
        "ssh-keys-updater",
        "ASSET_HASH_SSH_KEYS_UPDATER",
        &[
            "Cargo.toml",
            "Cargo.lock",
            "lambdas/ssh-keys-updater",
            "crates/github-keys",
        ],
    ),
];

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../..");
    for watched in [
        "packer",
        "lambdas",
        "crates/scaler-core",
        "crates/github-keys",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        let path = root.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    for (folder, var) in PACKER_FOLDERS {
        let hash = fingerprint::packer_hash(&root.join("packer").join(folder))
            .unwrap_or_else(|e| panic!("cannot hash packer/{folder}: {e}"));
        println!("cargo:rustc-env={var}={hash}");
    }
    for (name, var, roots) in LAMBDAS {
        let hash = fingerprint::asset_fingerprint(name, &root, roots)
            .unwrap_or_else(|e| panic!("cannot fingerprint the {name} Lambda: {e}"));
        println!("cargo:rustc-env={var}={hash}");
    }
}
