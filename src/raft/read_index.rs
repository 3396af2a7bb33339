//! Linearizable reads by ReadIndex (thesis §6.4).
//!
//! A read may only be served from state that includes every write
//! acknowledged before the read began. The leader records its commit index
//! as the read's index, then confirms it is still leader by a round of
//! heartbeats acknowledged by a majority; after that, any node that has
//! applied up to the read's index may answer. A new leader first commits an
//! entry of its own term (its no-op), since only then is its commit index
//! known to cover every committed entry. All reads that arrive between two
//! `take_ready` calls share one heartbeat round.

use super::message::Index;
use super::node::{NotAccepted, RaftNode, Role};
use super::ready::ReadState;
use std::collections::VecDeque;

/// A read waiting for its confirmation round.
#[derive(Clone, Copy, Debug)]
struct PendingRead {
    id: u64,
    index: Index,
    /// The heartbeat round whose majority acknowledgement confirms it.
    seq: u64,
}

/// The leader's queue of reads, ordered by round.
#[derive(Clone, Debug, Default)]
pub(super) struct ReadQueue {
    /// The last round broadcast; increases monotonically within a leadership.
    seq: u64,
    /// Reads were registered since the last broadcast.
    round_requested: bool,
    pending: VecDeque<PendingRead>,
    /// Reads that arrived before this leader committed an entry of its term.
    awaiting_commit: Vec<u64>,
}

impl ReadQueue {
    /// The latest round number, carried by every heartbeat.
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether reads wait for a round that the next `take_ready` broadcasts.
    pub(super) fn round_requested(&self) -> bool {
        self.round_requested
    }
}

impl RaftNode {
    /// Asks for a linearizable read named `id`. On the leader, a `ReadState`
    /// (or a failed read, if leadership is lost) follows in a later `Ready`.
    pub fn read_index(&mut self, id: u64) -> Result<(), NotAccepted> {
        if self.role != Role::Leader {
            return Err(NotAccepted::NotLeader {
                leader: self.leader,
            });
        }
        if self.bugs.read_without_quorum {
            self.ready.reads.push(ReadState {
                id,
                index: self.commit_index,
            });
            return Ok(());
        }
        if self.log.term_at(self.commit_index) != Some(self.term) {
            self.reads.awaiting_commit.push(id);
        } else {
            self.register_read(id);
        }
        Ok(())
    }

    fn register_read(&mut self, id: u64) {
        let seq = self.reads.seq + 1;
        self.reads.pending.push_back(PendingRead {
            id,
            index: self.commit_index,
            seq,
        });
        self.reads.round_requested = true;
    }

    /// Broadcasts one heartbeat round for all reads registered since the last.
    pub(super) fn flush_read_round(&mut self) {
        if !self.reads.round_requested {
            return;
        }
        self.reads.round_requested = false;
        self.reads.seq += 1;
        self.heartbeat_elapsed = 0;
        self.broadcast_heartbeat();
        self.resolve_reads(); // A single-node cluster confirms alone.
    }

    /// Releases every read whose round a majority has acknowledged.
    pub(super) fn resolve_reads(&mut self) {
        while let Some(read) = self.reads.pending.front().copied() {
            if read.seq > self.reads.seq {
                return; // Its round has not been broadcast yet.
            }
            let acks = 1 + self
                .progress
                .values()
                .filter(|progress| progress.read_seq_acked >= read.seq)
                .count();
            if acks < self.quorum() {
                return;
            }
            self.reads.pending.pop_front();
            self.ready.reads.push(ReadState {
                id: read.id,
                index: read.index,
            });
        }
    }

    /// Once the leader commits in its own term, reads held back can start.
    pub(super) fn on_commit_advanced(&mut self) {
        if self.role == Role::Leader && self.log.term_at(self.commit_index) == Some(self.term) {
            for id in std::mem::take(&mut self.reads.awaiting_commit) {
                self.register_read(id);
            }
        }
    }

    /// Fails every read in progress: this node is no longer leader.
    pub(super) fn fail_pending_reads(&mut self) {
        let pending = self.reads.pending.drain(..).map(|read| read.id);
        let awaiting = self.reads.awaiting_commit.drain(..);
        self.ready.failed_reads.extend(pending.chain(awaiting));
        self.reads.round_requested = false;
    }
}
