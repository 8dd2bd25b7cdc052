//! `upload-job-logs` (spec 7.6): when a job's logger closes, its log may be uploaded as a job
//! artifact with Semaphore's `artifact` CLI, so that a log the loghub trimmed (or every log,
//! with `always`) can still be read in full.
//!
//! The decision and the file are built here; the spool file the events went to is the
//! source. Memory stays flat: the spool is read line by line and the plain-text log (and its
//! gzip) is written as it is read.
//!
//! Unlike the Go agent, which runs the CLI with its whole environment, the CLI starts from
//! the same clean environment as a job ([`BaseEnv`]) plus the three variables it needs: the
//! agent's registration token never reaches it.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_protocol::{EnvVar, LogEvent, Secret, UploadJobLogs};

use crate::executor::env::BaseEnv;

/// The agent environment variable that sets the size (bytes) from which the plain-text log is
/// gzipped before upload.
pub const COMPRESSION_SIZE_VAR: &str = "SEMAPHORE_AGENT_LOGS_COMPRESSION_SIZE";
/// The compression size when the variable is unset or invalid: 100 MiB.
pub const DEFAULT_COMPRESSION_SIZE: u64 = 100 * 1024 * 1024;
/// The smallest valid compression size: 1 MiB.
pub const MIN_COMPRESSION_SIZE: u64 = 1024 * 1024;
/// The largest valid compression size: 1 GiB.
pub const MAX_COMPRESSION_SIZE: u64 = 1024 * 1024 * 1024;

/// The job variable holding the artifact store's token.
pub const ARTIFACT_TOKEN_VAR: &str = "SEMAPHORE_ARTIFACT_TOKEN";
/// The job variable holding the organization's URL.
pub const ORGANIZATION_URL_VAR: &str = "SEMAPHORE_ORGANIZATION_URL";
/// The variable the CLI reads the job's id from.
pub const JOB_ID_VAR: &str = "SEMAPHORE_JOB_ID";
/// Where the log goes among the job's artifacts.
pub const DESTINATION: &str = "agent/job_logs.txt";
/// Where a gzipped log goes.
pub const GZ_DESTINATION: &str = "agent/job_logs.txt.gz";
/// The artifact CLI, looked up in the agent's `PATH`.
pub const ARTIFACT_CLI: &str = "artifact";
/// How long the CLI may take before it is killed (the Go agent waits forever, which would
/// leave the job unreported).
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// How the agent uploads job logs.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// `upload-job-logs`.
    pub policy: UploadJobLogs,
    /// Plain-text logs of this many bytes or more are gzipped.
    pub compression_size: u64,
    /// The artifact CLI: a bare name is looked up in the `PATH` of `env`.
    pub cli: PathBuf,
    /// The environment the CLI starts from.
    pub env: BaseEnv,
}

impl UploadSettings {
    /// The settings for `policy` on this machine: the compression size from
    /// [`COMPRESSION_SIZE_VAR`], the CLI from `PATH`, the clean environment of a job.
    pub fn from_host(policy: UploadJobLogs) -> UploadSettings {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        UploadSettings {
            policy,
            compression_size: compression_size(std::env::var(COMPRESSION_SIZE_VAR).ok().as_deref()),
            cli: PathBuf::from(ARTIFACT_CLI),
            env: BaseEnv::from_host(std::env::vars_os(), &home),
        }
    }
}

/// The compression size for the variable's value: bytes between 1 MiB and 1 GiB, else (with
/// an error logged) the 100 MiB default. Unset or empty means the default.
pub fn compression_size(value: Option<&str>) -> u64 {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return DEFAULT_COMPRESSION_SIZE;
    };
    match value.parse::<u64>() {
        Ok(n) if (MIN_COMPRESSION_SIZE..=MAX_COMPRESSION_SIZE).contains(&n) => n,
        Ok(n) => {
            tracing::error!(
                "{COMPRESSION_SIZE_VAR}={n} is not between {MIN_COMPRESSION_SIZE} and {MAX_COMPRESSION_SIZE} bytes; using {DEFAULT_COMPRESSION_SIZE}"
            );
            DEFAULT_COMPRESSION_SIZE
        }
        Err(_) => {
            tracing::error!(
                "{COMPRESSION_SIZE_VAR}={value:?} is not a number of bytes; using {DEFAULT_COMPRESSION_SIZE}"
            );
            DEFAULT_COMPRESSION_SIZE
        }
    }
}

/// Whether `policy` uploads a log that was (or was not) `trimmed`.
pub fn wanted(policy: UploadJobLogs, trimmed: bool) -> bool {
    match policy {
        UploadJobLogs::Never => false,
        UploadJobLogs::Always => true,
        UploadJobLogs::WhenTrimmed => trimmed,
    }
}

