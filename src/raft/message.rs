//! The vocabulary of the Raft core: log entries, persistent state, and the
//! messages peers exchange (Raft paper §5, Figure 2; Raft thesis §4.2.3, §6.4, §9.6).
//!
//! Everything here is plain data with serde derives, so the same types travel
//! over the in-process transport, over TCP, and into the write-ahead log.

use serde::{Deserialize, Serialize};

/// A node's identity. Displayed as `node{id}` everywhere a user sees it.
pub type NodeId = u64;
/// A Raft term: increases monotonically on every node.
pub type Term = u64;
/// A log position: the first entry has index 1; index 0 means "before the log".
pub type Index = u64;

/// The name users see for a node id (`3` is `node3`).
pub fn node_name(id: NodeId) -> String {
    format!("node{id}")
}

/// Parses a user-facing node name (`node3`, or just `3`) back into its id.
pub fn parse_node_name(name: &str) -> Option<NodeId> {
    let digits = name.strip_prefix("node").unwrap_or(name);
    digits.parse().ok().filter(|id| *id > 0)
}

/// One entry of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log; entries are contiguous from the log's first index.
    pub index: Index,
    /// The leader's term when it appended this entry.
    pub term: Term,
    /// What the entry carries: opaque to the core.
    pub payload: Payload,
}

/// What an entry carries. The core never looks inside a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// Appended by every new leader so that it can commit an entry of its own
    /// term at once (paper §8), which unlocks commits and ReadIndex.
    Noop,
    /// An encoded state-machine command.
    Command(Vec<u8>),
}

impl Entry {
    /// Approximate encoded size, used to bound AppendEntries by bytes.
    pub fn size_bytes(&self) -> usize {
        24 + match &self.payload {
            Payload::Noop => 0,
            Payload::Command(bytes) => bytes.len(),
        }
    }
}

/// State that must reach stable storage before any message that depends on
/// it leaves the node (paper Figure 2, "Persistent state on all servers").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: Term,
    /// The candidate this node voted for in `term`, if any.
    pub voted_for: Option<NodeId>,
}

/// A message between two peers. `term` is the sender's term, except for
/// pre-votes, which carry the term the sender would campaign in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub term: Term,
    pub body: MessageBody,
}

/// Where a follower's log diverges from the leader's, so that the leader can
/// skip a whole term of entries per round trip instead of one entry (paper §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictHint {
    /// The term of the follower's entry at the rejected `prev_log_index`, or
    /// `None` when the follower's log is shorter than that.
    pub term: Option<Term>,
    /// The first index the follower holds for `term`, or its last index + 1.
    pub index: Index,
}

/// The kinds of message in the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageBody {
    /// "Would you vote for me?" without disturbing anyone's term (thesis §9.6).
    PreVote {
        last_log_index: Index,
        last_log_term: Term,
    },
    /// Answer to a pre-vote; `term` of the enclosing message echoes the request's when granted.
    PreVoteResponse { granted: bool },
    /// A candidate asks for a vote (paper Figure 2, RequestVote RPC).
    /// `transfer` is set when a leader handed over on purpose, which overrides
    /// the followers' leader lease.
    RequestVote {
        last_log_index: Index,
        last_log_term: Term,
        transfer: bool,
    },
    /// Answer to RequestVote.
    RequestVoteResponse { granted: bool },
    /// Replicate entries after `prev_log_index` (paper Figure 2, AppendEntries RPC).
    AppendEntries {
        prev_log_index: Index,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
    },
    /// Answer to AppendEntries. On success, `match_index` is the last index
    /// known to equal the leader's log; on rejection `conflict` says where to retry.
    AppendEntriesResponse {
        success: bool,
        match_index: Index,
        conflict: Option<ConflictHint>,
    },
    /// Leader liveness and ReadIndex confirmation. `commit_index` is capped by
    /// what the recipient is known to hold, so the follower can adopt it safely.
    Heartbeat { commit_index: Index, read_seq: u64 },
    /// Answer to a heartbeat, echoing `read_seq` to confirm leadership for reads.
    HeartbeatResponse {
        read_seq: u64,
        last_log_index: Index,
    },
    /// Start an election now, skipping pre-vote: the leader is handing over (thesis §3.10).
    TimeoutNow,
}
