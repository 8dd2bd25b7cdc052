//! `synth`: configuration + lookup results + GitHub keys → the CloudFormation template.
//!
//! Resources, logical IDs, property names and value types follow the original CDK stack (see
//! `ids.rs`), with the deliberate differences listed in the README: Rust Lambdas on
//! `provided.al2023`/arm64 with plain log groups instead of CDK's log-retention and provider
//! framework helpers, IMDSv2 required by default, valid ARNs for hierarchical token
//! parameter names, one reserved concurrent execution for every function, an optional KMS key
//! for the log groups, and only the `DependsOn` entries that no reference already implies.

use serde_json::{Map, Value, json};
use stack_config::{AgentOs, StackConfig};

use crate::assets::{LambdaAsset, assets_bucket};
use crate::error::SynthError;
use crate::ids::*;
use crate::lookups::{Lookups, SubnetType};
use crate::model::{Resource, Template, aws_managed_policy, get_att, join, reference};
use crate::tags;
use stack_contract::AgentParameters;
use stack_contract::scaler_env::{self, ScalerEnv};

/// The template's `Description`, as the original wrote it.
pub const DESCRIPTION: &str = "Semaphore agent autoscaling stack";

/// Days the Lambda log groups keep their events (the original's `logRetention: ONE_MONTH`).
pub const LOG_RETENTION_DAYS: u32 = 30;

/// Concurrent executions reserved for the SSH keys updater and the AZ-rebalance suspender (the
/// scaler has reserved one since the original): each does one short job at a time, so two
/// invocations (a manual one during a scheduled run, a custom-resource retry) never race on the
/// same parameter or group, and a runaway caller cannot use up the account's concurrency.
pub const RESERVED_CONCURRENT_EXECUTIONS: u32 = 1;

/// Seconds CloudFormation waits for the AZ-rebalance custom resource to answer before it
/// fails the operation (its default is an hour).
pub const CUSTOM_RESOURCE_TIMEOUT_SECS: u32 = 300;

/// The account and region the template is for. Templates are environment-specific, as the
/// original's were: ARNs and the assets bucket name carry them literally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// 12-digit account id.
    pub account: String,
    /// Region, e.g. `us-east-1`.
    pub region: String,
}

impl Environment {
    /// The ARN partition of the region (`aws`, `aws-cn`, `aws-us-gov`, …).
    pub fn partition(&self) -> &'static str {
        stack_contract::aws::partition(&self.region)
    }
}

/// Everything `synth` needs.
#[derive(Debug, Clone, Copy)]
pub struct SynthInput<'a> {
    /// The validated configuration.
    pub config: &'a StackConfig,
    /// The lookup results the configuration needs ([`crate::required_lookups`]).
    pub lookups: &'a Lookups,
    /// Account and region.
    pub environment: &'a Environment,
    /// GitHub's SSH host keys, in GitHub's order.
    pub ssh_keys: &'a [String],
}

/// A synthesized template and the remarks made while building it.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthesized {
    /// The template.
    pub template: Template,
    /// Warnings for the user.
    pub warnings: Vec<String>,
}

/// Builds the stack's template.
pub fn synth(input: SynthInput<'_>) -> Result<Synthesized, SynthError> {
    let mut b = Builder {
        input,
        config: input.config,
        template: Template {
            description: DESCRIPTION.to_owned(),
            resources: Default::default(),
        },
        warnings: Vec::new(),
    };
    b.ssh_keys_updater();
    b.config_parameter();
    b.instance_role();
    b.security_group()?;
    b.launch_template()?;
    b.host_resource_group();
    b.auto_scaling_group()?;
    b.az_rebalance_suspender();
    if b.config.use_dynamic_scaling {
        b.scaler()?;
    }
    Ok(Synthesized {
        template: b.template,
        warnings: b.warnings,
    })
}

struct Builder<'a> {
    input: SynthInput<'a>,
    config: &'a StackConfig,
    template: Template,
    warnings: Vec<String>,
}

/// Inserts `key: value` into a JSON object when `value` is `Some`.
fn put(object: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(map), Some(value)) = (object.as_object_mut(), value) {
        map.insert(key.to_owned(), value);
    }
}