/// What the CLI needs from the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobArtifactAccess {
    /// The job's id.
    pub job_id: String,
    /// `SEMAPHORE_ARTIFACT_TOKEN`, decoded.
    pub token: Secret,
    /// `SEMAPHORE_ORGANIZATION_URL`, decoded.
    pub organization_url: String,
}

impl JobArtifactAccess {
    /// Finds the two variables in the job's `env_vars` (the last of each name wins, as in the
    /// job's shell). `Err` names the first one missing or not base64-encoded UTF-8.
    pub fn from_job(job_id: &str, env_vars: &[EnvVar]) -> Result<JobArtifactAccess, &'static str> {
        let find = |name: &'static str| {
            env_vars
                .iter()
                .rev()
                .find(|var| var.name == name)
                .and_then(|var| var.value.decode().ok())
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .filter(|value| !value.is_empty())
                .ok_or(name)
        };
        Ok(JobArtifactAccess {
            job_id: job_id.to_owned(),
            token: Secret::from(find(ARTIFACT_TOKEN_VAR)?),
            organization_url: find(ORGANIZATION_URL_VAR)?,
        })
    }
}

/// Writes the plain-text log of the events in `spool` (one JSON event per line) to `out`:
/// each `cmd_started` as its directive and a newline, each `cmd_output` verbatim; other
/// events are left out. Returns the bytes written.
pub fn write_plain_text(spool: &Path, out: &Path) -> std::io::Result<u64> {
    let mut reader = BufReader::new(File::open(spool)?);
    let mut writer = BufWriter::new(File::create(out)?);
    let mut line = String::new();
    let mut written: u64 = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        // Other events, and a last line cut short by a crash, add nothing.
        let Some(text) = serde_json::from_str::<LogEvent>(&line)
            .ok()
            .and_then(LogEvent::into_plain_text)
        else {
            continue;
        };
        writer.write_all(text.as_bytes())?;
        written += text.len() as u64;
    }
    writer.flush()?;
    Ok(written)
}

/// Gzips `src` into `<src>.gz` and returns that path.
pub fn gzip(src: &Path) -> std::io::Result<PathBuf> {
    let mut out = src.as_os_str().to_owned();
    out.push(".gz");
    let out = PathBuf::from(out);
    let mut reader = BufReader::new(File::open(src)?);
    let mut encoder = flate2::write::GzEncoder::new(
        BufWriter::new(File::create(&out)?),
        flate2::Compression::default(),
    );
    std::io::copy(&mut reader, &mut encoder)?;
    encoder.finish()?.flush()?;
    Ok(out)
}

