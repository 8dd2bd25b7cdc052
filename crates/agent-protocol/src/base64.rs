//! `Base64`: the job request's encoded values (env var values, file contents, SSH keys).
//!
//! The text is kept as the hub sent it and decoded only when the agent uses it, because that
//! is where the Go agent fails: a bad value fails the job's "Exporting environment variables"
//! or "Injecting Files" step, not the parsing of the request. Decoding follows Go's
//! `base64.StdEncoding` (RFC 4648 alphabet, padding required, `\r` and `\n` ignored).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Standard base64 text as it appears on the wire. `Debug` shows only the length, because
/// these values carry job secrets (`SEMAPHORE_ARTIFACT_TOKEN`, SSH keys).
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Base64(String);

/// Why a [`Base64`] value does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base64Error {
    /// A byte outside the alphabet, or padding in the middle; `offset` counts the input
    /// without its line breaks.
    InvalidByte {
        /// Position of the byte.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The length (without line breaks) is not a multiple of four.
    InvalidLength {
        /// The length found.
        length: usize,
    },
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base64Error::InvalidByte { offset, byte } => {
                write!(f, "illegal base64 byte 0x{byte:02x} at offset {offset}")
            }
            Base64Error::InvalidLength { length } => {
                write!(f, "base64 length {length} is not a multiple of 4")
            }
        }
    }
}

impl std::error::Error for Base64Error {}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

impl Base64 {
    /// Wraps text that is already base64 (as read from a hub).
    pub fn from_encoded(text: impl Into<String>) -> Base64 {
        Base64(text.into())
    }

    /// Encodes bytes (for a hub or a test writing a job request).
    pub fn encode(bytes: &[u8]) -> Base64 {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        Base64(out)
    }

    /// The text as sent.
    pub fn as_encoded(&self) -> &str {
        &self.0
    }

    /// Decodes like Go's `base64.StdEncoding.DecodeString`.
    pub fn decode(&self) -> Result<Vec<u8>, Base64Error> {
        let input: Vec<u8> = self
            .0
            .bytes()
            .filter(|b| *b != b'\r' && *b != b'\n')
            .collect();
        if !input.len().is_multiple_of(4) {
            return Err(Base64Error::InvalidLength {
                length: input.len(),
            });
        }
        let mut out = Vec::with_capacity(input.len() / 4 * 3);
        for (q, quad) in input.chunks(4).enumerate() {
            let last = (q + 1) * 4 == input.len();
            let padding = quad.iter().rev().take_while(|b| **b == b'=').count();
            // "==" and "=" are allowed only at the very end, and never more than two.
            if padding > 2 || (padding > 0 && !last) {
                let at = quad.iter().position(|b| *b == b'=').unwrap_or(0);
                return Err(Base64Error::InvalidByte {
                    offset: q * 4 + at,
                    byte: b'=',
                });
            }
            let mut n = 0u32;
            for (i, byte) in quad[..4 - padding].iter().enumerate() {
                let v = sextet(*byte).ok_or(Base64Error::InvalidByte {
                    offset: q * 4 + i,
                    byte: *byte,
                })?;
                n |= u32::from(v) << (18 - 6 * i);
            }
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&bytes[..3 - padding]);
        }
        Ok(out)
    }
}

impl fmt::Debug for Base64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64(<{} chars>)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for Base64 {
    /// Reads a JSON string; `null` reads as `""`, as Go leaves the field empty.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Base64(
            Option::<String>::deserialize(d)?.unwrap_or_default(),
        ))
    }
}
