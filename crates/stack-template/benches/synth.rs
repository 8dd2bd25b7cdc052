//! Benchmark of template synthesis alone (configuration already validated, lookups at hand).
//! The whole-command figures (process start to template written) come from
//! `scripts/bench-synth.sh`.

use criterion::{Criterion, criterion_main};
use stack_config::{RawConfig, StackConfig};
use test_support::{FixtureLookups, fixture_ssh_keys, fixtures_dir, synth_config};

fn bench(c: &mut Criterion) {
    let lookups = FixtureLookups::load_default();
    let keys = fixture_ssh_keys();
    for case in ["linux-default", "linux-full", "macos"] {
        let path = fixtures_dir().join("synth").join(case).join("config.json");
        let raw = RawConfig::load(Some(&path), Vec::<(String, String)>::new()).expect("config");
        let config = StackConfig::from_raw(&raw).expect("valid").config;
        c.bench_function(&format!("synth {case}"), |b| {
            b.iter(|| {
                let s = synth_config(&config, &lookups, &keys).expect("synthesizes");
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
