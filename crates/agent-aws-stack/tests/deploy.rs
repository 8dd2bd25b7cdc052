//! The deploy workflow end to end on `moto_server`, through the binary: bootstrap, diff,
//! first deploy, no-op deploy, update, destroy; then the upgrade of a stack that the
//! original CDK app created.
//!
//! moto cannot run Lambdas (no Docker), so the local fleet's responder plays the custom
//! resources' Lambda: it answers every custom resource of this test's stacks while in progress
//! through moto's response URL, as CloudFormation's Lambda would, and the Lambda zips are the
//! local fleet's stand-ins.
//!
//! Everything runs in one test, in order: the bootstrap (ours, then the original's CDK one)
//! is per account and region, and moto has one of each.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_cloudformation as cfn;
use local_fleet::stack::{Responder, stand_in_lambdas};
use serde_json::Value;
use stack_template::assets::LambdaAsset;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

mod common;

use common::text;

/// The binary with only what it needs from the environment: PATH, HOME and the emulator's
/// endpoint and dummy credentials.
fn cli(dir: &Path) -> Command {
    let mut cmd = common::aws_cli(dir);
    cmd.env("NO_COLOR", "1");
    cmd.env("AWS_REGION", REGION);
    // moto 5.2.5 fails (HTTP 500) on an `AWS::SSM::Parameter` with `Tags`, which the
    // example's SEMAPHORE_AGENT_TAGS adds; empty means "no tags".
    cmd.env("SEMAPHORE_AGENT_TAGS", "");
    cmd
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `--json` document: the whole of stdout, nothing else.
fn json_result(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {}", text(output)))
}

/// Synthesis flags for a config, its lookup cache and GitHub keys, offline.
fn synth_flags(config: &Path, context: &Path, keys: &Path) -> Vec<String> {
    [
        "--config",
        &config.display().to_string(),
        "--context",
        &context.display().to_string(),
        "--github-keys",
        &keys.display().to_string(),
        "--account",
        ACCOUNT,
        "--region",
        REGION,
        "--no-lookups",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Runs the binary with arguments, synthesis flags and extra environment variables.
type Runner<'a> = dyn Fn(&[&str], &[String], &[(&str, &str)]) -> Output + 'a;

/// Logical id → physical id of the live stack named `stack` (by its ARN: moto keeps deleted
/// stacks of the same name and may answer for one of them).
async fn physical_ids(client: &cfn::Client, stack: &str) -> BTreeMap<String, String> {
    let described = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .expect("DescribeStacks");
    let id = described.stacks()[0]
        .stack_id()
        .expect("stack id")
        .to_owned();
    client
        .list_stack_resources()
        .stack_name(id)
        .send()
        .await
        .expect("ListStackResources")
        .stack_resource_summaries()
        .iter()
        .filter_map(|r| {
            Some((
                r.logical_resource_id()?.to_owned(),
                r.physical_resource_id()?.to_owned(),
            ))
        })
        .collect()
}

/// The max sizes of the agent groups (tagged `application=semaphore-agent`).
async fn group_max_sizes(sdk: &aws_config::SdkConfig) -> Vec<i32> {
    aws_sdk_autoscaling::Client::new(sdk)
        .describe_auto_scaling_groups()
        .send()
        .await
        .expect("DescribeAutoScalingGroups")
        .auto_scaling_groups()
        .iter()
        .filter(|g| {
            g.tags()
                .iter()
                .any(|t| t.key() == Some("application") && t.value() == Some("semaphore-agent"))
        })
        .filter_map(|g| g.max_size())
        .collect()
}

async fn stack_status(client: &cfn::Client, stack: &str) -> Option<String> {
    let out = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .ok()?;
    out.stacks()
        .first()
        .and_then(|s| s.stack_status())
        .map(|s| s.as_str().to_owned())
}

#[test]
fn bootstrap_deploy_update_diff_destroy_and_upgrade_from_the_original() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let Some(sdk) = rt.block_on(aws_test_support::moto("deploy workflow")) else {
        return;
    };
    // The custom resources' Lambda, played on the test's runtime for the two stacks this
    // test creates (moto runs no Lambda).
    let _responder = {
        let _runtime = rt.enter();
        let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("endpoint");
        Responder::start(&sdk, &endpoint, REGION, &["ci-agents", "test-stack"]).expect("responder")
    };
    let client = cfn::Client::new(&sdk);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let dir = tempfile::tempdir().expect("tempdir");
    let lambdas = stand_in_lambdas(&dir.path().join("lambdas")).expect("stand-in Lambdas");
    let example = workspace().join("examples/linux");
    let stack = "ci-agents"; // examples/linux/config.json
    let flags = synth_flags(
        &example.join("config.json"),
        &example.join("cdk.context.json"),
        &example.join("gh_ssh_keys.json"),
    );
    let l = lambdas.display().to_string();
    let run = |args: &[&str], extra: &[String], env: &[(&str, &str)]| {
        let mut cmd = cli(dir.path());
        cmd.args(args).args(extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run agent-aws-stack")
    };
    let started = Instant::now();

    // Deploying before bootstrapping says what to do.
    let out = run(&["deploy", "--yes", "--lambdas", &l], &flags, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("is not bootstrapped: run `agent-aws-stack bootstrap"),
        "{}",
        text(&out)
    );

    // Bootstrap: an encrypted, private, versioned bucket, and a role limited to the policy.
    let policy = format!("arn:aws:iam::{ACCOUNT}:policy/agent-aws-stack-exec");
    let out = run(
        &[
            "bootstrap",
            &format!("aws://{ACCOUNT}/{REGION}"),
            "--cloudformation-execution-policies",
            &policy,
        ],
        &[],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("bootstrapped: bucket cdk-hnb659fds-assets-123456789012-us-east-1"),
        "{}",
        text(&out)
    );
    let bucket = format!("cdk-hnb659fds-assets-{ACCOUNT}-{REGION}");
    rt.block_on(async {
        // moto applies only a bucket's encryption and tags from a template, so the other
        // settings are checked in the template CloudFormation received.
        let deployed: Value = serde_json::from_str(
            client.get_template().stack_name("agent-aws-stack-bootstrap").send().await
                .expect("bootstrap template").template_body().expect("body"),
        ).expect("JSON");
        let props = &deployed["Resources"]["AssetsBucket"]["Properties"];
        assert_eq!(props["VersioningConfiguration"]["Status"], "Enabled");
        for flag in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
            assert_eq!(props["PublicAccessBlockConfiguration"][flag], true, "{flag}");
        }
        assert_eq!(deployed["Resources"]["AssetsBucket"]["DeletionPolicy"], "Retain");
        let tls = &deployed["Resources"]["AssetsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
        assert_eq!((tls["Effect"].as_str(), tls["Condition"]["Bool"]["aws:SecureTransport"].as_str()), (Some("Deny"), Some("false")));
        let encryption = s3.get_bucket_encryption().bucket(&bucket).send().await.expect("encryption");
        let rule = &encryption.server_side_encryption_configuration().expect("sse").rules()[0];
        assert_eq!(
            rule.apply_server_side_encryption_by_default().map(|d| d.sse_algorithm().as_str()),
            Some("aws:kms")
        );
        let roles = physical_ids(&client, "agent-aws-stack-bootstrap").await;
        assert_eq!(
            roles.get("CloudFormationExecutionRole").map(String::as_str),
            Some("agent-aws-stack-cfn-exec-role-123456789012-us-east-1")
        );
    });
    // Again, with or without the policy: nothing changes.
    for again in [
        vec![
            "bootstrap".to_owned(),
            "--cloudformation-execution-policies".to_owned(),
            policy.clone(),
        ],
        vec!["bootstrap".to_owned()],
    ] {
        let args: Vec<&str> = again.iter().map(String::as_str).collect();
        let out = run(&args, &[], &[]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            stdout(&out).contains("already bootstrapped; nothing changed"),
            "{}",
            text(&out)
        );
    }

    // Diff before the first deploy: everything is new; exit 1 = differences.
    let out = run(&["diff"], &flags, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains("[+] AWS::AutoScaling::AutoScalingGroup autoScalingGroup"),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains("does not exist yet"),
        "{}",
        text(&out)
    );

    // Without a terminal, a broadening change cannot be approved: refused, nothing left.
    let out = run(&["deploy", "--lambdas", &l], &flags, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("needs approval but no terminal is attached"),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out)
            .trim_end()
            .ends_with("❌ ci-agents: deploy failed"),
        "{}",
        text(&out)
    );
    let status = rt.block_on(stack_status(&client, stack));
    assert!(
        matches!(status.as_deref(), None | Some("DELETE_COMPLETE")),
        "stack left behind: {status:?}"
    );
    // The same with --json: the refusal as a document on stdout, the error on stderr.
    let out = run(&["deploy", "--json", "--lambdas", &l], &flags, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_result(&out);
    assert_eq!(report["stack"], "ci-agents", "{report}");
    assert_eq!(report["verdict"], "failed", "{report}");
    assert_eq!(report["security_broadening"], true, "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("needs approval")),
        "{report}"
    );
    assert!(
        stderr(&out).contains("error: ") && stderr(&out).contains("needs approval"),
        "{}",
        text(&out)
    );

    // First deploy: code uploaded, stack created, verdict last.
    let first = Instant::now();
    let out = run(
        &["deploy", "--require-approval", "never", "--lambdas", &l],
        &flags,
        &[],
    );
    let first_deploy = first.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    let last = stdout(&out)
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert!(
        last.starts_with("✅ ci-agents: created in "),
        "{}",
        text(&out)
    );
    // stdout holds the verdict only; the story (diff, events) is on stderr.
    assert_eq!(stdout(&out).trim_end().lines().count(), 1, "{}", text(&out));
    for line in [
        "==> Creating stack ci-agents",
        "[+] AWS::AutoScaling::AutoScalingGroup autoScalingGroup",
        "==> Stack create started; following its events",
        "CREATE_COMPLETE  AWS::CloudFormation::Stack  ci-agents",
    ] {
        assert!(
            stderr(&out).contains(line),
            "{line:?} on stderr: {}",
            text(&out)
        );
    }
    assert_eq!(
        rt.block_on(stack_status(&client, stack)).as_deref(),
        Some("CREATE_COMPLETE")
    );
    rt.block_on(async {
        for asset in LambdaAsset::ALL {
            s3.head_object()
                .bucket(&bucket)
                .key(asset.s3_key())
                .send()
                .await
                .expect("zip uploaded");
        }
    });
    assert_eq!(rt.block_on(group_max_sizes(&sdk)), vec![10]);

    // No-op deploy and diff.
    let out = run(&["deploy", "--yes", "--lambdas", &l], &flags, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("✅ ci-agents: no changes"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("Lambda code already in s3://"),
        "{}",
        text(&out)
    );
    let out = run(&["diff"], &flags, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains("There were no differences"),
        "{}",
        text(&out)
    );
    let out = run(&["deploy", "--yes", "--json", "--lambdas", &l], &flags, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let report = json_result(&out);
    assert_eq!(report["verdict"], "no-changes", "{report}");
    assert!(
        report["stack_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("arn:")),
        "{report}"
    );
    assert!(
        stderr(&out).contains(
            "==> Creating change set agent-aws-stack-deploy (update) for stack ci-agents"
        ),
        "{}",
        text(&out)
    );
    let out = run(&["diff", "--json"], &flags, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json_result(&out)["verdict"], "no-differences");

    // An update: diff shows it property by property, deploy applies it.
    let change = [
        ("SEMAPHORE_AGENT_ASG_MAX_SIZE", "5"),
        ("SEMAPHORE_AGENT_INSTANCE_TYPE", "c6i.xlarge"),
    ];
    let out = run(&["diff"], &flags, &change);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("[~] AWS::AutoScaling::AutoScalingGroup autoScalingGroup\n"),
        "{shown}"
    );
    assert!(
        shown.contains("Properties.MaxSize: \"10\" → \"5\""),
        "{shown}"
    );
    assert!(
        shown
            .contains("Properties.LaunchTemplateData.InstanceType: \"c6i.large\" → \"c6i.xlarge\""),
        "{shown}"
    );
    let out = run(&["diff", "--json"], &flags, &change);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_result(&out);
    assert_eq!(report["verdict"], "differences", "{report}");
    assert_eq!(report["exists"], true, "{report}");
    let changes = report["changes"].as_array().expect("changes");
    assert!(
        changes.iter().any(|c| c["logical_id"] == "autoScalingGroup"
            && c["resource_type"] == "AWS::AutoScaling::AutoScalingGroup"
            && c["action"] == "modify"),
        "{report}"
    );
    let out = run(&["deploy", "--yes", "--lambdas", &l], &flags, &change);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("✅ ci-agents: updated in "),
        "{}",
        text(&out)
    );
    let out = run(&["diff"], &flags, &change);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(rt.block_on(group_max_sizes(&sdk)), vec![5]);

    // Two agents run, one protected from scale-in (which would make the delete hang).
    let group = rt.block_on(physical_ids(&client, stack))["autoScalingGroup"].clone();
    rt.block_on(async {
        let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
        autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(&group)
            .desired_capacity(2)
            .send()
            .await
            .expect("SetDesiredCapacity");
        let instances = autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&group)
            .send()
            .await
            .expect("DescribeAutoScalingGroups")
            .auto_scaling_groups()[0]
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect::<Vec<_>>();
        assert_eq!(instances.len(), 2, "{instances:?}");
        autoscaling
            .set_instance_protection()
            .auto_scaling_group_name(&group)
            .instance_ids(&instances[0])
            .protected_from_scale_in(true)
            .send()
            .await
            .expect("SetInstanceProtection");
    });

    // Destroy: asks (and refuses without a terminal), then deletes with --force.
    let config_file = example.join("config.json").display().to_string();
    let destroy = |flags: &[&str]| {
        let mut args = vec!["destroy"];
        args.extend_from_slice(flags);
        args.extend(["--config", config_file.as_str()]);
        run(&args, &[], &[])
    };
    let out = destroy(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    assert!(
        text(&out).contains("2 agent instance(s) still running"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("2 agent instance(s) still running"),
        "progress is on stderr: {}",
        text(&out)
    );
    assert_eq!(
        rt.block_on(stack_status(&client, stack)).as_deref(),
        Some("UPDATE_COMPLETE")
    );
    let destroy_started = Instant::now();
    let out = destroy(&["--force"]);
    let destroy_time = destroy_started.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("✅ ci-agents: deleted"),
        "{}",
        text(&out)
    );
    // r16: what is left in place is named exactly: the bootstrap as it is, and no token
    // parameter, since this test never stored one.
    let kept = format!(
        "Left in place on purpose: the bootstrap stack agent-aws-stack-bootstrap (bucket {bucket}, execution role arn:aws:iam::{ACCOUNT}:role/"
    );
    assert!(stdout(&out).contains(&kept), "{}", text(&out));
    assert!(!stdout(&out).contains("token parameter"), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "Removing scale-in protection from 1 instance(s) of {group}"
        )),
        "{}",
        text(&out)
    );
    assert!(matches!(
        rt.block_on(stack_status(&client, stack)).as_deref(),
        None | Some("DELETE_COMPLETE")
    ));
    let out = destroy(&["--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("no such stack"), "{}", text(&out));
    assert!(!stdout(&out).contains("token parameter"), "{}", text(&out));
    // Once the token is stored, it is named as left in place.
    rt.block_on(async {
        ssm.put_parameter()
            .name("/semaphore/ci-agents/token")
            .value("not-a-real-token")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("token parameter");
    });
    let out = destroy(&["--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains(
            "Left in place on purpose: the agent token parameter /semaphore/ci-agents/token and the bootstrap stack agent-aws-stack-bootstrap"
        ),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("not-a-real-token"), "{}", text(&out));
    let out = destroy(&["--force", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report = json_result(&out);
    assert_eq!(report["verdict"], "not-found", "{report}");
    assert_eq!(report["region"], REGION, "{report}");
    eprintln!(
        "timing on moto: first deploy {:.2} s, destroy {:.2} s, whole workflow {:.2} s",
        first_deploy.as_secs_f64(),
        destroy_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    upgrade_from_the_original(&rt, &client, &s3, &ssm, dir.path(), &lambdas, &run);
}

/// A stack created from the original's template is updated in place by ours.
#[allow(clippy::too_many_arguments)]
fn upgrade_from_the_original(
    rt: &tokio::runtime::Runtime,
    client: &cfn::Client,
    s3: &aws_sdk_s3::Client,
    ssm: &aws_sdk_ssm::Client,
    dir: &Path,
    lambdas: &Path,
    run: &Runner<'_>,
) {
    let Some(reference) = workspace().join("../shared/reference").canonicalize().ok() else {
        eprintln!("skipping the upgrade check: ../shared/reference is absent");
        return;
    };
    let case = reference.join("01-minimal-linux");
    let original: Value = serde_json::from_str(
        &std::fs::read_to_string(case.join("template.json")).expect("reference template"),
    )
    .expect("reference JSON");
    let stack = "test-stack"; // its config.json
    let bucket = format!("cdk-hnb659fds-assets-{ACCOUNT}-{REGION}");

    // The original's CDK bootstrap: its version parameter and its code objects.
    rt.block_on(async {
        ssm.put_parameter()
            .name("/cdk-bootstrap/hnb659fds/version")
            .value("31")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .expect("CDK bootstrap version");
        for resource in original["Resources"]
            .as_object()
            .expect("resources")
            .values()
        {
            if let Some(key) = resource["Properties"]["Code"]["S3Key"].as_str() {
                s3.put_object()
                    .bucket(&bucket)
                    .key(key)
                    .body(b"original".to_vec().into())
                    .send()
                    .await
                    .expect("original code");
            }
        }
        client
            .create_stack()
            .stack_name(stack)
            .template_body(original.to_string())
            .capabilities(cfn::types::Capability::CapabilityIam)
            .capabilities(cfn::types::Capability::CapabilityNamedIam)
            .send()
            .await
            .expect("create the original's stack");
        let deadline = Instant::now() + Duration::from_secs(60);
        while stack_status(client, stack).await.as_deref() != Some("CREATE_COMPLETE") {
            assert!(
                Instant::now() < deadline,
                "the original's stack was not created: {:?}",
                stack_status(client, stack).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let before = rt.block_on(physical_ids(client, stack));

    // Our lookups cache: the original's, plus our image name for the same AMI.
    let config_path = case.join("config.json");
    let raw =
        stack_config::RawConfig::load(Some(&config_path), std::iter::empty::<(String, String)>())
            .expect("reference config");
    let config = stack_config::StackConfig::from_raw(&raw)
        .expect("valid")
        .config;
    let mut context: Value = serde_json::from_str(
        &std::fs::read_to_string(reference.join("cdk.context.json")).expect("context"),
    )
    .expect("context JSON");
    let image = original["Resources"]["launchTemplateDEE5742D"]["Properties"]["LaunchTemplateData"]
        ["ImageId"]
        .clone();
    context[format!(
        "ami:account={ACCOUNT}:filters.image-type.0=machine:filters.name.0={}:filters.state.0=available:owners.0={ACCOUNT}:region={REGION}",
        stack_template::assets::ami_name(&config)
    )] = image;
    let context_path = dir.join("upgrade.context.json");
    std::fs::write(&context_path, context.to_string()).expect("context file");
    let flags = synth_flags(
        &config_path,
        &context_path,
        &reference.join("gh_ssh_keys.json"),
    );

    // What diff predicts: no resource the original created is replaced.
    let out = run(&["diff"], &flags, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("[-] Custom::LogRetention scalerLambdaLogRetention878D0B27"),
        "{shown}"
    );
    assert!(
        !shown.contains("(replaced)") && !shown.contains("(may be replaced)"),
        "a replacement is predicted:\n{shown}"
    );

    // Deploy ours over it. (scripts/moto_server.py gives moto CloudFormation's rule that a
    // change to nothing but a resource's DependsOn or Metadata leaves the resource alone.)
    let l = lambdas.display().to_string();
    let mut args = vec!["deploy", "--require-approval", "never", "--lambdas", &l];
    args.extend(flags.iter().map(String::as_str));
    let out = run(&args, &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("✅ test-stack: updated in "),
        "{}",
        text(&out)
    );
    let after = rt.block_on(physical_ids(client, stack));

    // Every resource both templates have keeps its physical resource: nothing was replaced.
    let ours: Value = {
        let out = run(&["synth"], &flags, &[]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).expect("our template")
    };
    let original_ids: BTreeSet<&String> = original["Resources"]
        .as_object()
        .expect("resources")
        .keys()
        .collect();
    let our_ids: BTreeSet<&String> = ours["Resources"]
        .as_object()
        .expect("resources")
        .keys()
        .collect();
    for id in [
        "autoScalingGroup",
        "launchTemplateDEE5742D",
        "launchTemplateProfileB2BF4FB7",
        "SemaphoreAgentConfigParameterF91637D0",
        "sshKeysUpdaterParameter4EB9ACDD",
        "instanceProfileRole47059124",
        "scalerLambdaRole1D61EB11",
        "sshKeysUpdaterRole765585CA",
        "azRebalanceSuspenderRoleFD1D9251",
        "securityGroup32C48086",
    ] {
        assert!(our_ids.contains(&id.to_owned()), "{id} is in our template");
        assert!(
            before.get(id).is_some_and(|physical| !physical.is_empty()),
            "{id} was created by the original: {before:?}"
        );
        assert_eq!(before.get(id), after.get(id), "{id} was replaced");
    }
    // The same for every other resource moto lists with a physical id.
    let replaced: Vec<&String> = original_ids
        .intersection(&our_ids)
        .copied()
        .filter(|id| before.contains_key(*id) && before.get(*id) != after.get(*id))
        .collect();
    assert!(
        replaced.is_empty(),
        "replaced: {replaced:?}\n{before:?}\n{after:?}"
    );
    // What only the original had is gone; what only we have was created.
    for id in original_ids.difference(&our_ids) {
        assert!(!after.contains_key(*id), "{id} is left over: {after:?}");
    }
    for id in our_ids.difference(&original_ids) {
        assert!(after.contains_key(*id), "{id} was not created: {after:?}");
    }
    assert_eq!(
        rt.block_on(stack_status(client, stack)).as_deref(),
        Some("UPDATE_COMPLETE")
    );

    let out = run(
        &[
            "destroy",
            "--force",
            "--config",
            &config_path.display().to_string(),
        ],
        &[],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    rt.block_on(async {
        ssm.delete_parameter()
            .name("/cdk-bootstrap/hnb659fds/version")
            .send()
            .await
            .expect("cleanup");
    });
}
