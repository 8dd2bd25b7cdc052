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

/// Why a configuration's lookups could not be resolved from a context map
/// ([`resolve_lookups`](crate::resolve_lookups)). A separate enum from [`SynthError`]: it is
/// the error of another operation, one the caller runs (and reports, with the file the map
/// came from) before synthesis.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContextError {
    /// The context lacks values the configuration needs; lists every one, each key once.
    #[error(
        "missing context keys: '{}'",
        missing.iter().map(|m| m.key.as_str()).collect::<Vec<_>>().join(", ")
    )]
    Missing {
        /// The missing lookups, in the order the configuration needs them.
        missing: Vec<crate::context::MissingLookup>,
    },
    /// A value does not have the shape of its lookup's result.
    #[error("the value of '{key}' is not valid: {reason}")]
    BadValue {
        /// The context key, in CDK's format.
        key: String,
        /// What was expected, with the parser's complaint if any.
        reason: String,
    },
}
