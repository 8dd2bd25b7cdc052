//! The validated, typed configuration ([`StackConfig`]) and the one function that builds it
//! from a [`RawConfig`], applying defaults and every validation rule. All problems are collected
//! and reported together.
//!
//! Values that the template writes verbatim (ASG sizes, the overprovision factor, macOS host
//! flags) are kept as the user wrote them, so templates stay byte-compatible with the
//! original's; they are still checked here. Values that an instance or the agent parses (the
//! disconnect settings, the architecture) are validated with the readers' own rules from
//! `stack-contract` and kept typed, so a configuration that passes here boots.

use serde::Serialize;
use serde_json::Value;

use crate::error::ConfigError;
use crate::params::*;
use crate::parse::{self, Tag};
use crate::raw::RawConfig;
use stack_contract::agent_params;

/// Longest stack name the original accepts (CloudFormation's own limit).
pub const MAX_STACK_NAME_LEN: usize = 128;

/// The longest suffix appended to the stack name in an IAM policy name
/// (`<stack>-az-rebalance-suspender-policy`); IAM policy names are limited to 128 characters.
const LONGEST_POLICY_SUFFIX: &str = "-az-rebalance-suspender-policy";

/// Shortest non-zero `MaxInstanceLifetime` Auto Scaling accepts (one day).
pub const MIN_INSTANCE_LIFETIME_SECS: i64 = 86_400;

/// The agent operating system, which selects the Packer tree, the user data and macOS extras.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AgentOs {
    /// Any `ubuntu-*` value (built from `packer/linux`).
    Ubuntu(String),
    /// `windows`.
    Windows,
    /// `macos`.
    MacOs,
    /// Anything else; only usable with `SEMAPHORE_AGENT_AMI`.
    Other(String),
}

impl AgentOs {
    fn parse(value: &str) -> AgentOs {
        match value {
            "windows" => AgentOs::Windows,
            "macos" => AgentOs::MacOs,
            v if v.starts_with("ubuntu-") => AgentOs::Ubuntu(v.to_owned()),
            v => AgentOs::Other(v.to_owned()),
        }
    }

    /// The value as written in the configuration (and in the AMI name).
    pub fn as_str(&self) -> &str {
        match self {
            AgentOs::Ubuntu(v) | AgentOs::Other(v) => v,
            AgentOs::Windows => "windows",
            AgentOs::MacOs => "macos",
        }
    }

    /// The folder under `packer/` whose contents the AMI name hashes.
    pub fn packer_folder(&self) -> &str {
        match self {
            AgentOs::Ubuntu(_) => "linux",
            other => other.as_str(),
        }
    }
}

/// The EBS root volume, configured only when `SEMAPHORE_AGENT_VOLUME_NAME` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// Device name, e.g. `/dev/sda1`.
    pub device_name: String,
    /// Volume type, verbatim (e.g. `gp3`).
    pub volume_type: String,
    /// Size in GiB.
    pub size_gib: i64,
    /// Provisioned IOPS.
    pub iops: Option<i64>,
    /// Throughput in MiB/s (written only for `gp3`).
    pub throughput_mibps: Option<i64>,
}

/// The VPC given by `SEMAPHORE_AGENT_VPC_ID` with its `SEMAPHORE_AGENT_SUBNETS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VpcPlacement {
    /// The VPC id.
    pub vpc_id: String,
    /// The subnets for the agents and the scaler Lambda (never empty).
    pub subnets: Vec<String>,
}

/// macOS host settings (used only when the OS is `macos`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MacHosts {
    /// License Manager configuration ARN.
    pub license_configuration_arn: String,
    /// Allowed host families, e.g. `mac2`.
    pub families: Vec<String>,
    /// Dedicated host ids put into the host resource group.
    pub dedicated_hosts: Vec<String>,
    /// `auto-allocate-host`, verbatim.
    pub auto_allocate_host: String,
    /// `auto-release-host`, verbatim.
    pub auto_release_host: String,
}

