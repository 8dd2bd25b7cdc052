//! The values that cross a process boundary, defined once.
//!
//! The template (`stack-template`) writes them; the processes the stack starts read them:
//! - [`agent_params`]: the stack's `<stack>-config` SSM parameter, read by `agent-instance`
//!   on every instance (and by the Windows image's `start.ps1`, checked against the same
//!   fixtures);
//! - [`scaler_env`]: the scaler Lambda's environment, read by `scaler-tick`;
//! - [`aws`]: the ARN partition of a region and the assets bucket name, shared by synthesis
//!   and the deploy engine;
//! - [`js`]: numbers read with the original's JavaScript semantics, so that configuration,
//!   template and readers agree on what a text means.
//!
//! Nothing here talks to AWS or reads the environment itself.

pub mod agent_params;
pub mod aws;
pub mod js;
pub mod scaler_env;

pub use agent_params::{AgentParameters, ParamsError};
pub use scaler_env::{Overprovision, OverprovisionError, ScalerEnv};
