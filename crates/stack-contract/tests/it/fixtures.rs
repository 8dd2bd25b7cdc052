//! The Linux and macOS reader (`AgentParameters::parse`, which `agent-instance boot` calls).

use stack_contract::AgentParameters;

use crate::{agent_param_fixtures, key_of};

#[test]
fn valid_parameters_parse_and_are_written_back_byte_for_byte() {
    for (name, text) in agent_param_fixtures("valid") {
        let params = AgentParameters::parse("stack-config", text.trim_end())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(params.to_json(), text.trim_end(), "{name}");
    }
}

#[test]
fn invalid_parameters_are_refused_naming_the_key() {
    for (name, text) in agent_param_fixtures("invalid") {
        let err = AgentParameters::parse("stack-config", &text)
            .expect_err(&format!("{name} must be refused"));
        assert!(
            err.problem.contains(&format!("`{}`", key_of(&name))),
            "{name}: {err}"
        );
    }
}
