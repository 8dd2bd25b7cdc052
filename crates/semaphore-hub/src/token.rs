//! Tokens and ids: random from the OS, stored only as SHA-256 digests, compared in constant
//! time.

use agent_protocol::Secret;
use sha2::{Digest, Sha256};

/// A new random token: 32 bytes from the OS, hex-encoded (64 characters).
pub fn new_token() -> Secret {
    Secret::new(hex(&random_bytes::<32>()))
}

/// A new job id in the UUID v4 text form Semaphore's job ids have.
pub fn new_job_id() -> String {
    let mut bytes = random_bytes::<16>();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The digest a token is stored and looked up by (hex SHA-256).
pub fn digest(token: &Secret) -> String {
    hex(&Sha256::digest(token.expose().as_bytes()))
}

/// Whether `token` is the one `stored` is the digest of, compared in constant time.
pub fn matches(token: &Secret, stored: &str) -> bool {
    same_digest(&digest(token), stored)
}

/// Whether two digests are equal, compared in constant time (no early exit on a prefix): for
/// a digest already computed to look a record up, checked against the record's own.
pub fn same_digest(a: &str, b: &str) -> bool {
    Secret::new(a) == Secret::new(b)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // Without an OS random source nothing here can be made safe: stop loudly.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_match_only_their_digest() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert!(matches(&a, &digest(&a)));
        assert!(!matches(&b, &digest(&a)));
        assert_ne!(digest(&a), a.expose());
    }

    #[test]
    fn job_ids_look_like_uuids() {
        let id = new_job_id();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_job_id());
    }
}
