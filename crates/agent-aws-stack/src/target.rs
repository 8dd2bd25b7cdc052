//! Where a command acts: the account, the region and the AWS configuration, found the same way
//! by every command that talks to AWS (the order the README documents).
//!
//! - Region: `--region`, `CDK_DEPLOY_REGION`, `CDK_DEFAULT_REGION`, `AWS_REGION`,
//!   `AWS_DEFAULT_REGION`, then the AWS profile's region.
//! - Account: `--account`, `CDK_DEPLOY_ACCOUNT`, `CDK_DEFAULT_ACCOUNT`, then the account of
//!   the credentials (STS `GetCallerIdentity`).
//! - Credentials: the AWS SDK's default chain (environment, `AWS_PROFILE` and its SSO or
//!   `credential_process`, the instance profile), always for the region above, so that
//!   `deploy` and `destroy` can never look at two different regions.

use std::collections::HashMap;

use anyhow::{Context as _, Result, bail};
use clap::Args;

/// `--account` and `--region`, for every command that talks to AWS.
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// AWS account id (else CDK_DEPLOY_ACCOUNT, CDK_DEFAULT_ACCOUNT, or the credentials' account).
    #[arg(long)]
    pub account: Option<String>,

    /// AWS region (else CDK_DEPLOY_REGION, CDK_DEFAULT_REGION, AWS_REGION, AWS_DEFAULT_REGION,
    /// or the profile's region).
    #[arg(long)]
    pub region: Option<String>,
}

/// `--region`, for the commands that act in a region but never need the account.
#[derive(Debug, Clone, Default, Args)]
pub struct RegionArgs {
    /// AWS region (else CDK_DEPLOY_REGION, CDK_DEFAULT_REGION, AWS_REGION, AWS_DEFAULT_REGION,
    /// or the profile's region).
    #[arg(long)]
    pub region: Option<String>,
}

impl RegionArgs {
    /// Resolves the region; the AWS configuration is loaded for it.
    pub async fn resolve(&self) -> Result<Target> {
        let args = TargetArgs {
            account: None,
            region: self.region.clone(),
        };
        // The account is not this command's concern: an unusable CDK_*_ACCOUNT must not stop it.
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(name, _)| !name.ends_with("_ACCOUNT"))
            .collect();
        Target::resolve_with(&args, &env, false).await
    }
}

/// A resolved region, with the account and the AWS configuration found when first needed.
#[derive(Debug)]
pub struct Target {
    region: String,
    account: Option<String>,
    sdk: Option<aws_config::SdkConfig>,
}

