//! The EC2 side of lookups: a small trait with what the template needs, and its
//! implementation on the AWS SDK. Results come back in CDK's context shapes.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::DisplayErrorContext;
use aws_sdk_ec2::types::{Filter, RouteTable};
use stack_template::{SecurityGroupInfo, Subnet, SubnetGroup, SubnetType, VpcInfo};

use crate::error::LookupError;

/// Which VPC to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpcFilter {
    /// The region's default VPC.
    Default,
    /// A VPC by id.
    Id(String),
}

/// Which image to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmiQuery {
    /// By exact name, owned by `owner`.
    Name {
        /// Image name.
        name: String,
        /// Owning account.
        owner: String,
    },
    /// By image id.
    Id(String),
}

/// The EC2 lookups. Implemented by [`AwsEc2`]; tests may provide fakes.
#[allow(async_fn_in_trait)]
pub trait Ec2Lookups {
    /// The newest available image matching `query`.
    async fn image_id(&self, query: &AmiQuery) -> Result<String, LookupError>;
    /// A VPC with its subnets grouped as CDK groups them.
    async fn vpc(&self, filter: &VpcFilter) -> Result<VpcInfo, LookupError>;
    /// The names of the region's available availability zones.
    async fn availability_zones(&self) -> Result<Vec<String>, LookupError>;
    /// An existing security group.
    async fn security_group(&self, group_id: &str) -> Result<SecurityGroupInfo, LookupError>;
}

/// [`Ec2Lookups`] on the AWS SDK.
#[derive(Debug, Clone)]
pub struct AwsEc2 {
    client: Client,
}

impl AwsEc2 {
    /// Wraps an EC2 client.
    pub fn new(client: Client) -> AwsEc2 {
        AwsEc2 { client }
    }
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

fn aws_error<E: std::error::Error + 'static>(operation: &'static str) -> impl Fn(E) -> LookupError {
    move |e| LookupError::Aws {
        operation,
        message: DisplayErrorContext(&e).to_string(),
    }
}

/// How CDK classifies a subnet: its `aws-cdk:subnet-type` tag; else public when it maps
/// public IPs on launch or routes to an internet gateway; private when it routes to a NAT or
/// transit gateway; isolated otherwise.
fn classify(
    tag: Option<&str>,
    maps_public_ip: bool,
    route_table: Option<&RouteTable>,
) -> SubnetType {
    match tag {
        Some("Public") => return SubnetType::Public,
        Some("Private") => return SubnetType::Private,
        Some("Isolated") => return SubnetType::Isolated,
        _ => {}
    }
    if maps_public_ip {
        return SubnetType::Public;
    }
    let routes = route_table.map(|t| t.routes()).unwrap_or_default();
    let targets = |prefix: &str| {
        routes.iter().any(|r| {
            r.gateway_id().is_some_and(|g| g.starts_with(prefix))
                || (prefix == "nat-" && r.nat_gateway_id().is_some())
                || (prefix == "tgw-" && r.transit_gateway_id().is_some())
        })
    };
    if targets("igw-") {
        SubnetType::Public
    } else if targets("nat-") || targets("tgw-") {
        SubnetType::Private
    } else {
        SubnetType::Isolated
    }
}

fn type_name(kind: SubnetType) -> &'static str {
    match kind {
        SubnetType::Public => "Public",
        SubnetType::Private => "Private",
        SubnetType::Isolated => "Isolated",
    }
}

