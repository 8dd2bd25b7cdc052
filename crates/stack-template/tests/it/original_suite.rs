//! The original project's Jest suite (56 tests), assertion by assertion, against our
//! synthesis. Matching follows CDK's `hasResourceProperties`: objects partially, arrays
//! exactly. Where we differ on purpose (Rust Lambdas), the assertion says so.

use std::collections::BTreeMap;

use crate::support::{FixtureLookups, has_resource_properties, resources_of_type, synth_pairs};
use serde_json::{Value, json};
use stack_config::{ConfigError, RawConfig, StackConfig, parse};
use stack_template::{SecurityGroupInfo, Subnet, SubnetGroup, SubnetType, VpcInfo};

const ACCOUNT: &str = "123456789012";
const ASG_ARN: &str = "arn:aws:autoscaling:*:123456789012:autoScalingGroup:*:autoScalingGroupName/test-stack-autoScalingGroup-*";

fn subnet(id: &str, az: &str) -> Subnet {
    Subnet {
        subnet_id: id.into(),
        cidr: "10.0.0.0/24".into(),
        availability_zone: az.into(),
        route_table_id: "rtb-test".into(),
    }
}

fn group(name: &str, kind: SubnetType, subnets: Vec<Subnet>) -> SubnetGroup {
    SubnetGroup {
        name: name.into(),
        kind,
        subnets,
    }
}

fn vpc(id: &str, groups: Vec<SubnetGroup>) -> VpcInfo {
    VpcInfo {
        vpc_id: id.into(),
        vpc_cidr_block: "10.0.0.0/16".into(),
        owner_account_id: None,
        availability_zones: vec![],
        subnet_groups: groups,
        vpn_gateway_id: None,
    }
}

/// The Jest app's context: default AMIs per OS, `ami-custom`, a custom security group, the
/// default VPC, a custom VPC, CDK's dummy VPC for any other id, and CDK's dummy AZs.
fn jest_context() -> FixtureLookups {
    let mut ami_by_name = BTreeMap::new();
    for os in ["ubuntu-focal", "windows", "macos"] {
        ami_by_name.insert(format!("{os}-x86_64"), format!("default-{os}-ami-id"));
    }
    let mut vpcs = BTreeMap::new();
    vpcs.insert(
        "default".into(),
        vpc(
            "vpc-00000-default",
            vec![group(
                "Public",
                SubnetType::Public,
                vec![
                    subnet("subnet-dummy-1", "us-east-1a"),
                    subnet("subnet-dummy-2", "us-east-1b"),
                ],
            )],
        ),
    );
    vpcs.insert(
        "vpc-000000000-custom".into(),
        vpc(
            "vpc-000000000-custom",
            vec![
                group(
                    "public-subnet-for-testing",
                    SubnetType::Public,
                    vec![
                        subnet("subnet-00001", "us-east-1a"),
                        subnet("subnet-00002", "us-east-1b"),
                        subnet("subnet-00003", "us-east-1c"),
                    ],
                ),
                group(
                    "private-subnet-for-testing",
                    SubnetType::Private,
                    vec![subnet("subnet-00004", "us-east-1a")],
                ),
            ],
        ),
    );
    vpcs.insert(
        "vpc-1234".into(),
        vpc(
            "vpc-12345",
            vec![
                group(
                    "Public",
                    SubnetType::Public,
                    vec![subnet("s-12345", "dummy1a"), subnet("s-67890", "dummy1b")],
                ),
                group(
                    "Private",
                    SubnetType::Private,
                    vec![subnet("p-12345", "dummy1a"), subnet("p-67890", "dummy1b")],
                ),
            ],
        ),
    );
    let mut security_groups = BTreeMap::new();
    security_groups.insert(
        "custom-security-group-id".into(),
        SecurityGroupInfo {
            security_group_id: "custom-security-group-id".into(),
            allow_all_outbound: true,
        },
    );
    FixtureLookups {
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        ami_by_name,
        ami_by_id: [("ami-custom".to_owned(), "ami-custom".to_owned())].into(),
        vpcs,
        availability_zones: Some(vec!["dummy1a".into(), "dummy1b".into(), "dummy1c".into()]),
        security_groups,
    }
}

