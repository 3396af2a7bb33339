//! The one place the cache reads the wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, from the system clock.
///
/// Only two callers need it: the leader, to turn a client's TTL into the
/// absolute `expires_at_ms` it writes into the log (the only moment wall-clock
/// time enters replicated state), and readers and the purge loop, to hide and
/// drop entries whose expiry has passed. [`crate::cache::Cache`] itself never
/// calls it, so tests and simulations pass `now_ms` explicitly.
///
/// Panics if the system clock is set before 1970: every expiry would then be
/// meaningless, and a loud failure beats silently serving expired keys.
pub fn unix_now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is set before the Unix epoch");
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}
