//! Where a job's events go: the [`EventSink`] trait, a sink that writes each event as one
//! JSON line ([`JsonLinesSink`], used by `run FILE`), and a recorder for tests ([`FakeSink`]).
//!
//! The wire form of an event is `agent_protocol::LogEvent`; this module never builds JSON by
//! hand. The push logger (disk spool and HTTP batches, spec 7.4) is another engineer's and
//! implements the same trait. A sink gets events one at a time as the job produces them and
//! must not keep them in memory, whatever the output volume.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use agent_protocol::{JobResult, LogEvent};

/// Receives a job's events, in order, as they happen.
pub trait EventSink {
    /// One event. A sink that cannot store it deals with the error itself (the job goes on,
    /// as the Go agent's does when its log file fails).
    fn emit(&mut self, event: LogEvent);

    /// Called once, right after `job_finished` and before the executor is torn down (spec 8
    /// step 11). This is the seam for closing the push logger and for `upload-job-logs`
    /// (spec 7.6), which runs while the job's executor is still up. Default: nothing.
    fn close(&mut self) {}
}

impl<S: EventSink + ?Sized> EventSink for &mut S {
    fn emit(&mut self, event: LogEvent) {
        (**self).emit(event);
    }

    fn close(&mut self) {
        (**self).close();
    }
}

/// Writes each event as one line of Go-compatible JSON (spec 7.1), flushing after each line
/// so a reader sees events as they happen. Nothing is buffered beyond one line.
#[derive(Debug)]
pub struct JsonLinesSink<W: Write> {
    out: W,
    failed: bool,
}

impl<W: Write> JsonLinesSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> JsonLinesSink<W> {
        JsonLinesSink { out, failed: false }
    }

    /// Whether a write failed (the first failure is logged; later events are dropped).
    pub fn failed(&self) -> bool {
        self.failed
    }
}

impl<W: Write> EventSink for JsonLinesSink<W> {
    fn emit(&mut self, event: LogEvent) {
        if self.failed {
            return;
        }
        let line = event.to_line();
        if let Err(err) = self
            .out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.flush())
        {
            tracing::error!(error = %err, "failed to write a job event; dropping the rest");
            self.failed = true;
        }
    }
}

/// Records every event, for tests. `closed` counts [`EventSink::close`] calls.
#[derive(Debug, Default, Clone)]
pub struct FakeSink {
    /// The events, in order.
    pub events: Vec<LogEvent>,
    /// How many times `close` was called.
    pub closed: usize,
}

impl EventSink for FakeSink {
    fn emit(&mut self, event: LogEvent) {
        self.events.push(event);
    }

    fn close(&mut self) {
        self.closed += 1;
    }
}

/// The current time in Unix seconds, as every event carries it.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Builds events stamped with the current time and hands them to a sink.
pub(crate) struct Emitter<'a> {
    sink: &'a mut dyn EventSink,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(sink: &'a mut dyn EventSink) -> Emitter<'a> {
        Emitter { sink }
    }

    pub(crate) fn job_started(&mut self) {
        self.sink.emit(LogEvent::JobStarted {
            timestamp: unix_now(),
        });
    }

    pub(crate) fn cmd_started(&mut self, directive: &str) {
        self.sink.emit(LogEvent::CmdStarted {
            timestamp: unix_now(),
            directive: directive.to_owned(),
        });
    }

    pub(crate) fn output(&mut self, output: String) {
        self.sink.emit(LogEvent::CmdOutput {
            timestamp: unix_now(),
            output,
        });
    }

    pub(crate) fn cmd_finished(&mut self, directive: &str, exit_code: i32, started_at: i64) {
        self.sink.emit(LogEvent::CmdFinished {
            timestamp: unix_now(),
            directive: directive.to_owned(),
            exit_code,
            started_at,
            finished_at: unix_now(),
        });
    }

    pub(crate) fn job_finished(&mut self, result: JobResult) {
        self.sink.emit(LogEvent::JobFinished {
            timestamp: unix_now(),
            result,
        });
    }

    pub(crate) fn close(&mut self) {
        self.sink.close();
    }
}
