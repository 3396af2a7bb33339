//! Per-node cache statistics, served as `/stats` JSON.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A point-in-time view of the cache's statistics, as `/stats` serves it.
///
/// Command counters (`sets`, `deletes`, `clears`) and `applied_index` are the
/// same on every replica that applied the same log prefix; read counters
/// (`hits`, `misses`) and `expirations` are this node's own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Live (unexpired) keys at the moment of the call.
    pub keys: u64,
    /// `get` calls that found a live key.
    pub hits: u64,
    /// `get` calls that found no key, or only an expired one.
    pub misses: u64,
    /// `Set` commands applied.
    pub sets: u64,
    /// `Delete` commands applied, whether or not they found a live key.
    pub deletes: u64,
    /// `Clear` commands applied.
    pub clears: u64,
    /// Expired entries dropped from memory, by the purge loop, a lazy `get`, or
    /// an apply that overwrote, deleted or cleared them; each entry counts once.
    pub expirations: u64,
    /// Always 0: the cache never evicts a live key (replicas would diverge).
    pub evictions: u64,
    /// Bytes of keys plus values held in memory, including expired entries not
    /// yet purged; excludes map and allocator overhead.
    pub approx_bytes: u64,
    /// The last log index applied (a command or a no-op).
    pub applied_index: u64,
}

/// The monotonically increasing counters behind [`CacheStats`].
///
/// Every counter is updated and read with `Relaxed` ordering: each is an
/// independent tally that nothing synchronizes on, only its own value matters
/// and an increment is never lost, so a `/stats` reader seeing one counter a
/// moment ahead of another is harmless.
#[derive(Debug, Default)]
pub(super) struct CacheCounters {
    /// Hits served by `get`.
    hits: AtomicU64,
    /// Misses served by `get`, expired keys included.
    misses: AtomicU64,
    /// `Set` commands applied.
    sets: AtomicU64,
    /// `Delete` commands applied.
    deletes: AtomicU64,
    /// `Clear` commands applied.
    clears: AtomicU64,
    /// Expired entries dropped, each counted once by whoever dropped it.
    expirations: AtomicU64,
}

impl CacheCounters {
    pub(super) fn record_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_set(&self) {
        self.sets.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_delete(&self) {
        self.deletes.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_clear(&self) {
        self.clears.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_expirations(&self, count: u64) {
        if count > 0 {
            self.expirations.fetch_add(count, Ordering::Relaxed);
        }
    }

    /// Combines the counters with the figures only the map can compute.
    pub(super) fn to_stats(&self, keys: u64, approx_bytes: u64, applied_index: u64) -> CacheStats {
        CacheStats {
            keys,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            sets: self.sets.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            clears: self.clears.load(Ordering::Relaxed),
            expirations: self.expirations.load(Ordering::Relaxed),
            evictions: 0,
            approx_bytes,
            applied_index,
        }
    }
}
