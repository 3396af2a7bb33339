//! raftcache: a Raft-replicated in-memory key-value cache with TTLs, built as a
//! lab for watching consensus under failure. See `docs/architecture.md`.

pub mod cache;
pub mod check;
pub mod raft;
pub mod sim;
pub mod storage;
