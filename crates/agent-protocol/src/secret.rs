//! `Secret`: a token (registration, access, loghub, callback) that never reaches a log line.
//!
//! On the wire a secret is the plain JSON string. In Rust it has a redacted `Debug`, no
//! `Display`, and an equality that does not stop at the first differing byte.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A token. `Debug` prints `Secret(<redacted>)` (or `Secret(<empty>)`, which is worth knowing
/// when a hub answered without one); read the value with [`Secret::expose`].
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a token.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The token itself, for an `Authorization` header or a config file. Keep the borrow short.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no token was given (the Go agent treats a missing token as `""`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(<empty>)")
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

impl PartialEq for Secret {
    /// Compares in time that depends only on the lengths, so a hub comparing tokens leaks no
    /// prefix through timing.
    fn eq(&self, other: &Secret) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_owned())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Reads a JSON string; `null` reads as the empty token, as Go leaves the field empty.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Secret(
            Option::<String>::deserialize(d)?.unwrap_or_default(),
        ))
    }
}
