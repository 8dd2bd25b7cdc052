//! Issue 13 item 6: the job's shell starts from a clean environment. No `SEMAPHORE_AGENT_*`
//! variable and no token of the agent reaches a job, even when the agent has them.

use agent_protocol::{JobResult, LogEvent};

use crate::support::{Harness, PLANTED_TOKEN};

fn job_output(events: &[LogEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            LogEvent::CmdOutput { output, .. } => Some(output.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_job_running_env_sees_no_agent_variable_or_token() {
    let harness = Harness::new();
    let request = harness.request(
        r#"{"commands": [{"directive": "env"}, {"directive": "cat /proc/$$/environ 2>/dev/null | tr '\\0' '\\n'"}]}"#,
    );
    let outcome = harness.run(&request);
    assert_eq!(outcome.result, JobResult::Passed);
    let output = job_output(&outcome.events);
    assert!(output.contains("HOME="), "env ran: {output}");
    assert!(!output.contains("SEMAPHORE_AGENT_"), "{output}");
    assert!(!output.contains(PLANTED_TOKEN), "the planted token leaked");
    assert!(!output.contains("AWS_SECRET_ACCESS_KEY"), "{output}");
}

#[test]
fn hooks_see_the_clean_environment_too() {
    let mut harness = Harness::new();
    let hook = harness.tmp().join("pre.sh");
    std::fs::write(&hook, "env\n").expect("hook written");
    harness.settings.pre_job_hook = Some(semaphore_agent::job::PreJobHook {
        path: hook.to_string_lossy().into_owned(),
        source: false,
        fail_on_error: true,
    });
    let request = harness.request(r#"{"commands": []}"#);
    let outcome = harness.run(&request);
    assert_eq!(outcome.result, JobResult::Passed);
    let output = job_output(&outcome.events);
    assert!(output.contains("PATH="), "{output}");
    assert!(!output.contains("SEMAPHORE_AGENT_"), "{output}");
    assert!(!output.contains(PLANTED_TOKEN));
}

#[test]
fn the_job_gets_its_own_vars_and_the_agent_env_vars_with_the_agent_winning() {
    let mut harness = Harness::new();
    harness.settings.env_vars = vec![
        ("FROM_AGENT".into(), "agent".into()),
        ("BOTH".into(), "agent wins".into()),
    ];
    let request = harness.request(&format!(
        r#"{{"commands": [{{"directive": "echo \"$FROM_AGENT|$BOTH|$SEMAPHORE_JOB_ID|$HOME\""}}],
            "env_vars": [{{"name": "BOTH", "value": "{both}"}}, {{"name": "SEMAPHORE_JOB_ID", "value": "{id}"}}]}}"#,
        both = agent_protocol::Base64::encode(b"job").as_encoded(),
        id = agent_protocol::Base64::encode(b"job-1").as_encoded(),
    ));
    let outcome = harness.run(&request);
    let output = job_output(&outcome.events);
    assert!(
        output.contains("Exporting BOTH\nExporting FROM_AGENT\nExporting SEMAPHORE_JOB_ID\n"),
        "{output}"
    );
    let home = harness.home();
    assert!(
        output.contains(&format!("agent|agent wins|job-1|{}\n", home.display())),
        "{output}"
    );
}

#[test]
fn the_job_runs_in_an_interactive_login_shell_on_a_tty_in_home() {
    let harness = Harness::new();
    let request = harness.request(r#"{"commands": [{"directive": "echo $-; tty; pwd"}]}"#);
    let outcome = harness.run(&request);
    let output = job_output(&outcome.events);
    let lines: Vec<&str> = output.lines().collect();
    assert!(lines[0].contains('i'), "not interactive: {output}");
    assert!(lines[1].starts_with("/dev/"), "no tty: {output}");
    assert_eq!(lines[2], harness.home().to_string_lossy());
}

#[test]
fn the_executor_can_run_on_another_thread() {
    // The listener will run jobs on a blocking thread and stop them from its own.
    fn assert_send<T: Send>() {}
    assert_send::<semaphore_agent::executor::shell::ShellExecutor>();
    assert_send::<semaphore_agent::executor::StopSignal>();
}
