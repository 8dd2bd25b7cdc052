//! Errors of synthesizing a template.

/// Why a template could not be synthesized from a valid configuration and its lookups.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SynthError {
    /// The scaler Lambda would sit in public subnets, which cannot reach the internet.
    #[error(
        "the scaler Lambda would be placed in public subnets of {vpc_id} ({subnets}), where Lambda functions cannot reach the internet; add private subnets with a NAT gateway to the VPC, or set SEMAPHORE_AGENT_ALLOW_PUBLIC_SUBNET=true if the VPC gives them another way out"
    )]
    ScalerInPublicSubnet {
        /// The VPC.
        vpc_id: String,
        /// The public subnets CDK's default selection picked, comma-separated.
        subnets: String,
    },
    /// A lookup result the configuration needs was not provided.
    #[error("missing lookup result: {0}")]
    MissingLookup(&'static str),
}
