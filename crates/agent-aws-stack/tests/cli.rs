//! The built binary on fixtures: stdout, stderr and exit status. Emulator tests run when
//! `AWS_ENDPOINT_URL` points at moto_server (scripts/test.sh starts one) and are skipped,
//! saying so, otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

mod common;
use common::cli;

/// `synth --no-lookups` for the account and region of the fixtures.
fn offline_synth(dir: &Path) -> Command {
    let mut cmd = cli(dir);
    cmd.args([
        "synth",
        "--no-lookups",
        "--account",
        "123456789012",
        "--region",
        "us-east-1",
    ]);
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn example_args() -> Vec<String> {
    let ex = root().join("examples/linux");
    vec![
        "synth".into(),
        "--config".into(),
        ex.join("config.json").display().to_string(),
        "--context".into(),
        ex.join("cdk.context.json").display().to_string(),
        "--github-keys".into(),
        ex.join("gh_ssh_keys.json").display().to_string(),
        "--account".into(),
        "123456789012".into(),
        "--region".into(),
        "us-east-1".into(),
        "--no-lookups".into(),
    ]
}

/// With `BLESS` set, points the example's cached AMI lookup at today's image name (it changes
/// with every change to an image's sources), keeping the cached image id.
fn bless_example_image_name() {
    if std::env::var_os("BLESS").is_none() {
        return;
    }
    let path = root().join("examples/linux/cdk.context.json");
    write_example_context_for_today(&path);
}

/// Writes the example's lookup cache to `path` with its agent image lookup keyed by today's
/// image name.
fn write_example_context_for_today(path: &Path) {
    let ex = root().join("examples/linux");
    let raw = stack_config::RawConfig::load(
        Some(&ex.join("config.json")),
        std::iter::empty::<(String, String)>(),
    )
    .expect("example config");
    let config = stack_config::StackConfig::from_raw(&raw)
        .expect("valid")
        .config;
    let name = stack_template::assets::ami_name(&config);
    let mut context: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(ex.join("cdk.context.json")).expect("context"),
    )
    .expect("JSON");
    let old = context
        .keys()
        .find(|k| k.starts_with("ami:") && k.contains(":filters.name.0=semaphore-agent-v"))
        .cloned()
        .expect("the example caches one agent image lookup");
    let key = with_image_name(&old, &name);
    let value = context.remove(&old).expect("present");
    context.insert(key, value);
    let mut text = serde_json::to_string_pretty(&context).expect("JSON");
    text.push('\n');
    std::fs::write(path, text).expect("write the example context");
}

/// `old` with its `filters.name.0=<name>` segment replaced by `name`.
fn with_image_name(old: &str, name: &str) -> String {
    old.split(':')
        .map(|part| match part.strip_prefix("filters.name.0=") {
            Some(_) => format!("filters.name.0={name}"),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn bundled_example_synthesizes_offline() {
    bless_example_image_name();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cli(dir.path()).args(example_args()).output().expect("runs");
    assert!(
        out.status.success(),
        "the README's first command must work (after a change to an image's sources, run `BLESS=1 cargo test -p agent-aws-stack --test cli bundled_example` to update the image name in examples/linux/cdk.context.json): {}",
        text(&out.stderr)
    );
    let template: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        template["Resources"]["launchTemplateDEE5742D"]["Properties"]["LaunchTemplateData"]["ImageId"],
        "ami-0a9b8c7d6e5f40312"
    );
    assert!(text(&out.stderr).contains("==> Using config file at"));
}

#[test]
fn output_flag_writes_the_file_and_nothing_to_stdout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("template.json");
    let out = cli(dir.path())
        .args(example_args())
        .arg("--output")
        .arg(&target)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).expect("written")).expect("JSON");
    assert_eq!(written["Description"], "Semaphore agent autoscaling stack");
}

#[test]
fn environment_overrides_the_config_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cli(dir.path())
        .args(example_args())
        .env("SEMAPHORE_AGENT_INSTANCE_TYPE", "m7i.xlarge")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let template: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        template["Resources"]["launchTemplateDEE5742D"]["Properties"]["LaunchTemplateData"]["InstanceType"],
        "m7i.xlarge"
    );
}

