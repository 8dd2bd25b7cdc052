//! Names that are not stack parameters: a key of the config file, or a `SEMAPHORE_*`
//! environment variable, that the stack ignores, with the parameter it was probably meant to
//! be ("did you mean SEMAPHORE_AGENT_INSTANCE_TYPE?") or what it is for instead.
//!
//! The rule differs by origin, because the environment is shared and the file is not:
//! - **Config file**: the file holds stack parameters only, so every key that is not one is
//!   reported (the original silently ignored it, so a misspelt key deployed the default).
//! - **Environment**: it holds many `SEMAPHORE_*` variables that are not stack parameters (the
//!   agent's own `SEMAPHORE_AGENT_*` settings on instances, the variables of a Semaphore CI
//!   job such as `SEMAPHORE_GIT_*` and `SEMAPHORE_JOB_*`, the scaler's
//!   `SEMAPHORE_AGENT_ASG_NAME`). A variable is reported only when its name starts with
//!   `SEMAPHORE_` (in any case), is none of those known names or families, and is within
//!   [`MAX_DISTANCE`] edits of a parameter: a typo, not someone else's variable.
//!
//! Every parameter the original reads is read here (the 47 of its `argument-store.js`, in
//! [`crate::params::PARAMS`]), so no name is reported as "read by the original but not here".

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::params::{PARAMS, Param};
use crate::raw::STACK_CONFIG_ENV;

/// The most single-character edits (insertions, deletions, substitutions) between a name and
/// a parameter for the name to count as a misspelling of it.
pub const MAX_DISTANCE: usize = 3;

/// Where an ignored name was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "path")]
pub enum Origin {
    /// A key of the config file.
    File(PathBuf),
    /// An environment variable.
    Env,
}

/// A name the stack ignores, and what to tell the user about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownKey {
    /// The name as written.
    pub name: String,
    /// Where it was found.
    pub origin: Origin,
    /// The parameter it is probably a misspelling of.
    pub did_you_mean: Option<&'static str>,
    /// What the name is for, when it is a known name that is not a stack parameter.
    pub used_by: Option<&'static str>,
}

impl fmt::Display for UnknownKey {
    /// `config file c.json: SEMAPHORE_AGENT_INSTANCE_TYP is not a stack parameter and is
    /// ignored; did you mean SEMAPHORE_AGENT_INSTANCE_TYPE?`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File(path) => write!(
                f,
                "config file {}: {} is not a stack parameter and is ignored",
                path.display(),
                self.name
            )?,
            Origin::Env => write!(
                f,
                "environment variable {} is not a stack parameter and is ignored",
                self.name
            )?,
        }
        if let Some(used_by) = self.used_by {
            write!(f, " (it is {used_by})")?;
        }
        match self.did_you_mean {
            Some(param) => write!(f, "; did you mean {param}?"),
            None => f.write_str("; `agent-aws-stack config` lists every parameter"),
        }
    }
}

