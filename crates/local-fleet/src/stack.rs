//! The stack deployed to the emulator the way a user deploys it: the `agent-aws-stack` binary's
//! `token`, `bootstrap` and `deploy`, with lookups against the emulator (its default VPC and an
//! image registered under the name the stack looks for). What the emulator cannot do is played
//! here: the custom resources' Lambda answers ([`Responder`]), and the Lambda zips are small
//! stand-ins ([`stand_in_lambdas`]) since the emulator stores Lambda code without running it;
//! the scaler runs in process instead (see [`crate::scaler`]), with the environment the
//! deployed template gives its Lambda ([`scaler_settings`]).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation as cfn;
use serde_json::{Value, json};
use stack_config::{RawConfig, StackConfig};
use stack_contract::scaler_env;
use stack_deploy::assets::{MANIFEST, ManifestEntry, manifest_text};
use stack_template::assets::LambdaAsset;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::services::tail;

/// The configuration a local deploy uses: the user's file, with the variables the local
/// fleet sets on top (they win, as environment variables do).
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The stack configuration file (`SEMAPHORE_*` keys).
    pub file: PathBuf,
    /// GitHub's SSH keys, so that synthesis does not call GitHub.
    pub github_keys: PathBuf,
    /// Where lookups are cached (a fresh file per fleet: the emulator's ids change).
    pub context: PathBuf,
    /// Variables set for every `agent-aws-stack` command, over the file.
    pub overrides: Vec<(String, String)>,
}

impl LocalConfig {
    /// The stack configuration as `agent-aws-stack` reads it: the file, then this process's
    /// `SEMAPHORE_*` variables, then the overrides.
    pub fn resolve(&self) -> Result<StackConfig> {
        let mut env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("SEMAPHORE_"))
            .collect();
        env.extend(self.overrides.iter().cloned());
        let raw = RawConfig::load(Some(&self.file), env)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let validated = StackConfig::from_raw(&raw)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("the configuration {} is not usable", self.file.display()))?;
        Ok(validated.config)
    }

    /// The flags every synthesizing command takes.
    fn source_flags(&self) -> Vec<String> {
        vec![
            "--config".into(),
            self.file.display().to_string(),
            "--github-keys".into(),
            self.github_keys.display().to_string(),
            "--context".into(),
            self.context.display().to_string(),
        ]
    }
}

/// Runs the `agent-aws-stack` binary against the emulator.
#[derive(Debug, Clone)]
pub struct StackCli {
    /// The binary.
    pub binary: PathBuf,
    /// The emulator's endpoint.
    pub aws_endpoint: String,
    /// The region.
    pub region: String,
    /// Where every command's output is appended.
    pub log: PathBuf,
}

impl StackCli {
    /// Runs `agent-aws-stack <args>`, with `stdin` as its input; fails with the end of its
    /// output when it fails.
    pub fn run(&self, args: &[String], config: &LocalConfig, stdin: Option<&str>) -> Result<()> {
        let mut log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        writeln!(log, "\n$ agent-aws-stack {}", args.join(" "))?;
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.aws_endpoint)
            .env("AWS_REGION", &self.region)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_DEFAULT_PROFILE")
            .env_remove("CDK_DEFAULT_ACCOUNT")
            .env_remove("CDK_DEPLOY_ACCOUNT")
            .env("NO_COLOR", "1")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?);
        for (key, value) in &config.overrides {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot run {}", self.binary.display()))?;
        if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
            input.write_all(text.as_bytes())?;
        }
        let status = child.wait()?;
        if !status.success() {
            bail!(
                "`agent-aws-stack {}` failed ({status}); its output is in {}:\n{}",
                args.first().map(String::as_str).unwrap_or_default(),
                self.log.display(),
                tail(&self.log, 15)
            );
        }
        Ok(())
    }

    /// Stores the registration token in the stack's parameter (`agent-aws-stack token`,
    /// reading it from stdin: it never appears in an argument list or a log).
    pub fn store_token(&self, config: &LocalConfig, token: &str) -> Result<()> {
        let mut args = vec!["token".to_owned(), "--config".to_owned()];
        args.push(config.file.display().to_string());
        self.run(&args, config, Some(token))
    }

    /// `agent-aws-stack bootstrap` of the emulator's account and region.
    pub fn bootstrap(&self, config: &LocalConfig) -> Result<()> {
        self.run(&["bootstrap".to_owned()], config, None)
    }

    /// `agent-aws-stack deploy` of the stack, with the Lambda zips in `lambdas`.
    pub fn deploy(&self, config: &LocalConfig, lambdas: &Path) -> Result<()> {
        let mut args = vec![
            "deploy".to_owned(),
            "--require-approval".to_owned(),
            "never".to_owned(),
            "--lambdas".to_owned(),
            lambdas.display().to_string(),
        ];
        args.extend(config.source_flags());
        self.run(&args, config, None)
    }
}

