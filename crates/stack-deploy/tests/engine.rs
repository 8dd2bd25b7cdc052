//! Failure paths moto cannot produce, on a scripted fake CloudFormation: rollbacks with
//! root causes, stacks whose creation failed, failed rollbacks, busy stacks, throttling while
//! waiting, "no changes" change sets, the destroy pre-flight on protected instances.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use aws_support::{AwsFailure, FailureKind};
use serde_json::json;
use stack_deploy::cloud::{
    ChangeSetInfo, ChangeSetRequest, Fleet, GroupInstance, StackEvent, StackInfo, StackResource,
    Stacks,
};
use stack_deploy::{
    Approval, ChangeSetStatus, Confirm, DeployError, DeployEvent, DeployOutcome, DeployRequest,
    DestroyOutcome, DestroyRequest, Engine, NoAnswer, Progress, Question, ResourceStatus,
    StackStatus, Timing,
};

/// Answers from a script; records the calls.
#[derive(Default)]
struct Fake {
    /// Successive DescribeStacks answers (the last one repeats).
    statuses: Mutex<VecDeque<Result<Option<&'static str>, AwsFailure>>>,
    /// Events returned once by the next `events` call.
    events: Mutex<Vec<StackEvent>>,
    change_set_status: Mutex<(&'static str, Option<&'static str>)>,
    calls: Mutex<Vec<String>>,
    /// The stack's resources.
    resources: Vec<StackResource>,
    /// The instances of every group.
    instances: Vec<GroupInstance>,
    /// `SetInstanceProtection` fails.
    unprotect_fails: bool,
}

impl Fake {
    fn new(statuses: Vec<Result<Option<&'static str>, AwsFailure>>) -> Fake {
        let fake = Fake::default();
        *fake.statuses.lock().expect("fake state") = statuses.into();
        *fake.change_set_status.lock().expect("fake state") = ("CREATE_COMPLETE", None);
        fake
    }
    fn call(&self, name: &str) {
        self.calls.lock().expect("fake state").push(name.to_owned());
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("fake state").clone()
    }
}

fn event(id: &str, logical: &str, status: &str, reason: &str) -> StackEvent {
    StackEvent {
        id: id.into(),
        timestamp: 1.0,
        logical_id: logical.into(),
        resource_type: "AWS::AutoScaling::AutoScalingGroup".into(),
        status: ResourceStatus::parse(status),
        reason: Some(reason.into()),
    }
}

fn throttled() -> AwsFailure {
    AwsFailure {
        operation: "DescribeStacks",
        kind: FailureKind::Throttled,
        code: Some("Throttling".into()),
        message: "Rate exceeded".into(),
    }
}

impl Stacks for Fake {
    async fn describe_stack(&self, name: &str) -> Result<Option<StackInfo>, AwsFailure> {
        self.call("DescribeStacks");
        let mut q = self.statuses.lock().expect("fake state");
        let next = if q.len() > 1 {
            q.pop_front()
        } else {
            q.front().cloned()
        };
        let status = next.expect("scripted status")?;
        Ok(status.map(|s| StackInfo {
            id: format!("arn:stack/{name}"),
            name: name.into(),
            status: StackStatus::parse(s),
            reason: None,
        }))
    }
    async fn get_template(&self, _: &str) -> Result<String, AwsFailure> {
        self.call("GetTemplate");
        Ok(json!({"Resources": {"G": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"MaxSize": "1"}}}}).to_string())
    }
    async fn create_stack(&self, _: &ChangeSetRequest) -> Result<String, AwsFailure> {
        self.call("CreateStack");
        Ok("arn:stack/s".into())
    }
    async fn create_change_set(&self, _: &ChangeSetRequest) -> Result<String, AwsFailure> {
        self.call("CreateChangeSet");
        Ok("arn:changeset".into())
    }
    async fn describe_change_set(&self, _: &str, _: &str) -> Result<ChangeSetInfo, AwsFailure> {
        let (status, reason) = *self.change_set_status.lock().expect("fake state");
        Ok(ChangeSetInfo {
            id: "arn:changeset".into(),
            status: ChangeSetStatus::parse(status),
            reason: reason.map(Into::into),
            changes: vec![],
        })
    }
    async fn delete_change_set(&self, _: &str, _: &str) -> Result<(), AwsFailure> {
        self.call("DeleteChangeSet");
        Ok(())
    }
    async fn execute_change_set(&self, _: &str, _: &str, _: &str) -> Result<(), AwsFailure> {
        self.call("ExecuteChangeSet");
        Ok(())
    }
    async fn events(&self, _: &str, _: Option<&str>) -> Result<Vec<StackEvent>, AwsFailure> {
        Ok(std::mem::take(
            &mut *self.events.lock().expect("fake state"),
        ))
    }
    async fn newest_event_id(&self, _: &str) -> Result<Option<String>, AwsFailure> {
        Ok(None)
    }
    async fn delete_stack(
        &self,
        _: &str,
        _: Option<&str>,
        _: &[String],
        _: &str,
    ) -> Result<(), AwsFailure> {
        self.call("DeleteStack");
        Ok(())
    }
    async fn continue_update_rollback(
        &self,
        _: &str,
        _: Option<&str>,
        _: &[String],
        _: &str,
    ) -> Result<(), AwsFailure> {
        self.call("ContinueUpdateRollback");
        Ok(())
    }
    async fn resources(&self, _: &str) -> Result<Vec<StackResource>, AwsFailure> {
        Ok(self.resources.clone())
    }
}

