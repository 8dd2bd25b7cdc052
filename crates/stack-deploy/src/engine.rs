//! Deploy, diff and destroy of one stack, over the [`Stacks`] trait.
//!
//! Every path ends in an outcome or a [`DeployError`] that says what happened and what to do;
//! nothing is left half-done by us: a change set that is not executed is deleted, and an
//! empty stack created only to hold a refused change set is deleted too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_support::{AwsFailure, FailureKind};
use serde_json::Value;

use crate::cloud::{
    ChangeSetInfo, ChangeSetKind, ChangeSetRequest, Fleet, StackEvent, StackInfo, Stacks,
};
use crate::diff::{self, Change, Counts, Detail, ResourceDiff, TemplateDiff};
use crate::replacement::Replacement;

/// The change set `deploy` creates (a leftover one is deleted first).
pub const DEPLOY_CHANGE_SET: &str = "agent-aws-stack-deploy";
/// The read-only change set `diff` creates and deletes.
pub const DIFF_CHANGE_SET: &str = "agent-aws-stack-diff";

/// How often and how long the engine waits.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Between two polls of a change set or a stack.
    pub poll: Duration,
    /// The longest wait for a change set to be computed.
    pub change_set_timeout: Duration,
    /// Failed polls in a row (throttling, network) tolerated while waiting.
    pub max_poll_errors: u32,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            poll: Duration::from_secs(2),
            change_set_timeout: Duration::from_secs(600),
            max_poll_errors: 10,
        }
    }
}

/// When `deploy` asks before executing (`--require-approval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Approval {
    /// Never ask.
    Never,
    /// Ask when IAM or security group grants are added (the default, as CDK).
    #[default]
    Broadening,
    /// Ask for any change.
    AnyChange,
}

/// What the engine shows and asks; the CLI draws it on a terminal or as plain lines.
pub trait Ui {
    /// A step or a notice, one line.
    fn say(&mut self, line: &str);
    /// The changes about to be made (or found by `diff`).
    fn show_diff(&mut self, stack: &str, diff: &TemplateDiff);
    /// A stack operation starts; `total` resources are expected to move.
    fn begin(&mut self, operation: &str, total: usize);
    /// A new stack event.
    fn event(&mut self, event: &StackEvent);
    /// The operation ended (successfully or not).
    fn end(&mut self);
    /// Asks a yes/no question. `Err` says why no answer can be had (no terminal).
    fn confirm(&mut self, question: &str) -> Result<bool, String>;
}

/// A deploy's inputs.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// Stack name.
    pub stack_name: String,
    /// The new template.
    pub template: Value,
    /// The role CloudFormation acts as, if the bootstrap has one.
    pub role_arn: Option<String>,
    /// Stack tags.
    pub tags: Vec<(String, String)>,
    /// When to ask before executing.
    pub approval: Approval,
    /// Do what a failed or paused stack needs (delete a stack whose creation failed, continue
    /// a failed rollback) without asking.
    pub force: bool,
}

/// How a deploy ended well.
#[derive(Debug, Clone, PartialEq)]
pub enum DeployOutcome {
    /// Nothing to change.
    NoChanges {
        /// The stack's ARN.
        stack_id: String,
    },
    /// The change set was executed and the stack reached a good state.
    Done {
        /// The stack's ARN.
        stack_id: String,
        /// Created or updated.
        kind: ChangeSetKind,
        /// The final status.
        status: String,
        /// What changed.
        counts: Counts,
        /// Seconds from execution to the final status.
        seconds: f64,
    },
}

/// A resource that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedResource {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// Its failed status.
    pub status: String,
    /// CloudFormation's reason.
    pub reason: String,
}

