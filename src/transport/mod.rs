//! How nodes reach each other. One trait, two implementations: `memory`
//! (channels inside one process, through a network controller that injects
//! faults) and, later, `tcp` (framed messages between processes).

pub mod envelope;
pub mod memory;

pub use envelope::{
    Envelope, ForwardedReply, ForwardedRequest, WriteEffect, WriteError, WriteReceipt, WriteRequest,
};
pub use memory::{LinkFault, MemoryNetwork, NetworkFaults};

/// Sends envelopes to peers, best effort: Raft tolerates loss, so `send`
/// never blocks and never fails; an undeliverable envelope is dropped.
pub trait Transport: Send + Sync + 'static {
    /// Queues `envelope` for `envelope.to()`.
    fn send(&self, envelope: Envelope);
}
