//! A job that prints a lot streams with bounded memory: RSS of this test process is read
//! from /proc/self/status before and after (Linux only, and only under cargo-nextest, which
//! runs each test in a process of its own).

use std::time::Instant;

use agent_protocol::{JobRequest, JobResult, LogEvent};
use semaphore_agent::events::{EventSink, JsonLinesSink};
use semaphore_agent::executor::StopSignal;
use semaphore_agent::executor::shell::ShellExecutor;
use semaphore_agent::job::run_job;

use crate::support::Harness;

/// Serializes every event (as the stdout and spool sinks do) and counts, keeping nothing.
struct Counting {
    inner: JsonLinesSink<std::io::Sink>,
    bytes: usize,
    max_chunk: usize,
}

impl EventSink for Counting {
    fn emit(&mut self, event: LogEvent) {
        if let LogEvent::CmdOutput { output, .. } = &event {
            self.bytes += output.len();
            self.max_chunk = self.max_chunk.max(output.len());
        }
        self.inner.emit(event);
    }
}

/// Runs a job without recording its events (the harness's `run` keeps them all).
fn run(
    harness: &Harness,
    request: &JobRequest,
    sink: &mut Counting,
    stop: &StopSignal,
) -> JobResult {
    let mut executor = ShellExecutor::new(harness.config(), stop.clone());
    run_job(request, &harness.settings, &mut executor, sink, stop)
}

#[cfg(target_os = "linux")]
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[cfg(target_os = "linux")]
fn streams_with_flat_memory(bytes: u64) {
    let harness = Harness::new();
    let stop = StopSignal::new();
    let mut sink = Counting {
        inner: JsonLinesSink::new(std::io::sink()),
        bytes: 0,
        max_chunk: 0,
    };
    // Warm up: the first job allocates the thread stacks and buffers that every job reuses.
    let warm = harness.request(r#"{"commands": [{"directive": "yes | head -c 1000000"}]}"#);
    run(&harness, &warm, &mut sink, &stop);
    let before = rss_kib();
    sink.bytes = 0;
    let request = harness.request(&format!(
        r#"{{"commands": [{{"directive": "yes | head -c {bytes}"}}]}}"#
    ));
    let started = Instant::now();
    let result = run(&harness, &request, &mut sink, &stop);
    let after = rss_kib();
    assert_eq!(result, JobResult::Passed);
    // "y\n" becomes "y\r\n" on the PTY and "y\n" again in the events.
    // Plus the "Exporting SEMAPHORE_JOB_RESULT\n" line.
    assert_eq!(sink.bytes as u64, bytes + 31, "every byte arrived");
    assert!(sink.max_chunk <= 1000);
    let growth = after.saturating_sub(before);
    eprintln!(
        "{bytes} bytes in {:?}; RSS {before} KiB -> {after} KiB",
        started.elapsed()
    );
    // Under `cargo test` other tests run as threads of this process and their allocations
    // show in its RSS; nextest gives every test a process of its own.
    if std::env::var_os("NEXTEST").is_none() {
        eprintln!("RSS check skipped: run under cargo-nextest for a process of its own");
        return;
    }
    assert!(growth < 4 * 1024, "RSS grew by {growth} KiB");
}

#[test]
#[cfg(target_os = "linux")]
fn twenty_megabytes_stream_with_flat_memory() {
    streams_with_flat_memory(20_000_000);
}

/// `VmHWM` (peak resident memory) of a running process, in KiB.
#[cfg(target_os = "linux")]
fn peak_rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Issue 13: a job printing 1 GB streams through the agent binary with flat memory. The
/// agent's peak resident memory is sampled while the job runs: once a tenth of the output
/// has gone through, and again near the end; the two differ by less than 1 MiB.
/// `scripts/test.sh` builds the binary as the images do (`--profile image`) and names it in
/// `OPTIMIZED_AGENT_BINARY`; without it, the debug binary streams 100 MB instead (it runs at a
/// few MB/s).
#[test]
#[cfg(target_os = "linux")]
fn a_gigabyte_streams_through_the_binary_with_flat_memory() {
    use std::io::Read;
    use std::process::{Command, Stdio};

    let (binary, bytes): (std::path::PathBuf, u64) =
        match std::env::var_os("OPTIMIZED_AGENT_BINARY") {
            Some(path) => (path.into(), 1_000_000_000),
            None => (env!("CARGO_BIN_EXE_semaphore-agent").into(), 100_000_000),
        };
    let dir = tempfile::tempdir().expect("tempdir");
    let job = dir.path().join("job.json");
    std::fs::write(
        &job,
        format!(
            r#"{{"job_id":"m","executor":"shell","commands":[{{"directive":"yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c {bytes}"}}]}}"#
        ),
    )
    .expect("job file");
    let started = Instant::now();
    let mut child = Command::new(&binary)
        .arg("run")
        .arg(&job)
        .env("HOME", dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the agent");
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("stdout");
    // The events are about 1.5 times the output; keep only the tail.
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let (mut read, mut reads) = (0u64, 0u64);
    let (mut early, mut late) = (None, None);
    loop {
        let n = stdout.read(&mut buf).expect("read events");
        if n == 0 {
            break;
        }
        read += n as u64;
        reads += 1;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 1 << 17 {
            tail.drain(..tail.len() - 4096);
        }
        if reads % 64 == 0 {
            let peak = peak_rss_kib(pid);
            if early.is_none() && read >= bytes / 10 {
                early = peak;
            }
            late = peak.or(late);
        }
    }
    let status = child.wait().expect("wait");
    let last = String::from_utf8_lossy(&tail)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(status.success(), "{last}");
    assert!(last.contains(r#""result":"passed""#), "{last}");
    assert!(read > bytes, "every event arrived ({read} bytes of events)");
    let (early, late) = (
        early.expect("an early sample"),
        late.expect("a late sample"),
    );
    eprintln!(
        "{} ({bytes} bytes in {:?}): peak RSS {early} KiB after a tenth, {late} KiB near the end",
        binary.display(),
        started.elapsed()
    );
    assert!(
        late < early + 1024,
        "peak RSS grew from {early} KiB to {late} KiB"
    );
}
