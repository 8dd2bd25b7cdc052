//! The IAM policy CloudFormation needs to create, update and delete one agent stack, for the
//! execution role `bootstrap --cloudformation-execution-policies` creates (so deploys need no
//! administrator role). IAM is scoped to the stack's own roles and instance profiles (their
//! names start with the stack name), so the policy cannot be used to grant anything else.

use serde_json::{Value, json};

/// One statement: what it is for, actions, resources, optional condition.
struct Grant {
    sid: &'static str,
    actions: &'static [&'static str],
    resources: Vec<String>,
    condition: Option<Value>,
}

/// The resource types each statement serves (the test checks every type we deploy has one).
pub const COVERED_TYPES: &[(&str, &str)] = &[
    ("AWS::SSM::Parameter", "Parameters"),
    ("AWS::IAM::Role", "StackRoles"),
    ("AWS::IAM::Policy", "StackRoles"),
    ("AWS::IAM::InstanceProfile", "StackInstanceProfile"),
    ("AWS::Lambda::Function", "Functions"),
    ("AWS::Lambda::Permission", "Functions"),
    ("AWS::Lambda::EventInvokeConfig", "Functions"),
    ("AWS::Logs::LogGroup", "LogGroups"),
    ("AWS::Events::Rule", "Schedules"),
    ("AWS::EC2::SecurityGroup", "SecurityGroups"),
    ("AWS::EC2::LaunchTemplate", "LaunchTemplate"),
    ("AWS::AutoScaling::AutoScalingGroup", "AutoScalingGroup"),
    ("AWS::CloudFormation::CustomResource", "Functions"),
    ("AWS::ResourceGroups::Group", "MacHostResourceGroup"),
];

