//! The engine's traits implemented with the AWS SDK for Rust.

use aws_sdk_cloudformation as cfn;
use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Tag};
use aws_support::AwsFailure;

use crate::cloud::{
    ChangeSetInfo, ChangeSetKind, ChangeSetRequest, Fleet, GroupInstance, ResourceChange,
    StackEvent, StackInfo, StackResource, Stacks, Storage,
};
use crate::replacement::Replacement;
use crate::status::{ChangeAction, ChangeSetStatus, ResourceStatus, StackStatus};

/// CloudFormation through the SDK.
#[derive(Debug, Clone)]
pub struct AwsStacks {
    client: cfn::Client,
}

impl AwsStacks {
    /// Uses the given SDK configuration (profile, region, endpoint).
    pub fn new(config: &aws_config::SdkConfig) -> AwsStacks {
        AwsStacks {
            client: cfn::Client::new(config),
        }
    }
}

fn text<T: AsRef<str>>(value: Option<T>) -> String {
    value.map(|v| v.as_ref().to_owned()).unwrap_or_default()
}

fn resource_status(status: Option<&cfn::types::ResourceStatus>) -> ResourceStatus {
    status
        .map(ResourceStatus::from_sdk)
        .unwrap_or_else(|| ResourceStatus::Unknown(String::new()))
}

/// `DescribeStacks` on a missing stack is a `ValidationError` saying it does not exist.
fn is_missing_stack(failure: &AwsFailure) -> bool {
    failure.is_code("ValidationError") && failure.message.contains("does not exist")
}

impl Stacks for AwsStacks {
    async fn describe_stack(&self, name: &str) -> Result<Option<StackInfo>, AwsFailure> {
        let out = match self.client.describe_stacks().stack_name(name).send().await {
            Ok(out) => out,
            Err(err) => {
                let failure = AwsFailure::new("DescribeStacks", &err);
                return if is_missing_stack(&failure) {
                    Ok(None)
                } else {
                    Err(failure)
                };
            }
        };
        Ok(out.stacks().first().map(|s| StackInfo {
            id: text(s.stack_id()),
            name: text(s.stack_name()),
            status: s
                .stack_status()
                .map(StackStatus::from_sdk)
                .unwrap_or_else(|| StackStatus::Unknown(String::new())),
            reason: s.stack_status_reason().map(str::to_owned),
        }))
    }

    async fn get_template(&self, stack: &str) -> Result<String, AwsFailure> {
        let out = self
            .client
            .get_template()
            .stack_name(stack)
            .template_stage(cfn::types::TemplateStage::Original)
            .send()
            .await
            .map_err(|e| AwsFailure::new("GetTemplate", &e))?;
        Ok(text(out.template_body()))
    }

    async fn create_stack(&self, request: &ChangeSetRequest) -> Result<String, AwsFailure> {
        let mut call = self
            .client
            .create_stack()
            .stack_name(&request.stack_name)
            .template_body(&request.template_body)
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .capabilities(Capability::CapabilityAutoExpand)
            .client_request_token(&request.client_token)
            .set_role_arn(request.role_arn.clone());
        for (key, value) in &request.tags {
            call = call.tags(Tag::builder().key(key).value(value).build());
        }
        let out = call
            .send()
            .await
            .map_err(|e| AwsFailure::new("CreateStack", &e))?;
        Ok(text(out.stack_id()))
    }

    async fn create_change_set(&self, request: &ChangeSetRequest) -> Result<String, AwsFailure> {
        let kind = match request.kind {
            ChangeSetKind::Create => ChangeSetType::Create,
            ChangeSetKind::Update => ChangeSetType::Update,
        };
        let mut call = self
            .client
            .create_change_set()
            .stack_name(&request.stack_name)
            .change_set_name(&request.name)
            .change_set_type(kind)
            .template_body(&request.template_body)
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .capabilities(Capability::CapabilityAutoExpand)
            .description(&request.description)
            .client_token(&request.client_token)
            .set_role_arn(request.role_arn.clone());
        for (key, value) in &request.tags {
            call = call.tags(Tag::builder().key(key).value(value).build());
        }
        let out = call
            .send()
            .await
            .map_err(|e| AwsFailure::new("CreateChangeSet", &e))?;
        Ok(text(out.id()))
    }

