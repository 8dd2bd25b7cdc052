//! What `deploy`, `diff` and `destroy` tell their caller at the end: one report type per
//! command, serialized as the `--json` document and displayed as the text verdict, so both
//! always show the same data.

use std::fmt;

use serde::Serialize;

use crate::cloud::ChangeSetKind;
use crate::compare::StackDiff;
use crate::deploy::DeployOutcome;
use crate::destroy::DestroyOutcome;
use crate::diff::{Change, Counts, TemplateDiff};
use crate::error::{ApprovalSubject, DeployError, ResourceFailure};
use crate::replacement::Replacement;
use crate::security::SecurityChanges;
use crate::status::StackStatus;

/// One resource a change adds, modifies or removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// `add`, `modify` or `remove`.
    pub action: &'static str,
    /// `never`, `conditional` or `always`: whether the change replaces the resource.
    pub replacement: &'static str,
}

/// One entry of a template section other than `Resources` that changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionChange {
    /// `Parameters`, `Outputs`, …
    pub section: String,
    /// The entry's name (empty for `Description`).
    pub name: String,
    /// `add`, `modify` or `remove`.
    pub action: &'static str,
}

fn action(change: Change) -> &'static str {
    match change {
        Change::Added => "add",
        Change::Modified => "modify",
        Change::Removed => "remove",
    }
}

fn replacement(replacement: Replacement) -> &'static str {
    match replacement {
        Replacement::Never => "never",
        Replacement::Conditional => "conditional",
        Replacement::Always => "always",
    }
}

/// The resource changes of a diff, in its order.
pub fn resource_changes(diff: &TemplateDiff) -> Vec<ResourceChange> {
    diff.resources
        .iter()
        .map(|r| ResourceChange {
            logical_id: r.logical_id.clone(),
            resource_type: r.resource_type.clone(),
            action: action(r.change),
            replacement: replacement(r.replacement),
        })
        .collect()
}

fn error_text(error: &DeployError) -> String {
    aws_support::error_chain(error)
}

/// How a deploy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployVerdict {
    /// The stack was created.
    Created,
    /// The stack was updated.
    Updated,
    /// The stack already matched the template.
    NoChanges,
    /// The update failed and CloudFormation restored the previous state.
    RolledBack,
    /// The deploy failed (or was refused) otherwise.
    Failed,
}

/// The result of `deploy`.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// Stack name.
    pub stack: String,
    /// How it ended.
    pub verdict: DeployVerdict,
    /// The stack's final status, when known.
    pub status: Option<StackStatus>,
    /// The stack's ARN, when it exists.
    pub stack_id: Option<String>,
    /// Seconds from execution to the final status, when a change was executed.
    pub seconds: Option<f64>,
    /// Resource counts of the change executed.
    pub counts: Option<Counts>,
    /// The resource changes executed.
    pub changes: Vec<ResourceChange>,
    /// The change widened IAM or security group permissions (what the approval gate asks
    /// about by default).
    pub security_broadening: bool,
    /// The IAM and security group changes, table by table: those executed, or those that
    /// needed an approval nobody could give.
    pub security: SecurityChanges,
    /// The resources that failed, root causes first.
    pub failed_resources: Vec<ResourceFailure>,
    /// Why the deploy failed, when it did.
    pub error: Option<String>,
}

