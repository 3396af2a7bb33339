//! Durable storage for the Raft log and hard state.
