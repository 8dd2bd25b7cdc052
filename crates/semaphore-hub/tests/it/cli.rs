//! The `semaphore-hub` command line: `serve`, then the job API's commands as a person types
//! them, with their errors for bad input.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

struct Served {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_semaphore-hub"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("hub.db"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve printed its address")
            .expect("read");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().expect("url").to_owned();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, url, dir }
}

fn hub(served: &Served, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_semaphore-hub"))
        .args(args)
        .env_remove("SEMAPHORE_HUB_API_TOKEN")
        .env("SEMAPHORE_HUB_URL", &served.url)
        .env(
            "SEMAPHORE_HUB_API_TOKEN_FILE",
            served.dir.path().join("hub.db.api-token"),
        )
        .output()
        .expect("run semaphore-hub")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn refused(output: Output, needle: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path.display().to_string()
}

#[test]
fn a_person_creates_a_type_submits_jobs_and_reads_them_back() {
    let served = serve();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(served.dir.path().join("hub.db.api-token"))
            .expect("token file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the API token file is private");
    }
    let token = ok(hub(&served, &["agent-type", "create", "linux"]));
    assert_eq!(token.trim().len(), 64, "{token}");
    refused(
        hub(&served, &["agent-type", "create", "linux"]),
        "\"linux\" already exists",
    );
    assert!(ok(hub(&served, &["agent-types"])).contains("linux"));

    let dir = served.dir.path();
    let job = write(
        dir,
        "job.yml",
        "commands:\n  - echo hi\nexecution_time_limit:\n  minutes: 5\n",
    );
    let id = ok(hub(
        &served,
        &["job", "submit", "--agent-type", "linux", &job],
    ));
    let id = id.trim();
    let shown: serde_json::Value =
        serde_json::from_str(&ok(hub(&served, &["job", "show", id]))).expect("json");
    assert_eq!(shown["state"], "queued");
    assert_eq!(shown["time_limit_secs"], 300);
    let table = ok(hub(&served, &["jobs"]));
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains(id) && table.contains("queued"), "{table}");
    let listed: serde_json::Value =
        serde_json::from_str(&ok(hub(&served, &["jobs", "--json"]))).expect("json");
    assert_eq!(listed[0]["id"], id);

    // Bad input changes nothing and says what is wrong.
    refused(
        hub(&served, &["job", "submit", "--agent-type", "windows", &job]),
        "\"windows\"",
    );
    let bad = write(dir, "bad.yml", "commands: [a]\nenv: {A: b}\n");
    refused(
        hub(&served, &["job", "submit", "--agent-type", "linux", &bad]),
        "bad.yml",
    );
    refused(
        hub(
            &served,
            &["job", "submit", "--agent-type", "linux", "missing.yml"],
        ),
        "missing.yml",
    );
    let listed: serde_json::Value =
        serde_json::from_str(&ok(hub(&served, &["jobs", "--json"]))).expect("json");
    assert_eq!(listed.as_array().expect("jobs").len(), 1);

    // A stopped job's wait exits 2; an unknown job is an error.
    ok(hub(&served, &["job", "stop", id]));
    let waited = hub(&served, &["job", "wait", id]);
    assert_eq!(waited.status.code(), Some(2), "{}", text(&waited.stderr));
    assert!(text(&waited.stderr).contains("stopped"));
    refused(hub(&served, &["job", "log", "nope"]), "no job nope");
    assert_eq!(ok(hub(&served, &["agents", "--json"])).trim(), "[]");

    // Without the right token nothing is answered.
    let wrong = Command::new(env!("CARGO_BIN_EXE_semaphore-hub"))
        .args(["jobs", "--hub", &served.url])
        .env("SEMAPHORE_HUB_API_TOKEN", "wrong")
        .output()
        .expect("run");
    refused(wrong, "refused the API token");
}

#[cfg(unix)]
#[test]
fn serve_stops_cleanly_on_sigterm() {
    let mut served = serve();
    let status = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = served.child.wait().expect("wait");
    assert_eq!(exit.code(), Some(0));
}