impl DeployReport {
    /// The report of a deploy of `stack` that ended with `result`.
    pub fn new(stack: &str, result: &Result<DeployOutcome, DeployError>) -> DeployReport {
        let mut report = DeployReport {
            stack: stack.to_owned(),
            verdict: DeployVerdict::Failed,
            status: None,
            stack_id: None,
            seconds: None,
            counts: None,
            changes: Vec::new(),
            security_broadening: false,
            security: SecurityChanges::default(),
            failed_resources: Vec::new(),
            error: None,
        };
        match result {
            Ok(DeployOutcome::NoChanges { stack_id }) => {
                report.verdict = DeployVerdict::NoChanges;
                report.stack_id = Some(stack_id.clone()).filter(|id| !id.is_empty());
            }
            Ok(DeployOutcome::Done {
                stack_id,
                kind,
                status,
                diff,
                seconds,
            }) => {
                report.verdict = match kind {
                    ChangeSetKind::Create => DeployVerdict::Created,
                    ChangeSetKind::Update => DeployVerdict::Updated,
                };
                report.status = Some(status.clone());
                report.stack_id = Some(stack_id.clone());
                report.seconds = Some(*seconds);
                report.counts = Some(diff.counts());
                report.changes = resource_changes(diff);
                report.security_broadening = diff.security.is_broadening();
                report.security = SecurityChanges::of(&diff.security);
            }
            Err(error) => {
                report.status = error.status().cloned();
                if report.status == Some(StackStatus::UpdateRollbackComplete) {
                    report.verdict = DeployVerdict::RolledBack;
                }
                report.failed_resources = error.failed_resources().to_vec();
                if let DeployError::ApprovalRequired {
                    subject: ApprovalSubject::Broadening { security },
                    ..
                } = error
                {
                    report.security_broadening = true;
                    report.security = SecurityChanges::of(security);
                }
                report.error = Some(error_text(error));
            }
        }
        report
    }

    /// Whether the deploy succeeded (exit status 0).
    pub fn is_success(&self) -> bool {
        matches!(
            self.verdict,
            DeployVerdict::Created | DeployVerdict::Updated | DeployVerdict::NoChanges
        )
    }
}

impl fmt::Display for DeployReport {
    /// The verdict line: `✅ <stack>: created in 12.3 s (…); <ARN>`, `✅ <stack>: no changes`
    /// or `❌ <stack>: deploy failed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stack = &self.stack;
        let verb = match self.verdict {
            DeployVerdict::NoChanges => return write!(f, "✅ {stack}: no changes"),
            DeployVerdict::RolledBack | DeployVerdict::Failed => {
                return write!(f, "❌ {stack}: deploy failed");
            }
            DeployVerdict::Created => "created",
            DeployVerdict::Updated => "updated",
        };
        write!(
            f,
            "✅ {stack}: {verb} in {:.1} s ({}); {}",
            self.seconds.unwrap_or_default(),
            self.counts.unwrap_or_default(),
            self.stack_id.as_deref().unwrap_or("-")
        )
    }
}

/// Whether `diff` found differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiffVerdict {
    /// The stack differs from the template (or does not exist).
    Differences,
    /// The stack matches the template.
    NoDifferences,
}

/// Where the replacement column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplacementSource {
    /// CloudFormation's read-only change set.
    ChangeSet,
    /// The resource schemas' create-only properties.
    ResourceSchemas,
}

/// The result of `diff`.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// Stack name.
    pub stack: String,
    /// Whether there are differences.
    pub verdict: DiffVerdict,
    /// Whether the stack exists.
    pub exists: bool,
    /// Where the replacement verdicts come from (when the stack exists and differs).
    pub replacement_from: Option<ReplacementSource>,
    /// Resource counts.
    pub counts: Counts,
    /// The resource changes.
    pub changes: Vec<ResourceChange>,
    /// Changes to the other template sections.
    pub sections: Vec<SectionChange>,
    /// The change widens IAM or security group permissions (`deploy` would ask).
    pub security_broadening: bool,
    /// The IAM and security group changes, table by table.
    pub security: SecurityChanges,
    /// The whole diff, for the text form.
    #[serde(skip)]
    pub diff: TemplateDiff,
}

impl DiffReport {
    /// The report of `found` for `stack`.
    pub fn new(stack: &str, found: StackDiff) -> DiffReport {
        let differs = !found.diff.is_empty();
        DiffReport {
            stack: stack.to_owned(),
            verdict: if differs {
                DiffVerdict::Differences
            } else {
                DiffVerdict::NoDifferences
            },
            exists: found.exists,
            replacement_from: (found.exists && differs).then_some(if found.from_change_set {
                ReplacementSource::ChangeSet
            } else {
                ReplacementSource::ResourceSchemas
            }),
            counts: found.diff.counts(),
            changes: resource_changes(&found.diff),
            sections: found
                .diff
                .sections
                .iter()
                .map(|s| SectionChange {
                    section: s.section.clone(),
                    name: s.name.clone(),
                    action: action(s.change),
                })
                .collect(),
            security_broadening: found.diff.security.is_broadening(),
            security: SecurityChanges::of(&found.diff.security),
            diff: found.diff,
        }
    }

