//! Resolves what a template needs from an AWS account: the account and region, the agent
//! AMI, the default or given VPC and its subnets, the availability zones and an existing
//! security group. Values come from the `cdk.context.json` cache (CDK's key format) when
//! present; otherwise from EC2, and are then recorded there. This is the only crate that
//! uses `aws-sdk-ec2`.

pub mod context;
pub mod ec2;
pub mod environment;
mod error;
pub mod resolve;

pub use context::{ContextCache, context_key};
pub use ec2::{AmiQuery, AwsEc2, Ec2Lookups, VpcFilter};
pub use error::LookupError;
pub use resolve::{MissingLookup, fill, from_cache, missing, missing_error};

/// Loads the AWS configuration (profiles, `AWS_ENDPOINT_URL`, credentials) for `region`.
pub async fn aws_config(region: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader.load().await
}

/// The account of the caller's credentials (STS `GetCallerIdentity`).
pub async fn caller_account(config: &aws_config::SdkConfig) -> Result<String, LookupError> {
    let output = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| LookupError::Environment(format!(
            "cannot tell the AWS account: pass --account or set CDK_DEFAULT_ACCOUNT, or configure AWS credentials (failed to get caller identity: {})",
            aws_sdk_sts::error::DisplayErrorContext(&e)
        )))?;
    output
        .account()
        .map(str::to_owned)
        .ok_or_else(|| LookupError::Environment("STS returned no account".into()))
}
