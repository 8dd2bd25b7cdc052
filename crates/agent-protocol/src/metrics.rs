//! The metrics document of `GET /api/v1/self_hosted_agents/metrics`, which the scaler reads
//! with the agent type's registration token (lambdas-and-deploy spec 1.4).
//!
//! Same serde behaviour as the scaler's own copy in `scaler-core`, which is to switch to this
//! one: every state the hub sends is kept, but a document without `jobs.queued`,
//! `jobs.running`, `agents.idle` or `agents.occupied` is an error (a partial answer must not
//! read as zero demand). Unknown top-level fields are ignored.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

/// What the metrics endpoint reports for the agent type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// Jobs by state: `queued`, `running`, and any state the hub adds.
    pub jobs: BTreeMap<String, u64>,
    /// Agents by state: `idle`, `occupied`, and any state the hub adds.
    pub agents: BTreeMap<String, u64>,
}

impl Metrics {
    /// The job states that must be present.
    pub const REQUIRED_JOB_STATES: [&'static str; 2] = ["queued", "running"];
    /// The agent states that must be present.
    pub const REQUIRED_AGENT_STATES: [&'static str; 2] = ["idle", "occupied"];

    /// Jobs in all states: the demand.
    pub fn total_jobs(&self) -> u64 {
        self.jobs.values().fold(0, |sum, n| sum.saturating_add(*n))
    }

    /// Parses a 200 answer's body; the error names what is wrong.
    pub fn parse(body: &[u8]) -> Result<Metrics, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }
}

impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            jobs: BTreeMap<String, u64>,
            agents: BTreeMap<String, u64>,
        }
        let wire = Wire::deserialize(d)?;
        for (group, map, keys) in [
            ("jobs", &wire.jobs, Metrics::REQUIRED_JOB_STATES),
            ("agents", &wire.agents, Metrics::REQUIRED_AGENT_STATES),
        ] {
            if let Some(key) = keys.iter().find(|k| !map.contains_key(**k)) {
                return Err(D::Error::custom(format!("missing field `{group}.{key}`")));
            }
        }
        Ok(Metrics {
            jobs: wire.jobs,
            agents: wire.agents,
        })
    }
}
