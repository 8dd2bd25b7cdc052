//! The Lambda code bundle: the `manifest.json` that `package` writes next to the zips (and
//! that `deploy` checks each zip against before uploading it), and the uploads to the assets
//! bucket under content-addressed keys, so an object already there is never uploaded again.

use std::path::{Path, PathBuf};

use aws_support::AwsFailure;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::cloud::Storage;
pub use crate::error::AssetError;

/// The manifest's file name inside a `package` folder.
pub const MANIFEST: &str = "manifest.json";

/// One built zip, as listed in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The function's name (and the zip's base name).
    pub function: String,
    /// Where the zip was written.
    pub zip: String,
    /// The zip's size.
    pub bytes: u64,
    /// The zip's SHA-256, hex.
    pub sha256: String,
    /// The S3 key `synth` names for this function's code.
    pub s3_key: String,
}

impl ManifestEntry {
    /// The entry for the zip `bytes` of `function`, written to `zip`, uploaded under `s3_key`.
    pub fn new(function: &str, zip: &Path, bytes: &[u8], s3_key: &str) -> ManifestEntry {
        ManifestEntry {
            function: function.to_owned(),
            zip: zip.display().to_string(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            s3_key: s3_key.to_owned(),
        }
    }
}

/// The manifest's text: pretty JSON with a final newline.
pub fn manifest_text(entries: &[ManifestEntry]) -> Result<String, serde_json::Error> {
    Ok(serde_json::to_string_pretty(entries)? + "\n")
}

/// A zip read from a `package` folder and checked against its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalZip {
    /// The S3 key it goes to.
    pub key: String,
    /// Where it was read.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the zips for `keys` from the `package` folder `dir`, checking each against the
/// manifest's SHA-256 and S3 key (a zip built from other sources has another key).
pub fn local_zips(dir: &Path, keys: &[String]) -> Result<Vec<LocalZip>, AssetError> {
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).map_err(|source| {
        AssetError::ManifestUnreadable {
            path: manifest_path.clone(),
            source,
        }
    })?;
    let manifest: Vec<ManifestEntry> =
        serde_json::from_str(&text).map_err(|source| AssetError::ManifestInvalid {
            path: manifest_path.clone(),
            source,
        })?;
    let mut out = Vec::new();
    for key in keys {
        let Some(entry) = manifest.iter().find(|e| &e.s3_key == key) else {
            return Err(AssetError::NotInManifest {
                manifest: manifest_path,
                key: key.clone(),
                dir: dir.to_path_buf(),
            });
        };
        let path = dir.join(format!("{}.zip", entry.function));
        let bytes = std::fs::read(&path).map_err(|source| AssetError::ZipUnreadable {
            path: path.clone(),
            source,
        })?;
        let actual = sha256_hex(&bytes);
        if actual != entry.sha256 {
            return Err(AssetError::ZipMismatch {
                path,
                actual,
                expected: entry.sha256.clone(),
                dir: dir.to_path_buf(),
            });
        }
        out.push(LocalZip {
            key: key.clone(),
            path,
            bytes,
        });
    }
    Ok(out)
}

/// The keys of `keys` that `bucket` does not hold yet.
pub async fn missing(
    storage: &impl Storage,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<String>, AwsFailure> {
    let mut out = Vec::new();
    for key in keys {
        if !storage.object_exists(bucket, key).await? {
            out.push(key.clone());
        }
    }
    Ok(out)
}

/// Uploads `bytes` under `key`, with their SHA-256 for S3 to verify on arrival.
pub async fn upload(
    storage: &impl Storage,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<(), AwsFailure> {
    let digest = Sha256::digest(&bytes);
    let checksum = aws_smithy_types::base64::encode(digest.as_slice());
    storage.put_object(bucket, key, bytes, &checksum).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A package folder with zips `a` and `b` and their manifest.
    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut entries = Vec::new();
        for (name, bytes) in [("a", b"zip a".as_slice()), ("b", b"zip b".as_slice())] {
            let path = dir.path().join(format!("{name}.zip"));
            std::fs::write(&path, bytes).expect("zip");
            entries.push(ManifestEntry::new(
                name,
                &path,
                bytes,
                &format!("key-{name}"),
            ));
        }
        std::fs::write(
            dir.path().join(MANIFEST),
            manifest_text(&entries).expect("text"),
        )
        .expect("manifest");
        dir
    }

    #[test]
    fn a_written_manifest_verifies_its_zips() {
        let dir = folder();
        let zips = local_zips(dir.path(), &["key-b".to_owned()]).expect("verified");
        assert_eq!(zips.len(), 1);
        assert_eq!(zips[0].key, "key-b");
        assert_eq!(zips[0].bytes, b"zip b");
        assert_eq!(zips[0].path, dir.path().join("b.zip"));
    }

    #[test]
    fn what_a_package_folder_can_get_wrong() {
        type Spoil = fn(&Path);
        let cases: Vec<(&str, Spoil, &str)> = vec![
            (
                "no manifest",
                |d| std::fs::remove_file(d.join(MANIFEST)).expect("rm"),
                "cannot read",
            ),
            (
                "not a manifest",
                |d| std::fs::write(d.join(MANIFEST), "{}").expect("write"),
                "is not a package manifest",
            ),
            (
                "a zip changed after packaging",
                |d| std::fs::write(d.join("a.zip"), "other").expect("write"),
                "does not match its manifest",
            ),
            (
                "a zip is gone",
                |d| std::fs::remove_file(d.join("a.zip")).expect("rm"),
                "cannot read",
            ),
        ];
        for (name, spoil, expected) in cases {
            let dir = folder();
            spoil(dir.path());
            let err = local_zips(dir.path(), &["key-a".to_owned()]).expect_err(name);
            assert!(err.to_string().contains(expected), "{name}: {err}");
        }
        let dir = folder();
        let err = local_zips(dir.path(), &["key-other".to_owned()]).expect_err("other sources");
        assert!(
            err.to_string().contains("has no zip for key-other"),
            "{err}"
        );
    }

    #[test]
    fn hashes_are_lowercase_hex() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
