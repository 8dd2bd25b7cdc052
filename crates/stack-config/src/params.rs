//! The table of every `SEMAPHORE_*` parameter the stack reads: name, default and a one-line
//! description. This is the single place where a parameter is declared; the raw reader only
//! looks at these names and `agent-aws-stack config` prints them in this order.

/// One configuration parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The environment variable / JSON key, e.g. `SEMAPHORE_AGENT_STACK_NAME`.
    pub name: &'static str,
    /// The value used when the parameter is unset or empty. `None` means required.
    pub default: Option<&'static str>,
    /// What the parameter controls, for `config` output and the docs.
    pub doc: &'static str,
}

const fn p(name: &'static str, default: &'static str, doc: &'static str) -> Param {
    Param {
        name,
        default: Some(default),
        doc,
    }
}

/// `SEMAPHORE_AGENT_STACK_NAME`: CloudFormation stack name, prefix of every derived name.
pub const STACK_NAME: &str = "SEMAPHORE_AGENT_STACK_NAME";
/// `SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME`: SSM SecureString holding the agent type token.
pub const TOKEN_PARAMETER_NAME: &str = "SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME";
/// `SEMAPHORE_ENDPOINT`.
pub const ENDPOINT: &str = "SEMAPHORE_ENDPOINT";
/// `SEMAPHORE_ORGANIZATION`.
pub const ORGANIZATION: &str = "SEMAPHORE_ORGANIZATION";
/// `SEMAPHORE_AGENT_INSTANCE_TYPE`.
pub const INSTANCE_TYPE: &str = "SEMAPHORE_AGENT_INSTANCE_TYPE";
/// `SEMAPHORE_AGENT_ASG_MIN_SIZE`.
pub const ASG_MIN_SIZE: &str = "SEMAPHORE_AGENT_ASG_MIN_SIZE";
/// `SEMAPHORE_AGENT_ASG_MAX_SIZE`.
pub const ASG_MAX_SIZE: &str = "SEMAPHORE_AGENT_ASG_MAX_SIZE";
/// `SEMAPHORE_AGENT_ASG_DESIRED`.
pub const ASG_DESIRED: &str = "SEMAPHORE_AGENT_ASG_DESIRED";
/// `SEMAPHORE_AGENT_ASG_METRICS`.
pub const ASG_METRICS: &str = "SEMAPHORE_AGENT_ASG_METRICS";
/// `SEMAPHORE_AGENT_ASG_MAX_INSTANCE_LIFETIME`.
pub const ASG_MAX_INSTANCE_LIFETIME: &str = "SEMAPHORE_AGENT_ASG_MAX_INSTANCE_LIFETIME";
/// `SEMAPHORE_AGENT_ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON`.
pub const ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON: &str =
    "SEMAPHORE_AGENT_ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON";
