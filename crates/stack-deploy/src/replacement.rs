//! Which property changes make CloudFormation replace a resource.
//!
//! The table lists, for every resource type the agent stack (or the original CDK app) uses,
//! the properties that the CloudFormation resource schemas mark `createOnlyProperties`
//! (changing one replaces the resource) and `conditionalCreateOnlyProperties` (it may). A test
//! checks it against the schemas that cfn-lint ships, when cfn-lint is installed.
//!
//! A change set on real AWS says the same with more precision; this table is what the diff
//! falls back to when there is no change set (a stack that does not exist yet, an emulator
//! that leaves `Replacement` empty).

/// Whether a change replaces the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Replacement {
    /// Updated in place.
    Never,
    /// May be replaced, depending on other settings or on the values at deploy time.
    Conditional,
    /// Replaced: a new physical resource, the old one deleted.
    Always,
}

impl Replacement {
    /// CloudFormation's words for it (`False`, `Conditional`, `True`).
    pub fn from_cloudformation(value: &str) -> Option<Replacement> {
        match value {
            "True" => Some(Replacement::Always),
            "Conditional" => Some(Replacement::Conditional),
            "False" => Some(Replacement::Never),
            _ => None,
        }
    }
}

/// `(type, create-only properties, conditionally create-only properties)`.
pub const CREATE_ONLY: &[(&str, &[&str], &[&str])] = &[
    (
        "AWS::AutoScaling::AutoScalingGroup",
        &["InstanceId", "AutoScalingGroupName"],
        &[
            "LaunchConfigurationName",
            "VPCZoneIdentifier",
            "LaunchTemplate",
            "MixedInstancesPolicy",
        ],
    ),
    (
        "AWS::CloudFormation::CustomResource",
        &["ServiceToken"],
        &[],
    ),
    (
        "AWS::EC2::Host",
        &[
            "AvailabilityZone",
            "InstanceType",
            "InstanceFamily",
            "OutpostArn",
            "AssetId",
        ],
        &[],
    ),
    ("AWS::EC2::LaunchTemplate", &["LaunchTemplateName"], &[]),
    (
        "AWS::EC2::SecurityGroup",
        &["GroupDescription", "GroupName", "VpcId"],
        &[],
    ),
    (
        "AWS::EC2::SecurityGroupEgress",
        &[
            "IpProtocol",
            "DestinationSecurityGroupId",
            "ToPort",
            "CidrIp",
            "FromPort",
            "GroupId",
            "CidrIpv6",
            "DestinationPrefixListId",
        ],
        &[],
    ),
    (
        "AWS::EC2::SecurityGroupIngress",
        &[
            "GroupName",
            "IpProtocol",
            "SourceSecurityGroupId",
            "SourcePrefixListId",
            "ToPort",
            "CidrIp",
            "SourceSecurityGroupName",
            "SourceSecurityGroupOwnerId",
            "FromPort",
            "GroupId",
            "CidrIpv6",
        ],
        &[],
    ),
    ("AWS::Events::Rule", &["Name"], &["EventBusName"]),
    (
        "AWS::IAM::InstanceProfile",
        &["InstanceProfileName", "Path"],
        &[],
    ),
    (
        "AWS::IAM::ManagedPolicy",
        &["ManagedPolicyName", "Description", "Path"],
        &[],
    ),
    ("AWS::IAM::Policy", &[], &[]),
    ("AWS::IAM::Role", &["Path", "RoleName"], &[]),
    (
        "AWS::Lambda::EventInvokeConfig",
        &["FunctionName", "Qualifier"],
        &[],
    ),
    (
        "AWS::Lambda::Function",
        &["FunctionName", "PackageType", "TenancyConfig"],
        &["DurableConfig"],
    ),
    (
        "AWS::Lambda::Permission",
        &[
            "FunctionName",
            "FunctionUrlAuthType",
            "InvokedViaFunctionUrl",
            "SourceAccount",
            "SourceArn",
            "Principal",
            "PrincipalOrgID",
            "Action",
            "EventSourceToken",
        ],
        &[],
    ),
    ("AWS::Logs::LogGroup", &["LogGroupName"], &[]),
    ("AWS::ResourceGroups::Group", &["Name"], &[]),
    (
        "AWS::S3::Bucket",
        &["BucketName", "BucketNamePrefix", "BucketNamespace"],
        &[],
    ),
    ("AWS::S3::BucketPolicy", &["Bucket"], &[]),
    ("AWS::SSM::Parameter", &["Name"], &[]),
];

/// What changing the top-level property `property` of a `resource_type` does.
///
/// Custom resources (`Custom::*`) are replaced when their `ServiceToken` changes, like
/// `AWS::CloudFormation::CustomResource`. Types outside the table are reported as
/// `Conditional`: we do not know, so we do not promise an in-place update.
pub fn of_property(resource_type: &str, property: &str) -> Replacement {
    let resource_type = if resource_type.starts_with("Custom::") {
        "AWS::CloudFormation::CustomResource"
    } else {
        resource_type
    };
    match CREATE_ONLY.iter().find(|(t, _, _)| *t == resource_type) {
        Some((_, always, conditional)) => {
            if always.contains(&property) {
                Replacement::Always
            } else if conditional.contains(&property) {
                Replacement::Conditional
            } else {
                Replacement::Never
            }
        }
        None => Replacement::Conditional,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_create_only_properties() {
        assert_eq!(
            of_property("AWS::SSM::Parameter", "Name"),
            Replacement::Always
        );
        assert_eq!(
            of_property("AWS::SSM::Parameter", "Value"),
            Replacement::Never
        );
        assert_eq!(
            of_property("AWS::AutoScaling::AutoScalingGroup", "MaxSize"),
            Replacement::Never
        );
        assert_eq!(
            of_property("AWS::AutoScaling::AutoScalingGroup", "VPCZoneIdentifier"),
            Replacement::Conditional
        );
        assert_eq!(
            of_property("Custom::LogRetention", "ServiceToken"),
            Replacement::Always
        );
        assert_eq!(
            of_property("AWS::Made::Up", "Anything"),
            Replacement::Conditional
        );
    }
}