/// Names that are not stack parameters but are known, with what uses them. Entries ending in
/// `_` are families (prefixes).
const KNOWN: &[(&str, &str)] = &[
    (
        STACK_CONFIG_ENV,
        "the environment variable naming the config file, read from the environment only",
    ),
    // The scaler Lambda's own variable (set by the template; `scale-once` reads it).
    (
        "SEMAPHORE_AGENT_ASG_NAME",
        "read by the scaler and `scale-once`, not by the stack",
    ),
    // The Semaphore agent's settings (SEMAPHORE_AGENT_<KEY> for each key of its config.yaml)
    // and what its installer and instances set.
    (
        "SEMAPHORE_AGENT_CONFIG_FILE",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_ENDPOINT",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_TOKEN",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_NO_HTTPS",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_NAME",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_NAME_FROM_ENV",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_SHUTDOWN_HOOK_PATH",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_PRE_JOB_HOOK_PATH",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_POST_JOB_HOOK_PATH",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_SOURCE_PRE_JOB_HOOK",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_FAIL_ON_PRE_JOB_HOOK_ERROR",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_JOB_ID",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_INTERRUPTION_GRACE_PERIOD",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_ENV_VARS",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_FILES",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_FAIL_ON_MISSING_FILES",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_UPLOAD_JOB_LOGS",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_KUBERNETES_",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_LOG_LEVEL",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_LOG_FILE_PATH",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_LOGS_COMPRESSION_SIZE",
        "a setting of the Semaphore agent itself",
    ),
    (
        "SEMAPHORE_AGENT_SHUTDOWN_REASON",
        "set by the Semaphore agent for its shutdown hook",
    ),
    (
        "SEMAPHORE_AGENT_SHUTDOWN_HOOK",
        "a setting of the Semaphore agent's installer",
    ),
    (
        "SEMAPHORE_AGENT_SYSTEMD_",
        "a setting of the Semaphore agent's installer",
    ),
    (
        "SEMAPHORE_AGENT_INSTALLATION_USER",
        "a setting of the Semaphore agent's installer",
    ),
    (
        "SEMAPHORE_AGENT_START",
        "a setting of the Semaphore agent's installer",
    ),
    (
        "SEMAPHORE_REGISTRATION_TOKEN",
        "a setting of the Semaphore agent's installer",
    ),
    (
        "SEMAPHORE_TOOLBOX_",
        "a setting of the Semaphore agent's installer",
    ),
    // What Semaphore sets in the jobs it runs (this tool may run in one).
    (
        "SEMAPHORE_AGENT_MACHINE_",
        "a variable of Semaphore CI jobs",
    ),
    ("SEMAPHORE_GIT_", "a variable of Semaphore CI jobs"),
    ("SEMAPHORE_JOB_", "a variable of Semaphore CI jobs"),
    ("SEMAPHORE_WORKFLOW_", "a variable of Semaphore CI jobs"),
    ("SEMAPHORE_PIPELINE_", "a variable of Semaphore CI jobs"),
    ("SEMAPHORE_PROJECT_", "a variable of Semaphore CI jobs"),
    (
        "SEMAPHORE_ORGANIZATION_URL",
        "a variable of Semaphore CI jobs",
    ),
    ("SEMAPHORE_ARTIFACT_", "a variable of Semaphore CI jobs"),
    ("SEMAPHORE_CACHE_", "a variable of Semaphore CI jobs"),
    ("SEMAPHORE_OIDC_", "a variable of Semaphore CI jobs"),
    ("SEMAPHORE_DEPLOYMENT_", "a variable of Semaphore CI jobs"),
    ("SEMAPHORE_EXECUTION_", "a variable of Semaphore CI jobs"),
];

/// What a known non-parameter name is for.
fn used_by(upper: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|(name, _)| match name.strip_suffix('_') {
            Some(_) => upper.starts_with(name),
            None => upper == *name,
        })
        .map(|(_, what)| *what)
}