impl Fleet for Fake {
    async fn instances(&self, group: &str) -> Result<Vec<GroupInstance>, AwsFailure> {
        self.call(&format!("DescribeAutoScalingGroups {group}"));
        Ok(self.instances.clone())
    }
    async fn unprotect(&self, group: &str, ids: &[String]) -> Result<(), AwsFailure> {
        self.call(&format!("SetInstanceProtection {group} {}", ids.join(",")));
        if self.unprotect_fails {
            return Err(AwsFailure {
                operation: "SetInstanceProtection",
                kind: FailureKind::Other,
                code: Some("AccessDenied".into()),
                message: "not allowed".into(),
            });
        }
        Ok(())
    }
}

/// The answer a [`Recorder`] gives.
#[derive(Clone, Copy)]
enum Answer {
    Yes,
    No,
    NoTerminal,
}

/// Records what the engine reports and asks; answers questions with `answer`.
struct Recorder {
    answer: Answer,
    lines: Vec<String>,
}

impl Progress for Recorder {
    fn report(&mut self, event: DeployEvent<'_>) {
        let line = match event {
            DeployEvent::StackEvent(e) => format!("{} {}", e.logical_id, e.status),
            DeployEvent::Retrying { failure, .. } => format!("retrying: {failure}"),
            DeployEvent::RepairStarted { from, .. } => format!("repair from {from}"),
            other => format!("{other:?}"),
        };
        self.lines.push(line);
    }
}

impl Confirm for Recorder {
    fn confirm(&mut self, question: &Question<'_>) -> Result<bool, NoAnswer> {
        self.lines.push(format!("? {question}"));
        match self.answer {
            Answer::Yes => Ok(true),
            Answer::No => Ok(false),
            Answer::NoTerminal => Err(NoAnswer::NoTerminal),
        }
    }
}

fn request(force: bool) -> DeployRequest {
    DeployRequest {
        stack_name: "s".into(),
        template: json!({"Resources": {"G": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"MaxSize": "2"}}}}),
        role_arn: None,
        tags: vec![],
        approval: Approval::Never,
        force,
    }
}

fn timing() -> Timing {
    Timing {
        poll: Duration::from_millis(1),
        change_set_timeout: Duration::from_secs(5),
        max_poll_errors: 3,
    }
}

async fn deploy(
    fake: &Fake,
    force: bool,
    answer: Answer,
) -> (Result<DeployOutcome, DeployError>, Vec<String>) {
    let mut ui = Recorder {
        answer,
        lines: vec![],
    };
    let out = Engine::new(fake, &mut ui, timing())
        .deploy(&request(force))
        .await;
    (out, ui.lines)
}