/// `SEMAPHORE_AGENT_DISCONNECT_AFTER_JOB`.
pub const DISCONNECT_AFTER_JOB: &str = "SEMAPHORE_AGENT_DISCONNECT_AFTER_JOB";
/// `SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT`.
pub const DISCONNECT_AFTER_IDLE_TIMEOUT: &str = "SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT";
/// `SEMAPHORE_AGENT_OS`.
pub const OS: &str = "SEMAPHORE_AGENT_OS";
/// `SEMAPHORE_AGENT_ARCH`.
pub const ARCH: &str = "SEMAPHORE_AGENT_ARCH";
/// `SEMAPHORE_AGENT_SECURITY_GROUP_ID`.
pub const SECURITY_GROUP_ID: &str = "SEMAPHORE_AGENT_SECURITY_GROUP_ID";
/// `SEMAPHORE_AGENT_KEY_NAME`.
pub const KEY_NAME: &str = "SEMAPHORE_AGENT_KEY_NAME";
/// `SEMAPHORE_AGENT_CACHE_BUCKET_NAME`.
pub const CACHE_BUCKET_NAME: &str = "SEMAPHORE_AGENT_CACHE_BUCKET_NAME";
/// `SEMAPHORE_AGENT_TOKEN_KMS_KEY`.
pub const TOKEN_KMS_KEY: &str = "SEMAPHORE_AGENT_TOKEN_KMS_KEY";
/// `SEMAPHORE_AGENT_VPC_ID`.
pub const VPC_ID: &str = "SEMAPHORE_AGENT_VPC_ID";
/// `SEMAPHORE_AGENT_SUBNETS`.
pub const SUBNETS: &str = "SEMAPHORE_AGENT_SUBNETS";
/// `SEMAPHORE_AGENT_USE_DYNAMIC_SCALING`.
pub const USE_DYNAMIC_SCALING: &str = "SEMAPHORE_AGENT_USE_DYNAMIC_SCALING";
/// `SEMAPHORE_AGENT_AMI`.
pub const AMI: &str = "SEMAPHORE_AGENT_AMI";
/// `SEMAPHORE_AGENT_MANAGED_POLICY_NAMES`.
pub const MANAGED_POLICY_NAMES: &str = "SEMAPHORE_AGENT_MANAGED_POLICY_NAMES";
/// `SEMAPHORE_AGENT_VOLUME_NAME`.
pub const VOLUME_NAME: &str = "SEMAPHORE_AGENT_VOLUME_NAME";
/// `SEMAPHORE_AGENT_VOLUME_TYPE`.
pub const VOLUME_TYPE: &str = "SEMAPHORE_AGENT_VOLUME_TYPE";
/// `SEMAPHORE_AGENT_VOLUME_SIZE`.
pub const VOLUME_SIZE: &str = "SEMAPHORE_AGENT_VOLUME_SIZE";
/// `SEMAPHORE_AGENT_VOLUME_IOPS`.
pub const VOLUME_IOPS: &str = "SEMAPHORE_AGENT_VOLUME_IOPS";
/// `SEMAPHORE_AGENT_VOLUME_THROUGHPUT`.
pub const VOLUME_THROUGHPUT: &str = "SEMAPHORE_AGENT_VOLUME_THROUGHPUT";
/// `SEMAPHORE_AGENT_TAGS`.
pub const TAGS: &str = "SEMAPHORE_AGENT_TAGS";
/// `SEMAPHORE_AGENT_LICENSE_CONFIGURATION_ARN`.
pub const LICENSE_CONFIGURATION_ARN: &str = "SEMAPHORE_AGENT_LICENSE_CONFIGURATION_ARN";
/// `SEMAPHORE_AGENT_MAC_FAMILY`.
pub const MAC_FAMILY: &str = "SEMAPHORE_AGENT_MAC_FAMILY";
/// `SEMAPHORE_AGENT_MAC_DEDICATED_HOSTS`.
pub const MAC_DEDICATED_HOSTS: &str = "SEMAPHORE_AGENT_MAC_DEDICATED_HOSTS";
/// `SEMAPHORE_AGENT_AUTO_ALLOCATE_HOST`.
pub const AUTO_ALLOCATE_HOST: &str = "SEMAPHORE_AGENT_AUTO_ALLOCATE_HOST";
/// `SEMAPHORE_AGENT_AUTO_RELEASE_HOST`.
pub const AUTO_RELEASE_HOST: &str = "SEMAPHORE_AGENT_AUTO_RELEASE_HOST";
/// `SEMAPHORE_AGENT_AZS`.
pub const AZS: &str = "SEMAPHORE_AGENT_AZS";
/// `SEMAPHORE_AGENT_USE_PRE_SIGNED_URL`.
pub const USE_PRE_SIGNED_URL: &str = "SEMAPHORE_AGENT_USE_PRE_SIGNED_URL";
/// `SEMAPHORE_AGENT_OVERPROVISION_STRATEGY`.
pub const OVERPROVISION_STRATEGY: &str = "SEMAPHORE_AGENT_OVERPROVISION_STRATEGY";
/// `SEMAPHORE_AGENT_OVERPROVISION_FACTOR`.
pub const OVERPROVISION_FACTOR: &str = "SEMAPHORE_AGENT_OVERPROVISION_FACTOR";
/// `SEMAPHORE_AGENT_USE_IPV6`.
pub const USE_IPV6: &str = "SEMAPHORE_AGENT_USE_IPV6";
/// `SEMAPHORE_AGENT_ALLOW_PUBLIC_SUBNET`.
pub const ALLOW_PUBLIC_SUBNET: &str = "SEMAPHORE_AGENT_ALLOW_PUBLIC_SUBNET";
/// `SEMAPHORE_AGENT_ON_DEMAND_BASE_CAPACITY`.
pub const ON_DEMAND_BASE_CAPACITY: &str = "SEMAPHORE_AGENT_ON_DEMAND_BASE_CAPACITY";
/// `SEMAPHORE_AGENT_ON_DEMAND_PERCENTAGE_ABOVE_BASE`.
pub const ON_DEMAND_PERCENTAGE_ABOVE_BASE: &str = "SEMAPHORE_AGENT_ON_DEMAND_PERCENTAGE_ABOVE_BASE";
/// `SEMAPHORE_AGENT_ON_DEMAND_ALLOCATION_STRATEGY`.
pub const ON_DEMAND_ALLOCATION_STRATEGY: &str = "SEMAPHORE_AGENT_ON_DEMAND_ALLOCATION_STRATEGY";
/// `SEMAPHORE_AGENT_SPOT_ALLOCATION_STRATEGY`.
pub const SPOT_ALLOCATION_STRATEGY: &str = "SEMAPHORE_AGENT_SPOT_ALLOCATION_STRATEGY";
/// `SEMAPHORE_AGENT_ASG_CAPACITY_REBALANCE`.
pub const ASG_CAPACITY_REBALANCE: &str = "SEMAPHORE_AGENT_ASG_CAPACITY_REBALANCE";
/// `SEMAPHORE_AGENT_ASG_NEW_INSTANCES_PROTECTED_FROM_SCALE_IN`.
pub const ASG_NEW_INSTANCES_PROTECTED_FROM_SCALE_IN: &str =
    "SEMAPHORE_AGENT_ASG_NEW_INSTANCES_PROTECTED_FROM_SCALE_IN";
