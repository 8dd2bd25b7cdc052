//! Shared test plumbing: a job harness with its own home and temp directory, sinks that
//! forward or count events, and the fixture comparison (timestamps wildcarded, paths made
//! relative to `{HOME}`/`{TMP}`, consecutive `cmd_output` joined; `BLESS=1` rewrites).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;
use std::time::Duration;

use agent_protocol::{JobRequest, JobResult, LogEvent};
use semaphore_agent::events::{EventSink, FakeSink, unix_now};
use semaphore_agent::executor::StopSignal;
use semaphore_agent::executor::shell::{ShellConfig, ShellExecutor};
use semaphore_agent::job::{JobSettings, run_job};
use serde_json::Value;

/// A secret planted in the agent's environment: no job may see it.
pub const PLANTED_TOKEN: &str = "planted-registration-token-4d1f";

/// One job's home and temp directory, removed afterwards.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub settings: JobSettings,
    pub grace: Duration,
}

/// What a job produced.
pub struct Outcome {
    pub result: JobResult,
    pub events: Vec<LogEvent>,
    pub started: i64,
    pub finished: i64,
}

impl Harness {
    pub fn new() -> Harness {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
        Harness {
            dir,
            settings: JobSettings::default(),
            grace: Duration::from_millis(500),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// The agent's environment as the tests pretend it: this process's, plus planted secrets.
    pub fn host_env() -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        env.push(("SEMAPHORE_AGENT_TOKEN".into(), PLANTED_TOKEN.into()));
        env.push(("SEMAPHORE_AGENT_LOG_LEVEL".into(), "debug".into()));
        env.push(("AWS_SECRET_ACCESS_KEY".into(), PLANTED_TOKEN.into()));
        env
    }

    pub fn config(&self) -> ShellConfig {
        let mut config = ShellConfig::new(self.home(), self.tmp(), Self::host_env());
        config.stop_grace = self.grace;
        config.start_timeout = Duration::from_secs(30);
        config
    }

    /// Replaces `{HOME}` and `{TMP}` in a request template.
    pub fn request(&self, template: &str) -> JobRequest {
        let text = template
            .replace("{HOME}", &self.home().to_string_lossy())
            .replace("{TMP}", &self.tmp().to_string_lossy());
        serde_json::from_str(&text).expect("a valid job request")
    }

    /// Runs a job to the end with a recording sink.
    pub fn run(&self, request: &JobRequest) -> Outcome {
        let stop = StopSignal::new();
        let mut sink = FakeSink::default();
        self.run_with(request, &mut sink, &stop)
    }

    pub fn run_with(
        &self,
        request: &JobRequest,
        sink: &mut dyn EventSink,
        stop: &StopSignal,
    ) -> Outcome {
        struct Tee<'a> {
            inner: &'a mut dyn EventSink,
            events: Vec<LogEvent>,
        }
        impl EventSink for Tee<'_> {
            fn emit(&mut self, event: LogEvent) {
                self.events.push(event.clone());
                self.inner.emit(event);
            }
            fn close(&mut self) {
                self.inner.close();
            }
        }
        let started = unix_now();
        let mut executor = ShellExecutor::new(self.config(), stop.clone());
        let mut tee = Tee {
            inner: sink,
            events: Vec::new(),
        };
        let result = run_job(request, &self.settings, &mut executor, &mut tee, stop);
        Outcome {
            result,
            events: tee.events,
            started,
            finished: unix_now(),
        }
    }

    /// Runs the job in a thread, events forwarded as they come; the caller may stop it.
    pub fn spawn(
        &self,
        request: JobRequest,
    ) -> (StopSignal, Receiver<LogEvent>, thread::JoinHandle<Outcome>) {
        let stop = StopSignal::new();
        let (tx, rx) = channel();
        let config = self.config();
        let settings = self.settings.clone();
        let stop_clone = stop.clone();
        let handle = thread::spawn(move || {
            let mut sink = ForwardSink(tx);
            let started = unix_now();
            let mut executor = ShellExecutor::new(config, stop_clone.clone());
            let mut recorder = FakeSink::default();
            let result = {
                let mut both = Both(&mut recorder, &mut sink);
                run_job(&request, &settings, &mut executor, &mut both, &stop_clone)
            };
            Outcome {
                result,
                events: recorder.events,
                started,
                finished: unix_now(),
            }
        });
        (stop, rx, handle)
    }
}

/// Sends each event over a channel.
pub struct ForwardSink(pub Sender<LogEvent>);

