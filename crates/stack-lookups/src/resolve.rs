//! Resolving a configuration's lookups: from the context cache where present, otherwise from
//! EC2 (and recorded in the cache), or, with lookups disabled, an error listing every key
//! that is missing.

use serde_json::Value;
use stack_config::StackConfig;
use stack_template::{LookupRequest, Lookups, SecurityGroupInfo, VpcInfo, required_lookups};

use crate::context::{ContextCache, context_key};
use crate::ec2::{AmiQuery, Ec2Lookups, VpcFilter};
use crate::error::LookupError;

/// A lookup the cache lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingLookup {
    /// What to look up.
    pub request: LookupRequest,
    /// Its context key.
    pub key: String,
}

/// The lookups `config` needs that `cache` does not hold yet (each key once).
pub fn missing(
    config: &StackConfig,
    account: &str,
    region: &str,
    cache: &ContextCache,
) -> Vec<MissingLookup> {
    let mut out: Vec<MissingLookup> = Vec::new();
    for request in required_lookups(config) {
        let key = context_key(&request, account, region);
        if cache.get(&key).is_none() && !out.iter().any(|m| m.key == key) {
            out.push(MissingLookup { request, key });
        }
    }
    out
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
    let still_missing = missing(config, account, region, cache);
    if !still_missing.is_empty() {
        return Err(missing_error(cache, &still_missing));
    }
    let mut lookups = Lookups::default();
    for request in required_lookups(config) {
        let key = context_key(&request, account, region);
        let value = cache.get(&key).cloned().unwrap_or(Value::Null);
        let bad = |reason: String| LookupError::BadCachedValue {
            path: cache.path().to_path_buf(),
            key: key.clone(),
            reason,
        };
        match request {
            LookupRequest::AmiByName { .. } | LookupRequest::AmiById { .. } => {
                lookups.ami_id = value
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| bad("expected an image id string".into()))?
                    .to_owned();
            }
            LookupRequest::DefaultVpc | LookupRequest::VpcById { .. } => {
                let vpc: VpcInfo = serde_json::from_value(value)
                    .map_err(|e| bad(format!("expected a VPC description ({e})")))?;
                lookups.vpc = Some(vpc);
            }
            LookupRequest::AvailabilityZones => {
                let zones: Vec<String> = serde_json::from_value(value)
                    .map_err(|e| bad(format!("expected a list of zone names ({e})")))?;
                if zones.is_empty() {
                    return Err(bad("the list of availability zones is empty".into()));
                }
                lookups.availability_zones = Some(zones);
            }
            LookupRequest::SecurityGroup { .. } => {
                let sg: SecurityGroupInfo = serde_json::from_value(value)
                    .map_err(|e| bad(format!("expected a security group description ({e})")))?;
                lookups.security_group = Some(sg);
            }
        }
    }
    Ok(lookups)
}
