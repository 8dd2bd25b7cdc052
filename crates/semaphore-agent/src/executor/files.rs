//! "Injecting Files" (spec 9.5): the job request's files written on the agent's machine, with
//! their modes, and the log lines and exit codes of each failure.
//!
//! The agent writes the files itself (not through the job's shell), as the Go agent does.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use agent_protocol::JobFile;

/// How the step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectOutcome {
    /// Every file was written: exit code 0.
    Done,
    /// A failure with this exit code (1, or 255 for a write error).
    Failed(i32),
    /// A content that is not base64. The Go agent then emits no `cmd_finished` for the step
    /// (spec 9.5 step 3, a quirk kept so the event stream matches); the job fails.
    DecodeFailed,
}

impl InjectOutcome {
    /// The step's exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            InjectOutcome::Done => 0,
            InjectOutcome::Failed(code) => code,
            InjectOutcome::DecodeFailed => 1,
        }
    }
}

/// Where a request path lands: absolute as is; starting with `~`, every `~` replaced by
/// `home`; anything else joined onto `home`.
pub fn resolve_path(path: &str, home: &Path) -> PathBuf {
    if path.starts_with('/') {
        PathBuf::from(path)
    } else if path.starts_with('~') {
        PathBuf::from(path.replace('~', &home.to_string_lossy()))
    } else {
        home.join(path)
    }
}

/// Writes `files` in order, stopping at the first failure. Each log line goes to `output`.
pub fn inject(files: &[JobFile], home: &Path, output: &mut dyn FnMut(String)) -> InjectOutcome {
    for file in files {
        let path = resolve_path(&file.path, home);
        output(format!(
            "Injecting {} with file mode {}\n",
            path.display(),
            file.mode
        ));
        let Ok(content) = file.content.decode() else {
            output("Failed to decode the content of the file.\n".to_owned());
            return InjectOutcome::DecodeFailed;
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Err(err) = DirBuilder::new().recursive(true).mode(0o750).create(dir)
        {
            output(format!(
                "Failed to create directory '{}': {err}\n",
                dir.display()
            ));
            return InjectOutcome::Failed(1);
        }
        let mut out = match OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&path)
        {
            Ok(out) => out,
            Err(err) => {
                output(format!(
                    "Failed to create destination path '{}': {err}\n",
                    path.display()
                ));
                return InjectOutcome::Failed(1);
            }
        };
        if let Err(err) = out.write_all(&content) {
            output(format!("{err}\n"));
            return InjectOutcome::Failed(255);
        }
        drop(out);
        let Some(mode) = file.mode_bits() else {
            output(format!("bad file permission '{}'\n", file.mode));
            return InjectOutcome::Failed(1);
        };
        if let Err(err) = fs::set_permissions(&path, fs::Permissions::from_mode(mode)) {
            output(format!(
                "Failed to set file mode '{}' for '{}': {err}\n",
                file.mode,
                path.display()
            ));
            return InjectOutcome::Failed(1);
        }
    }
    InjectOutcome::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_like_the_go_agent() {
        let home = Path::new("/home/u");
        let cases = [
            ("absolute", "/tmp/a", "/tmp/a"),
            ("tilde", "~/.ssh/id_rsa", "/home/u/.ssh/id_rsa"),
            ("every tilde", "~/a~b", "/home/u/a/home/ub"),
            ("relative", "test.txt", "/home/u/test.txt"),
        ];
        for (name, path, want) in cases {
            assert_eq!(resolve_path(path, home), PathBuf::from(want), "{name}");
        }
    }
}