fn list_failures(failures: &[FailedResource]) -> String {
    if failures.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = failures
        .iter()
        .map(|f| {
            format!(
                "\n  {} ({}) {}: {}",
                f.logical_id, f.resource_type, f.status, f.reason
            )
        })
        .collect();
    format!("; failed resources:{}", lines.concat())
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
        status: String,
    },
    /// The stack's first creation failed; it must be deleted before it can be created again.
    #[error(
        "stack {stack} failed its first creation ({status}) and cannot be updated. Run `agent-aws-stack deploy --force` to delete it and create it again (or `agent-aws-stack destroy` first){reason}"
    )]
    CreationFailed {
        /// Stack name.
        stack: String,
        /// Its status.
        status: String,
        /// Why it failed, as CloudFormation recorded it.
        reason: String,
    },
    /// An update's rollback failed; the rollback must be continued first.
    #[error(
        "stack {stack} is UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback{resources}. Fix what blocked the rollback, then run `agent-aws-stack deploy --force` to continue the rollback and deploy (or `aws cloudformation continue-update-rollback --stack-name {stack} --resources-to-skip …` to skip resources you fixed by hand)"
    )]
    RollbackFailed {
        /// Stack name.
        stack: String,
        /// `; resources whose rollback failed: …` or empty.
        resources: String,
    },
    /// A state we do not repair automatically.
    #[error("stack {stack} is {status}{reason}: {advice}")]
    Stuck {
        /// Stack name.
        stack: String,
        /// Its status.
        status: String,
        /// `(reason)` or empty.
        reason: String,
        /// What to do.
        advice: &'static str,
    },
    /// The change needs approval and none can be given here.
    #[error("{what} needs approval but {why}: {how}; the stack was not changed")]
    ApprovalRequired {
        /// What needs approval.
        what: String,
        /// Why we cannot ask.
        why: String,
        /// How to approve without a terminal.
        how: &'static str,
    },
    /// The user said no.
    #[error("declined; the stack was not changed")]
    Declined,
    /// CloudFormation refused the change set.
    #[error("CloudFormation refused the change set: {0}; the stack was not changed")]
    ChangeSetFailed(String),
    /// A change set took too long to compute.
    #[error(
        "the change set was not ready after {0} s; it was deleted and the stack was not changed"
    )]
    ChangeSetTimeout(u64),
    /// The stack operation ended in a failed state.
    #[error("stack {stack} {what} ({status}){}", list_failures(.failures))]
    Failed {
        /// Stack name.
        stack: String,
        /// What failed, e.g. `failed to update and was rolled back`.
        what: String,
        /// The final status.
        status: String,
        /// The failed resources and their reasons (root causes first).
        failures: Vec<FailedResource>,
    },
    /// The deployed template cannot be read.
    #[error(
        "the deployed template of stack {stack} is not JSON ({detail}); agent-aws-stack compares JSON templates only"
    )]
    TemplateUnreadable {
        /// Stack name.
        stack: String,
        /// The parse error.
        detail: String,
    },
}

/// How a destroy ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestroyOutcome {
    /// There was no such stack.
    Absent,
    /// Deleted; `retained` lists resources CloudFormation could not delete and kept.
    Deleted {
        /// Resources left in the account (logical id, type).
        retained: Vec<(String, String)>,
    },
}

/// A destroy's inputs.
#[derive(Debug, Clone)]
pub struct DestroyRequest {
    /// Stack name.
    pub stack_name: String,
    /// The role CloudFormation acts as, if the bootstrap has one.
    pub role_arn: Option<String>,
    /// Skip the confirmation.
    pub force: bool,
    /// Resources to keep (only for a stack in `DELETE_FAILED`, as CloudFormation allows).
    pub retain: Vec<String>,
}

/// What `diff` found.
#[derive(Debug, Clone)]
pub struct StackDiff {
    /// Whether the stack exists.
    pub exists: bool,
    /// The differences.
    pub diff: TemplateDiff,
    /// Whether CloudFormation's change set decided the replacement column.
    pub from_change_set: bool,
}

/// A stack operation that repairs or removes a stack.
#[derive(Debug, Clone, Copy)]
enum Operation<'a> {
    /// `DeleteStack`, keeping these resources.
    Delete(&'a [String]),
    /// `ContinueUpdateRollback`.
    ContinueRollback,
}

/// Resource types that CloudFormation cannot delete while they hold hosts (macOS): a failed
/// delete is retried keeping them, and the user is told to release them by hand.
const HOST_TYPES: &[&str] = &["AWS::ResourceGroups::Group", "AWS::EC2::Host"];

