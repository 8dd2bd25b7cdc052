//! What the template tests share: paths of the fixtures, fixture lookups fed to the real
//! lookup resolver (`stack_template::resolve_lookups`), synthesis helpers, and matchers with
//! the semantics of CDK's `Template.hasResourceProperties` (objects partially, arrays
//! exactly). A module of this test binary; `benches/synth.rs` includes it by path. It is not a
//! crate so that nothing outside `stack-template` depends back on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};
use stack_config::{RawConfig, StackConfig};
use stack_template::{
    Environment, LookupRequest, Lookups, SecurityGroupInfo, SynthError, SynthInput, Synthesized,
    VpcInfo, context_key, required_lookups, resolve_lookups,
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

/// Lookup results for tests (`tests/fixtures/lookups.json`), keyed by meaning rather than by
/// CDK's context key, so fixtures do not change when the Packer tree (and so the AMI name)
/// changes. They reach synthesis the way a real run's do: as a context map under CDK's keys
/// ([`FixtureLookups::context_for`]), resolved by `stack_template::resolve_lookups`.
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

    /// The environment of the fixtures.
    pub fn environment(&self) -> Environment {
        Environment {
            account: self.account.clone(),
            region: self.region.clone(),
        }
    }

    /// The context `config` would find in a `cdk.context.json` of the fixtures' account and
    /// region: for each lookup it needs, the fixture of the same meaning under CDK's real key.
    /// A lookup without a fixture is left out, so the resolver reports its key as missing.
    pub fn context_for(&self, config: &StackConfig) -> Map<String, Value> {
        let mut context = Map::new();
        for request in required_lookups(config) {
            let value = match &request {
                LookupRequest::AmiByName { .. } => self
                    .ami_by_name
                    .get(&format!("{}-{}", config.os.as_str(), config.arch))
                    .map(to_json),
                LookupRequest::AmiById { image_id } => self.ami_by_id.get(image_id).map(to_json),
                LookupRequest::DefaultVpc => self.vpcs.get("default").map(to_json),
                LookupRequest::VpcById { vpc_id } => self.vpcs.get(vpc_id).map(to_json),
                LookupRequest::AvailabilityZones => self.availability_zones.as_ref().map(to_json),
                LookupRequest::SecurityGroup { group_id } => {
                    self.security_groups.get(group_id).map(to_json)
                }
            };
            if let Some(value) = value {
                context.insert(context_key(&request, &self.account, &self.region), value);
            }
        }
        context
    }

    /// `config`'s lookups, resolved from [`Self::context_for`] by the real resolver; panics
    /// with the resolver's error (which names the missing or bad key).
    pub fn resolve(&self, config: &StackConfig) -> Lookups {
        resolve_lookups(
            config,
            &self.account,
            &self.region,
            &self.context_for(config),
        )
        .unwrap_or_else(|e| panic!("fixture lookups: {e}"))
    }
}

/// A fixture value as the context value a lookup would have recorded.
fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("fixture values serialize")
}

/// The original's `cdk.context.json` (in `../shared/reference`) as `config` would find it.
/// Every key is CDK's own and kept, except that the original's AMI names carry its version
/// and its Packer tree's hash (`semaphore-agent-v0.10.0-ubuntu-focal-x86_64-33acc…`) where ours
/// carry this workspace's: the original's image key with the same `<os>-<arch>` is re-keyed
/// by rewriting its name part to the name `config` asks for. The result goes to the real
/// resolver like any context.
pub fn reference_context(context: &Map<String, Value>, config: &StackConfig) -> Map<String, Value> {
    let mut out = context.clone();
    for request in required_lookups(config) {
        let LookupRequest::AmiByName { name } = request else {
            continue;
        };
        let found = context.iter().find_map(|(key, value)| {
            let old = key
                .split(':')
                .find_map(|part| part.strip_prefix("filters.name.0="))?;
            (old.starts_with("semaphore-agent-v") && image_os_arch(old) == image_os_arch(&name))
                .then_some((key, old, value))
        });
        if let Some((key, old, value)) = found {
            let rekeyed = key.replace(
                &format!("filters.name.0={old}"),
                &format!("filters.name.0={name}"),
            );
            out.insert(rekeyed, value.clone());
        }
    }
    out
}

/// `<os>-<arch>` of an image name `semaphore-agent-v<version>-<os>-<arch>-<hash>`.
fn image_os_arch(name: &str) -> &str {
    let without_hash = name.rsplit_once('-').map_or(name, |(rest, _)| rest);
    without_hash
        .strip_prefix("semaphore-agent-v")
        .and_then(|s| s.split_once('-'))
        .map_or(without_hash, |(_, os_arch)| os_arch)
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
    synth_resolved(
        config,
        &lookups.resolve(config),
        &lookups.environment(),
        keys,
    )
}

/// Synthesizes a validated config with lookups already resolved.
pub fn synth_resolved(
    config: &StackConfig,
    lookups: &Lookups,
    environment: &Environment,
    keys: &[String],
) -> Result<Synthesized, SynthError> {
    stack_template::synth(SynthInput {
        config,
        lookups,
        environment,
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
///
/// `stack_deploy::diff::references` answers a similar question for the deploy engine (without
/// pseudo parameters, with `Fn::Sub`); this copy stays because `stack-template` cannot use
/// `stack-deploy`, even as a dev-dependency: it pulls in the AWS SDK, which
/// `cargo test -p stack-template` must never compile.
pub fn references(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, out: &mut BTreeSet<String>) {
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
    let mut out = BTreeSet::new();
    walk(value, &mut out);
    out
}
