//! What the tests share: the workspace's binaries and the Python that has moto.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The workspace's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A binary of the workspace from this test's target directory, where `cargo test
/// --workspace` (and so `scripts/test.sh`) builds it; built here with `cargo build -p` only
/// when missing. After changing a program, run the workspace's tests (or build it) so that
/// these tests do not run an older build.
pub fn workspace_binary(name: &str) -> PathBuf {
    static BUILDING: Mutex<()> = Mutex::new(());
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned();
    let path = dir.join(name);
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-q", "-p", name, "--bins"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p {name} failed");
    }
    path
}

/// The Python with moto that `local-fleet` starts `moto_server` with: `LOCAL_FLEET_PYTHON`
/// (`scripts/test.sh` sets it), else the project's `.venv`. `None` (the test is skipped, and
/// says so) when there is none.
pub fn moto_python(test: &str) -> Option<PathBuf> {
    let python = std::env::var_os("LOCAL_FLEET_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    let has_moto = std::process::Command::new(&python)
        .args(["-c", "import moto.server"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_moto {
        eprintln!(
            "skipping {test}: {} has no moto (run scripts/test.sh, which creates .venv)",
            python.display()
        );
        return None;
    }
    Some(python)
}
