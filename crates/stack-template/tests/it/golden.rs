//! Golden templates: every `tests/fixtures/synth/<case>/config.json` synthesizes (with the
//! shared `lookups.json` and `gh_ssh_keys.json`) to exactly its `template.json`.
//! `BLESS=1 cargo test -p stack-template golden` rewrites the files; review them like code.
//!
//! The Lambda asset keys are fingerprints of the Lambda sources, `Cargo.toml` and
//! `Cargo.lock`, so they change with every dependency update; the golden files hold
//! `<lambda>-<fingerprint>.zip` instead and the test checks the real keys separately.

use std::fs;

use crate::support::{FixtureLookups, fixture_ssh_keys, fixtures_dir, json_diff, synth_config};
use serde_json::Value;
use stack_config::{RawConfig, StackConfig};
use stack_template::LambdaAsset;

#[test]
fn every_case_matches_its_golden_template() {
    let lookups = FixtureLookups::load_default();
    let keys = fixture_ssh_keys();
    let bless = std::env::var_os("BLESS").is_some();
    let mut cases: Vec<_> = fs::read_dir(fixtures_dir().join("synth"))
        .expect("tests/fixtures/synth exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("config.json").is_file())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "expected the golden cases, found {}",
        cases.len()
    );

    let mut failures = Vec::new();
    for case in &cases {
        let raw = RawConfig::load(
            Some(&case.join("config.json")),
            Vec::<(String, String)>::new(),
        )
        .expect("config loads");
        let config = StackConfig::from_raw(&raw)
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()))
            .config;
        let synthesized = synth_config(&config, &lookups, &keys)
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let mut json = synthesized.template.to_json();
        mask_asset_keys(&mut json);
        let rendered = stack_template::model::to_pretty_json(&json);
        let golden_path = case.join("template.json");
        if bless {
            fs::write(&golden_path, &rendered).expect("write golden");
            continue;
        }
        let golden: Value = match fs::read_to_string(&golden_path) {
            Ok(text) => serde_json::from_str(&text).expect("golden is JSON"),
            Err(_) => {
                failures.push(format!(
                    "{}: no template.json (run with BLESS=1)",
                    case.display()
                ));
                continue;
            }
        };
        let actual: Value = serde_json::from_str(&rendered).expect("output is JSON");
        if golden != actual {
            failures.push(format!(
                "{}:\n{}",
                case.display(),
                json_diff(&golden, &actual)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}

/// Replaces each Lambda's real S3 key with a stable placeholder, checking it on the way.
fn mask_asset_keys(template: &mut Value) {
    let resources = template["Resources"].as_object_mut().expect("resources");
    for resource in resources.values_mut() {
        let Some(key) = resource.pointer_mut("/Properties/Code/S3Key") else {
            continue;
        };
        let asset = LambdaAsset::ALL
            .into_iter()
            .find(|a| key.as_str() == Some(a.s3_key().as_str()))
            .unwrap_or_else(|| panic!("S3 key {key} is no Lambda's fingerprint"));
        *key = Value::String(format!("{}-<fingerprint>.zip", asset.name()));
    }
}