const BASIC: &[(&str, &str)] = &[
    ("SEMAPHORE_AGENT_STACK_NAME", "test-stack"),
    ("SEMAPHORE_ORGANIZATION", "test"),
    ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "test-token"),
];

/// The template for the basic arguments plus `extra` (later pairs win).
fn template(extra: &[(&str, &str)]) -> Value {
    let mut pairs = BASIC.to_vec();
    pairs.extend_from_slice(extra);
    let keys = vec!["ssh-key1".to_owned(), "ssh-key2".to_owned()];
    synth_pairs(&pairs, &jest_context(), &keys)
        .expect("synthesizes")
        .template
        .to_json()
}

fn assert_has(template: &Value, kind: &str, expected: Value) {
    assert!(
        has_resource_properties(template, kind, &expected),
        "no {kind} matches {}\nresources of that type: {}",
        serde_json::to_string_pretty(&expected).unwrap_or_default(),
        serde_json::to_string_pretty(
            &resources_of_type(template, kind)
                .map(|(id, r)| json!({ id: r["Properties"] }))
                .collect::<Vec<_>>()
        )
        .unwrap_or_default()
    );
}

fn managed(name: &str) -> Value {
    json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, format!(":iam::aws:policy/{name}")]]})
}

fn config_value(overrides: &str) -> String {
    let mut base = json!({
        "endpoint": "test.semaphoreci.com",
        "agentTokenParameterName": "test-token",
        "sshKeysParameterName": "test-stack-ssh-public-keys",
        "disconnectAfterJob": "true",
        "disconnectAfterIdleTimeout": "300",
        "envVars": [],
        "usePreSignedURL": false
    });
    let patch: Value = serde_json::from_str(overrides).expect("patch JSON");
    for (k, v) in patch.as_object().expect("object") {
        base[k] = v.clone();
    }
    base.to_string()
}

// ---- SSM parameter for agent configuration

#[test]
fn t01_config_parameter_name_is_prefixed_with_stack_name() {
    assert_has(
        &template(&[]),
        "AWS::SSM::Parameter",
        json!({"Type": "String", "Name": "test-stack-config", "Description": "Parameters required by the semaphore agent", "Tier": "Standard"}),
    );
}

#[test]
fn t02_config_parameter_default_values() {
    assert_has(
        &template(&[]),
        "AWS::SSM::Parameter",
        json!({"Value": config_value("{}")}),
    );
}

