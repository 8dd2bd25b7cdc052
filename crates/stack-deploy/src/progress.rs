//! What the engine reports while it works, as typed [`DeployEvent`]s, and the one thing it
//! asks ([`Confirm`]). The engine writes no text for people: the CLI renders the events
//! (lines, a progress bar) and asks the questions; tests record them.

use std::fmt;

use aws_support::AwsFailure;

use crate::cloud::{ChangeSetKind, StackEvent};
use crate::diff::TemplateDiff;
use crate::error::{DeployError, ResourceFailure};
use crate::status::StackStatus;

/// Why a change set is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSetPurpose {
    /// To be executed by `deploy`.
    Deploy,
    /// Read-only, for `diff`'s replacement verdicts; deleted after reading.
    Diff,
}

/// A stack operation the engine follows to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackOperation {
    /// Creating the stack.
    Create,
    /// Updating it through a change set.
    Update,
    /// Deleting it.
    Delete,
    /// Continuing a failed update rollback.
    ContinueRollback,
}

impl StackOperation {
    /// `create`, `update`, `delete` or `rollback`.
    pub fn as_str(self) -> &'static str {
        match self {
            StackOperation::Create => "create",
            StackOperation::Update => "update",
            StackOperation::Delete => "delete",
            StackOperation::ContinueRollback => "rollback",
        }
    }
}

impl From<ChangeSetKind> for StackOperation {
    fn from(kind: ChangeSetKind) -> StackOperation {
        match kind {
            ChangeSetKind::Create => StackOperation::Create,
            ChangeSetKind::Update => StackOperation::Update,
        }
    }
}

impl fmt::Display for StackOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a deploy, diff or destroy, in the order it happens.
#[derive(Debug)]
pub enum DeployEvent<'a> {
    /// A change set is being created.
    ChangeSetCreating {
        /// Stack name.
        stack: &'a str,
        /// The change set's name.
        change_set: &'a str,
        /// Create or update.
        kind: ChangeSetKind,
        /// Executed by `deploy`, or read-only for `diff`.
        purpose: ChangeSetPurpose,
    },
    /// `diff` could not create its read-only change set; replacement comes from the
    /// resource schemas instead.
    ChangeSetUnavailable {
        /// Why.
        error: &'a DeployError,
    },
    /// The changes `deploy` is about to make are known.
    ChangeSetReady {
        /// Stack name.
        stack: &'a str,
        /// The changes.
        changes: &'a TemplateDiff,
    },
    /// The stack already matches the template.
    NoChanges {
        /// Stack name.
        stack: &'a str,
    },
    /// A new stack is created directly (no change set).
    StackCreating {
        /// Stack name.
        stack: &'a str,
    },
    /// A stack in a failed state is being repaired before the deploy: deleted (its first
    /// creation failed) or its rollback continued.
    RepairStarted {
        /// Stack name.
        stack: &'a str,
        /// The status it is repaired from.
        from: &'a StackStatus,
    },
    /// A stack operation started; `total` resources are expected to move (0: unknown).
    Executing {
        /// Which operation.
        operation: StackOperation,
        /// Resources expected to move.
        total: usize,
    },
    /// A new stack event of the operation being followed.
    StackEvent(&'a StackEvent),
    /// The operation being followed ended (well or not).
    Finished,
    /// A poll failed in a way that may pass (throttling, network); it is tried again.
    Retrying {
        /// The failure.
        failure: &'a AwsFailure,
        /// Failed polls in a row so far.
        attempt: u32,
        /// Failed polls in a row tolerated.
        max: u32,
    },
    /// A change set that will not be executed could not be deleted.
    ChangeSetLeft {
        /// The change set.
        change_set: &'a str,
        /// Why.
        failure: &'a AwsFailure,
    },
    /// `destroy` found agents still running; deleting the stack stops their jobs.
    AgentsRunning {
        /// How many instances.
        count: usize,
    },
    /// `destroy` removes scale-in protection that would block the group's deletion.
    Unprotecting {
        /// The Auto Scaling group.
        group: &'a str,
        /// How many instances.
        count: usize,
    },
    /// Dedicated hosts' resources cannot be deleted yet: the rest is deleted, they are kept.
    KeepingHosts {
        /// The resources kept.
        resources: &'a [ResourceFailure],
    },
}

