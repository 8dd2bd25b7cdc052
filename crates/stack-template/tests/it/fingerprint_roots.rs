//! What a Lambda's asset fingerprint covers: `fingerprint::LAMBDA_SOURCES`, kept by hand, is
//! checked against what `cargo metadata` says each Lambda links; and the fingerprint ignores
//! the crates' tests, benchmarks and examples, but not their code.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stack_template::LambdaAsset;
use stack_template::fingerprint::{LAMBDA_SOURCES, asset_fingerprint};

use crate::support::workspace_root;

/// `cargo metadata` of the workspace; offline first (the lock file and the local registry
/// cache suffice), then online if the cache lacks something.
fn cargo_metadata() -> Value {
    let run = |offline: bool| {
        let mut command = Command::new(env!("CARGO"));
        command
            .args(["metadata", "--format-version", "1"])
            .current_dir(workspace_root());
        if offline {
            command.arg("--offline");
        }
        command.output().expect("cargo runs")
    };
    let mut output = run(true);
    if !output.status.success() {
        eprintln!(
            "cargo metadata --offline failed, trying online: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output = run(false);
    }
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// For each workspace member, by package name: its folder relative to the workspace root and
/// the workspace members it links, transitively, through normal and build dependencies
/// (dev-dependencies are not linked into what ships).
fn linked_workspace_crates(metadata: &Value) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let root = PathBuf::from(metadata["workspace_root"].as_str().expect("workspace_root"));
    let members: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Package id → (name, folder relative to the root), for members only.
    let packages: BTreeMap<&str, (&str, String)> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| {
            let id = p["id"].as_str()?;
            members.contains(id).then_some(())?;
            let manifest = Path::new(p["manifest_path"].as_str()?);
            let folder = manifest
                .parent()?
                .strip_prefix(&root)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            Some((id, (p["name"].as_str()?, folder)))
        })
        .collect();
    assert_eq!(packages.len(), members.len(), "every member has a folder");
    // Package id → ids of its non-dev dependencies.
    let edges: BTreeMap<&str, Vec<&str>> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes (cargo metadata without --no-deps)")
        .iter()
        .filter_map(|node| {
            let deps = node["deps"]
                .as_array()?
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|kind| kind["kind"].as_str() != Some("dev"))
                })
                .filter_map(|dep| dep["pkg"].as_str())
                .collect();
            Some((node["id"].as_str()?, deps))
        })
        .collect();
    packages
        .iter()
        .map(|(id, (name, folder))| {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&str> = edges.get(id).cloned().unwrap_or_default();
            while let Some(dep) = stack.pop() {
                if seen.insert(dep) {
                    stack.extend(edges.get(dep).into_iter().flatten());
                }
            }
            let linked = seen
                .into_iter()
                .filter_map(|dep| packages.get(dep).map(|(_, folder)| folder.clone()))
                .collect();
            ((*name).to_owned(), (folder.clone(), linked))
        })
        .collect()
}

#[test]
fn lambda_fingerprint_roots_are_exactly_what_each_lambda_links() {
    let metadata = cargo_metadata();
    let crates = linked_workspace_crates(&metadata);
    let listed: BTreeSet<&str> = LAMBDA_SOURCES.iter().map(|(name, _)| *name).collect();
    let lambdas: BTreeSet<&str> = LambdaAsset::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(listed, lambdas, "LAMBDA_SOURCES names every Lambda once");

    let mut failures = Vec::new();
    for (name, roots) in LAMBDA_SOURCES {
        let (folder, linked) = crates
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is a workspace member"));
        let mut expected: BTreeSet<String> = linked.clone();
        expected.extend([folder.clone(), "Cargo.toml".into(), "Cargo.lock".into()]);
        let actual: BTreeSet<String> = roots.iter().map(|r| (*r).to_owned()).collect();
        assert_eq!(actual.len(), roots.len(), "{name}: a root is listed twice");
        if actual != expected {
            failures.push(format!(
                "{name}: linked but not listed {:?}; listed but not linked {:?}",
                expected.difference(&actual).collect::<Vec<_>>(),
                actual.difference(&expected).collect::<Vec<_>>(),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "fingerprint roots differ from cargo metadata:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_asset_fingerprint_ignores_tests_benches_and_examples_but_not_code() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "fingerprint-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = fs::remove_dir_all(&base);
    let write = |relative: &str, text: &str| {
        let path = base.join(relative);
        fs::create_dir_all(path.parent().expect("has a parent")).expect("create folder");
        fs::write(path, text).expect("write file");
    };
    write("Cargo.lock", "lock");
    write("lambdas/fn/Cargo.toml", "[package]");
    write("lambdas/fn/src/main.rs", "fn main() {}");
    write("crates/lib/src/lib.rs", "pub fn f() {}");
    let roots = ["Cargo.lock", "lambdas/fn", "crates/lib"];
    let fingerprint = || asset_fingerprint("fn", &base, &roots).expect("fingerprint");
    let mut last = fingerprint();

    let cases = [
        ("an integration test", "crates/lib/tests/it.rs", false),
        ("a benchmark", "lambdas/fn/benches/b.rs", false),
        ("an example", "lambdas/fn/examples/e.rs", false),
        ("a test fixture", "crates/lib/tests/fixtures/x.json", false),
        ("a source file", "crates/lib/src/lib.rs", true),
        (
            "a module folder named tests",
            "crates/lib/src/tests/mod.rs",
            true,
        ),
        ("a build script", "crates/lib/build.rs", true),
        ("a file named like a folder", "crates/lib/examples", true),
        ("the lock file", "Cargo.lock", true),
    ];
    for (what, file, changes) in cases {
        write(file, &format!("edited {what}"));
        let now = fingerprint();
        assert_eq!(now != last, changes, "editing {what} ({file})");
        last = now;
    }
    let _ = fs::remove_dir_all(&base);
}
