//! The TCP transport: Raft messages and forwarded client requests between
//! nodes that run as separate processes, possibly on separate hosts.
//!
//! Each node dials every peer once and keeps that connection for all its
//! outbound traffic to the peer; what the peer sends back arrives on the
//! connection the peer dialed. So a pair of nodes shares two connections,
//! each carrying one direction, and neither side ever has to decide who
//! dials whom.
//!
//! A connection starts with a handshake (`wire`): the dialer names itself,
//! the node it means to reach and the cluster token; the listener refuses a
//! wrong token, an unknown node or another protocol version, with a warning
//! on both sides. After it, frames are length-prefixed (tokio-util's
//! `LengthDelimitedCodec`, at most [`wire::MAX_FRAME_BYTES`]) postcard
//! encodings of [`Envelope`]. Anything else closes that connection only.
//!
//! Sending never blocks: [`TcpTransport::send`] puts the envelope on the
//! peer's bounded queue, and drops it when the queue is full (a slow or
//! frozen peer cannot exhaust memory; Raft retransmits). While the link is
//! down, `send` answers false at once, which is how a follower learns that
//! its leader is unreachable and holds forwarded client writes for the next
//! leader instead of sending them into the void. Envelopes still queued
//! when a link breaks were certainly not delivered: they are dropped, and a
//! forwarded client request among them is answered at once as "no leader",
//! so it waits for the next leader rather than for its timeout (an
//! envelope already written to the socket may or may not have arrived, and
//! keeps its "outcome unknown"). A link that breaks is redialed with
//! exponential backoff from [`RECONNECT_BACKOFF_MIN`] to
//! [`RECONNECT_BACKOFF_MAX`].
//!
//! Left out: encryption and real authentication (the token travels in
//! clear; use a private network or a tunnel across untrusted ones), and
//! membership changes (the peer set is fixed at start).

mod inbound;
mod outbound;
pub mod wire;

use super::{Envelope, Transport};
use crate::raft::NodeId;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Envelopes waiting to be written to one peer at most; beyond this, new
/// ones are dropped.
pub const MAX_QUEUED_ENVELOPES_PER_PEER: usize = 4096;
/// Envelopes received and not yet taken by the node at most; beyond this,
/// new ones are dropped.
pub const MAX_QUEUED_INBOUND_ENVELOPES: usize = 8192;
/// Peer connections served at once; more wait in the accept queue.
pub const MAX_INBOUND_CONNECTIONS: usize = 64;
/// A dial that has not connected after this long is abandoned.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A connection that has not completed its handshake after this long is closed.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// First wait before redialing a peer; doubles on every failure.
pub const RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(20);
/// Longest wait before redialing: a restarted peer is reached within this.
pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// How one node joins the TCP mesh.
pub struct TcpOptions {
    /// This node.
    pub me: NodeId,
    /// Every other voter and its Raft address (`host:port`).
    pub peers: BTreeMap<NodeId, String>,
    /// The shared cluster token; empty means none. Every node of a cluster
    /// must use the same one.
    pub token: String,
}

/// The outbound side of one peer link, as `send` sees it.
struct PeerLink {
    /// Envelopes for the link's writer task.
    queue: mpsc::Sender<Envelope>,
    /// True between an accepted handshake and the connection's end.
    connected: Arc<AtomicBool>,
}

/// A node's TCP transport. Dropping it (or [`TcpTransport::shutdown`])
/// closes its listener and every connection.
pub struct TcpTransport {
    me: NodeId,
    links: BTreeMap<NodeId, PeerLink>,
    /// Envelopes dropped because their peer's queue was full.
    dropped: AtomicU64,
    stop: CancellationToken,
}

impl TcpTransport {
    /// Starts accepting peers on `listener` and dialing every peer. Returns
    /// the transport and the node's inbox (for `spawn_node`).
    pub fn start(
        options: TcpOptions,
        listener: TcpListener,
    ) -> (Arc<TcpTransport>, mpsc::Receiver<Envelope>) {
        let stop = CancellationToken::new();
        let (inbox, inbox_receiver) = mpsc::channel(MAX_QUEUED_INBOUND_ENVELOPES);
        let admission = inbound::Admission {
            me: options.me,
            peers: options.peers.keys().copied().collect(),
            token: options.token.clone(),
            inbox: inbox.clone(),
            refusals_logged: Default::default(),
        };
        tokio::spawn(inbound::run(listener, admission, stop.clone()));
        let mut links = BTreeMap::new();
        for (peer, address) in options.peers {
            let (queue, queue_receiver) = mpsc::channel(MAX_QUEUED_ENVELOPES_PER_PEER);
            let connected = Arc::new(AtomicBool::new(false));
            let dial = outbound::Dial {
                me: options.me,
                peer,
                address,
                token: options.token.clone(),
            };
            tokio::spawn(outbound::run(
                dial,
                queue_receiver,
                inbox.clone(),
                connected.clone(),
                stop.clone(),
            ));
            links.insert(peer, PeerLink { queue, connected });
        }
        let transport = TcpTransport {
            me: options.me,
            links,
            dropped: AtomicU64::new(0),
            stop,
        };
        (Arc::new(transport), inbox_receiver)
    }

    /// Whether the outbound link to `peer` is up (handshake accepted).
    pub fn is_connected(&self, peer: NodeId) -> bool {
        self.links
            .get(&peer)
            .is_some_and(|link| link.connected.load(Ordering::Acquire))
    }

    /// Envelopes dropped so far because a peer's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Closes the listener and every connection; `send` answers false from now on.
    pub fn shutdown(&self) {
        self.stop.cancel();
    }
}

impl Transport for TcpTransport {
    fn send(&self, envelope: Envelope) -> bool {
        debug_assert_eq!(
            envelope.from(),
            self.me,
            "a node sends only its own envelopes"
        );
        let Some(link) = self.links.get(&envelope.to()) else {
            return false;
        };
        if self.stop.is_cancelled() || !link.connected.load(Ordering::Acquire) {
            return false;
        }
        match link.queue.try_send(envelope) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                true // Lost on the way, as far as Raft can tell.
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