/// Receives the engine's events.
pub trait Progress {
    /// One event.
    fn report(&mut self, event: DeployEvent<'_>);
}

/// What the engine asks before changing or deleting a stack.
#[derive(Debug, Clone, Copy)]
pub enum Question<'a> {
    /// Execute the change set shown.
    Deploy {
        /// Stack name.
        stack: &'a str,
    },
    /// Delete a stack whose first creation failed and create it again.
    Recreate {
        /// Stack name.
        stack: &'a str,
        /// Its status.
        status: &'a StackStatus,
    },
    /// Continue a failed rollback, then deploy.
    ContinueRollback {
        /// Stack name.
        stack: &'a str,
        /// Resources whose rollback failed.
        resources: &'a [String],
    },
    /// Delete the stack and everything in it.
    Delete {
        /// Stack name.
        stack: &'a str,
        /// Agent instances still running.
        running: usize,
    },
}

impl fmt::Display for Question<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Question::Deploy { stack } => write!(f, "Deploy these changes to {stack}?"),
            Question::Recreate { stack, status } => write!(
                f,
                "Stack {stack} failed its first creation ({status}) and cannot be updated. Delete it and create it again?"
            ),
            Question::ContinueRollback { stack, resources } => {
                write!(f, "Stack {stack} is UPDATE_ROLLBACK_FAILED")?;
                if !resources.is_empty() {
                    write!(
                        f,
                        "; resources whose rollback failed: {}",
                        resources.join(", ")
                    )?;
                }
                f.write_str(". Continue the rollback, then deploy?")
            }
            Question::Delete { stack, running } => {
                write!(f, "Delete stack {stack} and every resource in it")?;
                if *running > 0 {
                    write!(f, " ({running} agent instance(s) running: their jobs stop)")?;
                }
                f.write_str("?")
            }
        }
    }
}

/// Why no answer can be had.
#[derive(Debug, thiserror::Error)]
pub enum NoAnswer {
    /// Nobody can be asked (no terminal on stdin and stderr).
    #[error("no terminal is attached to ask")]
    NoTerminal,
    /// Reading the answer failed.
    #[error("the answer could not be read")]
    Unreadable(#[source] std::io::Error),
}

/// Asks yes/no questions.
pub trait Confirm {
    /// `Ok(true)` to go ahead, `Ok(false)` to stop; `Err` says why nobody could answer.
    fn confirm(&mut self, question: &Question<'_>) -> Result<bool, NoAnswer>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_read_as_before() {
        let status = StackStatus::RollbackComplete;
        let resources = ["G".to_owned(), "H".to_owned()];
        let cases = [
            (
                "deploy",
                Question::Deploy { stack: "s" },
                "Deploy these changes to s?",
            ),
            (
                "recreate",
                Question::Recreate {
                    stack: "s",
                    status: &status,
                },
                "Stack s failed its first creation (ROLLBACK_COMPLETE) and cannot be updated. Delete it and create it again?",
            ),
            (
                "continue a rollback naming the resources",
                Question::ContinueRollback {
                    stack: "s",
                    resources: &resources,
                },
                "Stack s is UPDATE_ROLLBACK_FAILED; resources whose rollback failed: G, H. Continue the rollback, then deploy?",
            ),
            (
                "continue a rollback without resources",
                Question::ContinueRollback {
                    stack: "s",
                    resources: &[],
                },
                "Stack s is UPDATE_ROLLBACK_FAILED. Continue the rollback, then deploy?",
            ),
            (
                "delete with agents running",
                Question::Delete {
                    stack: "s",
                    running: 2,
                },
                "Delete stack s and every resource in it (2 agent instance(s) running: their jobs stop)?",
            ),
            (
                "delete an idle stack",
                Question::Delete {
                    stack: "s",
                    running: 0,
                },
                "Delete stack s and every resource in it?",
            ),
        ];
        for (name, question, expected) in cases {
            assert_eq!(question.to_string(), expected, "{name}");
        }
    }
}
