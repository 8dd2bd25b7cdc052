//! What a local fleet did, as its users measure it: each job's queue time (submitted →
//! started), each instance's boot time (launch → its agent registered at the hub), the group's
//! size over time and the instance-seconds used. The fleet observes the hub and the EC2
//! stand-in a few times a second and keeps this record (written to `status.json` for
//! `local-fleet status`); [`Summary`] and [`render`] turn it into figures and a report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use agent_protocol::{JobRequest, LogEvent};
use semaphore_hub::records::{AgentRecord, JobRecord, JobState};
use serde::{Deserialize, Serialize};

use crate::ec2::FleetEvent;

/// Seconds since the fleet came up.
pub type Secs = f64;

/// One job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTrack {
    /// The job file it came from (`-` when unknown).
    pub name: String,
    /// When it was submitted.
    pub submitted: Secs,
    /// When it was first seen started.
    pub started: Option<Secs>,
    /// When it was first seen finished.
    pub finished: Option<Secs>,
    /// `passed`, `failed` or `stopped`.
    pub result: Option<String>,
    /// The instance whose agent ran it.
    pub instance: Option<String>,
    /// The check of its log at the hub, once finished (see [`check_log`]).
    pub log: Option<Result<usize, String>>,
}

impl JobTrack {
    /// A job submitted at `submitted`, from the file `name`, not yet seen started.
    pub fn new(name: &str, submitted: Secs) -> JobTrack {
        JobTrack {
            name: name.to_owned(),
            submitted,
            started: None,
            finished: None,
            result: None,
            instance: None,
            log: None,
        }
    }
}

/// One instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceTrack {
    /// When the group launched it.
    pub launched: Secs,
    /// When its boot program started.
    pub booted: Option<Secs>,
    /// When its agent was first seen registered at the hub.
    pub registered: Option<Secs>,
    /// When it went.
    pub ended: Option<Secs>,
    /// How it went.
    pub end: Option<String>,
}

/// The fleet's record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetRecord {
    /// When the fleet came up, Unix milliseconds.
    pub started_unix_ms: i64,
    /// The group's minimum and maximum size.
    pub min_size: i32,
    /// See `min_size`.
    pub max_size: i32,
    /// Jobs by hub id.
    pub jobs: BTreeMap<String, JobTrack>,
    /// Instances by id.
    pub instances: BTreeMap<String, InstanceTrack>,
    /// The group's desired capacity at each change.
    pub sizes: Vec<(Secs, i32)>,
    /// How many of the stand-in's events are in the record.
    pub events_seen: usize,
    /// The last time anything was observed.
    pub now: Secs,
}

impl FleetRecord {
    /// A record for a fleet that came up at `started_unix_ms`.
    pub fn new(started_unix_ms: i64, min_size: i32, max_size: i32) -> FleetRecord {
        FleetRecord {
            started_unix_ms,
            min_size,
            max_size,
            ..FleetRecord::default()
        }
    }

    fn at_unix_secs(&self, unix: i64) -> Secs {
        ((unix * 1000 - self.started_unix_ms) as f64 / 1000.0).max(0.0)
    }

    /// A job this process submitted, at `at`.
    pub fn submitted(&mut self, id: &str, name: &str, at: Secs) {
        self.jobs.insert(id.to_owned(), JobTrack::new(name, at));
    }

