//! `upload-job-logs` (spec 7.6): the decision, the compression size, the plain-text log and
//! its gzip, and the `artifact` CLI run as a stand-in script that records what it was given.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use agent_protocol::{Base64, EnvVar, JobResult, LogEvent, UploadJobLogs};
use semaphore_agent::executor::env::BaseEnv;
use semaphore_agent::listener::upload::{
    ARTIFACT_TOKEN_VAR, DEFAULT_COMPRESSION_SIZE, DESTINATION, GZ_DESTINATION, JobArtifactAccess,
    ORGANIZATION_URL_VAR, UploadOutcome, UploadSettings, compression_size, find_program, gzip,
    upload_job_log, wanted, write_plain_text,
};

const MIB: u64 = 1024 * 1024;

#[test]
fn the_compression_size_is_bytes_between_1_mib_and_1_gib_else_the_default() {
    let cases: &[(&str, Option<&str>, u64)] = &[
        ("unset", None, DEFAULT_COMPRESSION_SIZE),
        ("empty", Some(""), DEFAULT_COMPRESSION_SIZE),
        ("the minimum", Some("1048576"), MIB),
        (
            "below the minimum",
            Some("1048575"),
            DEFAULT_COMPRESSION_SIZE,
        ),
        ("the maximum", Some("1073741824"), 1024 * MIB),
        (
            "above the maximum",
            Some("1073741825"),
            DEFAULT_COMPRESSION_SIZE,
        ),
        ("in range", Some("5242880"), 5 * MIB),
        ("negative", Some("-5242880"), DEFAULT_COMPRESSION_SIZE),
        ("a unit", Some("5MB"), DEFAULT_COMPRESSION_SIZE),
        ("spaces", Some(" 5242880"), DEFAULT_COMPRESSION_SIZE),
    ];
    assert_eq!(DEFAULT_COMPRESSION_SIZE, 100 * MIB);
    for (name, value, expected) in cases {
        assert_eq!(compression_size(*value), *expected, "{name}");
    }
}

#[test]
fn the_policy_decides_with_the_trimmed_flag() {
    let cases = [
        (UploadJobLogs::Never, false, false),
        (UploadJobLogs::Never, true, false),
        (UploadJobLogs::WhenTrimmed, false, false),
        (UploadJobLogs::WhenTrimmed, true, true),
        (UploadJobLogs::Always, false, true),
        (UploadJobLogs::Always, true, true),
    ];
    for (policy, trimmed, expected) in cases {
        assert_eq!(
            wanted(policy, trimmed),
            expected,
            "{policy:?} trimmed={trimmed}"
        );
    }
}

fn var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Base64::encode(value.as_bytes()),
    }
}

fn artifact_vars() -> Vec<EnvVar> {
    vec![
        var("A", "1"),
        var(ARTIFACT_TOKEN_VAR, "artifact-token-1"),
        var(ORGANIZATION_URL_VAR, "https://acme.semaphoreci.com"),
    ]
}

#[test]
fn the_job_must_carry_the_artifact_token_and_the_organization_url() {
    let access = JobArtifactAccess::from_job("j1", &artifact_vars()).expect("both present");
    assert_eq!(access.job_id, "j1");
    assert_eq!(access.token.expose(), "artifact-token-1");
    assert_eq!(access.organization_url, "https://acme.semaphoreci.com");

    let mut later = artifact_vars();
    later.push(var(ARTIFACT_TOKEN_VAR, "artifact-token-2"));
    let access = JobArtifactAccess::from_job("j1", &later).expect("both present");
    assert_eq!(
        access.token.expose(),
        "artifact-token-2",
        "the last one wins"
    );

    let without = |name: &str| -> Vec<EnvVar> {
        artifact_vars()
            .into_iter()
            .filter(|v| v.name != name)
            .collect()
    };
    assert_eq!(
        JobArtifactAccess::from_job("j1", &without(ARTIFACT_TOKEN_VAR)),
        Err(ARTIFACT_TOKEN_VAR)
    );
    assert_eq!(
        JobArtifactAccess::from_job("j1", &without(ORGANIZATION_URL_VAR)),
        Err(ORGANIZATION_URL_VAR)
    );
    let mut broken = without(ARTIFACT_TOKEN_VAR);
    broken.push(EnvVar {
        name: ARTIFACT_TOKEN_VAR.to_owned(),
        value: Base64::from_encoded("not base64!"),
    });
    assert_eq!(
        JobArtifactAccess::from_job("j1", &broken),
        Err(ARTIFACT_TOKEN_VAR)
    );
}

