//! The cache state machine: what every replica applies, in log order, once an
//! entry is committed (Raft paper §5.3; "State machine safety", §5.4.3).
//!
//! # How it works
//!
//! The Raft task hands each committed [`Command`] to [`Cache::apply`] together
//! with its log index. A command is fully decided by the leader before it enters
//! the log: a client's TTL has already become an absolute wall-clock expiry
//! (`expires_at_ms`), so applying the same commands in the same order gives every
//! replica the same map. Raft no-op entries advance [`Cache::note_applied`] so
//! that `applied_index` always equals the last committed index applied.
//!
//! Expiry is a *read-time* rule, never an apply-time one: an entry is visible
//! while `now_ms < expires_at_ms`. A `Set` whose expiry has already passed when a
//! slow replica applies it is still stored, just invisible; a replica that
//! applies it early shows it until the same instant. So two replicas that have
//! applied the same prefix of the log show the same keys when read at the same
//! wall-clock moment, however late either of them applied. Removing expired
//! entries ([`Cache::purge_expired`], run by the node every second, and lazily by
//! [`Cache::get`]) only drops entries that are already invisible, so it changes
//! memory use, never what a reader sees.
//!
//! Local reads run on HTTP handler tasks, concurrently with the Raft task's
//! applies, straight on a sharded [`dashmap::DashMap`]: no channel round trip to
//! the Raft task, no global lock. `applied_index` is published with `Release`
//! after each apply so a reader that loads it with `Acquire` (a ReadIndex read
//! waiting for `applied_index >= read_index`) sees every effect up to it.
//!
//! # What it leaves out, and why
//!
//! - **No eviction.** The cache never drops a live key to save memory: an
//!   eviction decided locally would make replicas diverge, and one decided by the
//!   leader would need its own log entries. `evictions` in `/stats` is always 0.
//!   Memory is bounded by TTLs, deletes and the request size limits upstream.
//! - **Clocks are trusted.** Expiry compares the leader's clock (when it decides
//!   `expires_at_ms`) with each reader's clock (see [`unix_now_ms`]). Skew between
//!   nodes shifts when a key disappears on each node by that skew; a clock that
//!   jumps backwards can briefly resurrect a key that was not yet purged.
//! - **Outcomes are the proposer's view.** [`ApplyOutcome`] (did `Delete` find a
//!   live key, how many live keys did `Clear` remove) depends on the applier's
//!   `now_ms`; only the leader's answer reaches the client. The state itself does
//!   not depend on it.
//! - **Counters are per node.** Hits, misses and expirations depend on who reads
//!   this node and when it purges; they are not replicated.
//! - **Restores are not atomic for readers.** A local read that races a
//!   [`Cache::restore`] may see part of the old and part of the new state;
//!   restores are rare (a lagging follower catching up) and local reads are
//!   already allowed to be stale.

mod clock;
pub mod command;
mod snapshot;
mod state_machine;
mod stats;

#[cfg(test)]
mod state_machine_tests;

pub use clock::unix_now_ms;
pub use command::Command;
pub use snapshot::{CacheSnapshot, SnapshotEntry};
pub use state_machine::{ApplyOutcome, Cache, CachedValue};
pub use stats::CacheStats;
