//! The wire names of every enum, as tables: `as_str`, serde in both directions, `from_wire`,
//! and a count check so that a new variant without a row fails here.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use agent_protocol::{
    AgentState, CredentialType, ExecutorKind, HubAction, JobResult, LoggerMethod,
    ShutdownHookReason, ShutdownReason, UploadJobLogs,
};

fn check<T>(table: &[(T, &str)], known: usize, as_str: impl Fn(&T) -> String)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    assert_eq!(table.len(), known, "one row per variant");
    for (value, wire) in table {
        assert_eq!(as_str(value), *wire);
        let json = format!("\"{wire}\"");
        assert_eq!(serde_json::to_string(value).expect("serializes"), json);
        let back: T = serde_json::from_str(&json).expect("parses");
        assert_eq!(&back, value, "{wire}");
    }
}

#[test]
fn agent_states() {
    let table = [
        (AgentState::WaitingForJobs, "waiting-for-jobs"),
        (AgentState::StartingJob, "starting-job"),
        (AgentState::RunningJob, "running-job"),
        (AgentState::StoppingJob, "stopping-job"),
        (AgentState::FinishedJob, "finished-job"),
    ];
    check(&table, AgentState::ALL.len(), |v| v.as_str().to_owned());
    assert_eq!(
        AgentState::from_wire("running-job"),
        Some(AgentState::RunningJob)
    );
    assert_eq!(AgentState::from_wire("RUNNING-JOB"), None);
}

#[test]
fn job_results() {
    let table = [
        (JobResult::Passed, "passed"),
        (JobResult::Failed, "failed"),
        (JobResult::Stopped, "stopped"),
    ];
    check(&table, JobResult::ALL.len(), |v| v.as_str().to_owned());
    assert_eq!(JobResult::from_wire(""), None);
}

#[test]
fn hub_actions() {
    let table = [
        (HubAction::Continue, "continue"),
        (HubAction::RunJob, "run-job"),
        (HubAction::StopJob, "stop-job"),
        (HubAction::WaitForJobs, "wait-for-jobs"),
        (HubAction::Shutdown, "shutdown"),
    ];
    check(&table, HubAction::KNOWN.len(), |v| v.as_str().to_owned());
    assert_eq!(
        HubAction::from_wire("run_job"),
        HubAction::Unknown("run_job".into())
    );
}

#[test]
fn shutdown_reasons() {
    let table = [
        (ShutdownReason::Idle, "idle"),
        (ShutdownReason::JobFinished, "job-finished"),
        (ShutdownReason::Requested, "requested"),
        (ShutdownReason::Interrupted, "interrupted"),
    ];
    check(&table, ShutdownReason::KNOWN.len(), |v| {
        v.as_str().to_owned()
    });
}

#[test]
fn shutdown_hook_reasons_and_their_mapping_from_the_hub() {
    let table = [
        (ShutdownHookReason::Idle, "IDLE"),
        (ShutdownHookReason::JobFinished, "JOB_FINISHED"),
        (ShutdownHookReason::Requested, "REQUESTED"),
        (ShutdownHookReason::Interrupted, "INTERRUPTED"),
        (ShutdownHookReason::Unknown, "UNKNOWN"),
        (ShutdownHookReason::UnableToSync, "UNABLE_TO_SYNC"),
    ];
    check(&table, ShutdownHookReason::ALL.len(), |v| {
        v.as_str().to_owned()
    });
    assert_eq!(
        ShutdownHookReason::ENV_VAR,
        "SEMAPHORE_AGENT_SHUTDOWN_REASON"
    );
    for (name, hub, hook) in [
        ("idle", Some(ShutdownReason::Idle), ShutdownHookReason::Idle),
        (
            "job finished",
            Some(ShutdownReason::JobFinished),
            ShutdownHookReason::JobFinished,
        ),
        (
            "requested",
            Some(ShutdownReason::Requested),
            ShutdownHookReason::Requested,
        ),
        (
            "interrupted",
            Some(ShutdownReason::Interrupted),
            ShutdownHookReason::Interrupted,
        ),
        ("no reason", None, ShutdownHookReason::Unknown),
        (
            "unknown reason",
            Some(ShutdownReason::Unknown("x".into())),
            ShutdownHookReason::Unknown,
        ),
    ] {
        assert_eq!(ShutdownHookReason::from_hub(hub.as_ref()), hook, "{name}");
        assert_eq!(hook.exit_code(), 0, "{name}: the hub asked, exit 0");
    }
    assert_eq!(ShutdownHookReason::UnableToSync.exit_code(), 1);
}

#[test]
fn upload_job_logs_values() {
    let table = [
        (UploadJobLogs::Never, "never"),
        (UploadJobLogs::Always, "always"),
        (UploadJobLogs::WhenTrimmed, "when-trimmed"),
    ];
    check(&table, UploadJobLogs::ALL.len(), |v| v.as_str().to_owned());
    assert_eq!(UploadJobLogs::default(), UploadJobLogs::Never);
}

#[test]
fn executor_kinds() {
    let table = [
        (ExecutorKind::Unset, ""),
        (ExecutorKind::Shell, "shell"),
        (ExecutorKind::DockerCompose, "dockercompose"),
    ];
    check(&table, ExecutorKind::KNOWN.len(), |v| v.as_str().to_owned());
    for (name, kind, shell) in [
        ("empty means shell", ExecutorKind::Unset, true),
        ("shell", ExecutorKind::Shell, true),
        ("compose", ExecutorKind::DockerCompose, false),
        (
            "kubernetes is unknown here",
            ExecutorKind::from_wire("kubernetes"),
            false,
        ),
    ] {
        assert_eq!(kind.is_shell(), shell, "{name}");
    }
}

#[test]
fn logger_methods() {
    let table = [
        (LoggerMethod::Unset, ""),
        (LoggerMethod::Push, "push"),
        (LoggerMethod::Pull, "pull"),
    ];
    check(&table, LoggerMethod::KNOWN.len(), |v| v.as_str().to_owned());
}

#[test]
fn credential_types() {
    let table = [
        (CredentialType::DockerHub, "DockerHub"),
        (CredentialType::GenericDocker, "GenericDocker"),
        (CredentialType::AwsEcr, "AWS_ECR"),
        (CredentialType::Gcr, "GCR"),
    ];
    check(&table, CredentialType::KNOWN.len(), |v| {
        v.as_str().to_owned()
    });
}
