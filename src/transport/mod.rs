//! How nodes reach each other. One trait, two implementations: `memory`
//! (channels inside one process, through a network controller that injects
//! faults) and `tcp` (framed messages between processes).

pub mod envelope;
pub mod memory;
pub mod tcp;

pub use envelope::{
    Envelope, ForwardedReply, ForwardedRequest, WriteEffect, WriteError, WriteReceipt, WriteRequest,
};
pub use memory::{LinkFault, MemoryNetwork, NetworkFaults};
pub use tcp::{TcpOptions, TcpTransport};

/// Sends envelopes to peers, best effort: Raft tolerates loss, so `send`
/// never blocks; an undeliverable envelope is dropped.
pub trait Transport: Send + Sync + 'static {
    /// Queues `envelope` for `envelope.to()`. Returns false only when the
    /// destination is known to be unreachable (no connection, like a refused
    /// TCP connect), so the envelope certainly was not delivered; true means
    /// it may arrive, or may be lost on the way.
    fn send(&self, envelope: Envelope) -> bool;
}
