//! Ending a job's whole process session: every process group in the shell's session gets
//! SIGTERM, and whatever is still alive after the grace period gets SIGKILL (spec 9.7, done
//! the way the Go agent does not: it only kills bash and relies on the PTY hangup).
//!
//! The job's bash is a session leader, and as an interactive shell with job control it puts
//! each pipeline into a process group of its own, so one `killpg` is not enough: the members
//! of the session are listed (Linux: `/proc`; macOS: `ps` plus `getsid`). A process that
//! called `setsid` itself has left the session and is not found; that is the one way out.

use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// One live process of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its pid.
    pub pid: i32,
    /// Its process group.
    pub pgid: i32,
}

/// The live (not zombie) processes whose session id is `sid`.
pub fn members(sid: i32) -> Vec<Member> {
    #[cfg(target_os = "linux")]
    {
        linux_members(sid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        ps_members(sid)
    }
}

#[cfg(target_os = "linux")]
fn linux_members(sid: i32) -> Vec<Member> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some((state, pgid, session)) = parse_stat(&stat)
            && session == sid
            && state != 'Z'
            && state != 'X'
        {
            out.push(Member { pid, pgid });
        }
    }
    out
}

/// `(state, pgrp, session)` from `/proc/<pid>/stat`. The command name may hold spaces and
/// parentheses, so the fields are counted after its last `)`.
#[cfg(target_os = "linux")]
fn parse_stat(stat: &str) -> Option<(char, i32, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    Some((state, pgrp, session))
}

#[cfg(not(target_os = "linux"))]
fn ps_members(sid: i32) -> Vec<Member> {
    let Ok(out) = std::process::Command::new("ps")
        .args(["-A", "-o", "pid=,pgid=,stat="])
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let pid: i32 = f.next()?.parse().ok()?;
            let pgid: i32 = f.next()?.parse().ok()?;
            let stat = f.next()?;
            if stat.starts_with('Z') {
                return None;
            }
            let session = nix::unistd::getsid(Some(Pid::from_raw(pid))).ok()?;
            (session.as_raw() == sid).then_some(Member { pid, pgid })
        })
        .collect()
}

/// Sends SIGTERM to every process group of session `sid`, waits up to `grace` for every
/// member other than the leader to exit (an interactive bash ignores SIGTERM), then sends
/// SIGKILL to whatever is left, the leader included, until nothing is left (bounded).
pub fn terminate(sid: i32, grace: Duration) {
    let mut groups: Vec<i32> = members(sid).iter().map(|m| m.pgid).collect();
    groups.sort_unstable();
    groups.dedup();
    for pgid in &groups {
        let _ = killpg(Pid::from_raw(*pgid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && members(sid).iter().any(|m| m.pid != sid) {
        thread::sleep(Duration::from_millis(20));
    }
    kill_all(sid);
}

/// SIGKILL to every member and group of session `sid`, repeated while members remain (a
/// process may fork between listing and killing), for at most about a second.
pub fn kill_all(sid: i32) {
    for _ in 0..50 {
        let left = members(sid);
        if left.is_empty() {
            return;
        }
        for m in &left {
            let _ = killpg(Pid::from_raw(m.pgid), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(m.pid), Signal::SIGKILL);
        }
        thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!(sid, "processes of the job's session survived SIGKILL");
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_names() {
        let stat = "123 (a) b (c)) S 1 77 88 0 -1";
        assert_eq!(parse_stat(stat), Some(('S', 77, 88)));
    }
}
