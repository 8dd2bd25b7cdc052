//! Content hashes computed when the crate is built (this file is also compiled into
//! `build.rs`): the Packer-tree hash in AMI names and the fingerprints that name Lambda assets.
//! Both depend only on file contents (and, for assets, on paths), never on timestamps, and
//! neither covers a crate's tests: an edit that cannot change what is built must not make
//! users rebake an image or redeploy a Lambda.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// The sources each Lambda's zip is built from, relative to the workspace root: the
/// workspace manifest and lock file, the function's folder, and every workspace crate it
/// links (its normal and build dependencies, transitively; not its dev-dependencies). A
/// change to any of these files changes the Lambda's S3 key, so every user's next deploy
/// updates the function; a crate the Lambda does not link must therefore not be listed.
///
/// A test (`stack-template`'s `tests/it/fingerprint_roots.rs`) checks this list against
/// `cargo metadata`: adding or dropping a workspace dependency of a Lambda fails it until the
/// list follows.
///
/// Folders are hashed without their `tests/`, `benches/` and `examples/` folders (see
/// [`asset_fingerprint`]). Everything else in a listed crate counts, doc comments included:
/// telling a doc edit from a code edit would need a Rust parser here, and a crate the Lambda
/// links is edited rarely enough that the extra update is accepted.
pub const LAMBDA_SOURCES: &[(&str, &[&str])] = &[
    (
        "scaler",
        &[
            "Cargo.toml",
            "Cargo.lock",
            "lambdas/scaler",
            "crates/scaler-core",
            "crates/scaler-tick",
            "crates/agent-protocol",
            "crates/aws-support",
            "crates/stack-contract",
        ],
    ),
    (
        "az-rebalance-suspender",
        &[
            "Cargo.toml",
            "Cargo.lock",
            "lambdas/az-rebalance-suspender",
            "crates/aws-support",
        ],
    ),
    (
        "ssh-keys-updater",
        &[
            "Cargo.toml",
            "Cargo.lock",
            "lambdas/ssh-keys-updater",
            "crates/aws-support",
            "crates/github-keys",
        ],
    ),
];

/// What each image's name hash covers, relative to the workspace root: the image's Packer
/// folder and the Makefile that builds it, and for Linux and macOS the sources of the
/// `agent-instance` program baked into the image (not its tests). The workspace lock file is
/// left out on purpose: a dependency bump elsewhere in the workspace must not force every
/// user to rebake 8 images; the images pick up new dependencies with their next source
/// change. The Makefile hashes the same list (`IMAGE_SOURCES_<folder>`); a test checks that
/// both agree.
pub const IMAGE_SOURCES: &[(&str, &[&str])] = &[
    (
        "linux",
        &[
            "Makefile",
            "packer/linux",
            "crates/agent-instance/Cargo.toml",
            "crates/agent-instance/src",
            "crates/aws-support/Cargo.toml",
            "crates/aws-support/src",
            "crates/stack-contract/Cargo.toml",
            "crates/stack-contract/src",
            "crates/semaphore-agent/Cargo.toml",
            "crates/semaphore-agent/src",
            "crates/agent-protocol/Cargo.toml",
            "crates/agent-protocol/src",
            "crates/agent-core/Cargo.toml",
            "crates/agent-core/src",
        ],
    ),
    ("windows", &["Makefile", "packer/windows"]),
    (
        "macos",
        &[
            "Makefile",
            "packer/macos",
            "crates/agent-instance/Cargo.toml",
            "crates/agent-instance/src",
            "crates/aws-support/Cargo.toml",
            "crates/aws-support/src",
            "crates/stack-contract/Cargo.toml",
            "crates/stack-contract/src",
            "crates/semaphore-agent/Cargo.toml",
            "crates/semaphore-agent/src",
            "crates/agent-protocol/Cargo.toml",
            "crates/agent-protocol/src",
            "crates/agent-core/Cargo.toml",
            "crates/agent-core/src",
        ],
    ),
];

