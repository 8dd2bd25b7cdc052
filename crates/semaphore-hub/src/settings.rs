//! How a hub behaves: the timings and limits a real control plane has, all adjustable so
//! that tests and trials run in seconds.

/// The hub's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSettings {
    /// The base URL agents reach this hub at; job loggers point at `<it>/api/v1/logs/<job>`.
    pub public_url: String,
    /// `next_sync_after` in every sync answer, milliseconds.
    pub next_sync_after_ms: i64,
    /// An active agent not heard from for longer than this is lost, seconds.
    pub agent_lost_after_secs: i64,
    /// A job's log beyond this many bytes is refused with 422.
    pub log_limit_bytes: u64,
    /// How long a loghub token works before the agent must refresh it, seconds.
    pub log_token_ttl_secs: i64,
    /// The execution time limit of a job submitted without one, seconds (`None`: no limit).
    pub default_time_limit_secs: Option<u64>,
    /// How often the clock's rules run, milliseconds.
    pub sweep_every_ms: u64,
}

impl HubSettings {
    /// Defaults for a hub at `public_url`: 1 s syncs (as Semaphore's test hub), agents lost
    /// after 60 s of silence, 16 MiB of log per job, log tokens valid for an hour, a one-hour
    /// time limit (Semaphore's default), the clock's rules every 500 ms.
    pub fn new(public_url: impl Into<String>) -> HubSettings {
        HubSettings {
            public_url: public_url.into(),
            next_sync_after_ms: 1000,
            agent_lost_after_secs: 60,
            log_limit_bytes: 16 * 1024 * 1024,
            log_token_ttl_secs: 3600,
            default_time_limit_secs: Some(3600),
            sweep_every_ms: 500,
        }
    }
}
