//! `diff` as an operation: the deployed template against a new one, with a read-only change
//! set for CloudFormation's replacement verdicts when the stack can take one. The template
//! comparison itself is [`crate::diff`].

use crate::cloud::{ChangeSetKind, ChangeSetRequest, Stacks};
use crate::deploy::DeployRequest;
use crate::diff::{self, TemplateDiff};
use crate::engine::{DIFF_CHANGE_SET, Engine, client_token, merge_change_set, parse_template};
use crate::error::DeployError;
use crate::progress::{ChangeSetPurpose, Confirm, DeployEvent, Progress};
use crate::status::Readiness;

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

impl<S: Stacks, U: Progress + Confirm> Engine<'_, S, U> {
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
            .filter(|s| !matches!(s.status.readiness(), Readiness::Empty | Readiness::Deleted));
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
        let updatable = stack.status.readiness() == Readiness::Updatable;
        if use_change_set && updatable && !diff.is_empty() {
            self.report(DeployEvent::ChangeSetCreating {
                stack: name,
                change_set: DIFF_CHANGE_SET,
                kind: ChangeSetKind::Update,
                purpose: ChangeSetPurpose::Diff,
            });
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
                Err(error) => self.report(DeployEvent::ChangeSetUnavailable { error: &error }),
            }
        }
        Ok(StackDiff {
            exists: true,
            diff,
            from_change_set,
        })
    }
}