/// Every regular file under `dir`, recursively, sorted by path. A missing `dir` has no files.
pub fn files_under(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if dir.is_dir() {
        walk(dir, &mut out)?;
    }
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            if entry.file_name() != "target" {
                walk(&path, out)?;
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// The image hash of `roots` (files or folders, relative to `base`): the MD5 of each file as
/// lowercase hex, sorted, each followed by `\n`, and the MD5 of that text (as the original's
/// `md5sum | sort | md5sum`). Paths do not count, only contents.
pub fn image_hash(base: &Path, roots: &[&str]) -> io::Result<String> {
    let mut digests = Vec::new();
    for root in roots {
        let path = base.join(root);
        let files = if path.is_file() {
            vec![path]
        } else {
            files_under(&path)?
        };
        for file in files {
            digests.push(hex(&Md5::digest(fs::read(&file)?)));
        }
    }
    digests.sort();
    let mut text = String::new();
    for d in digests {
        text.push_str(&d);
        text.push('\n');
    }
    Ok(hex(&Md5::digest(text.as_bytes())))
}

/// Folders directly under a crate's root that hold no code the crate's library or binary
/// is built from: Cargo's integration tests, benchmarks and examples. The asset fingerprint
/// leaves them out, as the image hash leaves out `agent-instance`'s tests, so that editing a
/// test never makes every user's next deploy update a Lambda. (A `tests` folder deeper down,
/// such as `src/tests/`, is a module of the crate and counts.)
pub const NOT_LINKED_FOLDERS: &[&str] = &["tests", "benches", "examples"];

/// The asset fingerprint of a Lambda: SHA-256 over its name and, for every file of `roots`
/// (files or folders, relative to `base`), the file's path relative to `base` and the SHA-256
/// of its content. Of a folder root, the files under its [`NOT_LINKED_FOLDERS`] are left out.
/// Line endings are normalized so a Windows checkout gives the same key.
pub fn asset_fingerprint(name: &str, base: &Path, roots: &[&str]) -> io::Result<String> {
    let mut hasher = Sha256::new();
    field(&mut hasher, "lambda", name.as_bytes());
    let mut files = Vec::new();
    for root in roots {
        let path = base.join(root);
        if path.is_file() {
            files.push(path);
        } else {
            let linked = files_under(&path)?
                .into_iter()
                .filter(|file| !in_unlinked_folder(&path, file));
            files.extend(linked);
        }
    }
    files.sort();
    for file in files {
        let relative = file
            .strip_prefix(base)
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        let content = normalize_newlines(fs::read(&file)?);
        let value = format!("{}:{}", content.len(), hex(&Sha256::digest(&content)));
        field(&mut hasher, &format!("file:{relative}"), value.as_bytes());
    }
    Ok(hex(&hasher.finalize()))
}

/// Whether `file` lies inside one of the [`NOT_LINKED_FOLDERS`] directly under `root`.
fn in_unlinked_folder(root: &Path, file: &Path) -> bool {
    let Ok(relative) = file.strip_prefix(root) else {
        return false;
    };
    let mut parts = relative.components();
    match (parts.next(), parts.next()) {
        (Some(top), Some(_)) => NOT_LINKED_FOLDERS.iter().any(|f| top.as_os_str() == *f),
        _ => false,
    }
}

fn field(hasher: &mut Sha256, header: &str, value: &[u8]) {
    hasher.update([0x01]);
    hasher.update(header.as_bytes());
    hasher.update([0x02]);
    hasher.update(value);
    hasher.update([0x03]);
}

// Text files (no NUL in the first 8 KiB) get CRLF → LF, as CDK's fingerprint does.
fn normalize_newlines(content: Vec<u8>) -> Vec<u8> {
    let head = &content[..content.len().min(8192)];
    if head.contains(&0) {
        return content;
    }
    let mut out = Vec::with_capacity(content.len());
    let mut i = 0;
    while i < content.len() {
        if content[i] == b'\r' && content.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(content[i]);
        i += 1;
    }
    out
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
