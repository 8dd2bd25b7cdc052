//! Loads the fixture files and checks that a type round-trips them.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The text of `tests/fixtures/<name>`.
pub fn text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Parses the fixture as `T`, serializes it back, and checks that the JSON is the same value
/// as the file's. Returns the typed value for the caller to compare with what it expects.
pub fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    round_trip_text(&text(name), name)
}

/// As [`round_trip`], for JSON text given inline.
pub fn round_trip_text<T: DeserializeOwned + Serialize>(text: &str, what: &str) -> T {
    let expected: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let typed: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let written = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(written, expected, "{what} does not round-trip");
    typed
}

/// The fixture's first line, for byte-exact comparison with compact serialization.
pub fn first_line(name: &str) -> String {
    text(name).lines().next().unwrap_or_default().to_owned()
}
