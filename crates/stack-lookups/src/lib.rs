//! Resolves what a template needs from an AWS account: the agent AMI, the default or given
//! VPC and its subnets, the availability zones and an existing security group (the account
//! and region are the caller's, found by the CLI's `target`). Values come from the
//! `cdk.context.json` cache (CDK's key format) when present; otherwise from EC2, and are then
//! recorded there. With `agent-aws-stack images`, one of the two users of `aws-sdk-ec2`.

pub mod context;
pub mod ec2;
mod error;
pub mod resolve;

pub use context::{ContextCache, context_key};
pub use ec2::{AmiQuery, AwsEc2, Ec2Lookups, VpcFilter};
pub use error::LookupError;
pub use resolve::{MissingLookup, fill, from_cache, missing, missing_error};
