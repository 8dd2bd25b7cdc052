//! Every event sequence of spec 7.2 with real bash, compared with `tests/fixtures/<case>/`
//! (see `support::normalize` for what is wildcarded), plus the chunk boundaries of 7.3 as the
//! PTY really delivers them.

use std::os::unix::fs::PermissionsExt;

use agent_protocol::{JobResult, LogEvent};
use semaphore_agent::job::PreJobHook;
use serde_json::json;

use crate::support::{Harness, run_case};

fn case(name: &str, want: JobResult) {
    let harness = Harness::new();
    let outcome = run_case(&harness, name);
    assert_eq!(outcome.result, want, "{name}");
}

#[test]
fn hello_world() {
    case("hello_world", JobResult::Passed);
}

#[test]
fn commands_share_one_session_with_the_env_vars() {
    case("commands_and_env_vars", JobResult::Passed);
}

#[test]
fn unicode() {
    case("unicode", JobResult::Passed);
}

#[test]
fn broken_unicode_is_replaced_byte_by_byte() {
    case("broken_unicode", JobResult::Passed);
}

#[test]
fn carriage_returns() {
    case("carriage_returns", JobResult::Passed);
}

#[test]
fn stty_echo_does_not_leak_the_instruction_line() {
    case("stty_restoration", JobResult::Passed);
}

#[test]
fn aliases() {
    case("aliases", JobResult::Passed);
}

#[test]
fn unknown_command_fails_the_job() {
    case("unknown_command", JobResult::Failed);
}

#[test]
fn a_failing_command_stops_the_commands() {
    case("failing_command", JobResult::Failed);
}

#[test]
fn a_passing_job_runs_the_on_pass_epilogue() {
    case("passing_job_epilogues", JobResult::Passed);
}

#[test]
fn failing_epilogues_stop_their_list_and_keep_the_result() {
    case("failing_epilogues", JobResult::Passed);
}

#[test]
fn env_vars_and_files_with_modes() {
    let harness = Harness::new();
    let outcome = run_case(&harness, "env_vars_and_files");
    assert_eq!(outcome.result, JobResult::Passed);
    let mode = |p: std::path::PathBuf| {
        std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(harness.home().join("test.txt")), 0o600);
    assert_eq!(mode(harness.home().join(".ssh/id_test")), 0o755);
    assert_eq!(mode(harness.tmp().join("abs/c.txt")), 0o644);
    assert_eq!(mode(harness.home().join(".ssh")), 0o750);
}

#[test]
fn a_bad_file_mode_fails_the_job() {
    case("bad_file_mode", JobResult::Failed);
}

#[test]
fn a_file_that_is_not_base64_fails_without_cmd_finished() {
    case("file_decode_error", JobResult::Failed);
}

#[test]
fn an_env_var_that_is_not_base64_fails_the_job() {
    case("env_decode_error", JobResult::Failed);
}

#[test]
fn exit_130_with_passed_self_stops_as_passed() {
    case("self_stop_passed", JobResult::Passed);
}

#[test]
fn exit_130_with_failed_self_stops_as_failed() {
    case("self_stop_failed", JobResult::Failed);
}

#[test]
fn exit_130_without_a_result_self_stops_as_stopped() {
    case("self_stop_unset", JobResult::Stopped);
}

#[test]
fn a_command_that_exits_the_shell_fails_everything_after_it() {
    case("shell_exit", JobResult::Failed);
}

#[test]
fn env_files_live_in_tmp_during_the_job_and_are_deleted_after() {
    let harness = Harness::new();
    let outcome = run_case(&harness, "env_files_in_tmp");
    assert_eq!(outcome.result, JobResult::Passed);
    let left: Vec<_> = std::fs::read_dir(harness.tmp())
        .expect("tmp exists")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".env-"))
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "env files left behind: {left:?}");
}

fn write_script(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).expect("script written");
}

#[test]
fn pre_and_post_job_hooks_run_as_visible_commands() {
    let mut harness = Harness::new();
    write_script(&harness.tmp().join("pre.sh"), "echo pre-hook\nfalse\n");
    write_script(
        &harness.tmp().join("post.sh"),
        "echo post-hook $SEMAPHORE_JOB_RESULT\n",
    );
    harness.settings.pre_job_hook = Some(PreJobHook {
        path: harness.tmp().join("pre.sh").to_string_lossy().into_owned(),
        source: false,
        fail_on_error: false,
    });
    harness.settings.post_job_hook_path =
        Some(harness.tmp().join("post.sh").to_string_lossy().into_owned());
    let outcome = run_case(&harness, "pre_and_post_job_hooks");
    assert_eq!(outcome.result, JobResult::Passed);
}

#[test]
fn a_failing_sourced_pre_job_hook_fails_the_job_when_configured() {
    let mut harness = Harness::new();
    write_script(&harness.tmp().join("pre.sh"), "echo pre-hook\nfalse\n");
    harness.settings.pre_job_hook = Some(PreJobHook {
        path: harness.tmp().join("pre.sh").to_string_lossy().into_owned(),
        source: true,
        fail_on_error: true,
    });
    let outcome = run_case(&harness, "pre_job_hook_fails_the_job");
    assert_eq!(outcome.result, JobResult::Failed);
}

fn outputs_of(events: &[LogEvent], directive: &str) -> Vec<String> {
    let mut inside = false;
    let mut out = Vec::new();
    for event in events {
        match event {
            LogEvent::CmdStarted { directive: d, .. } => inside = d == directive,
            LogEvent::CmdOutput { output, .. } if inside => out.push(output.clone()),
            LogEvent::CmdFinished { .. } => inside = false,
            _ => {}
        }
    }
    out
}

#[test]
fn lines_printed_with_pauses_are_separate_events() {
    let harness = Harness::new();
    let directive = "for i in 1 2 3; do echo $i; sleep 0.4; done";
    let request = harness.request(&json!({"commands": [{"directive": directive}]}).to_string());
    let outcome = harness.run(&request);
    assert_eq!(
        outputs_of(&outcome.events, directive),
        ["1\n", "2\n", "3\n"]
    );
}

#[test]
fn a_burst_is_cut_into_100_byte_events() {
    let harness = Harness::new();
    let directive = "printf 'a%.0s' {1..250}";
    let request = harness.request(&json!({"commands": [{"directive": directive}]}).to_string());
    let outcome = harness.run(&request);
    let lens: Vec<usize> = outputs_of(&outcome.events, directive)
        .iter()
        .map(String::len)
        .collect();
    assert_eq!(lens, [100, 100, 50]);
}

#[test]
fn output_over_time_never_exceeds_100_bytes_per_event_while_running() {
    let harness = Harness::new();
    // Unicode and CRLF pairs straddle the 100-byte cuts on purpose.
    let directive = "for i in $(seq 1 200); do printf 'é😀\\r\\n'; done; sleep 0.2";
    let request = harness.request(&json!({"commands": [{"directive": directive}]}).to_string());
    let outcome = harness.run(&request);
    let outputs = outputs_of(&outcome.events, directive);
    assert!(outputs.len() > 10);
    for chunk in &outputs {
        assert!(chunk.len() <= 100, "a {} byte event", chunk.len());
        assert!(
            !chunk.contains('\u{FFFD}'),
            "a sequence was split: {chunk:?}"
        );
    }
    // The PTY makes "\r\n" into "\r\r\n"; the chunker turns the pair into "\n".
    assert_eq!(outputs.concat(), "é😀\r\n".repeat(200));
}
