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

/// The env var each Lambda's fingerprint is exported as.
fn fingerprint_var(name: &str) -> String {
    format!("ASSET_HASH_{}", name.to_uppercase().replace('-', "_"))
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../..");
    let watched = fingerprint::LAMBDA_SOURCES
        .iter()
        .flat_map(|(_, roots)| roots.iter().copied())
        .chain(["packer"]);
    for watched in watched {
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
    for (name, roots) in fingerprint::LAMBDA_SOURCES {
        let hash = fingerprint::asset_fingerprint(name, &root, roots)
            .unwrap_or_else(|e| panic!("cannot fingerprint the {name} Lambda: {e}"));
        println!("cargo:rustc-env={}={hash}", fingerprint_var(name));
    }
}
