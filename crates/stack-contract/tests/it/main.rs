//! The contract's readers against the shared fixtures (`tests/fixtures/agent-params`), and the
//! Windows image's reader (`start.ps1`) against the same fixtures.

mod fixtures;
mod windows;

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `(file stem, text)` of every fixture in `tests/fixtures/agent-params/<kind>`, sorted.
pub fn agent_param_fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = workspace_root()
        .join("tests/fixtures/agent-params")
        .join(kind);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 file name")
                .to_owned();
            let text = std::fs::read_to_string(&path).expect("fixture is readable");
            (stem, text)
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 4,
        "too few {kind} fixtures in {}",
        dir.display()
    );
    out
}

/// The key an invalid fixture is about: its name up to the first `-`.
pub fn key_of(stem: &str) -> &str {
    stem.split_once('-').map_or(stem, |(key, _)| key)
}
