//! The scaler Lambda's environment: the variable names, what the template writes into them
//! and the one reader of the overprovision settings (used by `agent-aws-stack config` to
//! validate and by the scaler to read, so both apply the same rule).

use std::fmt;

use crate::js::js_parse_int;

/// SSM parameter holding the agent type's registration token.
pub const TOKEN_PARAMETER_NAME: &str = "SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME";
/// The CloudFormation stack name (metric dimension, and the group's tag).
pub const STACK_NAME: &str = "SEMAPHORE_AGENT_STACK_NAME";
/// The Semaphore organization endpoint.
pub const ENDPOINT: &str = "SEMAPHORE_ENDPOINT";
/// `none`, `number` or `percentage`.
pub const OVERPROVISION_STRATEGY: &str = "SEMAPHORE_AGENT_OVERPROVISION_STRATEGY";
/// The overprovision factor.
pub const OVERPROVISION_FACTOR: &str = "SEMAPHORE_AGENT_OVERPROVISION_FACTOR";
/// The Auto Scaling group's name (the template sets it with a `Ref`); when absent the
/// scaler finds the group by its `aws:cloudformation:stack-name` tag, as the original did.
pub const ASG_NAME: &str = "SEMAPHORE_AGENT_ASG_NAME";

/// The string-valued variables the template writes, as configured. (The group's name,
/// [`ASG_NAME`], is a reference the template adds itself.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalerEnv {
    /// [`TOKEN_PARAMETER_NAME`].
    pub token_parameter: String,
    /// [`STACK_NAME`].
    pub stack_name: String,
    /// [`ENDPOINT`].
    pub endpoint: String,
    /// [`OVERPROVISION_STRATEGY`], as configured.
    pub overprovision_strategy: String,
    /// [`OVERPROVISION_FACTOR`], as configured (the original passed the text through and
    /// read it with `parseInt`, so `"2x"` is 2).
    pub overprovision_factor: String,
}

impl ScalerEnv {
    /// The variables in the order the original's template lists them.
    pub fn variables(&self) -> [(&'static str, &str); 5] {
        [
            (TOKEN_PARAMETER_NAME, &self.token_parameter),
            (STACK_NAME, &self.stack_name),
            (ENDPOINT, &self.endpoint),
            (OVERPROVISION_STRATEGY, &self.overprovision_strategy),
            (OVERPROVISION_FACTOR, &self.overprovision_factor),
        ]
    }
}

/// The extra capacity kept above demand (`SEMAPHORE_AGENT_OVERPROVISION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overprovision {
    /// `none`: the target is the demand.
    None,
    /// `number`: the demand plus this many instances.
    Number(u32),
    /// `percentage`: the demand plus this percentage of it, rounded up.
    Percentage(u32),
}

/// Why the overprovision settings cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OverprovisionError {
    /// The strategy is not `none`, `number` or `percentage`.
    #[error("{OVERPROVISION_STRATEGY} is invalid")]
    Strategy,
    /// The factor has no leading integer (JavaScript's `parseInt` gives `NaN`).
    #[error("{OVERPROVISION_FACTOR} is invalid")]
    Factor,
    /// The factor is below 1 (or beyond what the scaler can count).
    #[error("{OVERPROVISION_FACTOR} must be greater than zero")]
    FactorNotPositive,
}

impl Overprovision {
    /// Reads the strategy and factor texts (the factor only for `number` and `percentage`).
    pub fn parse(strategy: &str, factor: &str) -> Result<Overprovision, OverprovisionError> {
        let factor = || match js_parse_int(factor) {
            None => Err(OverprovisionError::Factor),
            Some(n) => u32::try_from(n.value)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or(OverprovisionError::FactorNotPositive),
        };
        match strategy {
            "none" => Ok(Overprovision::None),
            "number" => factor().map(Overprovision::Number),
            "percentage" => factor().map(Overprovision::Percentage),
            _ => Err(OverprovisionError::Strategy),
        }
    }

    /// The target for `demand` jobs before the group's limits apply.
    pub fn apply(self, demand: u64) -> u64 {
        match self {
            Overprovision::None => demand,
            Overprovision::Number(n) => demand.saturating_add(u64::from(n)),
            Overprovision::Percentage(p) => {
                let extra = demand.saturating_mul(u64::from(p)).div_ceil(100);
                demand.saturating_add(extra)
            }
        }
    }
}

impl fmt::Display for Overprovision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Overprovision::None => f.write_str("none"),
            Overprovision::Number(n) => write!(f, "number ({n})"),
            Overprovision::Percentage(p) => write!(f, "percentage ({p}%)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overprovision_is_read_one_way() {
        use Overprovision as O;
        use OverprovisionError as E;
        for (name, strategy, factor, expected) in [
            ("none ignores the factor", "none", "garbage", Ok(O::None)),
            ("a number", "number", "2", Ok(O::Number(2))),
            ("parseInt reads a prefix", "number", "2x", Ok(O::Number(2))),
            ("a percentage", "percentage", " 25.9", Ok(O::Percentage(25))),
            ("zero is refused", "number", "0", Err(E::FactorNotPositive)),
            (
                "negative is refused",
                "percentage",
                "-1",
                Err(E::FactorNotPositive),
            ),
            ("no digits", "number", "lots", Err(E::Factor)),
            ("empty factor", "number", "", Err(E::Factor)),
            ("unknown strategy", "some", "1", Err(E::Strategy)),
            ("strategy is case-sensitive", "None", "", Err(E::Strategy)),
        ] {
            assert_eq!(Overprovision::parse(strategy, factor), expected, "{name}");
        }
    }

    #[test]
    fn variables_in_the_originals_order() {
        let env = ScalerEnv {
            token_parameter: "t".into(),
            stack_name: "s".into(),
            endpoint: "e".into(),
            overprovision_strategy: "number".into(),
            overprovision_factor: "2".into(),
        };
        let names: Vec<&str> = env.variables().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                TOKEN_PARAMETER_NAME,
                STACK_NAME,
                ENDPOINT,
                OVERPROVISION_STRATEGY,
                OVERPROVISION_FACTOR
            ]
        );
    }
}
