//! The `local-fleet` binary as a newcomer runs it: `run` (the README's first command) and the
//! `up` / `submit` / `status` / `down` steps, each from its own process, on a fleet deployed
//! with `agent-aws-stack` to a `moto_server` the binary starts itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use local_fleet::record::FleetRecord;
use local_fleet::services::alive;

use crate::support::{moto_python, workspace, workspace_binary};

/// `local-fleet` with the instance's and the deploy's binaries beside it (the test build puts
/// them all in one directory), run from the workspace so that its defaults (the example
/// config, `examples/jobs`, `scripts/moto_server.py`) resolve.
fn local_fleet(python: &Path) -> Command {
    for name in [
        "agent-aws-stack",
        "semaphore-hub",
        "agent-instance",
        "semaphore-agent",
    ] {
        workspace_binary(name);
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_local-fleet"));
    command
        .current_dir(workspace())
        .env("LOCAL_FLEET_PYTHON", python)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE");
    command
}

fn text(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The PIDs a fleet reports starting (`moto_server on … (pid N)`, `semaphore-hub on … (pid N)`).
fn started_pids(stderr: &str) -> Vec<u32> {
    stderr
        .lines()
        .filter_map(|l| l.split("(pid ").nth(1)?.split(')').next()?.parse().ok())
        .collect()
}

/// What runs inside `dir` (see [`local_fleet::services::processes_in`]), for messages.
fn processes_in(dir: &Path) -> Vec<String> {
    local_fleet::services::processes_in(dir)
        .into_iter()
        .map(|p| format!("{}: {} (in {})", p.pid, p.cmdline, p.cwd.display()))
        .collect()
}

fn example_job_files() -> usize {
    std::fs::read_dir(workspace().join("examples/jobs"))
        .expect("examples/jobs")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yml"))
        })
        .count()
}

#[test]
fn run_deploys_the_example_runs_every_bundled_job_and_leaves_nothing_behind() {
    let Some(python) = moto_python("the local fleet run") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("fleet");
    let started = Instant::now();
    let out = local_fleet(&python)
        .args(["run", "--work-dir"])
        .arg(&work)
        .output()
        .expect("run local-fleet");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // The report, with queue time p50/p95 and instance-seconds per job-second, in the test's
    // output.
    eprintln!(
        "{}\n(wall time {elapsed:.1?})",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.status.success(), "{}", text(&out));
    for step in [
        "agent type local-fleet created; its token stored in /semaphore/ci-agents/token with `agent-aws-stack token`",
        "bootstrapped with `agent-aws-stack bootstrap`",
        "stack ci-agents deployed with `agent-aws-stack deploy`",
    ] {
        assert!(stderr.contains(step), "{step:?}: {}", text(&out));
    }

    let record: FleetRecord = serde_json::from_str(
        &std::fs::read_to_string(work.join("status.json")).expect("status.json"),
    )
    .expect("a fleet record");
    let files = example_job_files();
    assert!(
        files > record.max_size as usize,
        "more jobs ({files}) than the group's maximum ({})",
        record.max_size
    );
    assert_eq!(record.jobs.len(), files, "{}", text(&out));
    for (id, job) in &record.jobs {
        assert_eq!(job.result.as_deref(), Some("passed"), "{id} {job:?}");
        assert!(
            matches!(job.log, Some(Ok(events)) if events > 4),
            "{id}: its whole log is at the hub: {job:?}"
        );
        assert!(job.instance.is_some(), "{id} ran on an instance: {job:?}");
        let log = std::fs::read_to_string(work.join("logs").join(format!("{id}.txt")))
            .expect("the job's plain-text log");
        if job.name == "5-logs.yml" {
            let lines = log.lines().filter(|l| l.parse::<u32>().is_ok()).count();
            assert_eq!(lines, 20_000, "every line of the long log");
        }
    }
    // 0 → max → min.
    let sizes: Vec<i32> = record.sizes.iter().map(|(_, s)| *s).collect();
    assert_eq!(sizes.first(), Some(&0), "{sizes:?}");
    assert_eq!(sizes.iter().max(), Some(&record.max_size), "{sizes:?}");
    assert_eq!(sizes.last(), Some(&record.min_size), "{sizes:?}");
    assert!(
        record
            .instances
            .values()
            .all(|i| i.ended.is_some() && i.registered.is_some()),
        "every instance registered and went: {:?}",
        record.instances
    );
    let summary = record.summary();
    assert!(summary.queue_p95.is_some() && summary.instance_seconds > summary.job_seconds);

    // Nothing left: not the emulator, the hub, an instance's processes nor a job's.
    let pids = started_pids(&stderr);
    assert_eq!(pids.len(), 2, "moto_server and the hub: {stderr}");
    for pid in pids {
        assert!(!alive(pid), "pid {pid} is still running");
    }
    assert_eq!(processes_in(&work), Vec::<String>::new());
    assert!(!work.join("fleet.json").exists(), "fleet.json removed");
}

