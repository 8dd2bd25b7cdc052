//! The deploy engine: bootstrap, deploy, diff and destroy of the agent stack through
//! CloudFormation change sets, written for people (typed events the CLI renders live, clear
//! verdicts) and for scripts (reports with a JSON form, exit statuses they can trust).
//!
//! The engine talks to AWS through small traits ([`cloud::Stacks`], [`cloud::Storage`],
//! [`cloud::Fleet`]) so that failure paths an emulator cannot produce (rollbacks, throttling,
//! stuck stacks) are tested with fakes; [`aws`] implements them with the AWS SDK and is the
//! only place SDK shapes become ours ([`status`]).

pub mod assets;
pub mod aws;
pub mod bootstrap;
pub mod cloud;
pub mod compare;
pub mod deploy;
pub mod destroy;
pub mod diff;
pub mod engine;
pub mod error;
pub mod execution_policy;
pub mod prepare;
pub mod progress;
pub mod render;
pub mod replacement;
pub mod report;
pub mod security;
pub mod status;
pub mod watch;

pub use compare::StackDiff;
pub use deploy::{Approval, DeployOutcome, DeployRequest};
pub use destroy::{DestroyOutcome, DestroyRequest};
pub use engine::{Engine, Timing};
pub use error::{BootstrapError, DeployError, ResourceFailure};
pub use progress::{Confirm, DeployEvent, NoAnswer, Progress, Question};
pub use report::{DeployReport, DestroyReport, DiffReport, KeptBootstrap, LeftInPlace};
pub use status::{ChangeSetStatus, ResourceStatus, StackStatus};
