//! Embeds content hashes of the repository's image sources and Lambda sources, so `synth`
//! can name the AMI and the Lambda assets without reading the tree or cross-compiling.

#[allow(dead_code)]
#[path = "src/fingerprint.rs"]
mod fingerprint;

use std::path::Path;

/// The env var each image folder's hash is exported as.
fn image_var(folder: &str) -> String {
    format!("PACKER_HASH_{}", folder.to_uppercase())
}

/// The env var each Lambda's fingerprint is exported as.
fn fingerprint_var(name: &str) -> String {
    format!("ASSET_HASH_{}", name.to_uppercase().replace('-', "_"))
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../..");
    let watched = fingerprint::LAMBDA_SOURCES
        .iter()
        .chain(fingerprint::IMAGE_SOURCES)
        .flat_map(|(_, roots)| roots.iter().copied());
    for watched in watched {
        let path = root.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    for (folder, roots) in fingerprint::IMAGE_SOURCES {
        let hash = fingerprint::image_hash(&root, roots)
            .unwrap_or_else(|e| panic!("cannot hash the {folder} image sources: {e}"));
        println!("cargo:rustc-env={}={hash}", image_var(folder));
    }
    for (name, roots) in fingerprint::LAMBDA_SOURCES {
        let hash = fingerprint::asset_fingerprint(name, &root, roots)
            .unwrap_or_else(|e| panic!("cannot fingerprint the {name} Lambda: {e}"));
        println!("cargo:rustc-env={}={hash}", fingerprint_var(name));
    }
}
