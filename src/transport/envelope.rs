//! What travels between nodes: Raft messages, and client requests that a
//! follower forwards to its leader. Forwarded requests use the same
//! transport as Raft, so every fault a lab injects applies to them too.

use crate::raft::{Index, Message, NodeId, Term};
use serde::{Deserialize, Serialize};

/// One unit of node-to-node traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Envelope {
    /// A Raft protocol message.
    Raft(Message),
    /// A client request sent on to the leader by the node that received it.
    Forward {
        from: NodeId,
        to: NodeId,
        request_id: u64,
        request: ForwardedRequest,
    },
    /// The leader's answer to a forwarded request.
    ForwardReply {
        from: NodeId,
        to: NodeId,
        request_id: u64,
        reply: ForwardedReply,
    },
}

impl Envelope {
    /// The sending node.
    pub fn from(&self) -> NodeId {
        match self {
            Envelope::Raft(message) => message.from,
            Envelope::Forward { from, .. } | Envelope::ForwardReply { from, .. } => *from,
        }
    }

    /// The receiving node.
    pub fn to(&self) -> NodeId {
        match self {
            Envelope::Raft(message) => message.to,
            Envelope::Forward { to, .. } | Envelope::ForwardReply { to, .. } => *to,
        }
    }

    /// A short name of the kind of traffic, for per-kind message counts.
    pub fn kind(&self) -> &'static str {
        use crate::raft::MessageBody::*;
        match self {
            Envelope::Raft(message) => match message.body {
                PreVote { .. } | PreVoteResponse { .. } => "pre_vote",
                RequestVote { .. } | RequestVoteResponse { .. } => "vote",
                AppendEntries { .. } | AppendEntriesResponse { .. } => "append",
                Heartbeat { .. } | HeartbeatResponse { .. } => "heartbeat",
                TimeoutNow => "timeout_now",
            },
            Envelope::Forward { .. } | Envelope::ForwardReply { .. } => "forward",
        }
    }
}

/// A client write as the API received it; the leader turns the relative TTL
/// into an absolute expiry, so every replica expires the key together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteRequest {
    Set {
        key: String,
        value: String,
        ttl_ms: Option<u64>,
    },
    Delete {
        key: String,
    },
    Clear,
}

/// What a forwarding node asks of the leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardedRequest {
    /// Propose this write and answer once it is applied.
    Write(WriteRequest),
    /// Confirm leadership and return the commit index a linearizable read must wait for.
    ReadIndex,
}

/// The leader's answer to a forwarded request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ForwardedReply {
    Write(Result<WriteReceipt, WriteError>),
    ReadIndex(Result<Index, WriteError>),
}

/// Proof that a write was committed and applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteReceipt {
    /// Log position of the write.
    pub index: Index,
    pub term: Term,
    /// Which node led when it committed.
    pub leader: NodeId,
    /// What applying it did.
    pub effect: WriteEffect,
}

/// What applying a write did, as the leader's state machine saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteEffect {
    /// Set stored the key; `created` when it did not exist before.
    Stored {
        created: bool,
        expires_at_ms: Option<u64>,
    },
    /// Delete ran; `existed` when a live key was removed.
    Deleted { existed: bool },
    /// Clear removed this many live keys.
    Cleared { removed: u64 },
}

/// Why a write or a read index could not be served. Each maps to one HTTP
/// status and error code in `api::error`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteError {
    /// No leader is known or reachable in time.
    NoLeader,
    /// The leader cannot reach a majority of the cluster.
    NoQuorum { reachable: usize, cluster: usize },
    /// The write may or may not take effect: it was appended (at `index`,
    /// when known) or forwarded, and no answer came in time.
    OutcomeUnknown { index: Option<Index> },
    /// The write was definitely not applied (its log slot went to another entry).
    Dropped,
    /// The node is shutting down.
    Stopping,
    /// Too many requests are queued at this node.
    Overloaded,
}
