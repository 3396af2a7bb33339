//! The listening side: accept connections from peers, check each one's
//! hello (protocol version, node id, cluster token), then hand every
//! envelope it sends to this node's inbox. A connection that sends anything
//! else — garbage, an oversized frame, an envelope from another node — is
//! closed with a warning; the node and its other connections carry on.

use super::wire::{self, Hello, HelloReply};
use super::{HANDSHAKE_TIMEOUT, MAX_INBOUND_CONNECTIONS};
use crate::raft::{node_name, NodeId};
use crate::transport::Envelope;
use bytes::BytesMut;
use futures_util::StreamExt;
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

/// Who may connect, and where their envelopes go.
pub(super) struct Admission {
    /// This node.
    pub me: NodeId,
    /// The other voters: the only nodes allowed to connect.
    pub peers: BTreeSet<NodeId>,
    /// The cluster token every peer must present (empty: none required).
    pub token: String,
    /// This node's inbox; envelopes beyond its capacity are dropped.
    pub inbox: mpsc::Sender<Envelope>,
    /// When each refusal reason was last logged as a warning, so a
    /// misconfigured peer redialing every backoff does not flood the log.
    pub refusals_logged: Mutex<BTreeMap<String, Instant>>,
}

/// The same refusal is warned about at most once per this interval (and
/// logged at debug level in between).
pub const REFUSAL_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Accepts peer connections until `stop` is cancelled.
pub(super) async fn run(listener: TcpListener, admission: Admission, stop: CancellationToken) {
    let admission = Arc::new(admission);
    let permits = Arc::new(Semaphore::new(MAX_INBOUND_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => return,
            permit = permits.clone().acquire_owned() => permit.expect("semaphore is never closed"),
        };
        let (stream, remote) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!("raft accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let admission = admission.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = serve(stream, remote, &admission) => {}
            }
            drop(permit);
        });
    }
}

/// Serves one connection to its end.
async fn serve(stream: TcpStream, remote: SocketAddr, admission: &Admission) {
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    let mut frames = FramedRead::new(reader, wire::codec());
    let peer = match admit(&mut frames, remote, admission).await {
        Ok(peer) => peer,
        Err(Rejection::Quiet) => return,
        Err(Rejection::Refused(reason)) => {
            if admission.should_warn(&reason) {
                tracing::warn!(%remote, "raft connection refused: {reason}");
            } else {
                tracing::debug!(%remote, "raft connection refused: {reason}");
            }
            let mut buffer = BytesMut::new();
            if wire::encode_frame(&HelloReply::Refused(reason), &mut buffer).is_ok() {
                let _ = writer.write_all(&buffer).await;
            }
            return;
        }
    };
    let mut buffer = BytesMut::new();
    wire::encode_frame(&HelloReply::Welcome, &mut buffer).expect("a welcome always encodes");
    if writer.write_all(&buffer).await.is_err() {
        return;
    }
    tracing::debug!(%remote, peer = %node_name(peer), "raft peer connected");
    if let Err(reason) = receive(&mut frames, peer, admission).await {
        tracing::warn!(%remote, peer = %node_name(peer), "raft connection closed: {reason}");
    }
}

impl Admission {
    fn should_warn(&self, reason: &str) -> bool {
        let now = Instant::now();
        let mut logged = self.refusals_logged.lock();
        let due = logged
            .get(reason)
            .is_none_or(|last| now.duration_since(*last) >= REFUSAL_WARNING_INTERVAL);
        if due {
            logged.insert(reason.to_string(), now);
        }
        due
    }
}

/// Why a connection is not admitted.
enum Rejection {
    /// Gone before saying anything, or said garbage: logged here, no reply.
    Quiet,
    /// A well-formed hello we refuse: answered with the reason.
    Refused(String),
}

/// Reads and checks the hello; returns the admitted peer.
async fn admit(
    frames: &mut FramedRead<OwnedReadHalf, LengthDelimitedCodec>,
    remote: SocketAddr,
    admission: &Admission,
) -> Result<NodeId, Rejection> {
    let frame = match tokio::time::timeout(HANDSHAKE_TIMEOUT, frames.next()).await {
        Ok(Some(Ok(frame))) => frame,
        Ok(Some(Err(error))) => {
            tracing::warn!(%remote, "raft connection closed: bad frame before the handshake: {error}");
            return Err(Rejection::Quiet);
        }
        Ok(None) => return Err(Rejection::Quiet),
        Err(_) => {
            tracing::warn!(%remote, "raft connection closed: no handshake within {HANDSHAKE_TIMEOUT:?}");
            return Err(Rejection::Quiet);
        }
    };
    let hello: Hello = wire::decode(&frame).map_err(|error| {
        tracing::warn!(%remote, "raft connection closed: not a handshake: {error}");
        Rejection::Quiet
    })?;
    if hello.version != wire::PROTOCOL_VERSION {
        return Err(Rejection::Refused(format!(
            "protocol version {} is not {}",
            hello.version,
            wire::PROTOCOL_VERSION
        )));
    }
    if hello.to != admission.me {
        return Err(Rejection::Refused(format!(
            "this is {}, not {}",
            node_name(admission.me),
            node_name(hello.to)
        )));
    }
    if !admission.peers.contains(&hello.node) {
        return Err(Rejection::Refused(format!(
            "{} is not a member of this cluster",
            node_name(hello.node)
        )));
    }
    if !wire::tokens_match(&admission.token, &hello.token) {
        return Err(Rejection::Refused(format!(
            "wrong cluster token from {}",
            node_name(hello.node)
        )));
    }
    Ok(hello.node)
}

/// Delivers envelopes until the peer closes the connection (`Ok`) or
/// breaks the protocol (`Err` with the reason).
async fn receive(
    frames: &mut FramedRead<OwnedReadHalf, LengthDelimitedCodec>,
    peer: NodeId,
    admission: &Admission,
) -> Result<(), String> {
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(|error| format!("bad frame: {error}"))?;
        let envelope: Envelope = wire::decode(&frame)?;
        if envelope.from() != peer || envelope.to() != admission.me {
            return Err(format!(
                "envelope from {} to {} on the connection of {}",
                node_name(envelope.from()),
                node_name(envelope.to()),
                node_name(peer)
            ));
        }
        match admission.inbox.try_send(envelope) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {} // Raft tolerates loss.
            Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
        }
    }
    Ok(())
}