/// The scaler's overprovisioning settings: passed to the Lambda verbatim, validated with
/// the scaler's own reader ([`stack_contract::Overprovision::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overprovision {
    /// `none`, `number` or `percentage`.
    pub strategy: String,
    /// The factor exactly as written (the original validated it with `parseInt` but passed
    /// the string on).
    pub factor: String,
}

/// The agents' CPU architecture (`SEMAPHORE_AGENT_ARCH`), which selects the AMI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Arch {
    /// `x86_64`.
    #[serde(rename = "x86_64")]
    X86_64,
    /// `arm64`.
    #[serde(rename = "arm64")]
    Arm64,
}

impl Arch {
    /// The value as written in the configuration and in AMI names.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    fn parse(text: &str) -> Option<Arch> {
        match text {
            "x86_64" => Some(Arch::X86_64),
            "arm64" => Some(Arch::Arm64),
            _ => None,
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The on-demand/spot mix of the mixed instances policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstancesDistribution {
    /// `OnDemandBaseCapacity`.
    pub on_demand_base_capacity: i64,
    /// `OnDemandPercentageAboveBaseCapacity`.
    pub on_demand_percentage_above_base: i64,
    /// `OnDemandAllocationStrategy`.
    pub on_demand_allocation_strategy: Option<String>,
    /// `SpotAllocationStrategy`.
    pub spot_allocation_strategy: Option<String>,
}

/// Instance metadata service options (not in the original, which left IMDSv1 enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Imds {
    /// Require IMDSv2 session tokens.
    pub require_v2: bool,
    /// `HttpPutResponseHopLimit`.
    pub hop_limit: u8,
}

/// The validated configuration of one agent stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackConfig {
    /// CloudFormation stack name.
    pub stack_name: String,
    /// SSM parameter holding the agent token.
    pub token_parameter_name: String,
    /// Semaphore endpoint (`SEMAPHORE_ENDPOINT` or `<org>.semaphoreci.com`).
    pub endpoint: String,
    /// Launch template instance type.
    pub instance_type: String,
    /// ASG `MinSize`, as written.
    pub asg_min_size: String,
    /// ASG `MaxSize`, as written.
    pub asg_max_size: String,
    /// ASG `DesiredCapacity`, as written.
    pub asg_desired: Option<String>,
    /// Metrics to collect.
    pub asg_metrics: Vec<String>,
    /// `MaxInstanceLifetime` in seconds (`None` when 0).
    pub asg_max_instance_lifetime_secs: Option<i64>,
    /// Launch template overrides, CloudFormation-cased.
    pub asg_launch_template_overrides: Vec<Value>,
    /// `CapacityRebalance`.
    pub asg_capacity_rebalance: bool,
    /// `NewInstancesProtectedFromScaleIn`.
    pub asg_new_instances_protected_from_scale_in: bool,
    /// Explicit availability zones.
    pub azs: Vec<String>,
    /// The agent disconnects (and its instance terminates) after one job.
    pub disconnect_after_job: bool,
    /// Seconds an idle agent waits before it disconnects (0: never).
    pub disconnect_after_idle_timeout_secs: u32,
    /// Agent OS.
    pub os: AgentOs,
    /// Agent architecture.
    pub arch: Arch,
    /// Existing security group to use instead of creating one.
    pub security_group_id: Option<String>,
    /// EC2 key pair.
    pub key_name: Option<String>,
    /// S3 cache bucket.
    pub cache_bucket_name: Option<String>,
    /// KMS key id for the token (default `alias/aws/ssm`).
    pub token_kms_key: String,
    /// Custom VPC placement.
    pub vpc: Option<VpcPlacement>,
    /// Deploy the scaler.
    pub use_dynamic_scaling: bool,
    /// Explicit AMI id.
    pub ami: Option<String>,
    /// Customer managed policies for the instance role.
    pub managed_policy_names: Vec<String>,
    /// Root volume.
    pub volume: Option<Volume>,
    /// Tags for every taggable resource and the stack.
    pub tags: Vec<Tag>,
    /// macOS host settings.
    pub mac: MacHosts,
    /// Register agents under a pre-signed STS URL.
    pub use_pre_signed_url: bool,
    /// Scaler overprovisioning.
    pub overprovision: Overprovision,
    /// Give instances an IPv6 address.
    pub use_ipv6: bool,
    /// Allow the scaler in public subnets.
    pub allow_public_subnet: bool,
    /// On-demand/spot mix.
    pub instances_distribution: InstancesDistribution,
    /// IMDS options.
    pub imds: Imds,
    /// KMS key ARN for the Lambdas' log groups (`None`: CloudWatch Logs' own encryption).
    pub log_group_kms_key_arn: Option<String>,
}