/// A spool holding one job: every kind of event, unicode, and a last line cut short.
fn write_spool(path: &Path) -> String {
    let events = [
        LogEvent::JobStarted { timestamp: 1 },
        LogEvent::CmdStarted {
            timestamp: 1,
            directive: "Exporting environment variables".to_owned(),
        },
        LogEvent::CmdFinished {
            timestamp: 1,
            directive: "Exporting environment variables".to_owned(),
            exit_code: 0,
            started_at: 1,
            finished_at: 1,
        },
        LogEvent::CmdStarted {
            timestamp: 2,
            directive: "echo 'héllo'; printf 'no newline'".to_owned(),
        },
        LogEvent::CmdOutput {
            timestamp: 2,
            output: "héllo\n".to_owned(),
        },
        LogEvent::CmdOutput {
            timestamp: 2,
            output: "no newline".to_owned(),
        },
        LogEvent::CmdFinished {
            timestamp: 3,
            directive: "echo".to_owned(),
            exit_code: 0,
            started_at: 2,
            finished_at: 3,
        },
        LogEvent::JobFinished {
            timestamp: 3,
            result: JobResult::Passed,
        },
    ];
    let mut text: String = events.iter().map(LogEvent::to_line).collect();
    text.push_str("{\"event\":\"cmd_output\",\"timest");
    std::fs::write(path, text).expect("spool");
    "Exporting environment variables\necho 'héllo'; printf 'no newline'\nhéllo\nno newline"
        .to_owned()
}

#[test]
fn the_plain_text_log_holds_directives_and_output_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("job_log_1.json");
    let expected = write_spool(&spool);
    let out = dir.path().join("job_log_1.txt");
    let written = write_plain_text(&spool, &out).expect("written");
    assert_eq!(std::fs::read_to_string(&out).expect("text"), expected);
    assert_eq!(written, expected.len() as u64);
}

#[test]
fn gzip_writes_a_gz_file_beside_the_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("log.txt");
    let text = "line\n".repeat(10_000);
    std::fs::write(&src, &text).expect("src");
    let gz = gzip(&src).expect("gzipped");
    assert_eq!(gz, dir.path().join("log.txt.gz"));
    let compressed = std::fs::read(&gz).expect("gz");
    assert!(compressed.len() < text.len() / 10, "compressed");
    let mut back = String::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_string(&mut back)
        .expect("a gzip stream");
    assert_eq!(back, text);
}

#[cfg(unix)]
fn executable(path: &Path, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, script).expect("script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[cfg(unix)]
#[test]
fn the_cli_is_the_first_executable_of_its_name_in_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).expect("a");
    std::fs::create_dir_all(&b).expect("b");
    std::fs::write(a.join("artifact"), "not executable").expect("plain file");
    executable(&b.join("artifact"), "#!/bin/sh\n");
    let path = std::env::join_paths([&a, &b]).expect("PATH");
    assert_eq!(
        find_program(Path::new("artifact"), Some(&path)),
        Some(b.join("artifact"))
    );
    assert_eq!(find_program(Path::new("artifact"), None), None);
    assert_eq!(
        find_program(Path::new("artifact"), Some(a.as_os_str())),
        None
    );
    assert_eq!(
        find_program(&b.join("artifact"), None),
        Some(b.join("artifact")),
        "a path is taken as is"
    );
}