/// A `package` folder (`manifest.json` and one zip per Lambda, under the keys the template
/// names) whose zips hold a `bootstrap` that only says what it is: the emulator stores Lambda
/// code without running it, so building the real Lambdas for arm64 would be time for nothing.
pub fn stand_in_lambdas(dir: &Path) -> Result<PathBuf> {
    use zip::write::SimpleFileOptions;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut manifest = Vec::new();
    for asset in LambdaAsset::ALL {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file(
            "bootstrap",
            SimpleFileOptions::default().unix_permissions(0o755),
        )?;
        writeln!(
            zip,
            "#!/bin/sh\necho 'local-fleet stand-in for {}: the local fleet runs it in process' >&2\nexit 1",
            asset.name()
        )?;
        let bytes = zip.finish()?.into_inner();
        let file = dir.join(format!("{}.zip", asset.name()));
        std::fs::write(&file, &bytes)
            .with_context(|| format!("cannot write {}", file.display()))?;
        manifest.push(ManifestEntry::new(
            asset.name(),
            &file,
            &bytes,
            &asset.s3_key(),
        ));
    }
    std::fs::write(dir.join(MANIFEST), manifest_text(&manifest)?)?;
    Ok(dir.to_owned())
}

/// Registers, in the emulator, the machine image the stack looks up for `config` (by name,
/// owned by the account, as the image build names it), so the deploy finds it.
pub async fn register_agent_image(sdk: &SdkConfig, config: &StackConfig) -> Result<String> {
    let name = stack_template::assets::ami_name(config);
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let out = ec2
        .register_image()
        .name(&name)
        .description("local-fleet stand-in for the agent image")
        .architecture(aws_sdk_ec2::types::ArchitectureValues::from(
            config.arch.as_str(),
        ))
        .root_device_name("/dev/sda1")
        .virtualization_type("hvm")
        .send()
        .await
        .with_context(|| format!("cannot register the image {name} in the emulator"))?;
    out.image_id()
        .map(str::to_owned)
        .with_context(|| format!("the emulator registered {name} without an id"))
}

/// Plays the custom resources' Lambda while it runs: every custom resource of the named stacks,
/// while one is being created or updated, gets a SUCCESS answer through the emulator's response
/// URL, as the provider Lambda would send. Only the named stacks are looked at (through
/// `ListStacks`, which lists a stack whatever state it is in), so a broken stack of someone
/// else's on a shared emulator cannot stop the answers.
pub struct Responder {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Responder {
    /// Starts answering in the background (on the current tokio runtime).
    pub fn start(
        sdk: &SdkConfig,
        endpoint: &str,
        region: &str,
        stacks: &[&str],
    ) -> Result<Responder> {
        let client = cfn::Client::new(sdk);
        // A stalled answer must not keep the next one waiting long.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let base = format!("{endpoint}/cloudformation_{region}/cfnresponse");
        let names: Vec<String> = stacks.iter().map(|s| (*s).to_owned()).collect();
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                answer_custom_resources(&client, &http, &base, &names).await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        Ok(Responder {
            stop,
            task: Some(task),
        })
    }

