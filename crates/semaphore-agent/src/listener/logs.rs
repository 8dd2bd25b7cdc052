//! A job's log on its way to the loghub (spec 7.4): each event is appended as one line to a
//! spool file on disk ([`SpoolWriter`], the job's [`LogSink`]), and a pusher task sends the
//! lines in batches of up to 2000 with `?start_from=<index>`. Memory stays flat whatever the
//! job prints: only one batch is ever read back.
//!
//! Answers: 200 moves on; 401 asks the hub for a new token and sends the same batch again;
//! 422 stops pushing for good (the log is "trimmed"); anything else sends the same batch
//! again on the next turn. [`PushLogger::close`] flushes (shorter waits, stop when nothing is
//! left), gives up after 60 s, and hands back the [`Spool`], deleted when dropped, so that the
//! log can still be uploaded as an artifact (spec 7.6, [`crate::listener::upload`]).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_protocol::{LogEvent, Secret};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::listener::LogSink;
use crate::listener::hub::{Hub, Loghub, PushStatus};
use crate::listener::random_between;

/// Most events in one push.
pub const BATCH_EVENTS: usize = 2000;
/// The pusher's wait between turns while the job runs.
pub const PUSH_INTERVAL: (Duration, Duration) =
    (Duration::from_millis(1500), Duration::from_millis(3000));
/// The pusher's wait between turns once the job has ended.
pub const FLUSH_INTERVAL: (Duration, Duration) =
    (Duration::from_millis(250), Duration::from_millis(500));
/// How long closing waits for the last events to be pushed.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// Appends each event as one line to the spool file.
#[derive(Debug)]
pub struct SpoolWriter {
    file: File,
    path: PathBuf,
    failed: bool,
}

impl SpoolWriter {
    /// Creates `<dir>/job_log_<unix nanoseconds>.json`.
    pub fn create(dir: &Path) -> std::io::Result<SpoolWriter> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = dir.join(format!("job_log_{nanos}.json"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        Ok(SpoolWriter {
            file,
            path,
            failed: false,
        })
    }

    /// The spool file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl LogSink for SpoolWriter {
    fn emit(&mut self, event: &LogEvent) {
        // One write per line, so the pusher never sees half a line as a whole one.
        if let Err(err) = self.file.write_all(event.to_line().as_bytes())
            && !self.failed
        {
            self.failed = true;
            tracing::error!(path = %self.path.display(), error = %err, "failed to write the job log spool");
        }
    }
}

/// What pushing a job's log came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushReport {
    /// Events the loghub accepted.
    pub pushed: u64,
    /// The loghub answered 422: it refused more output.
    pub trimmed: bool,
    /// Closing gave up before everything was pushed.
    pub gave_up: bool,
}

/// The pusher task of one job.
#[derive(Debug)]
pub struct PushLogger {
    flushing: watch::Sender<bool>,
    task: JoinHandle<PushReport>,
    spool: Spool,
}

/// Where one job's log goes.
#[derive(Debug, Clone)]
pub struct PushTarget {
    /// The job's `logger.url` (no query).
    pub url: String,
    /// The job's `logger.token`.
    pub token: Secret,
}

impl PushLogger {
    /// Creates the spool file in `dir` and starts pushing it to `target`, refreshing the
    /// token through `hub` on 401. Returns the job's sink and the pusher.
    pub fn start<H: Hub, L: Loghub>(
        dir: &Path,
        target: PushTarget,
        hub: Arc<H>,
        loghub: Arc<L>,
    ) -> std::io::Result<(SpoolWriter, PushLogger)> {
        let writer = SpoolWriter::create(dir)?;
        let (flushing, flushing_rx) = watch::channel(false);
        let spool = Spool(writer.path().to_path_buf());
        let task = tokio::spawn(push_loop(hub, loghub, target, spool.0.clone(), flushing_rx));
        Ok((
            writer,
            PushLogger {
                flushing,
                task,
                spool,
            },
        ))
    }

    /// Call after `job_finished` was written: pushes what is left (for up to 60 s). Returns
    /// what pushing came to and the spool file.
    pub async fn close(self) -> (PushReport, Spool) {
        // The pusher may have stopped already (422); then nobody listens.
        let _ = self.flushing.send(true);
        let mut task = self.task;
        let report = match tokio::time::timeout(FLUSH_TIMEOUT, &mut task).await {
            Ok(Ok(report)) => report,
            Ok(Err(err)) => {
                tracing::error!(error = %err, "the log pusher failed");
                PushReport {
                    gave_up: true,
                    ..PushReport::default()
                }
            }
            Err(_) => {
                task.abort();
                tracing::error!("Could not push all logs to the loghub in time, giving up");
                PushReport {
                    gave_up: true,
                    ..PushReport::default()
                }
            }
        };
        (report, self.spool)
    }
}

/// A job's spool file, deleted when dropped.
#[derive(Debug)]
pub struct Spool(PathBuf);

