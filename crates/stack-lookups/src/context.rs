//! The lookup cache: `cdk.context.json`, with CDK's key format, so a checkout of the original
//! keeps its cache and a cache written here reads back in CDK.
//!
//! A key is `<provider>:` followed by the sorted `path=value` strings of the lookup's
//! properties plus `account` and `region`, joined by `:` (with `:` inside values escaped as
//! `$:`), e.g. `availability-zones:account=123456789012:region=us-east-1`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use stack_template::LookupRequest;

use crate::error::LookupError;

/// CDK's context key for a lookup in an account and region.
pub fn context_key(request: &LookupRequest, account: &str, region: &str) -> String {
    let escape = |s: &str| s.replace(':', "$:");
    let mut props: Vec<String> = vec![
        format!("account={}", escape(account)),
        format!("region={}", escape(region)),
    ];
    let provider = match request {
        LookupRequest::AmiByName { name } => {
            props.push("filters.image-type.0=machine".into());
            props.push(format!("filters.name.0={}", escape(name)));
            props.push("filters.state.0=available".into());
            props.push(format!("owners.0={}", escape(account)));
            "ami"
        }
        LookupRequest::AmiById { image_id } => {
            props.push(format!("filters.image-id.0={}", escape(image_id)));
            props.push("filters.image-type.0=machine".into());
            props.push("filters.name.0=*".into());
            props.push("filters.state.0=available".into());
            "ami"
        }
        LookupRequest::DefaultVpc => {
            props.push("filter.isDefault=true".into());
            props.push("returnAsymmetricSubnets=true".into());
            "vpc-provider"
        }
        LookupRequest::VpcById { vpc_id } => {
            props.push(format!("filter.vpc-id={}", escape(vpc_id)));
            props.push("returnAsymmetricSubnets=true".into());
            "vpc-provider"
        }
        LookupRequest::AvailabilityZones => "availability-zones",
        LookupRequest::SecurityGroup { group_id } => {
            props.push(format!("securityGroupId={}", escape(group_id)));
            "security-group"
        }
    };
    // CDK sorts the flattened strings by UTF-16 code units; for these ASCII keys that is
    // byte order.
    props.sort();
    format!("{provider}:{}", props.join(":"))
}

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

    #[test]
    fn keys_match_cdks_format() {
        let account = "123456789012";
        let region = "us-east-1";
        let cases = [
            (
                LookupRequest::AmiByName {
                    name: "semaphore-agent-v0.10.0-ubuntu-focal-x86_64-33acc910b3ca2d89bed6036d25df641b".into(),
                },
                "ami:account=123456789012:filters.image-type.0=machine:filters.name.0=semaphore-agent-v0.10.0-ubuntu-focal-x86_64-33acc910b3ca2d89bed6036d25df641b:filters.state.0=available:owners.0=123456789012:region=us-east-1",
            ),
            (
                LookupRequest::AmiById {
                    image_id: "ami-custom".into(),
                },
                "ami:account=123456789012:filters.image-id.0=ami-custom:filters.image-type.0=machine:filters.name.0=*:filters.state.0=available:region=us-east-1",
            ),
            (
                LookupRequest::AvailabilityZones,
                "availability-zones:account=123456789012:region=us-east-1",
            ),
            (
                LookupRequest::DefaultVpc,
                "vpc-provider:account=123456789012:filter.isDefault=true:region=us-east-1:returnAsymmetricSubnets=true",
            ),
            (
                LookupRequest::VpcById {
                    vpc_id: "vpc-000000000-custom".into(),
                },
                "vpc-provider:account=123456789012:filter.vpc-id=vpc-000000000-custom:region=us-east-1:returnAsymmetricSubnets=true",
            ),
            (
                LookupRequest::SecurityGroup {
                    group_id: "custom-security-group-id".into(),
                },
                "security-group:account=123456789012:region=us-east-1:securityGroupId=custom-security-group-id",
            ),
        ];
        for (request, expected) in cases {
            assert_eq!(context_key(&request, account, region), expected);
        }
    }

    #[test]
    fn colons_in_values_are_escaped() {
        let key = context_key(
            &LookupRequest::AmiById {
                image_id: "a:b".into(),
            },
            "1",
            "r",
        );
        assert!(key.contains("filters.image-id.0=a$:b"), "{key}");
    }

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
