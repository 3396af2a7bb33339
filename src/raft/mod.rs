//! # The Raft core
//!
//! A pure, deterministic implementation of the Raft consensus algorithm
//! (Ongaro & Ousterhout, "In Search of an Understandable Consensus
//! Algorithm", 2014; section numbers below refer to it, "thesis" to Ongaro's
//! 2014 dissertation). It performs no I/O, reads no clock and spawns no task:
//!
//! * inputs: [`RaftNode::tick`] (logical time), [`RaftNode::step`] (a message
//!   from a peer), [`RaftNode::propose`] (a client command) and
//!   [`RaftNode::read_index`] (a linearizable read);
//! * output: a [`Ready`] batch of effects, which the caller (the node driver,
//!   or the simulator) carries out — persist, then send, then apply.
//!
//! The same inputs always give the same outputs; randomness (election
//! timeouts) comes from a seeded RNG handed in. That is what lets the
//! simulator replay any failing run from its seed.
//!
//! What it implements: leader election with randomized timeouts, pre-vote and
//! check-quorum (each switchable, so labs can show why they exist); log
//! replication with conflict hints and pipelined appends; commitment by
//! counting only current-term entries; ReadIndex; leadership transfer.
//!
//! What it leaves out, for now: snapshots and log compaction (the log grows
//! until restart replays it), and membership changes (the voter set is fixed
//! at start, though nothing here assumes three).

pub mod config;
mod election;
pub mod log;
pub mod message;
pub mod node;
pub mod progress;
mod read_index;
pub mod ready;
mod replication;
#[cfg(test)]
mod tests;

pub use config::RaftConfig;
pub use log::RaftLog;
pub use message::*;
pub use node::{Counters, InjectedBugs, NotAccepted, RaftNode, Role, Status};
pub use ready::{ReadState, Ready};