    /// The stand-in's events since the last call (`events` is its whole list) and the group's
    /// size changes.
    pub fn observe_fleet(
        &mut self,
        events: &[(std::time::Duration, FleetEvent)],
        sizes: &[(std::time::Duration, i32)],
    ) {
        for (at, event) in events.iter().skip(self.events_seen) {
            let at = at.as_secs_f64();
            match event {
                FleetEvent::Launched(id) => {
                    self.instances.insert(
                        id.clone(),
                        InstanceTrack {
                            launched: at,
                            booted: None,
                            registered: None,
                            ended: None,
                            end: None,
                        },
                    );
                }
                FleetEvent::Booted(id) => {
                    if let Some(i) = self.instances.get_mut(id) {
                        i.booted = Some(at);
                    }
                }
                FleetEvent::SpotNotice(_) => {}
                ended => {
                    let (id, how) = match ended {
                        FleetEvent::Terminated(id) => {
                            (id, "left the group (its shutdown hook or a scale-in)")
                        }
                        FleetEvent::PoweredOff(id) => (id, "powered off; replaced"),
                        FleetEvent::Unhealthy(id) => (id, "unhealthy; replaced"),
                        FleetEvent::Killed(id) => (id, "killed; replaced"),
                        FleetEvent::SpotReclaimed(id) => (id, "spot capacity reclaimed; replaced"),
                        _ => continue,
                    };
                    if let Some(i) = self.instances.get_mut(id)
                        && i.ended.is_none()
                    {
                        i.ended = Some(at);
                        i.end = Some(how.to_owned());
                    }
                }
            }
        }
        self.events_seen = events.len();
        for (at, size) in sizes.iter().skip(self.sizes.len()) {
            self.sizes.push((at.as_secs_f64(), *size));
        }
    }

    /// What the hub says at `now`: jobs started and finished, agents registered (the boot
    /// program names agents `<instance id>__<suffix>`).
    pub fn observe_hub(&mut self, now: Secs, jobs: &[JobRecord], agents: &[AgentRecord]) {
        self.now = now;
        for job in jobs {
            let submitted = self.at_unix_secs(job.submitted_at);
            let track = self
                .jobs
                .entry(job.id.clone())
                .or_insert_with(|| JobTrack::new("-", submitted));
            let started = matches!(job.state, JobState::Started | JobState::Finished);
            if started && track.started.is_none() {
                track.started = Some(now);
            }
            if job.state == JobState::Finished && track.finished.is_none() {
                track.finished = Some(now);
                track.result = job.result.map(|r| r.as_str().to_owned());
            }
            if track.instance.is_none() {
                track.instance = job
                    .agent
                    .as_deref()
                    .and_then(instance_of)
                    .map(str::to_owned);
            }
        }
        for agent in agents {
            let Some(instance) = instance_of(&agent.name) else {
                continue;
            };
            if let Some(i) = self.instances.get_mut(instance)
                && i.registered.is_none()
            {
                i.registered = Some(now);
            }
        }
    }

    /// Whether every job has finished.
    pub fn all_finished(&self) -> bool {
        self.jobs.values().all(|j| j.finished.is_some())
    }

    /// The figures.
    pub fn summary(&self) -> Summary {
        let queue: Vec<Secs> = self
            .jobs
            .values()
            .filter_map(|j| Some(j.started? - j.submitted))
            .collect();
        let boot: Vec<Secs> = self
            .instances
            .values()
            .filter_map(|i| Some(i.registered? - i.launched))
            .collect();
        let job_seconds = self
            .jobs
            .values()
            .filter_map(|j| Some(j.finished? - j.started?))
            .sum();
        let instance_seconds = self
            .instances
            .values()
            .map(|i| i.ended.unwrap_or(self.now) - i.launched)
            .sum();
        Summary {
            jobs: self.jobs.len(),
            passed: self
                .jobs
                .values()
                .filter(|j| j.result.as_deref() == Some("passed"))
                .count(),
            queue_p50: percentile(&queue, 50.0),
            queue_p95: percentile(&queue, 95.0),
            boot_p50: percentile(&boot, 50.0),
            boot_max: boot
                .iter()
                .copied()
                .fold(None, |m: Option<Secs>, b| Some(m.map_or(b, |m| m.max(b)))),
            instances: self.instances.len(),
            peak_size: self.sizes.iter().map(|(_, s)| *s).max().unwrap_or(0),
            job_seconds,
            instance_seconds,
        }
    }
}

/// The figures of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Jobs submitted.
    pub jobs: usize,
    /// Jobs that passed.
    pub passed: usize,
    /// Queue time, median.
    pub queue_p50: Option<Secs>,
    /// Queue time, 95th percentile.
    pub queue_p95: Option<Secs>,
    /// Boot time (launch → agent registered), median.
    pub boot_p50: Option<Secs>,
    /// Boot time, longest.
    pub boot_max: Option<Secs>,
    /// Instances launched.
    pub instances: usize,
    /// The group's largest desired capacity.
    pub peak_size: i32,
    /// Time jobs ran, summed.
    pub job_seconds: Secs,
    /// Time instances existed, summed.
    pub instance_seconds: Secs,
}

