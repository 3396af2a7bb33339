//! # Deterministic simulation
//!
//! Whole clusters of the real Raft core ([`crate::raft`]), cache state
//! machine ([`crate::cache`]) and storage logic run here on a virtual clock,
//! in one thread, with no tokio and no sleeping, driven by one seed. This is
//! the FoundationDB / TigerBeetle VOPR idea: the bugs of a consensus protocol
//! live in rare interleavings of crashes, partitions and lost messages, and a
//! simulator that can try thousands of interleavings a minute — and replay
//! any one of them exactly — finds them where a quiet test machine never would.
//!
//! ## How a run goes
//!
//! [`run_seed`] draws a [`FaultPlan`] from the seed (3 or 5 nodes, Raft
//! settings, network faults, rates of crashes, partitions and pauses), builds
//! a [`Cluster`] and runs it tick by tick: the [`Nemesis`] injects and repairs
//! faults, clients ([`Workload`]) write, delete, clear and read through any
//! node, and after every event (a tick, a delivered message, a request) the
//! driver carries out the node's `Ready` in the order the real driver will —
//! persist with one sync, send, apply, answer reads — and checks the safety
//! properties of paper Figure 3 ([`invariants`]): election safety, log
//! matching, leader completeness, state machine safety, and that committed
//! entries are durable on a majority across every crash. At the end every
//! fault is repaired, the cluster must settle (one leader, all applied), and
//! the client history must be linearizable. Local reads are not checked: they
//! may be stale by design.
//!
//! ## Faults
//!
//! Message loss, delay (and so reordering), duplication; partitions that come
//! and go; crashes between events or in the middle of handling a `Ready`
//! (during the write, before its sync, keeping a random prefix of the
//! unsynced bytes; after the sync, before sending; after sending, before
//! applying), every one of which loses whatever the write-ahead log had not
//! synced; restarts that rebuild the node from its disk (checked against a
//! shadow of the synced data), with an empty cache re-applying the log from
//! index 1 (there are no snapshots yet); pauses, during which a node neither
//! ticks nor receives.
//!
//! ## Determinism
//!
//! Every random choice comes from a `ChaCha8Rng` seeded from the seed (the
//! nodes' election timers from the seed and their restart count), maps that
//! are iterated are `BTreeMap`s, and nothing reads a clock. A failing seed is
//! replayed exactly with `raftcache sim --replay SEED`.
//!
//! ## Left out
//!
//! Snapshots (none exist yet), membership changes, leadership transfer by the
//! nemesis, and clock skew (expiry is not exercised).

pub mod cli;
pub mod cluster;
pub mod invariants;
pub mod known_bugs;
pub mod nemesis;
pub mod network;
pub mod node;
pub mod plan;
mod run;
pub mod storage;
pub mod trace;
pub mod workload;

#[cfg(test)]
mod tests;

use crate::check::linearizability;
pub use cli::run_cli;
pub use cluster::{Cluster, ClusterOptions};
pub use known_bugs::KnownBug;
pub use nemesis::Nemesis;
pub use network::{NetworkCounters, NetworkFaults};
pub use node::CrashPoint;
pub use plan::FaultPlan;
pub use run::{run_seed, SimFailure, SimOptions, SimReport};
pub use workload::{Workload, WorkloadOptions};