/// A validated configuration plus the non-fatal remarks found while reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// The configuration.
    pub config: StackConfig,
    /// Warnings for the user (values read loosely, settings that have no effect).
    pub warnings: Vec<String>,
}

// Collects problems and warnings while the fields are read.
struct Reader<'a> {
    raw: &'a RawConfig,
    problems: Vec<String>,
    warnings: Vec<String>,
}

impl<'a> Reader<'a> {
    fn str(&self, name: &str) -> String {
        self.raw.get_or_default(name).to_owned()
    }

    fn opt(&self, name: &str) -> Option<String> {
        self.raw.get(name).map(str::to_owned)
    }

    fn bool(&self, name: &str) -> bool {
        parse::bool_value(self.raw.get_or_default(name))
    }

    fn list(&self, name: &str) -> Vec<String> {
        parse::list(self.raw.get_or_default(name))
    }

    /// A `parseInt` number; NaN is an error naming the parameter, loosely read values warn.
    fn int(&mut self, name: &str) -> Option<i64> {
        let text = self.raw.get_or_default(name);
        match parse::js_parse_int(text) {
            Some(parsed) => {
                if !parsed.exact {
                    self.warnings
                        .push(format!("{name} '{text}' is read as {}", parsed.value));
                }
                Some(parsed.value)
            }
            None => {
                self.problems
                    .push(format!("{name} must be a whole number, got '{text}'"));
                None
            }
        }
    }

    /// A strict `true`/`false` for parameters this implementation added.
    fn strict_bool(&mut self, name: &str) -> bool {
        match self.raw.get_or_default(name) {
            "true" => true,
            "false" => false,
            other => {
                self.problems
                    .push(format!("{name} must be true or false, got '{other}'"));
                self.raw.get_or_default(name) == "true"
            }
        }
    }

    fn problem(&mut self, message: impl Into<String>) {
        self.problems.push(message.into());
    }
}