#[test]
fn config_file_can_come_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = example_args();
    let at = args.iter().position(|a| a == "--config").expect("present");
    let file = args.remove(at + 1);
    args.remove(at);
    let out = cli(dir.path())
        .args(args)
        .env("SEMAPHORE_AGENT_STACK_CONFIG", file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn invalid_configuration_reports_every_problem_and_prints_no_template() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("template.json");
    let out = offline_synth(dir.path())
        .arg("--output")
        .arg(&target)
        .env("SEMAPHORE_AGENT_OVERPROVISION_STRATEGY", "lots")
        .env("SEMAPHORE_AGENT_TAGS", "team")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no template on stdout");
    assert!(!target.exists(), "no template written");
    let stderr = text(&out.stderr);
    for expected in [
        "'SEMAPHORE_AGENT_STACK_NAME' is required",
        "'SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME' is required",
        "Either SEMAPHORE_ENDPOINT or SEMAPHORE_ORGANIZATION need be set.",
        "SEMAPHORE_AGENT_OVERPROVISION_STRATEGY is invalid",
        "SEMAPHORE_AGENT_TAGS item 'team' must be written Key:Value",
    ] {
        assert!(
            stderr.contains(expected),
            "stderr lacks {expected:?}:\n{stderr}"
        );
    }
    assert!(
        stderr.starts_with("==> No config file specified"),
        "{stderr}"
    );
}

#[test]
fn missing_config_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cli(dir.path())
        .args(["synth", "--config", "nope.json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: Config file nope.json does not exist"
    );
}

#[test]
fn no_lookups_lists_every_missing_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = offline_synth(dir.path())
        .arg("--github-keys")
        .arg(root().join("tests/fixtures/gh_ssh_keys.json"))
        .envs([
            ("SEMAPHORE_AGENT_STACK_NAME", "s"),
            ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "t"),
            ("SEMAPHORE_ORGANIZATION", "o"),
            ("SEMAPHORE_AGENT_SECURITY_GROUP_ID", "sg-0a1b2c3d4e5f67890"),
            ("SEMAPHORE_AGENT_AMI", "ami-0123456789abcdef0"),
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(
        "Missing context keys: 'security-group:account=123456789012:region=us-east-1:securityGroupId=sg-0a1b2c3d4e5f67890, ami:account=123456789012:filters.image-id.0=ami-0123456789abcdef0:filters.image-type.0=machine:filters.name.0=*:filters.state.0=available:region=us-east-1, availability-zones:account=123456789012:region=us-east-1'"
    ), "{stderr}");
    assert!(
        !dir.path().join("cdk.context.json").exists(),
        "nothing written"
    );
}

#[test]
fn no_lookups_requires_account_and_region() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cli(dir.path())
        .args(example_args().into_iter().filter(|a| {
            a != "123456789012" && a != "us-east-1" && a != "--account" && a != "--region"
        }))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("account and region are unknown"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn config_command_shows_values_and_sources() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cli(dir.path())
        .args(["config", "--json", "--config"])
        .arg(root().join("examples/linux/config.json"))
        .env("SEMAPHORE_AGENT_ASG_MAX_SIZE", "7")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e["name"] == name)
            .expect("listed")
            .clone()
    };
    assert_eq!(find("SEMAPHORE_AGENT_ASG_MAX_SIZE")["value"], "7");
    assert_eq!(
        find("SEMAPHORE_AGENT_ASG_MAX_SIZE")["source"],
        "environment"
    );
    assert_eq!(find("SEMAPHORE_AGENT_ASG_MIN_SIZE")["value"], "0");
    assert_eq!(find("SEMAPHORE_AGENT_ASG_MIN_SIZE")["source"], "default");
    assert!(
        find("SEMAPHORE_AGENT_OS")["source"]
            .as_str()
            .expect("str")
            .starts_with("file ")
    );
    assert_eq!(entries.len(), 50);
}

