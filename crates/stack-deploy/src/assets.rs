//! Lambda code in the assets bucket: content-addressed keys, so an object already there is
//! never uploaded again.

use aws_support::AwsFailure;
use sha2::{Digest as _, Sha256};

use crate::cloud::Storage;

/// The keys of `keys` that `bucket` does not hold yet.
pub async fn missing(
    storage: &impl Storage,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<String>, AwsFailure> {
    let mut out = Vec::new();
    for key in keys {
        if !storage.object_exists(bucket, key).await? {
            out.push(key.clone());
        }
    }
    Ok(out)
}

/// Uploads `bytes` under `key`, with their SHA-256 for S3 to verify on arrival.
pub async fn upload(
    storage: &impl Storage,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<(), AwsFailure> {
    let digest = Sha256::digest(&bytes);
    let checksum = aws_smithy_types::base64::encode(digest.as_slice());
    storage.put_object(bucket, key, bytes, &checksum).await
}