impl Spool {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_file(&self.0) {
            tracing::warn!(path = %self.0.display(), error = %err, "failed to delete the job log spool");
        }
    }
}

/// A job log that stays on this machine (`logger.method` `pull` or empty): events are written
/// to a spool file, deleted when the job ends. API mode, which would serve it, is out of scope.
#[derive(Debug)]
pub struct LocalLog {
    spool: Spool,
    max_size_in_bytes: u64,
}

impl LocalLog {
    /// Creates the spool file in `dir`; the log counts as trimmed from `max_size_in_bytes` on
    /// (the request's `logger.max_size_in_bytes`, spec 7.5).
    pub fn start(dir: &Path, max_size_in_bytes: u64) -> std::io::Result<(SpoolWriter, LocalLog)> {
        let writer = SpoolWriter::create(dir)?;
        let spool = Spool(writer.path().to_path_buf());
        Ok((
            writer,
            LocalLog {
                spool,
                max_size_in_bytes,
            },
        ))
    }

    /// Whether the log reached its size limit, and the spool file.
    pub fn close(self) -> (bool, Spool) {
        let size = std::fs::metadata(self.spool.path()).map_or(0, |meta| meta.len());
        (size >= self.max_size_in_bytes, self.spool)
    }
}

async fn push_loop<H: Hub, L: Loghub>(
    hub: Arc<H>,
    loghub: Arc<L>,
    target: PushTarget,
    spool: PathBuf,
    flushing: watch::Receiver<bool>,
) -> PushReport {
    let mut token = target.token;
    let mut start_from: u64 = 0;
    let mut offset: u64 = 0;
    let mut report = PushReport::default();
    loop {
        let interval = if *flushing.borrow() {
            FLUSH_INTERVAL
        } else {
            PUSH_INTERVAL
        };
        tokio::time::sleep(random_between(interval.0, interval.1)).await;
        // Read the flag before the file: once it is set, every event is in the file.
        let flush = *flushing.borrow();
        let batch = match read_batch(&spool, offset, BATCH_EVENTS) {
            Ok(batch) => batch,
            Err(err) => {
                tracing::error!(path = %spool.display(), error = %err, "failed to read the job log spool");
                if flush {
                    return report;
                }
                continue;
            }
        };
        if batch.events == 0 {
            if flush {
                return report;
            }
            continue;
        }
        let events = u64::try_from(batch.events).unwrap_or(u64::MAX);
        match loghub
            .push(&target.url, &token, start_from, batch.body)
            .await
        {
            Ok(PushStatus::Accepted) => {
                start_from += events;
                offset += batch.bytes;
                report.pushed = start_from;
            }
            Ok(PushStatus::NoSpace) => {
                tracing::warn!(
                    start_from,
                    "the loghub refused more output (422); no more logs are pushed for this job"
                );
                report.trimmed = true;
                return report;
            }
            Ok(PushStatus::Unauthorized) => match hub.refresh_log_token().await {
                Ok(fresh) => {
                    tracing::info!(
                        start_from,
                        "the loghub token expired; got a new one, sending the batch again"
                    );
                    token = fresh;
                }
                Err(err) => tracing::warn!(error = %err, "failed to refresh the loghub token"),
            },
            Ok(PushStatus::Other(status)) => {
                tracing::warn!(
                    start_from,
                    status,
                    "the loghub refused a batch; sending it again"
                );
            }
            Err(err) => {
                tracing::warn!(start_from, error = %err, "failed to push a batch of logs; sending it again");
            }
        }
    }
}

struct Batch {
    body: Vec<u8>,
    events: usize,
    bytes: u64,
}

/// Up to `max` whole lines from byte `offset` on (a line still being written is left for the
/// next turn).
fn read_batch(path: &Path, offset: u64, max: usize) -> std::io::Result<Batch> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(file);
    let mut body = Vec::new();
    let mut events = 0;
    while events < max {
        let before = body.len();
        let read = reader.read_until(b'\n', &mut body)?;
        if read == 0 {
            break;
        }
        if body.last() != Some(&b'\n') {
            body.truncate(before);
            break;
        }
        events += 1;
    }
    let bytes = u64::try_from(body.len()).unwrap_or(u64::MAX);
    Ok(Batch {
        body,
        events,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_stops_at_the_limit_and_before_a_partial_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool");
        std::fs::write(&path, "a\nb\nc\npartial").expect("write");
        let batch = read_batch(&path, 0, 2).expect("read");
        assert_eq!((batch.events, batch.bytes), (2, 4));
        assert_eq!(batch.body, b"a\nb\n");
        let rest = read_batch(&path, 4, 10).expect("read");
        assert_eq!((rest.events, rest.body), (1, b"c\n".to_vec()));
        let none = read_batch(&path, 6, 10).expect("read");
        assert_eq!(none.events, 0);
    }
}