/// `SEMAPHORE_AGENT_REQUIRE_IMDSV2` (new in this implementation).
pub const REQUIRE_IMDSV2: &str = "SEMAPHORE_AGENT_REQUIRE_IMDSV2";
/// `SEMAPHORE_AGENT_IMDS_HOP_LIMIT` (new in this implementation).
pub const IMDS_HOP_LIMIT: &str = "SEMAPHORE_AGENT_IMDS_HOP_LIMIT";
/// `SEMAPHORE_AGENT_LOG_GROUP_KMS_KEY_ARN` (new in this implementation): the KMS key that
/// encrypts the Lambdas' log groups.
pub const LOG_GROUP_KMS_KEY_ARN: &str = "SEMAPHORE_AGENT_LOG_GROUP_KMS_KEY_ARN";

/// Every parameter, in the order `config` prints them.
pub const PARAMS: &[Param] = &[
    Param {
        name: STACK_NAME,
        default: None,
        doc: "CloudFormation stack name; prefixes every derived name (up to 128 characters, letters, digits and '-')",
    },
    Param {
        name: TOKEN_PARAMETER_NAME,
        default: None,
        doc: "name of the SSM SecureString parameter holding the agent type registration token",
    },
    p(
        ENDPOINT,
        "",
        "Semaphore endpoint, e.g. myorg.semaphoreci.com; defaults to <SEMAPHORE_ORGANIZATION>.semaphoreci.com",
    ),
    p(
        ORGANIZATION,
        "",
        "Semaphore organization name, used when SEMAPHORE_ENDPOINT is empty",
    ),
    p(INSTANCE_TYPE, "t2.micro", "EC2 instance type of the agents"),
    p(ASG_MIN_SIZE, "0", "minimum number of agent instances"),
    p(ASG_MAX_SIZE, "1", "maximum number of agent instances"),
    p(
        ASG_DESIRED,
        "",
        "initial desired number of agent instances (unset: the group decides)",
    ),
    p(
        ASG_METRICS,
        "",
        "comma-separated Auto Scaling group metrics to collect every minute",
    ),
    p(
        ASG_MAX_INSTANCE_LIFETIME,
        "0",
        "maximum instance lifetime in seconds; 0 disables it, otherwise at least 86400",
    ),
    p(
        ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON,
        "",
        "JSON object (or array of objects) of launch template overrides, camelCase or CloudFormation PascalCase keys",
    ),
    p(
        DISCONNECT_AFTER_JOB,
        "true",
        "agent disconnects (and the instance terminates) after one job",
    ),
    p(
        DISCONNECT_AFTER_IDLE_TIMEOUT,
        "300",
        "seconds an idle agent waits before it disconnects and its instance terminates",
    ),
    p(
        OS,
        "ubuntu-focal",
        "agent OS: ubuntu-focal, ubuntu-jammy, ubuntu-noble, windows or macos",
    ),
    p(
        ARCH,
        "x86_64",
        "agent CPU architecture: x86_64 or arm64 (selects the AMI)",
    ),
    p(
        SECURITY_GROUP_ID,
        "",
        "existing security group for the agents (unset: the stack creates one)",
    ),
    p(
        KEY_NAME,
        "",
        "EC2 key pair for SSH access (also opens port 22 on Linux and macOS)",
    ),
    p(
        CACHE_BUCKET_NAME,
        "",
        "S3 bucket used as the Semaphore cache backend",
    ),
    p(
        TOKEN_KMS_KEY,
        "",
        "KMS key id encrypting the token parameter (unset: alias/aws/ssm)",
    ),
    p(
        VPC_ID,
        "",
        "VPC for the agents (unset: the default VPC); requires SEMAPHORE_AGENT_SUBNETS",
    ),
    p(
        SUBNETS,
        "",
        "comma-separated subnet ids for the agents (and the scaler Lambda) in SEMAPHORE_AGENT_VPC_ID",
    ),
    p(
        USE_DYNAMIC_SCALING,
        "true",
        "deploy the scaler Lambda that sizes the group by job demand",
    ),
    p(
        AMI,
        "",
        "agent AMI id (unset: the image built from this repository's Packer tree)",
    ),
    p(
        MANAGED_POLICY_NAMES,
        "",
        "comma-separated customer managed IAM policies added to the instance role",
    ),
    p(
        VOLUME_NAME,
        "",
        "root device name to configure, e.g. /dev/sda1 (unset: keep the AMI's volume)",
    ),
    p(VOLUME_TYPE, "gp2", "EBS volume type"),
    p(VOLUME_SIZE, "64", "EBS volume size in GiB"),
    p(
        VOLUME_IOPS,
        "",
        "EBS volume IOPS (required for io1 and io2)",
    ),
    p(
        VOLUME_THROUGHPUT,
        "",
        "EBS volume throughput in MiB/s (gp3 only, 125 to 2000)",
    ),
    p(
        TAGS,
        "",
        "comma-separated Key:Value tags applied to every taggable resource and the stack",
    ),
    p(
        LICENSE_CONFIGURATION_ARN,
        "",
        "macOS: License Manager configuration ARN for the host resource group",
    ),
    p(
        MAC_FAMILY,
        "mac2",
        "macOS: comma-separated instance families allowed on the dedicated hosts",
    ),
    p(
        MAC_DEDICATED_HOSTS,
        "",
        "macOS: comma-separated dedicated host ids added to the host resource group",
    ),
    p(
        AUTO_ALLOCATE_HOST,
        "true",
        "macOS: let the host resource group allocate hosts",
    ),
    p(
        AUTO_RELEASE_HOST,
        "true",
        "macOS: let the host resource group release hosts",
    ),
    p(
        AZS,
        "",
        "comma-separated availability zones for the group (wins over the subnets)",
    ),
    p(
        USE_PRE_SIGNED_URL,
        "false",
        "register agents under a pre-signed AWS STS URL as their name",
    ),
    p(
        OVERPROVISION_STRATEGY,
        "none",
        "scaler overprovisioning: none, number or percentage",
    ),
    p(
        OVERPROVISION_FACTOR,
        "0",
        "extra agents (number) or extra percent (percentage), at least 1",
    ),
    p(USE_IPV6, "false", "give each agent an IPv6 address"),
    p(
        ALLOW_PUBLIC_SUBNET,
        "false",
        "allow the scaler Lambda in a VPC whose subnets are all public",
    ),
    p(
        ON_DEMAND_BASE_CAPACITY,
        "0",
        "on-demand instances before any spot instance is used",
    ),
    p(
        ON_DEMAND_PERCENTAGE_ABOVE_BASE,
        "100",
        "percent of on-demand instances above the base (0 to 100)",
    ),
    p(
        ON_DEMAND_ALLOCATION_STRATEGY,
        "",
        "on-demand allocation strategy, e.g. prioritized or lowest-price",
    ),
    p(
        SPOT_ALLOCATION_STRATEGY,
        "",
        "spot allocation strategy, e.g. price-capacity-optimized",
    ),
    p(
        ASG_CAPACITY_REBALANCE,
        "false",
        "let the group replace spot instances at elevated interruption risk",
    ),
    p(
        ASG_NEW_INSTANCES_PROTECTED_FROM_SCALE_IN,
        "false",
        "protect new instances from scale-in",
    ),
    p(
        REQUIRE_IMDSV2,
        "true",
        "require IMDSv2 session tokens on agent instances (true or false)",
    ),
    p(
        IMDS_HOP_LIMIT,
        "2",
        "IMDS PUT response hop limit, 1 to 64 (2 lets Docker containers reach IMDSv2)",
    ),
    p(
        LOG_GROUP_KMS_KEY_ARN,
        "",
        "ARN of a symmetric KMS key (arn:aws:kms:<region>:<account>:key/<id>) encrypting the Lambdas' log groups; its key policy must allow logs.<region>.amazonaws.com (unset: CloudWatch Logs' own encryption)",
    ),
];

/// Looks a parameter up by name.
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for p in PARAMS {
            assert!(seen.insert(p.name), "{} declared twice", p.name);
            assert!(p.name.starts_with("SEMAPHORE_"), "{}", p.name);
        }
        // 47 parameters of the original plus the two IMDS settings and the log groups' key.
        assert_eq!(PARAMS.len(), 50);
    }
}