/// The engine: one stack operation at a time.
pub struct Engine<'a, S: Stacks, U: Ui> {
    stacks: &'a S,
    ui: &'a mut U,
    timing: Timing,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A client request token: unique per call, within CloudFormation's alphabet.
pub fn client_token(purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "agent-aws-stack-{purpose}-{nanos:x}-{:x}",
        std::process::id()
    )
}

fn is_no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

fn is_cancellation(reason: &str) -> bool {
    reason.contains("cancelled")
}

fn parse_template(stack: &str, body: &str) -> Result<Value, DeployError> {
    serde_json::from_str(body).map_err(|e| DeployError::TemplateUnreadable {
        stack: stack.to_owned(),
        detail: e.to_string(),
    })
}

impl<'a, S: Stacks, U: Ui> Engine<'a, S, U> {
    /// An engine over `stacks`, talking through `ui`.
    pub fn new(stacks: &'a S, ui: &'a mut U, timing: Timing) -> Engine<'a, S, U> {
        Engine { stacks, ui, timing }
    }

    /// Creates or updates the stack through a change set.
    pub async fn deploy(&mut self, request: &DeployRequest) -> Result<DeployOutcome, DeployError> {
        let name = request.stack_name.as_str();
        let mut existing = self.stacks.describe_stack(name).await?;
        if let Some(stack) = existing.clone() {
            existing = self.prepare(&stack, request).await?;
        }
        let kind = match &existing {
            Some(s) if s.status != "REVIEW_IN_PROGRESS" => ChangeSetKind::Update,
            _ => ChangeSetKind::Create,
        };

        let old_template = match (&existing, kind) {
            (Some(s), ChangeSetKind::Update) => {
                parse_template(name, &self.stacks.get_template(&s.id).await?)?
            }
            _ => Value::Object(Default::default()),
        };
        let mut diff = diff::compare(&old_template, &request.template);

        // A new stack is created directly: a change set could only say "add everything",
        // which the local diff already shows. An existing empty stack (REVIEW_IN_PROGRESS)
        // and updates go through a change set.
        let direct_create = existing.is_none();
        if kind == ChangeSetKind::Update {
            self.remove_leftover(name, DEPLOY_CHANGE_SET).await;
        }
        let change_set_request = ChangeSetRequest {
            stack_name: name.to_owned(),
            name: DEPLOY_CHANGE_SET.to_owned(),
            kind,
            template_body: request.template.to_string(),
            role_arn: request.role_arn.clone(),
            tags: request.tags.clone(),
            description: format!("agent-aws-stack {}", env!("CARGO_PKG_VERSION")),
            client_token: client_token("cs"),
        };
        let change_set = if direct_create {
            None
        } else {
            self.ui.say(&format!(
                "==> Creating change set {DEPLOY_CHANGE_SET} ({}) for stack {name}",
                kind.operation()
            ));
            match self.change_set(&change_set_request).await? {
                Some(cs) => Some(cs),
                None => {
                    let id = existing.map(|s| s.id).unwrap_or_default();
                    return Ok(DeployOutcome::NoChanges { stack_id: id });
                }
            }
        };
        if let Some(cs) = &change_set {
            merge_change_set(&mut diff, cs);
        }
        self.ui.show_diff(name, &diff);

        let needs_approval = match request.approval {
            Approval::Never => None,
            Approval::AnyChange => Some("this change".to_owned()),
            Approval::Broadening if diff.security.is_broadening() => Some(format!(
                "this change widens IAM or security group permissions ({} grant(s) added), so it",
                diff.security.added.len()
            )),
            Approval::Broadening => None,
        };
        if let Some(what) = needs_approval {
            let answer = self.ui.confirm(&format!("Deploy these changes to {name}?"));
            let refusal = match answer {
                Ok(true) => None,
                Ok(false) => Some(DeployError::Declined),
                Err(why) => Some(DeployError::ApprovalRequired {
                    what,
                    why,
                    how: "review it with `agent-aws-stack diff`, then run again with `--require-approval never` (or `--yes`)",
                }),
            };
            if let Some(refusal) = refusal {
                if let Some(cs) = &change_set {
                    self.abandon(name, &cs.id).await;
                }
                return Err(refusal);
            }
        }

        let started = now();
        let before = match &change_set {
            Some(cs) => {
                let before = self.newest_event(name).await;
                self.stacks
                    .execute_change_set(name, &cs.id, &client_token("exec"))
                    .await?;
                before
            }
            None => {
                self.ui.say(&format!("==> Creating stack {name}"));
                // A new stack: every event is news.
                self.stacks.create_stack(&change_set_request).await?;
                None
            }
        };
        let total = diff.resources.len();
        let (stack, failures) = self.watch(name, kind.operation(), total, before).await?;
        let seconds = now() - started;
        match stack.status.as_str() {
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" => Ok(DeployOutcome::Done {
                stack_id: stack.id,
                kind,
                status: stack.status,
                counts: diff.counts(),
                seconds,
            }),
            status => Err(DeployError::Failed {
                stack: name.to_owned(),
                what: match kind {
                    ChangeSetKind::Create => "failed to create".to_owned(),
                    ChangeSetKind::Update if status == "UPDATE_ROLLBACK_COMPLETE" => {
                        "failed to update and was rolled back to its previous state".to_owned()
                    }
                    ChangeSetKind::Update => "failed to update".to_owned(),
                },
                status: stack.status.clone(),
                failures: root_causes(failures, &stack),
            }),
        }
    }

    /// Brings an existing stack to a state a change set can be made on, or explains why not.
    /// Returns the stack as it is afterwards (`None` when it was deleted).
    async fn prepare(
        &mut self,
        stack: &StackInfo,
        request: &DeployRequest,
    ) -> Result<Option<StackInfo>, DeployError> {
        let name = request.stack_name.as_str();
        let status = stack.status.as_str();
        let reason = stack
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        match status {
            "REVIEW_IN_PROGRESS" => Ok(Some(stack.clone())),
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" => {
                let question = format!(
                    "Stack {name} failed its first creation ({status}) and cannot be updated. Delete it and create it again?"
                );
                if !request.force && self.ui.confirm(&question) != Ok(true) {
                    return Err(DeployError::CreationFailed {
                        stack: name.to_owned(),
                        status: status.to_owned(),
                        reason,
                    });
                }
                self.ui.say(&format!(
                    "==> Deleting stack {name} ({status}) before creating it again"
                ));
                let (after, failures) = self
                    .start_and_watch(
                        &stack.id,
                        request.role_arn.as_deref(),
                        Operation::Delete(&[]),
                    )
                    .await?;
                if after.status != "DELETE_COMPLETE" {
                    return Err(DeployError::Failed {
                        stack: name.to_owned(),
                        what: "could not be deleted before being created again".to_owned(),
                        status: after.status.clone(),
                        failures: root_causes(failures, &after),
                    });
                }
                Ok(None)
            }
            "UPDATE_ROLLBACK_FAILED" => {
                let failed = self.rollback_failures(&stack.id).await;
                let resources = if failed.is_empty() {
                    String::new()
                } else {
                    format!("; resources whose rollback failed: {}", failed.join(", "))
                };
                let question = format!(
                    "Stack {name} is UPDATE_ROLLBACK_FAILED{resources}. Continue the rollback, then deploy?"
                );
                if !request.force && self.ui.confirm(&question) != Ok(true) {
                    return Err(DeployError::RollbackFailed {
                        stack: name.to_owned(),
                        resources,
                    });
                }
                self.ui
                    .say(&format!("==> Continuing the failed rollback of {name}"));
                let (after, failures) = self
                    .start_and_watch(
                        &stack.id,
                        request.role_arn.as_deref(),
                        Operation::ContinueRollback,
                    )
                    .await?;
                if after.status != "UPDATE_ROLLBACK_COMPLETE" {
                    return Err(DeployError::Failed {
                        stack: name.to_owned(),
                        what: "could not finish its rollback".to_owned(),
                        status: after.status.clone(),
                        failures: root_causes(failures, &after),
                    });
                }
                Ok(Some(after))
            }
            "DELETE_FAILED" => Err(DeployError::Stuck {
                stack: name.to_owned(),
                status: status.to_owned(),
                reason,
                advice: "a delete failed and the stack can only be deleted now; run `agent-aws-stack destroy` again (with `--retain ID` for resources that cannot be deleted)",
            }),
            "CREATE_FAILED" | "UPDATE_FAILED" | "IMPORT_ROLLBACK_FAILED" => {
                Err(DeployError::Stuck {
                    stack: name.to_owned(),
                    status: status.to_owned(),
                    reason,
                    advice: "the operation stopped without rolling back; roll it back in the CloudFormation console (or `aws cloudformation rollback-stack`), then run this again",
                })
            }
            s if s.ends_with("_IN_PROGRESS") => Err(DeployError::Busy {
                stack: name.to_owned(),
                status: s.to_owned(),
            }),
            _ => Ok(Some(stack.clone())),
        }
    }

    /// Creates a change set and waits until it is ready. `None` means there is nothing to
    /// change (the change set is deleted).
    async fn change_set(
        &mut self,
        request: &ChangeSetRequest,
    ) -> Result<Option<ChangeSetInfo>, DeployError> {
        let stack = request.stack_name.as_str();
        let id = match self.stacks.create_change_set(request).await {
            Ok(id) => id,
            // An emulator (moto) refuses the call instead of failing the change set.
            Err(e) if e.is_code("ValidationError") && is_no_changes(&e.message) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let deadline = tokio::time::Instant::now() + self.timing.change_set_timeout;
        let mut errors = 0;
        loop {
            match self.stacks.describe_change_set(stack, &id).await {
                Ok(info) => {
                    errors = 0;
                    match info.status.as_str() {
                        "CREATE_COMPLETE" => return Ok(Some(info)),
                        "FAILED" => {
                            let reason = info.reason.clone().unwrap_or_default();
                            self.stacks.delete_change_set(stack, &id).await?;
                            if is_no_changes(&reason) {
                                return Ok(None);
                            }
                            return Err(DeployError::ChangeSetFailed(reason));
                        }
                        _ => {}
                    }
                }
                Err(e) => self.tolerate(&mut errors, e)?,
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.stacks.delete_change_set(stack, &id).await;
                return Err(DeployError::ChangeSetTimeout(
                    self.timing.change_set_timeout.as_secs(),
                ));
            }
            tokio::time::sleep(self.timing.poll).await;
        }
    }

    /// Deletes a change set left by an earlier, interrupted run. Errors are ignored: when
    /// one really is left, creating the new change set says so.
    async fn remove_leftover(&mut self, stack: &str, change_set: &str) {
        if let Err(e) = self.stacks.delete_change_set(stack, change_set).await {
            tracing::debug!("no leftover change set {change_set} deleted: {e}");
        }
    }

    /// Deletes a change set we will not execute. A failure here is reported, not raised:
    /// the refusal is what the user must see.
    async fn abandon(&mut self, stack: &str, change_set: &str) {
        if let Err(e) = self.stacks.delete_change_set(stack, change_set).await {
            self.ui.say(&format!(
                "warning: could not delete change set {change_set}: {e}"
            ));
        }
    }

    /// Counts a failed poll; gives up after `max_poll_errors` in a row. Only failures that
    /// can pass (throttling, timeouts, network) are tolerated.
    fn tolerate(&mut self, errors: &mut u32, failure: AwsFailure) -> Result<(), DeployError> {
        let transient = matches!(
            failure.kind,
            FailureKind::Throttled | FailureKind::Timeout | FailureKind::Unreachable
        );
        *errors += 1;
        if !transient || *errors > self.timing.max_poll_errors {
            return Err(failure.into());
        }
        self.ui.say(&format!(
            "warning: {failure}; trying again ({errors}/{})",
            self.timing.max_poll_errors
        ));
        Ok(())
    }

    /// The id of the stack's newest event, to follow only what comes after it. A failure
    /// here only means older events may be shown again.
    async fn newest_event(&mut self, stack: &str) -> Option<String> {
        self.stacks.newest_event_id(stack).await.ok().flatten()
    }

    /// Starts `operation` on the stack and follows it to its end.
    async fn start_and_watch(
        &mut self,
        stack_id: &str,
        role_arn: Option<&str>,
        operation: Operation<'_>,
    ) -> Result<(StackInfo, Vec<StackEvent>), DeployError> {
        let before = self.newest_event(stack_id).await;
        let name = match operation {
            Operation::Delete(retain) => {
                self.stacks
                    .delete_stack(stack_id, role_arn, retain, &client_token("del"))
                    .await?;
                "delete"
            }
            Operation::ContinueRollback => {
                self.stacks
                    .continue_update_rollback(stack_id, role_arn, &[], &client_token("rb"))
                    .await?;
                "rollback"
            }
        };
        self.watch(stack_id, name, 0, before).await
    }

    /// Follows the stack until its status is no longer `*_IN_PROGRESS`; returns it with
    /// the failed resource events seen on the way.
    async fn watch(
        &mut self,
        stack: &str,
        operation: &str,
        total: usize,
        mut last_event: Option<String>,
    ) -> Result<(StackInfo, Vec<StackEvent>), DeployError> {
        self.ui.begin(operation, total);
        let mut failures = Vec::new();
        let mut errors = 0;
        let result = loop {
            let described = self.stacks.describe_stack(stack).await;
            let events = self.stacks.events(stack, last_event.as_deref(), 0.0).await;
            match events {
                Ok(mut events) => {
                    events.reverse();
                    for event in events {
                        if event.status.ends_with("_FAILED") && !event.is_stack() {
                            failures.push(event.clone());
                        }
                        self.ui.event(&event);
                        last_event = Some(event.id);
                    }
                }
                Err(e) => {
                    if let Err(e) = self.tolerate(&mut errors, e) {
                        break Err(e);
                    }
                }
            }
            match described {
                Ok(Some(info)) => {
                    errors = 0;
                    if !info.status.ends_with("_IN_PROGRESS") {
                        break Ok((info, std::mem::take(&mut failures)));
                    }
                }
                Ok(None) => {
                    // Deleted stacks vanish from DescribeStacks by name.
                    break Ok((
                        StackInfo {
                            id: stack.to_owned(),
                            name: stack.to_owned(),
                            status: "DELETE_COMPLETE".to_owned(),
                            reason: None,
                            tags: Vec::new(),
                        },
                        std::mem::take(&mut failures),
                    ));
                }
                Err(e) => {
                    if let Err(e) = self.tolerate(&mut errors, e) {
                        break Err(e);
                    }
                }
            }
            tokio::time::sleep(self.timing.poll).await;
        };
        self.ui.end();
        result
    }

    /// The resources whose rollback failed in the last update rollback.
    async fn rollback_failures(&mut self, stack: &str) -> Vec<String> {
        let Ok(events) = self.stacks.events(stack, None, 0.0).await else {
            return Vec::new();
        };
        let mut failed = Vec::new();
        for event in &events {
            if event.is_stack() && event.status == "UPDATE_ROLLBACK_IN_PROGRESS" {
                break;
            }
            if !event.is_stack()
                && event.status == "UPDATE_FAILED"
                && !failed.contains(&event.logical_id)
            {
                failed.push(event.logical_id.clone());
            }
        }
        failed
    }

    /// Compares the deployed template with `request.template`. With `use_change_set` and an
    /// existing stack, a read-only change set decides what is replaced (and is deleted).
    pub async fn diff(
        &mut self,
        request: &DeployRequest,
        use_change_set: bool,
    ) -> Result<StackDiff, DeployError> {
        let name = request.stack_name.as_str();
        let existing = self
            .stacks
            .describe_stack(name)
            .await?
            .filter(|s| s.status != "REVIEW_IN_PROGRESS");
        let Some(stack) = existing else {
            return Ok(StackDiff {
                exists: false,
                diff: TemplateDiff::creation(&request.template),
                from_change_set: false,
            });
        };
        let old = parse_template(name, &self.stacks.get_template(&stack.id).await?)?;
        let mut diff = diff::compare(&old, &request.template);
        let mut from_change_set = false;
        let updatable = !stack.status.ends_with("_IN_PROGRESS")
            && !matches!(
                stack.status.as_str(),
                "ROLLBACK_COMPLETE"
                    | "ROLLBACK_FAILED"
                    | "UPDATE_ROLLBACK_FAILED"
                    | "DELETE_FAILED"
            );
        if use_change_set && updatable && !diff.is_empty() {
            self.ui.say(
                "==> Creating a read-only change set for accurate replacement information (--no-change-set skips it)",
            );
            self.remove_leftover(name, DIFF_CHANGE_SET).await;
            let cs_request = ChangeSetRequest {
                stack_name: name.to_owned(),
                name: DIFF_CHANGE_SET.to_owned(),
                kind: ChangeSetKind::Update,
                template_body: request.template.to_string(),
                role_arn: request.role_arn.clone(),
                tags: request.tags.clone(),
                description: "agent-aws-stack diff (read-only, deleted after reading)".to_owned(),
                client_token: client_token("diff"),
            };
            match self.change_set(&cs_request).await {
                Ok(Some(cs)) => {
                    merge_change_set(&mut diff, &cs);
                    from_change_set = true;
                    self.stacks.delete_change_set(name, &cs.id).await?;
                }
                Ok(None) => {}
                Err(e) => self.ui.say(&format!(
                    "warning: could not create a change set ({e}); replacement below is from the resource schemas"
                )),
            }
        }
        Ok(StackDiff {
            exists: true,
            diff,
            from_change_set,
        })
    }

    /// The physical names of the stack's Auto Scaling groups that still exist.
    async fn agent_groups(&self, stack_id: &str) -> Result<Vec<String>, DeployError> {
        Ok(self
            .stacks
            .resources(stack_id)
            .await?
            .into_iter()
            .filter(|r| {
                r.resource_type == "AWS::AutoScaling::AutoScalingGroup"
                    && r.status != "DELETE_COMPLETE"
            })
            .filter_map(|r| r.physical_id.filter(|id| !id.is_empty()))
            .collect())
    }

    /// Deletes the stack and waits.
    pub async fn destroy(
        &mut self,
        request: &DestroyRequest,
        fleet: &impl Fleet,
    ) -> Result<DestroyOutcome, DeployError> {
        let name = request.stack_name.as_str();
        let Some(stack) = self.stacks.describe_stack(name).await? else {
            return Ok(DestroyOutcome::Absent);
        };
        let status = stack.status.as_str();
        if status.ends_with("_IN_PROGRESS")
            && status != "DELETE_IN_PROGRESS"
            && status != "REVIEW_IN_PROGRESS"
        {
            return Err(DeployError::Busy {
                stack: name.to_owned(),
                status: status.to_owned(),
            });
        }
        // Pre-flight: the agents still running, and the protected ones that would make the
        // group's deletion hang until CloudFormation gives up.
        let mut groups = Vec::new();
        if status != "DELETE_IN_PROGRESS" {
            for group in self.agent_groups(&stack.id).await? {
                let instances = fleet.instances(&group).await?;
                groups.push((group, instances));
            }
        }
        let running: usize = groups
            .iter()
            .flat_map(|(_, instances)| instances)
            .filter(|i| !i.lifecycle_state.starts_with("Terminat"))
            .count();
        let warning = if running > 0 {
            let line = format!(
                "==> {running} agent instance(s) still running: deleting the stack terminates them and stops the jobs they run"
            );
            self.ui.say(&line);
            format!(" ({running} agent instance(s) running: their jobs stop)")
        } else {
            String::new()
        };
        if !request.force {
            match self.ui.confirm(&format!(
                "Delete stack {name} and every resource in it{warning}?"
            )) {
                Ok(true) => {}
                Ok(false) => return Err(DeployError::Declined),
                Err(why) => {
                    return Err(DeployError::ApprovalRequired {
                        what: format!("deleting stack {name}"),
                        why,
                        how: "run again with `--force` to delete without asking",
                    });
                }
            }
        }
        for (group, instances) in &groups {
            let protected: Vec<String> = instances
                .iter()
                .filter(|i| i.protected)
                .map(|i| i.id.clone())
                .collect();
            if !protected.is_empty() {
                self.ui.say(&format!(
                    "==> Removing scale-in protection from {} instance(s) of {group}, which would block its deletion",
                    protected.len()
                ));
                fleet.unprotect(group, &protected).await?;
            }
        }
        let mut retain = request.retain.clone();
        let mut retained = Vec::new();
        for attempt in 0..2 {
            let (after, failures) = if status == "DELETE_IN_PROGRESS" && attempt == 0 {
                let before = self.newest_event(&stack.id).await;
                self.watch(&stack.id, "delete", 0, before).await?
            } else {
                self.start_and_watch(
                    &stack.id,
                    request.role_arn.as_deref(),
                    Operation::Delete(&retain),
                )
                .await?
            };
            if after.status == "DELETE_COMPLETE" {
                return Ok(DestroyOutcome::Deleted { retained });
            }
            let failed = root_causes(failures, &after);
            let only_hosts = !failed.is_empty()
                && failed
                    .iter()
                    .all(|f| HOST_TYPES.contains(&f.resource_type.as_str()));
            if attempt == 0 && only_hosts {
                self.ui.say(
                    "==> The dedicated hosts' resources cannot be deleted yet; deleting the rest and keeping them",
                );
                for f in &failed {
                    retain.push(f.logical_id.clone());
                    retained.push((f.logical_id.clone(), f.resource_type.clone()));
                }
                continue;
            }
            return Err(DeployError::Failed {
                stack: name.to_owned(),
                what: "could not be deleted".to_owned(),
                status: after.status.clone(),
                failures: failed,
            });
        }
        unreachable!("the loop returns on its second attempt")
    }
}

