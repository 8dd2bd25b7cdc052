//! CDK's lookup context, as data: the key a lookup is recorded under ([`context_key`]) and the
//! resolution of a configuration's lookups from a key → value map ([`missing_lookups`],
//! [`resolve_lookups`]). Reading and writing the `cdk.context.json` file and asking EC2 for
//! missing values are `stack-lookups`' job; tests feed their fixtures through the same
//! functions, so there is one resolver.
//!
//! A key is `<provider>:` followed by the sorted `path=value` strings of the lookup's
//! properties plus `account` and `region`, joined by `:` (with `:` inside values escaped as
//! `$:`), e.g. `availability-zones:account=123456789012:region=us-east-1`. The format is CDK's,
//! so a checkout of the original keeps its cache and a cache written here reads back in CDK.

use serde_json::{Map, Value};
use stack_config::StackConfig;

use crate::error::ContextError;
use crate::lookups::{LookupRequest, Lookups, SecurityGroupInfo, VpcInfo, required_lookups};

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

/// A lookup the context lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingLookup {
    /// What to look up.
    pub request: LookupRequest,
    /// Its context key.
    pub key: String,
}

/// The lookups `config` needs in `account` and `region` that `context` does not hold yet, in
/// the order [`required_lookups`] gives them, each key once.
pub fn missing_lookups(
    config: &StackConfig,
    account: &str,
    region: &str,
    context: &Map<String, Value>,
) -> Vec<MissingLookup> {
    let mut out: Vec<MissingLookup> = Vec::new();
    for request in required_lookups(config) {
        let key = context_key(&request, account, region);
        if !context.contains_key(&key) && !out.iter().any(|m| m.key == key) {
            out.push(MissingLookup { request, key });
        }
    }
    out
}