/// The policy document for the stack named `stack` in `partition` (`aws`, `aws-cn`, …).
pub fn document(stack: &str, partition: &str) -> Value {
    let arn = |rest: &str| format!("arn:{partition}:{rest}");
    let grants = [
        Grant {
            sid: "Parameters",
            actions: &[
                "ssm:PutParameter",
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:DeleteParameter",
                "ssm:AddTagsToResource",
                "ssm:RemoveTagsFromResource",
                "ssm:ListTagsForResource",
                "ssm:DescribeParameters",
            ],
            resources: vec![arn(&format!("ssm:*:*:parameter/{stack}-*"))],
            condition: None,
        },
        Grant {
            sid: "StackRoles",
            actions: &[
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
            ],
            resources: vec![arn(&format!("iam::*:role/{stack}-*"))],
            condition: None,
        },
        Grant {
            sid: "PassStackRoles",
            actions: &["iam:PassRole"],
            resources: vec![arn(&format!("iam::*:role/{stack}-*"))],
            condition: Some(json!({
                "StringEquals": {
                    "iam:PassedToService": ["lambda.amazonaws.com", "ec2.amazonaws.com"]
                }
            })),
        },
        Grant {
            sid: "StackInstanceProfile",
            actions: &[
                "iam:CreateInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:GetInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:UntagInstanceProfile",
            ],
            resources: vec![arn(&format!("iam::*:instance-profile/{stack}-*"))],
            condition: None,
        },
        Grant {
            sid: "AutoScalingServiceLinkedRole",
            actions: &["iam:CreateServiceLinkedRole"],
            resources: vec!["*".into()],
            condition: Some(json!({
                "StringEquals": { "iam:AWSServiceName": "autoscaling.amazonaws.com" }
            })),
        },
        Grant {
            sid: "Functions",
            actions: &[
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:GetFunctionCodeSigningConfig",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:ListTags",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
                "lambda:PutFunctionEventInvokeConfig",
                "lambda:UpdateFunctionEventInvokeConfig",
                "lambda:GetFunctionEventInvokeConfig",
                "lambda:DeleteFunctionEventInvokeConfig",
                "lambda:InvokeFunction",
            ],
            resources: vec![arn(&format!("lambda:*:*:function:{stack}-*"))],
            condition: None,
        },
        Grant {
            sid: "FunctionCode",
            actions: &["s3:GetObject", "s3:GetObjectVersion"],
            resources: vec![arn(&format!(
                "s3:::{}*/*",
                stack_contract::aws::ASSETS_BUCKET_PREFIX
            ))],
            condition: None,
        },
        Grant {
            sid: "LogGroups",
            actions: &[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:DescribeLogGroups",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
                // SEMAPHORE_AGENT_LOG_GROUP_KMS_KEY_ARN: set, change or remove the key.
                "logs:AssociateKmsKey",
                "logs:DisassociateKmsKey",
            ],
            resources: vec![arn(&format!("logs:*:*:log-group:/aws/lambda/{stack}-*"))],
            condition: None,
        },
        Grant {
            sid: "DescribeLogGroups",
            actions: &["logs:DescribeLogGroups"],
            resources: vec!["*".into()],
            condition: None,
        },
        Grant {
            sid: "Schedules",
            actions: &[
                "events:PutRule",
                "events:DeleteRule",
                "events:DescribeRule",
                "events:EnableRule",
                "events:DisableRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:ListTargetsByRule",
                "events:TagResource",
                "events:UntagResource",
            ],
            resources: vec![arn(&format!("events:*:*:rule/{stack}-*"))],
            condition: None,
        },
        Grant {
            sid: "SecurityGroups",
            actions: &[
                "ec2:CreateSecurityGroup",
                "ec2:DeleteSecurityGroup",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:ModifySecurityGroupRules",
                "ec2:CreateTags",
                "ec2:DeleteTags",
            ],
            resources: vec![
                arn("ec2:*:*:security-group/*"),
                arn("ec2:*:*:security-group-rule/*"),
                arn("ec2:*:*:vpc/*"),
            ],
            condition: None,
        },
        Grant {
            sid: "LaunchTemplate",
            actions: &[
                "ec2:CreateLaunchTemplate",
                "ec2:CreateLaunchTemplateVersion",
                "ec2:ModifyLaunchTemplate",
                "ec2:DeleteLaunchTemplate",
                "ec2:DeleteLaunchTemplateVersions",
                "ec2:GetLaunchTemplateData",
                "ec2:CreateTags",
            ],
            resources: vec![arn("ec2:*:*:launch-template/*")],
            condition: None,
        },
        Grant {
            sid: "LaunchInstances",
            actions: &["ec2:RunInstances", "ec2:CreateTags"],
            resources: vec!["*".into()],
            condition: None,
        },
        Grant {
            sid: "Describe",
            actions: &[
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeKeyPairs",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSecurityGroupRules",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "ec2:DescribeHosts",
                "autoscaling:Describe*",
            ],
            resources: vec!["*".into()],
            condition: None,
        },
        Grant {
            sid: "AutoScalingGroup",
            actions: &[
                "autoscaling:CreateAutoScalingGroup",
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:DeleteAutoScalingGroup",
                "autoscaling:CreateOrUpdateTags",
                "autoscaling:DeleteTags",
                "autoscaling:EnableMetricsCollection",
                "autoscaling:DisableMetricsCollection",
                "autoscaling:SetDesiredCapacity",
            ],
            resources: vec![arn(&format!(
                "autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/{stack}-*"
            ))],
            condition: None,
        },
        Grant {
            sid: "MacHostResourceGroup",
            actions: &[
                "resource-groups:CreateGroup",
                "resource-groups:DeleteGroup",
                "resource-groups:GetGroup",
                "resource-groups:UpdateGroup",
                "resource-groups:GetGroupConfiguration",
                "resource-groups:PutGroupConfiguration",
                "resource-groups:GetTags",
                "resource-groups:Tag",
                "resource-groups:Untag",
                "resource-groups:ListGroupResources",
                "license-manager:GetLicenseConfiguration",
                "license-manager:ListLicenseSpecificationsForResource",
                "license-manager:UpdateLicenseSpecificationsForResource",
            ],
            resources: vec!["*".into()],
            condition: None,
        },
    ];
    let statements: Vec<Value> = grants
        .iter()
        .map(|g| {
            let mut statement = json!({
                "Sid": g.sid,
                "Effect": "Allow",
                "Action": g.actions,
                "Resource": g.resources,
            });
            if let Some(condition) = &g.condition {
                statement["Condition"] = condition.clone();
            }
            statement
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_writes_are_limited_to_the_stacks_own_roles() {
        let doc = document("ci-agents", "aws");
        for statement in doc["Statement"].as_array().expect("statements") {
            let writes_iam = statement["Action"]
                .as_array()
                .expect("actions")
                .iter()
                .filter_map(Value::as_str)
                .any(|a| a.starts_with("iam:"));
            if !writes_iam {
                continue;
            }
            for resource in statement["Resource"].as_array().expect("resources") {
                let resource = resource.as_str().expect("string");
                assert!(
                    resource.contains("/ci-agents-") || statement.get("Condition").is_some(),
                    "{statement}"
                );
            }
        }
    }

    #[test]
    fn every_covered_type_names_a_statement() {
        let doc = document("s", "aws-cn");
        let sids: Vec<&str> = doc["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .filter_map(|s| s["Sid"].as_str())
            .collect();
        for (kind, sid) in COVERED_TYPES {
            assert!(sids.contains(sid), "{kind} → {sid}");
        }
        assert!(doc.to_string().contains("arn:aws-cn:iam::*:role/s-*"));
    }

    #[test]
    fn fits_a_managed_policy() {
        // Managed policies hold at most 6,144 characters, whitespace not counted.
        let text = document(
            "a-stack-name-of-eighty-characters-is-long-but-allowed-by-cloudformation",
            "aws",
        )
        .to_string();
        assert!(text.len() < 6144, "{} characters", text.len());
    }
}