    async fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> Result<ChangeSetInfo, AwsFailure> {
        let mut info: Option<ChangeSetInfo> = None;
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(change_set)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsFailure::new("DescribeChangeSet", &e))?;
            let page: Vec<ResourceChange> = out
                .changes()
                .iter()
                .filter_map(|c| c.resource_change())
                .map(|rc| ResourceChange {
                    action: rc
                        .action()
                        .map(ChangeAction::from_sdk)
                        .unwrap_or_else(|| ChangeAction::Unknown(String::new())),
                    logical_id: text(rc.logical_resource_id()),
                    resource_type: text(rc.resource_type()),
                    replacement: rc
                        .replacement()
                        .and_then(|r| Replacement::from_cloudformation(r.as_str())),
                })
                .collect();
            let entry = info.get_or_insert_with(|| ChangeSetInfo {
                id: text(out.change_set_id()),
                status: out
                    .status()
                    .map(ChangeSetStatus::from_sdk)
                    .unwrap_or_else(|| ChangeSetStatus::Unknown(String::new())),
                reason: out.status_reason().map(str::to_owned),
                changes: Vec::new(),
            });
            entry.changes.extend(page);
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        info.ok_or_else(|| AwsFailure {
            operation: "DescribeChangeSet",
            kind: aws_support::FailureKind::Other,
            code: None,
            message: format!("no answer for change set {change_set} of stack {stack}"),
        })
    }

    async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<(), AwsFailure> {
        match self
            .client
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => {
                let failure = AwsFailure::new("DeleteChangeSet", &err);
                if failure.is_code("ChangeSetNotFound")
                    || failure.is_code("ChangeSetNotFoundException")
                    || is_missing_stack(&failure)
                {
                    Ok(())
                } else {
                    Err(failure)
                }
            }
        }
    }

    async fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        client_token: &str,
    ) -> Result<(), AwsFailure> {
        self.client
            .execute_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .client_request_token(client_token)
            .send()
            .await
            .map_err(|e| AwsFailure::new("ExecuteChangeSet", &e))?;
        Ok(())
    }

    async fn events(
        &self,
        stack: &str,
        until_id: Option<&str>,
    ) -> Result<Vec<StackEvent>, AwsFailure> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_stack_events()
                .stack_name(stack)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsFailure::new("DescribeStackEvents", &e))?;
            for e in out.stack_events() {
                let id = text(e.event_id());
                let timestamp = e.timestamp().map(|t| t.as_secs_f64()).unwrap_or(0.0);
                if Some(id.as_str()) == until_id {
                    return Ok(events);
                }
                events.push(StackEvent {
                    id,
                    timestamp,
                    logical_id: text(e.logical_resource_id()),
                    resource_type: text(e.resource_type()),
                    status: resource_status(e.resource_status()),
                    reason: e.resource_status_reason().map(str::to_owned),
                });
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(events),
            }
        }
    }

    async fn newest_event_id(&self, stack: &str) -> Result<Option<String>, AwsFailure> {
        let out = self
            .client
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| AwsFailure::new("DescribeStackEvents", &e))?;
        Ok(out
            .stack_events()
            .first()
            .and_then(|e| e.event_id())
            .map(str::to_owned))
    }

    async fn delete_stack(
        &self,
        stack: &str,
        role_arn: Option<&str>,
        retain: &[String],
        client_token: &str,
    ) -> Result<(), AwsFailure> {
        self.client
            .delete_stack()
            .stack_name(stack)
            .set_role_arn(role_arn.map(str::to_owned))
            .set_retain_resources((!retain.is_empty()).then(|| retain.to_vec()))
            .client_request_token(client_token)
            .send()
            .await
            .map_err(|e| AwsFailure::new("DeleteStack", &e))?;
        Ok(())
    }

    async fn continue_update_rollback(
        &self,
        stack: &str,
        role_arn: Option<&str>,
        skip: &[String],
        client_token: &str,
    ) -> Result<(), AwsFailure> {
        self.client
            .continue_update_rollback()
            .stack_name(stack)
            .set_role_arn(role_arn.map(str::to_owned))
            .set_resources_to_skip((!skip.is_empty()).then(|| skip.to_vec()))
            .client_request_token(client_token)
            .send()
            .await
            .map_err(|e| AwsFailure::new("ContinueUpdateRollback", &e))?;
        Ok(())
    }

    async fn resources(&self, stack: &str) -> Result<Vec<StackResource>, AwsFailure> {
        let mut resources = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_stack_resources()
                .stack_name(stack)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsFailure::new("ListStackResources", &e))?;
            resources.extend(
                out.stack_resource_summaries()
                    .iter()
                    .map(|r| StackResource {
                        logical_id: text(r.logical_resource_id()),
                        physical_id: r.physical_resource_id().map(str::to_owned),
                        resource_type: text(r.resource_type()),
                        status: resource_status(r.resource_status()),
                    }),
            );
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(resources),
            }
        }
    }
}