impl Ec2Lookups for AwsEc2 {
    async fn image_id(&self, query: &AmiQuery) -> Result<String, LookupError> {
        let mut request = self
            .client
            .describe_images()
            .filters(filter("image-type", &["machine"]))
            .filters(filter("state", &["available"]));
        let description = match query {
            AmiQuery::Name { name, owner } => {
                request = request.owners(owner).filters(filter("name", &[name]));
                format!("name {name} owned by {owner}")
            }
            AmiQuery::Id(id) => {
                request = request
                    .filters(filter("image-id", &[id]))
                    .filters(filter("name", &["*"]));
                format!("id {id}")
            }
        };
        let output = request.send().await.map_err(aws_error("describe images"))?;
        let mut images: Vec<_> = output.images().iter().collect();
        // ISO 8601 timestamps sort chronologically as strings.
        images.sort_by(|a, b| b.creation_date().cmp(&a.creation_date()));
        images
            .first()
            .and_then(|i| i.image_id())
            .map(str::to_owned)
            .ok_or_else(|| LookupError::NoAmi {
                query: description,
                hint: match query {
                    AmiQuery::Name { .. } => "; build it with `make packer.build` (see packer/README.md) or set SEMAPHORE_AGENT_AMI to an existing image id".into(),
                    AmiQuery::Id(_) => "; check SEMAPHORE_AGENT_AMI and the region".into(),
                },
            })
    }

    async fn vpc(&self, vpc_filter: &VpcFilter) -> Result<VpcInfo, LookupError> {
        let f = match vpc_filter {
            VpcFilter::Default => filter("isDefault", &["true"]),
            VpcFilter::Id(id) => filter("vpc-id", &[id]),
        };
        let output = self
            .client
            .describe_vpcs()
            .filters(f)
            .send()
            .await
            .map_err(aws_error("describe VPCs"))?;
        let described = match vpc_filter {
            VpcFilter::Default => "the default VPC".to_owned(),
            VpcFilter::Id(id) => format!("VPC {id} (SEMAPHORE_AGENT_VPC_ID)"),
        };
        let vpc = match output.vpcs() {
            [one] => one,
            [] => {
                return Err(LookupError::Vpc(format!(
                    "{described} does not exist in this account and region"
                )));
            }
            _ => {
                return Err(LookupError::Vpc(format!(
                    "{described} matched several VPCs"
                )));
            }
        };
        let vpc_id = vpc.vpc_id().unwrap_or_default().to_owned();

        let subnets = self
            .client
            .describe_subnets()
            .filters(filter("vpc-id", &[&vpc_id]))
            .send()
            .await
            .map_err(aws_error("describe subnets"))?;
        let tables = self
            .client
            .describe_route_tables()
            .filters(filter("vpc-id", &[&vpc_id]))
            .send()
            .await
            .map_err(aws_error("describe route tables"))?;
        let main_table = tables
            .route_tables()
            .iter()
            .find(|t| t.associations().iter().any(|a| a.main() == Some(true)));

        let mut groups: Vec<SubnetGroup> = Vec::new();
        for subnet in subnets.subnets() {
            let subnet_id = subnet.subnet_id().unwrap_or_default();
            let table = tables
                .route_tables()
                .iter()
                .find(|t| {
                    t.associations()
                        .iter()
                        .any(|a| a.subnet_id() == Some(subnet_id))
                })
                .or(main_table);
            let tag = |key: &str| {
                subnet
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(key))
                    .and_then(|t| t.value())
            };
            let kind = classify(
                tag("aws-cdk:subnet-type"),
                subnet.map_public_ip_on_launch().unwrap_or(false),
                table,
            );
            let name = tag("aws-cdk:subnet-name")
                .unwrap_or(type_name(kind))
                .to_owned();
            let entry = Subnet {
                subnet_id: subnet_id.to_owned(),
                cidr: subnet.cidr_block().unwrap_or_default().to_owned(),
                availability_zone: subnet.availability_zone().unwrap_or_default().to_owned(),
                route_table_id: table
                    .and_then(|t| t.route_table_id())
                    .unwrap_or_default()
                    .to_owned(),
            };
            match groups.iter_mut().find(|g| g.kind == kind && g.name == name) {
                Some(group) => group.subnets.push(entry),
                None => groups.push(SubnetGroup {
                    name,
                    kind,
                    subnets: vec![entry],
                }),
            }
        }
        for group in &mut groups {
            group.subnets.sort_by(|a, b| {
                a.availability_zone
                    .cmp(&b.availability_zone)
                    .then(a.subnet_id.cmp(&b.subnet_id))
            });
        }
        groups.sort_by(|a, b| {
            type_name(a.kind)
                .cmp(type_name(b.kind))
                .then(a.name.cmp(&b.name))
        });

