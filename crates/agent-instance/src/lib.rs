//! The program on each agent instance (Linux and macOS images): it replaces the original's
//! `start.sh`, `health-check.sh`, shutdown hook and Python presigner with one binary that
//! uses only IMDSv2 and the AWS APIs, no AWS CLI, Python or `yq`.

pub mod boot;
pub mod files;
pub mod instance;
pub mod layout;
pub mod params;
pub mod presign;
pub mod shutdown;