    /// Whether there are differences (exit status 1).
    pub fn differs(&self) -> bool {
        self.verdict == DiffVerdict::Differences
    }
}

impl fmt::Display for DiffReport {
    /// The diff (security tables first), resource by resource, then a summary; `{:#}`
    /// colours it and a width (`{:100}`) fits the tables to that many columns (default
    /// [`crate::render::DEFAULT_WIDTH`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = f.width().unwrap_or(crate::render::DEFAULT_WIDTH);
        for line in crate::render::diff_lines(&self.stack, &self.diff, f.alternate(), width) {
            writeln!(f, "{line}")?;
        }
        if !self.exists {
            writeln!(f, "(stack {} does not exist yet)", self.stack)?;
        } else if let Some(source) = self.replacement_from {
            let from = match source {
                ReplacementSource::ChangeSet => "CloudFormation's change set",
                ReplacementSource::ResourceSchemas => "the resource schemas",
            };
            writeln!(f, "(replacement from {from})")?;
        }
        write!(
            f,
            "Number of stacks with differences: {}",
            usize::from(self.differs())
        )
    }
}

/// How a destroy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DestroyVerdict {
    /// The stack was deleted.
    Deleted,
    /// There was no such stack.
    NotFound,
    /// The destroy failed (or was refused).
    Failed,
}

/// A resource CloudFormation could not delete and kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetainedResource {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
}

/// The result of `destroy`.
#[derive(Debug, Clone, Serialize)]
pub struct DestroyReport {
    /// Stack name.
    pub stack: String,
    /// The account looked in.
    pub account: String,
    /// The region looked in.
    pub region: String,
    /// How it ended.
    pub verdict: DestroyVerdict,
    /// The stack's final status, when the destroy failed on one.
    pub status: Option<StackStatus>,
    /// Resources kept because they could not be deleted (dedicated hosts).
    pub retained: Vec<RetainedResource>,
    /// The resources that failed, root causes first.
    pub failed_resources: Vec<ResourceFailure>,
    /// Why the destroy failed, when it did.
    pub error: Option<String>,
    /// The agent token parameter, left in place on purpose; `null` when there is none.
    pub token_parameter: Option<String>,
    /// The bootstrap, left in place on purpose (other stacks may use it); `null` when the
    /// account and region have none.
    pub bootstrap: Option<KeptBootstrap>,
    /// macOS: dedicated hosts stay allocated until released by hand (said whenever the stack
    /// is gone: an earlier destroy may have left them).
    pub hosts_to_release: bool,
}

/// What `destroy` leaves in place that is not the stack's, as it exists: named exactly, so
/// that the report never mentions something that is not there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeftInPlace {
    /// The agent token parameter, when it exists (or could not be checked).
    pub token_parameter: Option<String>,
    /// The bootstrap found in the account and region, if any.
    pub bootstrap: Option<KeptBootstrap>,
}

/// A bootstrap left in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptBootstrap {
    /// `agent-aws-stack` (our `agent-aws-stack-bootstrap` stack) or `cdk` (`cdk bootstrap`).
    pub kind: &'static str,
    /// The assets bucket.
    pub bucket: String,
    /// The execution role, when the bootstrap has one.
    pub execution_role: Option<String>,
}

impl KeptBootstrap {
    /// The report's view of a bootstrap found.
    pub fn of(found: &crate::bootstrap::Bootstrap) -> KeptBootstrap {
        KeptBootstrap {
            kind: match found.kind {
                crate::bootstrap::BootstrapKind::Own => "agent-aws-stack",
                crate::bootstrap::BootstrapKind::Cdk(_) => "cdk",
            },
            bucket: found.bucket.clone(),
            execution_role: found.execution_role.clone(),
        }
    }
}

