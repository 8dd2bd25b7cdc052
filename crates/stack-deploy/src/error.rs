//! Why a deploy, diff, destroy or bootstrap did not succeed, or why a `package` folder
//! cannot supply the Lambda zips: typed fields (statuses as enums, reasons as options,
//! failed resources as a list), rendered to text only by `Display`.

use std::fmt;
use std::path::PathBuf;

use aws_support::AwsFailure;
use serde::Serialize;

use crate::diff::SecurityDiff;
use crate::progress::NoAnswer;
use crate::status::{ResourceStatus, StackStatus};

/// A resource that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceFailure {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// Its failed status.
    pub status: ResourceStatus,
    /// CloudFormation's reason, when it gave one.
    pub reason: Option<String>,
}

impl fmt::Display for ResourceFailure {
    /// `G (AWS::AutoScaling::AutoScalingGroup) UPDATE_FAILED: <reason>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) {}",
            self.logical_id, self.resource_type, self.status
        )?;
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        Ok(())
    }
}

/// The operation that ended in a failed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedOperation {
    /// Creating the stack.
    Create,
    /// Updating it.
    Update,
    /// Deleting it (`destroy`).
    Delete,
    /// Deleting a stack whose first creation failed, to create it again.
    DeleteBeforeRecreate,
    /// Continuing a failed rollback.
    ContinueRollback,
}

/// What needed an approval that could not be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalSubject {
    /// A change that widens IAM or security group permissions.
    Broadening {
        /// The grants added and removed (the tables shown before asking, and in `--json`).
        security: SecurityDiff,
    },
    /// Any change (`--require-approval any-change`).
    AnyChange,
    /// Deleting the stack.
    Delete {
        /// Stack name.
        stack: String,
    },
}

/// ` (reason)` when there is one.
struct Reason<'a>(&'a Option<String>);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(reason) => write!(f, " ({reason})"),
            None => Ok(()),
        }
    }
}

/// `; resources whose rollback failed: A, B` when there are some.
struct RollbackResources<'a>(&'a [String]);

impl fmt::Display for RollbackResources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(
            f,
            "; resources whose rollback failed: {}",
            self.0.join(", ")
        )
    }
}

