//! Shared test support: fixture lookups, the original's reference data, and matchers with the
//! semantics of CDK's `Template.hasResourceProperties` (objects partially, arrays exactly).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use stack_config::{RawConfig, StackConfig};
use stack_template::{
    Environment, LookupRequest, Lookups, SecurityGroupInfo, SynthError, SynthInput, Synthesized,
    VpcInfo, required_lookups,
};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tests/fixtures` of the workspace.
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("tests/fixtures")
}

/// `../shared/reference` beside the repository, when it exists (CI has it; a fresh clone
/// does not, and tests using it then skip).
pub fn reference_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/reference");
    dir.is_dir().then_some(dir)
}

/// Lookup results for tests, keyed by meaning rather than by cache key, so fixtures do not
/// change when the Packer tree (and so the AMI name) changes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureLookups {
    /// Account of the fixtures.
    pub account: String,
    /// Region of the fixtures.
    pub region: String,
    /// AMI by `<os>-<arch>` of the image name.
    #[serde(default)]
    pub ami_by_name: BTreeMap<String, String>,
    /// AMI by image id.
    #[serde(default)]
    pub ami_by_id: BTreeMap<String, String>,
    /// VPCs by id, and the default VPC under `default`.
    #[serde(default)]
    pub vpcs: BTreeMap<String, VpcInfo>,
    /// Availability zones of the region.
    #[serde(default)]
    pub availability_zones: Option<Vec<String>>,
    /// Security groups by id.
    #[serde(default)]
    pub security_groups: BTreeMap<String, SecurityGroupInfo>,
}

impl FixtureLookups {
    /// Reads `tests/fixtures/lookups.json`.
    pub fn load_default() -> FixtureLookups {
        let path = fixtures_dir().join("lookups.json");
        let text = std::fs::read_to_string(&path).expect("tests/fixtures/lookups.json exists");
        serde_json::from_str(&text).expect("lookups.json is valid")
    }

    /// Reads the original's `cdk.context.json` (keys in CDK's format), mapping image-name
    /// keys to `<os>-<arch>` whatever their version and hash.
    pub fn from_cdk_context(context: &Value, account: &str, region: &str) -> FixtureLookups {
        let mut out = FixtureLookups {
            account: account.into(),
            region: region.into(),
            ..Default::default()
        };
        let Some(entries) = context.as_object() else {
            return out;
        };
        for (key, value) in entries {
            let (provider, rest) = key.split_once(':').unwrap_or((key, ""));
            let props: BTreeMap<&str, &str> =
                rest.split(':').filter_map(|p| p.split_once('=')).collect();
            match provider {
                "ami" => {
                    let id = value.as_str().unwrap_or_default().to_owned();
                    if let Some(image_id) = props.get("filters.image-id.0") {
                        out.ami_by_id.insert((*image_id).into(), id);
                    } else if let Some(name) = props.get("filters.name.0") {
                        // semaphore-agent-v<version>-<os>-<arch>-<hash>
                        let without_hash = name.rsplit_once('-').map_or(*name, |(a, _)| a);
                        let os_arch = without_hash
                            .strip_prefix("semaphore-agent-v")
                            .and_then(|s| s.split_once('-'))
                            .map_or(without_hash, |(_, rest)| rest);
                        out.ami_by_name.insert(os_arch.into(), id);
                    }
                }
                "availability-zones" => {
                    out.availability_zones = serde_json::from_value(value.clone()).ok();
                }
                "vpc-provider" => {
                    let vpc: VpcInfo =
                        serde_json::from_value(value.clone()).expect("VPC context value");
                    let name = if props.contains_key("filter.isDefault") {
                        "default".to_owned()
                    } else {
                        props
                            .get("filter.vpc-id")
                            .map_or(String::new(), |s| (*s).into())
                    };
                    out.vpcs.insert(name, vpc);
                }
                "security-group" => {
                    let sg: SecurityGroupInfo =
                        serde_json::from_value(value.clone()).expect("SG context value");
                    if let Some(id) = props.get("securityGroupId") {
                        out.security_groups.insert((*id).into(), sg);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The environment of the fixtures.
    pub fn environment(&self) -> Environment {
        Environment {
            account: self.account.clone(),
            region: self.region.clone(),
        }
    }

    /// Resolves the lookups `config` needs; panics naming a missing fixture.
    pub fn resolve(&self, config: &StackConfig) -> Lookups {
        let mut lookups = Lookups::default();
        for request in required_lookups(config) {
            match request {
                LookupRequest::AmiByName { .. } => {
                    let key = format!("{}-{}", config.os.as_str(), config.arch);
                    lookups.ami_id = self
                        .ami_by_name
                        .get(&key)
                        .unwrap_or_else(|| panic!("no fixture AMI for {key}"))
                        .clone();
                }
                LookupRequest::AmiById { image_id } => {
                    lookups.ami_id = self
                        .ami_by_id
                        .get(&image_id)
                        .unwrap_or_else(|| panic!("no fixture AMI {image_id}"))
                        .clone();
                }
                LookupRequest::DefaultVpc => {
                    lookups.vpc = Some(self.vpcs.get("default").expect("default VPC").clone());
                }
                LookupRequest::VpcById { vpc_id } => {
                    lookups.vpc = Some(
                        self.vpcs
                            .get(&vpc_id)
                            .unwrap_or_else(|| panic!("no fixture VPC {vpc_id}"))
                            .clone(),
                    );
                }
                LookupRequest::AvailabilityZones => {
                    lookups.availability_zones =
                        Some(self.availability_zones.clone().expect("fixture AZs"));
                }
                LookupRequest::SecurityGroup { group_id } => {
                    lookups.security_group = Some(
                        self.security_groups
                            .get(&group_id)
                            .unwrap_or_else(|| panic!("no fixture SG {group_id}"))
                            .clone(),
                    );
                }
            }
        }
        lookups
    }
}

/// GitHub keys of the fixtures (`tests/fixtures/gh_ssh_keys.json`).
pub fn fixture_ssh_keys() -> Vec<String> {
    let text = std::fs::read_to_string(fixtures_dir().join("gh_ssh_keys.json"))
        .expect("tests/fixtures/gh_ssh_keys.json exists");
    serde_json::from_str(&text).expect("a JSON array of strings")
}

/// Validates `pairs` (environment-style) and synthesizes with `lookups` and `keys`.
pub fn synth_pairs(
    pairs: &[(&str, &str)],
    lookups: &FixtureLookups,
    keys: &[String],
) -> Result<Synthesized, SynthError> {
    let raw = RawConfig::from_pairs(pairs.iter().copied());
    let config = StackConfig::from_raw(&raw)
        .unwrap_or_else(|e| panic!("config should be valid: {e}"))
        .config;
    synth_config(&config, lookups, keys)
}

/// Synthesizes a validated config with fixture lookups.
pub fn synth_config(
    config: &StackConfig,
    lookups: &FixtureLookups,
    keys: &[String],
) -> Result<Synthesized, SynthError> {
    let resolved = lookups.resolve(config);
    let environment = lookups.environment();
    stack_template::synth(SynthInput {
        config,
        lookups: &resolved,
        environment: &environment,
        ssh_keys: keys,
    })
}

/// CDK's `objectLike` matching: every key of `expected` must match in `actual` (objects
/// recursively partial), arrays must match element by element with the same length, and
/// scalars must be equal. The string `"<any>"` matches any present value, and `"<absent>"`
/// as an object value requires the key to be missing.
pub fn object_like(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (_, Value::String(s)) if s == "<any>" => true,
        (Value::Object(a), Value::Object(e)) => e.iter().all(|(k, ev)| {
            if ev.as_str() == Some("<absent>") {
                !a.contains_key(k)
            } else {
                a.get(k).is_some_and(|av| object_like(av, ev))
            }
        }),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(av, ev)| object_like(av, ev))
        }
        (a, e) => a == e,
    }
}

/// `hasResourceProperties`: some resource of `kind` has properties matching `expected`.
pub fn has_resource_properties(template: &Value, kind: &str, expected: &Value) -> bool {
    resources_of_type(template, kind).any(|(_, r)| {
        let props = r
            .get("Properties")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        object_like(&props, expected)
    })
}

/// Resources of one type in a template JSON.
pub fn resources_of_type<'a>(
    template: &'a Value,
    kind: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
    template["Resources"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.iter())
        .filter(move |(_, r)| r["Type"] == kind)
}

/// A unified diff of two JSON values, pretty-printed, for assertion messages.
pub fn json_diff(expected: &Value, actual: &Value) -> String {
    let e = serde_json::to_string_pretty(expected).expect("serializes");
    let a = serde_json::to_string_pretty(actual).expect("serializes");
    similar::TextDiff::from_lines(&e, &a)
        .unified_diff()
        .context_radius(4)
        .header("expected", "actual")
        .to_string()
}

/// Every logical ID a JSON value names through `Ref` or `Fn::GetAtt` (pseudo parameters such
/// as `AWS::Partition` included).
pub fn references(value: &Value) -> std::collections::BTreeSet<String> {
    fn walk(value: &Value, out: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("Ref") {
                    out.insert(target.clone());
                }
                if let Some(target) = map
                    .get("Fn::GetAtt")
                    .and_then(|a| a.get(0))
                    .and_then(Value::as_str)
                {
                    out.insert(target.to_owned());
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(value, &mut out);
    out
}