/// Root-cause failures: the failed resource events without the "cancelled" noise, the
/// first failure of each resource only; the stack's own reason when no resource says more.
fn root_causes(events: Vec<StackEvent>, stack: &StackInfo) -> Vec<FailedResource> {
    let mut out: Vec<FailedResource> = Vec::new();
    for e in &events {
        let reason = e.reason.clone().unwrap_or_default();
        if is_cancellation(&reason) || out.iter().any(|f| f.logical_id == e.logical_id) {
            continue;
        }
        out.push(FailedResource {
            logical_id: e.logical_id.clone(),
            resource_type: e.resource_type.clone(),
            status: e.status.clone(),
            reason,
        });
    }
    if out.is_empty()
        && let Some(reason) = &stack.reason
    {
        out.push(FailedResource {
            logical_id: stack.name.clone(),
            resource_type: "AWS::CloudFormation::Stack".to_owned(),
            status: stack.status.clone(),
            reason: reason.clone(),
        });
    }
    out
}

/// CloudFormation's own replacement verdicts override the schema-based guesses; resources
/// the change set touches that the template diff does not show (a changed dynamic value) are
/// added.
fn merge_change_set(diff: &mut TemplateDiff, change_set: &ChangeSetInfo) {
    for change in &change_set.changes {
        let verdict = change
            .replacement
            .as_deref()
            .and_then(Replacement::from_cloudformation);
        match diff
            .resources
            .iter_mut()
            .find(|r| r.logical_id == change.logical_id)
        {
            Some(r) => {
                if let Some(v) = verdict
                    && r.change == Change::Modified
                {
                    r.replacement = v;
                }
            }
            None if change.action == "Modify" || change.action == "Dynamic" => {
                diff.resources.push(ResourceDiff {
                    logical_id: change.logical_id.clone(),
                    resource_type: change.resource_type.clone(),
                    change: Change::Modified,
                    replacement: verdict.unwrap_or(Replacement::Conditional),
                    details: vec![Detail {
                        path: "(a value resolved at deploy time)".to_owned(),
                        old: None,
                        new: None,
                        replacement: verdict.unwrap_or(Replacement::Conditional),
                    }],
                });
            }
            None => {}
        }
    }
}
