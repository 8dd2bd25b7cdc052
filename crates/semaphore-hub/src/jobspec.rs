//! A job file for `job submit`: either a job request as JSON (spec section 6, the form
//! Semaphore sends agents), or a short YAML form the hub turns into one:
//!
//! ```yaml
//! commands:
//!   - echo hello
//!   - name: Run tests          # shown instead of the command (the request's `alias`)
//!     run: make test
//! epilogue_always: [echo always]
//! epilogue_on_pass: [echo passed]
//! epilogue_on_fail: [echo failed]
//! env_vars:
//!   GREETING: hello
//! files:
//!   - path: config/app.json     # relative to the job's directory, ~/ or absolute
//!     content: '{"debug": true}' # plain text
//!     mode: "0600"               # default 0644
//! execution_time_limit:
//!   minutes: 10                  # or seconds / hours
//! ```
//!
//! Unknown keys are refused by name, so a misspelt `epilogue_allways` is not silently dropped.

use std::collections::BTreeMap;

use agent_protocol::{Base64, Command, EnvVar, JobFile, JobRequest};
use serde::Deserialize;

/// A parsed job file: the request and its time limit, if the file gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// The job request (its id and logger are set by the hub).
    pub request: JobRequest,
    /// `execution_time_limit` in seconds.
    pub time_limit_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShortJob {
    commands: Vec<ShortCommand>,
    #[serde(default)]
    epilogue_always: Vec<ShortCommand>,
    #[serde(default)]
    epilogue_on_pass: Vec<ShortCommand>,
    #[serde(default)]
    epilogue_on_fail: Vec<ShortCommand>,
    #[serde(default)]
    env_vars: BTreeMap<String, String>,
    #[serde(default)]
    files: Vec<ShortFile>,
    #[serde(default)]
    execution_time_limit: Option<TimeLimit>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ShortCommand {
    Plain(String),
    Named { name: String, run: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShortFile {
    path: String,
    content: String,
    #[serde(default = "default_mode")]
    mode: String,
}

fn default_mode() -> String {
    "0644".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeLimit {
    #[serde(default)]
    hours: u64,
    #[serde(default)]
    minutes: u64,
    #[serde(default)]
    seconds: u64,
}

impl ShortCommand {
    fn into_command(self) -> Command {
        match self {
            ShortCommand::Plain(directive) => Command::new(directive),
            ShortCommand::Named { name, run } => Command {
                directive: run,
                alias: Some(name),
            },
        }
    }
}

fn commands(list: Vec<ShortCommand>) -> Vec<Command> {
    list.into_iter().map(ShortCommand::into_command).collect()
}

/// Parses a job file's text; `file` names it in errors. JSON (the text starts with `{`) is a
/// job request; anything else is the short YAML form.
pub fn parse_job_file(text: &str, file: &str) -> Result<JobSpec, String> {
    if text.trim_start().starts_with('{') {
        let request: JobRequest = serde_json::from_str(text)
            .map_err(|e| format!("{file} is not a valid job request (JSON): {e}"))?;
        if request.commands.is_empty() {
            return Err(format!("{file}: the job request has no commands"));
        }
        return Ok(JobSpec {
            request,
            time_limit_secs: None,
        });
    }
    let short: ShortJob = serde_norway::from_str(text)
        .map_err(|e| format!("{file} is not a valid job file (YAML): {e}"))?;
    if short.commands.is_empty() {
        return Err(format!(
            "{file}: `commands` is empty: a job needs at least one"
        ));
    }
    let mut files = Vec::new();
    for f in short.files {
        if u32::from_str_radix(&f.mode, 8).is_err() {
            return Err(format!(
                "{file}: file {:?} has mode {:?}: use an octal mode such as \"0644\"",
                f.path, f.mode
            ));
        }
        files.push(JobFile {
            path: f.path,
            content: Base64::encode(f.content.as_bytes()),
            mode: f.mode,
        });
    }
    let time_limit_secs = match short.execution_time_limit {
        None => None,
        Some(t) => {
            let secs = t.hours * 3600 + t.minutes * 60 + t.seconds;
            if secs == 0 {
                return Err(format!(
                    "{file}: execution_time_limit is zero: give hours, minutes or seconds"
                ));
            }
            Some(secs)
        }
    };
    let request = JobRequest {
        commands: commands(short.commands),
        epilogue_always_commands: commands(short.epilogue_always),
        epilogue_on_pass_commands: commands(short.epilogue_on_pass),
        epilogue_on_fail_commands: commands(short.epilogue_on_fail),
        env_vars: short
            .env_vars
            .into_iter()
            .map(|(name, value)| EnvVar {
                name,
                value: Base64::encode(value.as_bytes()),
            })
            .collect(),
        files,
        ..JobRequest::default()
    };
    Ok(JobSpec {
        request,
        time_limit_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_form_becomes_a_job_request() {
        let spec = parse_job_file(
            "commands:\n  - echo hi\n  - name: Tests\n    run: make test\n\
             epilogue_always: [echo done]\nenv_vars:\n  A: hello\n\
             files:\n  - path: a.txt\n    content: hi\n\
             execution_time_limit:\n  minutes: 2\n  seconds: 5\n",
            "job.yml",
        )
        .expect("parses");
        let r = &spec.request;
        assert_eq!(r.commands[0].directive, "echo hi");
        assert_eq!(r.commands[1].alias.as_deref(), Some("Tests"));
        assert_eq!(r.commands[1].directive, "make test");
        assert_eq!(r.epilogue_always_commands[0].directive, "echo done");
        assert_eq!(r.env_vars[0].name, "A");
        assert_eq!(r.env_vars[0].value.decode().expect("b64"), b"hello");
        assert_eq!(r.files[0].mode, "0644");
        assert_eq!(r.files[0].content.decode().expect("b64"), b"hi");
        assert_eq!(spec.time_limit_secs, Some(125));
    }

    #[test]
    fn bad_files_are_refused_naming_the_file_and_the_problem() {
        for (text, needle) in [
            ("commands: [a]\nepilogue_allways: [b]\n", "epilogue_allways"),
            ("commands: []\n", "`commands` is empty"),
            ("env_vars: {}\n", "commands"),
            (
                "commands: [a]\nfiles:\n  - path: x\n    content: y\n    mode: rw\n",
                "octal",
            ),
            ("commands: [a]\nexecution_time_limit: {}\n", "zero"),
            ("{\"commands\": 3}", "JSON"),
        ] {
            let error = parse_job_file(text, "my-job.yml").expect_err(text);
            assert!(error.contains("my-job.yml"), "{error}");
            assert!(error.contains(needle), "{text}: {error}");
        }
    }

    #[test]
    fn a_json_job_request_is_taken_as_is() {
        let spec = parse_job_file(
            r#"{"commands":[{"directive":"echo 1"}],"env_vars":[{"name":"A","value":"aGk="}]}"#,
            "j.json",
        )
        .expect("parses");
        assert_eq!(spec.request.commands[0].directive, "echo 1");
        assert_eq!(spec.request.env_vars[0].value.decode().expect("b64"), b"hi");
        assert_eq!(spec.time_limit_secs, None);
    }
}