#[tokio::test]
async fn a_rolled_back_update_names_the_root_cause_not_the_cancellations() {
    let fake = Fake::new(vec![
        Ok(Some("UPDATE_COMPLETE")),
        Ok(Some("UPDATE_IN_PROGRESS")),
        Ok(Some("UPDATE_ROLLBACK_COMPLETE")),
    ]);
    *fake.events.lock().expect("fake state") = vec![
        event("3", "Other", "UPDATE_FAILED", "Resource update cancelled"),
        event(
            "2",
            "G",
            "UPDATE_FAILED",
            "The requested configuration is currently not supported",
        ),
        event("1", "G", "UPDATE_IN_PROGRESS", ""),
    ];
    let (out, _) = deploy(&fake, false, Answer::Yes).await;
    let err = out.expect_err("rolled back");
    let text = err.to_string();
    assert!(
        text.contains("failed to update and was rolled back"),
        "{text}"
    );
    assert!(text.contains("G (AWS::AutoScaling::AutoScalingGroup) UPDATE_FAILED: The requested configuration is currently not supported"), "{text}");
    assert!(!text.contains("cancelled"), "{text}");
}

#[tokio::test]
async fn a_stack_whose_creation_failed_is_recreated_only_with_consent() {
    let fake = Fake::new(vec![Ok(Some("ROLLBACK_COMPLETE"))]);
    let (out, _) = deploy(&fake, false, Answer::NoTerminal).await;
    let text = out.expect_err("refused").to_string();
    assert!(
        text.contains("failed its first creation (ROLLBACK_COMPLETE)") && text.contains("--force"),
        "{text}"
    );
    assert!(!fake.calls().contains(&"DeleteStack".to_owned()));

    let fake = Fake::new(vec![
        Ok(Some("ROLLBACK_COMPLETE")),
        Ok(None),
        Ok(Some("CREATE_IN_PROGRESS")),
        Ok(Some("CREATE_COMPLETE")),
    ]);
    let (out, _) = deploy(&fake, true, Answer::NoTerminal).await;
    assert!(matches!(out, Ok(DeployOutcome::Done { .. })), "{out:?}");
    let calls = fake.calls();
    let delete = calls
        .iter()
        .position(|c| c == "DeleteStack")
        .expect("deleted");
    let create = calls
        .iter()
        .position(|c| c == "CreateStack")
        .expect("created");
    assert!(delete < create, "{calls:?}");
}

