//! The whole fleet on one machine: a stand-in for EC2 ([`ec2`]) that turns the instances an
//! Auto Scaling group launches in the AWS emulator into local instances ([`instance`]), each
//! with its own IMDSv2 ([`imds`]) and running the image's real boot program and the Rust
//! agent against a local hub, and the scaler Lambda's own tick on its schedule ([`scaler`]).
//!
//! What the emulator (moto 5.2) does not do, the stand-in does through the Auto Scaling API:
//! an instance that powers itself off is terminated in its group without decrement, so the
//! group replaces it.

pub mod ec2;
pub mod imds;
pub mod instance;
pub mod record;
pub mod scaler;
pub mod services;
pub mod session;
pub mod stack;
