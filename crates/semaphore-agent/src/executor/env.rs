//! The job's environment: the clean process environment its shell starts with (issue 13
//! item 6), and the `.env-<nanos>` file of `export` lines that is sourced into the session
//! (spec 9.3 and 9.4).
//!
//! The Go agent hands its whole process environment to the job, tokens included. Here the
//! shell starts from an allow-list taken from the agent's environment ([`BaseEnv`]); the
//! job's variables and the agent's `env-vars` reach the job only through the env file.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use agent_protocol::{Base64Error, EnvVar};

/// Variables copied from the agent's environment into the job shell's, when set. Everything
/// else is dropped: a job gets no `SEMAPHORE_AGENT_*` variable, no token, no cloud credential
/// of the agent. (`LC_*` variables are copied as well.)
pub const INHERITED_VARS: &[&str] = &[
    "PATH",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "TMPDIR",
    // Self-hosted machines often reach the internet through a proxy and trust a private CA;
    // jobs need the same settings as the agent to fetch anything.
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// `PATH` when the agent runs without one (as a systemd unit may).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The process environment the job's shell starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseEnv {
    vars: Vec<(OsString, OsString)>,
}

impl BaseEnv {
    /// The allow-listed subset of `host` (normally `std::env::vars_os()`), with `HOME` set to
    /// `home` and `PATH` defaulted. `SEMAPHORE_AGENT_*` never passes, whatever the list says.
    pub fn from_host(host: impl IntoIterator<Item = (OsString, OsString)>, home: &Path) -> BaseEnv {
        let mut vars: Vec<(OsString, OsString)> = host
            .into_iter()
            .filter(|(name, _)| is_inherited(name))
            .collect();
        vars.retain(|(name, _)| name != "HOME");
        vars.push(("HOME".into(), home.as_os_str().to_owned()));
        if !vars.iter().any(|(name, _)| name == "PATH") {
            vars.push(("PATH".into(), DEFAULT_PATH.into()));
        }
        vars.sort();
        BaseEnv { vars }
    }

    /// The variables, sorted by name.
    pub fn vars(&self) -> &[(OsString, OsString)] {
        &self.vars
    }
}

fn is_inherited(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    if name.starts_with("SEMAPHORE_AGENT_") {
        return false;
    }
    INHERITED_VARS.contains(&name) || name.starts_with("LC_")
}

/// One variable to export, decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct ExportVar {
    /// The name.
    pub name: String,
    /// The raw value (not necessarily UTF-8).
    pub value: Vec<u8>,
}

impl std::fmt::Debug for ExportVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values carry job secrets.
        write!(f, "ExportVar({}=<{} bytes>)", self.name, self.value.len())
    }
}

/// A job variable whose value is not base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeFailure {
    /// The variable's name.
    pub name: String,
    /// Why (says where, never what).
    pub error: Base64Error,
}

/// Decodes `vars` (job variables first, then the agent's `env-vars`), keeps the last value of
/// each name (so an agent variable overrides a job variable, spec 8 step 3) and sorts by name
/// in byte order.
pub fn decode_and_sort(vars: &[EnvVar]) -> Result<Vec<ExportVar>, DecodeFailure> {
    let mut out: Vec<ExportVar> = Vec::with_capacity(vars.len());
    for var in vars {
        let value = var.value.decode().map_err(|error| DecodeFailure {
            name: var.name.clone(),
            error,
        })?;
        out.retain(|v| v.name != var.name);
        out.push(ExportVar {
            name: var.name.clone(),
            value,
        });
    }
    out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(out)
}

/// `export NAME=<quoted>\n`.
pub fn export_line(var: &ExportVar) -> Vec<u8> {
    let mut line = format!("export {}=", var.name).into_bytes();
    line.extend_from_slice(&shell_quote(&var.value));
    line.push(b'\n');
    line
}

/// Quotes a value for bash like the Go agent: `''` when empty, bare when every byte is in
/// `[A-Za-z0-9_@%+=:,./-]`, otherwise in single quotes with each `'` written `'"'"'`.
pub fn shell_quote(value: &[u8]) -> Vec<u8> {
    if value.is_empty() {
        return b"''".to_vec();
    }
    let safe = value
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(b));
    if safe {
        return value.to_vec();
    }
    let mut out = Vec::with_capacity(value.len() + 2);
    out.push(b'\'');
    for &b in value {
        if b == b'\'' {
            out.extend_from_slice(b"'\"'\"'");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// `<dir>/.env-<unix nanos>`, a name not taken yet.
pub fn env_file_path(dir: &Path) -> PathBuf {
    let mut nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    loop {
        let path = dir.join(format!(".env-{nanos}"));
        if !path.exists() {
            return path;
        }
        nanos += 1;
    }
}

#[cfg(test)]
mod tests {
    use agent_protocol::Base64;

    use super::*;

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Base64::encode(value.as_bytes()),
        }
    }

    #[test]
    fn quoting_follows_the_go_agent() {
        let cases: &[(&str, &[u8], &str)] = &[
            ("empty", b"", "''"),
            ("plain", b"3", "3"),
            (
                "path-like stays bare",
                b"/usr/bin:/etc/a",
                "/usr/bin:/etc/a",
            ),
            ("dollar is quoted", b"$PATH:/etc/a", "'$PATH:/etc/a'"),
            ("space", b"a b", "'a b'"),
            ("single quote", b"it's", "'it'\"'\"'s'"),
            ("newline", b"a\nb", "'a\nb'"),
        ];
        for (name, value, want) in cases {
            assert_eq!(shell_quote(value), want.as_bytes(), "{name}");
        }
    }

    #[test]
    fn agent_vars_override_and_names_are_sorted() {
        let vars =
            decode_and_sort(&[var("D", "4"), var("C", "x"), var("C", "3")]).expect("valid base64");
        let file: Vec<u8> = vars.iter().flat_map(export_line).collect();
        assert_eq!(file, b"export C=3\nexport D=4\n");
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let bad = EnvVar {
            name: "X".into(),
            value: Base64::from_encoded("%%%"),
        };
        let err = decode_and_sort(&[bad]).expect_err("not base64");
        assert_eq!(err.name, "X");
    }

    #[test]
    fn the_base_environment_drops_agent_variables_and_secrets() {
        let host = [
            ("PATH", "/bin"),
            ("SEMAPHORE_AGENT_TOKEN", "secret"),
            ("SEMAPHORE_AGENT_LOG_LEVEL", "debug"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("HOME", "/root"),
            ("LC_ALL", "C.UTF-8"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let env = BaseEnv::from_host(host, Path::new("/home/job"));
        let names: Vec<_> = env
            .vars()
            .iter()
            .map(|(k, v)| (k.to_str(), v.to_str()))
            .collect();
        assert_eq!(
            names,
            [
                (Some("HOME"), Some("/home/job")),
                (Some("LC_ALL"), Some("C.UTF-8")),
                (Some("PATH"), Some("/bin")),
            ]
        );
    }
}