impl fmt::Display for KeptBootstrap {
    /// `the bootstrap stack agent-aws-stack-bootstrap (bucket B, no execution role)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            "cdk" => f.write_str("CDK's bootstrap")?,
            _ => write!(
                f,
                "the bootstrap stack {}",
                crate::bootstrap::BOOTSTRAP_STACK
            )?,
        }
        write!(f, " (bucket {}, ", self.bucket)?;
        match &self.execution_role {
            Some(role) => write!(f, "execution role {role})"),
            None => f.write_str("no execution role)"),
        }
    }
}

impl DestroyReport {
    /// The report of a destroy of `stack` in `account`/`region` that ended with `result`.
    /// `left` and `macos` are for the notes on what stays.
    pub fn new(
        stack: &str,
        account: &str,
        region: &str,
        result: &Result<DestroyOutcome, DeployError>,
        left: LeftInPlace,
        macos: bool,
    ) -> DestroyReport {
        let mut report = DestroyReport {
            stack: stack.to_owned(),
            account: account.to_owned(),
            region: region.to_owned(),
            verdict: DestroyVerdict::Failed,
            status: None,
            retained: Vec::new(),
            failed_resources: Vec::new(),
            error: None,
            token_parameter: left.token_parameter,
            bootstrap: left.bootstrap,
            hosts_to_release: false,
        };
        match result {
            Ok(DestroyOutcome::Absent) => {
                report.verdict = DestroyVerdict::NotFound;
                report.hosts_to_release = macos;
            }
            Ok(DestroyOutcome::Deleted { retained }) => {
                report.verdict = DestroyVerdict::Deleted;
                report.hosts_to_release = macos;
                report.retained = retained
                    .iter()
                    .map(|(logical_id, resource_type)| RetainedResource {
                        logical_id: logical_id.clone(),
                        resource_type: resource_type.clone(),
                    })
                    .collect();
            }
            Err(error) => {
                report.status = error.status().cloned();
                report.failed_resources = error.failed_resources().to_vec();
                report.error = Some(error_text(error));
            }
        }
        report
    }

    /// Whether the destroy succeeded (exit status 0).
    pub fn is_success(&self) -> bool {
        self.verdict != DestroyVerdict::Failed
    }
}