    /// Stops answering.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn answer_custom_resources(
    client: &cfn::Client,
    http: &reqwest::Client,
    base: &str,
    names: &[String],
) {
    use cfn::types::StackStatus;
    let Ok(stacks) = client
        .list_stacks()
        .stack_status_filter(StackStatus::CreateInProgress)
        .stack_status_filter(StackStatus::UpdateInProgress)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
    else {
        return;
    };
    for stack in &stacks {
        let in_progress = matches!(
            stack.stack_status(),
            Some(StackStatus::CreateInProgress | StackStatus::UpdateInProgress)
        );
        let named = stack
            .stack_name()
            .is_some_and(|name| names.iter().any(|n| n == name));
        let Some(id) = stack.stack_id().filter(|_| in_progress && named) else {
            continue;
        };
        let Ok(template) = deployed_template(client, id).await else {
            continue;
        };
        for (logical_id, resource) in template["Resources"].as_object().into_iter().flatten() {
            let kind = resource["Type"].as_str().unwrap_or("");
            if !(kind.starts_with("Custom::") || kind == "AWS::CloudFormation::CustomResource") {
                continue;
            }
            let body = json!({
                "Status": "SUCCESS",
                "StackId": id,
                "RequestId": "local-fleet",
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": format!("local-fleet-{logical_id}"),
                "Data": {}
            });
            let _ = http
                .put(format!("{base}?stack={id}"))
                .header("content-type", "")
                .body(body.to_string())
                .send()
                .await;
        }
    }
}

async fn deployed_template(client: &cfn::Client, stack: &str) -> Result<Value> {
    let out = client.get_template().stack_name(stack).send().await?;
    Ok(serde_json::from_str(out.template_body().unwrap_or("{}"))?)
}

/// Logical id → physical id of the stack's resources.
pub async fn physical_ids(sdk: &SdkConfig, stack: &str) -> Result<BTreeMap<String, String>> {
    let client = cfn::Client::new(sdk);
    let resources = client
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .with_context(|| format!("cannot list the resources of the stack {stack}"))?;
    Ok(resources
        .iter()
        .filter_map(|r| {
            Some((
                r.logical_resource_id()?.to_owned(),
                r.physical_resource_id()?.to_owned(),
            ))
        })
        .collect())
}

/// The environment the deployed template gives the scaler Lambda (the function whose
/// variables name the stack), with its references resolved to the stack's physical ids.
pub async fn scaler_environment(sdk: &SdkConfig, stack: &str) -> Result<BTreeMap<String, String>> {
    let template = deployed_template(&cfn::Client::new(sdk), stack)
        .await
        .with_context(|| format!("cannot read the deployed template of {stack}"))?;
    let ids = physical_ids(sdk, stack).await?;
    scaler_environment_in(&template, &ids)
}

/// [`scaler_environment`] of a template and its physical ids.
pub fn scaler_environment_in(
    template: &Value,
    ids: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let scaler = template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .find(|(_, r)| {
            r["Type"] == "AWS::Lambda::Function"
                && r["Properties"]["Environment"]["Variables"]
                    .get(scaler_env::STACK_NAME)
                    .is_some()
        })
        .map(|(id, r)| {
            (
                id.clone(),
                r["Properties"]["Environment"]["Variables"].clone(),
            )
        })
        .context(
            "the template has no scaler function (a Lambda with SEMAPHORE_AGENT_STACK_NAME)",
        )?;
    let (function, variables) = scaler;
    let mut env = BTreeMap::new();
    for (name, value) in variables.as_object().into_iter().flatten() {
        let resolved = match value {
            Value::String(s) => s.clone(),
            Value::Object(o) if o.len() == 1 && o.contains_key("Ref") => {
                let target = o["Ref"].as_str().unwrap_or_default();
                ids.get(target).cloned().with_context(|| {
                    format!("{function}'s {name} refers to {target}, which the stack does not have")
                })?
            }
            other => bail!("{function}'s {name} is {other}, which the local fleet cannot resolve"),
        };
        env.insert(name.clone(), resolved);
    }
    Ok(env)
}

/// The scaler's settings from the deployed environment. The local hub speaks plain HTTP, so
/// its metrics URL is `http://` (in AWS the endpoint is Semaphore's, over HTTPS).
pub fn scaler_settings(env: &BTreeMap<String, String>) -> Result<scaler_tick::Settings> {
    scaler_tick::Settings::from_lookup(|name| {
        let value = env.get(name).cloned();
        if name == scaler_env::ENDPOINT {
            value.map(|endpoint| format!("http://{endpoint}"))
        } else {
            value
        }
    })
    .map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scalers_environment_is_read_from_the_template_with_references_resolved() {
        let template = json!({"Resources": {
            "sshKeysUpdater": {"Type": "AWS::Lambda::Function", "Properties": {
                "Environment": {"Variables": {"SSM_PARAMETER": "x"}}}},
            "scalerLambda": {"Type": "AWS::Lambda::Function", "Properties": {
                "Environment": {"Variables": {
                    "SEMAPHORE_AGENT_STACK_NAME": "ci-agents",
                    "SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME": "/semaphore/ci-agents/token",
                    "SEMAPHORE_ENDPOINT": "127.0.0.1:8800",
                    "SEMAPHORE_AGENT_ASG_NAME": {"Ref": "autoScalingGroup"}}}}}
        }});
        let ids = BTreeMap::from([("autoScalingGroup".to_owned(), "ci-agents-asg-1".to_owned())]);
        let env = scaler_environment_in(&template, &ids).expect("environment");
        assert_eq!(env["SEMAPHORE_AGENT_ASG_NAME"], "ci-agents-asg-1");
        let settings = scaler_settings(&env).expect("settings");
        assert_eq!(
            settings.metrics_url,
            "http://127.0.0.1:8800/api/v1/self_hosted_agents/metrics"
        );
        assert_eq!(
            settings.group,
            scaler_tick::GroupSelector::Name("ci-agents-asg-1".into())
        );
        assert_eq!(settings.token_parameter, "/semaphore/ci-agents/token");

        let ids = BTreeMap::new();
        let error = scaler_environment_in(&template, &ids).expect_err("unresolved");
        assert!(
            error.to_string().contains("refers to autoScalingGroup"),
            "{error}"
        );
    }

    #[test]
    fn stand_in_lambdas_satisfy_the_deploys_manifest_check() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = stand_in_lambdas(&dir.path().join("lambdas")).expect("lambdas");
        let keys: Vec<String> = LambdaAsset::ALL.iter().map(|a| a.s3_key()).collect();
        let zips = stack_deploy::assets::local_zips(&out, &keys).expect("the deploy accepts them");
        assert_eq!(zips.len(), LambdaAsset::ALL.len());
    }
}