/// A policy document with `Allow` statements of (actions, resources); one-element lists are
/// written as bare values, as CDK wrote them.
fn policy_document(statements: Vec<(Vec<&str>, Vec<Value>)>) -> Value {
    let scalar_or_list = |mut items: Vec<Value>| {
        let mut unique = Vec::new();
        for item in items.drain(..) {
            if !unique.contains(&item) {
                unique.push(item);
            }
        }
        if unique.len() == 1 {
            unique.remove(0)
        } else {
            Value::Array(unique)
        }
    };
    let statements: Vec<Value> = statements
        .into_iter()
        .map(|(actions, resources)| {
            json!({
                "Action": scalar_or_list(actions.into_iter().map(|a| json!(a)).collect()),
                "Effect": "Allow",
                "Resource": scalar_or_list(resources),
            })
        })
        .collect();
    json!({ "Statement": statements, "Version": "2012-10-17" })
}

fn trust_policy(service: &str) -> Value {
    json!({
        "Statement": [{
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": { "Service": service }
        }],
        "Version": "2012-10-17"
    })
}

fn egress_all() -> Value {
    json!([{
        "CidrIp": "0.0.0.0/0",
        "Description": "Allow all outbound traffic by default",
        "IpProtocol": "-1"
    }])
}

impl Builder<'_> {
    fn add(&mut self, id: &str, resource: Resource) {
        self.template.resources.insert(id.to_owned(), resource);
    }

    fn stack(&self) -> &str {
        &self.config.stack_name
    }

    fn arn(&self, rest: &str) -> String {
        format!("arn:{}:{rest}", self.input.environment.partition())
    }

    /// An SSM parameter ARN; a hierarchical name (`/a/b`) keeps a single slash.
    fn ssm_parameter_arn(&self, name: &str) -> Value {
        json!(self.arn(&format!(
            "ssm:*:*:parameter/{}",
            name.strip_prefix('/').unwrap_or(name)
        )))
    }

    fn kms_key_arn(&self) -> Value {
        json!(self.arn(&format!("kms:*:*:key/{}", self.config.token_kms_key)))
    }

    /// The ARN pattern of the group CloudFormation names `<stack>-autoScalingGroup-<suffix>`.
    fn asg_arn(&self) -> Value {
        json!(self.arn(&format!(
            "autoscaling:*:{}:autoScalingGroup:*:autoScalingGroupName/{}-autoScalingGroup-*",
            self.input.environment.account,
            self.stack()
        )))
    }

    fn list_tags(&self) -> Option<Value> {
        tags::list(&self.config.tags)
    }

    fn role(&self, service: &str, managed: Vec<Value>) -> Resource {
        let mut props = json!({
            "AssumeRolePolicyDocument": trust_policy(service),
            "ManagedPolicyArns": managed,
        });
        put(&mut props, "Tags", self.list_tags());
        Resource::new("AWS::IAM::Role", props)
    }

    fn inline_policy(&self, name: &str, role_id: &str, document: Value) -> Resource {
        Resource::new(
            "AWS::IAM::Policy",
            json!({
                "PolicyDocument": document,
                "PolicyName": name,
                "Roles": [reference(role_id)],
            }),
        )
    }

    fn log_group(&self, function: &str) -> Resource {
        let mut props = json!({
            "LogGroupName": format!("/aws/lambda/{}-{function}", self.stack()),
            "RetentionInDays": LOG_RETENTION_DAYS,
        });
        put(&mut props, "Tags", self.list_tags());
        put(&mut props, "KmsKeyId", self.log_group_kms_key());
        if let Some(map) = props.as_object_mut() {
            map.sort_keys();
        }
        Resource::new("AWS::Logs::LogGroup", props)
    }

    /// `KmsKeyId` of the log groups: the key ARN of `SEMAPHORE_AGENT_LOG_GROUP_KMS_KEY_ARN`, or
    /// none (CloudWatch Logs then encrypts with its own keys). The key's policy must let
    /// `logs.<region>.amazonaws.com` use it; the README shows the statement.
    fn log_group_kms_key(&self) -> Option<Value> {
        self.config
            .log_group_kms_key_arn
            .as_deref()
            .map(|arn| json!(arn))
    }

    /// A Rust function on `provided.al2023` (arm64); properties in alphabetical order.
    fn function(
        &self,
        asset: LambdaAsset,
        description: &str,
        role_id: &str,
        log_group_id: &str,
        extra: Map<String, Value>,
    ) -> Resource {
        let env = self.input.environment;
        let mut props = Map::new();
        props.insert("Architectures".into(), json!(["arm64"]));
        props.insert(
            "Code".into(),
            json!({
                "S3Bucket": assets_bucket(&env.account, &env.region),
                "S3Key": asset.s3_key(),
            }),
        );
        props.insert("Description".into(), json!(description));
        props.insert("Handler".into(), json!("bootstrap"));
        props.insert(
            "LoggingConfig".into(),
            json!({ "LogFormat": "JSON", "LogGroup": reference(log_group_id) }),
        );
        props.insert("Role".into(), get_att(role_id, "Arn"));
        props.insert("Runtime".into(), json!("provided.al2023"));
        if let Some(tags) = self.list_tags() {
            props.insert("Tags".into(), tags);
        }
        props.extend(extra);
        props.sort_keys();
        Resource::new("AWS::Lambda::Function", Value::Object(props))
    }

    fn schedule(&self, description: &str, rate: &str, function_id: &str) -> Resource {
        let mut props = json!({
            "Description": description,
            "ScheduleExpression": rate,
            "State": "ENABLED",
            "Targets": [{ "Arn": get_att(function_id, "Arn"), "Id": "Target0" }],
        });
        if let Some(tags) = self.list_tags() {
            let map = props.as_object_mut().expect("object");
            map.insert("Tags".into(), tags);
            map.sort_keys();
        }
        Resource::new("AWS::Events::Rule", props)
    }

    fn invoke_permission(function_id: &str, rule_id: &str) -> Resource {
        Resource::new(
            "AWS::Lambda::Permission",
            json!({
                "Action": "lambda:InvokeFunction",
                "FunctionName": get_att(function_id, "Arn"),
                "Principal": "events.amazonaws.com",
                "SourceArn": get_att(rule_id, "Arn"),
            }),
        )
    }

    fn ssm_parameter(&self, description: &str, name: String, value: String) -> Resource {
        let mut props = json!({
            "Description": description,
            "Name": name,
        });
        put(&mut props, "Tags", tags::map(&self.config.tags));
        let map = props.as_object_mut().expect("object");
        map.insert("Tier".into(), json!("Standard"));
        map.insert("Type".into(), json!("String"));
        map.insert("Value".into(), json!(value));
        Resource::new("AWS::SSM::Parameter", props)
    }

    fn ssh_keys_updater(&mut self) {
        let parameter = self.config.ssh_keys_parameter_name();
        let keys = serde_json::to_string(self.input.ssh_keys).expect("strings serialize");
        let resource = self.ssm_parameter("GitHub SSH public keys.", parameter.clone(), keys);
        self.add(SSH_KEYS_PARAMETER, resource);

        let document = policy_document(vec![(
            vec!["ssm:GetParameter", "ssm:PutParameter"],
            vec![self.ssm_parameter_arn(&parameter)],
        )]);
        let policy = self.inline_policy("sshKeysUpdater-policy", SSH_KEYS_UPDATER_ROLE, document);
        self.add(SSH_KEYS_UPDATER_POLICY, policy);
        let role = self.role(
            "lambda.amazonaws.com",
            vec![aws_managed_policy(
                "service-role/AWSLambdaBasicExecutionRole",
            )],
        );
        self.add(SSH_KEYS_UPDATER_ROLE, role);

        let mut extra = Map::new();
        extra.insert(
            "Environment".into(),
            json!({ "Variables": { "SSM_PARAMETER": parameter } }),
        );
        extra.insert(
            "ReservedConcurrentExecutions".into(),
            json!(RESERVED_CONCURRENT_EXECUTIONS),
        );
        extra.insert("Timeout".into(), json!(10));
        let function = self.function(
            LambdaAsset::SshKeysUpdater,
            "Check if GitHub SSH public keys have changed.",
            SSH_KEYS_UPDATER_ROLE,
            SSH_KEYS_UPDATER_LOG_GROUP,
            extra,
        );
        self.add(SSH_KEYS_UPDATER_FUNCTION, function);
        let log_group = self.log_group("ssh-keys-updater");
        self.add(SSH_KEYS_UPDATER_LOG_GROUP, log_group);

        let rule = self.schedule(
            "Rule to dynamically invoke lambda function to check GitHub public SSH keys.",
            "rate(1 day)",
            SSH_KEYS_UPDATER_FUNCTION,
        );
        self.add(SSH_KEYS_UPDATER_RULE, rule);
        self.add(
            SSH_KEYS_UPDATER_PERMISSION,
            Self::invoke_permission(SSH_KEYS_UPDATER_FUNCTION, SSH_KEYS_UPDATER_RULE),
        );
    }

    /// The scaler's environment (`stack_contract::scaler_env`), which `scaler-tick` reads.
    fn scaler_environment(&self) -> Map<String, Value> {
        let c = self.config;
        let env = ScalerEnv {
            token_parameter: c.token_parameter_name.clone(),
            stack_name: c.stack_name.clone(),
            endpoint: c.endpoint.clone(),
            overprovision_strategy: c.overprovision.strategy.clone(),
            overprovision_factor: c.overprovision.factor.clone(),
        };
        let mut variables: Map<String, Value> = env
            .variables()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
            .collect();
        // Not in the original: the scaler reads the group by name instead of searching for
        // the stack-name tag.
        variables.insert(
            scaler_env::ASG_NAME.to_owned(),
            reference(AUTO_SCALING_GROUP),
        );
        variables
    }

    fn config_parameter(&mut self) {
        let c = self.config;
        let env_vars: Vec<String> = match &c.cache_bucket_name {
            Some(bucket) => vec![
                "SEMAPHORE_CACHE_BACKEND=s3".into(),
                format!("SEMAPHORE_CACHE_S3_BUCKET={bucket}"),
                "SEMAPHORE_CACHE_USE_EC2_INSTANCE_PROFILE=true".into(),
            ],
            None => Vec::new(),
        };
        let value = AgentParameters {
            endpoint: c.endpoint.clone(),
            token_parameter: c.token_parameter_name.clone(),
            ssh_keys_parameter: c.ssh_keys_parameter_name(),
            disconnect_after_job: c.disconnect_after_job,
            disconnect_after_idle_timeout_secs: c.disconnect_after_idle_timeout_secs,
            env_vars,
            use_pre_signed_url: c.use_pre_signed_url,
        };
        let resource = self.ssm_parameter(
            "Parameters required by the semaphore agent",
            c.config_parameter_name(),
            value.to_json(),
        );
        self.add(CONFIG_PARAMETER, resource);
    }

    fn instance_role(&mut self) {
        let c = self.config;
        let mut statements = vec![
            (
                vec![
                    "autoscaling:SetInstanceHealth",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                vec![self.asg_arn()],
            ),
            (
                vec!["ssm:GetParameter"],
                vec![
                    self.ssm_parameter_arn(&c.config_parameter_name()),
                    self.ssm_parameter_arn(&c.ssh_keys_parameter_name()),
                    self.ssm_parameter_arn(&c.token_parameter_name),
                ],
            ),
            (vec!["kms:Decrypt"], vec![self.kms_key_arn()]),
            (
                vec![
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:DescribeLogGroups",
                    "logs:PutLogEvents",
                    "logs:PutRetentionPolicy",
                ],
                vec![json!(self.arn("logs:*:*:log-group:/semaphore/*"))],
            ),
        ];
        if let Some(bucket) = &c.cache_bucket_name {
            statements.push((
                vec![
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListBucket",
                    "s3:DeleteObject",
                ],
                vec![
                    json!(self.arn(&format!("s3:::{bucket}/*"))),
                    json!(self.arn(&format!("s3:::{bucket}"))),
                ],
            ));
        }
        let policy = self.inline_policy(
            &format!("{}-instance-profile-policy", self.stack()),
            INSTANCE_ROLE,
            policy_document(statements),
        );
        self.add(INSTANCE_POLICY, policy);

        let mut managed = vec![aws_managed_policy("AmazonSSMManagedInstanceCore")];
        for name in &c.managed_policy_names {
            let arn = join(vec![
                json!("arn:"),
                reference("AWS::Partition"),
                json!(format!(
                    ":iam::{}:policy/{name}",
                    self.input.environment.account
                )),
            ]);
            if !managed.contains(&arn) {
                managed.push(arn);
            }
        }
        let role = self.role("ec2.amazonaws.com", managed);
        self.add(INSTANCE_ROLE, role);
    }

    fn security_group(&mut self) -> Result<(), SynthError> {
        if self.config.security_group_id.is_some() {
            return Ok(());
        }
        let vpc = self
            .input
            .lookups
            .vpc
            .as_ref()
            .ok_or(SynthError::MissingLookup("VPC of the agent security group"))?;
        let mut props = json!({
            "GroupDescription": format!("{CONSTRUCT_ROOT}/securityGroup"),
            "SecurityGroupEgress": egress_all(),
        });
        let ssh_open = self.config.key_name.is_some() && self.config.os != AgentOs::Windows;
        if ssh_open {
            put(
                &mut props,
                "SecurityGroupIngress",
                Some(json!([{
                    "CidrIp": "0.0.0.0/0",
                    "Description": "allow ssh access from anywhere",
                    "FromPort": 22,
                    "IpProtocol": "tcp",
                    "ToPort": 22
                }])),
            );
        }
        put(&mut props, "Tags", self.list_tags());
        put(&mut props, "VpcId", Some(json!(vpc.vpc_id)));
        self.add(
            SECURITY_GROUP,
            Resource::new("AWS::EC2::SecurityGroup", props),
        );
        Ok(())
    }

    fn agent_security_group(&self) -> Result<Value, SynthError> {
        match &self.config.security_group_id {
            None => Ok(get_att(SECURITY_GROUP, "GroupId")),
            Some(_) => self
                .input
                .lookups
                .security_group
                .as_ref()
                .map(|sg| json!(sg.security_group_id))
                .ok_or(SynthError::MissingLookup("existing security group")),
        }
    }

    fn launch_template(&mut self) -> Result<(), SynthError> {
        let c = self.config;
        self.add(
            INSTANCE_PROFILE,
            Resource::new(
                "AWS::IAM::InstanceProfile",
                json!({ "Roles": [reference(INSTANCE_ROLE)] }),
            )
            .depends_on([CONFIG_PARAMETER]),
        );

        let mut data = Map::new();
        if let Some(volume) = &c.volume {
            let mut ebs = Map::new();
            if let Some(iops) = volume.iops {
                ebs.insert("Iops".into(), json!(iops));
            }
            if let Some(throughput) = volume.throughput_mibps {
                ebs.insert("Throughput".into(), json!(throughput));
            }
            ebs.insert("VolumeSize".into(), json!(volume.size_gib));
            ebs.insert("VolumeType".into(), json!(volume.volume_type));
            data.insert(
                "BlockDeviceMappings".into(),
                json!([{ "DeviceName": volume.device_name, "Ebs": ebs }]),
            );
        }
        data.insert(
            "IamInstanceProfile".into(),
            json!({ "Arn": get_att(INSTANCE_PROFILE, "Arn") }),
        );
        data.insert("ImageId".into(), json!(self.input.lookups.ami_id));
        data.insert(
            "InstanceInitiatedShutdownBehavior".into(),
            json!("terminate"),
        );
        data.insert("InstanceType".into(), json!(c.instance_type));
        if let Some(key) = &c.key_name {
            data.insert("KeyName".into(), json!(key));
        }
        if c.os == AgentOs::MacOs {
            data.insert(
                "LicenseSpecifications".into(),
                json!([{ "LicenseConfigurationArn": c.mac.license_configuration_arn }]),
            );
        }
        if c.imds.require_v2 {
            data.insert(
                "MetadataOptions".into(),
                json!({
                    "HttpEndpoint": "enabled",
                    "HttpPutResponseHopLimit": c.imds.hop_limit,
                    "HttpTokens": "required",
                }),
            );
        }
        let security_group = self.agent_security_group()?;
        if c.use_ipv6 {
            data.insert(
                "NetworkInterfaces".into(),
                json!([{ "DeviceIndex": 0, "Groups": [security_group], "Ipv6AddressCount": 1 }]),
            );
        }
        if c.os == AgentOs::MacOs {
            data.insert(
                "Placement".into(),
                json!({ "HostResourceGroupArn": get_att(HOST_RESOURCE_GROUP, "Arn") }),
            );
        }
        if !c.use_ipv6 {
            data.insert("SecurityGroupIds".into(), json!([security_group]));
        }
        let name_tags = tags::launch_template(&format!("{CONSTRUCT_ROOT}/launchTemplate"), &c.tags);
        data.insert(
            "TagSpecifications".into(),
            json!([
                { "ResourceType": "instance", "Tags": name_tags },
                { "ResourceType": "volume", "Tags": name_tags },
            ]),
        );
        let user_data = match c.os {
            AgentOs::Windows => format!(
                "<powershell>C:\\semaphore-agent\\start.ps1 {}</powershell>",
                c.config_parameter_name()
            ),
            _ => format!(
                "#!/bin/bash\n/opt/semaphore/agent/start.sh {}",
                c.config_parameter_name()
            ),
        };
        data.insert("UserData".into(), json!({ "Fn::Base64": user_data }));

        // Instances read the config parameter at boot with the instance role's policy, so the
        // policy must exist before any instance can start (the original raced here).
        self.add(
            LAUNCH_TEMPLATE,
            Resource::new(
                "AWS::EC2::LaunchTemplate",
                json!({
                    "LaunchTemplateData": data,
                    "TagSpecifications": [{ "ResourceType": "launch-template", "Tags": name_tags }],
                }),
            )
            .depends_on([INSTANCE_POLICY, INSTANCE_ROLE, CONFIG_PARAMETER]),
        );
        Ok(())
    }

    fn host_resource_group(&mut self) {
        let c = self.config;
        if c.os != AgentOs::MacOs {
            return;
        }
        let env = self.input.environment;
        let hosts: Vec<String> = c
            .mac
            .dedicated_hosts
            .iter()
            .map(|h| {
                self.arn(&format!(
                    "ec2:{}:{}:dedicated-host/{h}",
                    env.region, env.account
                ))
            })
            .collect();
        let mut props = json!({
            "Configuration": [
                {
                    "Parameters": [
                        { "Name": "allowed-host-based-license-configurations", "Values": [c.mac.license_configuration_arn] },
                        { "Name": "allowed-host-families", "Values": c.mac.families },
                        { "Name": "auto-allocate-host", "Values": [c.mac.auto_allocate_host] },
                        { "Name": "auto-release-host", "Values": [c.mac.auto_release_host] },
                        { "Name": "auto-host-recovery", "Values": ["true"] }
                    ],
                    "Type": "AWS::EC2::HostManagement"
                },
                {
                    "Parameters": [
                        { "Name": "allowed-resource-types", "Values": ["AWS::EC2::Host"] },
                        { "Name": "deletion-protection", "Values": ["UNLESS_EMPTY"] }
                    ],
                    "Type": "AWS::ResourceGroups::Generic"
                }
            ],
            "Name": c.stack_name,
            "Resources": hosts,
        });
        put(&mut props, "Tags", self.list_tags());
        self.add(
            HOST_RESOURCE_GROUP,
            Resource::new("AWS::ResourceGroups::Group", props),
        );
    }

    fn auto_scaling_group(&mut self) -> Result<(), SynthError> {
        let c = self.config;
        let mut props = Map::new();
        if !c.azs.is_empty() {
            props.insert("AvailabilityZones".into(), json!(c.azs));
        } else if c.vpc.is_none() {
            let zones = self
                .input
                .lookups
                .availability_zones
                .as_ref()
                .ok_or(SynthError::MissingLookup("availability zones"))?;
            props.insert("AvailabilityZones".into(), json!(zones));
        }
        props.insert("CapacityRebalance".into(), json!(c.asg_capacity_rebalance));
        props.insert("Cooldown".into(), json!("60"));
        if let Some(desired) = &c.asg_desired {
            props.insert("DesiredCapacity".into(), json!(desired));
        }
        if let Some(lifetime) = c.asg_max_instance_lifetime_secs {
            props.insert("MaxInstanceLifetime".into(), json!(lifetime));
        }
        props.insert("MaxSize".into(), json!(c.asg_max_size));
        if !c.asg_metrics.is_empty() {
            props.insert(
                "MetricsCollection".into(),
                json!([{ "Granularity": "1Minute", "Metrics": c.asg_metrics }]),
            );
        }
        props.insert("MinSize".into(), json!(c.asg_min_size));

        let d = &c.instances_distribution;
        let mut distribution = Map::new();
        if let Some(s) = &d.on_demand_allocation_strategy {
            distribution.insert("OnDemandAllocationStrategy".into(), json!(s));
        }
        distribution.insert(
            "OnDemandBaseCapacity".into(),
            json!(d.on_demand_base_capacity),
        );
        distribution.insert(
            "OnDemandPercentageAboveBaseCapacity".into(),
            json!(d.on_demand_percentage_above_base),
        );
        if let Some(s) = &d.spot_allocation_strategy {
            distribution.insert("SpotAllocationStrategy".into(), json!(s));
        }
        let mut launch_template = Map::new();
        launch_template.insert(
            "LaunchTemplateSpecification".into(),
            json!({
                "LaunchTemplateId": reference(LAUNCH_TEMPLATE),
                "Version": get_att(LAUNCH_TEMPLATE, "LatestVersionNumber"),
            }),
        );
        if c.os == AgentOs::MacOs {
            let overrides: Vec<Value> = c
                .mac
                .families
                .iter()
                .map(|f| json!({ "InstanceType": format!("{f}.metal") }))
                .collect();
            launch_template.insert("Overrides".into(), json!(overrides));
        } else if !c.asg_launch_template_overrides.is_empty() {
            launch_template.insert("Overrides".into(), json!(c.asg_launch_template_overrides));
        }
        props.insert(
            "MixedInstancesPolicy".into(),
            json!({ "InstancesDistribution": distribution, "LaunchTemplate": launch_template }),
        );
        props.insert(
            "NewInstancesProtectedFromScaleIn".into(),
            json!(c.asg_new_instances_protected_from_scale_in),
        );
        props.insert("Tags".into(), tags::auto_scaling_group(&c.tags));
        if let (Some(vpc), true) = (&c.vpc, c.azs.is_empty()) {
            props.insert("VPCZoneIdentifier".into(), json!(vpc.subnets));
        }
        self.add(
            AUTO_SCALING_GROUP,
            Resource::new("AWS::AutoScaling::AutoScalingGroup", Value::Object(props)),
        );
        Ok(())
    }

    fn az_rebalance_suspender(&mut self) {
        let document = policy_document(vec![(
            vec!["autoscaling:SuspendProcesses"],
            vec![self.asg_arn()],
        )]);
        let policy = self.inline_policy(
            &format!("{}-az-rebalance-suspender-policy", self.stack()),
            AZ_REBALANCE_SUSPENDER_ROLE,
            document,
        );
        self.add(AZ_REBALANCE_SUSPENDER_POLICY, policy);
        let role = self.role(
            "lambda.amazonaws.com",
            vec![aws_managed_policy(
                "service-role/AWSLambdaBasicExecutionRole",
            )],
        );
        self.add(AZ_REBALANCE_SUSPENDER_ROLE, role);

        let mut extra = Map::new();
        extra.insert(
            "ReservedConcurrentExecutions".into(),
            json!(RESERVED_CONCURRENT_EXECUTIONS),
        );
        extra.insert("Timeout".into(), json!(60));
        // The function must be allowed to suspend processes before CloudFormation calls it.
        let function = self
            .function(
                LambdaAsset::AzRebalanceSuspender,
                "Suspend AZRebalance process for auto scaling group",
                AZ_REBALANCE_SUSPENDER_ROLE,
                AZ_REBALANCE_SUSPENDER_LOG_GROUP,
                extra,
            )
            .depends_on([AZ_REBALANCE_SUSPENDER_POLICY]);
        self.add(AZ_REBALANCE_SUSPENDER_FUNCTION, function);
        let log_group = self.log_group("az-rebalance-suspender");
        self.add(AZ_REBALANCE_SUSPENDER_LOG_GROUP, log_group);

        self.add(
            AZ_REBALANCE_SUSPENDER,
            Resource::new(
                "AWS::CloudFormation::CustomResource",
                json!({
                    "ServiceToken": get_att(AZ_REBALANCE_SUSPENDER_FUNCTION, "Arn"),
                    "AutoScalingGroupName": reference(AUTO_SCALING_GROUP),
                    "ServiceTimeout": CUSTOM_RESOURCE_TIMEOUT_SECS,
                }),
            )
            .delete_policy("Delete"),
        );
    }

    fn scaler(&mut self) -> Result<(), SynthError> {
        let c = self.config;
        let document = policy_document(vec![
            (
                vec!["autoscaling:DescribeAutoScalingGroups"],
                vec![json!("*")],
            ),
            (vec!["autoscaling:SetDesiredCapacity"], vec![self.asg_arn()]),
            (
                vec!["ssm:GetParameter"],
                vec![self.ssm_parameter_arn(&c.token_parameter_name)],
            ),
            (vec!["kms:Decrypt"], vec![self.kms_key_arn()]),
            (vec!["cloudwatch:PutMetricData"], vec![json!("*")]),
        ]);
        let policy = self.inline_policy(
            &format!("{}-scaler-lambda-policy", self.stack()),
            SCALER_ROLE,
            document,
        );
        self.add(SCALER_POLICY, policy);

        let mut managed = vec![aws_managed_policy(
            "service-role/AWSLambdaBasicExecutionRole",
        )];
        if c.vpc.is_some() {
            managed.push(aws_managed_policy(
                "service-role/AWSLambdaVPCAccessExecutionRole",
            ));
        }
        let role = self
            .role("lambda.amazonaws.com", managed)
            .depends_on([AUTO_SCALING_GROUP]);
        self.add(SCALER_ROLE, role);

        let mut extra = Map::new();
        extra.insert(
            "Environment".into(),
            json!({ "Variables": self.scaler_environment() }),
        );
        extra.insert("ReservedConcurrentExecutions".into(), json!(1));
        extra.insert("Timeout".into(), json!(60));

        let mut rule_depends_on = vec![SCALER_EVENT_INVOKE_CONFIG];
        if let Some(placement) = &c.vpc {
            let vpc = self
                .input
                .lookups
                .vpc
                .as_ref()
                .ok_or(SynthError::MissingLookup("VPC of the scaler Lambda"))?;
            let (kind, selected) = vpc.default_selection();
            if kind == SubnetType::Public && !c.allow_public_subnet {
                return Err(SynthError::ScalerInPublicSubnet {
                    vpc_id: vpc.vpc_id.clone(),
                    subnets: selected
                        .iter()
                        .map(|s| s.subnet_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            let public: Vec<&str> = placement
                .subnets
                .iter()
                .filter(|s| vpc.subnet_type(s) == Some(SubnetType::Public))
                .map(String::as_str)
                .collect();
            if !public.is_empty() && !c.allow_public_subnet {
                self.warnings.push(format!(
                    "the scaler Lambda is placed in public subnets ({}) of SEMAPHORE_AGENT_SUBNETS; Lambda functions there cannot reach the internet without a NAT gateway route",
                    public.join(", ")
                ));
            }
            let mut sg = json!({
                "GroupDescription": format!(
                    "Automatic security group for Lambda Function {CONSTRUCT_ROOT}scalerLambdaEE224170"
                ),
                "SecurityGroupEgress": egress_all(),
            });
            put(&mut sg, "Tags", self.list_tags());
            put(&mut sg, "VpcId", Some(json!(vpc.vpc_id)));
            self.add(
                SCALER_SECURITY_GROUP,
                Resource::new("AWS::EC2::SecurityGroup", sg).depends_on([SCALER_ROLE]),
            );
            extra.insert(
                "VpcConfig".into(),
                json!({
                    "SecurityGroupIds": [get_att(SCALER_SECURITY_GROUP, "GroupId")],
                    "SubnetIds": placement.subnets,
                }),
            );
            rule_depends_on.push(SCALER_SECURITY_GROUP);
        }

        let function = self.function(
            LambdaAsset::Scaler,
            "Dynamically scale Semaphore agents based on jobs demand",
            SCALER_ROLE,
            SCALER_LOG_GROUP,
            extra,
        );
        self.add(SCALER_FUNCTION, function);
        let log_group = self.log_group("scaler");
        self.add(SCALER_LOG_GROUP, log_group);
        self.add(
            SCALER_EVENT_INVOKE_CONFIG,
            Resource::new(
                "AWS::Lambda::EventInvokeConfig",
                json!({
                    "FunctionName": reference(SCALER_FUNCTION),
                    "MaximumEventAgeInSeconds": 60,
                    "MaximumRetryAttempts": 0,
                    "Qualifier": "$LATEST",
                }),
            )
            .depends_on([SCALER_ROLE]),
        );
        let rule = self
            .schedule(
                "Rule to dynamically invoke lambda function to scale Semaphore agent asg",
                "rate(1 minute)",
                SCALER_FUNCTION,
            )
            .depends_on(rule_depends_on.iter().copied());
        self.add(SCALER_RULE, rule);
        self.add(
            SCALER_PERMISSION,
            Self::invoke_permission(SCALER_FUNCTION, SCALER_RULE)
                .depends_on(rule_depends_on.iter().copied()),
        );
        Ok(())
    }
}
