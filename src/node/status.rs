//! The state a node publishes after every step of its driver, for `/status`,
//! `/metrics`, the control plane and the dashboard.

use crate::raft::{Counters, Index, NodeId, Role, Term};
use serde::Serialize;
use std::collections::BTreeMap;

/// A node's Raft state as of its driver's last step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeStatus {
    pub id: NodeId,
    pub role: Role,
    pub term: Term,
    pub leader: Option<NodeId>,
    pub voted_for: Option<NodeId>,
    pub commit_index: Index,
    pub last_applied: Index,
    pub last_log_index: Index,
    pub last_log_term: Term,
    /// The terms of the last few log entries, oldest first, for the dashboard.
    pub log_tail_terms: Vec<(Index, Term)>,
    /// Leader only: each follower's `(match_index, next_index)`.
    pub progress: BTreeMap<NodeId, (Index, Index)>,
    pub counters: Counters,
    /// Bytes in the write-ahead log.
    pub wal_bytes: u64,
    /// Client writes waiting for commit, and for a leader.
    pub pending_writes: usize,
}

impl NodeStatus {
    /// The status of a node that has not taken a step yet.
    pub fn initial(id: NodeId) -> NodeStatus {
        NodeStatus {
            id,
            role: Role::Follower,
            term: 0,
            leader: None,
            voted_for: None,
            commit_index: 0,
            last_applied: 0,
            last_log_index: 0,
            last_log_term: 0,
            log_tail_terms: Vec::new(),
            progress: BTreeMap::new(),
            counters: Counters::default(),
            wal_bytes: 0,
            pending_writes: 0,
        }
    }
}