/// A stand-in `artifact` CLI that writes its arguments, its environment and a copy of the
/// file it was given into `record`, then exits with `status`.
#[cfg(unix)]
pub struct StandIn {
    pub dir: PathBuf,
    pub record: PathBuf,
}

#[cfg(unix)]
impl StandIn {
    pub fn new(root: &Path, status: u8) -> StandIn {
        let dir = root.join("bin");
        let record = root.join("record");
        std::fs::create_dir_all(&dir).expect("bin");
        std::fs::create_dir_all(&record).expect("record");
        let r = record.display();
        executable(
            &dir.join("artifact"),
            &format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{r}/args'\nenv > '{r}/env'\ncp \"$3\" '{r}/file'\necho 'artifact says no' >&2\nexit {status}\n"
            ),
        );
        StandIn { dir, record }
    }

    /// A `PATH` with the stand-in first, then the system's tools.
    pub fn path(&self) -> OsString {
        let mut path = self.dir.clone().into_os_string();
        path.push(":/usr/bin:/bin");
        path
    }

    pub fn ran(&self) -> bool {
        self.record.join("args").exists()
    }

    pub fn args(&self) -> Vec<String> {
        std::fs::read_to_string(self.record.join("args"))
            .expect("the CLI ran")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn env(&self) -> String {
        std::fs::read_to_string(self.record.join("env")).expect("the CLI ran")
    }

    pub fn file(&self) -> Vec<u8> {
        std::fs::read(self.record.join("file")).expect("the CLI ran")
    }
}

#[cfg(unix)]
fn settings(policy: UploadJobLogs, stand_in: &StandIn) -> UploadSettings {
    let host: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), stand_in.path()),
        (
            "SEMAPHORE_AGENT_TOKEN".into(),
            "registration-token-xyz".into(),
        ),
        ("AWS_SECRET_ACCESS_KEY".into(), "aws-secret".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    UploadSettings {
        policy,
        compression_size: DEFAULT_COMPRESSION_SIZE,
        cli: PathBuf::from("artifact"),
        env: BaseEnv::from_host(host, Path::new("/home/agent")),
    }
}

#[cfg(unix)]
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
#[tokio::test]
async fn an_upload_runs_the_cli_with_a_clean_environment_and_cleans_up() {
    let root = tempfile::tempdir().expect("tempdir");
    let stand_in = StandIn::new(root.path(), 0);
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let spool = logs.join("job_log_7.json");
    let expected = write_spool(&spool);

    let outcome = upload_job_log(
        &settings(UploadJobLogs::Always, &stand_in),
        "job-7",
        &artifact_vars(),
        false,
        &spool,
    )
    .await;

    assert_eq!(outcome, UploadOutcome::Uploaded(DESTINATION));
    let args = stand_in.args();
    assert_eq!(args.len(), 5);
    assert_eq!(args[..2], ["push", "job"]);
    assert_eq!(args[3..], ["-d", "agent/job_logs.txt"]);
    assert!(args[2].ends_with(".txt"), "{args:?}");
    assert_eq!(String::from_utf8(stand_in.file()).expect("utf-8"), expected);
    let env = stand_in.env();
    for line in [
        "SEMAPHORE_ARTIFACT_TOKEN=artifact-token-1",
        "SEMAPHORE_JOB_ID=job-7",
        "SEMAPHORE_ORGANIZATION_URL=https://acme.semaphoreci.com",
        "HOME=/home/agent",
        "LANG=C.UTF-8",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} in {env}");
    }
    assert!(!env.contains("registration-token-xyz"), "{env}");
    assert!(!env.contains("SEMAPHORE_AGENT_"), "{env}");
    assert!(!env.contains("aws-secret"), "{env}");
    assert_eq!(files_in(&logs), ["job_log_7.json"], "temporaries removed");
}

