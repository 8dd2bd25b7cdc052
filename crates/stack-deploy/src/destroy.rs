//! `destroy`: deletes the stack after a pre-flight (agents still running, scale-in
//! protection that would make the group's deletion hang), keeping dedicated hosts' resources
//! that cannot be deleted yet.

use crate::cloud::{Fleet, Stacks};
use crate::engine::Engine;
use crate::error::{ApprovalSubject, DeployError, FailedOperation, ResourceFailure};
use crate::progress::{Confirm, DeployEvent, Progress, Question, StackOperation};
use crate::status::StackStatus;
use crate::watch::{Repair, root_causes};

/// Resource types that CloudFormation cannot delete while they hold hosts (macOS): a failed
/// delete is retried keeping them, and the user is told to release them by hand.
const HOST_TYPES: &[&str] = &["AWS::ResourceGroups::Group", "AWS::EC2::Host"];

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

impl<S: Stacks, U: Progress + Confirm> Engine<'_, S, U> {
    /// The physical names of the stack's Auto Scaling groups that still exist.
    async fn agent_groups(&self, stack_id: &str) -> Result<Vec<String>, DeployError> {
        Ok(self
            .stacks
            .resources(stack_id)
            .await?
            .into_iter()
            .filter(|r| {
                r.resource_type == "AWS::AutoScaling::AutoScalingGroup" && !r.status.is_deleted()
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
        let status = &stack.status;
        let deleting = *status == StackStatus::DeleteInProgress;
        if status.is_in_progress() && !deleting && *status != StackStatus::ReviewInProgress {
            return Err(DeployError::Busy {
                stack: name.to_owned(),
                status: status.clone(),
            });
        }
        // Pre-flight: the agents still running, and the protected ones that would make the
        // group's deletion hang until CloudFormation gives up.
        let mut groups = Vec::new();
        if !deleting {
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
        if running > 0 {
            self.report(DeployEvent::AgentsRunning { count: running });
        }
        if !request.force {
            match self.ui.confirm(&Question::Delete {
                stack: name,
                running,
            }) {
                Ok(true) => {}
                Ok(false) => return Err(DeployError::Declined),
                Err(cause) => {
                    return Err(DeployError::ApprovalRequired {
                        subject: ApprovalSubject::Delete {
                            stack: name.to_owned(),
                        },
                        cause,
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
                self.report(DeployEvent::Unprotecting {
                    group,
                    count: protected.len(),
                });
                fleet.unprotect(group, &protected).await?;
            }
        }
        let mut retain = request.retain.clone();
        let mut retained = Vec::new();
        let mut attempt = 0;
        loop {
            let watched = if deleting && attempt == 0 {
                let before = self.newest_event(&stack.id).await;
                self.watch(&stack.id, StackOperation::Delete, 0, before)
                    .await?
            } else {
                self.start_and_watch(
                    &stack.id,
                    request.role_arn.as_deref(),
                    Repair::Delete(&retain),
                )
                .await?
            };
            if watched.stack.status.is_deleted() {
                return Ok(DestroyOutcome::Deleted { retained });
            }
            let failed: Vec<ResourceFailure> = root_causes(&watched.failures, &watched.stack);
            let only_hosts = !failed.is_empty()
                && failed
                    .iter()
                    .all(|f| HOST_TYPES.contains(&f.resource_type.as_str()));
            if attempt == 0 && only_hosts {
                self.report(DeployEvent::KeepingHosts { resources: &failed });
                for f in &failed {
                    retain.push(f.logical_id.clone());
                    retained.push((f.logical_id.clone(), f.resource_type.clone()));
                }
                attempt += 1;
                continue;
            }
            return Err(DeployError::Failed {
                stack: name.to_owned(),
                operation: FailedOperation::Delete,
                status: watched.stack.status,
                failed_resources: failed,
            });
        }
    }
}
