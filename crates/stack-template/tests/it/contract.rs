//! The template writes what the processes it starts read: for every golden configuration,
//! the agent parameters synthesized into the config parameter parse with the instance's
//! reader (`stack_contract::AgentParameters::parse`, which `agent-instance boot` calls) into
//! exactly the configured values, and the scaler's environment holds every variable the
//! scaler reads, with overprovision settings its reader accepts.

use std::fs;

use crate::support::{FixtureLookups, fixture_ssh_keys, fixtures_dir, synth_config};
use serde_json::Value;
use stack_config::{RawConfig, StackConfig};
use stack_contract::AgentParameters;
use stack_contract::scaler_env::{self, Overprovision};
use stack_template::ids::{CONFIG_PARAMETER, SCALER_FUNCTION};

fn golden_configs() -> Vec<(String, StackConfig)> {
    let mut cases: Vec<_> = fs::read_dir(fixtures_dir().join("synth"))
        .expect("tests/fixtures/synth exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("config.json").is_file())
        .collect();
    cases.sort();
    cases
        .into_iter()
        .map(|case| {
            let raw = RawConfig::load(
                Some(&case.join("config.json")),
                Vec::<(String, String)>::new(),
            )
            .expect("config loads");
            let config = StackConfig::from_raw(&raw)
                .expect("golden configs are valid")
                .config;
            (case.display().to_string(), config)
        })
        .collect()
}

#[test]
fn instances_read_back_the_configured_agent_parameters() {
    let lookups = FixtureLookups::load_default();
    let keys = fixture_ssh_keys();
    for (case, config) in golden_configs() {
        let template = synth_config(&config, &lookups, &keys)
            .expect("synthesizes")
            .template
            .to_json();
        let text = template["Resources"][CONFIG_PARAMETER]["Properties"]["Value"]
            .as_str()
            .unwrap_or_else(|| panic!("{case}: the config parameter's value is a string"));
        let params = AgentParameters::parse(&config.config_parameter_name(), text)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(params.endpoint, config.endpoint, "{case}");
        assert_eq!(
            params.token_parameter, config.token_parameter_name,
            "{case}"
        );
        assert_eq!(
            params.ssh_keys_parameter,
            config.ssh_keys_parameter_name(),
            "{case}"
        );
        assert_eq!(
            params.disconnect_after_job, config.disconnect_after_job,
            "{case}"
        );
        assert_eq!(
            params.disconnect_after_idle_timeout_secs, config.disconnect_after_idle_timeout_secs,
            "{case}"
        );
        assert_eq!(
            params.use_pre_signed_url, config.use_pre_signed_url,
            "{case}"
        );
        assert_eq!(
            params
                .env_vars
                .iter()
                .any(|v| v.starts_with("SEMAPHORE_CACHE_S3_BUCKET=")),
            config.cache_bucket_name.is_some(),
            "{case}"
        );
        // What the instance reads, the template writes back byte for byte.
        assert_eq!(params.to_json(), text, "{case}");
    }
}

#[test]
fn the_scaler_finds_every_variable_it_reads() {
    let lookups = FixtureLookups::load_default();
    let keys = fixture_ssh_keys();
    let mut with_scaler = 0;
    for (case, config) in golden_configs() {
        let template = synth_config(&config, &lookups, &keys)
            .expect("synthesizes")
            .template
            .to_json();
        let Some(function) = template["Resources"].get(SCALER_FUNCTION) else {
            assert!(
                !config.use_dynamic_scaling,
                "{case}: no scaler with dynamic scaling on"
            );
            continue;
        };
        with_scaler += 1;
        let variables = &function["Properties"]["Environment"]["Variables"];
        let text = |name: &str| {
            variables[name]
                .as_str()
                .unwrap_or_else(|| panic!("{case}: {name} is not a string"))
                .to_owned()
        };
        for name in [
            scaler_env::TOKEN_PARAMETER_NAME,
            scaler_env::STACK_NAME,
            scaler_env::ENDPOINT,
        ] {
            assert!(!text(name).is_empty(), "{case}: {name} is empty");
        }
        assert_eq!(text(scaler_env::STACK_NAME), config.stack_name, "{case}");
        let overprovision = Overprovision::parse(
            &text(scaler_env::OVERPROVISION_STRATEGY),
            &text(scaler_env::OVERPROVISION_FACTOR),
        );
        assert!(overprovision.is_ok(), "{case}: {overprovision:?}");
        assert!(
            matches!(&variables[scaler_env::ASG_NAME], Value::Object(o) if o.contains_key("Ref")),
            "{case}: the group's name is a reference"
        );
    }
    assert!(with_scaler >= 5, "{with_scaler} cases with a scaler");
}