#[cfg(unix)]
#[tokio::test]
async fn a_log_from_the_compression_size_on_is_uploaded_gzipped() {
    let root = tempfile::tempdir().expect("tempdir");
    let stand_in = StandIn::new(root.path(), 0);
    let spool = root.path().join("job_log_8.json");
    let expected = write_spool(&spool);
    let mut settings = settings(UploadJobLogs::Always, &stand_in);
    settings.compression_size = expected.len() as u64;

    let outcome = upload_job_log(&settings, "job-8", &artifact_vars(), false, &spool).await;

    assert_eq!(outcome, UploadOutcome::Uploaded(GZ_DESTINATION));
    let args = stand_in.args();
    assert_eq!(args[4], "agent/job_logs.txt.gz");
    assert!(args[2].ends_with(".txt.gz"), "{args:?}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(stand_in.file().as_slice())
        .read_to_string(&mut text)
        .expect("gzip");
    assert_eq!(text, expected);
    assert_eq!(files_in(root.path()), ["bin", "job_log_8.json", "record"]);

    // One byte under the size: plain.
    let stand_in = StandIn::new(&root.path().join("again"), 0);
    let mut settings = self::settings(UploadJobLogs::Always, &stand_in);
    settings.compression_size = expected.len() as u64 + 1;
    let outcome = upload_job_log(&settings, "job-8", &artifact_vars(), false, &spool).await;
    assert_eq!(outcome, UploadOutcome::Uploaded(DESTINATION));
}

#[cfg(unix)]
#[tokio::test]
async fn nothing_runs_when_the_policy_says_no_or_something_is_missing() {
    let root = tempfile::tempdir().expect("tempdir");
    let stand_in = StandIn::new(root.path(), 0);
    let spool = root.path().join("job_log_9.json");
    write_spool(&spool);
    let cases: Vec<(&str, UploadJobLogs, bool, Vec<EnvVar>, UploadOutcome)> = vec![
        (
            "never",
            UploadJobLogs::Never,
            true,
            artifact_vars(),
            UploadOutcome::NotWanted,
        ),
        (
            "not trimmed",
            UploadJobLogs::WhenTrimmed,
            false,
            artifact_vars(),
            UploadOutcome::NotWanted,
        ),
        (
            "no token",
            UploadJobLogs::Always,
            true,
            vec![var(ORGANIZATION_URL_VAR, "https://acme.semaphoreci.com")],
            UploadOutcome::MissingVariable(ARTIFACT_TOKEN_VAR),
        ),
        (
            "no organization",
            UploadJobLogs::Always,
            true,
            vec![var(ARTIFACT_TOKEN_VAR, "t")],
            UploadOutcome::MissingVariable(ORGANIZATION_URL_VAR),
        ),
    ];
    for (name, policy, trimmed, vars, expected) in cases {
        let outcome =
            upload_job_log(&settings(policy, &stand_in), "j", &vars, trimmed, &spool).await;
        assert_eq!(outcome, expected, "{name}");
        assert!(!stand_in.ran(), "{name}: the CLI did not run");
    }

    let mut no_cli = settings(UploadJobLogs::Always, &stand_in);
    no_cli.cli = PathBuf::from("no-such-artifact-cli");
    let outcome = upload_job_log(&no_cli, "j", &artifact_vars(), true, &spool).await;
    assert_eq!(outcome, UploadOutcome::NoCli);
}

#[cfg(unix)]
#[tokio::test]
async fn a_failing_cli_is_reported_with_what_it_said_and_cleaned_up() {
    let root = tempfile::tempdir().expect("tempdir");
    let stand_in = StandIn::new(root.path(), 3);
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let spool = logs.join("job_log_10.json");
    write_spool(&spool);
    let outcome = upload_job_log(
        &settings(UploadJobLogs::Always, &stand_in),
        "j",
        &artifact_vars(),
        false,
        &spool,
    )
    .await;
    let UploadOutcome::CliFailed(why) = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert!(why.contains("exit status: 3"), "{why}");
    assert!(why.contains("artifact says no"), "{why}");
    assert_eq!(files_in(&logs), ["job_log_10.json"]);
}