impl StackConfig {
    /// Validates a raw configuration, filling in defaults. On failure, every problem found is
    /// returned in [`ConfigError::Invalid`], in the order the original checks them first.
    pub fn from_raw(raw: &RawConfig) -> Result<Validated, ConfigError> {
        let mut r = Reader {
            raw,
            problems: Vec::new(),
            warnings: Vec::new(),
        };

        // --- The original's argument checks, with its wording.
        let stack_name = r.str(STACK_NAME);
        if stack_name.is_empty() {
            r.problem(format!("'{STACK_NAME}' is required"));
        }
        let token_parameter_name = r.str(TOKEN_PARAMETER_NAME);
        if token_parameter_name.is_empty() {
            r.problem(format!("'{TOKEN_PARAMETER_NAME}' is required"));
        }
        if stack_name.encode_utf16().count() > MAX_STACK_NAME_LEN {
            r.problem(format!(
                "{STACK_NAME} can be up to {MAX_STACK_NAME_LEN} characters long."
            ));
        }
        let endpoint = match (r.opt(ENDPOINT), r.opt(ORGANIZATION)) {
            (Some(endpoint), _) => endpoint,
            (None, Some(org)) => format!("{org}.semaphoreci.com"),
            (None, None) => {
                r.problem(format!("Either {ENDPOINT} or {ORGANIZATION} need be set."));
                String::new()
            }
        };
        let vpc_id = r.opt(VPC_ID);
        let subnets = r.list(SUBNETS);
        if vpc_id.is_some() && r.raw.get(SUBNETS).is_none() {
            r.problem(format!("{SUBNETS} is required, if {VPC_ID} is set."));
        } else if vpc_id.is_some() && subnets.is_empty() {
            r.problem(format!(
                "{SUBNETS} lists no subnet ids; give at least one for {VPC_ID}"
            ));
        }
        let overprovision = Overprovision {
            strategy: r.str(OVERPROVISION_STRATEGY),
            factor: r.str(OVERPROVISION_FACTOR),
        };
        // The scaler's own reader, whose messages are the original's wording.
        if let Err(e) =
            stack_contract::Overprovision::parse(&overprovision.strategy, &overprovision.factor)
        {
            r.problem(e.to_string());
        }

        // --- Checks the original left to CDK or CloudFormation, reported up front here.
        if !stack_name.is_empty() && !is_valid_stack_name(&stack_name) {
            r.problem(format!(
                "{STACK_NAME} '{stack_name}' is invalid: it must start with a letter and contain only letters, digits and '-'"
            ));
        } else if stack_name.len() + LONGEST_POLICY_SUFFIX.len() > 128
            && stack_name.len() <= MAX_STACK_NAME_LEN
        {
            r.problem(format!(
                "{STACK_NAME} is {} characters long; IAM policy names like '<stack>{LONGEST_POLICY_SUFFIX}' are limited to 128 characters, so use at most {} characters",
                stack_name.len(),
                128 - LONGEST_POLICY_SUFFIX.len()
            ));
        }

        let asg_min_size = r.str(ASG_MIN_SIZE);
        let asg_max_size = r.str(ASG_MAX_SIZE);
        let asg_desired = r.opt(ASG_DESIRED);
        let min = count(&mut r, ASG_MIN_SIZE, &asg_min_size);
        let max = count(&mut r, ASG_MAX_SIZE, &asg_max_size);
        let desired = asg_desired
            .as_deref()
            .and_then(|d| count(&mut r, ASG_DESIRED, d));
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                r.problem(format!(
                    "{ASG_MIN_SIZE} ({min}) must not be greater than {ASG_MAX_SIZE} ({max})"
                ));
            }
            if let Some(desired) = desired.filter(|d| *d < min || *d > max) {
                r.problem(format!(
                    "{ASG_DESIRED} ({desired}) must be between {ASG_MIN_SIZE} ({min}) and {ASG_MAX_SIZE} ({max})"
                ));
            }
        }

        let lifetime = r.int(ASG_MAX_INSTANCE_LIFETIME);
        let asg_max_instance_lifetime_secs = match lifetime {
            Some(0) | None => None,
            Some(n) if n < MIN_INSTANCE_LIFETIME_SECS => {
                r.problem(format!(
                    "{ASG_MAX_INSTANCE_LIFETIME} must be 0 (no limit) or at least {MIN_INSTANCE_LIFETIME_SECS} seconds, got {n}"
                ));
                None
            }
            Some(n) => Some(n),
        };

        let os = AgentOs::parse(&r.str(OS));
        if let (AgentOs::Other(other), None) = (&os, r.raw.get(AMI)) {
            r.problem(format!(
                "{OS} '{other}' has no image definition in this repository; use ubuntu-focal, ubuntu-jammy, ubuntu-noble, windows or macos, or set {AMI} to an existing image id"
            ));
        }
        let asg_launch_template_overrides = match r.opt(ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON) {
            None => Vec::new(),
            Some(text) => match crate::overrides::parse(&text) {
                Ok(overrides) => {
                    if os == AgentOs::MacOs {
                        r.warnings.push(format!(
                            "{ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON} is ignored for macOS, which uses one override per {MAC_FAMILY} item"
                        ));
                    }
                    overrides
                }
                Err(problems) => {
                    for p in problems {
                        r.problem(format!("{ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON} {p}"));
                    }
                    Vec::new()
                }
            },
        };

        let azs = r.list(AZS);
        if vpc_id.is_none() && !subnets.is_empty() {
            r.warnings
                .push(format!("{SUBNETS} is ignored because {VPC_ID} is not set"));
        }
        if vpc_id.is_some() && !azs.is_empty() {
            r.warnings.push(format!(
                "{AZS} takes precedence over {SUBNETS}: the group is placed by availability zone in the default VPC, not in {VPC_ID}"
            ));
        }

        // Values each instance parses at boot: refused here, or every instance would fail
        // its boot and be replaced, again and again.
        let disconnect_after_job_text = r.str(DISCONNECT_AFTER_JOB);
        let disconnect_after_job = match agent_params::disconnect_after_job(
            &disconnect_after_job_text,
        ) {
            Some(value) => value,
            None => {
                r.problem(format!(
                        "{DISCONNECT_AFTER_JOB} '{disconnect_after_job_text}' is invalid: use true or false"
                    ));
                true
            }
        };
        let idle_text = r.str(DISCONNECT_AFTER_IDLE_TIMEOUT);
        let disconnect_after_idle_timeout_secs = match agent_params::idle_timeout_secs(&idle_text) {
            Some(secs) => secs,
            None => {
                r.problem(format!(
                    "{DISCONNECT_AFTER_IDLE_TIMEOUT} '{idle_text}' is invalid: use a whole number of seconds from 0 to {} (0: never disconnect when idle)",
                    agent_params::MAX_IDLE_TIMEOUT_SECS
                ));
                0
            }
        };
        let arch_text = r.str(ARCH);
        let arch = match Arch::parse(&arch_text) {
            Some(arch) => arch,
            None => {
                r.problem(format!(
                    "{ARCH} '{arch_text}' is invalid: use x86_64 or arm64"
                ));
                Arch::X86_64
            }
        };
        if arch == Arch::Arm64 && os == AgentOs::Windows && r.raw.get(AMI).is_none() {
            r.problem(format!(
                "{ARCH} 'arm64' is invalid with {OS} 'windows': the Windows agent image is built for x86_64 only; use x86_64, or set {AMI} to an arm64 image of your own"
            ));
        }

        let volume = match r.opt(VOLUME_NAME) {
            None => None,
            Some(device_name) => read_volume(&mut r, device_name),
        };

        let tags = match parse::tags(r.raw.get_or_default(TAGS)) {
            Ok(tags) => {
                for tag in &tags {
                    check_tag(&mut r, tag);
                }
                tags
            }
            Err(items) => {
                for item in items {
                    r.problem(format!(
                        "{TAGS} item '{}' must be written Key:Value",
                        item.item
                    ));
                }
                Vec::new()
            }
        };

        let mac = MacHosts {
            license_configuration_arn: r.str(LICENSE_CONFIGURATION_ARN),
            families: r.list(MAC_FAMILY),
            dedicated_hosts: r.list(MAC_DEDICATED_HOSTS),
            auto_allocate_host: r.str(AUTO_ALLOCATE_HOST),
            auto_release_host: r.str(AUTO_RELEASE_HOST),
        };
        if os == AgentOs::MacOs {
            if mac.license_configuration_arn.is_empty() {
                r.problem(format!(
                    "{LICENSE_CONFIGURATION_ARN} is required when {OS} is macos (the host resource group needs a host-based license configuration)"
                ));
            }
            if mac.families.is_empty() {
                r.problem(format!(
                    "{MAC_FAMILY} lists no instance family; give at least one, e.g. mac2"
                ));
            }
        }

        let on_demand_base_capacity = r.int(ON_DEMAND_BASE_CAPACITY).unwrap_or(0);
        if on_demand_base_capacity < 0 {
            r.problem(format!(
                "{ON_DEMAND_BASE_CAPACITY} must not be negative, got {on_demand_base_capacity}"
            ));
        }
        let on_demand_percentage_above_base = r.int(ON_DEMAND_PERCENTAGE_ABOVE_BASE).unwrap_or(100);
        if !(0..=100).contains(&on_demand_percentage_above_base) {
            r.problem(format!(
                "{ON_DEMAND_PERCENTAGE_ABOVE_BASE} must be between 0 and 100, got {on_demand_percentage_above_base}"
            ));
        }

        let require_v2 = r.strict_bool(REQUIRE_IMDSV2);
        let hop_limit_text = r.str(IMDS_HOP_LIMIT);
        let hop_limit = match hop_limit_text.parse::<u8>() {
            Ok(n @ 1..=64) => n,
            _ => {
                r.problem(format!(
                    "{IMDS_HOP_LIMIT} must be a whole number from 1 to 64, got '{hop_limit_text}'"
                ));
                2
            }
        };

        let log_group_kms_key_arn = r.opt(LOG_GROUP_KMS_KEY_ARN);
        if let Some(arn) = log_group_kms_key_arn
            .as_deref()
            .filter(|arn| !is_kms_key_arn(arn))
        {
            r.problem(format!(
                "{LOG_GROUP_KMS_KEY_ARN} must be the ARN of a KMS key, arn:<partition>:kms:<region>:<account>:key/<key-id> (CloudWatch Logs takes no alias or bare key id), got '{arn}'"
            ));
        }

        let config = StackConfig {
            stack_name,
            token_parameter_name,
            endpoint,
            instance_type: r.str(INSTANCE_TYPE),
            asg_min_size,
            asg_max_size,
            asg_desired,
            asg_metrics: r.list(ASG_METRICS),
            asg_max_instance_lifetime_secs,
            asg_launch_template_overrides,
            asg_capacity_rebalance: r.bool(ASG_CAPACITY_REBALANCE),
            asg_new_instances_protected_from_scale_in: r
                .bool(ASG_NEW_INSTANCES_PROTECTED_FROM_SCALE_IN),
            azs,
            disconnect_after_job,
            disconnect_after_idle_timeout_secs,
            os,
            arch,
            security_group_id: r.opt(SECURITY_GROUP_ID),
            key_name: r.opt(KEY_NAME),
            cache_bucket_name: r.opt(CACHE_BUCKET_NAME),
            token_kms_key: r
                .opt(TOKEN_KMS_KEY)
                .unwrap_or_else(|| "alias/aws/ssm".to_owned()),
            vpc: vpc_id.map(|vpc_id| VpcPlacement {
                vpc_id,
                subnets: subnets.clone(),
            }),
            use_dynamic_scaling: r.bool(USE_DYNAMIC_SCALING),
            ami: r.opt(AMI),
            managed_policy_names: r.list(MANAGED_POLICY_NAMES),
            volume,
            tags,
            mac,
            use_pre_signed_url: r.bool(USE_PRE_SIGNED_URL),
            overprovision,
            use_ipv6: r.bool(USE_IPV6),
            allow_public_subnet: r.bool(ALLOW_PUBLIC_SUBNET),
            instances_distribution: InstancesDistribution {
                on_demand_base_capacity,
                on_demand_percentage_above_base,
                on_demand_allocation_strategy: r.opt(ON_DEMAND_ALLOCATION_STRATEGY),
                spot_allocation_strategy: r.opt(SPOT_ALLOCATION_STRATEGY),
            },
            imds: Imds {
                require_v2,
                hop_limit,
            },
            log_group_kms_key_arn,
        };

        if r.problems.is_empty() {
            Ok(Validated {
                config,
                warnings: r.warnings,
            })
        } else {
            Err(ConfigError::Invalid(r.problems))
        }
    }

    /// The name of the SSM parameter holding the agent configuration: `<stack>-config`.
    pub fn config_parameter_name(&self) -> String {
        format!("{}-config", self.stack_name)
    }

    /// The name of the SSM parameter holding GitHub's SSH keys: `<stack>-ssh-public-keys`.
    pub fn ssh_keys_parameter_name(&self) -> String {
        format!("{}-ssh-public-keys", self.stack_name)
    }
}

