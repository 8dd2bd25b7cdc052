//! The deploy engine's output: a live progress bar with events scrolling above it on a
//! terminal, plain lines otherwise (CI logs, pipes); questions asked on the terminal only.

use std::collections::BTreeSet;
use std::io::{BufRead as _, IsTerminal as _, Write as _};

use indicatif::{ProgressBar, ProgressStyle};
use stack_deploy::Ui;
use stack_deploy::cloud::StackEvent;
use stack_deploy::diff::TemplateDiff;

/// Terminal or plain output on stdout.
pub struct TermUi {
    tty: bool,
    colors: bool,
    bar: Option<ProgressBar>,
    done: BTreeSet<String>,
}

impl TermUi {
    /// Draws a progress bar only when stdout is a terminal; colours follow the terminal
    /// and `NO_COLOR`/`CLICOLOR_FORCE`.
    pub fn new() -> TermUi {
        let tty = std::io::stdout().is_terminal();
        TermUi {
            tty,
            colors: console::colors_enabled(),
            bar: None,
            done: BTreeSet::new(),
        }
    }

    /// One line per event even on a terminal (`--progress events`).
    pub fn plain(mut self) -> TermUi {
        self.tty = false;
        self
    }

    /// Whether colours are on.
    pub fn colors(&self) -> bool {
        self.colors
    }

    fn line(&mut self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
        }
    }
}

/// `HH:MM:SS` (UTC) of an epoch time.
fn clock(epoch: f64) -> String {
    let secs = epoch as u64 % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

impl Ui for TermUi {
    fn say(&mut self, line: &str) {
        self.line(line);
    }

    fn show_diff(&mut self, stack: &str, diff: &TemplateDiff) {
        for line in stack_deploy::render::diff_lines(stack, diff, self.colors) {
            self.line(&line);
        }
    }

    fn begin(&mut self, operation: &str, total: usize) {
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
        let status = if self.colors {
            let style = if event.status.ends_with("_FAILED") {
                console::Style::new().red()
            } else if event.status.ends_with("_COMPLETE") && !event.status.contains("ROLLBACK") {
                console::Style::new().green()
            } else {
                console::Style::new().yellow()
            };
            style
                .force_styling(true)
                .apply_to(&event.status)
                .to_string()
        } else {
            event.status.clone()
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
            && (event.status.ends_with("_COMPLETE") || event.status.ends_with("_FAILED"))
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

    fn confirm(&mut self, question: &str) -> Result<bool, String> {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err("no terminal is attached to ask".to_owned());
        }
        if let Some(bar) = &self.bar {
            bar.suspend(|| ());
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
    }
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clock_is_utc_time_of_day() {
        assert_eq!(clock(0.0), "00:00:00");
        assert_eq!(clock(86_400.0 + 3_661.5), "01:01:01");
    }
}