#[test]
fn t03_config_parameter_sets_endpoint_directly() {
    assert_has(
        &template(&[("SEMAPHORE_ENDPOINT", "someother.endpoint")]),
        "AWS::SSM::Parameter",
        json!({"Value": config_value(r#"{"endpoint":"someother.endpoint"}"#)}),
    );
}

#[test]
fn t04_config_parameter_disconnect_settings_are_strings() {
    assert_has(
        &template(&[
            ("SEMAPHORE_AGENT_DISCONNECT_AFTER_JOB", "false"),
            ("SEMAPHORE_AGENT_DISCONNECT_AFTER_IDLE_TIMEOUT", "120"),
        ]),
        "AWS::SSM::Parameter",
        json!({"Value": config_value(r#"{"disconnectAfterJob":"false","disconnectAfterIdleTimeout":"120"}"#)}),
    );
}

#[test]
fn t05_config_parameter_s3_cache() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_CACHE_BUCKET_NAME", "test-cache-bucket")]),
        "AWS::SSM::Parameter",
        json!({"Value": config_value(r#"{"envVars":["SEMAPHORE_CACHE_BACKEND=s3","SEMAPHORE_CACHE_S3_BUCKET=test-cache-bucket","SEMAPHORE_CACHE_USE_EC2_INSTANCE_PROFILE=true"]}"#)}),
    );
}

#[test]
fn t06_config_parameter_pre_signed_url_is_a_boolean() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_USE_PRE_SIGNED_URL", "true")]),
        "AWS::SSM::Parameter",
        json!({"Value": config_value(r#"{"usePreSignedURL":true}"#)}),
    );
}

// ---- SSM parameter for SSH keys

#[test]
fn t07_ssh_keys_parameter() {
    assert_has(
        &template(&[]),
        "AWS::SSM::Parameter",
        json!({"Type": "String", "Name": "test-stack-ssh-public-keys", "Description": "GitHub SSH public keys.", "Tier": "Standard", "Value": "[\"ssh-key1\",\"ssh-key2\"]"}),
    );
}

// ---- instance profile

fn ec2_trust() -> Value {
    json!({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}], "Version": "<any>"})
}

#[test]
fn t08_ec2_can_assume_the_instance_role() {
    assert_has(
        &template(&[]),
        "AWS::IAM::Role",
        json!({"AssumeRolePolicyDocument": ec2_trust(), "ManagedPolicyArns": [managed("AmazonSSMManagedInstanceCore")]}),
    );
}

#[test]
fn t09_custom_managed_policies() {
    let customer = |name: &str| json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, format!(":iam::{ACCOUNT}:policy/{name}")]]});
    assert_has(
        &template(&[(
            "SEMAPHORE_AGENT_MANAGED_POLICY_NAMES",
            "custom-policy-1,custom-policy-2",
        )]),
        "AWS::IAM::Role",
        json!({"AssumeRolePolicyDocument": ec2_trust(), "ManagedPolicyArns": [
            managed("AmazonSSMManagedInstanceCore"), customer("custom-policy-1"), customer("custom-policy-2")
        ]}),
    );
}

fn instance_statements() -> Vec<Value> {
    vec![
        json!({"Action": ["autoscaling:SetInstanceHealth", "autoscaling:TerminateInstanceInAutoScalingGroup"], "Effect": "Allow", "Resource": ASG_ARN}),
        json!({"Action": "ssm:GetParameter", "Effect": "Allow", "Resource": [
            "arn:aws:ssm:*:*:parameter/test-stack-config",
            "arn:aws:ssm:*:*:parameter/test-stack-ssh-public-keys",
            "arn:aws:ssm:*:*:parameter/test-token"
        ]}),
        json!({"Action": "kms:Decrypt", "Effect": "Allow", "Resource": "arn:aws:kms:*:*:key/dummy-kms-key-id"}),
        json!({"Action": [
            "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams",
            "logs:DescribeLogGroups", "logs:PutLogEvents", "logs:PutRetentionPolicy"
        ], "Effect": "Allow", "Resource": "arn:aws:logs:*:*:log-group:/semaphore/*"}),
    ]
}

#[test]
fn t10_instance_policy_without_cache_bucket() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_TOKEN_KMS_KEY", "dummy-kms-key-id")]),
        "AWS::IAM::Policy",
        json!({"PolicyName": "test-stack-instance-profile-policy", "Roles": "<any>", "PolicyDocument": {"Statement": instance_statements()}}),
    );
}

#[test]
fn t11_instance_policy_with_cache_bucket() {
    let mut statements = instance_statements();
    statements.push(json!({"Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:DeleteObject"], "Effect": "Allow", "Resource": [
        "arn:aws:s3:::test-cache-bucket/*", "arn:aws:s3:::test-cache-bucket"
    ]}));
    assert_has(
        &template(&[
            ("SEMAPHORE_AGENT_TOKEN_KMS_KEY", "dummy-kms-key-id"),
            ("SEMAPHORE_AGENT_CACHE_BUCKET_NAME", "test-cache-bucket"),
        ]),
        "AWS::IAM::Policy",
        json!({"PolicyName": "test-stack-instance-profile-policy", "Roles": "<any>", "PolicyDocument": {"Statement": statements}}),
    );
}

// ---- launch template

fn lt(data: Value) -> Value {
    json!({ "LaunchTemplateData": data })
}

#[test]
fn t12_default_linux_ami() {
    assert_has(
        &template(&[]),
        "AWS::EC2::LaunchTemplate",
        lt(json!({"ImageId": "default-ubuntu-focal-ami-id"})),
    );
}

#[test]
fn t13_default_windows_ami() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_OS", "windows")]),
        "AWS::EC2::LaunchTemplate",
        lt(json!({"ImageId": "default-windows-ami-id"})),
    );
}

#[test]
fn t14_specified_ami() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_AMI", "ami-custom")]),
        "AWS::EC2::LaunchTemplate",
        lt(json!({"ImageId": "ami-custom"})),
    );
}

#[test]
fn t15_default_instance_type() {
    assert_has(
        &template(&[]),
        "AWS::EC2::LaunchTemplate",
        lt(json!({"InstanceType": "t2.micro"})),
    );
}

