//! What the driver keeps for clients while they wait, and how it answers
//! them: a local client through a oneshot channel, a forwarding node
//! through the transport.

use crate::raft::{Index, NodeId, Term};
use crate::transport::{
    Envelope, ForwardedReply, Transport, WriteError, WriteReceipt, WriteRequest,
};
use std::collections::{HashSet, VecDeque};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Who is waiting for an answer: a client of this node, or a node that
/// forwarded a request here.
pub(super) enum Responder<T> {
    Local(oneshot::Sender<Result<T, WriteError>>),
    Remote { node: NodeId, request_id: u64 },
}

/// A request waiting for a leader or for the leader's reply, with its deadline.
pub(super) struct Waiting {
    pub(super) request: Request,
    pub(super) responder: Reply,
    pub(super) deadline: Instant,
}

/// A ReadIndex request given to the core, waiting for confirmation.
pub(super) struct PendingRead {
    pub(super) responder: Responder<Index>,
    pub(super) deadline: Instant,
}

/// What a queued or forwarded request was.
pub(super) enum Request {
    Write(WriteRequest),
    ReadIndex,
}

/// A write appended to the log, waiting for its entry to apply.
pub(super) struct AppendedWrite {
    pub(super) term: Term,
    pub(super) responder: Responder<WriteReceipt>,
    pub(super) deadline: Instant,
}

/// The answer type of a queued or forwarded request, which may be a write or a read.
pub(super) enum Reply {
    Write(Responder<WriteReceipt>),
    Read(Responder<Index>),
}

impl Waiting {
    pub(super) fn new(request: Request, responder: Reply, deadline: Instant) -> Self {
        Waiting {
            request,
            responder,
            deadline,
        }
    }
}

impl Reply {
    /// Whether this node's own client waits for it (only those may be
    /// forwarded: a request forwarded here must not take a second hop).
    pub(super) fn is_local(&self) -> bool {
        matches!(
            self,
            Reply::Write(Responder::Local(_)) | Reply::Read(Responder::Local(_))
        )
    }

    pub(super) fn write_wrap(result: Result<WriteReceipt, WriteError>) -> ForwardedReply {
        ForwardedReply::Write(result)
    }

    pub(super) fn read_wrap(result: Result<Index, WriteError>) -> ForwardedReply {
        ForwardedReply::ReadIndex(result)
    }
}

/// Answers a local client directly, or a forwarding node through the transport.
pub(super) fn respond<T>(
    transport: &dyn Transport,
    self_id: NodeId,
    responder: Responder<T>,
    result: Result<T, WriteError>,
    wrap: fn(Result<T, WriteError>) -> ForwardedReply,
) {
    match responder {
        Responder::Local(sender) => {
            let _ = sender.send(result);
        }
        Responder::Remote { node, request_id } => {
            transport.send(Envelope::ForwardReply {
                from: self_id,
                to: node,
                request_id,
                reply: wrap(result),
            });
        }
    }
}

/// The forwarded requests this node has taken, remembered for a while: a
/// network may deliver an envelope twice (the in-process one duplicates on
/// purpose), and proposing a forwarded write twice would apply it twice,
/// overwriting whatever was acknowledged in between.
pub(super) struct SeenForwards {
    keep: std::time::Duration,
    seen: HashSet<(NodeId, u64)>,
    /// Oldest first, with the time each may be forgotten.
    order: VecDeque<(Instant, (NodeId, u64))>,
}

impl SeenForwards {
    /// Remembers each request for `keep`: longer than any copy of it can
    /// take to arrive.
    pub(super) fn new(keep: std::time::Duration) -> SeenForwards {
        SeenForwards {
            keep,
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// True the first time `(from, request_id)` is seen.
    pub(super) fn first_time(&mut self, from: NodeId, request_id: u64, now: Instant) -> bool {
        while let Some(&(forget_at, key)) = self.order.front() {
            if forget_at > now {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&key);
        }
        let fresh = self.seen.insert((from, request_id));
        if fresh {
            self.order.push_back((now + self.keep, (from, request_id)));
        }
        fresh
    }
}
