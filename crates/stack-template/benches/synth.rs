//! Benchmark of template synthesis alone (configuration already validated, lookups resolved
//! beforehand). The whole-command figures (process start to template written) come from
//! `scripts/bench-synth.sh`.

use criterion::{Criterion, criterion_main};
use stack_config::{RawConfig, StackConfig};

// The integration tests' support module, shared by path rather than through a crate (see its
// module doc); the bench uses only part of it.
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use support::{FixtureLookups, fixture_ssh_keys, fixtures_dir, synth_resolved};

fn bench(c: &mut Criterion) {
    let fixtures = FixtureLookups::load_default();
    let environment = fixtures.environment();
    let keys = fixture_ssh_keys();
    for case in ["linux-default", "linux-full", "macos"] {
        let path = fixtures_dir().join("synth").join(case).join("config.json");
        let raw = RawConfig::load(Some(&path), Vec::<(String, String)>::new()).expect("config");
        let config = StackConfig::from_raw(&raw).expect("valid").config;
        let lookups = fixtures.resolve(&config);
        c.bench_function(&format!("synth {case}"), |b| {
            b.iter(|| {
                let s =
                    synth_resolved(&config, &lookups, &environment, &keys).expect("synthesizes");
                s.template.to_pretty_string()
            })
        });
    }
    let path = fixtures_dir().join("synth/linux-full/config.json");
    c.bench_function("read and validate linux-full config", |b| {
        b.iter(|| {
            let raw = RawConfig::load(Some(&path), Vec::<(String, String)>::new()).expect("config");
            StackConfig::from_raw(&raw).expect("valid")
        })
    });
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
