//! Files written for the agent's user: whole or not at all, with the right owner and mode.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{PermissionsExt as _, chown};
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// A local user's numeric ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

fn id(flag: &str, user: &str) -> Result<u32> {
    let out = Command::new("id")
        .args([flag, user])
        .output()
        .with_context(|| format!("cannot run `id {flag} {user}`"))?;
    if !out.status.success() {
        bail!(
            "user `{user}` does not exist on this instance (`id {flag} {user}`: {}); the image must create it",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .with_context(|| format!("`id {flag} {user}` printed no number"))
}

impl Owner {
    /// Looks `user` up with `id` (works on Linux and macOS, local and directory users).
    pub fn of(user: &str) -> Result<Owner> {
        Ok(Owner {
            uid: id("-u", user)?,
            gid: id("-g", user)?,
        })
    }
}

/// Writes `contents` to `path` through a temporary file in the same directory, so readers see
/// the old file or the new one, never a part. The file gets `mode` and `owner` before it
/// takes the name.
pub fn write_atomically(path: &Path, contents: &[u8], mode: u32, owner: Owner) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no directory", path.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .with_context(|| format!("cannot create {}", temp.display()))?;
        fs::set_permissions(&temp, fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {}", temp.display()))?;
        chown(&temp, Some(owner.uid), Some(owner.gid))
            .with_context(|| format!("cannot give {} to uid {}", temp.display(), owner.uid))?;
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", temp.display()))?;
        fs::rename(&temp, path).with_context(|| format!("cannot replace {}", path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Creates `dir` (and its parents) if needed and gives it `mode` and `owner`.
pub fn ensure_dir(dir: &Path, mode: u32, owner: Owner) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", dir.display()))?;
    chown(dir, Some(owner.uid), Some(owner.gid))
        .with_context(|| format!("cannot give {} to uid {}", dir.display(), owner.uid))
}

/// `existing` plus those of `lines` it lacks, in order: running the boot twice (or an image
/// that already trusts GitHub) adds nothing twice.
pub fn merge_lines(existing: &str, lines: &[String]) -> String {
    let mut out: Vec<&str> = existing.lines().filter(|l| !l.trim().is_empty()).collect();
    for line in lines {
        if !out.contains(&line.as_str()) {
            out.push(line);
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    fn me(dir: &Path) -> Owner {
        let meta = fs::metadata(dir).expect("temp dir");
        Owner {
            uid: meta.uid(),
            gid: meta.gid(),
        }
    }

    #[test]
    fn atomic_write_sets_mode_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.yaml");
        fs::write(&path, "old").expect("old file");
        write_atomically(&path, b"new", 0o600, me(dir.path())).expect("written");
        assert_eq!(fs::read_to_string(&path).expect("read"), "new");
        assert_eq!(
            fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("no-such-dir").join("config.yaml");
        assert!(write_atomically(&missing, b"new", 0o600, me(dir.path())).is_err());
    }

    #[test]
    fn merging_adds_only_missing_lines() {
        let lines = vec!["github.com a".to_owned(), "github.com b".to_owned()];
        let once = merge_lines("", &lines);
        assert_eq!(once, "github.com a\ngithub.com b\n");
        assert_eq!(merge_lines(&once, &lines), once);
        assert_eq!(
            merge_lines("other x\n", &lines[1..]),
            "other x\ngithub.com b\n"
        );
    }

    #[test]
    fn unknown_user_is_named() {
        let err = Owner::of("no-such-user-for-agent-instance").expect_err("unknown");
        assert!(err.to_string().contains("no-such-user-for-agent-instance"));
    }
}
