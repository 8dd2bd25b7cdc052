//! The lookup cache: the `cdk.context.json` file, read and written with CDK's key format
//! ([`context_key`], defined with the rest of the pure lookup resolution in
//! `stack_template::context`), so a checkout of the original keeps its cache and a cache
//! written here reads back in CDK.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::LookupError;

pub use stack_template::context_key;

/// The context file and its entries.
#[derive(Debug, Clone)]
pub struct ContextCache {
    path: PathBuf,
    entries: Map<String, Value>,
    dirty: bool,
}

impl ContextCache {
    /// Reads `path`; a missing file is an empty cache.
    pub fn load(path: &Path) -> Result<ContextCache, LookupError> {
        let entries = match std::fs::read_to_string(path) {
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    return Err(LookupError::ContextFile {
                        path: path.to_path_buf(),
                        reason: "it must hold a JSON object".into(),
                    });
                }
                Err(e) => {
                    return Err(LookupError::ContextFile {
                        path: path.to_path_buf(),
                        reason: format!("it is not valid JSON ({e})"),
                    });
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => {
                return Err(LookupError::ContextFile {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        };
        Ok(ContextCache {
            path: path.to_path_buf(),
            entries,
            dirty: false,
        })
    }

    /// The file this cache lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached value for a key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.get(key)
    }

    /// Every entry, for resolving lookups (`stack_template::resolve_lookups`).
    pub fn entries(&self) -> &Map<String, Value> {
        &self.entries
    }

    /// Records a value.
    pub fn insert(&mut self, key: String, value: Value) {
        self.entries.insert(key, value);
        self.dirty = true;
    }

    /// Writes the file if anything was added: to a temporary file first, then renamed, so an
    /// interrupted run never leaves a half-written cache.
    pub fn save(&mut self) -> Result<(), LookupError> {
        if !self.dirty {
            return Ok(());
        }
        let mut text = serde_json::to_string_pretty(&Value::Object(self.entries.clone()))
            .expect("JSON values serialize");
        text.push('\n');
        let tmp = self.path.with_extension("json.tmp");
        let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &self.path));
        result.map_err(|e| LookupError::ContextFile {
            path: self.path.clone(),
            reason: format!("it could not be written ({e})"),
        })?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack_template::LookupRequest;

    #[test]
    fn the_original_reference_cache_has_these_keys() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/cdk.context.json");
        let Ok(cache) = ContextCache::load(&path) else {
            return;
        };
        if cache.entries.is_empty() {
            eprintln!("skipped: ../shared/reference is not present");
            return;
        }
        for request in [
            LookupRequest::AvailabilityZones,
            LookupRequest::DefaultVpc,
            LookupRequest::VpcById {
                vpc_id: "vpc-1234".into(),
            },
            LookupRequest::SecurityGroup {
                group_id: "custom-security-group-id".into(),
            },
            LookupRequest::AmiById {
                image_id: "ami-custom".into(),
            },
        ] {
            let key = context_key(&request, "123456789012", "us-east-1");
            assert!(cache.get(&key).is_some(), "missing {key}");
        }
    }

    #[test]
    fn save_writes_only_when_changed_and_round_trips() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cdk.context.json");
        let mut cache = ContextCache::load(&path).expect("missing file is empty");
        cache.save().expect("nothing to save");
        assert!(!path.exists());
        cache.insert("k".into(), serde_json::json!(["a"]));
        cache.save().expect("saved");
        let again = ContextCache::load(&path).expect("reads back");
        assert_eq!(again.get("k"), Some(&serde_json::json!(["a"])));
    }

    #[test]
    fn broken_files_name_themselves() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cdk.context.json");
        std::fs::write(&path, "{oops").expect("write");
        let err = ContextCache::load(&path).expect_err("broken");
        assert!(err.to_string().contains("cdk.context.json"), "{err}");
    }
}
