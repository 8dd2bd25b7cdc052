//! Resolving a configuration's lookups: from the context cache where present, otherwise from
//! EC2 (and recorded in the cache), or, with lookups disabled, an error listing every key
//! that is missing. Which keys a configuration needs and how their values become
//! [`Lookups`] is pure and lives in `stack_template::context`; this module adds the file
//! (its path in errors) and the EC2 calls.

use serde_json::Value;
use stack_config::StackConfig;
use stack_template::{ContextError, LookupRequest, Lookups, missing_lookups, resolve_lookups};

use crate::context::ContextCache;
use crate::ec2::{AmiQuery, Ec2Lookups, VpcFilter};
use crate::error::LookupError;

pub use stack_template::MissingLookup;

/// The lookups `config` needs that `cache` does not hold yet (each key once).
pub fn missing(
    config: &StackConfig,
    account: &str,
    region: &str,
    cache: &ContextCache,
) -> Vec<MissingLookup> {
    missing_lookups(config, account, region, cache.entries())
}

/// The error for `--no-lookups` with values missing.
pub fn missing_error(cache: &ContextCache, missing: &[MissingLookup]) -> LookupError {
    LookupError::Missing {
        path: cache.path().to_path_buf(),
        keys: missing.iter().map(|m| m.key.clone()).collect(),
    }
}

/// Looks up every missing value with `ec2` and records it in `cache` (not yet saved).
pub async fn fill<P: Ec2Lookups>(
    ec2: &P,
    account: &str,
    cache: &mut ContextCache,
    missing: Vec<MissingLookup>,
) -> Result<(), LookupError> {
    for MissingLookup { request, key } in missing {
        let value = match &request {
            LookupRequest::AmiByName { name } => Value::String(
                ec2.image_id(&AmiQuery::Name {
                    name: name.clone(),
                    owner: account.to_owned(),
                })
                .await?,
            ),
            LookupRequest::AmiById { image_id } => {
                Value::String(ec2.image_id(&AmiQuery::Id(image_id.clone())).await?)
            }
            LookupRequest::DefaultVpc => to_value(ec2.vpc(&VpcFilter::Default).await?),
            LookupRequest::VpcById { vpc_id } => {
                to_value(ec2.vpc(&VpcFilter::Id(vpc_id.clone())).await?)
            }
            LookupRequest::AvailabilityZones => to_value(ec2.availability_zones().await?),
            LookupRequest::SecurityGroup { group_id } => {
                to_value(ec2.security_group(group_id).await?)
            }
        };
        cache.insert(key, value);
    }
    Ok(())
}

fn to_value<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("lookup results serialize")
}

/// Builds the lookups from the cache, which must hold every key `config` needs.
pub fn from_cache(
    config: &StackConfig,
    account: &str,
    region: &str,
    cache: &ContextCache,
) -> Result<Lookups, LookupError> {
    resolve_lookups(config, account, region, cache.entries()).map_err(|e| match e {
        ContextError::Missing { missing } => missing_error(cache, &missing),
        ContextError::BadValue { key, reason } => LookupError::BadCachedValue {
            path: cache.path().to_path_buf(),
            key,
            reason,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack_config::RawConfig;
    use stack_template::{context_key, required_lookups};

    fn config() -> StackConfig {
        let raw = RawConfig::from_pairs([
            ("SEMAPHORE_AGENT_STACK_NAME", "test-stack"),
            ("SEMAPHORE_ORGANIZATION", "test"),
            ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "test-token"),
            ("SEMAPHORE_AGENT_AMI", "ami-given"),
        ]);
        StackConfig::from_raw(&raw).expect("valid").config
    }

    #[test]
    fn errors_from_the_cache_name_its_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cdk.context.json");
        let config = config();
        let mut cache = ContextCache::load(&path).expect("empty cache");

        let missing_err =
            from_cache(&config, "123456789012", "us-east-1", &cache).expect_err("nothing cached");
        assert!(
            matches!(&missing_err, LookupError::Missing { path: p, keys } if p == &path && keys.len() == required_lookups(&config).len()),
            "{missing_err}"
        );

        for request in required_lookups(&config) {
            let key = context_key(&request, "123456789012", "us-east-1");
            cache.insert(key, serde_json::json!(""));
        }
        let bad = from_cache(&config, "123456789012", "us-east-1", &cache).expect_err("bad values");
        assert!(
            matches!(&bad, LookupError::BadCachedValue { path: p, .. } if p == &path),
            "{bad}"
        );
        assert!(bad.to_string().contains("cdk.context.json"), "{bad}");
    }
}