#[test]
fn t16_specified_instance_type() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_INSTANCE_TYPE", "t2.medium")]),
        "AWS::EC2::LaunchTemplate",
        lt(json!({"InstanceType": "t2.medium"})),
    );
}

#[test]
fn t17_volume_inherited_from_ami() {
    assert_has(
        &template(&[]),
        "AWS::EC2::LaunchTemplate",
        lt(json!({"BlockDeviceMappings": "<absent>"})),
    );
}

#[test]
fn t18_default_volume() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_VOLUME_NAME", "/dev/sda1")]),
        "AWS::EC2::LaunchTemplate",
        lt(
            json!({"BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeType": "gp2", "VolumeSize": 64}}]}),
        ),
    );
}

#[test]
fn t19_custom_volume() {
    assert_has(
        &template(&[
            ("SEMAPHORE_AGENT_VOLUME_NAME", "/dev/sda1"),
            ("SEMAPHORE_AGENT_VOLUME_TYPE", "gp3"),
            ("SEMAPHORE_AGENT_VOLUME_SIZE", "3981"),
            ("SEMAPHORE_AGENT_VOLUME_IOPS", "4500"),
            ("SEMAPHORE_AGENT_VOLUME_THROUGHPUT", "450"),
        ]),
        "AWS::EC2::LaunchTemplate",
        lt(
            json!({"BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeType": "gp3", "VolumeSize": 3981, "Iops": 4500, "Throughput": 450}}]}),
        ),
    );
}

#[test]
fn t20_linux_user_data() {
    assert_has(
        &template(&[]),
        "AWS::EC2::LaunchTemplate",
        lt(
            json!({"UserData": {"Fn::Base64": "#!/bin/bash\n/opt/semaphore/agent/start.sh test-stack-config"}}),
        ),
    );
}

#[test]
fn t21_windows_user_data() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_OS", "windows")]),
        "AWS::EC2::LaunchTemplate",
        lt(
            json!({"UserData": {"Fn::Base64": "<powershell>C:\\semaphore-agent\\start.ps1 test-stack-config</powershell>"}}),
        ),
    );
}

// ---- security group

fn egress() -> Value {
    json!([{"CidrIp": "0.0.0.0/0", "Description": "Allow all outbound traffic by default", "IpProtocol": "-1"}])
}

fn lt_security_group_is_get_att(t: &Value) {
    assert!(
        resources_of_type(t, "AWS::EC2::LaunchTemplate").any(|(_, r)| {
            let ids = &r["Properties"]["LaunchTemplateData"]["SecurityGroupIds"];
            ids.as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["Fn::GetAtt"][1] == "GroupId")
        }),
        "launch template should use the created group's GroupId"
    );
}

#[test]
fn t22_security_group_without_key() {
    let t = template(&[]);
    assert_has(
        &t,
        "AWS::EC2::SecurityGroup",
        json!({"SecurityGroupEgress": egress(), "SecurityGroupIngress": "<absent>"}),
    );
    lt_security_group_is_get_att(&t);
}

#[test]
fn t23_security_group_with_key() {
    let t = template(&[("SEMAPHORE_AGENT_KEY_NAME", "test-key")]);
    assert_has(
        &t,
        "AWS::EC2::SecurityGroup",
        json!({"SecurityGroupEgress": egress(), "SecurityGroupIngress": [{"CidrIp": "0.0.0.0/0", "Description": "allow ssh access from anywhere", "FromPort": 22, "IpProtocol": "tcp", "ToPort": 22}]}),
    );
    lt_security_group_is_get_att(&t);
}

#[test]
fn t24_specified_security_group() {
    let t = template(&[(
        "SEMAPHORE_AGENT_SECURITY_GROUP_ID",
        "custom-security-group-id",
    )]);
    assert_eq!(resources_of_type(&t, "AWS::EC2::SecurityGroup").count(), 0);
    assert_has(
        &t,
        "AWS::EC2::LaunchTemplate",
        lt(json!({"SecurityGroupIds": ["custom-security-group-id"]})),
    );
}

// ---- ipv6

