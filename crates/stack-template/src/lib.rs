//! The agent stack's CloudFormation template, synthesized from a validated configuration and
//! lookup results. Pure: no I/O, no AWS, no clock. Logical IDs and property shapes follow the
//! original CDK app so that existing stacks update in place.

pub mod assets;
pub mod context;
mod error;
pub mod fingerprint;
pub mod ids;
pub mod lookups;
pub mod model;
mod synth;
pub mod tags;

pub use assets::{LambdaAsset, ami_name, assets_bucket};
pub use context::{MissingLookup, context_key, missing_lookups, resolve_lookups};
pub use error::{ContextError, SynthError};
pub use lookups::{
    LookupRequest, Lookups, SecurityGroupInfo, Subnet, SubnetGroup, SubnetType, VpcInfo,
    required_lookups,
};
pub use model::{Resource, Template};
pub use synth::{
    CUSTOM_RESOURCE_TIMEOUT_SECS, DESCRIPTION, Environment, LOG_RETENTION_DAYS,
    RESERVED_CONCURRENT_EXECUTIONS, SynthInput, Synthesized, synth,
};
