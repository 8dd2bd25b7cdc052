//! The scaler's inputs: the environment variables the stack sets on the function.

use std::fmt;

use stack_contract::scaler_env::{Overprovision, OverprovisionError};

pub use stack_contract::scaler_env::{
    ASG_NAME, ENDPOINT, OVERPROVISION_FACTOR, OVERPROVISION_STRATEGY, STACK_NAME,
    TOKEN_PARAMETER_NAME,
};

/// How the tick finds the agents' Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSelector {
    /// By name (`SEMAPHORE_AGENT_ASG_NAME`): one call, no tag filter.
    Name(String),
    /// By the `aws:cloudformation:stack-name` tag CloudFormation puts on the group.
    StackTag(String),
}

impl fmt::Display for GroupSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupSelector::Name(name) => write!(f, "Auto Scaling group '{name}'"),
            GroupSelector::StackTag(stack) => write!(
                f,
                "Auto Scaling group tagged aws:cloudformation:stack-name={stack}"
            ),
        }
    }
}

/// Everything a tick needs to know, read once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME`.
    pub token_parameter: String,
    /// `SEMAPHORE_AGENT_STACK_NAME`.
    pub stack_name: String,
    /// The metrics URL built from `SEMAPHORE_ENDPOINT`.
    pub metrics_url: String,
    /// From `SEMAPHORE_AGENT_OVERPROVISION_*`.
    pub overprovision: Overprovision,
    /// From `SEMAPHORE_AGENT_ASG_NAME`, else the stack tag.
    pub group: GroupSelector,
}

/// The scaler's environment is incomplete or wrong; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the scaler's environment is not usable:\n  - {}", problems.join("\n  - "))]
pub struct SettingsError {
    /// One line per problem, each naming its variable.
    pub problems: Vec<String>,
}

/// The metrics URL for an endpoint: `https://<endpoint>/api/v1/self_hosted_agents/metrics`,
/// or the endpoint's own scheme when it has one (`http://127.0.0.1:9000` in tests).
pub fn metrics_url(endpoint: &str) -> String {
    let base = endpoint.trim().trim_end_matches('/');
    let base = if base.contains("://") {
        base.to_owned()
    } else {
        format!("https://{base}")
    };
    format!("{base}/api/v1/self_hosted_agents/metrics")
}

impl Settings {
    /// Reads the settings through `var` (the process environment in production).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let mut problems = Vec::new();
        let mut required = |name: &str, what: &str| match var(name).filter(|v| !v.trim().is_empty())
        {
            Some(v) => v.trim().to_owned(),
            None => {
                problems.push(format!("{name} is not set: it must hold {what}"));
                String::new()
            }
        };
        let token_parameter = required(
            TOKEN_PARAMETER_NAME,
            "the name of the SSM parameter with the agent type's registration token",
        );
        let stack_name = required(STACK_NAME, "the CloudFormation stack name");
        let endpoint = required(
            ENDPOINT,
            "the Semaphore organization endpoint, e.g. myorg.semaphoreci.com",
        );
        let strategy = var(OVERPROVISION_STRATEGY)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "none".to_owned());
        let factor = var(OVERPROVISION_FACTOR).unwrap_or_default();
        let overprovision = match parse_overprovision(&strategy, &factor) {
            Ok(o) => o,
            Err(problem) => {
                problems.push(problem);
                Overprovision::None
            }
        };
        let group = match var(ASG_NAME).filter(|v| !v.trim().is_empty()) {
            Some(name) => GroupSelector::Name(name.trim().to_owned()),
            None => GroupSelector::StackTag(stack_name.clone()),
        };
        if !problems.is_empty() {
            return Err(SettingsError { problems });
        }
        Ok(Settings {
            token_parameter,
            stack_name,
            metrics_url: metrics_url(&endpoint),
            overprovision,
            group,
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The stack's own rule (`Overprovision::parse`, which `agent-aws-stack config` applies
/// too), with messages that name the variable and its value.
fn parse_overprovision(strategy: &str, factor: &str) -> Result<Overprovision, String> {
    Overprovision::parse(strategy, factor).map_err(|e| match e {
        OverprovisionError::Strategy => {
            format!("{OVERPROVISION_STRATEGY} is '{strategy}': use none, number or percentage")
        }
        OverprovisionError::Factor | OverprovisionError::FactorNotPositive => format!(
            "{OVERPROVISION_FACTOR} is '{factor}': with strategy '{strategy}' it must be a whole number of 1 or more"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: &[(&str, &str)] = &[
        (TOKEN_PARAMETER_NAME, "tok"),
        (STACK_NAME, "stack"),
        (ENDPOINT, "org.semaphoreci.com"),
        (OVERPROVISION_STRATEGY, "none"),
        (OVERPROVISION_FACTOR, "0"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut v: Vec<_> = BASE
            .iter()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
            .copied()
            .collect();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn reads_the_stack_variables() {
        let s = settings(BASE).expect("valid");
        assert_eq!(
            s.metrics_url,
            "https://org.semaphoreci.com/api/v1/self_hosted_agents/metrics"
        );
        assert_eq!(s.group, GroupSelector::StackTag("stack".into()));
        assert_eq!(s.overprovision, Overprovision::None);
        let s = settings(&with(&[(ASG_NAME, "stack-asg-1")])).expect("valid");
        assert_eq!(s.group, GroupSelector::Name("stack-asg-1".into()));
    }

    #[test]
    fn endpoint_may_carry_a_scheme_and_port() {
        assert_eq!(
            metrics_url("http://127.0.0.1:9000/"),
            "http://127.0.0.1:9000/api/v1/self_hosted_agents/metrics"
        );
        assert_eq!(
            metrics_url("semaphore.example.com:8443"),
            "https://semaphore.example.com:8443/api/v1/self_hosted_agents/metrics"
        );
    }

    #[test]
    fn factor_is_read_like_parse_int() {
        let s = settings(&with(&[
            (OVERPROVISION_STRATEGY, "number"),
            (OVERPROVISION_FACTOR, "2x"),
        ]))
        .expect("valid");
        assert_eq!(s.overprovision, Overprovision::Number(2));
        let s = settings(&with(&[
            (OVERPROVISION_STRATEGY, "percentage"),
            (OVERPROVISION_FACTOR, " 25.9"),
        ]))
        .expect("valid");
        assert_eq!(s.overprovision, Overprovision::Percentage(25));
        // with `none` the factor is not read, as in the original
        let s = settings(&with(&[(OVERPROVISION_FACTOR, "garbage")])).expect("valid");
        assert_eq!(s.overprovision, Overprovision::None);
    }

    #[test]
    fn every_problem_is_named() {
        let err = settings(&[
            (ENDPOINT, " "),
            (OVERPROVISION_STRATEGY, "number"),
            (OVERPROVISION_FACTOR, "-1"),
        ])
        .expect_err("invalid");
        let text = err.to_string();
        for name in [
            TOKEN_PARAMETER_NAME,
            STACK_NAME,
            ENDPOINT,
            OVERPROVISION_FACTOR,
        ] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
        assert_eq!(err.problems.len(), 4);
        let err = settings(&with(&[(OVERPROVISION_STRATEGY, "lots")])).expect_err("invalid");
        assert!(err.to_string().contains("use none, number or percentage"));
    }
}
