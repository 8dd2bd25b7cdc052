//! `deploy`: creates the stack, or updates it through a change set, after repairing a
//! failed stack ([`crate::prepare`]) and asking for approval when the change calls for it.

use serde_json::Value;

use crate::cloud::{ChangeSetKind, ChangeSetRequest, Stacks};
use crate::diff::{self, TemplateDiff};
use crate::engine::{DEPLOY_CHANGE_SET, Engine, client_token, merge_change_set, parse_template};
use crate::error::{ApprovalSubject, DeployError, FailedOperation};
use crate::progress::{ChangeSetPurpose, Confirm, DeployEvent, Progress, Question};
use crate::status::{Readiness, StackStatus};
use crate::watch::root_causes;

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
#[derive(Debug, Clone)]
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
        status: StackStatus,
        /// What changed.
        diff: TemplateDiff,
        /// Seconds from execution to the final status (on the engine's clock).
        seconds: f64,
    },
}

impl<S: Stacks, U: Progress + Confirm> Engine<'_, S, U> {
    /// Creates or updates the stack through a change set.
    pub async fn deploy(&mut self, request: &DeployRequest) -> Result<DeployOutcome, DeployError> {
        let name = request.stack_name.as_str();
        let mut existing = self.stacks.describe_stack(name).await?;
        if let Some(stack) = existing.clone() {
            existing = self.prepare(&stack, request).await?;
        }
        let kind = match &existing {
            Some(s) if s.status.readiness() != Readiness::Empty => ChangeSetKind::Update,
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
            self.report(DeployEvent::ChangeSetCreating {
                stack: name,
                change_set: DEPLOY_CHANGE_SET,
                kind,
                purpose: ChangeSetPurpose::Deploy,
            });
            match self.change_set(&change_set_request).await? {
                Some(cs) => Some(cs),
                None => {
                    self.report(DeployEvent::NoChanges { stack: name });
                    let id = existing.map(|s| s.id).unwrap_or_default();
                    return Ok(DeployOutcome::NoChanges { stack_id: id });
                }
            }
        };
        if let Some(cs) = &change_set {
            merge_change_set(&mut diff, cs);
        }
        self.report(DeployEvent::ChangeSetReady {
            stack: name,
            changes: &diff,
        });

        let needs_approval = match request.approval {
            Approval::Never => None,
            Approval::AnyChange => Some(ApprovalSubject::AnyChange),
            Approval::Broadening if diff.security.is_broadening() => {
                Some(ApprovalSubject::Broadening {
                    security: diff.security.clone(),
                })
            }
            Approval::Broadening => None,
        };
        if let Some(subject) = needs_approval {
            let refusal = match self.ui.confirm(&Question::Deploy { stack: name }) {
                Ok(true) => None,
                Ok(false) => Some(DeployError::Declined),
                Err(cause) => Some(DeployError::ApprovalRequired { subject, cause }),
            };
            if let Some(refusal) = refusal {
                if let Some(cs) = &change_set {
                    self.abandon(name, &cs.id).await;
                }
                return Err(refusal);
            }
        }

        let started = tokio::time::Instant::now();
        let before = match &change_set {
            Some(cs) => {
                let before = self.newest_event(name).await;
                self.stacks
                    .execute_change_set(name, &cs.id, &client_token("exec"))
                    .await?;
                before
            }
            None => {
                self.report(DeployEvent::StackCreating { stack: name });
                // A new stack: every event is news.
                self.stacks.create_stack(&change_set_request).await?;
                None
            }
        };
        let total = diff.resources.len();
        let watched = self.watch(name, kind.into(), total, before).await?;
        let seconds = started.elapsed().as_secs_f64();
        let stack = watched.stack;
        if stack.status.is_success() {
            return Ok(DeployOutcome::Done {
                stack_id: stack.id,
                kind,
                status: stack.status,
                diff,
                seconds,
            });
        }
        Err(DeployError::Failed {
            stack: name.to_owned(),
            operation: match kind {
                ChangeSetKind::Create => FailedOperation::Create,
                ChangeSetKind::Update => FailedOperation::Update,
            },
            failed_resources: root_causes(&watched.failures, &stack),
            status: stack.status,
        })
    }
}