        let vpn_gateway_id = self
            .client
            .describe_vpn_gateways()
            .filters(filter("attachment.vpc-id", &[&vpc_id]))
            .filters(filter("attachment.state", &["attached"]))
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.vpn_gateways()
                    .first()
                    .and_then(|g| g.vpn_gateway_id().map(str::to_owned))
            });

        Ok(VpcInfo {
            vpc_id,
            vpc_cidr_block: vpc.cidr_block().unwrap_or_default().to_owned(),
            owner_account_id: vpc.owner_id().map(str::to_owned),
            availability_zones: Vec::new(),
            subnet_groups: groups,
            vpn_gateway_id,
        })
    }

    async fn availability_zones(&self) -> Result<Vec<String>, LookupError> {
        let output = self
            .client
            .describe_availability_zones()
            .send()
            .await
            .map_err(aws_error("describe availability zones"))?;
        Ok(output
            .availability_zones()
            .iter()
            .filter(|z| z.state().map(|s| s.as_str()) == Some("available"))
            .filter_map(|z| z.zone_name().map(str::to_owned))
            .collect())
    }

    async fn security_group(&self, group_id: &str) -> Result<SecurityGroupInfo, LookupError> {
        let output = self
            .client
            .describe_security_groups()
            .group_ids(group_id)
            .send()
            .await
            .map_err(|e| {
                let message = DisplayErrorContext(&e).to_string();
                if message.contains("InvalidGroup.NotFound") || message.contains("InvalidGroupId") {
                    LookupError::SecurityGroup {
                        group_id: group_id.to_owned(),
                        reason: "it does not exist in this account and region (SEMAPHORE_AGENT_SECURITY_GROUP_ID)".into(),
                    }
                } else {
                    LookupError::Aws {
                        operation: "describe security groups",
                        message,
                    }
                }
            })?;
        match output.security_groups() {
            [group] => {
                let allow_all_outbound = group.ip_permissions_egress().iter().any(|p| {
                    p.ip_protocol() == Some("-1")
                        && p.ip_ranges().iter().any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
                });
                Ok(SecurityGroupInfo {
                    security_group_id: group.group_id().unwrap_or(group_id).to_owned(),
                    allow_all_outbound,
                })
            }
            [] => Err(LookupError::SecurityGroup {
                group_id: group_id.to_owned(),
                reason: "it does not exist in this account and region (SEMAPHORE_AGENT_SECURITY_GROUP_ID)".into(),
            }),
            _ => Err(LookupError::SecurityGroup {
                group_id: group_id.to_owned(),
                reason: "it matched several groups".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::Route;

    fn table(routes: Vec<Route>) -> RouteTable {
        RouteTable::builder().set_routes(Some(routes)).build()
    }

    #[test]
    fn subnets_are_classified_like_cdk() {
        let igw = table(vec![Route::builder().gateway_id("igw-1").build()]);
        let nat = table(vec![Route::builder().nat_gateway_id("nat-1").build()]);
        let tgw = table(vec![Route::builder().transit_gateway_id("tgw-1").build()]);
        let local = table(vec![Route::builder().gateway_id("local").build()]);
        assert_eq!(classify(None, true, None), SubnetType::Public);
        assert_eq!(classify(None, false, Some(&igw)), SubnetType::Public);
        assert_eq!(classify(None, false, Some(&nat)), SubnetType::Private);
        assert_eq!(classify(None, false, Some(&tgw)), SubnetType::Private);
        assert_eq!(classify(None, false, Some(&local)), SubnetType::Isolated);
        assert_eq!(classify(None, false, None), SubnetType::Isolated);
        assert_eq!(
            classify(Some("Private"), true, Some(&igw)),
            SubnetType::Private
        );
    }
}
