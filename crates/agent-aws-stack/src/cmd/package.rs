//! `package`: builds the three Lambda zips (`bootstrap` for Linux arm64) from this
//! repository's sources with cargo-lambda (zig as the cross linker), reproducibly.
//!
//! Reproducible means: the same sources and toolchain give the same bytes. The build remaps
//! the checkout and Cargo home paths out of the binaries, and the zip holds one entry with a
//! fixed time stamp and mode, so neither where nor when it was built leaks into the bytes.

use std::fs;
use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use stack_deploy::assets::{MANIFEST, ManifestEntry, manifest_text};
use stack_template::assets::LambdaAsset;

/// Options of `package`.
#[derive(Debug, Args)]
pub struct PackageArgs {
    /// Folder for the zips (and `manifest.json`); created when missing.
    #[arg(long, value_name = "DIR", default_value = "dist/lambdas")]
    output: PathBuf,

    /// The agent-aws-stack source checkout to build from (default: the one this binary was
    /// built from, else the current directory).
    #[arg(long, value_name = "DIR")]
    source: Option<PathBuf>,
}

/// ELF machine number of AArch64.
const EM_AARCH64: u16 = 183;

/// Where `build` lists the zips it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// On stdout: the zips are `package`'s result.
    Stdout,
    /// On stderr: the build is a step of another command (`deploy`).
    Stderr,
}

/// Runs `package`.
pub fn run(args: PackageArgs) -> Result<()> {
    build(&args.output, args.source.as_deref(), Listing::Stdout)
}

/// Builds, checks and zips the three functions into `output`, with `manifest.json`.
pub fn build(output: &Path, source: Option<&Path>, listing: Listing) -> Result<()> {
    let root = source_root(source)?;
    check_cargo_lambda()?;
    for asset in LambdaAsset::ALL {
        let current = asset
            .current_fingerprint(&root)
            .with_context(|| format!("cannot read the sources of the {} Lambda", asset.name()))?;
        if current != asset.fingerprint() {
            eprintln!(
                "warning: the {} Lambda's sources changed since this agent-aws-stack binary was built; rebuild it so synth names the new zips",
                asset.name()
            );
        }
    }

    eprintln!(
        "==> building the Lambdas for linux/arm64 with cargo-lambda (the first build takes several minutes)"
    );
    let mut build = Command::new("cargo");
    build
        .current_dir(&root)
        .args(["lambda", "build", "--profile", "dist", "--arm64"]);
    for asset in LambdaAsset::ALL {
        build.args(["--package", asset.name()]);
    }
    build.env("RUSTFLAGS", remap_flags(&root));
    if listing == Listing::Stderr {
        // Part of another command whose stdout carries only its result (`deploy --json`).
        build.stdout(std::process::Stdio::from(std::io::stderr()));
    }
    let status = build.status().context("cannot run `cargo lambda build`")?;
    if !status.success() {
        bail!("`cargo lambda build` failed ({status}); its output above says why");
    }

    fs::create_dir_all(output).with_context(|| format!("cannot create {}", output.display()))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut manifest = Vec::new();
    for asset in LambdaAsset::ALL {
        let binary = target.join("lambda").join(asset.name()).join("bootstrap");
        let bytes = fs::read(&binary)
            .with_context(|| format!("cargo-lambda left no binary at {}", binary.display()))?;
        check_arm64_elf(&bytes).with_context(|| format!("{} is unusable", binary.display()))?;
        let zip = bootstrap_zip(&bytes)?;
        let file = output.join(format!("{}.zip", asset.name()));
        write_atomically(&file, &zip)?;
        let entry = ManifestEntry::new(asset.name(), &file, &zip, &asset.s3_key());
        let line = format!(
            "{:<24} {:>9} bytes  sha256 {}  -> s3 key {}",
            entry.zip, entry.bytes, entry.sha256, entry.s3_key
        );
        match listing {
            Listing::Stdout => println!("{line}"),
            Listing::Stderr => eprintln!("{line}"),
        }
        manifest.push(entry);
    }
    let text = manifest_text(&manifest)?;
    write_atomically(&output.join(MANIFEST), text.as_bytes())?;
    Ok(())
}

/// The checkout to build: `--source`, else the one this binary came from, else `.`.
fn source_root(flag: Option<&Path>) -> Result<PathBuf> {
    let is_checkout = |dir: &Path| dir.join("lambdas/scaler/Cargo.toml").is_file();
    let candidates: Vec<PathBuf> = match flag {
        Some(dir) => vec![dir.to_path_buf()],
        None => vec![
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
            PathBuf::from("."),
        ],
    };
    candidates
        .into_iter()
        .find(|dir| is_checkout(dir))
        .map(|dir| dir.canonicalize().unwrap_or(dir))
        .with_context(|| {
            "package builds the Lambdas from the agent-aws-stack sources: run it in a checkout of the repository or pass --source DIR"
        })
}

fn check_cargo_lambda() -> Result<()> {
    let found = Command::new("cargo")
        .args(["lambda", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        bail!(
            "cargo-lambda is not installed: install it with `pip install cargo-lambda` (it brings zig, the cross linker) and make sure `cargo lambda --version` works; see lambdas/README.md"
        );
    }
    Ok(())
}

/// Compiler flags that keep build paths out of the binaries.
fn remap_flags(root: &Path) -> String {
    let mut flags = vec![format!("--remap-path-prefix={}=/build", root.display())];
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags.join(" ")
}

/// Checks that `bytes` are a 64-bit little-endian ELF executable for AArch64.
fn check_arm64_elf(bytes: &[u8]) -> Result<()> {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        bail!("not an ELF binary");
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        bail!("not a 64-bit little-endian ELF binary");
    }
    let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    if machine != EM_AARCH64 {
        bail!("built for ELF machine {machine}, not AArch64 ({EM_AARCH64})");
    }
    Ok(())
}

/// A zip holding `binary` as an executable `bootstrap`, with a fixed time stamp (1980-01-01,
/// the zip epoch) so the same binary always gives the same bytes.
fn bootstrap_zip(binary: &[u8]) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("bootstrap", options)?;
    writer.write_all(binary)?;
    Ok(writer.finish()?.into_inner())
}

/// Writes through a temporary file in the same folder, so a reader never sees half a zip.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn zips_are_reproducible_and_hold_an_executable_bootstrap() {
        let binary: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let first = bootstrap_zip(&binary).expect("zip");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let second = bootstrap_zip(&binary).expect("zip");
        assert_eq!(
            first, second,
            "time of packaging must not leak into the zip"
        );

        let mut archive = zip::ZipArchive::new(Cursor::new(first)).expect("readable zip");
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).expect("entry");
        assert_eq!(entry.name().expect("utf-8 name"), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("inflate");
        assert_eq!(content, binary);
    }

    #[test]
    fn only_arm64_elf_binaries_pass() {
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[18..20].copy_from_slice(&EM_AARCH64.to_le_bytes());
        assert!(check_arm64_elf(&elf).is_ok());
        elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        let err = check_arm64_elf(&elf).expect_err("x86-64");
        assert!(err.to_string().contains("not AArch64"));
        assert!(check_arm64_elf(b"#!/bin/sh\n").is_err());
    }
}
