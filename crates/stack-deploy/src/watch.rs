//! Following a stack operation to its end: polling the stack and its new events, reporting
//! each event, tolerating passing failures (throttling, network) up to a limit, and picking
//! the root causes out of the failures seen.

use aws_support::{AwsFailure, FailureKind};

use crate::cloud::{StackEvent, StackInfo, Stacks};
use crate::engine::{Engine, client_token, is_cancellation};
use crate::error::{DeployError, ResourceFailure};
use crate::progress::{Confirm, DeployEvent, Progress, StackOperation};
use crate::status::{ResourceStatus, StackStatus};

/// A stack operation that repairs or removes a stack.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Repair<'a> {
    /// `DeleteStack`, keeping these resources.
    Delete(&'a [String]),
    /// `ContinueUpdateRollback`.
    ContinueRollback,
}

/// The stack as an operation left it, with the failed resource events seen on the way.
pub(crate) struct Watched {
    /// The stack at the end.
    pub stack: StackInfo,
    /// Failed resource events, oldest first.
    pub failures: Vec<StackEvent>,
}

impl<S: Stacks, U: Progress + Confirm> Engine<'_, S, U> {
    /// Counts a failed poll; gives up after `max_poll_errors` in a row. Only failures that
    /// can pass (throttling, timeouts, network) are tolerated.
    pub(crate) fn tolerate(
        &mut self,
        errors: &mut u32,
        failure: AwsFailure,
    ) -> Result<(), DeployError> {
        let transient = matches!(
            failure.kind,
            FailureKind::Throttled | FailureKind::Timeout | FailureKind::Unreachable
        );
        *errors += 1;
        if !transient || *errors > self.timing.max_poll_errors {
            return Err(failure.into());
        }
        let max = self.timing.max_poll_errors;
        self.report(DeployEvent::Retrying {
            failure: &failure,
            attempt: *errors,
            max,
        });
        Ok(())
    }

    /// The id of the stack's newest event, to follow only what comes after it. A failure
    /// here only means older events may be shown again.
    pub(crate) async fn newest_event(&mut self, stack: &str) -> Option<String> {
        self.stacks.newest_event_id(stack).await.ok().flatten()
    }

    /// Starts `repair` on the stack and follows it to its end.
    pub(crate) async fn start_and_watch(
        &mut self,
        stack_id: &str,
        role_arn: Option<&str>,
        repair: Repair<'_>,
    ) -> Result<Watched, DeployError> {
        let before = self.newest_event(stack_id).await;
        let operation = match repair {
            Repair::Delete(retain) => {
                self.stacks
                    .delete_stack(stack_id, role_arn, retain, &client_token("del"))
                    .await?;
                StackOperation::Delete
            }
            Repair::ContinueRollback => {
                self.stacks
                    .continue_update_rollback(stack_id, role_arn, &[], &client_token("rb"))
                    .await?;
                StackOperation::ContinueRollback
            }
        };
        self.watch(stack_id, operation, 0, before).await
    }

    /// Follows the stack until its status is settled; returns it with the failed resource
    /// events seen on the way.
    pub(crate) async fn watch(
        &mut self,
        stack: &str,
        operation: StackOperation,
        total: usize,
        mut last_event: Option<String>,
    ) -> Result<Watched, DeployError> {
        self.report(DeployEvent::Executing { operation, total });
        let mut failures = Vec::new();
        let mut errors = 0;
        let result = loop {
            let described = self.stacks.describe_stack(stack).await;
            let events = self.stacks.events(stack, last_event.as_deref()).await;
            match events {
                Ok(mut events) => {
                    events.reverse();
                    for event in events {
                        if event.status.is_failed() && !event.is_stack() {
                            failures.push(event.clone());
                        }
                        self.report(DeployEvent::StackEvent(&event));
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
                    if info.status.is_settled() {
                        break Ok(Watched {
                            stack: info,
                            failures: std::mem::take(&mut failures),
                        });
                    }
                }
                Ok(None) => {
                    // Deleted stacks vanish from DescribeStacks by name.
                    break Ok(Watched {
                        stack: StackInfo {
                            id: stack.to_owned(),
                            name: stack.to_owned(),
                            status: StackStatus::DeleteComplete,
                            reason: None,
                        },
                        failures: std::mem::take(&mut failures),
                    });
                }
                Err(e) => {
                    if let Err(e) = self.tolerate(&mut errors, e) {
                        break Err(e);
                    }
                }
            }
            tokio::time::sleep(self.timing.poll).await;
        };
        self.report(DeployEvent::Finished);
        result
    }

    /// The resources whose rollback failed in the last update rollback.
    pub(crate) async fn rollback_failures(&mut self, stack: &str) -> Vec<String> {
        let Ok(events) = self.stacks.events(stack, None).await else {
            return Vec::new();
        };
        let mut failed = Vec::new();
        for event in &events {
            if event.is_stack() && event.status == ResourceStatus::UpdateRollbackInProgress {
                break;
            }
            if !event.is_stack()
                && event.status == ResourceStatus::UpdateFailed
                && !failed.contains(&event.logical_id)
            {
                failed.push(event.logical_id.clone());
            }
        }
        failed
    }
}

