//! The deploy engine: bootstrap, deploy, diff and destroy of the agent stack through
//! CloudFormation change sets, written for people (live progress, clear verdicts) and for
//! scripts (exit statuses they can trust).
//!
//! The engine talks to AWS through two small traits ([`cloud::Stacks`], [`cloud::Storage`])
//! so that failure paths an emulator cannot produce (rollbacks, throttling, stuck stacks) are
//! tested with fakes; [`aws`] implements them with the AWS SDK.

pub mod assets;
pub mod aws;
pub mod bootstrap;
pub mod cloud;
pub mod diff;
pub mod engine;
pub mod execution_policy;
pub mod render;
pub mod replacement;

pub use engine::{
    Approval, DeployError, DeployOutcome, DeployRequest, DestroyOutcome, DestroyRequest, Engine,
    StackDiff, Timing, Ui,
};
