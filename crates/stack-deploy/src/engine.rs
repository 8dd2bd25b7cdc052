//! The engine: one stack operation at a time over the [`Stacks`] trait, reporting what it
//! does as [`DeployEvent`]s and asking through [`Confirm`]. Each operation lives in its own
//! module: [`crate::deploy`], [`crate::prepare`] (repairing a failed stack first),
//! [`crate::compare`] (`diff`), [`crate::destroy`], and [`crate::watch`] (following a stack
//! operation's events to its end). This module holds what they share.
//!
//! Every path ends in an outcome or a [`DeployError`] that says what happened and what to do;
//! nothing is left half-done by us: a change set that is not executed is deleted, and an
//! empty stack created only to hold a refused change set is deleted too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::cloud::{ChangeSetInfo, ChangeSetRequest, Stacks};
use crate::diff::{Change, Detail, ResourceDiff, TemplateDiff};
use crate::error::DeployError;
use crate::progress::{Confirm, DeployEvent, Progress};
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

/// The engine: one stack operation at a time.
pub struct Engine<'a, S: Stacks, U: Progress + Confirm> {
    pub(crate) stacks: &'a S,
    pub(crate) ui: &'a mut U,
    pub(crate) timing: Timing,
}

impl<'a, S: Stacks, U: Progress + Confirm> Engine<'a, S, U> {
    /// An engine over `stacks`, reporting to and asking through `ui`.
    pub fn new(stacks: &'a S, ui: &'a mut U, timing: Timing) -> Engine<'a, S, U> {
        Engine { stacks, ui, timing }
    }

    /// Reports one event.
    pub(crate) fn report(&mut self, event: DeployEvent<'_>) {
        self.ui.report(event);
    }

    /// Deletes a change set left by an earlier, interrupted run. Errors are ignored: when
    /// one really is left, creating the new change set says so.
    pub(crate) async fn remove_leftover(&mut self, stack: &str, change_set: &str) {
        if let Err(e) = self.stacks.delete_change_set(stack, change_set).await {
            tracing::debug!("no leftover change set {change_set} deleted: {e}");
        }
    }

    /// Deletes a change set we will not execute. A failure here is reported, not raised:
    /// the refusal is what the user must see.
    pub(crate) async fn abandon(&mut self, stack: &str, change_set: &str) {
        if let Err(failure) = self.stacks.delete_change_set(stack, change_set).await {
            self.report(DeployEvent::ChangeSetLeft {
                change_set,
                failure: &failure,
            });
        }
    }

    /// Creates a change set and waits until it is ready. `None` means there is nothing to
    /// change (the change set is deleted).
    pub(crate) async fn change_set(
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
                    if info.status.is_ready() {
                        return Ok(Some(info));
                    }
                    if info.status.is_failed() {
                        self.stacks.delete_change_set(stack, &id).await?;
                        if info.reason.as_deref().is_some_and(is_no_changes) {
                            return Ok(None);
                        }
                        return Err(DeployError::ChangeSetFailed {
                            reason: info.reason,
                        });
                    }
                }
                Err(e) => self.tolerate(&mut errors, e)?,
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.stacks.delete_change_set(stack, &id).await;
                return Err(DeployError::ChangeSetTimeout {
                    seconds: self.timing.change_set_timeout.as_secs(),
                });
            }
            tokio::time::sleep(self.timing.poll).await;
        }
    }
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

/// CloudFormation's (and moto's) ways of saying a change set holds no changes.
pub fn is_no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// A resource failure that is only the echo of another one.
pub fn is_cancellation(reason: &str) -> bool {
    reason.contains("cancelled")
}

pub(crate) fn parse_template(stack: &str, body: &str) -> Result<Value, DeployError> {
    serde_json::from_str(body).map_err(|source| DeployError::TemplateUnreadable {
        stack: stack.to_owned(),
        source,
    })
}

/// CloudFormation's own replacement verdicts override the schema-based guesses; resources
/// the change set touches that the template diff does not show (a changed dynamic value) are
/// added.
pub(crate) fn merge_change_set(diff: &mut TemplateDiff, change_set: &ChangeSetInfo) {
    for change in &change_set.changes {
        let verdict = change.replacement;
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
            None if change.action.is_modification() => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_changes_is_recognised_in_the_real_messages() {
        let cases = [
            (
                "CloudFormation's failed change set",
                "The submitted information didn't contain changes. Submit different information to create a change set.",
                true,
            ),
            (
                "UpdateStack's validation error",
                "No updates are to be performed.",
                true,
            ),
            (
                "a real refusal",
                "Template format error: Unresolved resource dependencies [X]",
                false,
            ),
        ];
        for (name, reason, expected) in cases {
            assert_eq!(is_no_changes(reason), expected, "{name}");
        }
    }
}