#[test]
fn t25_ipv6_enabled() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_USE_IPV6", "true")]),
        "AWS::EC2::LaunchTemplate",
        lt(
            json!({"NetworkInterfaces": [{"DeviceIndex": 0, "Groups": ["<any>"], "Ipv6AddressCount": 1}]}),
        ),
    );
}

// ---- auto scaling group

const ASG: &str = "AWS::AutoScaling::AutoScalingGroup";

#[test]
fn t26_asg_defaults() {
    assert_has(
        &template(&[]),
        ASG,
        json!({"DesiredCapacity": "<absent>", "MinSize": "0", "MaxSize": "1"}),
    );
}

#[test]
fn t27_asg_desired_min_max() {
    assert_has(
        &template(&[
            ("SEMAPHORE_AGENT_ASG_DESIRED", "3"),
            ("SEMAPHORE_AGENT_ASG_MIN_SIZE", "1"),
            ("SEMAPHORE_AGENT_ASG_MAX_SIZE", "5"),
        ]),
        ASG,
        json!({"DesiredCapacity": "3", "MinSize": "1", "MaxSize": "5"}),
    );
}

#[test]
fn t28_asg_metrics_not_collected() {
    assert_has(
        &template(&[]),
        ASG,
        json!({"MetricsCollection": "<absent>"}),
    );
}