#[test]
fn config_command_fails_on_invalid_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cli(dir.path()).args(["config"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("SEMAPHORE_AGENT_STACK_NAME"));
    assert!(text(&out.stderr).contains("'SEMAPHORE_AGENT_STACK_NAME' is required"));
}

/// A config file in `dir` with the example's required values and `extra` keys.
fn config_with(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("config.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"SEMAPHORE_AGENT_STACK_NAME": "ci-agents", "SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME": "t",
                "SEMAPHORE_ORGANIZATION": "acme"{extra}}}"#
        ),
    )
    .expect("write config");
    path
}

#[test]
fn r16_a_misspelt_key_is_a_warning_naming_the_parameter() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(
        dir.path(),
        r#", "SEMAPHORE_AGENT_INSTANCE_TYP": "c6i.large""#,
    );
    let out = cli(dir.path())
        .args(["config", "--config"])
        .arg(&config)
        .env("SEMAPHORE_AGENT_ASG_MAX_SIZ", "3")
        // Not stack parameters, and not close to one: never warned about.
        .env("SEMAPHORE_GIT_BRANCH", "main")
        .env("SEMAPHORE_AGENT_UPLOAD_JOB_LOGS", "always")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(
        warnings,
        [
            format!(
                "warning: config file {}: SEMAPHORE_AGENT_INSTANCE_TYP is not a stack parameter and is ignored; did you mean SEMAPHORE_AGENT_INSTANCE_TYPE?",
                config.display()
            ),
            "warning: environment variable SEMAPHORE_AGENT_ASG_MAX_SIZ is not a stack parameter and is ignored; did you mean SEMAPHORE_AGENT_ASG_MAX_SIZE?".to_owned(),
        ],
        "{stderr}"
    );
    // The default is what gets deployed, as the warning says.
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("SEMAPHORE_AGENT_INSTANCE_TYPE "))
        .expect("listed");
    assert!(line.ends_with(r#""t2.micro"  (default)"#), "{line}");
}

#[test]
fn r16_strict_makes_an_unknown_key_an_error_before_anything_is_done() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(
        dir.path(),
        r#", "SEMAPHORE_AGENT_INSTANCE_TYP": "c6i.large""#,
    );
    let target = dir.path().join("template.json");
    for args in [
        vec!["config", "--strict"],
        vec![
            "synth",
            "--strict",
            "--no-lookups",
            "--account",
            "123456789012",
            "--region",
            "us-east-1",
            "--output",
            "template.json",
        ],
        vec!["execution-policy", "--strict"],
    ] {
        let out = cli(dir.path())
            .args(&args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("runs");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        assert!(
            stderr.contains("error: --strict: 1 name(s) in the configuration are not stack parameters; nothing was done:\n  - config file ")
                && stderr.contains("did you mean SEMAPHORE_AGENT_INSTANCE_TYPE?"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!target.exists(), "no template written");
    // Without a misspelling, --strict changes nothing.
    let clean = config_with(dir.path(), "");
    let out = cli(dir.path())
        .args(["config", "--strict", "--config"])
        .arg(&clean)
        .env("SEMAPHORE_JOB_ID", "j")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn r16_every_command_that_reads_the_configuration_takes_strict() {
    let dir = tempfile::tempdir().expect("temp dir");
    for command in [
        "config",
        "synth",
        "deploy",
        "diff",
        "destroy",
        "token",
        "execution-policy",
    ] {
        let out = cli(dir.path())
            .args([command, "--help"])
            .output()
            .expect("runs");
        assert!(
            text(&out.stdout).contains("--strict"),
            "{command} --help lacks --strict"
        );
    }
}

#[test]
fn usage_errors_exit_with_two() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = cli(dir.path())
        .args(["synth", "--bogus"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

mod github {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A one-shot HTTP server on 127.0.0.1 answering like GitHub's meta API.
    fn serve_once(status: &'static str, body: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/meta", listener.local_addr().expect("addr"));
        std::thread::spawn(move || {
            if let Ok((mut socket, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf);
                let _ = write!(
                    socket,
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    fn synth_fetching(dir: &Path, url: &str) -> Output {
        let mut args: Vec<String> = example_args();
        let at = args
            .iter()
            .position(|a| a == "--github-keys")
            .expect("present");
        args.drain(at..at + 2);
        cli(dir)
            .args(args)
            .args(["--github-meta-url", url])
            .output()
            .expect("runs")
    }

    #[test]
    fn keys_are_fetched_then_cached_for_an_hour() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = serve_once("200 OK", r#"{"ssh_keys":["ssh-ed25519 AAAAFETCHED"]}"#);
        let out = synth_fetching(dir.path(), &url);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let template: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(
            template["Resources"]["sshKeysUpdaterParameter4EB9ACDD"]["Properties"]["Value"],
            r#"["ssh-ed25519 AAAAFETCHED"]"#
        );
        let cached: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".gh_ssh_keys_"))
            .collect();
        assert_eq!(cached.len(), 1);

        // The server is gone; the cache answers.
        let again = synth_fetching(dir.path(), &url);
        assert!(again.status.success(), "{}", text(&again.stderr));
        assert!(text(&again.stderr).contains("GitHub SSH keys found locally"));
    }

    #[test]
    fn fetch_failure_is_an_error_and_no_template() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = serve_once("503 Service Unavailable", "busy");
        let out = synth_fetching(dir.path(), &url);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("failed to fetch GitHub's SSH host keys"),
            "{stderr}"
        );
        assert!(stderr.contains("503"), "{stderr}");
    }
}

mod emulator {
    //! `synth` with real lookups against moto_server: the cache is filled from EC2 and STS,
    //! and a second run works with `--no-lookups`.
    use super::*;
    use aws_sdk_ec2::types::{BlockDeviceMapping, EbsBlockDevice};
    use stack_config::{RawConfig, StackConfig};

    const PAIRS: &[(&str, &str)] = &[
        ("SEMAPHORE_AGENT_STACK_NAME", "emulated"),
        ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "emulated-token"),
        ("SEMAPHORE_ORGANIZATION", "acme"),
        ("SEMAPHORE_AGENT_OS", "ubuntu-noble"),
        ("SEMAPHORE_AGENT_ARCH", "arm64"),
    ];

    #[test]
    fn lookups_fill_the_cache_then_work_offline() {
        let Some(endpoint) = std::env::var_os("AWS_ENDPOINT_URL") else {
            eprintln!(
                "skipped: AWS_ENDPOINT_URL is not set (run scripts/test.sh to start moto_server)"
            );
            return;
        };
        let config = StackConfig::from_raw(&RawConfig::from_pairs(PAIRS.iter().copied()))
            .expect("valid")
            .config;
        let name = stack_template::ami_name(&config);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let image_id = runtime.block_on(async {
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .load()
                .await;
            let ec2 = aws_sdk_ec2::Client::new(&sdk);
            let existing = ec2
                .describe_images()
                .owners("self")
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("name")
                        .values(&name)
                        .build(),
                )
                .send()
                .await
                .expect("describe");
            if let Some(id) = existing.images().first().and_then(|i| i.image_id()) {
                return id.to_owned();
            }
            ec2.register_image()
                .name(&name)
                .root_device_name("/dev/sda1")
                .block_device_mappings(
                    BlockDeviceMapping::builder()
                        .device_name("/dev/sda1")
                        .ebs(EbsBlockDevice::builder().volume_size(8).build())
                        .build(),
                )
                .send()
                .await
                .expect("register")
                .image_id()
                .expect("id")
                .to_owned()
        });

        let dir = tempfile::tempdir().expect("temp dir");
        let run = |extra: &[&str]| {
            cli(dir.path())
                .args(["synth", "--github-keys"])
                .arg(root().join("tests/fixtures/gh_ssh_keys.json"))
                .args(extra)
                .envs(PAIRS.iter().copied())
                .env("AWS_ENDPOINT_URL", &endpoint)
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_REGION", "us-east-1")
                .output()
                .expect("runs")
        };
        let first = run(&[]);
        assert!(first.status.success(), "{}", text(&first.stderr));
        assert!(
            text(&first.stderr).contains("==> Looking up 3 value(s) in 123456789012/us-east-1")
        );
        let template: serde_json::Value = serde_json::from_slice(&first.stdout).expect("JSON");
        assert_eq!(
            template["Resources"]["launchTemplateDEE5742D"]["Properties"]["LaunchTemplateData"]["ImageId"],
            image_id.as_str()
        );
        let context: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("cdk.context.json")).expect("cache written"),
        )
        .expect("JSON");
        assert!(context["availability-zones:account=123456789012:region=us-east-1"].is_array());

        // Offline now: same template, no AWS needed.
        let second = offline_synth(dir.path())
            .arg("--github-keys")
            .arg(root().join("tests/fixtures/gh_ssh_keys.json"))
            .envs(PAIRS.iter().copied())
            .output()
            .expect("runs");
        assert!(second.status.success(), "{}", text(&second.stderr));
        assert_eq!(first.stdout, second.stdout);
    }
}

mod scale_once {
    //! `scale-once` end to end: the binary with the scaler Lambda's environment, SSM and
    //! Auto Scaling on moto_server, Semaphore and CloudWatch's PutMetricData on local HTTP
    //! servers.
    use super::*;
    use aws_test_support::{
        create_group, fake_cloudwatch, group_state, moto, put_parameter, sent_metrics, unique,
    };
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const TOKEN: &str = "cli-registration-token-s3cr3t";

    struct Env {
        sdk: aws_config::SdkConfig,
        group: String,
        vars: Vec<(String, String)>,
        semaphore: MockServer,
        cloudwatch: MockServer,
    }

    async fn env(test: &str, body: ResponseTemplate) -> Option<Env> {
        let sdk = moto(test).await?;
        let stack = unique("cli-stack");
        let group = format!("{stack}-asg");
        let token = unique("cli-token");
        put_parameter(&sdk, &token, TOKEN, true).await;
        create_group(&sdk, &group, (1, 6, 1), Some(&stack)).await;
        let semaphore = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v1/self_hosted_agents/metrics"))
            .respond_with(body)
            .mount(&semaphore)
            .await;
        let cloudwatch = fake_cloudwatch().await;
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        let vars = [
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ENDPOINT_URL_CLOUDWATCH", &cloudwatch.uri()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", &token),
            ("SEMAPHORE_AGENT_STACK_NAME", &stack),
            ("SEMAPHORE_ENDPOINT", &semaphore.uri()),
            ("SEMAPHORE_AGENT_OVERPROVISION_STRATEGY", "number"),
            ("SEMAPHORE_AGENT_OVERPROVISION_FACTOR", "1"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        Some(Env {
            sdk,
            group,
            vars,
            semaphore,
            cloudwatch,
        })
    }

    impl Env {
        fn run(&self, args: &[&str]) -> Output {
            let dir = tempfile::tempdir().expect("tempdir");
            cli(dir.path())
                .arg("scale-once")
                .args(args)
                .envs(self.vars.iter().map(|(k, v)| (k, v)))
                .output()
                .expect("runs")
        }
    }

    fn metrics(queued: u32, running: u32) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_string(format!(
            r#"{{"jobs":{{"queued":{queued},"running":{running}}},"agents":{{"idle":0,"occupied":{running}}}}}"#
        ))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn dry_run_prints_the_reading_and_decision_and_changes_nothing() {
        let Some(e) = env("scale_once_dry_run", metrics(3, 1)).await else {
            return;
        };
        let out = e.run(&["--dry-run"]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            stdout.contains("jobs:   queued=3 running=1 (demand 4)"),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "Auto Scaling group {}: desired 1, min 1, max 6",
                e.group
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains("Decision: target 5 (overprovision number (1)): scale up from 1 to 5"),
            "{stdout}"
        );
        assert!(stdout.contains("dry run: nothing changed"), "{stdout}");
        assert_eq!(group_state(&e.sdk, &e.group).await.0, 1);
        assert!(sent_metrics(&e.cloudwatch).await.is_empty());
        assert!(!stdout.contains(TOKEN) && !text(&out.stderr).contains(TOKEN));
        let seen = e.semaphore.received_requests().await.unwrap_or_default();
        assert_eq!(
            seen[0]
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some(format!("Token {TOKEN}").as_str())
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_tick_scales_the_group_and_publishes_metrics() {
        let Some(e) = env("scale_once_apply", metrics(2, 0)).await else {
            return;
        };
        let out = e.run(&["--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        assert_eq!(report["decision"]["action"]["action"], "scale_up");
        assert_eq!(report["scaled"], true);
        assert_eq!(group_state(&e.sdk, &e.group).await.0, 3);
        assert_eq!(sent_metrics(&e.cloudwatch).await.len(), 4);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failed_tick_exits_one_with_the_reason() {
        let Some(e) = env("scale_once_fails", ResponseTemplate::new(503)).await else {
            return;
        };
        let out = e.run(&[]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert!(stderr.contains("error: Semaphore answered 503"), "{stderr}");
        assert!(!stderr.contains(TOKEN));
        assert_eq!(group_state(&e.sdk, &e.group).await.0, 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn dry_run_reads_the_metrics_of_a_local_hub() {
        use agent_protocol::{Command, JobRequest, Secret};
        use semaphore_hub::records::SubmitJob;
        let Some(sdk) = moto("scale_once_hub").await else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let api = Secret::new("api-token");
        let listen = "127.0.0.1:0".parse().expect("address");
        let hub = semaphore_hub::Hub::start(
            listen,
            &dir.path().join("hub.db"),
            semaphore_hub::HubSettings::new(""),
            &api,
        )
        .await
        .expect("start the hub");
        let client = semaphore_hub::client::Client::new(&hub.url, api).expect("client");
        let agent_type = client.create_agent_type("aws-fleet").await.expect("type");
        for _ in 0..3 {
            let request = JobRequest {
                commands: vec![Command::new("true")],
                ..JobRequest::default()
            };
            client
                .submit(&SubmitJob {
                    agent_type: "aws-fleet".into(),
                    request,
                    time_limit_secs: None,
                })
                .await
                .expect("submit");
        }
        let stack = unique("hub-stack");
        let group = format!("{stack}-asg");
        let parameter = unique("hub-token");
        let token = agent_type.registration_token.expose().to_owned();
        put_parameter(&sdk, &parameter, &token, true).await;
        create_group(&sdk, &group, (1, 6, 1), Some(&stack)).await;
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        let run = tempfile::tempdir().expect("tempdir");
        let out = cli(run.path())
            .args(["scale-once", "--dry-run"])
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", &parameter)
            .env("SEMAPHORE_AGENT_STACK_NAME", &stack)
            .env("SEMAPHORE_ENDPOINT", &hub.url)
            .env("SEMAPHORE_AGENT_OVERPROVISION_STRATEGY", "none")
            .output()
            .expect("runs");
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
        assert!(
            stdout.contains("jobs:   queued=3 running=0 (demand 3)"),
            "{stdout}"
        );
        assert!(stdout.contains("agents: idle=0 occupied=0"), "{stdout}");
        assert!(stdout.contains("scale up from 1 to 3"), "{stdout}");
        assert_eq!(group_state(&sdk, &group).await.0, 1);
        assert!(!stdout.contains(&token));
        hub.stop().await;
    }

    #[test]
    fn a_missing_environment_is_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = cli(dir.path())
            .args(["scale-once", "--dry-run"])
            .env("SEMAPHORE_AGENT_OVERPROVISION_STRATEGY", "percentage")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        for name in [
            "SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME",
            "SEMAPHORE_AGENT_STACK_NAME",
            "SEMAPHORE_ENDPOINT",
            "SEMAPHORE_AGENT_OVERPROVISION_FACTOR",
        ] {
            assert!(stderr.contains(name), "{name} not named in {stderr}");
        }
    }
}

/// Golden renderings of the security review that `diff` prints and `deploy` shows before
/// asking: the example's template synthesized by the binary, before and after a change, run
/// through the same rendering (plain text at the default width) and the same rows `--json`
/// writes. `BLESS=1 cargo test -p agent-aws-stack --test cli security_review` rewrites
/// `tests/fixtures/security-review/<case>/{review.txt,security.json}`; review them like code.
mod security_review {
    use super::*;
    use serde_json::Value;
    use stack_deploy::diff::compare;
    use stack_deploy::render::{DEFAULT_WIDTH, diff_lines};
    use stack_deploy::security::SecurityChanges;

    /// The example's template, with `env` set on top of its config file (and its image
    /// lookup keyed by today's image name, which the example's cache may lag behind).
    fn example(env: &[(&str, &str)]) -> Value {
        let dir = tempfile::tempdir().expect("temp dir");
        let context = dir.path().join("cdk.context.json");
        write_example_context_for_today(&context);
        let mut args = example_args();
        let at = args
            .iter()
            .position(|a| a == "--context")
            .expect("--context")
            + 1;
        args[at] = context.display().to_string();
        let mut cmd = cli(dir.path());
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    /// `template` with `action` taken out of the statement of `policy` that has it.
    fn without_action(mut template: Value, policy: &str, action: &str) -> Value {
        let statements = template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]
            .as_array_mut()
            .expect("the policy has statements");
        let statement = statements
            .iter_mut()
            .find(|s| match &s["Action"] {
                Value::Array(actions) => actions.len() > 1 && actions.iter().any(|a| a == action),
                _ => false,
            })
            .unwrap_or_else(|| panic!("{policy} has no statement with {action} and more"));
        let actions = statement["Action"].as_array_mut().expect("a list");
        actions.retain(|a| a != action);
        template
    }

    fn check(case: &str, old: &Value, new: &Value) {
        let diff = compare(old, new);
        let mut review = diff_lines("ci-agents", &diff, false, DEFAULT_WIDTH).join("\n");
        review.push('\n');
        let mut security =
            serde_json::to_string_pretty(&SecurityChanges::of(&diff.security)).expect("JSON");
        security.push('\n');
        let dir = root().join("tests/fixtures/security-review").join(case);
        let files = [("review.txt", review), ("security.json", security)];
        if std::env::var_os("BLESS").is_some() {
            std::fs::create_dir_all(&dir).expect("fixture folder");
            for (name, actual) in &files {
                std::fs::write(dir.join(name), actual).expect("write golden");
            }
            return;
        }
        for (name, actual) in &files {
            let path = dir.join(name);
            let golden = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (BLESS=1 writes it)", path.display()));
            assert!(
                golden == *actual,
                "{} differs (BLESS=1 rewrites it):\n--- golden\n{golden}\n--- actual\n{actual}",
                path.display()
            );
        }
    }

    #[test]
    fn the_examples_first_deploy() {
        let new = example(&[]);
        check(
            "example-first-deploy",
            &Value::Object(Default::default()),
            &new,
        );
    }

    #[test]
    fn an_ssh_rule_added() {
        let old = example(&[]);
        let new = example(&[("SEMAPHORE_AGENT_KEY_NAME", "ci-key")]);
        check("ssh-rule-added", &old, &new);
    }

    #[test]
    fn a_managed_policy_added() {
        let old = example(&[]);
        let new = example(&[("SEMAPHORE_AGENT_MANAGED_POLICY_NAMES", "ci-agents-extra")]);
        check("managed-policy-added", &old, &new);
    }

    #[test]
    fn a_statement_narrowed() {
        let old = example(&[]);
        let new = without_action(
            old.clone(),
            "instanceProfilePolicy62AF6D2B",
            "logs:PutRetentionPolicy",
        );
        check("statement-narrowed", &old, &new);
    }
}
