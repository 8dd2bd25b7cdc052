//! Bringing an existing stack to a state a change set can be made on before `deploy`:
//! deleting a stack whose first creation failed, continuing a failed rollback (each only
//! with `--force` or consent), or explaining why the stack cannot be deployed to now.

use crate::cloud::{StackInfo, Stacks};
use crate::deploy::DeployRequest;
use crate::engine::Engine;
use crate::error::{DeployError, FailedOperation};
use crate::progress::{Confirm, DeployEvent, Progress, Question};
use crate::status::{Readiness, StackStatus};
use crate::watch::{Repair, root_causes};

impl<S: Stacks, U: Progress + Confirm> Engine<'_, S, U> {
    /// Brings an existing stack to a state a change set can be made on, or explains why not.
    /// Returns the stack as it is afterwards (`None` when it was deleted).
    pub(crate) async fn prepare(
        &mut self,
        stack: &StackInfo,
        request: &DeployRequest,
    ) -> Result<Option<StackInfo>, DeployError> {
        let name = request.stack_name.as_str();
        let status = &stack.status;
        match status.readiness() {
            Readiness::Updatable | Readiness::Empty => Ok(Some(stack.clone())),
            Readiness::Deleted => Ok(None),
            Readiness::CreationFailed => {
                let question = Question::Recreate {
                    stack: name,
                    status,
                };
                if !request.force && !matches!(self.ui.confirm(&question), Ok(true)) {
                    return Err(DeployError::CreationFailed {
                        stack: name.to_owned(),
                        status: status.clone(),
                        reason: stack.reason.clone(),
                    });
                }
                self.report(DeployEvent::RepairStarted {
                    stack: name,
                    from: status,
                });
                let watched = self
                    .start_and_watch(&stack.id, request.role_arn.as_deref(), Repair::Delete(&[]))
                    .await?;
                if !watched.stack.status.is_deleted() {
                    return Err(DeployError::Failed {
                        stack: name.to_owned(),
                        operation: FailedOperation::DeleteBeforeRecreate,
                        failed_resources: root_causes(&watched.failures, &watched.stack),
                        status: watched.stack.status,
                    });
                }
                Ok(None)
            }
            Readiness::RollbackFailed => {
                let failed = self.rollback_failures(&stack.id).await;
                let question = Question::ContinueRollback {
                    stack: name,
                    resources: &failed,
                };
                if !request.force && !matches!(self.ui.confirm(&question), Ok(true)) {
                    return Err(DeployError::RollbackFailed {
                        stack: name.to_owned(),
                        resources: failed,
                    });
                }
                self.report(DeployEvent::RepairStarted {
                    stack: name,
                    from: status,
                });
                let watched = self
                    .start_and_watch(
                        &stack.id,
                        request.role_arn.as_deref(),
                        Repair::ContinueRollback,
                    )
                    .await?;
                if watched.stack.status != StackStatus::UpdateRollbackComplete {
                    return Err(DeployError::Failed {
                        stack: name.to_owned(),
                        operation: FailedOperation::ContinueRollback,
                        failed_resources: root_causes(&watched.failures, &watched.stack),
                        status: watched.stack.status,
                    });
                }
                Ok(Some(watched.stack))
            }
            Readiness::DeleteFailed => Err(DeployError::DeleteFailed {
                stack: name.to_owned(),
                reason: stack.reason.clone(),
            }),
            Readiness::Stopped => Err(DeployError::Stopped {
                stack: name.to_owned(),
                status: status.clone(),
                reason: stack.reason.clone(),
            }),
            Readiness::Busy => Err(DeployError::Busy {
                stack: name.to_owned(),
                status: status.clone(),
            }),
        }
    }
}
