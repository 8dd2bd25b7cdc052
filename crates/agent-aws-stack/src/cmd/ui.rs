//! How the deploy engine's events look: a live progress bar with events scrolling above it
//! when stderr is a terminal, plain lines otherwise (CI logs, pipes); questions asked on the
//! terminal only. Everything here goes to stderr: stdout carries only results.

use std::collections::BTreeSet;
use std::io::{BufRead as _, IsTerminal as _, Write as _};

use indicatif::{ProgressBar, ProgressStyle};
use stack_deploy::cloud::StackEvent;
use stack_deploy::progress::{ChangeSetPurpose, StackOperation};
use stack_deploy::status::Readiness;
use stack_deploy::{Confirm, DeployEvent, NoAnswer, Progress, Question};

/// Terminal or plain output on stderr.
pub struct TermUi {
    tty: bool,
    colors: bool,
    width: usize,
    bar: Option<ProgressBar>,
    done: BTreeSet<String>,
}

impl TermUi {
    /// Draws a progress bar only when stderr is a terminal; colours follow the terminal
    /// and `NO_COLOR`/`CLICOLOR_FORCE`.
    pub fn new() -> TermUi {
        TermUi {
            tty: std::io::stderr().is_terminal(),
            colors: console::colors_enabled_stderr(),
            width: stderr_width(),
            bar: None,
            done: BTreeSet::new(),
        }
    }

    /// One line per event even on a terminal (`--progress events`).
    pub fn plain(mut self) -> TermUi {
        self.tty = false;
        self
    }

