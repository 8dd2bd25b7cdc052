//! How Go's `encoding/json` reads and writes the fields this crate shares with the Go agent
//! and its hubs: zero values standing for "none" (`""`, `0`), `null` read as the zero value,
//! and the HTML-safe string escaping Go applies to every string it writes ([`to_go_json`]).
//!
//! The serde adapters here are used with `#[serde(with = ...)]` / `deserialize_with` by the
//! wire types; they are public so that other crates' wire-adjacent types can follow suit.

use std::io;

use serde::de::IntoDeserializer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Writes `value` as compact JSON exactly as Go's `json.Marshal` would for the same field
/// order: `<`, `>`, `&`, U+2028 and U+2029 inside strings become `\u003c`, `\u003e`,
/// `\u0026`, `\u2028` and `\u2029`. Byte-exact job logs need this (spec 7.1).
pub fn to_go_json<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value.serialize(&mut ser)?;
    // serde_json writes only UTF-8 and the escapes below are ASCII.
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Reads `null` as the type's default (Go leaves the field at its zero value); any other
/// value is read normally.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `Option<T>` where Go writes the empty string for "none" (`job_id`, `job_result`).
///
/// `None` is written as `""`; `""`, `null` and a missing field read as `None`. Any other
/// string is read as `T` from that string.
pub mod empty_string_as_none {
    use super::*;

    /// Writes `None` as `""`.
    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => v.serialize(s),
            None => s.serialize_str(""),
        }
    }

    /// Reads `""` and `null` as `None`.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => T::deserialize(s.into_deserializer()).map(Some),
        }
    }
}

/// `Option<i64>` where Go writes `0` for "none" (`interrupted_at`).
///
/// `None` is written as `0`; `0`, `null` and a missing field read as `None`.
pub mod zero_as_none {
    use super::*;

    /// Writes `None` as `0`.
    pub fn serialize<S: Serializer>(value: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(value.unwrap_or(0))
    }

    /// Reads `0` and `null` as `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.filter(|n| *n != 0))
    }
}
