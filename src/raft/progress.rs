//! What a leader knows about each follower's log, and the flow control of
//! replication to it (etcd/raft's "progress" idea).
//!
//! A follower is either being *probed* — one AppendEntries at a time, until
//! the leader finds where the logs agree — or *replicated* to, with up to
//! `max_inflight_appends` AppendEntries pipelined without waiting for replies.

use super::message::Index;
use std::collections::VecDeque;

/// How the leader currently sends entries to one follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicationMode {
    /// Looking for the point where the logs agree; one append in flight.
    Probe,
    /// Logs agree up to `match_index`; appends are pipelined.
    Replicate,
}

/// The leader's view of one follower.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Highest index known to be replicated on the follower; only increases
    /// while this node stays leader.
    pub match_index: Index,
    /// Next index to send; always in `match_index + 1..=last_index + 1`.
    pub next_index: Index,
    /// Probing or pipelining.
    pub mode: ReplicationMode,
    /// Last index of each AppendEntries sent and not yet acknowledged, oldest first.
    pub inflight: VecDeque<Index>,
    /// Ticks since the follower last acknowledged progress; drives retries of
    /// appends that were lost.
    pub ticks_since_ack: u32,
    /// Whether the follower answered anything during the current
    /// check-quorum window.
    pub recently_active: bool,
    /// Highest ReadIndex round the follower has confirmed.
    pub read_seq_acked: u64,
    /// Ticks since the follower last answered anything.
    pub ticks_since_heard: u32,
}

impl Progress {
    /// A fresh view for a new leader: assume the follower matches our log and
    /// probe backwards from there (paper §5.3). The follower has not answered
    /// this leader yet, so it does not count towards the first check-quorum.
    pub fn new(last_index: Index) -> Progress {
        Progress {
            match_index: 0,
            next_index: last_index + 1,
            mode: ReplicationMode::Probe,
            inflight: VecDeque::new(),
            ticks_since_ack: 0,
            recently_active: false,
            read_seq_acked: 0,
            ticks_since_heard: 0,
        }
    }

    /// Notes that the follower answered: it is alive and reachable.
    pub fn heard(&mut self) {
        self.recently_active = true;
        self.ticks_since_heard = 0;
    }

    /// Whether another AppendEntries with entries may be sent now.
    pub fn can_send(&self, max_inflight: usize) -> bool {
        match self.mode {
            ReplicationMode::Probe => self.inflight.is_empty(),
            ReplicationMode::Replicate => self.inflight.len() < max_inflight,
        }
    }

    /// Records an append ending at `last_sent` as in flight.
    pub fn sent(&mut self, last_sent: Index) {
        if self.mode == ReplicationMode::Replicate {
            self.next_index = last_sent + 1;
        }
        self.inflight.push_back(last_sent);
    }

    /// Applies a successful acknowledgement; returns whether `match_index` advanced.
    pub fn acknowledge(&mut self, match_index: Index) -> bool {
        while self
            .inflight
            .front()
            .is_some_and(|sent| *sent <= match_index)
        {
            self.inflight.pop_front();
        }
        if match_index < self.match_index {
            return false;
        }
        if match_index == self.match_index {
            // A probe acknowledged where the logs are already known to agree
            // (after a stale rejection) ends the probe; staying in Probe would
            // answer each such ack with another empty probe, forever.
            if self.mode == ReplicationMode::Probe {
                self.mode = ReplicationMode::Replicate;
                self.inflight.clear();
                self.next_index = match_index + 1;
                self.ticks_since_ack = 0;
            }
            return false;
        }
        self.match_index = match_index;
        self.next_index = self.next_index.max(match_index + 1);
        self.ticks_since_ack = 0;
        if self.mode == ReplicationMode::Probe {
            self.mode = ReplicationMode::Replicate;
            self.inflight.clear();
        }
        true
    }

    /// Falls back to probing from `next_index` after a rejection or a timeout.
    pub fn probe_from(&mut self, next_index: Index) {
        self.mode = ReplicationMode::Probe;
        self.inflight.clear();
        self.next_index = next_index.max(self.match_index + 1);
        self.ticks_since_ack = 0;
    }
}
