//! [`Cache`]: the replicated key-value map with absolute expiries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use super::command::Command;
use super::snapshot::{CacheSnapshot, SnapshotEntry};
use super::stats::{CacheCounters, CacheStats};

/// A stored value and when it stops being visible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedValue {
    /// The value as JSON text, verbatim as the client sent it; shared so that a
    /// read clones a pointer, not the text.
    pub value: Arc<str>,
    /// Absolute expiry in Unix milliseconds, decided by the leader; `None`
    /// never expires. Visible while `now_ms < expires_at_ms`.
    pub expires_at_ms: Option<u64>,
}

impl CachedValue {
    /// Whether a reader at `now_ms` may see this value: the one expiry rule
    /// every read, purge and apply outcome goes through.
    pub fn is_live(&self, now_ms: u64) -> bool {
        match self.expires_at_ms {
            None => true,
            Some(expires_at_ms) => now_ms < expires_at_ms,
        }
    }

    /// Milliseconds left before expiry at `now_ms`, for the API's
    /// `ttl_remaining`; `None` for a value without expiry, 0 once expired.
    pub fn ttl_remaining_ms(&self, now_ms: u64) -> Option<u64> {
        self.expires_at_ms
            .map(|expires_at_ms| expires_at_ms.saturating_sub(now_ms))
    }
}

/// What applying one command did, as seen at the applier's `now_ms`; only the
/// proposer's (the leader's) outcome is reported to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// A `Set` stored its value.
    Stored {
        /// No live value was under the key before (HTTP 201 rather than 200).
        created: bool,
    },
    /// A `Delete` removed its key.
    Deleted {
        /// A live value was under the key (otherwise HTTP 404).
        existed: bool,
    },
    /// A `Clear` removed every key.
    Cleared {
        /// Live keys removed; expired entries awaiting purge are not counted.
        removed: usize,
    },
}

/// The cache state machine, shared by the Raft task (which applies committed
/// commands) and the HTTP handlers (which read it concurrently).
///
/// `Send + Sync`; share it as `Arc<Cache>`. Exactly one task applies: `apply`,
/// `note_applied` and `restore` must never run concurrently with each other.
#[derive(Debug, Default)]
pub struct Cache {
    /// Every stored entry, live or expired-but-not-yet-purged.
    entries: DashMap<String, CachedValue>,
    /// The last log index applied; only increases, except when `restore`
    /// installs a snapshot. Stored with `Release` after the effects of the
    /// entry are in `entries`.
    applied_index: AtomicU64,
    /// Per-node counters for `/stats`.
    counters: CacheCounters,
}

impl Cache {
    /// An empty cache at applied index 0 (Raft log indexes start at 1).
    pub fn new() -> Cache {
        Cache::default()
    }

    /// Applies the committed command at log `index`, reading the clock as
    /// `now_ms` only to compute the outcome and counters: the resulting state
    /// depends on the command sequence alone.
    ///
    /// Panics if `index` is not above the last applied index: applying out of
    /// order or twice is a bug that would make replicas diverge.
    pub fn apply(&self, index: u64, command: &Command, now_ms: u64) -> ApplyOutcome {
        self.assert_next_index(index);
        let outcome = match command {
            Command::Set {
                key,
                value,
                expires_at_ms,
            } => self.apply_set(key, value, *expires_at_ms, now_ms),
            Command::Delete { key } => self.apply_delete(key, now_ms),
            Command::Clear => self.apply_clear(now_ms),
        };
        self.applied_index.store(index, Ordering::Release);
        outcome
    }

    /// Records that the committed entry at `index` carried no command (a Raft
    /// no-op from a new leader), so `applied_index` still tracks the log.
    ///
    /// Panics if `index` is not above the last applied index.
    pub fn note_applied(&self, index: u64) {
        self.assert_next_index(index);
        self.applied_index.store(index, Ordering::Release);
    }

    /// The last log index whose effects are visible to readers; loaded with
    /// `Acquire`, so a read after seeing `applied_index >= n` sees entry `n`.
    pub fn applied_index(&self) -> u64 {
        self.applied_index.load(Ordering::Acquire)
    }

    /// The value under `key` if it is live at `now_ms`. Counts a hit or a miss;
    /// an expired entry found here is dropped (and counted as an expiration)
    /// unless a newer value replaced it meanwhile.
    pub fn get(&self, key: &str, now_ms: u64) -> Option<CachedValue> {
        // Clone out and release the shard read lock before any removal:
        // holding a DashMap guard while removing from the same shard deadlocks.
        let found = self.entries.get(key).map(|entry| entry.value().clone());
        match found {
            Some(value) if value.is_live(now_ms) => {
                self.counters.record_hit();
                Some(value)
            }
            Some(_) => {
                self.counters.record_miss();
                // Re-check under the write lock: the Raft task may have stored a
                // fresh value since we looked, and that one must stay.
                let dropped = self
                    .entries
                    .remove_if(key, |_, value| !value.is_live(now_ms));
                self.counters
                    .record_expirations(u64::from(dropped.is_some()));
                None
            }
            None => {
                self.counters.record_miss();
                None
            }
        }
    }