impl Summary {
    /// Instance-seconds per job-second (what a second of CI costs in machine time).
    pub fn instance_seconds_per_job_second(&self) -> Option<f64> {
        (self.job_seconds > 0.0).then(|| self.instance_seconds / self.job_seconds)
    }
}

/// The instance an agent runs on: the boot program names agents `<instance id>__<suffix>`.
pub fn instance_of(agent: &str) -> Option<&str> {
    agent.split_once("__").map(|(instance, _)| instance)
}

/// The nearest-rank percentile `p` (0–100) of `values`; `None` when there are none.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// Checks that a finished job's log at the hub (one JSON event per line) is whole: it opens
/// with `job_started`, every command of the request started and finished in order, and it
/// ends with `job_finished` carrying `result`. Returns the number of events.
pub fn check_log(request: &JobRequest, result: &str, log: &str) -> Result<usize, String> {
    let events: Vec<LogEvent> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_str(line)
                .map_err(|e| format!("event {} is not a log event: {e}", n + 1))
        })
        .collect::<Result<_, _>>()?;
    match events.first() {
        Some(LogEvent::JobStarted { .. }) => {}
        other => return Err(format!("the log opens with {other:?}, not job_started")),
    }
    match events.last() {
        Some(LogEvent::JobFinished { result: r, .. }) if r.as_str() == result => {}
        other => {
            return Err(format!(
                "the log ends with {other:?}, not job_finished {result}"
            ));
        }
    }
    let finished: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            LogEvent::CmdFinished { directive, .. } => Some(directive.as_str()),
            _ => None,
        })
        .collect();
    let mut rest = finished.as_slice();
    for command in &request.commands {
        let shown = command.alias.as_deref().unwrap_or(&command.directive);
        match rest.iter().position(|d| *d == shown) {
            Some(at) => rest = &rest[at + 1..],
            None => return Err(format!("no cmd_finished for the command {shown:?}")),
        }
    }
    Ok(events.len())
}

fn secs(value: Option<Secs>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} s"))
}

/// The report: jobs, instances, the group's size over time and the figures.
pub fn render(record: &FleetRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "jobs ({}):", record.jobs.len());
    let _ = writeln!(
        out,
        "  {:<36}  {:<20}  {:<7}  {:>8}  {:>8}  {:<19}  LOG",
        "JOB", "FILE", "RESULT", "QUEUED", "RAN", "INSTANCE"
    );
    let mut jobs: Vec<(&String, &JobTrack)> = record.jobs.iter().collect();
    jobs.sort_by(|a, b| a.1.submitted.total_cmp(&b.1.submitted));
    for (id, job) in jobs {
        let queued = job.started.map(|s| s - job.submitted);
        let ran = job.finished.zip(job.started).map(|(f, s)| f - s);
        let state = match (&job.result, job.started) {
            (Some(result), _) => result.clone(),
            (None, Some(_)) => "running".to_owned(),
            (None, None) => "queued".to_owned(),
        };
        let log = match &job.log {
            Some(Ok(events)) => format!("whole, {events} events"),
            Some(Err(problem)) => format!("INCOMPLETE: {problem}"),
            None => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {id:<36}  {:<20}  {state:<7}  {:>8}  {:>8}  {:<19}  {log}",
            job.name,
            secs(queued),
            secs(ran),
            job.instance.as_deref().unwrap_or("-"),
        );
    }
    let _ = writeln!(out, "instances ({}):", record.instances.len());
    let _ = writeln!(
        out,
        "  {:<19}  {:>9}  {:>10}  {:>8}  END",
        "INSTANCE", "LAUNCHED", "BOOT", "UP"
    );
    let mut instances: Vec<(&String, &InstanceTrack)> = record.instances.iter().collect();
    instances.sort_by(|a, b| a.1.launched.total_cmp(&b.1.launched));
    for (id, instance) in instances {
        let boot = instance.registered.map(|r| r - instance.launched);
        let up = instance.ended.unwrap_or(record.now) - instance.launched;
        let _ = writeln!(
            out,
            "  {id:<19}  {:>9}  {:>10}  {:>8}  {}",
            format!("+{:.1} s", instance.launched),
            secs(boot),
            format!("{up:.1} s"),
            instance.end.as_deref().unwrap_or("running"),
        );
    }
    let timeline: Vec<String> = record
        .sizes
        .iter()
        .map(|(at, size)| format!("{size} (+{at:.0} s)"))
        .collect();
    let _ = writeln!(
        out,
        "group size (min {}, max {}): {}",
        record.min_size,
        record.max_size,
        if timeline.is_empty() {
            "-".to_owned()
        } else {
            timeline.join(" → ")
        }
    );
    out.push_str(&figures(&record.summary()));
    out
}