/// Builds the lookups `config` needs in `account` and `region` from `context`, which must hold
/// every key (CDK's format) with a value of the lookup's shape. Keys `config` does not need
/// are ignored.
pub fn resolve_lookups(
    config: &StackConfig,
    account: &str,
    region: &str,
    context: &Map<String, Value>,
) -> Result<Lookups, ContextError> {
    let missing = missing_lookups(config, account, region, context);
    if !missing.is_empty() {
        return Err(ContextError::Missing { missing });
    }
    let mut lookups = Lookups::default();
    for request in required_lookups(config) {
        let key = context_key(&request, account, region);
        let value = context.get(&key).cloned().unwrap_or(Value::Null);
        let bad = |reason: String| ContextError::BadValue {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stack_config::RawConfig;

    const ACCOUNT: &str = "123456789012";
    const REGION: &str = "us-east-1";

    fn config(extra: &[(&str, &str)]) -> StackConfig {
        let mut pairs = vec![
            ("SEMAPHORE_AGENT_STACK_NAME", "test-stack"),
            ("SEMAPHORE_ORGANIZATION", "test"),
            ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "test-token"),
        ];
        pairs.extend_from_slice(extra);
        StackConfig::from_raw(&RawConfig::from_pairs(pairs))
            .expect("valid config")
            .config
    }

    fn vpc_value(id: &str) -> Value {
        json!({
            "vpcId": id,
            "vpcCidrBlock": "10.0.0.0/16",
            "availabilityZones": [],
            "subnetGroups": [{
                "name": "Private",
                "type": "Private",
                "subnets": [{
                    "subnetId": "subnet-1",
                    "cidr": "10.0.0.0/24",
                    "availabilityZone": "us-east-1a",
                    "routeTableId": "rtb-1"
                }]
            }]
        })
    }

    /// A context holding every value `config` needs, with good values.
    fn full_context(config: &StackConfig) -> Map<String, Value> {
        required_lookups(config)
            .into_iter()
            .map(|request| {
                let value = match &request {
                    LookupRequest::AmiByName { .. } | LookupRequest::AmiById { .. } => {
                        json!("ami-0123")
                    }
                    LookupRequest::DefaultVpc => vpc_value("vpc-default"),
                    LookupRequest::VpcById { vpc_id } => vpc_value(vpc_id),
                    LookupRequest::AvailabilityZones => json!(["us-east-1a", "us-east-1b"]),
                    LookupRequest::SecurityGroup { group_id } => {
                        json!({"securityGroupId": group_id, "allowAllOutbound": true})
                    }
                };
                (context_key(&request, ACCOUNT, REGION), value)
            })
            .collect()
    }

    #[test]
    fn keys_match_cdks_format() {
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
            assert_eq!(context_key(&request, ACCOUNT, REGION), expected);
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
    fn a_full_context_resolves_every_lookup() {
        let cases = [
            ("default VPC, named AMI, region's zones", config(&[])),
            (
                "custom VPC and security group with the scaler",
                config(&[
                    ("SEMAPHORE_AGENT_VPC_ID", "vpc-custom"),
                    ("SEMAPHORE_AGENT_SUBNETS", "subnet-1"),
                    ("SEMAPHORE_AGENT_SECURITY_GROUP_ID", "sg-custom"),
                    ("SEMAPHORE_AGENT_AMI", "ami-given"),
                ]),
            ),
        ];
        for (name, config) in cases {
            let mut context = full_context(&config);
            context.insert("unrelated:key".into(), json!("ignored"));
            let lookups = resolve_lookups(&config, ACCOUNT, REGION, &context)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(lookups.ami_id, "ami-0123", "{name}");
            assert!(lookups.vpc.is_some(), "{name}");
            assert_eq!(
                lookups.availability_zones.is_some(),
                config.vpc.is_none(),
                "{name}"
            );
            assert_eq!(
                lookups.security_group.is_some(),
                config.security_group_id.is_some(),
                "{name}"
            );
        }
    }

    #[test]
    fn missing_values_are_listed_in_order_each_key_once() {
        // With the scaler, a custom VPC and a security group, the VPC is needed twice (the
        // scaler's placement); its key is listed once.
        let config = config(&[
            ("SEMAPHORE_AGENT_VPC_ID", "vpc-custom"),
            ("SEMAPHORE_AGENT_SUBNETS", "subnet-1"),
            ("SEMAPHORE_AGENT_SECURITY_GROUP_ID", "sg-custom"),
        ]);
        let mut context = full_context(&config);
        let sg_key = context_key(
            &LookupRequest::SecurityGroup {
                group_id: "sg-custom".into(),
            },
            ACCOUNT,
            REGION,
        );
        context.remove(&sg_key);
        let vpc_key = context_key(
            &LookupRequest::VpcById {
                vpc_id: "vpc-custom".into(),
            },
            ACCOUNT,
            REGION,
        );
        context.remove(&vpc_key);
        let keys: Vec<String> = missing_lookups(&config, ACCOUNT, REGION, &context)
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(keys, [sg_key.clone(), vpc_key.clone()]);
        match resolve_lookups(&config, ACCOUNT, REGION, &context) {
            Err(ContextError::Missing { missing }) => {
                assert_eq!(missing.len(), 2);
                assert_eq!(missing[0].key, sg_key);
            }
            other => panic!("expected missing keys, got {other:?}"),
        }
    }

    #[test]
    fn keys_of_another_account_or_region_do_not_count() {
        let config = config(&[]);
        let context = full_context(&config);
        let missing = missing_lookups(&config, ACCOUNT, "eu-west-1", &context);
        assert_eq!(missing.len(), required_lookups(&config).len());
    }

    #[test]
    fn bad_values_name_their_key_and_what_was_expected() {
        let config = config(&[]);
        let cases: [(&str, LookupRequest, Value, &str); 4] = [
            (
                "an empty image id",
                LookupRequest::AmiByName {
                    name: crate::ami_name(&config),
                },
                json!(""),
                "expected an image id string",
            ),
            (
                "a VPC that is a string",
                LookupRequest::DefaultVpc,
                json!("vpc-1"),
                "expected a VPC description (",
            ),
            (
                "zones that are not strings",
                LookupRequest::AvailabilityZones,
                json!([1, 2]),
                "expected a list of zone names (",
            ),
            (
                "no zones at all",
                LookupRequest::AvailabilityZones,
                json!([]),
                "the list of availability zones is empty",
            ),
        ];
        for (name, request, value, reason) in cases {
            let mut context = full_context(&config);
            let key = context_key(&request, ACCOUNT, REGION);
            context.insert(key.clone(), value);
            let err = resolve_lookups(&config, ACCOUNT, REGION, &context)
                .expect_err("a bad value is refused");
            match &err {
                ContextError::BadValue {
                    key: bad_key,
                    reason: why,
                } => {
                    assert_eq!(bad_key, &key, "{name}");
                    assert!(why.starts_with(reason), "{name}: {why}");
                }
                other => panic!("{name}: expected a bad value, got {other:?}"),
            }
            assert!(err.to_string().contains(&key), "{name}: {err}");
        }
    }
}