/// CloudFormation's stack-name rule, as CDK enforces it: `^[A-Za-z][A-Za-z0-9-]*$`.
pub fn is_valid_stack_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Whether `arn` names a KMS key the way CloudWatch Logs requires it:
/// `arn:<partition>:kms:<region>:<12-digit account>:key/<key-id>`. Aliases (`alias/…`, alias
/// ARNs) and bare key ids are refused: `AWS::Logs::LogGroup`'s `KmsKeyId` takes a key ARN only.
pub fn is_kms_key_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let Some(key_id) = resource.strip_prefix("key/") else {
        return false;
    };
    prefix == "arn"
        && partition.starts_with("aws")
        && partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        && service == "kms"
        && !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !key_id.is_empty()
        && key_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An instance count: a plain non-negative whole number (the template keeps the text).
fn count(r: &mut Reader<'_>, name: &str, text: &str) -> Option<u32> {
    match text.parse::<u32>() {
        Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) => Some(n),
        _ => {
            r.problem(format!(
                "{name} must be a whole number of instances (0 or more), got '{text}'"
            ));
            None
        }
    }
}

fn read_volume(r: &mut Reader<'_>, device_name: String) -> Option<Volume> {
    let volume_type = r.str(VOLUME_TYPE);
    let size_gib = r.int(VOLUME_SIZE)?;
    if size_gib < 1 {
        r.problem(format!(
            "{VOLUME_SIZE} must be at least 1 GiB, got {size_gib}"
        ));
    }
    let iops = match r.opt(VOLUME_IOPS) {
        Some(_) => r.int(VOLUME_IOPS),
        None => None,
    };
    let throughput = match r.opt(VOLUME_THROUGHPUT) {
        Some(_) => r.int(VOLUME_THROUGHPUT),
        None => None,
    };
    let is_gp3 = volume_type == "gp3";
    if is_gp3 {
        if let Some(t) = throughput.filter(|t| *t != 0) {
            if !(125..=2000).contains(&t) {
                r.problem(format!(
                    "{VOLUME_THROUGHPUT} must be between 125 and 2000 MiB/s for gp3, got {t}"
                ));
            } else if let Some(iops) = iops.filter(|i| *i != 0) {
                let ratio = t as f64 / iops as f64;
                if ratio > 0.25 {
                    r.problem(format!(
                        "{VOLUME_THROUGHPUT} to {VOLUME_IOPS} ratio of {ratio} is too high; maximum is 0.25 MiBps per iops"
                    ));
                }
            }
        }
    } else if throughput.is_some() {
        r.warnings.push(format!(
            "{VOLUME_THROUGHPUT} is ignored because {VOLUME_TYPE} is '{volume_type}', not gp3"
        ));
    }
    if (volume_type == "io1" || volume_type == "io2") && iops.unwrap_or(0) == 0 {
        r.problem(format!(
            "{VOLUME_IOPS} is required with {VOLUME_TYPE} io1 and io2"
        ));
    }
    if iops.is_some() && !matches!(volume_type.as_str(), "io1" | "io2" | "gp3") {
        r.warnings.push(format!(
            "{VOLUME_IOPS} is set but {VOLUME_TYPE} '{volume_type}' does not take provisioned IOPS; CloudFormation may reject it"
        ));
    }
    Some(Volume {
        device_name,
        volume_type,
        size_gib,
        iops,
        throughput_mibps: throughput.filter(|_| is_gp3),
    })
}

fn check_tag(r: &mut Reader<'_>, tag: &Tag) {
    // Keys cannot contain ':' in this format, so AWS's reserved `aws:` prefix cannot occur.
    if tag.key.is_empty() {
        r.problem(format!("{TAGS} has a tag with an empty key"));
    }
    if tag.key.chars().count() > 128 {
        r.problem(format!(
            "{TAGS} key '{}' is longer than 128 characters",
            tag.key
        ));
    }
    if tag.value.chars().count() > 256 {
        r.problem(format!(
            "{TAGS} value of '{}' is longer than 256 characters",
            tag.key
        ));
    }
}