#[tokio::test]
async fn a_failed_rollback_is_continued_with_force_then_deployed() {
    let fake = Fake::new(vec![Ok(Some("UPDATE_ROLLBACK_FAILED"))]);
    *fake.events.lock().expect("fake state") = vec![
        event("2", "G", "UPDATE_FAILED", "Instance profile is gone"),
        StackEvent {
            resource_type: "AWS::CloudFormation::Stack".into(),
            ..event("1", "s", "UPDATE_ROLLBACK_IN_PROGRESS", "")
        },
    ];
    let (out, _) = deploy(&fake, false, Answer::No).await;
    let text = out.expect_err("refused").to_string();
    assert!(
        text.contains("UPDATE_ROLLBACK_FAILED")
            && text.contains("resources whose rollback failed: G"),
        "{text}"
    );

    let fake = Fake::new(vec![
        Ok(Some("UPDATE_ROLLBACK_FAILED")),
        Ok(Some("UPDATE_ROLLBACK_COMPLETE")),
        Ok(Some("UPDATE_IN_PROGRESS")),
        Ok(Some("UPDATE_COMPLETE")),
    ]);
    let (out, _) = deploy(&fake, true, Answer::NoTerminal).await;
    assert!(matches!(out, Ok(DeployOutcome::Done { .. })), "{out:?}");
    let calls = fake.calls();
    assert!(
        calls.iter().position(|c| c == "ContinueUpdateRollback")
            < calls.iter().position(|c| c == "ExecuteChangeSet"),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_busy_stack_is_left_alone() {
    let fake = Fake::new(vec![Ok(Some("UPDATE_IN_PROGRESS"))]);
    let (out, _) = deploy(&fake, true, Answer::Yes).await;
    let text = out.expect_err("busy").to_string();
    assert!(text.contains("is busy (UPDATE_IN_PROGRESS)"), "{text}");
    assert_eq!(fake.calls(), vec!["DescribeStacks"]);
}

#[tokio::test]
async fn throttling_while_waiting_is_tolerated_up_to_a_limit() {
    let fake = Fake::new(vec![
        Ok(Some("UPDATE_COMPLETE")),
        Err(throttled()),
        Err(throttled()),
        Ok(Some("UPDATE_IN_PROGRESS")),
        Ok(Some("UPDATE_COMPLETE")),
    ]);
    let (out, lines) = deploy(&fake, false, Answer::Yes).await;
    assert!(matches!(out, Ok(DeployOutcome::Done { .. })), "{out:?}");
    assert_eq!(
        lines.iter().filter(|l| l.contains("was throttled")).count(),
        2,
        "{lines:?}"
    );

    let fake = Fake::new(vec![Ok(Some("UPDATE_COMPLETE")), Err(throttled())]);
    let (out, _) = deploy(&fake, false, Answer::Yes).await;
    assert!(out.expect_err("gave up").to_string().contains("throttled"));
}

#[tokio::test]
async fn an_empty_change_set_is_success_and_is_deleted() {
    let fake = Fake::new(vec![Ok(Some("UPDATE_COMPLETE"))]);
    *fake.change_set_status.lock().expect("fake state") = (
        "FAILED",
        Some(
            "The submitted information didn't contain changes. Submit different information to create a change set.",
        ),
    );
    let (out, _) = deploy(&fake, false, Answer::Yes).await;
    assert!(
        matches!(out, Ok(DeployOutcome::NoChanges { .. })),
        "{out:?}"
    );
    let calls = fake.calls();
    assert!(!calls.contains(&"ExecuteChangeSet".to_owned()));
    assert_eq!(
        calls.iter().filter(|c| *c == "DeleteChangeSet").count(),
        2,
        "leftover cleanup and the empty one: {calls:?}"
    );
}

#[tokio::test]
async fn a_refused_approval_deletes_the_change_set() {
    let fake = Fake::new(vec![Ok(Some("UPDATE_COMPLETE"))]);
    let mut ui = Recorder {
        answer: Answer::No,
        lines: vec![],
    };
    let mut req = request(false);
    req.approval = Approval::AnyChange;
    let out = Engine::new(&fake, &mut ui, timing()).deploy(&req).await;
    assert!(matches!(out, Err(DeployError::Declined)), "{out:?}");
    let calls = fake.calls();
    assert!(!calls.contains(&"ExecuteChangeSet".to_owned()));
    assert_eq!(
        calls.last().map(String::as_str),
        Some("DeleteChangeSet"),
        "{calls:?}"
    );
}

fn fleet_stack(unprotect_fails: bool) -> Fake {
    let mut fake = Fake::new(vec![
        Ok(Some("UPDATE_COMPLETE")),
        Ok(Some("DELETE_COMPLETE")),
    ]);
    fake.resources = vec![StackResource {
        logical_id: "autoScalingGroup".into(),
        physical_id: Some("s-asg".into()),
        resource_type: "AWS::AutoScaling::AutoScalingGroup".into(),
        status: ResourceStatus::UpdateComplete,
    }];
    let instance = |id: &str, state: &str, protected: bool| GroupInstance {
        id: id.into(),
        lifecycle_state: state.into(),
        protected,
    };
    fake.instances = vec![
        instance("i-1", "InService", false),
        instance("i-2", "InService", true),
        instance("i-3", "Terminating", true),
    ];
    fake.unprotect_fails = unprotect_fails;
    fake
}

async fn destroy(
    fake: &Fake,
    force: bool,
    answer: Answer,
) -> (Result<DestroyOutcome, DeployError>, Vec<String>) {
    let mut ui = Recorder {
        answer,
        lines: vec![],
    };
    let request = DestroyRequest {
        stack_name: "s".into(),
        role_arn: None,
        force,
        retain: vec![],
    };
    let out = Engine::new(fake, &mut ui, timing())
        .destroy(&request, fake)
        .await;
    (out, ui.lines)
}

#[tokio::test]
async fn destroy_warns_about_running_agents_and_unprotects_them_before_deleting() {
    let fake = fleet_stack(false);
    let (out, lines) = destroy(&fake, false, Answer::Yes).await;
    assert!(
        matches!(out, Ok(DestroyOutcome::Deleted { ref retained }) if retained.is_empty()),
        "{out:?}"
    );
    assert!(
        lines.contains(
            &"? Delete stack s and every resource in it (2 agent instance(s) running: their jobs stop)?"
                .to_owned()
        ),
        "{lines:?}"
    );
    let calls = fake.calls();
    let unprotect = calls
        .iter()
        .position(|c| c == "SetInstanceProtection s-asg i-2,i-3")
        .unwrap_or_else(|| panic!("protection removed: {calls:?}"));
    let delete = calls
        .iter()
        .position(|c| c == "DeleteStack")
        .unwrap_or_else(|| panic!("stack deleted: {calls:?}"));
    assert!(unprotect < delete, "{calls:?}");
}

#[tokio::test]
async fn destroy_without_consent_touches_nothing() {
    let fake = fleet_stack(false);
    let (out, _) = destroy(&fake, false, Answer::NoTerminal).await;
    assert!(
        matches!(out, Err(DeployError::ApprovalRequired { .. })),
        "{out:?}"
    );
    assert!(
        !fake
            .calls()
            .iter()
            .any(|c| c.starts_with("SetInstanceProtection") || c == "DeleteStack"),
        "{:?}",
        fake.calls()
    );
}

#[tokio::test]
async fn destroy_stops_before_deleting_when_protection_cannot_be_removed() {
    let fake = fleet_stack(true);
    let (out, _) = destroy(&fake, true, Answer::Yes).await;
    let err = out.expect_err("fails");
    assert!(err.to_string().contains("SetInstanceProtection"), "{err}");
    assert!(!fake.calls().contains(&"DeleteStack".to_owned()));
}

#[tokio::test]
async fn a_rolled_back_update_is_a_typed_failure_with_its_root_cause() {
    let fake = Fake::new(vec![
        Ok(Some("UPDATE_COMPLETE")),
        Ok(Some("UPDATE_IN_PROGRESS")),
        Ok(Some("UPDATE_ROLLBACK_COMPLETE")),
    ]);
    *fake.events.lock().expect("fake state") = vec![
        event("2", "G", "UPDATE_FAILED", "Instance type not offered"),
        event("1", "G", "UPDATE_IN_PROGRESS", ""),
    ];
    let (out, _) = deploy(&fake, false, Answer::Yes).await;
    match out {
        Err(DeployError::Failed {
            status,
            failed_resources,
            ..
        }) => {
            assert_eq!(status, StackStatus::UpdateRollbackComplete);
            assert_eq!(failed_resources.len(), 1, "{failed_resources:?}");
            assert_eq!(failed_resources[0].logical_id, "G");
            assert_eq!(failed_resources[0].status, ResourceStatus::UpdateFailed);
            assert_eq!(
                failed_resources[0].reason.as_deref(),
                Some("Instance type not offered")
            );
        }
        other => panic!("expected a typed failure, got {other:?}"),
    }
}

#[tokio::test]
async fn an_update_reports_its_steps_as_events_in_order() {
    let fake = Fake::new(vec![
        Ok(Some("UPDATE_COMPLETE")),
        Ok(Some("UPDATE_IN_PROGRESS")),
        Ok(Some("UPDATE_COMPLETE")),
    ]);
    *fake.events.lock().expect("fake state") = vec![event("1", "G", "UPDATE_COMPLETE", "")];
    let (out, lines) = deploy(&fake, false, Answer::Yes).await;
    assert!(matches!(out, Ok(DeployOutcome::Done { .. })), "{out:?}");
    let kinds: Vec<&str> = lines
        .iter()
        .map(|l| l.split([' ', '{', '(']).next().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "ChangeSetCreating",
            "ChangeSetReady",
            "Executing",
            "G",
            "Finished"
        ],
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with('?')),
        "a non-broadening change is not asked about: {lines:?}"
    );
}

#[tokio::test]
async fn a_stack_whose_creation_failed_reports_the_repair() {
    let fake = Fake::new(vec![
        Ok(Some("ROLLBACK_COMPLETE")),
        Ok(None),
        Ok(Some("CREATE_IN_PROGRESS")),
        Ok(Some("CREATE_COMPLETE")),
    ]);
    let (out, lines) = deploy(&fake, true, Answer::NoTerminal).await;
    assert!(matches!(out, Ok(DeployOutcome::Done { .. })), "{out:?}");
    assert!(
        lines.contains(&"repair from ROLLBACK_COMPLETE".to_owned()),
        "{lines:?}"
    );
}