impl EventSink for ForwardSink {
    fn emit(&mut self, event: LogEvent) {
        let _ = self.0.send(event);
    }
}

struct Both<'a>(&'a mut FakeSink, &'a mut ForwardSink);

impl EventSink for Both<'_> {
    fn emit(&mut self, event: LogEvent) {
        self.0.emit(event.clone());
        self.1.emit(event);
    }
}

/// Waits for a `cmd_started` with this directive (panics after 30 s).
pub fn wait_for_started(rx: &Receiver<LogEvent>, directive: &str) {
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(LogEvent::CmdStarted { directive: d, .. }) if d == directive => return,
            Ok(_) => {}
            Err(e) => panic!("no cmd_started {directive:?}: {e}"),
        }
    }
}

/// The events as JSON values, normalized for comparison with a fixture.
pub fn normalize(outcome: &Outcome, home: &Path, tmp: &Path) -> Vec<Value> {
    let home = home.to_string_lossy().into_owned();
    let tmp = tmp.to_string_lossy().into_owned();
    let mut out: Vec<Value> = Vec::new();
    for event in &outcome.events {
        let mut value = serde_json::to_value(event).expect("events serialize");
        let map = value.as_object_mut().expect("events are objects");
        for key in ["timestamp", "started_at", "finished_at"] {
            if let Some(t) = map.get(key) {
                let t = t.as_i64().expect("times are integers");
                assert!(
                    (outcome.started..=outcome.finished).contains(&t),
                    "{key} {t} outside the job's run {}..={}",
                    outcome.started,
                    outcome.finished
                );
                map.insert(key.to_owned(), Value::from("*"));
            }
        }
        for key in ["output", "directive"] {
            if let Some(Value::String(s)) = map.get_mut(key) {
                // The temp dir lives under the home's parent: replace the longer one first.
                *s = s.replace(&tmp, "{TMP}").replace(&home, "{HOME}");
            }
        }
        let is_output = map.get("event") == Some(&Value::from("cmd_output"));
        if is_output
            && let Some(prev) = out.last_mut()
            && prev["event"] == "cmd_output"
        {
            let joined = format!(
                "{}{}",
                prev["output"].as_str().unwrap_or_default(),
                map["output"].as_str().unwrap_or_default()
            );
            prev["output"] = Value::from(joined);
            continue;
        }
        out.push(value);
    }
    out
}

/// Compares the normalized events with `tests/fixtures/<case>/events.ndjson`, or rewrites
/// that file when `BLESS=1`.
pub fn assert_fixture(case: &str, outcome: &Outcome, home: &Path, tmp: &Path) {
    let actual = normalize(outcome, home, tmp);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(case)
        .join("events.ndjson");
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        let text: String = actual
            .iter()
            .map(|v| format!("{}\n", serde_json::to_string(v).expect("serializes")))
            .collect();
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("fixture dir");
        std::fs::write(&path, text).expect("fixture written");
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (BLESS=1 writes it)", path.display()));
    let expected: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture lines are JSON"))
        .collect();
    if expected != actual {
        let show = |v: &[Value]| {
            v.iter()
                .map(|e| serde_json::to_string(e).expect("serializes"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "event stream of {case} differs from {}\n--- expected\n{}\n--- actual\n{}",
            path.display(),
            show(&expected),
            show(&actual)
        );
    }
}

/// Reads `tests/fixtures/<case>/request.json`, with `{HOME}`/`{TMP}` filled in.
pub fn fixture_request(harness: &Harness, case: &str) -> JobRequest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(case)
        .join("request.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    harness.request(&text)
}

/// Runs a fixture case and compares its events; returns the outcome for further checks.
pub fn run_case(harness: &Harness, case: &str) -> Outcome {
    let request = fixture_request(harness, case);
    let outcome = harness.run(&request);
    assert_fixture(case, &outcome, &harness.home(), &harness.tmp());
    outcome
}

/// Live processes whose command line contains `needle` (Linux `/proc`; elsewhere `ps`).
pub fn processes_matching(needle: &str) -> Vec<String> {
    let out = std::process::Command::new("ps")
        .args(["-A", "-o", "pid=,stat=,args="])
        .output()
        .expect("ps runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(needle) && !l.contains("ps -A"))
        .filter(|l| {
            !l.split_whitespace()
                .nth(1)
                .is_some_and(|s| s.starts_with('Z'))
        })
        .map(str::to_owned)
        .collect()
}
