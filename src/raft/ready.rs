//! The output of the Raft core: what the driver must do, in order.

use super::message::{Entry, HardState, Index, Message};

/// A linearizable read that is now safe to serve once the state machine has
/// applied `index` (thesis §6.4, ReadIndex).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    /// The caller's id for the read, as given to `read_index`.
    pub id: u64,
    /// The commit index when the read arrived; serve once applied reaches it.
    pub index: Index,
}

/// Effects produced by the core since the last `take_ready`. The driver must
/// act on them in this order: (1) persist `hard_state` and `entries` durably
/// (one fsync), (2) send `messages`, (3) apply `committed`, (4) answer
/// `reads` and `failed_reads`. Sending before persisting could let a peer
/// count a vote or an entry that a crash then erases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// New term/vote to persist, when they changed.
    pub hard_state: Option<HardState>,
    /// Entries to append durably, contiguous; the first may overwrite the
    /// stored log from its index on.
    pub entries: Vec<Entry>,
    /// Messages to send once the above is durable.
    pub messages: Vec<Message>,
    /// Newly committed entries, in index order, to apply to the state machine.
    pub committed: Vec<Entry>,
    /// Linearizable reads now confirmed.
    pub reads: Vec<ReadState>,
    /// Reads that can no longer be confirmed here (leadership was lost): the
    /// caller should retry them at the new leader.
    pub failed_reads: Vec<u64>,
}

impl Ready {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.entries.is_empty()
            && self.messages.is_empty()
            && self.committed.is_empty()
            && self.reads.is_empty()
            && self.failed_reads.is_empty()
    }

    /// Queues entries to persist, dropping any queued ones they overwrite.
    pub(super) fn persist_entries(&mut self, entries: Vec<Entry>) {
        if let Some(first) = entries.first() {
            self.entries.retain(|queued| queued.index < first.index);
            self.entries.extend(entries);
        }
    }
}
