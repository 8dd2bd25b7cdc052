//! The fixed retry policies of the hub calls (spec section 2, "hard-coded internal limits"),
//! and the interval between syncs when the hub does not choose one.

use std::time::Duration;

/// Up to `attempts` tries, `delay` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Wait between two tries.
    pub delay: Duration,
}

/// `POST /register`: any non-2xx answer or transport error, 401 included, is retried; when
/// all fail the agent exits 1.
pub const REGISTER: Retry = Retry {
    attempts: 30,
    delay: Duration::from_secs(1),
};

/// `GET /jobs/{id}`: when all fail, the job is reported `finished-job`/`failed` with no log
/// events.
pub const GET_JOB: Retry = Retry {
    attempts: 10,
    delay: Duration::from_secs(3),
};

/// `POST /disconnect`: when all fail, the shutdown goes on.
pub const DISCONNECT: Retry = Retry {
    attempts: 100,
    delay: Duration::from_secs(1),
};

/// The range the wait before the next sync is drawn from (uniformly) when the hub sent no
/// positive `next_sync_after`, and after a failed sync.
pub const RANDOM_SYNC_INTERVAL: (Duration, Duration) =
    (Duration::from_millis(3000), Duration::from_millis(6000));