/// `cli` itself when it names a path, else the first executable file of that name in `path`.
pub fn find_program(cli: &Path, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    if cli.components().count() > 1 {
        return is_executable(cli).then(|| cli.to_path_buf());
    }
    std::env::split_paths(path?)
        .map(|dir| dir.join(cli))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// How an upload went; every outcome but `Uploaded` and `NotWanted` is also logged as an
/// error, as the Go agent does, and none of them changes the job's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The policy says no.
    NotWanted,
    /// A variable the CLI needs is not in the job.
    MissingVariable(&'static str),
    /// No artifact CLI.
    NoCli,
    /// The log could not be written.
    PrepareFailed(String),
    /// The CLI failed, timed out or could not start.
    CliFailed(String),
    /// Uploaded to this destination.
    Uploaded(&'static str),
}

/// Runs the decision of spec 7.6 for the job whose events are in `spool` and, when it says
/// so, uploads the plain-text log (gzipped from the compression size on). Temporary files go
/// beside the spool and are deleted.
pub async fn upload_job_log(
    settings: &UploadSettings,
    job_id: &str,
    env_vars: &[EnvVar],
    trimmed: bool,
    spool: &Path,
) -> UploadOutcome {
    let outcome = upload(settings, job_id, env_vars, trimmed, spool).await;
    match &outcome {
        UploadOutcome::NotWanted => tracing::info!(
            job_id,
            policy = settings.policy.as_str(),
            trimmed,
            "not uploading the job log as an artifact"
        ),
        UploadOutcome::Uploaded(destination) => {
            tracing::info!(job_id, destination, "uploaded the job log as an artifact");
        }
        UploadOutcome::MissingVariable(name) => tracing::error!(
            job_id,
            "cannot upload the job log as an artifact: the job has no {name}"
        ),
        UploadOutcome::NoCli => tracing::error!(
            job_id,
            cli = %settings.cli.display(),
            "cannot upload the job log as an artifact: no artifact CLI in PATH"
        ),
        UploadOutcome::PrepareFailed(why) => tracing::error!(
            job_id,
            error = %why,
            "cannot upload the job log as an artifact: writing the log failed"
        ),
        UploadOutcome::CliFailed(why) => tracing::error!(
            job_id,
            error = %why,
            "uploading the job log as an artifact failed"
        ),
    }
    outcome
}

async fn upload(
    settings: &UploadSettings,
    job_id: &str,
    env_vars: &[EnvVar],
    trimmed: bool,
    spool: &Path,
) -> UploadOutcome {
    if !wanted(settings.policy, trimmed) {
        return UploadOutcome::NotWanted;
    }
    let access = match JobArtifactAccess::from_job(job_id, env_vars) {
        Ok(access) => access,
        Err(name) => return UploadOutcome::MissingVariable(name),
    };
    let path_var = settings
        .env
        .vars()
        .iter()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| value.as_os_str());
    let Some(program) = find_program(&settings.cli, path_var) else {
        return UploadOutcome::NoCli;
    };

    let text = spool.with_extension("txt");
    let compression_size = settings.compression_size;
    let spool = spool.to_path_buf();
    let prepared = {
        let text = text.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<(PathBuf, &'static str)> {
            let size = write_plain_text(&spool, &text)?;
            if size < compression_size {
                return Ok((text, DESTINATION));
            }
            let gz = gzip(&text)?;
            Ok((gz, GZ_DESTINATION))
        })
        .await
    };
    let (file, destination) = match prepared {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(err)) => {
            remove_quietly(&text);
            return UploadOutcome::PrepareFailed(err.to_string());
        }
        Err(err) => {
            remove_quietly(&text);
            return UploadOutcome::PrepareFailed(err.to_string());
        }
    };
    let outcome = run_cli(settings, &program, &access, &file, destination).await;
    remove_quietly(&text);
    if file != text {
        remove_quietly(&file);
    }
    outcome
}

/// Runs the CLI in a blocking thread with a deadline on the real clock (so a test that
/// pauses tokio's clock does not time it out), its output going to a file beside the log.
async fn run_cli(
    settings: &UploadSettings,
    program: &Path,
    access: &JobArtifactAccess,
    file: &Path,
    destination: &'static str,
) -> UploadOutcome {
    let mut command = std::process::Command::new(program);
    command
        .arg("push")
        .arg("job")
        .arg(file)
        .arg("-d")
        .arg(destination)
        .env_clear()
        .envs(settings.env.vars().iter().map(|(n, v)| (n, v)))
        .env(ARTIFACT_TOKEN_VAR, access.token.expose())
        .env(JOB_ID_VAR, &access.job_id)
        .env(ORGANIZATION_URL_VAR, &access.organization_url)
        .stdin(std::process::Stdio::null());
    let output_path = file.with_extension("upload-output");
    let program = program.to_path_buf();
    let ran = {
        let output_path = output_path.clone();
        tokio::task::spawn_blocking(move || run_with_deadline(command, &output_path))
    }
    .await;
    let said = std::fs::read(&output_path).unwrap_or_default();
    remove_quietly(&output_path);
    match ran {
        Ok(Ok(Some(status))) if status.success() => UploadOutcome::Uploaded(destination),
        Ok(Ok(Some(status))) => UploadOutcome::CliFailed(format!(
            "{} exited with {status}: {}",
            program.display(),
            tail(&said, 2000)
        )),
        Ok(Ok(None)) => UploadOutcome::CliFailed(format!(
            "{} did not finish in {} s and was killed",
            program.display(),
            UPLOAD_TIMEOUT.as_secs()
        )),
        Ok(Err(err)) => {
            UploadOutcome::CliFailed(format!("cannot run {}: {err}", program.display()))
        }
        Err(err) => UploadOutcome::CliFailed(err.to_string()),
    }
}

/// Runs `command` with stdout and stderr going to `output`; `None` when it was killed at the
/// deadline.
fn run_with_deadline(
    mut command: std::process::Command,
    output: &Path,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let out = File::create(output)?;
    command.stdout(out.try_clone()?).stderr(out);
    let mut child = command.spawn()?;
    let deadline = std::time::Instant::now() + UPLOAD_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last `max` bytes of `bytes` as text, so a chatty CLI does not flood the agent's log.
fn tail(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).trim().to_owned()
}

fn remove_quietly(path: &Path) {
    if let Err(err) = std::fs::remove_file(path)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %err, "failed to delete a temporary job log file");
    }
}