/// Why a deploy, diff or destroy did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsFailure),
    /// Another operation is running on the stack.
    #[error(
        "stack {stack} is busy ({status}): another operation is running on it. Wait until it ends (watch it in the CloudFormation console or with `aws cloudformation describe-stacks --stack-name {stack}`), then run this again"
    )]
    Busy {
        /// Stack name.
        stack: String,
        /// Its status.
        status: StackStatus,
    },
    /// The stack's first creation failed; it must be deleted before it can be created again.
    #[error(
        "stack {stack} failed its first creation ({status}) and cannot be updated. Run `agent-aws-stack deploy --force` to delete it and create it again (or `agent-aws-stack destroy` first){}",
        Reason(.reason)
    )]
    CreationFailed {
        /// Stack name.
        stack: String,
        /// Its status.
        status: StackStatus,
        /// Why it failed, as CloudFormation recorded it.
        reason: Option<String>,
    },
    /// An update's rollback failed; the rollback must be continued first.
    #[error(
        "stack {stack} is UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback{}. Fix what blocked the rollback, then run `agent-aws-stack deploy --force` to continue the rollback and deploy (or `aws cloudformation continue-update-rollback --stack-name {stack} --resources-to-skip …` to skip resources you fixed by hand)",
        RollbackResources(.resources)
    )]
    RollbackFailed {
        /// Stack name.
        stack: String,
        /// Resources whose rollback failed.
        resources: Vec<String>,
    },
    /// A delete failed; the stack can only be deleted.
    #[error(
        "stack {stack} is DELETE_FAILED{}: a delete failed and the stack can only be deleted now; run `agent-aws-stack destroy` again (with `--retain ID` for resources that cannot be deleted)",
        Reason(.reason)
    )]
    DeleteFailed {
        /// Stack name.
        stack: String,
        /// Why, as CloudFormation recorded it.
        reason: Option<String>,
    },
    /// An operation stopped without rolling back; it must be rolled back by hand.
    #[error(
        "stack {stack} is {status}{}: the operation stopped without rolling back; roll it back in the CloudFormation console (or `aws cloudformation rollback-stack`), then run this again",
        Reason(.reason)
    )]
    Stopped {
        /// Stack name.
        stack: String,
        /// Its status.
        status: StackStatus,
        /// Why, as CloudFormation recorded it.
        reason: Option<String>,
    },
    /// The change needs approval and none can be given here.
    #[error("{} needs approval but {cause}: {}; the stack was not changed", subject_text(.subject), subject_how(.subject))]
    ApprovalRequired {
        /// What needs approval.
        subject: ApprovalSubject,
        /// Why nobody could be asked.
        cause: NoAnswer,
    },
    /// The user said no.
    #[error("declined; the stack was not changed")]
    Declined,
    /// CloudFormation refused the change set.
    #[error(
        "CloudFormation refused the change set: {}; the stack was not changed",
        .reason.as_deref().unwrap_or("no reason given")
    )]
    ChangeSetFailed {
        /// CloudFormation's reason.
        reason: Option<String>,
    },
    /// A change set took too long to compute.
    #[error(
        "the change set was not ready after {seconds} s; it was deleted and the stack was not changed"
    )]
    ChangeSetTimeout {
        /// The limit, in seconds.
        seconds: u64,
    },
    /// The stack operation ended in a failed state.
    #[error("{}", FailureReport { stack, operation: *operation, status, failed_resources })]
    Failed {
        /// Stack name.
        stack: String,
        /// What failed.
        operation: FailedOperation,
        /// The final status.
        status: StackStatus,
        /// The failed resources and their reasons (root causes first).
        failed_resources: Vec<ResourceFailure>,
    },
    /// The deployed template cannot be read.
    #[error(
        "the deployed template of stack {stack} is not JSON; agent-aws-stack compares JSON templates only"
    )]
    TemplateUnreadable {
        /// Stack name.
        stack: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

impl DeployError {
    /// The stack's final status, when the error is about one.
    pub fn status(&self) -> Option<&StackStatus> {
        match self {
            DeployError::Busy { status, .. }
            | DeployError::CreationFailed { status, .. }
            | DeployError::Stopped { status, .. }
            | DeployError::Failed { status, .. } => Some(status),
            _ => None,
        }
    }

    /// The resources that failed, root causes first (empty when none are known).
    pub fn failed_resources(&self) -> &[ResourceFailure] {
        match self {
            DeployError::Failed {
                failed_resources, ..
            } => failed_resources,
            _ => &[],
        }
    }
}

fn subject_text(subject: &ApprovalSubject) -> String {
    match subject {
        ApprovalSubject::Broadening { security } => format!(
            "this change widens IAM or security group permissions ({} grant(s) added), so it",
            security.added.len()
        ),
        ApprovalSubject::AnyChange => "this change".to_owned(),
        ApprovalSubject::Delete { stack } => format!("deleting stack {stack}"),
    }
}

fn subject_how(subject: &ApprovalSubject) -> &'static str {
    match subject {
        ApprovalSubject::Broadening { .. } | ApprovalSubject::AnyChange => {
            "review it with `agent-aws-stack diff`, then run again with `--require-approval never` (or `--yes`)"
        }
        ApprovalSubject::Delete { .. } => "run again with `--force` to delete without asking",
    }
}

/// `stack s ended in STATUS: <first reason> (what happened)`, then one line per failed
/// resource.
struct FailureReport<'a> {
    stack: &'a str,
    operation: FailedOperation,
    status: &'a StackStatus,
    failed_resources: &'a [ResourceFailure],
}

impl fmt::Display for FailureReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.operation {
            FailedOperation::Create => "it failed to create",
            FailedOperation::Update if *self.status == StackStatus::UpdateRollbackComplete => {
                "it failed to update and was rolled back to its previous state"
            }
            FailedOperation::Update => "it failed to update",
            FailedOperation::Delete => "it could not be deleted",
            FailedOperation::DeleteBeforeRecreate => {
                "it could not be deleted before being created again"
            }
            FailedOperation::ContinueRollback => "it could not finish its rollback",
        };
        write!(f, "stack {} ended in {}", self.stack, self.status)?;
        if let Some(reason) = self.failed_resources.iter().find_map(|r| r.reason.as_ref()) {
            write!(f, ": {reason}")?;
        }
        write!(f, " ({what})")?;
        for resource in self.failed_resources {
            write!(f, "\n- {resource}")?;
        }
        Ok(())
    }
}

/// Why no usable bootstrap was found, or why bootstrapping cannot go ahead.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsFailure),
    /// Neither CDK's nor our bootstrap is there.
    #[error(
        "account {account} in {region} is not bootstrapped: run `agent-aws-stack bootstrap aws://{account}/{region} --cloudformation-execution-policies <policy ARN>` first"
    )]
    Missing {
        /// The account.
        account: String,
        /// The region.
        region: String,
    },
    /// CDK's bootstrap is too old for its bucket layout to be relied on.
    #[error(
        "the CDK bootstrap of account {account} in {region} is version {version}; version {minimum} or later is needed: upgrade it with `cdk bootstrap`, or delete the CDKToolkit stack and run `agent-aws-stack bootstrap`"
    )]
    CdkTooOld {
        /// The account.
        account: String,
        /// The region.
        region: String,
        /// Its version.
        version: u32,
        /// The oldest version accepted.
        minimum: u32,
    },
    /// Our bootstrap stack is in a state that cannot be used.
    #[error(
        "stack {stack} is {status}: the bootstrap stack is not usable; run `agent-aws-stack bootstrap` again (or delete the stack in the CloudFormation console and bootstrap again)"
    )]
    Unusable {
        /// The bootstrap stack's name.
        stack: String,
        /// Its status.
        status: StackStatus,
    },
    /// The bucket exists but no bootstrap owns it.
    #[error(
        "bucket {bucket} already exists but no bootstrap stack owns it (left by an earlier `cdk bootstrap`?). Run `cdk bootstrap` to adopt it again, or empty and delete it, then run this again"
    )]
    OrphanBucket {
        /// The bucket.
        bucket: String,
    },
}

