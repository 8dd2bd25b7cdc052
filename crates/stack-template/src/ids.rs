//! Logical IDs. Every resource that has a counterpart in the original CDK stack keeps that
//! stack's logical ID, so deploying over a stack the original created updates it in place.
//! The IDs were derived by CDK from construct paths; the test below re-derives each one with
//! CDK's algorithm, so a typo cannot slip in.

/// GitHub SSH keys parameter (`sshKeysUpdater/Parameter/Resource`).
pub const SSH_KEYS_PARAMETER: &str = "sshKeysUpdaterParameter4EB9ACDD";
/// SSH keys updater inline policy.
pub const SSH_KEYS_UPDATER_POLICY: &str = "sshKeysUpdaterRolePolicyF5F35E6B";
/// SSH keys updater role.
pub const SSH_KEYS_UPDATER_ROLE: &str = "sshKeysUpdaterRole765585CA";
/// SSH keys updater function.
pub const SSH_KEYS_UPDATER_FUNCTION: &str = "sshKeysUpdaterLambda1B004349";
/// SSH keys updater log group (new: replaces CDK's log-retention custom resource).
pub const SSH_KEYS_UPDATER_LOG_GROUP: &str = "sshKeysUpdaterLogGroup";
/// SSH keys updater daily rule.
pub const SSH_KEYS_UPDATER_RULE: &str = "sshKeysUpdaterEventRule9491D909";
/// Permission for the daily rule to invoke the updater.
pub const SSH_KEYS_UPDATER_PERMISSION: &str = "sshKeysUpdaterEventRuleAllowEventRuleAwsSemaphoreAgentStacksshKeysUpdaterLambda0266771E9C582ED9";
/// Agent configuration parameter.
pub const CONFIG_PARAMETER: &str = "SemaphoreAgentConfigParameterF91637D0";
/// Instance role inline policy.
pub const INSTANCE_POLICY: &str = "instanceProfilePolicy62AF6D2B";
/// Instance role.
pub const INSTANCE_ROLE: &str = "instanceProfileRole47059124";
/// Agent security group.
pub const SECURITY_GROUP: &str = "securityGroup32C48086";
/// Instance profile.
pub const INSTANCE_PROFILE: &str = "launchTemplateProfileB2BF4FB7";
/// Launch template.
pub const LAUNCH_TEMPLATE: &str = "launchTemplateDEE5742D";
/// macOS host resource group.
pub const HOST_RESOURCE_GROUP: &str = "hostResourceGroup";
/// The Auto Scaling group.
pub const AUTO_SCALING_GROUP: &str = "autoScalingGroup";
/// AZ-rebalance suspender policy.
pub const AZ_REBALANCE_SUSPENDER_POLICY: &str = "azRebalanceSuspenderPolicy8FF50B4F";
/// AZ-rebalance suspender role.
pub const AZ_REBALANCE_SUSPENDER_ROLE: &str = "azRebalanceSuspenderRoleFD1D9251";
/// The AZ-rebalance suspender function. It keeps the logical ID of the CDK provider
/// framework's `onEvent` function, because that is what the custom resource's `ServiceToken`
/// pointed to, and CloudFormation refuses to change a custom resource's `ServiceToken`.
pub const AZ_REBALANCE_SUSPENDER_FUNCTION: &str =
    "azRebalanceSuspenderProviderframeworkonEvent33E20A4C";
/// AZ-rebalance suspender log group (new).
pub const AZ_REBALANCE_SUSPENDER_LOG_GROUP: &str = "azRebalanceSuspenderLogGroup";
/// The custom resource that suspends `AZRebalance`.
pub const AZ_REBALANCE_SUSPENDER: &str = "azRebalanceSuspender";
/// Scaler inline policy.
pub const SCALER_POLICY: &str = "scalerLambdaPolicy55529EAF";
/// Scaler role.
pub const SCALER_ROLE: &str = "scalerLambdaRole1D61EB11";
/// Scaler security group (in a custom VPC).
pub const SCALER_SECURITY_GROUP: &str = "scalerLambdaSecurityGroupB905E544";
/// Scaler function.
pub const SCALER_FUNCTION: &str = "scalerLambdaEE0B7FDF";
/// Scaler log group (new).
pub const SCALER_LOG_GROUP: &str = "scalerLambdaLogGroup";
/// Scaler asynchronous invocation settings.
pub const SCALER_EVENT_INVOKE_CONFIG: &str = "scalerLambdaEventInvokeConfigE655BB6E";
/// Scaler schedule.
pub const SCALER_RULE: &str = "scalerRule7E4F6830";
/// Permission for the schedule to invoke the scaler.
pub const SCALER_PERMISSION: &str =
    "scalerRuleAllowEventRuleAwsSemaphoreAgentStackscalerLambdaEE2241706771B033";

/// The CDK construct-path prefix, still visible in a few physical values that cannot change
/// without replacing their resource (the security group description, the launch template's
/// `Name` tag).
pub const CONSTRUCT_ROOT: &str = "AwsSemaphoreAgentStack";