impl fmt::Display for DestroyReport {
    /// The kept resources, the verdict, and what is left in place on purpose.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stack = &self.stack;
        match self.verdict {
            DestroyVerdict::Failed => return write!(f, "❌ {stack}: destroy failed"),
            DestroyVerdict::NotFound => writeln!(
                f,
                "✅ {stack}: no such stack in {}/{}; nothing to delete",
                self.account, self.region
            )?,
            DestroyVerdict::Deleted => {
                for r in &self.retained {
                    writeln!(
                        f,
                        "kept {} ({}): CloudFormation could not delete it",
                        r.logical_id, r.resource_type
                    )?;
                }
                writeln!(f, "✅ {stack}: deleted")?;
            }
        }
        if self.hosts_to_release {
            writeln!(
                f,
                "macOS: the dedicated hosts stay allocated (and billed) until you release them, at least 24 h after allocation. \
                 List them with `aws ec2 describe-hosts --region {}`, release them with `aws ec2 release-hosts --host-ids <ids>`, \
                 and delete the host resource group `{stack}` with `aws resource-groups delete-group --group {stack}` once it is empty.",
                self.region
            )?;
        }
        let mut kept = Vec::new();
        if let Some(name) = &self.token_parameter {
            kept.push(format!("the agent token parameter {name}"));
        }
        if let Some(bootstrap) = &self.bootstrap {
            kept.push(bootstrap.to_string());
        }
        if kept.is_empty() {
            return f.write_str(
                "Nothing else was left in place: there is no agent token parameter and no bootstrap.",
            );
        }
        write!(f, "Left in place on purpose: {}.", kept.join(" and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FailedOperation;
    use crate::status::ResourceStatus;
    use serde_json::json;

    fn update() -> TemplateDiff {
        crate::diff::compare(
            &json!({"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "a"}}}}),
            &json!({"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "b"}}}}),
        )
    }

    #[test]
    fn deploy_verdicts_in_text_and_json() {
        let rolled_back: Result<DeployOutcome, DeployError> = Err(DeployError::Failed {
            stack: "s".into(),
            operation: FailedOperation::Update,
            status: StackStatus::UpdateRollbackComplete,
            failed_resources: vec![ResourceFailure {
                logical_id: "P".into(),
                resource_type: "AWS::SSM::Parameter".into(),
                status: ResourceStatus::UpdateFailed,
                reason: Some("denied".into()),
            }],
        });
        let cases = [
            (
                "updated",
                Ok(DeployOutcome::Done {
                    stack_id: "arn:s".into(),
                    kind: ChangeSetKind::Update,
                    status: StackStatus::UpdateComplete,
                    diff: update(),
                    seconds: 2.04,
                }),
                "✅ s: updated in 2.0 s (0 to add, 1 to change (1 replaced or possibly replaced), 0 to remove); arn:s",
                "updated",
            ),
            (
                "no changes",
                Ok(DeployOutcome::NoChanges {
                    stack_id: "arn:s".into(),
                }),
                "✅ s: no changes",
                "no-changes",
            ),
            (
                "rolled back",
                rolled_back,
                "❌ s: deploy failed",
                "rolled-back",
            ),
            (
                "declined",
                Err(DeployError::Declined),
                "❌ s: deploy failed",
                "failed",
            ),
        ];
        for (name, result, text, verdict) in cases {
            let report = DeployReport::new("s", &result);
            assert_eq!(report.to_string(), text, "{name}");
            let json = serde_json::to_value(&report).expect("json");
            assert_eq!(json["verdict"], verdict, "{name}");
            assert_eq!(report.is_success(), result.is_ok(), "{name}");
        }
    }

    #[test]
    fn r16_a_deploy_refused_for_want_of_approval_lists_the_security_changes_in_json() {
        let diff = crate::diff::compare(
            &json!({}),
            &json!({"Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "SecurityGroupIngress": [{"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}]
            }}}}),
        );
        let result: Result<DeployOutcome, DeployError> = Err(DeployError::ApprovalRequired {
            subject: ApprovalSubject::Broadening {
                security: diff.security,
            },
            cause: crate::progress::NoAnswer::NoTerminal,
        });
        let json = serde_json::to_value(DeployReport::new("s", &result)).expect("json");
        assert_eq!(json["security_broadening"], true);
        assert_eq!(
            json["security"]["security_group_rules"],
            json!([{"change": "add", "holder": "Sg", "group": "${Sg.GroupId}", "direction": "In",
                    "protocol": "TCP 22", "peer": "Everyone (IPv4)", "description": null}])
        );
        assert!(
            json["error"]
                .as_str()
                .is_some_and(|e| e.contains("(1 grant(s) added)")),
            "{json}"
        );
    }

    #[test]
    fn a_rolled_back_deploy_lists_its_failed_resources_in_json() {
        let result: Result<DeployOutcome, DeployError> = Err(DeployError::Failed {
            stack: "s".into(),
            operation: FailedOperation::Update,
            status: StackStatus::UpdateRollbackComplete,
            failed_resources: vec![ResourceFailure {
                logical_id: "P".into(),
                resource_type: "AWS::SSM::Parameter".into(),
                status: ResourceStatus::UpdateFailed,
                reason: Some("denied".into()),
            }],
        });
        let json = serde_json::to_value(DeployReport::new("s", &result)).expect("json");
        assert_eq!(json["status"], "UPDATE_ROLLBACK_COMPLETE");
        assert_eq!(
            json["failed_resources"],
            json!([{"logical_id": "P", "resource_type": "AWS::SSM::Parameter", "status": "UPDATE_FAILED", "reason": "denied"}])
        );
        assert!(
            json["error"]
                .as_str()
                .is_some_and(|e| e.contains("ended in UPDATE_ROLLBACK_COMPLETE"))
        );
    }

    #[test]
    fn diff_reports_list_changes_with_action_and_replacement() {
        let report = DiffReport::new(
            "s",
            StackDiff {
                exists: true,
                diff: update(),
                from_change_set: false,
            },
        );
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["verdict"], "differences");
        assert_eq!(json["replacement_from"], "resource-schemas");
        assert_eq!(
            json["changes"],
            json!([{"logical_id": "P", "resource_type": "AWS::SSM::Parameter", "action": "modify", "replacement": "always"}])
        );
        let text = report.to_string();
        assert!(
            text.contains("[~] AWS::SSM::Parameter P (replaced)"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "(replacement from the resource schemas)\nNumber of stacks with differences: 1"
            ),
            "{text}"
        );
    }

