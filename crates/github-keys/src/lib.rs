//! GitHub's SSH host keys, which agents add to `known_hosts`: fetched from GitHub's meta API,
//! validated, and cached on disk for an hour in a `.gh_ssh_keys_<epoch>` file (the original's
//! cache format), or read from a file given by the user for offline use.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// GitHub's meta API.
pub const META_URL: &str = "https://api.github.com/meta";

/// How long a cached key file is used.
pub const CACHE_TTL_SECS: u64 = 3600;

/// The prefix of cache files; the suffix is the Unix time they were written.
pub const CACHE_PREFIX: &str = ".gh_ssh_keys_";

/// Why the keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The HTTP request failed (DNS, TLS, timeout, …).
    #[error("request to {url} failed")]
    Request {
        /// The URL requested.
        url: String,
        /// The client error.
        #[source]
        source: reqwest::Error,
    },
    /// GitHub answered with a non-success status.
    #[error("request to get GitHub SSH keys from {url} failed with status {status}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The answer or file is not what it should be.
    #[error("{origin} does not hold GitHub SSH keys: {reason}")]
    Malformed {
        /// Where the data came from (URL or file).
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A key file could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn check_keys(keys: Vec<String>, origin: &str) -> Result<Vec<String>, KeysError> {
    let malformed = |reason: String| KeysError::Malformed {
        origin: origin.to_owned(),
        reason,
    };
    if keys.is_empty() {
        return Err(malformed("the key list is empty".into()));
    }
    for key in &keys {
        let mut parts = key.split_whitespace();
        let (Some(kind), Some(_blob)) = (parts.next(), parts.next()) else {
            return Err(malformed(format!("'{key}' is not an SSH public key")));
        };
        if !(kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-")) {
            return Err(malformed(format!("'{key}' is not an SSH public key")));
        }
    }
    Ok(keys)
}

/// The `ssh_keys` of a meta API answer, in GitHub's order.
pub fn parse_meta(body: &[u8], origin: &str) -> Result<Vec<String>, KeysError> {
    #[derive(serde::Deserialize)]
    struct Meta {
        ssh_keys: Vec<String>,
    }
    let meta: Meta = serde_json::from_slice(body).map_err(|e| KeysError::Malformed {
        origin: origin.to_owned(),
        reason: format!("expected a JSON object with an ssh_keys array of strings ({e})"),
    })?;
    check_keys(meta.ssh_keys, origin)
}

/// Parses a key file: a JSON array of key strings.
pub fn parse_key_file(text: &str, origin: &str) -> Result<Vec<String>, KeysError> {
    let keys: Vec<String> = serde_json::from_str(text).map_err(|e| KeysError::Malformed {
        origin: origin.to_owned(),
        reason: format!("expected a JSON array of strings ({e})"),
    })?;
    check_keys(keys, origin)
}

/// Reads a key file given by the user (`--github-keys FILE`).
pub fn read_key_file(path: &Path) -> Result<Vec<String>, KeysError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeysError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    parse_key_file(&text, &path.display().to_string())
}

/// Fetches the keys from the meta API at `url`.
pub async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<String>, KeysError> {
    let request_error = |source| KeysError::Request {
        url: url.to_owned(),
        source,
    };
    let response = client
        .get(url)
        .header(reqwest::header::USER_AGENT, "agent-aws-stack")
        .header(reqwest::header::ACCEPT, "application/vnd.github+json")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(request_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(KeysError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    let body = response.bytes().await.map_err(request_error)?;
    parse_meta(&body, url)
}

/// The on-disk cache of fetched keys: `.gh_ssh_keys_<epoch>` files in one folder.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// A key list found in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// The cache file.
    pub path: PathBuf,
    /// The keys.
    pub keys: Vec<String>,
}

impl Cache {
    /// A cache in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    fn entries(&self) -> Vec<(PathBuf, u64)> {
        let Ok(read) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut entries: Vec<(PathBuf, u64)> = read
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stamp = name.strip_prefix(CACHE_PREFIX)?.parse::<u64>().ok()?;
                Some((e.path(), stamp))
            })
            .collect();
        entries.sort_by_key(|(_, stamp)| std::cmp::Reverse(*stamp));
        entries
    }

    /// The newest cache file still fresh at `now` (Unix seconds) whose content is valid.
    pub fn fresh(&self, now: u64) -> Option<Cached> {
        self.entries()
            .into_iter()
            .filter(|(_, stamp)| now < stamp.saturating_add(CACHE_TTL_SECS) && *stamp <= now)
            .find_map(|(path, _)| {
                let text = std::fs::read_to_string(&path).ok()?;
                let keys = parse_key_file(&text, &path.display().to_string()).ok()?;
                Some(Cached { path, keys })
            })
    }

    /// Writes `keys` to `.gh_ssh_keys_<now>` (atomically) and removes older cache files.
    pub fn store(&self, keys: &[String], now: u64) -> Result<PathBuf, KeysError> {
        let path = self.dir.join(format!("{CACHE_PREFIX}{now}"));
        let tmp = self.dir.join(format!(".{CACHE_PREFIX}{now}.tmp"));
        let text = serde_json::to_string(keys).expect("strings serialize");
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| KeysError::Io {
                action,
                path,
                source,
            }
        };
        std::fs::write(&tmp, text).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("write", &path))?;
        for (old, stamp) in self.entries() {
            if stamp != now {
                let _ = std::fs::remove_file(old);
            }
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    #[test]
    fn meta_answer_gives_keys_in_order() {
        let body = format!(
            r#"{{"verifiable_password_authentication":false,"ssh_keys":["{KEY}","ecdsa-sha2-nistp256 AAAAE2"],"hooks":[]}}"#
        );
        let keys = parse_meta(body.as_bytes(), "test").expect("valid");
        assert_eq!(
            keys,
            vec![KEY.to_owned(), "ecdsa-sha2-nistp256 AAAAE2".to_owned()]
        );
    }

    #[test]
    fn malformed_answers_are_rejected() {
        for body in [
            "not json",
            r#"{"hooks":[]}"#,
            r#"{"ssh_keys":[]}"#,
            r#"{"ssh_keys":[1]}"#,
            r#"{"ssh_keys":["hello"]}"#,
            r#"{"ssh_keys":["rsa AAAA"]}"#,
        ] {
            assert!(
                matches!(
                    parse_meta(body.as_bytes(), "t"),
                    Err(KeysError::Malformed { .. })
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn cache_is_fresh_for_an_hour_and_replaced_on_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::new(dir.path());
        assert_eq!(cache.fresh(1_000), None);

        let keys = vec![KEY.to_owned()];
        let first = cache.store(&keys, 1_000).expect("stored");
        assert_eq!(first, dir.path().join(".gh_ssh_keys_1000"));
        assert_eq!(
            std::fs::read_to_string(&first).expect("written"),
            format!(r#"["{KEY}"]"#)
        );
        assert_eq!(
            cache.fresh(1_000 + 3_599).map(|c| c.keys),
            Some(keys.clone())
        );
        assert_eq!(cache.fresh(1_000 + 3_600), None, "expired after an hour");

        let second = cache.store(&keys, 5_000).expect("stored");
        assert!(!first.exists(), "the expired file is removed");
        assert_eq!(cache.fresh(5_001).map(|c| c.path), Some(second));
    }

    #[test]
    fn corrupt_cache_files_are_ignored() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(".gh_ssh_keys_100"), "garbage").expect("write");
        assert_eq!(Cache::new(dir.path()).fresh(101), None);
    }
}