    /// Live keys at `now_ms`, sorted, so listings are identical across replicas
    /// and across calls. Does not count hits or misses.
    pub fn keys(&self, now_ms: u64) -> Vec<String> {
        let mut keys: Vec<String> = self
            .entries
            .iter()
            .filter(|entry| entry.value().is_live(now_ms))
            .map(|entry| entry.key().clone())
            .collect();
        keys.sort_unstable();
        keys
    }

    /// The number of live keys at `now_ms`; walks the whole map.
    pub fn len_live(&self, now_ms: u64) -> usize {
        self.entries
            .iter()
            .filter(|entry| entry.value().is_live(now_ms))
            .count()
    }

    /// Drops every entry expired at `now_ms` and returns how many. Only
    /// invisible entries go, so purging never changes what readers see; the
    /// node runs it every second to bound memory held by expired keys.
    pub fn purge_expired(&self, now_ms: u64) -> usize {
        let mut dropped = 0usize;
        self.entries.retain(|_, value| {
            let live = value.is_live(now_ms);
            if !live {
                dropped += 1;
            }
            live
        });
        self.counters.record_expirations(dropped as u64);
        dropped
    }

    /// Statistics for `/stats`, with `keys` counted live at `now_ms`; walks the
    /// whole map.
    pub fn stats(&self, now_ms: u64) -> CacheStats {
        let mut live_keys = 0u64;
        let mut approx_bytes = 0u64;
        for entry in self.entries.iter() {
            if entry.value().is_live(now_ms) {
                live_keys += 1;
            }
            approx_bytes += (entry.key().len() + entry.value().value.len()) as u64;
        }
        self.counters
            .to_stats(live_keys, approx_bytes, self.applied_index())
    }

    /// The whole cache as postcard bytes ([`CacheSnapshot`]): sorted entries,
    /// expired ones included, and `applied_index`. Call it from the applying
    /// task, between applies, so the entries are exactly the state at
    /// `applied_index`.
    pub fn snapshot(&self) -> Vec<u8> {
        let applied_index = self.applied_index();
        let mut entries: Vec<SnapshotEntry> = self
            .entries
            .iter()
            .map(|entry| SnapshotEntry {
                key: entry.key().clone(),
                value: entry.value().value.to_string(),
                expires_at_ms: entry.value().expires_at_ms,
            })
            .collect();
        entries.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        CacheSnapshot {
            applied_index,
            entries,
        }
        .encode()
    }

    /// Replaces the whole cache with a snapshot made by [`Cache::snapshot`],
    /// including `applied_index` (which may move backwards: the snapshot is the
    /// new truth). Undecodable bytes leave the cache untouched. Counters keep
    /// counting: they describe this node, not the state.
    pub fn restore(&self, bytes: &[u8]) -> Result<(), postcard::Error> {
        let snapshot = CacheSnapshot::decode(bytes)?;
        self.entries.clear();
        for entry in snapshot.entries {
            let value = CachedValue {
                value: Arc::from(entry.value),
                expires_at_ms: entry.expires_at_ms,
            };
            let previous = self.entries.insert(entry.key, value);
            assert!(
                previous.is_none(),
                "snapshot at index {} holds a key twice",
                snapshot.applied_index
            );
        }
        self.applied_index
            .store(snapshot.applied_index, Ordering::Release);
        Ok(())
    }

    fn apply_set(
        &self,
        key: &str,
        value: &str,
        expires_at_ms: Option<u64>,
        now_ms: u64,
    ) -> ApplyOutcome {
        self.counters.record_set();
        let cached = CachedValue {
            value: Arc::from(value),
            expires_at_ms,
        };
        let previous = self.entries.insert(key.to_owned(), cached);
        let replaced_live = self.account_removed(previous.as_ref(), now_ms);
        ApplyOutcome::Stored {
            created: !replaced_live,
        }
    }

    fn apply_delete(&self, key: &str, now_ms: u64) -> ApplyOutcome {
        self.counters.record_delete();
        let previous = self.entries.remove(key).map(|(_, value)| value);
        let existed = self.account_removed(previous.as_ref(), now_ms);
        ApplyOutcome::Deleted { existed }
    }

    fn apply_clear(&self, now_ms: u64) -> ApplyOutcome {
        self.counters.record_clear();
        let mut removed_live = 0usize;
        let mut removed_expired = 0u64;
        self.entries.retain(|_, value| {
            if value.is_live(now_ms) {
                removed_live += 1;
            } else {
                removed_expired += 1;
            }
            false
        });
        self.counters.record_expirations(removed_expired);
        ApplyOutcome::Cleared {
            removed: removed_live,
        }
    }

    /// Whether a value an apply removed or replaced was live at `now_ms`;
    /// an expired one is counted as an expiration.
    fn account_removed(&self, previous: Option<&CachedValue>, now_ms: u64) -> bool {
        match previous {
            Some(value) if value.is_live(now_ms) => true,
            Some(_) => {
                self.counters.record_expirations(1);
                false
            }
            None => false,
        }
    }

    fn assert_next_index(&self, index: u64) {
        // Relaxed is enough here: only the applying task writes applied_index.
        let applied_index = self.applied_index.load(Ordering::Relaxed);
        assert!(
            index > applied_index,
            "applied index must increase: got {index} after {applied_index}"
        );
    }
}