/// The figures of a run, three lines: jobs passed and queue time, boot time, instance-seconds
/// per job-second.
pub fn figures(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "jobs passed: {}/{}; queue time (submitted → started) p50 {}, p95 {}",
        summary.passed,
        summary.jobs,
        secs(summary.queue_p50),
        secs(summary.queue_p95)
    );
    let _ = writeln!(
        out,
        "boot time (launch → agent registered) p50 {}, max {}, over {} instance(s); peak group size {}",
        secs(summary.boot_p50),
        secs(summary.boot_max),
        summary.instances,
        summary.peak_size
    );
    let _ = writeln!(
        out,
        "instance-seconds {:.1} for {:.1} job-seconds: {} instance-seconds per job-second",
        summary.instance_seconds,
        summary.job_seconds,
        summary
            .instance_seconds_per_job_second()
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"))
    );
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(percentile(&values, 50.0), Some(3.0));
        assert_eq!(percentile(&values, 95.0), Some(5.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.5], 95.0), Some(7.5));
        assert_eq!(percentile(&[], 50.0), None);
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&twenty, 95.0), Some(19.0));
    }

    fn job(id: &str, state: JobState, agent: Option<&str>) -> JobRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "seq": 1, "agent_type": "t", "state": state,
            "agent": agent, "submitted_at": 1_000, "assigned_at": null, "started_at": null,
            "finished_at": null,
            "result": if state == JobState::Finished { Some("passed") } else { None },
            "reason": null, "stop_reason": null, "time_limit_secs": null, "log_events": 0,
            "log_bytes": 0, "log_trimmed": false, "request": JobRequest::default(),
        }))
        .expect("job record")
    }

    #[test]
    fn a_record_follows_jobs_and_instances_to_the_figures() {
        let mut record = FleetRecord::new(1_000_000, 0, 2);
        let d = Duration::from_secs_f64;
        let events = vec![
            (d(1.0), FleetEvent::Launched("i-1".into())),
            (d(1.0), FleetEvent::Booted("i-1".into())),
            (d(2.0), FleetEvent::Launched("i-2".into())),
        ];
        let sizes = vec![(d(0.5), 0), (d(1.0), 2)];
        record.submitted("job-a", "a.yml", 0.0);
        record.submitted("job-b", "b.yml", 0.5);
        record.observe_fleet(&events, &sizes);
        record.observe_hub(2.5, &[job("job-a", JobState::Queued, None)], &[]);
        let agent: AgentRecord = serde_json::from_value(serde_json::json!({
            "name": "i-1__abc", "agent_type": "t", "version": "v", "os": "linux", "arch": "x86_64",
            "hostname": "h", "pid": 1, "single_job": false, "idle_timeout_secs": 0,
            "grace_period_secs": 0, "pinned_job": null, "registered_at": 1000, "status": "active",
            "ended_at": null, "end_reason": null, "state": "waiting-for-jobs", "job": null, "idle_since": 0,
            "interrupted_at": null, "disconnect_requested": false, "last_sync": 0,
            "token_digest": ""
        }))
        .expect("agent record");
        record.observe_hub(
            3.0,
            &[
                job("job-a", JobState::Started, Some("i-1__abc")),
                job("job-b", JobState::Queued, None),
            ],
            std::slice::from_ref(&agent),
        );
        assert!(!record.all_finished());
        record.observe_hub(
            7.0,
            &[
                job("job-a", JobState::Finished, Some("i-1__abc")),
                job("job-b", JobState::Started, Some("i-2__def")),
            ],
            &[agent],
        );
        record.observe_hub(
            9.0,
            &[job("job-b", JobState::Finished, Some("i-2__def"))],
            &[],
        );
        // Events already seen are not applied twice; new ones are.
        let mut events = events;
        events.push((d(10.0), FleetEvent::Terminated("i-1".into())));
        events.push((d(11.0), FleetEvent::Terminated("i-2".into())));
        record.observe_fleet(&events, &[(d(0.5), 0), (d(1.0), 2), (d(11.0), 0)]);
        assert!(record.all_finished());

        let summary = record.summary();
        assert_eq!(record.jobs["job-a"].instance.as_deref(), Some("i-1"));
        assert_eq!(record.jobs["job-a"].result.as_deref(), Some("passed"));
        assert_eq!(record.instances["i-1"].registered, Some(3.0));
        assert_eq!((summary.jobs, summary.passed), (2, 2));
        // Queue times 3.0 (a) and 6.5 (b).
        assert_eq!(summary.queue_p50, Some(3.0));
        assert_eq!(summary.queue_p95, Some(6.5));
        // Only i-1 registered: launched 1.0, registered 3.0.
        assert_eq!(summary.boot_p50, Some(2.0));
        assert_eq!(summary.peak_size, 2);
        // Jobs ran 4 s and 2 s; instances lived 9 s each.
        assert_eq!(summary.job_seconds, 6.0);
        assert_eq!(summary.instance_seconds, 18.0);
        assert_eq!(summary.instance_seconds_per_job_second(), Some(3.0));

        let report = render(&record);
        assert!(
            report.contains("group size (min 0, max 2): 0 (+0 s) → 2 (+1 s) → 0 (+11 s)"),
            "{report}"
        );
        assert!(
            report.contains(
                "jobs passed: 2/2; queue time (submitted → started) p50 3.0 s, p95 6.5 s"
            ),
            "{report}"
        );
        assert!(
            report.contains("18.0 for 6.0 job-seconds: 3.00 instance-seconds per job-second"),
            "{report}"
        );
    }

    #[test]
    fn a_log_is_whole_only_with_every_command_and_the_result() {
        let request = JobRequest {
            commands: vec![
                agent_protocol::Command::new("echo one"),
                agent_protocol::Command {
                    directive: "make test".into(),
                    alias: Some("Run tests".into()),
                },
            ],
            ..JobRequest::default()
        };
        let line = |event: serde_json::Value| event.to_string();
        let started = line(serde_json::json!({"event": "job_started", "timestamp": 1}));
        let cmd = |d: &str| {
            [
                line(serde_json::json!({"event": "cmd_started", "timestamp": 1, "directive": d})),
                line(
                    serde_json::json!({"event": "cmd_finished", "timestamp": 2, "directive": d,
                    "exit_code": 0, "started_at": 1, "finished_at": 2}),
                ),
            ]
            .join("\n")
        };
        let finished =
            line(serde_json::json!({"event": "job_finished", "timestamp": 3, "result": "passed"}));
        let whole = [
            started.clone(),
            cmd("echo one"),
            cmd("Run tests"),
            finished.clone(),
        ]
        .join("\n");
        assert_eq!(check_log(&request, "passed", &whole), Ok(6));
        assert!(check_log(&request, "failed", &whole).is_err());
        let missing = [started.clone(), cmd("echo one"), finished.clone()].join("\n");
        assert!(
            check_log(&request, "passed", &missing).is_err_and(|e| e.contains("\"Run tests\"")),
        );
        let unfinished = [started, cmd("echo one"), cmd("Run tests")].join("\n");
        assert!(check_log(&request, "passed", &unfinished).is_err());
        assert!(check_log(&request, "passed", "not json").is_err());
    }
}
