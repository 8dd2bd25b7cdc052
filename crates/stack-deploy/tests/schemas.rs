//! The replacement table against the CloudFormation resource schemas that cfn-lint ships
//! (`scripts/test.sh` installs cfn-lint into `.venv`; skipped, with a note, without them), and
//! the tables that must know every resource type we deploy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use stack_deploy::replacement::CREATE_ONLY;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `.venv/lib/python3.*/site-packages/cfnlint/data/schemas`, if cfn-lint is installed.
fn schema_dir() -> Option<PathBuf> {
    let lib = workspace().join(".venv/lib");
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(Result::ok)
        .map(|python| python.path().join("site-packages/cfnlint/data/schemas"))
        .find(|dir| dir.join("providers/us-east-1.json").is_file())
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The top-level property of each JSON pointer in `schema[key]` (`/properties/A/B` → `A`).
fn top_level(schema: &Value, key: &str) -> BTreeSet<String> {
    schema[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|pointer| pointer.strip_prefix("/properties/"))
        .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
        .collect()
}

/// Resource type → its schema, for us-east-1.
fn schemas(dir: &Path) -> BTreeMap<String, Value> {
    let providers = read(&dir.join("providers/us-east-1.json"));
    providers
        .as_object()
        .expect("type → schema file")
        .iter()
        .filter(|(kind, _)| CREATE_ONLY.iter().any(|(t, _, _)| t == kind))
        .map(|(kind, file)| {
            let file = file.as_str().expect("schema file name");
            (
                kind.clone(),
                read(&dir.join("resources").join(format!("{file}.json"))),
            )
        })
        .collect()
}

#[test]
fn table_matches_the_resource_schemas() {
    let Some(dir) = schema_dir() else {
        eprintln!("skipped: cfn-lint's schemas are not in .venv (run scripts/test.sh)");
        return;
    };
    let schemas = schemas(&dir);
    for (kind, always, conditional) in CREATE_ONLY {
        let schema = schemas
            .get(*kind)
            .unwrap_or_else(|| panic!("{kind} has no schema in {}", dir.display()));
        let want_always = top_level(schema, "createOnlyProperties");
        let want_conditional: BTreeSet<String> =
            top_level(schema, "conditionalCreateOnlyProperties")
                .difference(&want_always)
                .cloned()
                .collect();
        let have_always: BTreeSet<String> = always.iter().map(|p| (*p).to_owned()).collect();
        let have_conditional: BTreeSet<String> =
            conditional.iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(have_always, want_always, "{kind}: create-only properties");
        assert_eq!(
            have_conditional, want_conditional,
            "{kind}: conditionally create-only properties"
        );
    }
}

/// Every resource type our templates (the golden fixtures and the bootstrap) use is in the
/// table, so `diff` never falls back to "may be replaced" for lack of knowledge.
#[test]
fn table_covers_every_type_we_deploy() {
    let mut templates = vec![stack_deploy::bootstrap::template(
        "123456789012",
        "us-east-1",
        &["arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned()],
    )];
    templates.extend(golden_templates());
    let mut missing = BTreeSet::new();
    for template in &templates {
        for resource in template["Resources"]
            .as_object()
            .expect("resources")
            .values()
        {
            let kind = resource["Type"].as_str().expect("type");
            if !CREATE_ONLY.iter().any(|(t, _, _)| *t == kind) {
                missing.insert(kind.to_owned());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in the replacement table: {missing:?}"
    );
}

fn golden_templates() -> Vec<Value> {
    let fixtures = workspace().join("tests/fixtures/synth");
    let mut templates = Vec::new();
    for case in std::fs::read_dir(&fixtures).expect("golden fixtures") {
        let path = case.expect("fixture").path().join("template.json");
        if path.is_file() {
            templates.push(read(&path));
        }
    }
    assert!(
        templates.len() > 5,
        "fixtures found in {}",
        fixtures.display()
    );
    templates
}

/// The execution policy has a statement for every resource type of every golden template.
#[test]
fn execution_policy_covers_every_type_we_deploy() {
    use stack_deploy::execution_policy::COVERED_TYPES;
    let mut missing = BTreeSet::new();
    for template in golden_templates() {
        for resource in template["Resources"]
            .as_object()
            .expect("resources")
            .values()
        {
            let kind = resource["Type"].as_str().expect("type");
            if !COVERED_TYPES.iter().any(|(t, _)| *t == kind) {
                missing.insert(kind.to_owned());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not covered by the execution policy: {missing:?}"
    );
}