    fn left(token: Option<&str>, bootstrap: Option<KeptBootstrap>) -> LeftInPlace {
        LeftInPlace {
            token_parameter: token.map(str::to_owned),
            bootstrap,
        }
    }

    #[test]
    fn r16_destroy_names_exactly_what_it_left_in_place() {
        let ours = |role: Option<&str>| KeptBootstrap {
            kind: "agent-aws-stack",
            bucket: "b".into(),
            execution_role: role.map(str::to_owned),
        };
        let cases = [
            (
                "a token and our bootstrap without a role",
                left(Some("/t"), Some(ours(None))),
                "Left in place on purpose: the agent token parameter /t and the bootstrap stack agent-aws-stack-bootstrap (bucket b, no execution role).",
            ),
            (
                "our bootstrap with a role, no token",
                left(None, Some(ours(Some("arn:r")))),
                "Left in place on purpose: the bootstrap stack agent-aws-stack-bootstrap (bucket b, execution role arn:r).",
            ),
            (
                "CDK's bootstrap",
                left(
                    Some("/t"),
                    Some(KeptBootstrap {
                        kind: "cdk",
                        bucket: "b".into(),
                        execution_role: Some("arn:cdk".into()),
                    }),
                ),
                "Left in place on purpose: the agent token parameter /t and CDK's bootstrap (bucket b, execution role arn:cdk).",
            ),
            (
                "nothing",
                left(None, None),
                "Nothing else was left in place: there is no agent token parameter and no bootstrap.",
            ),
        ];
        for (name, left, expected) in cases {
            let report =
                DestroyReport::new("s", "1", "r", &Ok(DestroyOutcome::Absent), left, false);
            let text = report.to_string();
            assert_eq!(text.lines().last(), Some(expected), "{name}");
        }
    }

    #[test]
    fn destroy_reports() {
        let gone = DestroyReport::new(
            "s",
            "1",
            "r",
            &Ok(DestroyOutcome::Absent),
            left(Some("/t"), None),
            false,
        );
        assert_eq!(
            gone.to_string(),
            "✅ s: no such stack in 1/r; nothing to delete\nLeft in place on purpose: the agent token parameter /t."
        );
        assert_eq!(
            serde_json::to_value(&gone).expect("json")["verdict"],
            "not-found"
        );
        let kept = DestroyReport::new(
            "s",
            "1",
            "r",
            &Ok(DestroyOutcome::Deleted {
                retained: vec![("Hosts".into(), "AWS::ResourceGroups::Group".into())],
            }),
            left(Some("/t"), None),
            true,
        );
        let text = kept.to_string();
        assert!(text.starts_with("kept Hosts (AWS::ResourceGroups::Group): CloudFormation could not delete it\n✅ s: deleted\nmacOS: "), "{text}");
        let failed = DestroyReport::new(
            "s",
            "1",
            "r",
            &Err(DeployError::Declined),
            left(Some("/t"), None),
            false,
        );
        assert_eq!(failed.to_string(), "❌ s: destroy failed");
        assert!(!failed.is_success());
    }

    /// Every object in `documented` has exactly the keys of the object at the same place in
    /// `real` (arrays: their first elements, when both have one).
    fn same_keys(path: &str, documented: &serde_json::Value, real: &serde_json::Value) {
        use serde_json::Value;
        match (documented, real) {
            (Value::Object(d), Value::Object(r)) => {
                let dk: Vec<&String> = d.keys().collect();
                let rk: Vec<&String> = r.keys().collect();
                assert_eq!(dk, rk, "keys of {path} in README.md");
                for (key, value) in d {
                    same_keys(&format!("{path}.{key}"), value, &r[key]);
                }
            }
            (Value::Array(d), Value::Array(r)) => {
                if let (Some(d), Some(r)) = (d.first(), r.first()) {
                    same_keys(&format!("{path}[0]"), d, r);
                }
            }
            _ => {}
        }
    }

