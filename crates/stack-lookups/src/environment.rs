//! Which account and region a template is for: `--account`/`--region`, else
//! `CDK_DEPLOY_*`, `CDK_DEFAULT_*`, `AWS_REGION`/`AWS_DEFAULT_REGION`, and finally the AWS
//! configuration (profile region, STS caller identity).

use std::collections::HashMap;

use crate::error::LookupError;

/// The account from flags and environment, without asking AWS.
pub fn account_hint(flag: Option<&str>, env: &HashMap<String, String>) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| non_empty(env, "CDK_DEPLOY_ACCOUNT"))
        .or_else(|| non_empty(env, "CDK_DEFAULT_ACCOUNT"))
}

/// The region from flags and environment, without reading AWS profiles.
pub fn region_hint(flag: Option<&str>, env: &HashMap<String, String>) -> Option<String> {
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
pub fn check_account(account: &str) -> Result<(), LookupError> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(LookupError::Environment(format!(
            "account '{account}' is not a 12-digit AWS account id (from --account, CDK_DEPLOY_ACCOUNT or CDK_DEFAULT_ACCOUNT)"
        )))
    }
}

/// Checks a region name, e.g. `eu-central-1`: lowercase letters, digits and dashes.
pub fn check_region(region: &str) -> Result<(), LookupError> {
    let ok = !region.is_empty()
        && region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region.bytes().last().is_some_and(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(LookupError::Environment(format!(
            "region '{region}' is not an AWS region name like eu-central-1"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn flags_win_then_deploy_then_default() {
        let e = env(&[
            ("CDK_DEPLOY_ACCOUNT", "111111111111"),
            ("CDK_DEFAULT_ACCOUNT", "222222222222"),
            ("CDK_DEFAULT_REGION", "eu-west-1"),
            ("AWS_REGION", "us-west-2"),
        ]);
        assert_eq!(
            account_hint(Some("333333333333"), &e).as_deref(),
            Some("333333333333")
        );
        assert_eq!(account_hint(None, &e).as_deref(), Some("111111111111"));
        assert_eq!(region_hint(None, &e).as_deref(), Some("eu-west-1"));
        assert_eq!(
            region_hint(Some("ap-south-1"), &e).as_deref(),
            Some("ap-south-1")
        );
        let only_aws = env(&[
            ("AWS_DEFAULT_REGION", "sa-east-1"),
            ("CDK_DEFAULT_ACCOUNT", ""),
        ]);
        assert_eq!(region_hint(None, &only_aws).as_deref(), Some("sa-east-1"));
        assert_eq!(account_hint(None, &only_aws), None);
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
    }
}
