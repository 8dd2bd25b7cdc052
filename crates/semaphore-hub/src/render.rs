//! Text for people: tables of jobs and agents, a job's log as plain text, UTC times.

use agent_protocol::LogEvent;

use crate::records::{AgentRecord, JobRecord};

/// A job's events as a person reads them: the plain-text form of an uploaded job log
/// ([`LogEvent::into_plain_text`]) followed by the job's result. Lines that are not events are
/// kept as they are.
pub fn plain_log(ndjson: &str) -> String {
    let mut out = String::new();
    for line in ndjson.lines().filter(|l| !l.is_empty()) {
        match serde_json::from_str::<LogEvent>(line) {
            Ok(LogEvent::JobFinished { result, .. }) => {
                out.push_str(&format!("Job {}\n", result.as_str()));
            }
            Ok(event) => out.push_str(&event.into_plain_text().unwrap_or_default()),
            Err(_) => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Columns padded to their widest cell, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The jobs table of `semaphore-hub jobs`.
pub fn jobs_table(jobs: &[JobRecord]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.clone(),
                j.agent_type.clone(),
                format!("{:?}", j.state).to_lowercase(),
                j.result
                    .as_ref()
                    .map(|r| r.as_str().to_owned())
                    .unwrap_or_default(),
                j.agent.clone().unwrap_or_default(),
                utc(j.submitted_at),
                j.started_at.map(utc).unwrap_or_default(),
                j.finished_at.map(utc).unwrap_or_default(),
                j.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "AGENT TYPE",
            "STATE",
            "RESULT",
            "AGENT",
            "SUBMITTED",
            "STARTED",
            "FINISHED",
            "REASON",
        ],
        &rows,
    )
}

/// The agents table of `semaphore-hub agents`.
pub fn agents_table(agents: &[AgentRecord]) -> String {
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.agent_type.clone(),
                format!("{:?}", a.status).to_lowercase(),
                a.state.as_str().to_owned(),
                a.job.clone().unwrap_or_default(),
                a.version.clone(),
                utc(a.registered_at),
                a.end_reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "NAME",
            "AGENT TYPE",
            "STATUS",
            "STATE",
            "JOB",
            "VERSION",
            "REGISTERED",
            "ENDED BECAUSE",
        ],
        &rows,
    )
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_396_373), "2026-11-23 01:12:53");
    }

    #[test]
    fn the_plain_log_keeps_names_and_output() {
        let log = "{\"event\":\"job_started\",\"timestamp\":1}\n\
            {\"event\":\"cmd_started\",\"timestamp\":1,\"directive\":\"echo hi\"}\n\
            {\"event\":\"cmd_output\",\"timestamp\":1,\"output\":\"hi\\n\"}\n\
            {\"event\":\"job_finished\",\"timestamp\":2,\"result\":\"passed\"}\n";
        assert_eq!(plain_log(log), "echo hi\nhi\nJob passed\n");
    }

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "BB"], &[vec!["long".into(), "x".into()]]);
        assert_eq!(t, "A     BB\nlong  x\n");
    }
}