#[test]
fn t29_asg_metrics_collected() {
    assert_has(
        &template(&[(
            "SEMAPHORE_AGENT_ASG_METRICS",
            "GroupDesiredCapacity,GroupInServiceInstances,GroupPendingInstances",
        )]),
        ASG,
        json!({"MetricsCollection": [{"Granularity": "1Minute", "Metrics": ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances"]}]}),
    );
}

#[test]
fn t30_asg_tags() {
    assert_has(
        &template(&[]),
        ASG,
        json!({"Tags": [{"Key": "application", "PropagateAtLaunch": true, "Value": "semaphore-agent"}]}),
    );
}

#[test]
fn t31_az_rebalance_suspended() {
    let t = template(&[]);
    assert_has(
        &t,
        "AWS::IAM::Policy",
        json!({"PolicyName": "test-stack-az-rebalance-suspender-policy", "Roles": "<any>", "PolicyDocument": {"Statement": [
            {"Action": "autoscaling:SuspendProcesses", "Effect": "Allow", "Resource": ASG_ARN}
        ]}}),
    );
    assert_has(
        &t,
        "AWS::IAM::Role",
        json!({"AssumeRolePolicyDocument": {"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]}}),
    );
    // Deliberate difference: a Rust function (the original: nodejs22.x, app.handler).
    assert_has(
        &t,
        "AWS::Lambda::Function",
        json!({"Description": "Suspend AZRebalance process for auto scaling group", "Runtime": "provided.al2023", "Handler": "bootstrap", "Code": "<any>", "Role": "<any>"}),
    );
    assert_eq!(
        resources_of_type(&t, "AWS::CloudFormation::CustomResource").count(),
        1
    );
}

#[test]
fn t32_asg_max_instance_lifetime_is_a_number() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_ASG_MAX_INSTANCE_LIFETIME", "86400")]),
        ASG,
        json!({"MaxInstanceLifetime": 86400}),
    );
}

// ---- scaler lambda

/// Ours adds `SEMAPHORE_AGENT_ASG_NAME` (the group's name, so the scaler needs no tag search).
fn scaler_env(strategy: &str, factor: &str) -> Value {
    json!({"Variables": {
        "SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME": "test-token",
        "SEMAPHORE_AGENT_STACK_NAME": "test-stack",
        "SEMAPHORE_ENDPOINT": "test.semaphoreci.com",
        "SEMAPHORE_AGENT_OVERPROVISION_STRATEGY": strategy,
        "SEMAPHORE_AGENT_OVERPROVISION_FACTOR": factor,
        "SEMAPHORE_AGENT_ASG_NAME": {"Ref": "autoScalingGroup"}
    }})
}

/// The scaler's environment must be exactly these variables (objectEquals in the original).
fn assert_scaler_env(t: &Value, expected: Value) {
    let (_, scaler) = resources_of_type(t, "AWS::Lambda::Function")
        .find(|(_, r)| {
            r["Properties"]["Description"]
                == "Dynamically scale Semaphore agents based on jobs demand"
        })
        .expect("scaler function");
    assert_eq!(scaler["Properties"]["Environment"], expected);
}

#[test]
fn t33_scaler_properties() {
    let t = template(&[]);
    // Deliberate difference: a Rust function (the original: nodejs22.x, app.handler).
    assert_has(
        &t,
        "AWS::Lambda::Function",
        json!({"Description": "Dynamically scale Semaphore agents based on jobs demand", "Runtime": "provided.al2023", "Timeout": 60, "Handler": "bootstrap", "Code": "<any>", "Role": "<any>"}),
    );
    assert_scaler_env(&t, scaler_env("none", "0"));
}

#[test]
fn t34_scaler_in_vpc_with_subnets() {
    assert_has(
        &template(&[
            ("SEMAPHORE_AGENT_USE_IPV6", "true"),
            ("SEMAPHORE_AGENT_VPC_ID", "vpc-1234"),
            ("SEMAPHORE_AGENT_SUBNETS", "subnet-1234,subnet-5678"),
        ]),
        "AWS::Lambda::Function",
        json!({"VpcConfig": {"SecurityGroupIds": ["<any>"], "SubnetIds": ["subnet-1234", "subnet-5678"]}}),
    );
}

#[test]
fn t35_vpc_without_subnets_is_refused() {
    // The original's test bypassed validation to place the scaler in the VPC's private
    // subnets; through configuration, as users run it, a VPC needs subnets.
    let raw = RawConfig::from_pairs(
        BASIC
            .iter()
            .copied()
            .chain([("SEMAPHORE_AGENT_VPC_ID", "vpc-1234")]),
    );
    let err = StackConfig::from_raw(&raw).expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "SEMAPHORE_AGENT_SUBNETS is required, if SEMAPHORE_AGENT_VPC_ID is set."
    );
}

#[test]
fn t36_number_overprovision_strategy() {
    assert_scaler_env(
        &template(&[
            ("SEMAPHORE_AGENT_OVERPROVISION_STRATEGY", "number"),
            ("SEMAPHORE_AGENT_OVERPROVISION_FACTOR", "10"),
        ]),
        scaler_env("number", "10"),
    );
}

#[test]
fn t37_percentage_overprovision_strategy() {
    assert_scaler_env(
        &template(&[
            ("SEMAPHORE_AGENT_OVERPROVISION_STRATEGY", "percentage"),
            ("SEMAPHORE_AGENT_OVERPROVISION_FACTOR", "25"),
        ]),
        scaler_env("percentage", "25"),
    );
}

fn overprovision_error(strategy: &str, factor: &str) -> ConfigError {
    let raw = RawConfig::from_pairs(BASIC.iter().copied().chain([
        ("SEMAPHORE_AGENT_OVERPROVISION_STRATEGY", strategy),
        ("SEMAPHORE_AGENT_OVERPROVISION_FACTOR", factor),
    ]));
    StackConfig::from_raw(&raw).expect_err("invalid")
}

#[test]
fn t38_invalid_number_factor() {
    assert_eq!(
        overprovision_error("number", "not-a-number").to_string(),
        "SEMAPHORE_AGENT_OVERPROVISION_FACTOR is invalid"
    );
}

#[test]
fn t39_invalid_percentage_factor() {
    assert_eq!(
        overprovision_error("percentage", "not-a-number").to_string(),
        "SEMAPHORE_AGENT_OVERPROVISION_FACTOR is invalid"
    );
}

#[test]
fn t40_negative_number_factor() {
    assert_eq!(
        overprovision_error("number", "-1").to_string(),
        "SEMAPHORE_AGENT_OVERPROVISION_FACTOR must be greater than zero"
    );
}

#[test]
fn t41_negative_percentage_factor() {
    assert_eq!(
        overprovision_error("percentage", "-1").to_string(),
        "SEMAPHORE_AGENT_OVERPROVISION_FACTOR must be greater than zero"
    );
}

#[test]
fn t42_scaler_rule() {
    assert_has(
        &template(&[]),
        "AWS::Events::Rule",
        json!({"Description": "Rule to dynamically invoke lambda function to scale Semaphore agent asg", "ScheduleExpression": "rate(1 minute)", "State": "ENABLED", "Targets": "<any>"}),
    );
}

#[test]
fn t43_scaler_permissions() {
    assert_has(
        &template(&[("SEMAPHORE_AGENT_TOKEN_KMS_KEY", "dummy-kms-key-id")]),
        "AWS::IAM::Policy",
        json!({"PolicyName": "test-stack-scaler-lambda-policy", "Roles": "<any>", "PolicyDocument": {"Statement": [
            {"Action": "autoscaling:DescribeAutoScalingGroups", "Effect": "Allow", "Resource": "*"},
            {"Action": "autoscaling:SetDesiredCapacity", "Effect": "Allow", "Resource": ASG_ARN},
            {"Action": "ssm:GetParameter", "Effect": "Allow", "Resource": "arn:aws:ssm:*:*:parameter/test-token"},
            {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": "arn:aws:kms:*:*:key/dummy-kms-key-id"},
            {"Action": "cloudwatch:PutMetricData", "Effect": "Allow", "Resource": "*"}
        ]}}),
    );
}

#[test]
fn t44_scaler_can_be_disabled() {
    let t = template(&[("SEMAPHORE_AGENT_USE_DYNAMIC_SCALING", "false")]);
    let scalers = resources_of_type(&t, "AWS::Lambda::Function")
        .filter(|(_, r)| {
            r["Properties"]["Description"]
                == "Dynamically scale Semaphore agents based on jobs demand"
        })
        .count();
    assert_eq!(scalers, 0);
}

// ---- SSH keys updater lambda

#[test]
fn t45_ssh_keys_updater_properties() {
    // Deliberate difference: a Rust function (the original: nodejs22.x, app.handler).
    assert_has(
        &template(&[]),
        "AWS::Lambda::Function",
        json!({"Description": "Check if GitHub SSH public keys have changed.", "Runtime": "provided.al2023", "Timeout": 10, "Handler": "bootstrap",
               "Environment": {"Variables": {"SSM_PARAMETER": "test-stack-ssh-public-keys"}}, "Code": "<any>", "Role": "<any>"}),
    );
}

#[test]
fn t46_ssh_keys_updater_rule() {
    assert_has(
        &template(&[]),
        "AWS::Events::Rule",
        json!({"Description": "Rule to dynamically invoke lambda function to check GitHub public SSH keys.", "ScheduleExpression": "rate(1 day)", "State": "ENABLED", "Targets": "<any>"}),
    );
}

#[test]
fn t47_ssh_keys_updater_permissions() {
    assert_has(
        &template(&[]),
        "AWS::IAM::Policy",
        json!({"PolicyName": "sshKeysUpdater-policy", "PolicyDocument": {"Statement": [
            {"Action": ["ssm:GetParameter", "ssm:PutParameter"], "Effect": "Allow", "Resource": "arn:aws:ssm:*:*:parameter/test-stack-ssh-public-keys"}
        ]}}),
    );
}

// ---- vpc and subnets

#[test]
fn t48_default_vpc() {
    let t = template(&[]);
    assert_has(
        &t,
        ASG,
        json!({"VPCZoneIdentifier": "<absent>", "AvailabilityZones": "<any>"}),
    );
    assert_has(
        &t,
        "AWS::EC2::SecurityGroup",
        json!({"VpcId": "vpc-00000-default"}),
    );
}

#[test]
fn t49_custom_vpc() {
    let t = template(&[
        ("SEMAPHORE_AGENT_VPC_ID", "vpc-000000000-custom"),
        (
            "SEMAPHORE_AGENT_SUBNETS",
            "subnet-00001,subnet-00002,subnet-00003",
        ),
    ]);
    assert_has(
        &t,
        ASG,
        json!({"VPCZoneIdentifier": ["subnet-00001", "subnet-00002", "subnet-00003"], "AvailabilityZones": "<absent>"}),
    );
    assert_has(
        &t,
        "AWS::EC2::SecurityGroup",
        json!({"VpcId": "vpc-000000000-custom"}),
    );
}

// ---- host resource group

const LICENSE: &str =
    "arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-08ha0s8hd";

fn mac(extra: &[(&str, &str)]) -> Value {
    let mut pairs = vec![
        ("SEMAPHORE_AGENT_OS", "macos"),
        ("SEMAPHORE_AGENT_LICENSE_CONFIGURATION_ARN", LICENSE),
    ];
    pairs.extend_from_slice(extra);
    template(&pairs)
}

fn host_configuration(families: &[&str], allocate: &str, release: &str) -> Value {
    json!([
        {"Type": "AWS::EC2::HostManagement", "Parameters": [
            {"Name": "allowed-host-based-license-configurations", "Values": [LICENSE]},
            {"Name": "allowed-host-families", "Values": families},
            {"Name": "auto-allocate-host", "Values": [allocate]},
            {"Name": "auto-release-host", "Values": [release]},
            {"Name": "auto-host-recovery", "Values": ["true"]}
        ]},
        {"Type": "AWS::ResourceGroups::Generic", "Parameters": [
            {"Name": "allowed-resource-types", "Values": ["AWS::EC2::Host"]},
            {"Name": "deletion-protection", "Values": ["UNLESS_EMPTY"]}
        ]}
    ])
}

#[test]
fn t50_host_resource_group_for_mac() {
    assert_has(
        &mac(&[]),
        "AWS::ResourceGroups::Group",
        json!({"Name": "test-stack", "Resources": [], "Configuration": host_configuration(&["mac2"], "true", "true")}),
    );
}

#[test]
fn t51_host_resource_group_with_dedicated_hosts() {
    assert_has(
        &mac(&[(
            "SEMAPHORE_AGENT_MAC_DEDICATED_HOSTS",
            "h-0001,h-0002,h-0003",
        )]),
        "AWS::ResourceGroups::Group",
        json!({"Resources": [
            "arn:aws:ec2:us-east-1:123456789012:dedicated-host/h-0001",
            "arn:aws:ec2:us-east-1:123456789012:dedicated-host/h-0002",
            "arn:aws:ec2:us-east-1:123456789012:dedicated-host/h-0003"
        ], "Configuration": host_configuration(&["mac2"], "true", "true")}),
    );
}

#[test]
fn t52_host_resource_group_auto_hosts_false() {
    assert_has(
        &mac(&[
            ("SEMAPHORE_AGENT_AUTO_ALLOCATE_HOST", "false"),
            ("SEMAPHORE_AGENT_AUTO_RELEASE_HOST", "false"),
        ]),
        "AWS::ResourceGroups::Group",
        json!({"Configuration": host_configuration(&["mac2"], "false", "false")}),
    );
}

#[test]
fn t53_multiple_mac_families() {
    let t = mac(&[
        ("SEMAPHORE_AGENT_MAC_FAMILY", "mac2,mac2-m2"),
        ("SEMAPHORE_AGENT_INSTANCE_TYPE", "mac2.metal"),
    ]);
    assert_has(
        &t,
        "AWS::ResourceGroups::Group",
        json!({"Configuration": host_configuration(&["mac2", "mac2-m2"], "true", "true")}),
    );
    assert_has(
        &t,
        ASG,
        json!({"MixedInstancesPolicy": {"LaunchTemplate": {"Overrides": [{"InstanceType": "mac2.metal"}, {"InstanceType": "mac2-m2.metal"}]}}}),
    );
}

#[test]
fn t54_prioritized_mac_families() {
    let t = mac(&[
        ("SEMAPHORE_AGENT_MAC_FAMILY", "mac2,mac2-m2"),
        ("SEMAPHORE_AGENT_INSTANCE_TYPE", "mac2.metal"),
        (
            "SEMAPHORE_AGENT_ON_DEMAND_ALLOCATION_STRATEGY",
            "prioritized",
        ),
    ]);
    assert_has(
        &t,
        ASG,
        json!({"MixedInstancesPolicy": {
            "InstancesDistribution": {"OnDemandAllocationStrategy": "prioritized"},
            "LaunchTemplate": {"Overrides": [{"InstanceType": "mac2.metal"}, {"InstanceType": "mac2-m2.metal"}]}
        }}),
    );
}

// ---- get tags (argument store)

#[test]
fn t55_empty_tags() {
    assert_eq!(parse::tags(""), Ok(vec![]));
}

#[test]
fn t56_multiple_tags() {
    let tags = parse::tags(" Name : Something ,Category:SomethingElse").expect("valid");
    let pairs: Vec<(&str, &str)> = tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [("Name", "Something"), ("Category", "SomethingElse")]
    );
}