    fn line(&mut self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{text}");
                let _ = err.flush();
            }
        }
    }

    fn begin(&mut self, operation: StackOperation, total: usize) {
        self.done.clear();
        if !self.tty {
            self.line(&format!(
                "==> Stack {operation} started; following its events"
            ));
            return;
        }
        let bar = if total > 0 {
            ProgressBar::new(total as u64)
        } else {
            ProgressBar::new_spinner()
        };
        let template = if total > 0 {
            "{spinner} {msg} [{elapsed}] {bar:30} {pos}/{len} resources"
        } else {
            "{spinner} {msg} [{elapsed}]"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(format!("{operation} in progress"));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        self.bar = Some(bar);
    }

    fn event(&mut self, event: &StackEvent) {
        let status = event.status.as_str();
        let status = if self.colors {
            let style = if event.status.is_failed() {
                console::Style::new().red()
            } else if event.status.is_success() {
                console::Style::new().green()
            } else {
                console::Style::new().yellow()
            };
            style.force_styling(true).apply_to(status).to_string()
        } else {
            status.to_owned()
        };
        let mut text = format!(
            "{}  {status}  {}  {}",
            clock(event.timestamp),
            event.resource_type,
            event.logical_id
        );
        if let Some(reason) = &event.reason {
            text.push_str("  ");
            text.push_str(reason);
        }
        self.line(&text);
        if !event.is_stack()
            && event.status.is_settled()
            && self.done.insert(event.logical_id.clone())
            && let Some(bar) = &self.bar
        {
            bar.inc(1);
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Columns the security tables fit in on stderr: the terminal's width, else
/// [`stack_deploy::render::DEFAULT_WIDTH`].
pub fn stderr_width() -> usize {
    terminal_width(&console::Term::stderr())
}

/// Columns the security tables fit in on stdout (`diff`).
pub fn stdout_width() -> usize {
    terminal_width(&console::Term::stdout())
}

fn terminal_width(term: &console::Term) -> usize {
    if !term.is_term() {
        return stack_deploy::render::DEFAULT_WIDTH;
    }
    match term.size_checked() {
        Some((_, columns)) if columns >= 40 => usize::from(columns),
        _ => stack_deploy::render::DEFAULT_WIDTH,
    }
}

/// `HH:MM:SS` (UTC) of an epoch time.
fn clock(epoch: f64) -> String {
    let secs = epoch as u64 % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The line an event is shown as, for the events that are one line.
fn describe(event: &DeployEvent<'_>) -> Option<String> {
    Some(match event {
        DeployEvent::ChangeSetCreating {
            stack,
            change_set,
            kind,
            purpose: ChangeSetPurpose::Deploy,
        } => format!(
            "==> Creating change set {change_set} ({}) for stack {stack}",
            kind.operation()
        ),
        DeployEvent::ChangeSetCreating {
            purpose: ChangeSetPurpose::Diff,
            ..
        } => "==> Creating a read-only change set for accurate replacement information (--no-change-set skips it)".to_owned(),
        DeployEvent::ChangeSetUnavailable { error } => format!(
            "warning: could not create a change set ({error}); replacement below is from the resource schemas"
        ),
        DeployEvent::StackCreating { stack } => format!("==> Creating stack {stack}"),
        DeployEvent::RepairStarted { stack, from } => match from.readiness() {
            Readiness::RollbackFailed => format!("==> Continuing the failed rollback of {stack}"),
            _ => format!("==> Deleting stack {stack} ({from}) before creating it again"),
        },
        DeployEvent::Retrying {
            failure,
            attempt,
            max,
        } => format!("warning: {failure}; trying again ({attempt}/{max})"),
        DeployEvent::ChangeSetLeft {
            change_set,
            failure,
        } => format!("warning: could not delete change set {change_set}: {failure}"),
        DeployEvent::AgentsRunning { count } => format!(
            "==> {count} agent instance(s) still running: deleting the stack terminates them and stops the jobs they run"
        ),
        DeployEvent::Unprotecting { group, count } => format!(
            "==> Removing scale-in protection from {count} instance(s) of {group}, which would block its deletion"
        ),
        DeployEvent::KeepingHosts { .. } => {
            "==> The dedicated hosts' resources cannot be deleted yet; deleting the rest and keeping them".to_owned()
        }
        DeployEvent::ChangeSetReady { .. }
        | DeployEvent::NoChanges { .. }
        | DeployEvent::Executing { .. }
        | DeployEvent::StackEvent(_)
        | DeployEvent::Finished => return None,
    })
}

impl Progress for TermUi {
    fn report(&mut self, event: DeployEvent<'_>) {
        match event {
            DeployEvent::ChangeSetReady { stack, changes } => {
                for line in
                    stack_deploy::render::diff_lines(stack, changes, self.colors, self.width)
                {
                    self.line(&line);
                }
            }
            DeployEvent::Executing { operation, total } => self.begin(operation, total),
            DeployEvent::StackEvent(event) => self.event(event),
            DeployEvent::Finished => self.end(),
            other => {
                if let Some(line) = describe(&other) {
                    self.line(&line);
                }
            }
        }
    }
}

impl Confirm for TermUi {
    fn confirm(&mut self, question: &Question<'_>) -> Result<bool, NoAnswer> {
        if let Some(bar) = &self.bar {
            bar.suspend(|| ());
        }
        ask(&question.to_string())
    }
}

/// Asks a yes/no question on the terminal (stderr), when stdin and stderr are one.
pub fn ask(question: &str) -> Result<bool, NoAnswer> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(NoAnswer::NoTerminal);
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(NoAnswer::Unreadable)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack_deploy::StackStatus;

    #[test]
    fn clock_is_utc_time_of_day() {
        assert_eq!(clock(0.0), "00:00:00");
        assert_eq!(clock(86_400.0 + 3_661.5), "01:01:01");
    }

    #[test]
    fn repairs_are_described_by_the_status_they_start_from() {
        let cases = [
            (
                "a failed first creation is deleted",
                StackStatus::RollbackComplete,
                "==> Deleting stack s (ROLLBACK_COMPLETE) before creating it again",
            ),
            (
                "a failed rollback is continued",
                StackStatus::UpdateRollbackFailed,
                "==> Continuing the failed rollback of s",
            ),
        ];
        for (name, from, expected) in cases {
            let line = describe(&DeployEvent::RepairStarted {
                stack: "s",
                from: &from,
            });
            assert_eq!(line.as_deref(), Some(expected), "{name}");
        }
    }
}
