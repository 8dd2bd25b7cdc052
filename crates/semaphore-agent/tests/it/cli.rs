//! The binary: `version`, and `run FILE` printing the events as JSON lines with the exit
//! codes `--help` promises (0 passed, 1 failed/stopped/cannot run, 2 usage or bad file).

use std::process::{Command, Output};

use serde_json::Value;

fn agent(args: &[&str], home: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_semaphore-agent"))
        .args(args)
        .env("HOME", home)
        .env("TMPDIR", home)
        .env("SEMAPHORE_AGENT_TOKEN", crate::support::PLANTED_TOKEN)
        .output()
        .expect("the binary runs")
}

fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[test]
fn version_prints_the_version() {
    let dir = tempfile::tempdir().expect("dir");
    let out = agent(&["version"], dir.path());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn run_prints_one_json_event_per_line_and_exits_0_when_passed() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("job.json");
    std::fs::write(&file, r#"{"commands": [{"directive": "echo '<b>&'"}]}"#).expect("written");
    let out = agent(&["run", &file.to_string_lossy()], dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Go's escaping of <, > and & (spec 7.1).
    assert!(
        stdout.contains(r#""output":"\u003cb\u003e\u0026\n""#),
        "{stdout}"
    );
    let events = events(&out);
    assert_eq!(
        events.first().map(|e| &e["event"]),
        Some(&Value::from("job_started"))
    );
    assert_eq!(
        events.last().map(|e| &e["result"]),
        Some(&Value::from("passed"))
    );
}

#[test]
fn run_exits_1_when_the_job_fails() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("job.json");
    std::fs::write(&file, r#"{"commands": [{"directive": "false"}]}"#).expect("written");
    let out = agent(&["run", &file.to_string_lossy()], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        events(&out).last().map(|e| &e["result"]),
        Some(&Value::from("failed"))
    );
}

#[test]
fn run_exits_1_without_events_for_another_executor() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("job.json");
    std::fs::write(&file, r#"{"executor": "kubernetes"}"#).expect("written");
    let out = agent(&["run", &file.to_string_lossy()], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported executor 'kubernetes'"));
}

#[test]
fn run_exits_2_naming_an_unreadable_file() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("missing.json");
    let out = agent(&["run", &missing.to_string_lossy()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&*missing.to_string_lossy()), "{stderr}");
}

#[test]
fn run_exits_2_for_a_file_that_is_not_a_job_request() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("job.json");
    std::fs::write(&file, "commands: [oops]").expect("written");
    let out = agent(&["run", &file.to_string_lossy()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid job request"));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("dir");
    assert_eq!(agent(&["run"], dir.path()).status.code(), Some(2));
    assert_eq!(agent(&["nope"], dir.path()).status.code(), Some(2));
}

#[test]
fn sigterm_stops_the_job() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("job.json");
    std::fs::write(&file, r#"{"commands": [{"directive": "sleep 1000"}]}"#).expect("written");
    let child = Command::new(env!("CARGO_BIN_EXE_semaphore-agent"))
        .args(["run", &file.to_string_lossy()])
        .env("HOME", dir.path())
        .env("TMPDIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawned");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signalled");
    let out = child.wait_with_output().expect("it ends");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        events(&out).last().map(|e| &e["result"]),
        Some(&Value::from("stopped"))
    );
}

#[test]
fn run_reads_a_job_request_written_as_yaml_too() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("job.yml");
    std::fs::write(
        &file,
        "commands:\n  - directive: echo from yaml $GREETING\nenv_vars:\n  - name: GREETING\n    value: aGk=\n",
    )
    .expect("written");
    let out = agent(&["run", file.to_str().expect("utf-8")], dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let output: String = events(&out)
        .iter()
        .filter(|e| e["event"] == "cmd_output")
        .filter_map(|e| e["output"].as_str().map(str::to_owned))
        .collect();
    assert!(output.contains("from yaml hi"), "{output}");

    std::fs::write(&file, "commands: [unclosed\n").expect("written");
    let out = agent(&["run", file.to_str().expect("utf-8")], dir.path());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a valid job request"));
}
