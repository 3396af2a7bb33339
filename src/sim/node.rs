//! One simulated server: the Raft core, the cache it applies to, and the disk
//! that outlives it.

use super::storage::SimDisk;
use crate::cache::Cache;
use crate::raft::{Entry, Index, NodeId, RaftNode, Role, Term};

/// Where in the handling of a `Ready` an armed crash strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// In the middle of the write, before the sync: a torn write.
    DuringWrite,
    /// After the sync, before any message leaves.
    AfterSync,
    /// After sending, before applying committed entries and answering reads.
    AfterSend,
}

impl CrashPoint {
    /// How the trace names it.
    pub fn as_str(self) -> &'static str {
        match self {
            CrashPoint::DuringWrite => "during a write, before its sync",
            CrashPoint::AfterSync => "after a sync, before sending",
            CrashPoint::AfterSend => "after sending, before applying",
        }
    }
}

/// A server of the simulated cluster.
pub struct SimNode {
    /// The node's id; never changes.
    pub id: NodeId,
    /// The running core; `None` while the node is down.
    pub raft: Option<RaftNode>,
    /// The state machine; emptied by a crash (there are no snapshots yet).
    pub cache: Cache,
    /// Survives crashes: only what it holds durably comes back.
    pub disk: SimDisk,
    /// Entries applied since the last start, in index order from 1.
    pub applied: Vec<Entry>,
    /// While set, the node takes no ticks and no messages until this tick.
    pub paused_until: Option<u64>,
    /// Starts so far; varies the core's RNG seed across restarts.
    pub incarnation: u64,
    /// A crash waiting for the next `Ready` to reach this point.
    pub crash_armed: Option<CrashPoint>,
    /// Role and term last seen, to trace changes.
    pub last_seen: (Role, Term),
    /// Commit index last seen, to trace changes.
    pub last_commit: Index,
}

impl SimNode {
    /// A node that has never run, with a blank disk.
    pub fn new(id: NodeId) -> SimNode {
        SimNode {
            id,
            raft: None,
            cache: Cache::new(),
            disk: SimDisk::new(format!("node{id}/raft.log")),
            applied: Vec::new(),
            paused_until: None,
            incarnation: 0,
            crash_armed: None,
            last_seen: (Role::Follower, 0),
            last_commit: 0,
        }
    }

    /// Whether the node is running (possibly paused).
    pub fn is_up(&self) -> bool {
        self.raft.is_some()
    }

    /// Whether the node is running and not paused: it takes ticks, messages
    /// and client requests.
    pub fn is_active(&self) -> bool {
        self.raft.is_some() && self.paused_until.is_none()
    }

    /// The running core. Panics when down: callers check `is_up` first.
    pub fn raft(&mut self) -> &mut RaftNode {
        self.raft.as_mut().expect("node is up")
    }

    /// The index of the last entry applied since the last start.
    pub fn applied_index(&self) -> Index {
        self.applied.len() as Index
    }
}
