//! Names derived from the repository's content: the agent AMI name and the S3 location of each
//! Lambda's code. The hashes are computed by `build.rs` when this crate is built.

use stack_config::{AgentOs, StackConfig};

/// The version in AMI names: this workspace's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The hash of `packer/<folder>` for an OS, if this repository has that image definition.
pub fn packer_hash(os: &AgentOs) -> Option<&'static str> {
    match os.packer_folder() {
        "linux" => Some(env!("PACKER_HASH_LINUX")),
        "windows" => Some(env!("PACKER_HASH_WINDOWS")),
        "macos" => Some(env!("PACKER_HASH_MACOS")),
        _ => None,
    }
}

/// The name of the agent image the stack looks up:
/// `semaphore-agent-v<version>-<os>-<arch>-<hash>`.
///
/// An OS without an image definition is refused by the configuration unless an AMI id is
/// given, in which case this name is never used.
pub fn ami_name(config: &StackConfig) -> String {
    format!(
        "semaphore-agent-v{VERSION}-{}-{}-{}",
        config.os.as_str(),
        config.arch,
        packer_hash(&config.os).unwrap_or("unknown-os")
    )
}

/// One of the stack's Lambda functions, for asset naming and packaging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaAsset {
    /// The job-demand scaler.
    Scaler,
    /// The custom resource that suspends `AZRebalance`.
    AzRebalanceSuspender,
    /// The daily GitHub SSH host keys refresher.
    SshKeysUpdater,
}

impl LambdaAsset {
    /// All three, in template order.
    pub const ALL: [LambdaAsset; 3] = [
        LambdaAsset::SshKeysUpdater,
        LambdaAsset::AzRebalanceSuspender,
        LambdaAsset::Scaler,
    ];

    /// The function's folder under `lambdas/` (and its zip's base name).
    pub fn name(self) -> &'static str {
        match self {
            LambdaAsset::Scaler => "scaler",
            LambdaAsset::AzRebalanceSuspender => "az-rebalance-suspender",
            LambdaAsset::SshKeysUpdater => "ssh-keys-updater",
        }
    }

    /// The SHA-256 fingerprint of the function's sources.
    pub fn fingerprint(self) -> &'static str {
        match self {
            LambdaAsset::Scaler => env!("ASSET_HASH_SCALER"),
            LambdaAsset::AzRebalanceSuspender => env!("ASSET_HASH_AZ_REBALANCE_SUSPENDER"),
            LambdaAsset::SshKeysUpdater => env!("ASSET_HASH_SSH_KEYS_UPDATER"),
        }
    }

    /// The fingerprint of the function's sources as they are now in the workspace at
    /// `root` (differs from [`LambdaAsset::fingerprint`] when the sources changed after this
    /// binary was built).
    pub fn current_fingerprint(self, root: &std::path::Path) -> std::io::Result<String> {
        let roots = crate::fingerprint::LAMBDA_SOURCES
            .iter()
            .find(|(name, _)| *name == self.name())
            .map(|(_, roots)| *roots)
            .unwrap_or_default();
        crate::fingerprint::asset_fingerprint(self.name(), root, roots)
    }

    /// The S3 key of the function's zip: `<fingerprint>.zip`.
    pub fn s3_key(self) -> String {
        format!("{}.zip", self.fingerprint())
    }
}

pub use stack_contract::aws::assets_bucket;
