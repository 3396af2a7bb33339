//! The dialing side of one peer link: connect, introduce ourselves, then
//! write every queued envelope until the connection breaks; reconnect with
//! exponential backoff. The link is "connected" only between an accepted
//! handshake and the first sign the connection is gone.

use super::wire::{self, Hello, HelloReply};
use super::{CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT, RECONNECT_BACKOFF_MAX, RECONNECT_BACKOFF_MIN};
use crate::raft::{node_name, NodeId};
use crate::transport::{Envelope, ForwardedReply, ForwardedRequest, WriteError};
use bytes::BytesMut;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

/// Bytes of envelopes gathered into one socket write at most.
pub const MAX_WRITE_BATCH_BYTES: usize = 1 << 20;

/// Where one outbound link goes and how it introduces itself.
pub(super) struct Dial {
    /// This node.
    pub me: NodeId,
    /// The peer at the other end.
    pub peer: NodeId,
    /// The peer's Raft address (`host:port`; names are resolved on each dial).
    pub address: String,
    /// The cluster token presented in the handshake.
    pub token: String,
}

/// Why a dial did not produce a usable connection.
enum DialError {
    /// Nothing listening, a timeout, or the connection broke: normal while
    /// the peer is down, so logged quietly.
    Unreachable(String),
    /// The peer answered and refused us (wrong token, wrong node): a
    /// configuration error worth a warning.
    Refused(String),
}

/// Runs the link until `stop` is cancelled or the transport is dropped.
/// `inbox` is this node's own inbox, for the answers [`discard_queued`] gives.
pub(super) async fn run(
    dial: Dial,
    mut queue: mpsc::Receiver<Envelope>,
    inbox: mpsc::Sender<Envelope>,
    connected: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    let peer = node_name(dial.peer);
    let mut backoff = RECONNECT_BACKOFF_MIN;
    let mut last_refusal = None;
    loop {
        let attempt = tokio::select! {
            _ = stop.cancelled() => return,
            attempt = tokio::time::timeout(CONNECT_TIMEOUT + HANDSHAKE_TIMEOUT, handshake(&dial)) => attempt,
        };
        match attempt {
            Ok(Ok(stream)) => {
                tracing::info!(peer = %peer, address = %dial.address, "raft link up");
                backoff = RECONNECT_BACKOFF_MIN;
                last_refusal = None;
                discard_queued(&mut queue, &inbox);
                connected.store(true, Ordering::Release);
                let reason = pump(stream, &mut queue, &stop).await;
                connected.store(false, Ordering::Release);
                discard_queued(&mut queue, &inbox);
                match reason {
                    Some(reason) => tracing::info!(peer = %peer, "raft link down: {reason}"),
                    None => return,
                }
            }
            Ok(Err(DialError::Refused(reason))) => {
                if last_refusal.as_ref() != Some(&reason) {
                    tracing::warn!(peer = %peer, address = %dial.address, "peer refused our raft connection: {reason}");
                    last_refusal = Some(reason);
                }
            }
            Ok(Err(DialError::Unreachable(reason))) => {
                tracing::debug!(peer = %peer, address = %dial.address, "cannot reach peer: {reason}");
            }
            Err(_) => {
                tracing::debug!(peer = %peer, address = %dial.address, "dial timed out");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
    }
}

/// Connects and exchanges hello frames.
async fn handshake(dial: &Dial) -> Result<TcpStream, DialError> {
    let unreachable = |error: std::io::Error| DialError::Unreachable(error.to_string());
    let mut stream = TcpStream::connect(&dial.address)
        .await
        .map_err(unreachable)?;
    let _ = stream.set_nodelay(true);
    let hello = Hello {
        version: wire::PROTOCOL_VERSION,
        node: dial.me,
        to: dial.peer,
        token: dial.token.clone(),
    };
    let mut buffer = BytesMut::new();
    wire::encode_frame(&hello, &mut buffer).map_err(DialError::Unreachable)?;
    stream.write_all(&buffer).await.map_err(unreachable)?;
    // The listener writes nothing after its reply, so this reader cannot
    // swallow bytes that belong to anything else.
    let reply = FramedRead::new(&mut stream, wire::codec())
        .next()
        .await
        .ok_or_else(|| DialError::Unreachable("closed during the handshake".into()))?
        .map_err(unreachable)?;
    match wire::decode::<HelloReply>(&reply).map_err(DialError::Unreachable)? {
        HelloReply::Welcome => Ok(stream),
        HelloReply::Refused(reason) => Err(DialError::Refused(reason)),
    }
}

/// Writes queued envelopes, batched, until the connection fails (returns
/// why) or the link is stopped (returns `None`). Also watches the read side:
/// the peer never writes after the handshake, so any readable event is its
/// close, noticed at once rather than at the next failed write.
async fn pump(
    stream: TcpStream,
    queue: &mut mpsc::Receiver<Envelope>,
    stop: &CancellationToken,
) -> Option<String> {
    let (mut reader, mut writer) = stream.into_split();
    let mut buffer = BytesMut::new();
    let mut probe = [0u8; 1];
    loop {
        // Biased: a close that has already arrived is noticed before more
        // envelopes are written into a socket whose peer is gone (the first
        // write after a FIN succeeds locally, and its bytes are lost).
        let first = tokio::select! {
            biased;
            _ = stop.cancelled() => return None,
            read = reader.read(&mut probe) => return Some(match read {
                Ok(0) => "peer closed the connection".into(),
                Ok(_) => "peer wrote after the handshake".into(),
                Err(error) => error.to_string(),
            }),
            envelope = queue.recv() => envelope?,
        };
        buffer.clear();
        append(&first, &mut buffer);
        while buffer.len() < MAX_WRITE_BATCH_BYTES {
            match queue.try_recv() {
                Ok(envelope) => append(&envelope, &mut buffer),
                Err(_) => break,
            }
        }
        if let Err(error) = writer.write_all(&buffer).await {
            return Some(error.to_string());
        }
    }
}

/// Envelopes still queued when a link goes down (or queued in the instant
/// before `send` saw it down) were never written, so never delivered. They
/// are dropped rather than delivered late to a restarted peer; and each
/// forwarded client request among them is answered at once, on the peer's
/// behalf, with `NoLeader` — which the forwarding node takes as "not
/// handled, wait for the next leader" — instead of leaving it to wait out
/// its request timeout as if its outcome were unknown.
fn discard_queued(queue: &mut mpsc::Receiver<Envelope>, inbox: &mpsc::Sender<Envelope>) {
    while let Ok(envelope) = queue.try_recv() {
        let Envelope::Forward {
            from,
            to,
            request_id,
            request,
        } = envelope
        else {
            continue;
        };
        let reply = match request {
            ForwardedRequest::Write(_) => ForwardedReply::Write(Err(WriteError::NoLeader)),
            ForwardedRequest::ReadIndex => ForwardedReply::ReadIndex(Err(WriteError::NoLeader)),
        };
        let _ = inbox.try_send(Envelope::ForwardReply {
            from: to,
            to: from,
            request_id,
            reply,
        });
    }
}

fn append(envelope: &Envelope, buffer: &mut BytesMut) {
    if let Err(error) = wire::encode_frame(envelope, buffer) {
        // Only an envelope over MAX_FRAME_BYTES gets here; Raft retries it.
        tracing::warn!(to = %node_name(envelope.to()), kind = envelope.kind(), "envelope dropped: {error}");
    }
}
