//! raftcache: a Raft-replicated in-memory key-value cache with TTLs, built as a
//! lab for watching consensus under failure. See `docs/architecture.md`.

pub mod api;
pub mod bench;
pub mod cache;
pub mod check;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod events;
pub mod lab;
pub mod node;
pub mod raft;
pub mod sim;
pub mod storage;
pub mod transport;
