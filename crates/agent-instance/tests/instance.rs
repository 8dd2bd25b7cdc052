//! The on-instance flows end to end through the binary: SSM and Auto Scaling on
//! `moto_server`, a fake IMDSv2 on 127.0.0.1 that answers only requests carrying its session
//! token (and serves the instance profile's credentials), and stand-in commands that record
//! how the agent was started and whether the machine was powered off.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_protocol::AgentConfig;
use aws_config::SdkConfig;
use aws_test_support::{create_group, moto, put_parameter, unique};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "imds-session-token";
const SECRET: &str = "agent-token-0123456789";
const KEYS: &str = r#"["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl","ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="]"#;

/// A fake IMDSv2 for instance `instance_id` in us-east-1.
async fn fake_imds(instance_id: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/latest/api/token"))
        .and(wiremock::matchers::header_exists(
            "x-aws-ec2-metadata-token-ttl-seconds",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
                .set_body_string(TOKEN),
        )
        .mount(&server)
        .await;
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600;
    let expiration = format_rfc3339(expires);
    for (p, body) in [
        ("/latest/meta-data/instance-id", instance_id.to_owned()),
        ("/latest/meta-data/placement/region", "us-east-1".to_owned()),
        (
            "/latest/meta-data/iam/security-credentials/",
            "agent-instance-role".to_owned(),
        ),
        (
            "/latest/meta-data/iam/security-credentials/agent-instance-role",
            format!(
                r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAINSTANCEPROFILE","SecretAccessKey":"instance-secret","Token":"instance-session","Expiration":"{expiration}","LastUpdated":"2026-11-24T00:00:00Z"}}"#
            ),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .and(header("x-aws-ec2-metadata-token", TOKEN))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
    }
    server
}

/// `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds (civil-from-days, no date crate needed).
fn format_rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Every IMDS request carried the session token, or was the token request itself.
async fn only_imdsv2(server: &MockServer) {
    let requests = server.received_requests().await.expect("recording");
    assert!(!requests.is_empty(), "IMDS was used");
    for r in requests {
        let tokened = r.headers.get("x-aws-ec2-metadata-token").is_some();
        assert!(
            tokened || r.url.path() == "/latest/api/token",
            "IMDSv1 request: {} {}",
            r.method,
            r.url
        );
    }
}

/// A scratch instance: agent dir, home, and stand-in commands that record their calls.
struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
    user: String,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        for sub in ["agent/hooks", "home", "record"] {
            std::fs::create_dir_all(root.join(sub)).expect("layout");
        }
        let uid = std::fs::metadata(&root).expect("meta").uid();
        let user = std::fs::read_to_string("/etc/passwd")
            .expect("passwd")
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.get(2) == Some(&uid.to_string().as_str())).then(|| f[0].to_owned())
            })
            .expect("this user in /etc/passwd");
        for (name, body) in [
            (
                "stand-in-start",
                "echo \"start $*\" >> \"$REC/calls\"\ncp \"$AGENT/config.yaml\" \"$REC/config-at-start.yaml\"\ndate +%s.%N > \"$REC/started-at\"\n",
            ),
            (
                "stand-in-poweroff",
                "echo \"poweroff $*\" >> \"$REC/calls\"\n",
            ),
        ] {
            let path = root.join(name);
            std::fs::write(
                &path,
                format!(
                    "#!/bin/sh\nREC='{}'\nAGENT='{}'\n{body}",
                    root.join("record").display(),
                    root.join("agent").display()
                ),
            )
            .expect("stand-in");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("executable");
        }
        Scratch {
            _dir: dir,
            root,
            user,
        }
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.root.join("record/calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn run(&self, imds: &MockServer, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_agent-instance"));
        cmd.args(args)
            .arg("--agent-dir")
            .arg(self.root.join("agent"))
            .arg("--home")
            .arg(self.root.join("home"))
            .args(["--user", &self.user])
            .arg("--start-command")
            .arg(format!(
                "{} agent",
                self.root.join("stand-in-start").display()
            ))
            .arg("--poweroff-command")
            .arg(self.root.join("stand-in-poweroff"))
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.uri())
            // Credentials must come from the instance profile (the fake IMDS), not from here.
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env("AWS_CONFIG_FILE", self.root.join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.root.join("no-aws-credentials"),
            )
            .env("HOME", self.root.join("home"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run agent-instance")
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A group with one instance; returns the group and the instance id.
async fn one_instance(sdk: &SdkConfig) -> (String, String) {
    let group = unique("agents");
    create_group(sdk, &group, (0, 3, 1), None).await;
    let out = aws_sdk_autoscaling::Client::new(sdk)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group)
        .send()
        .await
        .expect("group");
    let id = out.auto_scaling_groups()[0].instances()[0]
        .instance_id()
        .expect("instance id")
        .to_owned();
    (group, id)
}

async fn instance_health(sdk: &SdkConfig, group: &str, id: &str) -> Option<(String, String)> {
    let out = aws_sdk_autoscaling::Client::new(sdk)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .expect("group");
    out.auto_scaling_groups()[0]
        .instances()
        .iter()
        .find(|i| i.instance_id() == Some(id))
        .map(|i| {
            (
                i.health_status().unwrap_or_default().to_owned(),
                i.lifecycle_state()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
}

async fn desired(sdk: &SdkConfig, group: &str) -> i32 {
    aws_test_support::group_state(sdk, group).await.0
}

/// The stack's parameters for a stack named `stack`.
async fn stack_parameters(sdk: &SdkConfig, stack: &str, pre_signed: bool) -> String {
    let config = format!("{stack}-config");
    let value = format!(
        r#"{{"endpoint":"acme.semaphoreci.com","agentTokenParameterName":"{stack}-token","sshKeysParameterName":"{stack}-ssh-public-keys","disconnectAfterJob":"true","disconnectAfterIdleTimeout":"300","envVars":["SEMAPHORE_CACHE_BACKEND=s3"],"usePreSignedURL":{pre_signed}}}"#
    );
    put_parameter(sdk, &config, &value, false).await;
    put_parameter(sdk, &format!("{stack}-ssh-public-keys"), KEYS, false).await;
    put_parameter(sdk, &format!("{stack}-token"), SECRET, true).await;
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn boot_configures_and_starts_the_agent_with_instance_profile_credentials() {
    let Some(sdk) = moto("boot").await else {
        return;
    };
    let (_group, id) = one_instance(&sdk).await;
    let imds = fake_imds(&id).await;
    let stack = unique("stack");
    let config = stack_parameters(&sdk, &stack, false).await;
    let scratch = Scratch::new();

    let out = scratch.run(&imds, &["boot", &config, "--pause-ms", "10-20"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let log = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        !text(&out).contains(SECRET),
        "the token leaked:\n{}",
        text(&out)
    );
    assert_eq!(scratch.calls(), vec!["start agent".to_owned()]);

    // The agent saw its whole configuration when it started.
    let yaml = std::fs::read_to_string(scratch.root.join("record/config-at-start.yaml"))
        .expect("recorded config");
    // ... in the schema the agent reads (agent_protocol::AgentConfig, as YAML).
    let written: AgentConfig = serde_norway::from_str(&yaml).expect("the agent reads it");
    assert_eq!(written.endpoint, "acme.semaphoreci.com", "{yaml}");
    assert_eq!(written.token.expose(), SECRET);
    assert!(written.name.starts_with(&format!("{id}__")), "{yaml}");
    assert!(written.disconnect_after_job, "{yaml}");
    assert_eq!(written.disconnect_after_idle_timeout_secs, 300, "{yaml}");
    assert_eq!(
        written.env_vars.first().map(String::as_str),
        Some("SEMAPHORE_CACHE_BACKEND=s3"),
        "{yaml}"
    );
    assert_eq!(
        written.shutdown_hook_path,
        scratch
            .root
            .join("agent/hooks/shutdown")
            .display()
            .to_string()
    );
    written
        .validate()
        .expect("a configuration the agent starts with");
    let mode = std::fs::metadata(scratch.root.join("agent/config.yaml"))
        .expect("config")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the token is readable by the agent's user only"
    );
    let known = scratch.root.join("home/.ssh/known_hosts");
    let hosts = std::fs::read_to_string(&known).expect("known_hosts");
    assert_eq!(hosts.lines().count(), 2, "{hosts}");
    assert!(
        hosts.starts_with("github.com ssh-ed25519 AAAAC3"),
        "{hosts}"
    );
    only_imdsv2(&imds).await;

    // Booting again (a re-run of user data) duplicates nothing.
    let out = scratch.run(&imds, &["boot", &config, "--pause-ms", "10-20"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&known).expect("known_hosts"), hosts);

    let started = log
        .lines()
        .find(|l| l.contains("Agent started"))
        .unwrap_or_default()
        .to_owned();
    eprintln!("boot to agent start against the local fakes: {started}");
    assert!(!started.is_empty(), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pre_signed_sts_url_as_the_agent_name() {
    let Some(sdk) = moto("boot-presigned").await else {
        return;
    };
    let (_group, id) = one_instance(&sdk).await;
    let imds = fake_imds(&id).await;
    let stack = unique("stack");
    let config = stack_parameters(&sdk, &stack, true).await;
    let scratch = Scratch::new();
    let out = scratch.run(&imds, &["boot", &config], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let yaml = std::fs::read_to_string(scratch.root.join("agent/config.yaml")).expect("config");
    let config: AgentConfig = serde_norway::from_str(&yaml).expect("the agent reads it");
    let name = config.name;
    assert!(
        name.starts_with("https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAINSTANCEPROFILE"),
        "{name}"
    );
    assert!(
        name.contains("X-Amz-Security-Token=instance-session"),
        "{name}"
    );
    assert!(name.contains("X-Amz-Expires=900"), "{name}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("X-Amz-Signature"));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_boot_marks_the_instance_unhealthy_and_starts_nothing() {
    let Some(sdk) = moto("boot-failure").await else {
        return;
    };
    let (group, id) = one_instance(&sdk).await;
    let imds = fake_imds(&id).await;
    let scratch = Scratch::new();
    let missing = unique("no-such-stack-config");
    let out = scratch.run(&imds, &["boot", &missing], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("SSM parameter {missing} does not exist")),
        "{}",
        text(&out)
    );
    assert_eq!(
        instance_health(&sdk, &group, &id)
            .await
            .map(|h| h.0)
            .as_deref(),
        Some("Unhealthy")
    );
    assert!(scratch.calls().is_empty(), "{:?}", scratch.calls());
    assert!(!scratch.root.join("agent/config.yaml").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn boot_without_instance_metadata_powers_off() {
    let imds = MockServer::start().await; // answers nothing
    let scratch = Scratch::new();
    let out = scratch.run(&imds, &["boot", "any-config"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(scratch.calls(), vec!["poweroff ".to_owned()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_hook_shrinks_the_fleet_only_after_an_idle_timeout() {
    let Some(sdk) = moto("shutdown-hook").await else {
        return;
    };
    let scratch = Scratch::new();
    for (reason, expected_desired) in [("JOB_FINISHED", 1), ("IDLE", 0)] {
        let (group, id) = one_instance(&sdk).await;
        let imds = fake_imds(&id).await;
        // A job left credentials behind: the hook must not use them.
        let out = scratch.run(
            &imds,
            &["shutdown-hook"],
            &[
                ("SEMAPHORE_AGENT_SHUTDOWN_REASON", reason),
                ("AWS_ACCESS_KEY_ID", "AKIAJOBLEFTOVER"),
                ("AWS_SECRET_ACCESS_KEY", "job"),
            ],
        );
        assert!(out.status.success(), "{reason}: {}", text(&out));
        assert_eq!(desired(&sdk, &group).await, expected_desired, "{reason}");
        let state = instance_health(&sdk, &group, &id).await;
        assert!(
            state.is_none() || state.as_ref().is_some_and(|s| s.1.starts_with("Terminat")),
            "{reason}: {state:?}"
        );
        only_imdsv2(&imds).await;
        // The credentials came from the instance profile.
        assert!(
            imds.received_requests()
                .await
                .expect("recording")
                .iter()
                .any(|r| r
                    .url
                    .path()
                    .ends_with("/security-credentials/agent-instance-role")),
            "{reason}"
        );
    }
    assert!(scratch.calls().is_empty(), "{:?}", scratch.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn health_check_powers_off_only_when_the_agent_is_gone() {
    let imds = MockServer::start().await;
    let scratch = Scratch::new();
    let pattern = format!("{}/agent start", scratch.root.join("agent").display());
    let agent = scratch.root.join("agent/agent");
    // One process whose command line reads like the agent's (`<dir>/agent start …`).
    std::fs::write(&agent, "#!/usr/bin/env bash\nexec -a \"$0 $1\" sleep 30\n")
        .expect("stand-in agent");
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).expect("mode");

    let out = scratch.run(&imds, &["health-check"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(scratch.calls(), vec!["poweroff ".to_owned()]);

    let mut running = Command::new(&agent)
        .arg("start")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("stand-in agent runs");
    wait_for(|| agent_instance::shutdown::agent_running(&pattern).unwrap_or(false));
    let out = scratch.run(&imds, &["health-check"], &[]);
    let _ = running.kill();
    let _ = running.wait();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Agent is running."));
    assert_eq!(scratch.calls().len(), 1, "no second power-off");
}

fn wait_for(ready: impl Fn() -> bool) {
    for _ in 0..100 {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("condition not reached");
}

#[test]
fn rfc3339_dates() {
    assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
}