/// Why a `package` folder cannot supply the zips.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// The manifest cannot be read.
    #[error("cannot read {}", .path.display())]
    ManifestUnreadable {
        /// The manifest's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is not a package manifest.
    #[error("{} is not a package manifest", .path.display())]
    ManifestInvalid {
        /// The manifest's path.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The manifest names no zip for a key the template needs.
    #[error(
        "{} has no zip for {key}: it was built from other sources than this agent-aws-stack; run `agent-aws-stack package --output {}` again",
        .manifest.display(), .dir.display()
    )]
    NotInManifest {
        /// The manifest's path.
        manifest: PathBuf,
        /// The S3 key.
        key: String,
        /// The `package` folder.
        dir: PathBuf,
    },
    /// A zip cannot be read.
    #[error("cannot read {}", .path.display())]
    ZipUnreadable {
        /// The zip's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A zip differs from what the manifest says.
    #[error(
        "{} does not match its manifest (SHA-256 {actual}, manifest says {expected}); run `agent-aws-stack package --output {}` again",
        .path.display(), .dir.display()
    )]
    ZipMismatch {
        /// The zip's path.
        path: PathBuf,
        /// Its SHA-256.
        actual: String,
        /// The manifest's SHA-256.
        expected: String,
        /// The `package` folder.
        dir: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(id: &str, status: &str, reason: Option<&str>) -> ResourceFailure {
        ResourceFailure {
            logical_id: id.into(),
            resource_type: "AWS::EC2::LaunchTemplate".into(),
            status: ResourceStatus::parse(status),
            reason: reason.map(Into::into),
        }
    }

    #[test]
    fn failure_reports_name_the_status_the_first_reason_and_each_resource() {
        let cases = [
            (
                "a rolled-back update",
                FailedOperation::Update,
                StackStatus::UpdateRollbackComplete,
                vec![
                    failure("LaunchTemplate", "UPDATE_FAILED", Some("bad AMI")),
                    failure("Other", "UPDATE_FAILED", None),
                ],
                "stack test-stack ended in UPDATE_ROLLBACK_COMPLETE: bad AMI (it failed to update and was rolled back to its previous state)\n- LaunchTemplate (AWS::EC2::LaunchTemplate) UPDATE_FAILED: bad AMI\n- Other (AWS::EC2::LaunchTemplate) UPDATE_FAILED",
            ),
            (
                "a failed create without resources",
                FailedOperation::Create,
                StackStatus::RollbackComplete,
                vec![],
                "stack test-stack ended in ROLLBACK_COMPLETE (it failed to create)",
            ),
            (
                "a failed delete",
                FailedOperation::Delete,
                StackStatus::DeleteFailed,
                vec![failure("Host", "DELETE_FAILED", Some("in use"))],
                "stack test-stack ended in DELETE_FAILED: in use (it could not be deleted)\n- Host (AWS::EC2::LaunchTemplate) DELETE_FAILED: in use",
            ),
        ];
        for (name, operation, status, failed_resources, expected) in cases {
            let error = DeployError::Failed {
                stack: "test-stack".into(),
                operation,
                status,
                failed_resources,
            };
            assert_eq!(error.to_string(), expected, "{name}");
        }
    }

    #[test]
    fn optional_reasons_are_left_out_when_absent() {
        let with = DeployError::Stopped {
            stack: "s".into(),
            status: StackStatus::UpdateFailed,
            reason: Some("timeout".into()),
        };
        assert!(
            with.to_string()
                .starts_with("stack s is UPDATE_FAILED (timeout): ")
        );
        let without = DeployError::RollbackFailed {
            stack: "s".into(),
            resources: vec![],
        };
        assert!(
            without.to_string().starts_with(
                "stack s is UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback. Fix"
            ),
            "{without}"
        );
        let refused = DeployError::ApprovalRequired {
            subject: ApprovalSubject::Delete { stack: "s".into() },
            cause: NoAnswer::NoTerminal,
        };
        assert_eq!(
            refused.to_string(),
            "deleting stack s needs approval but no terminal is attached to ask: run again with `--force` to delete without asking; the stack was not changed"
        );
    }
}
