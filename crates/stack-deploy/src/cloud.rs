//! What the engine needs from AWS, behind small traits so every path (rollbacks, throttling,
//! stacks stuck in a failed state) can be exercised with fakes. `crate::aws` implements them
//! with the AWS SDK.

use std::future::Future;

use aws_support::AwsFailure;

use crate::replacement::Replacement;
use crate::status::{ChangeAction, ChangeSetStatus, ResourceStatus, StackStatus};

/// A stack as `DescribeStacks` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    /// The stack's ARN.
    pub id: String,
    /// The stack's name.
    pub name: String,
    /// `CREATE_COMPLETE`, `UPDATE_ROLLBACK_FAILED`, …
    pub status: StackStatus,
    /// Why it is in that status, when CloudFormation says.
    pub reason: Option<String>,
}

/// Create a new stack or update an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSetKind {
    /// `CREATE`: the stack does not exist (or is an empty `REVIEW_IN_PROGRESS` stack).
    Create,
    /// `UPDATE`.
    Update,
}

impl ChangeSetKind {
    /// `create` or `update`.
    pub fn operation(self) -> &'static str {
        match self {
            ChangeSetKind::Create => "create",
            ChangeSetKind::Update => "update",
        }
    }
}

/// Everything `CreateChangeSet` is given.
#[derive(Debug, Clone)]
pub struct ChangeSetRequest {
    /// The stack's name.
    pub stack_name: String,
    /// The change set's name.
    pub name: String,
    /// Create or update.
    pub kind: ChangeSetKind,
    /// The template (minified JSON).
    pub template_body: String,
    /// The role CloudFormation acts as (the bootstrap's execution role), if any.
    pub role_arn: Option<String>,
    /// Stack tags, which CloudFormation propagates to the resources.
    pub tags: Vec<(String, String)>,
    /// Shown in the console.
    pub description: String,
    /// Makes the call idempotent under the SDK's retries.
    pub client_token: String,
}

/// A change set as `DescribeChangeSet` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetInfo {
    /// The change set's ARN.
    pub id: String,
    /// `CREATE_PENDING`, `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `FAILED`, …
    pub status: ChangeSetStatus,
    /// Why it failed, when it did.
    pub reason: Option<String>,
    /// The resource changes (all pages).
    pub changes: Vec<ResourceChange>,
}

/// One entry of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// `Add`, `Modify`, `Remove`, …
    pub action: ChangeAction,
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// CloudFormation's `True`, `False` or `Conditional`; `None` when it did not say.
    pub replacement: Option<Replacement>,
}

/// One stack event.
#[derive(Debug, Clone, PartialEq)]
pub struct StackEvent {
    /// Unique id (events are de-duplicated on it).
    pub id: String,
    /// Seconds since the Unix epoch.
    pub timestamp: f64,
    /// Logical id (the stack's name for stack-level events).
    pub logical_id: String,
    /// Resource type (`AWS::CloudFormation::Stack` for stack-level events).
    pub resource_type: String,
    /// `CREATE_IN_PROGRESS`, `UPDATE_FAILED`, …
    pub status: ResourceStatus,
    /// CloudFormation's explanation.
    pub reason: Option<String>,
}

impl StackEvent {
    /// True for events about the stack itself rather than one of its resources.
    pub fn is_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// A resource of a deployed stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    /// Logical id.
    pub logical_id: String,
    /// Physical id (name, ARN or id, by type).
    pub physical_id: Option<String>,
    /// Resource type.
    pub resource_type: String,
    /// Its status.
    pub status: ResourceStatus,
}

/// The CloudFormation calls the engine makes.
pub trait Stacks {
    /// The stack named `name`, or `None` when there is none.
    fn describe_stack(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<StackInfo>, AwsFailure>> + Send;

    /// The deployed template's text.
    fn get_template(&self, stack: &str) -> impl Future<Output = Result<String, AwsFailure>> + Send;

    /// Starts creating a new stack directly (no change set; the request's name is unused);
    /// returns the stack's ARN.
    fn create_stack(
        &self,
        request: &ChangeSetRequest,
    ) -> impl Future<Output = Result<String, AwsFailure>> + Send;

    /// Starts creating a change set; returns its ARN.
    fn create_change_set(
        &self,
        request: &ChangeSetRequest,
    ) -> impl Future<Output = Result<String, AwsFailure>> + Send;

    /// The change set `change_set` (name or ARN) of `stack`, with all its changes.
    fn describe_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> impl Future<Output = Result<ChangeSetInfo, AwsFailure>> + Send;

    /// Deletes a change set (an absent one is not an error).
    fn delete_change_set(
        &self,
        stack: &str,
        change_set: &str,
    ) -> impl Future<Output = Result<(), AwsFailure>> + Send;

    /// Executes a change set.
    fn execute_change_set(
        &self,
        stack: &str,
        change_set: &str,
        client_token: &str,
    ) -> impl Future<Output = Result<(), AwsFailure>> + Send;

    /// The stack's events, newest first, stopping at (excluding) `until_id`.
    fn events(
        &self,
        stack: &str,
        until_id: Option<&str>,
    ) -> impl Future<Output = Result<Vec<StackEvent>, AwsFailure>> + Send;

    /// The id of the stack's newest event (one page read), `None` when it has none.
    fn newest_event_id(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsFailure>> + Send;

    /// Starts deleting the stack.
    fn delete_stack(
        &self,
        stack: &str,
        role_arn: Option<&str>,
        retain: &[String],
        client_token: &str,
    ) -> impl Future<Output = Result<(), AwsFailure>> + Send;

    /// Starts `ContinueUpdateRollback`, skipping `skip` (resources whose rollback failed).
    fn continue_update_rollback(
        &self,
        stack: &str,
        role_arn: Option<&str>,
        skip: &[String],
        client_token: &str,
    ) -> impl Future<Output = Result<(), AwsFailure>> + Send;

    /// The stack's resources.
    fn resources(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<StackResource>, AwsFailure>> + Send;
}

/// The S3 bucket that holds the Lambda code, and SSM reads for bootstrap detection.
pub trait Storage {
    /// Whether `bucket` exists and is reachable.
    fn bucket_exists(&self, bucket: &str) -> impl Future<Output = Result<bool, AwsFailure>> + Send;

    /// Whether `key` exists in `bucket`.
    fn object_exists(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<bool, AwsFailure>> + Send;

    /// Uploads `bytes` to `bucket`/`key`, with their SHA-256 (base64) for S3 to check.
    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        sha256_base64: &str,
    ) -> impl Future<Output = Result<(), AwsFailure>> + Send;

    /// The value of SSM parameter `name`, or `None` when there is none.
    fn parameter(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsFailure>> + Send;
}

/// An instance of the stack's Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInstance {
    /// EC2 instance id.
    pub id: String,
    /// `InService`, `Pending`, `Terminating`, …
    pub lifecycle_state: String,
    /// Protected from scale-in: the group cannot remove it, so a stack delete would hang.
    pub protected: bool,
}

/// The Auto Scaling calls `destroy` makes before deleting the stack.
pub trait Fleet {
    /// The instances of the group named `group` (none when the group is gone).
    fn instances(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Vec<GroupInstance>, AwsFailure>> + Send;

    /// Removes scale-in protection from `ids` in `group`.
    fn unprotect(
        &self,
        group: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<(), AwsFailure>> + Send;
}
