//! What the template needs from the AWS account, as data: which lookups a configuration
//! requires ([`required_lookups`]) and their results ([`Lookups`]). Building the results from
//! CDK's context (a key → value map) is [`crate::context`]'s; reading the `cdk.context.json`
//! file and asking the EC2 API for what it lacks is `stack-lookups`' job.

use serde::{Deserialize, Serialize};
use stack_config::StackConfig;

use crate::assets::ami_name;

/// One value the template needs from the account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LookupRequest {
    /// The newest available image with this exact name, owned by the stack's account.
    AmiByName {
        /// `semaphore-agent-v<version>-<os>-<arch>-<hash>`.
        name: String,
    },
    /// An image given by id (`SEMAPHORE_AGENT_AMI`).
    AmiById {
        /// The image id.
        image_id: String,
    },
    /// The default VPC (when no `SEMAPHORE_AGENT_VPC_ID` is set).
    DefaultVpc,
    /// A VPC by id, with its subnets grouped by type.
    VpcById {
        /// The VPC id.
        vpc_id: String,
    },
    /// The region's available availability zones.
    AvailabilityZones,
    /// An existing security group (`SEMAPHORE_AGENT_SECURITY_GROUP_ID`).
    SecurityGroup {
        /// The group id.
        group_id: String,
    },
}

/// A subnet in a VPC lookup result (CDK's context shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    /// Subnet id.
    pub subnet_id: String,
    /// IPv4 CIDR block.
    pub cidr: String,
    /// Availability zone name.
    pub availability_zone: String,
    /// Route table id.
    pub route_table_id: String,
}

/// CDK's subnet classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubnetType {
    /// Routes to an internet gateway (or maps public IPs on launch).
    Public,
    /// Routes to a NAT or transit gateway.
    Private,
    /// No route out.
    Isolated,
}

/// A named group of subnets of one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetGroup {
    /// Group name (from the `aws-cdk:subnet-name` tag, or the type).
    pub name: String,
    /// Group type.
    #[serde(rename = "type")]
    pub kind: SubnetType,
    /// The subnets, sorted by availability zone.
    pub subnets: Vec<Subnet>,
}

/// A VPC lookup result, in the shape of CDK's `vpc-provider` context value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcInfo {
    /// VPC id.
    pub vpc_id: String,
    /// Primary IPv4 CIDR block.
    pub vpc_cidr_block: String,
    /// Owner account, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_account_id: Option<String>,
    /// Always empty with `returnAsymmetricSubnets`.
    #[serde(default)]
    pub availability_zones: Vec<String>,
    /// Subnets grouped by type and name.
    #[serde(default)]
    pub subnet_groups: Vec<SubnetGroup>,
    /// Attached VPN gateway, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpn_gateway_id: Option<String>,
}

impl VpcInfo {
    /// The subnets CDK selects by default for a function in this VPC: the private ones if any,
    /// else the isolated ones, else the public ones; with the type of the chosen set.
    pub fn default_selection(&self) -> (SubnetType, Vec<&Subnet>) {
        for kind in [
            SubnetType::Private,
            SubnetType::Isolated,
            SubnetType::Public,
        ] {
            let subnets: Vec<&Subnet> = self
                .subnet_groups
                .iter()
                .filter(|g| g.kind == kind)
                .flat_map(|g| g.subnets.iter())
                .collect();
            if !subnets.is_empty() {
                return (kind, subnets);
            }
        }
        (SubnetType::Public, Vec::new())
    }

    /// The type of the group holding `subnet_id`, if the subnet is known.
    pub fn subnet_type(&self, subnet_id: &str) -> Option<SubnetType> {
        self.subnet_groups
            .iter()
            .find(|g| g.subnets.iter().any(|s| s.subnet_id == subnet_id))
            .map(|g| g.kind)
    }
}

/// A security group lookup result (CDK's `security-group` context value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupInfo {
    /// The group id.
    pub security_group_id: String,
    /// Whether it allows all outbound traffic (not used by the template).
    pub allow_all_outbound: bool,
}

/// The results of every lookup a configuration needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lookups {
    /// The agent image id.
    pub ami_id: String,
    /// The VPC of the security group (and of the scaler, with a custom VPC).
    pub vpc: Option<VpcInfo>,
    /// Availability zones, when the group is placed by zone.
    pub availability_zones: Option<Vec<String>>,
    /// The existing security group.
    pub security_group: Option<SecurityGroupInfo>,
}

/// The lookups `config` needs, in the order the original performs them: VPC or security
/// group, AMI, availability zones. (The scaler's VPC lookup reuses the VPC one.)
pub fn required_lookups(config: &StackConfig) -> Vec<LookupRequest> {
    let mut requests = Vec::new();
    match (&config.security_group_id, &config.vpc) {
        (Some(group_id), _) => requests.push(LookupRequest::SecurityGroup {
            group_id: group_id.clone(),
        }),
        (None, None) => requests.push(LookupRequest::DefaultVpc),
        (None, Some(vpc)) => requests.push(LookupRequest::VpcById {
            vpc_id: vpc.vpc_id.clone(),
        }),
    }
    requests.push(match &config.ami {
        Some(image_id) => LookupRequest::AmiById {
            image_id: image_id.clone(),
        },
        None => LookupRequest::AmiByName {
            name: ami_name(config),
        },
    });
    if config.azs.is_empty() && config.vpc.is_none() {
        requests.push(LookupRequest::AvailabilityZones);
    }
    if let (true, Some(vpc), Some(_)) = (
        config.use_dynamic_scaling,
        &config.vpc,
        &config.security_group_id,
    ) {
        requests.push(LookupRequest::VpcById {
            vpc_id: vpc.vpc_id.clone(),
        });
    }
    requests
}