/// The parameter `name` is most likely a misspelling of: the nearest within [`MAX_DISTANCE`]
/// edits (and a quarter of the name's length, so that a short word is not "close" to a short
/// parameter), ignoring case, also trying the name with a missing `SEMAPHORE_AGENT_` or
/// `SEMAPHORE_` prefix put back.
pub fn did_you_mean(name: &str) -> Option<&'static str> {
    let most = MAX_DISTANCE.min(name.chars().count() / 4);
    let upper = name.to_ascii_uppercase();
    let mut spellings = vec![upper.clone()];
    if !upper.starts_with("SEMAPHORE_") {
        spellings.push(format!("SEMAPHORE_AGENT_{upper}"));
        spellings.push(format!("SEMAPHORE_{upper}"));
    }
    PARAMS
        .iter()
        .filter_map(|param: &Param| {
            let distance = spellings.iter().map(|s| distance(s, param.name)).min()?;
            (distance <= most).then_some((distance, param.name))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

/// The report for a key of the config file that is not a parameter.
pub fn file_key(name: &str, path: PathBuf) -> UnknownKey {
    UnknownKey {
        name: name.to_owned(),
        origin: Origin::File(path),
        did_you_mean: did_you_mean(name),
        used_by: used_by(&name.to_ascii_uppercase()),
    }
}

/// The report for an environment variable, when it looks like a misspelt parameter (see the
/// module's rule); `None` for every other variable.
pub fn env_var(name: &str) -> Option<UnknownKey> {
    let upper = name.to_ascii_uppercase();
    if !upper.starts_with("SEMAPHORE_")
        || crate::params::find(name).is_some()
        || used_by(&upper).is_some()
    {
        return None;
    }
    Some(UnknownKey {
        name: name.to_owned(),
        origin: Origin::Env,
        did_you_mean: Some(did_you_mean(name)?),
        used_by: None,
    })
}

/// Levenshtein distance, in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspellings_find_their_parameter() {
        let cases = [
            (
                "a letter missing",
                "SEMAPHORE_AGENT_INSTANCE_TYP",
                Some("SEMAPHORE_AGENT_INSTANCE_TYPE"),
            ),
            (
                "letters swapped",
                "SEMAPHORE_AGENT_INSTNACE_TYPE",
                Some("SEMAPHORE_AGENT_INSTANCE_TYPE"),
            ),
            (
                "singular for plural",
                "SEMAPHORE_AGENT_SUBNET",
                Some("SEMAPHORE_AGENT_SUBNETS"),
            ),
            (
                "lower case",
                "semaphore_agent_asg_max_size",
                Some("SEMAPHORE_AGENT_ASG_MAX_SIZE"),
            ),
            (
                "the prefix left out",
                "INSTANCE_TYPE",
                Some("SEMAPHORE_AGENT_INSTANCE_TYPE"),
            ),
            (
                "the agent prefix left out",
                "ORGANISATION",
                Some("SEMAPHORE_ORGANIZATION"),
            ),
            ("nothing close", "SEMAPHORE_AGENT_WHATEVER", None),
            ("a short word is close to nothing", "notes", None),
        ];
        for (case, name, expected) in cases {
            assert_eq!(did_you_mean(name), expected, "{case}");
        }
    }

    #[test]
    fn only_misspelt_parameters_in_the_environment_are_reported() {
        let reported = |name: &str| env_var(name).map(|k| k.did_you_mean);
        let cases = [
            (
                "a typo",
                "SEMAPHORE_AGENT_INSTANCE_TYP",
                Some(Some("SEMAPHORE_AGENT_INSTANCE_TYPE")),
            ),
            ("a parameter", "SEMAPHORE_AGENT_INSTANCE_TYPE", None),
            ("the config file's name", STACK_CONFIG_ENV, None),
            (
                "the agent's own setting",
                "SEMAPHORE_AGENT_UPLOAD_JOB_LOGS",
                None,
            ),
            ("the agent's token", "SEMAPHORE_AGENT_TOKEN", None),
            ("a job variable", "SEMAPHORE_GIT_BRANCH", None),
            ("a machine variable", "SEMAPHORE_AGENT_MACHINE_TYPE", None),
            ("the organization URL", "SEMAPHORE_ORGANIZATION_URL", None),
            ("the scaler's group", "SEMAPHORE_AGENT_ASG_NAME", None),
            ("far from every parameter", "SEMAPHORE_SOMETHING_ELSE", None),
            ("not Semaphore's", "AGENT_INSTANCE_TYP", None),
        ];
        for (case, name, expected) in cases {
            assert_eq!(reported(name), expected, "{case}");
        }
    }

    #[test]
    fn every_file_key_that_is_no_parameter_is_reported() {
        let key = file_key("SEMAPHORE_AGENT_INSTANCE_TYP", "c.json".into());
        assert_eq!(
            key.to_string(),
            "config file c.json: SEMAPHORE_AGENT_INSTANCE_TYP is not a stack parameter and is ignored; did you mean SEMAPHORE_AGENT_INSTANCE_TYPE?"
        );
        let key = file_key("SEMAPHORE_AGENT_UPLOAD_JOB_LOGS", "c.json".into());
        assert_eq!(
            key.to_string(),
            "config file c.json: SEMAPHORE_AGENT_UPLOAD_JOB_LOGS is not a stack parameter and is ignored (it is a setting of the Semaphore agent itself); `agent-aws-stack config` lists every parameter"
        );
        let key = env_var("SEMAPHORE_AGENT_INSTANCE_TYP").expect("reported");
        assert_eq!(
            key.to_string(),
            "environment variable SEMAPHORE_AGENT_INSTANCE_TYP is not a stack parameter and is ignored; did you mean SEMAPHORE_AGENT_INSTANCE_TYPE?"
        );
    }

    #[test]
    fn known_names_are_no_parameters() {
        for (name, _) in KNOWN {
            assert!(crate::params::find(name).is_none(), "{name} is a parameter");
        }
    }

    /// The original's parameters, from the table of `../shared/spec/stack.md` (§1.3) beside
    /// the repository when it is there: every one is read here, so none is ever reported as
    /// unknown, nor needs naming as "read by the original but not here".
    #[test]
    fn r16_every_parameter_of_the_original_is_read_here() {
        let spec =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec/stack.md");
        let Ok(text) = std::fs::read_to_string(&spec) else {
            eprintln!("skipped: ../shared/spec/stack.md is not present");
            return;
        };
        let section = text
            .split("### 1.3 Parameters")
            .nth(1)
            .and_then(|rest| rest.split("\n### ").next())
            .expect("the spec lists the parameters in §1.3");
        let names: Vec<&str> = section
            .split('`')
            .filter(|word| {
                word.starts_with("SEMAPHORE_")
                    && word
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .filter(|word| *word != STACK_CONFIG_ENV)
            .collect();
        assert!(names.len() >= 47, "found only {names:?}");
        for name in names {
            assert!(
                crate::params::find(name).is_some(),
                "the original reads {name}, which is not read here"
            );
            assert_eq!(env_var(name), None, "{name}");
        }
    }

    #[test]
    fn distances() {
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