/// Root-cause failures: the failed resource events without the "cancelled" noise, the
/// first failure of each resource only; the stack's own reason when no resource says more.
pub fn root_causes(events: &[StackEvent], stack: &StackInfo) -> Vec<ResourceFailure> {
    let mut out: Vec<ResourceFailure> = Vec::new();
    for e in events {
        if e.reason.as_deref().is_some_and(is_cancellation)
            || out.iter().any(|f| f.logical_id == e.logical_id)
        {
            continue;
        }
        out.push(ResourceFailure {
            logical_id: e.logical_id.clone(),
            resource_type: e.resource_type.clone(),
            status: e.status.clone(),
            reason: e.reason.clone().filter(|r| !r.is_empty()),
        });
    }
    if out.is_empty()
        && let Some(reason) = &stack.reason
    {
        out.push(ResourceFailure {
            logical_id: stack.name.clone(),
            resource_type: "AWS::CloudFormation::Stack".to_owned(),
            status: ResourceStatus::parse(stack.status.as_str()),
            reason: Some(reason.clone()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(logical: &str, status: &str, reason: Option<&str>) -> StackEvent {
        StackEvent {
            id: format!("{logical}-{status}"),
            timestamp: 0.0,
            logical_id: logical.into(),
            resource_type: "AWS::EC2::LaunchTemplate".into(),
            status: ResourceStatus::parse(status),
            reason: reason.map(Into::into),
        }
    }

    fn stack(reason: Option<&str>) -> StackInfo {
        StackInfo {
            id: "arn".into(),
            name: "s".into(),
            status: StackStatus::UpdateRollbackComplete,
            reason: reason.map(Into::into),
        }
    }

    #[test]
    fn root_causes_table() {
        // (name, events, stack reason, expected (logical id, reason))
        type Case = (
            &'static str,
            Vec<StackEvent>,
            Option<&'static str>,
            Vec<(&'static str, Option<&'static str>)>,
        );
        let cases: Vec<Case> = vec![
            (
                "cancellations are left out",
                vec![
                    event("A", "UPDATE_FAILED", Some("bad AMI")),
                    event("B", "UPDATE_FAILED", Some("Resource update cancelled")),
                ],
                None,
                vec![("A", Some("bad AMI"))],
            ),
            (
                "only the first failure of a resource counts",
                vec![
                    event("A", "UPDATE_FAILED", Some("first")),
                    event("A", "UPDATE_FAILED", Some("second")),
                ],
                None,
                vec![("A", Some("first"))],
            ),
            (
                "the stack's reason stands in when no resource failed",
                vec![],
                Some("Role is invalid"),
                vec![("s", Some("Role is invalid"))],
            ),
            ("nothing known, nothing listed", vec![], None, vec![]),
        ];
        for (name, events, reason, expected) in cases {
            let got: Vec<(String, Option<String>)> = root_causes(&events, &stack(reason))
                .into_iter()
                .map(|f| (f.logical_id, f.reason))
                .collect();
            let expected: Vec<(String, Option<String>)> = expected
                .into_iter()
                .map(|(id, r)| (id.to_owned(), r.map(str::to_owned)))
                .collect();
            assert_eq!(got, expected, "{name}");
        }
    }
}