/// S3 and SSM through the SDK.
#[derive(Debug, Clone)]
pub struct AwsStorage {
    s3: aws_sdk_s3::Client,
    ssm: aws_sdk_ssm::Client,
}

impl AwsStorage {
    /// Uses the given SDK configuration. S3 is addressed by path when an endpoint override
    /// is set (emulators do not resolve bucket subdomains).
    pub fn new(config: &aws_config::SdkConfig) -> AwsStorage {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        AwsStorage {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            ssm: aws_sdk_ssm::Client::new(config),
        }
    }
}

impl Storage for AwsStorage {
    async fn bucket_exists(&self, bucket: &str) -> Result<bool, AwsFailure> {
        match self.s3.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 404) =>
            {
                Ok(false)
            }
            Err(err) => Err(AwsFailure::new("HeadBucket", &err)),
        }
    }

    async fn object_exists(&self, bucket: &str, key: &str) -> Result<bool, AwsFailure> {
        match self.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 404) =>
            {
                Ok(false)
            }
            Err(err) => Err(AwsFailure::new("HeadObject", &err)),
        }
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        sha256_base64: &str,
    ) -> Result<(), AwsFailure> {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/zip")
            .checksum_sha256(sha256_base64)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| AwsFailure::new("PutObject", &e))?;
        Ok(())
    }

    async fn parameter(&self, name: &str) -> Result<Option<String>, AwsFailure> {
        match self.ssm.get_parameter().name(name).send().await {
            Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_owned)),
            Err(err) => {
                let failure = AwsFailure::new("GetParameter", &err);
                if failure.is_code("ParameterNotFound") {
                    Ok(None)
                } else {
                    Err(failure)
                }
            }
        }
    }
}

/// Auto Scaling through the SDK.
#[derive(Debug, Clone)]
pub struct AwsFleet {
    client: aws_sdk_autoscaling::Client,
}

impl AwsFleet {
    /// Uses the given SDK configuration (profile, region, endpoint).
    pub fn new(config: &aws_config::SdkConfig) -> AwsFleet {
        AwsFleet {
            client: aws_sdk_autoscaling::Client::new(config),
        }
    }
}

/// `SetInstanceProtection` takes at most 50 instances per call.
const PROTECTION_BATCH: usize = 50;

impl Fleet for AwsFleet {
    async fn instances(&self, group: &str) -> Result<Vec<GroupInstance>, AwsFailure> {
        let out = self
            .client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(|e| AwsFailure::new("DescribeAutoScalingGroups", &e))?;
        Ok(out
            .auto_scaling_groups()
            .iter()
            .flat_map(|g| g.instances())
            .map(|i| GroupInstance {
                id: text(i.instance_id()),
                lifecycle_state: text(i.lifecycle_state().map(|s| s.as_str())),
                protected: i.protected_from_scale_in().unwrap_or(false),
            })
            .collect())
    }

    async fn unprotect(&self, group: &str, ids: &[String]) -> Result<(), AwsFailure> {
        for batch in ids.chunks(PROTECTION_BATCH) {
            self.client
                .set_instance_protection()
                .auto_scaling_group_name(group)
                .set_instance_ids(Some(batch.to_vec()))
                .protected_from_scale_in(false)
                .send()
                .await
                .map_err(|e| AwsFailure::new("SetInstanceProtection", &e))?;
        }
        Ok(())
    }
}