/// A `local-fleet` running in the background: interrupted (as Ctrl-C would) and waited for
/// if the test fails first, so that no fleet outlives its test.
struct Background(Child);

impl Background {
    /// `local-fleet <args> --work-dir <work>`, its output in `log`.
    fn start(python: &Path, args: &[&str], work: &Path, log: &Path) -> Background {
        let file = std::fs::File::create(log).expect("log");
        Background(
            local_fleet(python)
                .args(args)
                .arg("--work-dir")
                .arg(work)
                .stdout(file.try_clone().expect("log"))
                .stderr(file)
                .spawn()
                .expect("start local-fleet"),
        )
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        self.0.wait().expect("wait for local-fleet")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            if let Ok(pid) = i32::try_from(self.0.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGINT,
                );
            }
            let _ = self.0.wait();
        }
    }
}

/// Waits for `local-fleet up` to say it is up (its `fleet.json`), or fails with its output.
fn wait_up(up: &mut Background, work: &Path, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !work.join("fleet.json").exists() {
        if let Ok(Some(status)) = up.0.try_wait() {
            panic!(
                "local-fleet up exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "not up after 3 minutes:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn up_submit_status_and_down_work_from_separate_processes() {
    let Some(python) = moto_python("the local fleet's steps") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("fleet");
    let up_log = dir.path().join("up.log");
    let fleet = |args: &[&str]| -> Output {
        local_fleet(&python)
            .args(args)
            .arg("--work-dir")
            .arg(&work)
            .output()
            .expect("run local-fleet")
    };

    // Nothing is up yet.
    let out = fleet(&["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("start one with `local-fleet up`"),
        "{}",
        text(&out)
    );

    let mut up = Background::start(
        &python,
        &[
            "up",
            "--max-size",
            "1",
            "--scaler-every",
            "1",
            "--idle-timeout",
            "2",
        ],
        &work,
        &up_log,
    );
    wait_up(&mut up, &work, &up_log);
    assert!(
        processes_in(&work)
            .iter()
            .any(|p| p.contains("semaphore-hub")),
        "the hub runs with its database in the work directory: {:?}",
        processes_in(&work)
    );

    // A second fleet in the same directory is refused, and the first one is untouched.
    let out = fleet(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("a fleet is already up in"),
        "{}",
        text(&out)
    );
    assert!(work.join("fleet.json").exists());

    let out = fleet(&[
        "submit",
        "--wait",
        "examples/jobs/1-hello.yml",
        "examples/jobs/2-build.yml",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1-hello.yml  passed"), "{stdout}");
    assert!(stdout.contains("2-build.yml  passed"), "{stdout}");

    // `status` reads the record `up` rewrites every second.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = fleet(&["status"]);
        assert!(out.status.success(), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(stdout.starts_with("fleet up (pid "), "{stdout}");
        let passed = stdout
            .lines()
            .filter(|l| {
                (l.contains("1-hello.yml") || l.contains("2-build.yml")) && l.contains("passed")
            })
            .count();
        if passed == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "status never showed both jobs passed:\n{stdout}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    let out = fleet(&["down"]);
    assert!(out.status.success(), "{}", text(&out));
    let status = up.wait();
    let up_output = std::fs::read_to_string(&up_log).unwrap_or_default();
    assert!(status.success(), "local-fleet up: {status}\n{up_output}");
    assert!(up_output.contains("fleet down"), "{up_output}");
    for pid in started_pids(&up_output) {
        assert!(!alive(pid), "pid {pid} is still running");
    }
    assert_eq!(processes_in(&work), Vec::<String>::new());

    let out = fleet(&["status"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("fleet down; its last record:"),
        "{}",
        text(&out)
    );
    let out = fleet(&["submit", "examples/jobs/1-hello.yml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no fleet is up in"), "{}", text(&out));
}

#[test]
fn bad_input_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("fleet");
    let bad_job = dir.path().join("bad.yml");
    std::fs::write(
        &bad_job,
        "commands:\n  - echo hi\nepilogue_allways: [echo x]\n",
    )
    .expect("write");
    let python = PathBuf::from("/nonexistent/python");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--jobs", &bad_job.display().to_string()],
            "epilogue_allways",
        ),
        (
            &["--jobs", "/nonexistent/jobs.yml"],
            "cannot read the job file /nonexistent/jobs.yml",
        ),
        (&["--max-size", "0"], "--max-size 0"),
        (&["--boot-delay=-1"], "--boot-delay"),
        (
            &["--idle-timeout", "0"],
            "--idle-timeout 0 never lets an idle agent go",
        ),
    ];
    for (args, expected) in cases {
        let out = local_fleet(&python)
            .arg("run")
            .args(args)
            .arg("--work-dir")
            .arg(&work)
            .stdin(Stdio::null())
            .output()
            .expect("run local-fleet");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
        assert!(!work.exists(), "{args:?}: nothing was started or written");
    }
    // A configuration the stack refuses stops the run before anything starts, naming the
    // parameter.
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"SEMAPHORE_AGENT_STACK_NAME": "ci-agents", "SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME": "t", "SEMAPHORE_ORGANIZATION": "acme", "SEMAPHORE_AGENT_DISCONNECT_AFTER_JOB": "maybe"}"#,
    )
    .expect("write");
    let out = local_fleet(&python)
        .args(["run", "--config"])
        .arg(&config)
        .arg("--work-dir")
        .arg(&work)
        .output()
        .expect("run local-fleet");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("SEMAPHORE_AGENT_DISCONNECT_AFTER_JOB"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("moto_server on"), "{}", text(&out));
    std::fs::remove_dir_all(&work).expect("clear");

    // A directory that holds something else is never cleared for a fleet.
    std::fs::create_dir_all(&work).expect("dir");
    std::fs::write(work.join("precious.txt"), "keep me").expect("write");
    let out = local_fleet(&python)
        .args(["run", "--work-dir"])
        .arg(&work)
        .output()
        .expect("run local-fleet");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("was not made by local-fleet"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(work.join("precious.txt")).expect("kept"),
        "keep me"
    );
}

#[test]
fn ctrl_c_in_the_middle_of_a_run_stops_everything_it_started() {
    let Some(python) = moto_python("the interrupted local fleet run") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("fleet");
    let log_path = dir.path().join("run.log");
    let mut run = Background::start(&python, &["run", "--scaler-every", "1"], &work, &log_path);
    // Wait until a job runs on an instance: the agent and its job are processes to stop too.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let output = std::fs::read_to_string(&log_path).unwrap_or_default();
        if output.contains(") started on i-") {
            break;
        }
        if let Ok(Some(status)) = run.0.try_wait() {
            panic!("local-fleet run exited ({status}) before a job started:\n{output}");
        }
        assert!(Instant::now() < deadline, "no job started:\n{output}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        processes_in(&work)
            .iter()
            .any(|p| p.contains("/agent/agent start")),
        "an agent runs: {:?}",
        processes_in(&work)
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(run.0.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let status = run.wait();
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("error: interrupted; everything the fleet started is stopped"),
        "{output}"
    );
    assert!(
        output.contains("jobs (6):"),
        "the report of what happened: {output}"
    );
    for pid in started_pids(&output) {
        assert!(!alive(pid), "pid {pid} is still running");
    }
    assert_eq!(processes_in(&work), Vec::<String>::new());
    assert!(!work.join("fleet.json").exists());
}

#[test]
fn down_stops_what_a_killed_fleet_left_running() {
    let Some(python) = moto_python("down after a killed fleet") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("fleet");
    let up_log = dir.path().join("up.log");
    let job = dir.path().join("long.yml");
    std::fs::write(&job, "commands:\n  - echo long job\n  - sleep 120\n").expect("job");
    let mut up = Background::start(
        &python,
        &["up", "--max-size", "1", "--scaler-every", "1"],
        &work,
        &up_log,
    );
    wait_up(&mut up, &work, &up_log);
    let out = local_fleet(&python)
        .arg("submit")
        .arg(&job)
        .arg("--work-dir")
        .arg(&work)
        .output()
        .expect("submit");
    assert!(out.status.success(), "{}", text(&out));
    // Until the job's shell runs in its instance's directory.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !processes_in(&work).iter().any(|p| p.contains("sleep 120")) {
        assert!(
            Instant::now() < deadline,
            "the job never ran: {:?}\n{}",
            processes_in(&work),
            std::fs::read_to_string(&up_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The fleet's own process dies without a chance to clean up.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(up.0.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
    let _ = up.wait();
    assert!(
        !processes_in(&work).is_empty(),
        "the hub, the agent and the job outlive it"
    );

    let out = local_fleet(&python)
        .arg("down")
        .arg("--work-dir")
        .arg(&work)
        .output()
        .expect("down");
    assert!(out.status.success(), "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_in(&work).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(processes_in(&work), Vec::<String>::new(), "{}", text(&out));
    for pid in started_pids(&std::fs::read_to_string(&up_log).unwrap_or_default()) {
        assert!(!alive(pid), "pid {pid} (moto or the hub) is still running");
    }
    assert!(!work.join("fleet.json").exists());
}