    /// The README's `--json` examples, by command (`<!-- json-result: deploy -->` before each).
    fn readme_examples() -> Vec<(String, serde_json::Value)> {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
        let marker = "<!-- json-result: ";
        let mut out = Vec::new();
        let mut rest = readme;
        while let Some(at) = rest.find(marker) {
            rest = &rest[at + marker.len()..];
            let (command, after) = rest.split_once(" -->").expect("marker closes");
            let body = after
                .trim_start()
                .strip_prefix("```json\n")
                .expect("a json block follows the marker");
            let (json, _) = body.split_once("\n```").expect("the json block closes");
            let value = serde_json::from_str(json)
                .unwrap_or_else(|e| panic!("README's {command} example is not JSON: {e}"));
            out.push((command.to_owned(), value));
        }
        out
    }

    #[test]
    fn the_readme_documents_the_json_results_as_they_are() {
        let mut diff = update();
        diff.sections.push(crate::diff::SectionChange {
            section: "Outputs".into(),
            name: "X".into(),
            change: Change::Added,
        });
        diff.security.added.push(crate::diff::Grant {
            kind: crate::diff::GrantKind::IamStatement,
            holder: "P".into(),
            subject: "R".into(),
            what: "{}".into(),
        });
        let deployed = DeployReport::new(
            "s",
            &Ok(DeployOutcome::Done {
                stack_id: "arn:s".into(),
                kind: ChangeSetKind::Update,
                status: StackStatus::UpdateComplete,
                diff: diff.clone(),
                seconds: 1.0,
            }),
        );
        let failed = DeployReport::new(
            "s",
            &Err(DeployError::Failed {
                stack: "s".into(),
                operation: FailedOperation::Update,
                status: StackStatus::UpdateRollbackComplete,
                failed_resources: vec![ResourceFailure {
                    logical_id: "P".into(),
                    resource_type: "AWS::SSM::Parameter".into(),
                    status: ResourceStatus::UpdateFailed,
                    reason: Some("denied".into()),
                }],
            }),
        );
        let diffed = DiffReport::new(
            "s",
            StackDiff {
                exists: true,
                diff,
                from_change_set: true,
            },
        );
        let destroyed = DestroyReport::new(
            "s",
            "1",
            "r",
            &Ok(DestroyOutcome::Deleted {
                retained: vec![("H".into(), "AWS::EC2::Host".into())],
            }),
            left(
                Some("/t"),
                Some(KeptBootstrap {
                    kind: "agent-aws-stack",
                    bucket: "b".into(),
                    execution_role: None,
                }),
            ),
            false,
        );
        fn json<T: Serialize>(report: &T) -> serde_json::Value {
            serde_json::to_value(report).expect("serializable")
        }
        let examples = readme_examples();
        let commands: Vec<&str> = examples.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(commands, ["deploy", "deploy", "diff", "destroy"]);
        for (command, documented) in &examples {
            let reals = match command.as_str() {
                "deploy" => vec![json(&deployed), json(&failed)],
                "diff" => vec![json(&diffed)],
                "destroy" => vec![json(&destroyed)],
                other => panic!("README documents an unknown command {other}"),
            };
            for real in reals {
                same_keys(command, documented, &real);
            }
            // Documented enum values are ones the code writes.
            let verdict = documented["verdict"].as_str().expect("verdict");
            let known: &[&str] = match command.as_str() {
                "deploy" => &["created", "updated", "no-changes", "rolled-back", "failed"],
                "diff" => &["differences", "no-differences"],
                _ => &["deleted", "not-found", "failed"],
            };
            assert!(known.contains(&verdict), "{command}: {verdict}");
        }
        assert_eq!(json(&failed)["verdict"], "rolled-back");
        assert_eq!(json(&diffed)["replacement_from"], "change-set");
    }
}