impl Target {
    /// Resolves the region from the flags and the process environment (loading the AWS
    /// configuration only when neither names one). With `offline`, AWS is never asked: the
    /// region (and later the account) must come from flags or environment.
    pub async fn resolve(args: &TargetArgs, offline: bool) -> Result<Target> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Target::resolve_with(args, &env, offline).await
    }

    /// [`Target::resolve`] with the environment given.
    pub async fn resolve_with(
        args: &TargetArgs,
        env: &HashMap<String, String>,
        offline: bool,
    ) -> Result<Target> {
        let account = account_hint(args.account.as_deref(), env);
        if let Some(account) = &account {
            check_account(account)?;
        }
        let region = region_hint(args.region.as_deref(), env);
        if offline && (account.is_none() || region.is_none()) {
            bail!(
                "the {} unknown and --no-lookups forbids asking AWS; pass --account and --region (or set CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION)",
                match (account.is_none(), region.is_none()) {
                    (true, true) => "account and region are",
                    (true, false) => "account is",
                    _ => "region is",
                }
            );
        }
        let mut sdk = None;
        let region = match region {
            Some(region) => region,
            None => {
                let loaded = load(None).await;
                let Some(region) = loaded.region().map(ToString::to_string) else {
                    bail!(
                        "the AWS region is unknown: pass --region, or set CDK_DEFAULT_REGION or AWS_REGION, or a region in your AWS profile"
                    );
                };
                sdk = Some(loaded);
                region
            }
        };
        check_region(&region)?;
        Ok(Target {
            region,
            account,
            sdk,
        })
    }

    /// A target given whole (`bootstrap aws://ACCOUNT/REGION`).
    pub fn given(account: String, region: String) -> Result<Target> {
        check_account(&account)?;
        check_region(&region)?;
        Ok(Target {
            region,
            account: Some(account),
            sdk: None,
        })
    }

    /// The account named by flags, environment or `aws://`, without asking AWS.
    pub fn known_account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account: from flags or environment, else the credentials' (asked once). An offline
    /// target always has one: [`Target::resolve`] refuses it otherwise.
    pub async fn account(&mut self) -> Result<String> {
        if let Some(account) = &self.account {
            return Ok(account.clone());
        }
        let sdk = self.sdk().await;
        let account = caller_account(&sdk).await?;
        check_account(&account)?;
        self.account = Some(account.clone());
        Ok(account)
    }

    /// The AWS configuration for the region (loaded once).
    pub async fn sdk(&mut self) -> aws_config::SdkConfig {
        if let Some(sdk) = &self.sdk
            && sdk.region().map(|r| r.as_ref()) == Some(self.region.as_str())
        {
            return sdk.clone();
        }
        let sdk = load(Some(self.region.clone())).await;
        self.sdk = Some(sdk.clone());
        sdk
    }

    /// The account, asking AWS for it, and checking that the credentials belong to the
    /// account the flags or environment name (a write must not land in another account).
    pub async fn verified_account(&mut self) -> Result<String> {
        let sdk = self.sdk().await;
        let actual = caller_account(&sdk).await?;
        if let Some(wanted) = &self.account
            && *wanted != actual
        {
            bail!(
                "the AWS credentials are for account {actual}, not {wanted}: use credentials (or a profile) of account {wanted}"
            );
        }
        self.account = Some(actual.clone());
        Ok(actual)
    }
}

/// The account from flags and environment, without asking AWS.
fn account_hint(flag: Option<&str>, env: &HashMap<String, String>) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| non_empty(env, "CDK_DEPLOY_ACCOUNT"))
        .or_else(|| non_empty(env, "CDK_DEFAULT_ACCOUNT"))
}

/// The region from flags and environment, without reading AWS profiles.
fn region_hint(flag: Option<&str>, env: &HashMap<String, String>) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| non_empty(env, "CDK_DEPLOY_REGION"))
        .or_else(|| non_empty(env, "CDK_DEFAULT_REGION"))
        .or_else(|| non_empty(env, "AWS_REGION"))
        .or_else(|| non_empty(env, "AWS_DEFAULT_REGION"))
}

fn non_empty(env: &HashMap<String, String>, name: &str) -> Option<String> {
    env.get(name).filter(|v| !v.is_empty()).cloned()
}

/// Checks an account id: twelve digits.
fn check_account(account: &str) -> Result<()> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        bail!(
            "account '{account}' is not a 12-digit AWS account id (from --account, CDK_DEPLOY_ACCOUNT or CDK_DEFAULT_ACCOUNT)"
        )
    }
}

/// Checks a region name, e.g. `eu-central-1`: lowercase letters, digits and dashes.
fn check_region(region: &str) -> Result<()> {
    let ok = region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region.bytes().last().is_some_and(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        bail!("region '{region}' is not an AWS region name like eu-central-1")
    }
}

/// Loads the AWS configuration (profiles, `AWS_ENDPOINT_URL`, credentials) for `region`.
async fn load(region: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader.load().await
}

