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

#[test]
#[ignore = "takes longer than 20 s in a debug build; run with --run-ignored"]
#[cfg(target_os = "linux")]
fn two_hundred_megabytes_stream_with_flat_memory() {
    streams_with_flat_memory(200_000_000);
}
