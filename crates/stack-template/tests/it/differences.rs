//! The deliberate differences from the original, and template-wide invariants.

use crate::support::{
    FixtureLookups, fixture_ssh_keys, has_resource_properties, references, resources_of_type,
    synth_pairs,
};
use serde_json::{Value, json};
use stack_template::{SynthError, ids};

const BASIC: &[(&str, &str)] = &[
    ("SEMAPHORE_AGENT_STACK_NAME", "ci-agents"),
    ("SEMAPHORE_ORGANIZATION", "acme"),
    ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "ci-agents-token"),
];

fn synth(extra: &[(&str, &str)]) -> Result<Value, SynthError> {
    let mut pairs = BASIC.to_vec();
    pairs.extend_from_slice(extra);
    synth_pairs(&pairs, &FixtureLookups::load_default(), &fixture_ssh_keys())
        .map(|s| s.template.to_json())
}

fn template(extra: &[(&str, &str)]) -> Value {
    synth(extra).expect("synthesizes")
}

#[test]
fn hierarchical_token_parameter_gives_a_valid_arn() {
    let t = template(&[(
        "SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME",
        "/semaphore/agent/token",
    )]);
    let text = t.to_string();
    assert!(text.contains("arn:aws:ssm:*:*:parameter/semaphore/agent/token"));
    assert!(!text.contains("parameter//"), "no double slash in any ARN");
    // The agent and the scaler still get the name as written.
    assert!(has_resource_properties(
        &t,
        "AWS::Lambda::Function",
        &json!({"Environment": {"Variables": {"SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME": "/semaphore/agent/token"}}})
    ));
}

#[test]
fn pascal_case_overrides_are_kept() {
    let t = template(&[(
        "SEMAPHORE_AGENT_ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON",
        r#"{"InstanceType":"t3.large","WeightedCapacity":"2"}"#,
    )]);
    assert!(has_resource_properties(
        &t,
        "AWS::AutoScaling::AutoScalingGroup",
        &json!({"MixedInstancesPolicy": {"LaunchTemplate": {"Overrides": [{"InstanceType": "t3.large", "WeightedCapacity": "2"}]}}})
    ));
}

#[test]
fn scaler_in_a_public_only_vpc_is_refused_unless_allowed() {
    let public_vpc = [
        ("SEMAPHORE_AGENT_VPC_ID", "vpc-0fedcba9876543210"),
        ("SEMAPHORE_AGENT_SUBNETS", "subnet-0ee5ff6aa7bb8cc9d"),
    ];
    let err = synth(&public_vpc).expect_err("refused");
    assert!(matches!(err, SynthError::ScalerInPublicSubnet { .. }));
    let message = err.to_string();
    assert!(
        message.contains("SEMAPHORE_AGENT_ALLOW_PUBLIC_SUBNET"),
        "{message}"
    );
    assert!(message.contains("subnet-0ee5ff6aa7bb8cc9d"), "{message}");

    let mut allowed = public_vpc.to_vec();
    allowed.push(("SEMAPHORE_AGENT_ALLOW_PUBLIC_SUBNET", "true"));
    synth(&allowed).expect("allowed explicitly");

    let mut no_scaler = public_vpc.to_vec();
    no_scaler.push(("SEMAPHORE_AGENT_USE_DYNAMIC_SCALING", "false"));
    synth(&no_scaler).expect("no scaler, nothing to refuse");
}

#[test]
fn public_scaler_subnets_in_a_vpc_with_private_ones_only_warn() {
    let mut pairs = BASIC.to_vec();
    pairs.extend([
        ("SEMAPHORE_AGENT_VPC_ID", "vpc-0123456789abcdef0"),
        ("SEMAPHORE_AGENT_SUBNETS", "subnet-0aa1bb2cc3dd4ee5f"),
    ]);
    let s = synth_pairs(&pairs, &FixtureLookups::load_default(), &fixture_ssh_keys())
        .expect("synthesizes");
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("subnet-0aa1bb2cc3dd4ee5f"));
}