/// Each resource's CDK construct path below [`CONSTRUCT_ROOT`], which the original wrote into
/// the resource's `aws:cdk:path` metadata and from which CDK derived the logical ID. Our new
/// resources use one-component paths equal to their IDs (CDK's rule for such paths), so the
/// CloudFormation console groups every resource as it did for the original's stack and an
/// upgrade from it changes no resource's metadata.
const CONSTRUCT_PATHS: &[(&str, &str)] = &[
    (SSH_KEYS_PARAMETER, "sshKeysUpdater/Parameter/Resource"),
    (
        SSH_KEYS_UPDATER_POLICY,
        "sshKeysUpdater/RolePolicy/Resource",
    ),
    (SSH_KEYS_UPDATER_ROLE, "sshKeysUpdater/Role/Resource"),
    (SSH_KEYS_UPDATER_FUNCTION, "sshKeysUpdater/Lambda/Resource"),
    (SSH_KEYS_UPDATER_RULE, "sshKeysUpdater/EventRule/Resource"),
    (
        SSH_KEYS_UPDATER_PERMISSION,
        "sshKeysUpdater/EventRule/AllowEventRuleAwsSemaphoreAgentStacksshKeysUpdaterLambda0266771E",
    ),
    (CONFIG_PARAMETER, "SemaphoreAgentConfigParameter/Resource"),
    (INSTANCE_POLICY, "instanceProfilePolicy/Resource"),
    (INSTANCE_ROLE, "instanceProfileRole/Resource"),
    (SECURITY_GROUP, "securityGroup/Resource"),
    (INSTANCE_PROFILE, "launchTemplate/Profile"),
    (LAUNCH_TEMPLATE, "launchTemplate/Resource"),
    (HOST_RESOURCE_GROUP, "hostResourceGroup"),
    (AUTO_SCALING_GROUP, "autoScalingGroup"),
    (
        AZ_REBALANCE_SUSPENDER_POLICY,
        "azRebalanceSuspenderPolicy/Resource",
    ),
    (
        AZ_REBALANCE_SUSPENDER_ROLE,
        "azRebalanceSuspenderRole/Resource",
    ),
    (
        AZ_REBALANCE_SUSPENDER_FUNCTION,
        "azRebalanceSuspenderProvider/framework-onEvent/Resource",
    ),
    (AZ_REBALANCE_SUSPENDER, "azRebalanceSuspender/Default"),
    (SCALER_POLICY, "scalerLambdaPolicy/Resource"),
    (SCALER_ROLE, "scalerLambdaRole/Resource"),
    (SCALER_SECURITY_GROUP, "scalerLambda/SecurityGroup/Resource"),
    (SCALER_FUNCTION, "scalerLambda/Resource"),
    (
        SCALER_EVENT_INVOKE_CONFIG,
        "scalerLambda/EventInvokeConfig/Resource",
    ),
    (SCALER_RULE, "scalerRule/Resource"),
    (
        SCALER_PERMISSION,
        "scalerRule/AllowEventRuleAwsSemaphoreAgentStackscalerLambdaEE224170",
    ),
    (SSH_KEYS_UPDATER_LOG_GROUP, "sshKeysUpdaterLogGroup"),
    (
        AZ_REBALANCE_SUSPENDER_LOG_GROUP,
        "azRebalanceSuspenderLogGroup",
    ),
    (SCALER_LOG_GROUP, "scalerLambdaLogGroup"),
];

/// The construct path of a resource (`None` for an ID this stack never creates).
pub fn construct_path(id: &str) -> Option<&'static str> {
    CONSTRUCT_PATHS
        .iter()
        .find(|(known, _)| *known == id)
        .map(|(_, path)| *path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    /// CDK's `makeUniqueId`: drop `Default` components; a single component is used as is
    /// (alphanumerics only); otherwise a human part (de-duplicated, without `Resource`) plus
    /// the first 8 hex digits of the MD5 of the joined path, uppercased.
    fn cdk_logical_id(path: &str) -> String {
        let components: Vec<&str> = path.split('/').filter(|c| *c != "Default").collect();
        let alnum = |s: &str| {
            s.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        };
        if components.len() == 1 {
            return alnum(components[0]);
        }
        let digest = Md5::digest(components.join("/").as_bytes());
        let hash: String = digest[..4].iter().map(|b| format!("{b:02X}")).collect();
        let mut kept: Vec<&str> = Vec::new();
        for c in &components {
            if kept.last().is_some_and(|last| last.ends_with(c)) {
                continue;
            }
            kept.push(c);
        }
        let human: String = kept
            .iter()
            .filter(|c| **c != "Resource")
            .map(|c| alnum(c))
            .collect();
        format!("{human}{hash}")
    }

    #[test]
    fn ids_are_the_ones_cdk_derived_from_construct_paths() {
        let cases = CONSTRUCT_PATHS;
        for (id, path) in cases {
            assert_eq!(cdk_logical_id(path), *id, "path {path}");
        }
        // The unique ids embedded in the permission IDs and the scaler SG description.
        assert_eq!(
            cdk_logical_id("AwsSemaphoreAgentStack/scalerLambda"),
            "AwsSemaphoreAgentStackscalerLambdaEE224170"
        );
        assert_eq!(
            cdk_logical_id("AwsSemaphoreAgentStack/sshKeysUpdater/Lambda"),
            "AwsSemaphoreAgentStacksshKeysUpdaterLambda0266771E"
        );
    }
}
