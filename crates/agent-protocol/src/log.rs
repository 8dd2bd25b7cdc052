//! The job log (spec 7): the five events a job emits, one JSON object per line, and the
//! hub's answer to `POST /refresh`, which renews the loghub token after a 401.

use serde::{Deserialize, Serialize};

use crate::go_json::to_go_json;
use crate::{JobResult, Secret};

/// One event of a job's log. Times are Unix seconds; `timestamp` is when the event was
/// written. Fields serialize in the Go agent's order, `event` first.
///
/// Closed: an event kind this crate does not know is an error (only agents write these, and
/// a loghub that accepted unknown kinds would store logs the UI cannot show). Unknown fields
/// inside a known event are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LogEvent {
    /// The first event of every job that got as far as its logger.
    JobStarted {
        /// When it was written.
        timestamp: i64,
    },
    /// A command (or an agent step such as "Exporting environment variables") starts.
    CmdStarted {
        /// When it was written.
        timestamp: i64,
        /// The command's alias, or its directive.
        directive: String,
    },
    /// A chunk of a command's output (at most 100 bytes while it runs, spec 7.3).
    CmdOutput {
        /// When it was written.
        timestamp: i64,
        /// The text, `\r\n` turned into `\n`, invalid UTF-8 replaced byte by byte.
        output: String,
    },
    /// A command ended.
    CmdFinished {
        /// When it was written.
        timestamp: i64,
        /// As in its `cmd_started`.
        directive: String,
        /// Its exit status (1 when the shell died or the job was stopped).
        exit_code: i32,
        /// When it started.
        started_at: i64,
        /// When it ended.
        finished_at: i64,
    },
    /// The last event of the job.
    JobFinished {
        /// When it was written.
        timestamp: i64,
        /// How the job ended.
        result: JobResult,
    },
}

impl LogEvent {
    /// When the event was written.
    pub fn timestamp(&self) -> i64 {
        match self {
            LogEvent::JobStarted { timestamp }
            | LogEvent::CmdStarted { timestamp, .. }
            | LogEvent::CmdOutput { timestamp, .. }
            | LogEvent::CmdFinished { timestamp, .. }
            | LogEvent::JobFinished { timestamp, .. } => *timestamp,
        }
    }

    /// The event's share of the job's plain-text log (spec 7.6): a command's name on its own
    /// line, a command's output as it is, nothing for the other events.
    pub fn into_plain_text(self) -> Option<String> {
        match self {
            LogEvent::CmdStarted { directive, .. } => Some(directive + "\n"),
            LogEvent::CmdOutput { output, .. } => Some(output),
            LogEvent::JobStarted { .. }
            | LogEvent::CmdFinished { .. }
            | LogEvent::JobFinished { .. } => None,
        }
    }

    /// The event as one log line, byte for byte as the Go agent writes it (Go's HTML-safe
    /// escaping, see [`to_go_json`]), ending in `\n`.
    pub fn to_line(&self) -> String {
        // Plain data with string keys: serialization cannot fail.
        let mut line = to_go_json(self).expect("a log event serializes");
        line.push('\n');
        line
    }
}

/// The hub's answer to `POST /refresh`: a new loghub Bearer token for the current job.
///
/// A missing token reads as empty and unknown fields are ignored, as in the Go agent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshResponse {
    /// The new loghub token.
    pub token: Secret,
}