#[test]
fn imdsv2_is_required_by_default_and_can_be_relaxed() {
    let lt = |t: &Value| -> Value {
        let (_, r) = resources_of_type(t, "AWS::EC2::LaunchTemplate")
            .next()
            .expect("launch template");
        r["Properties"]["LaunchTemplateData"].clone()
    };
    assert_eq!(
        lt(&template(&[]))["MetadataOptions"],
        json!({"HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2, "HttpTokens": "required"})
    );
    assert_eq!(
        lt(&template(&[("SEMAPHORE_AGENT_IMDS_HOP_LIMIT", "1")]))["MetadataOptions"]["HttpPutResponseHopLimit"],
        json!(1)
    );
    assert!(
        lt(&template(&[("SEMAPHORE_AGENT_REQUIRE_IMDSV2", "false")]))
            .get("MetadataOptions")
            .is_none()
    );
}

#[test]
fn suspender_custom_resource_keeps_its_service_token_target() {
    let t = template(&[]);
    let resources = t["Resources"].as_object().expect("resources");
    let custom = &resources[ids::AZ_REBALANCE_SUSPENDER];
    assert_eq!(custom["Type"], "AWS::CloudFormation::CustomResource");
    assert_eq!(
        custom["Properties"]["ServiceToken"],
        json!({"Fn::GetAtt": ["azRebalanceSuspenderProviderframeworkonEvent33E20A4C", "Arn"]})
    );
    let function = &resources["azRebalanceSuspenderProviderframeworkonEvent33E20A4C"];
    assert_eq!(function["Type"], "AWS::Lambda::Function");
    assert_eq!(
        function["Properties"]["Role"],
        json!({"Fn::GetAtt": [ids::AZ_REBALANCE_SUSPENDER_ROLE, "Arn"]})
    );
    // The function may only be called once it can suspend processes.
    assert_eq!(
        function["DependsOn"],
        json!([ids::AZ_REBALANCE_SUSPENDER_POLICY])
    );
}

#[test]
fn lambdas_are_rust_on_arm64_with_month_long_logs() {
    let t = template(&[]);
    let functions: Vec<_> = resources_of_type(&t, "AWS::Lambda::Function").collect();
    assert_eq!(functions.len(), 3);
    for (id, f) in functions {
        let p = &f["Properties"];
        assert_eq!(p["Runtime"], "provided.al2023", "{id}");
        assert_eq!(p["Architectures"], json!(["arm64"]), "{id}");
        assert_eq!(p["Handler"], "bootstrap", "{id}");
        let bucket = p["Code"]["S3Bucket"].as_str().expect("bucket");
        assert_eq!(bucket, "cdk-hnb659fds-assets-210987654321-eu-central-1");
        let key = p["Code"]["S3Key"].as_str().expect("key");
        assert_eq!(key.len(), 64 + 4, "{key}");
        let group_id = p["LoggingConfig"]["LogGroup"]["Ref"]
            .as_str()
            .expect("log group ref");
        let group = &t["Resources"][group_id];
        assert_eq!(group["Type"], "AWS::Logs::LogGroup");
        assert_eq!(group["Properties"]["RetentionInDays"], 30);
    }
}

#[test]
fn arns_follow_the_regions_partition() {
    let lookups = FixtureLookups {
        region: "cn-north-1".into(),
        ..FixtureLookups::load_default()
    };
    let mut pairs = BASIC.to_vec();
    pairs.push(("SEMAPHORE_AGENT_CACHE_BUCKET_NAME", "cache"));
    let t = synth_pairs(&pairs, &lookups, &fixture_ssh_keys())
        .expect("synthesizes")
        .template
        .to_json();
    let text = t.to_string();
    assert!(text.contains("arn:aws-cn:ssm:*:*:parameter/ci-agents-config"));
    assert!(text.contains("arn:aws-cn:s3:::cache"));
    assert!(!text.contains("\"arn:aws:"), "no hard-coded aws partition");
}

#[test]
fn references_resolve_depends_on_is_never_redundant_and_every_resource_has_its_path() {
    for extra in [
        vec![],
        vec![
            ("SEMAPHORE_AGENT_VPC_ID", "vpc-0123456789abcdef0"),
            ("SEMAPHORE_AGENT_SUBNETS", "subnet-0cc3dd4ee5ff6aa7b"),
        ],
        vec![("SEMAPHORE_AGENT_USE_DYNAMIC_SCALING", "false")],
        vec![("SEMAPHORE_AGENT_SECURITY_GROUP_ID", "sg-0a1b2c3d4e5f67890")],
        vec![
            ("SEMAPHORE_AGENT_OS", "macos"),
            ("SEMAPHORE_AGENT_ARCH", "arm64"),
            (
                "SEMAPHORE_AGENT_LICENSE_CONFIGURATION_ARN",
                "arn:aws:license-manager:eu-central-1:210987654321:license-configuration:lic-1",
            ),
        ],
    ] {
        let t = template(&extra);
        let resources = t["Resources"].as_object().expect("resources");
        for (id, resource) in resources {
            let path = resource["Metadata"]["aws:cdk:path"]
                .as_str()
                .unwrap_or_else(|| panic!("{id} has no construct path ({extra:?})"));
            assert_eq!(
                path.strip_prefix("AwsSemaphoreAgentStack/"),
                ids::construct_path(id),
                "{id}"
            );
            let refs = references(&resource["Properties"]);
            for target in &refs {
                assert!(
                    target.starts_with("AWS::") || resources.contains_key(target),
                    "{id} references missing {target} ({extra:?})"
                );
            }
            for dep in resource["DependsOn"].as_array().into_iter().flatten() {
                let dep = dep.as_str().expect("string");
                assert!(resources.contains_key(dep), "{id} depends on missing {dep}");
                assert!(
                    !refs.contains(dep),
                    "{id}: DependsOn {dep} is implied by a reference"
                );
            }
        }
    }
}

#[test]
fn r12_every_function_runs_one_invocation_at_a_time() {
    let t = template(&[]);
    let functions: Vec<_> = resources_of_type(&t, "AWS::Lambda::Function").collect();
    assert_eq!(functions.len(), 3);
    for (id, f) in functions {
        assert_eq!(
            f["Properties"]["ReservedConcurrentExecutions"],
            json!(stack_template::RESERVED_CONCURRENT_EXECUTIONS),
            "{id}"
        );
    }
    assert_eq!(stack_template::RESERVED_CONCURRENT_EXECUTIONS, 1);
}

#[test]
fn r12_log_groups_are_encrypted_with_the_given_kms_key_only_when_asked() {
    let key = "arn:aws:kms:eu-central-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let plain = template(&[]);
    let encrypted = template(&[("SEMAPHORE_AGENT_LOG_GROUP_KMS_KEY_ARN", key)]);
    let groups: Vec<_> = resources_of_type(&encrypted, "AWS::Logs::LogGroup").collect();
    assert_eq!(groups.len(), 3);
    for (id, group) in groups {
        assert_eq!(group["Properties"]["KmsKeyId"], key, "{id}");
        // Nothing else about the group changes.
        let mut props = group["Properties"].clone();
        props.as_object_mut().expect("props").remove("KmsKeyId");
        assert_eq!(props, plain["Resources"][id]["Properties"], "{id}");
    }
    for (id, group) in resources_of_type(&plain, "AWS::Logs::LogGroup") {
        assert!(group["Properties"].get("KmsKeyId").is_none(), "{id}");
    }
    // The key is for the log groups only: nothing else refers to it.
    let mut rest = encrypted["Resources"].clone();
    rest.as_object_mut()
        .expect("resources")
        .retain(|_, r| r["Type"] != "AWS::Logs::LogGroup");
    assert!(!rest.to_string().contains(key));
}