/// The account of the caller's credentials (STS `GetCallerIdentity`).
async fn caller_account(sdk: &aws_config::SdkConfig) -> Result<String> {
    let output = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_support::AwsFailure::new("GetCallerIdentity", &e))
        .context(
            "failed to tell the AWS account: pass --account or set CDK_DEFAULT_ACCOUNT, or configure AWS credentials",
        )?;
    output
        .account()
        .map(str::to_owned)
        .context("STS returned no account for the credentials")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn args(account: Option<&str>, region: Option<&str>) -> TargetArgs {
        TargetArgs {
            account: account.map(str::to_owned),
            region: region.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn the_documented_order_decides() {
        let all = env(&[
            ("CDK_DEPLOY_ACCOUNT", "111111111111"),
            ("CDK_DEFAULT_ACCOUNT", "222222222222"),
            ("CDK_DEPLOY_REGION", "eu-north-1"),
            ("CDK_DEFAULT_REGION", "eu-west-1"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "sa-east-1"),
        ]);
        for (name, args, env, account, region) in [
            (
                "flags win",
                args(Some("333333333333"), Some("ap-south-1")),
                all.clone(),
                "333333333333",
                "ap-south-1",
            ),
            (
                "then CDK_DEPLOY_*",
                args(None, None),
                all.clone(),
                "111111111111",
                "eu-north-1",
            ),
            (
                "then CDK_DEFAULT_*",
                args(None, None),
                env(&[
                    ("CDK_DEFAULT_ACCOUNT", "222222222222"),
                    ("CDK_DEFAULT_REGION", "eu-west-1"),
                    ("AWS_REGION", "us-west-2"),
                ]),
                "222222222222",
                "eu-west-1",
            ),
            (
                "then AWS_REGION",
                args(Some("333333333333"), None),
                env(&[
                    ("AWS_REGION", "us-west-2"),
                    ("AWS_DEFAULT_REGION", "sa-east-1"),
                ]),
                "333333333333",
                "us-west-2",
            ),
            (
                "then AWS_DEFAULT_REGION; empty values do not count",
                args(Some("333333333333"), None),
                env(&[
                    ("CDK_DEFAULT_REGION", ""),
                    ("AWS_DEFAULT_REGION", "sa-east-1"),
                ]),
                "333333333333",
                "sa-east-1",
            ),
        ] {
            let mut target = Target::resolve_with(&args, &env, true).await.expect(name);
            assert_eq!(target.region(), region, "{name}");
            assert_eq!(target.account().await.expect(name), account, "{name}");
        }
    }

    #[tokio::test]
    async fn offline_without_a_region_or_account_says_what_to_pass() {
        for (account, region, unknown) in [
            (None, None, "the account and region are unknown"),
            (None, Some("us-east-1"), "the account is unknown"),
            (Some("123456789012"), None, "the region is unknown"),
        ] {
            let err = Target::resolve_with(&args(account, region), &env(&[]), true)
                .await
                .expect_err(unknown);
            assert!(err.to_string().starts_with(unknown), "{err}");
            assert!(
                err.to_string().contains("pass --account and --region"),
                "{err}"
            );
        }
    }

    #[test]
    fn account_and_region_are_checked() {
        assert!(check_account("123456789012").is_ok());
        assert!(check_account("dummyaccount").is_err());
        assert!(check_account("12345").is_err());
        assert!(check_region("us-east-1").is_ok());
        assert!(check_region("us-gov-west-1").is_ok());
        assert!(check_region("US-EAST-1").is_err());
        assert!(check_region("useast").is_err());
        assert!(check_region("").is_err());
    }

    #[tokio::test]
    async fn bad_values_are_refused_naming_them() {
        let err = Target::resolve_with(&args(Some("12345"), Some("us-east-1")), &env(&[]), true)
            .await
            .expect_err("short account");
        assert!(err.to_string().contains("'12345'"), "{err}");
        let err = Target::resolve_with(
            &args(Some("123456789012"), None),
            &env(&[("CDK_DEFAULT_REGION", "Mars")]),
            true,
        )
        .await
        .expect_err("bad region");
        assert!(err.to_string().contains("'Mars'"), "{err}");
        assert!(Target::given("123456789012".into(), "eu-west-1".into()).is_ok());
        assert!(Target::given("123456789012".into(), "EU".into()).is_err());
    }
}
