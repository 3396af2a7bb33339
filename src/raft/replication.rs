//! Log replication (paper §5.3) and commitment (§5.4.2), with pipelining and
//! fast conflict back-off.
//!
//! The leader appends proposals to its own log and, at the next `take_ready`,
//! packs everything new into one AppendEntries per follower (batching). A
//! follower whose log matches is replicated to with several appends in flight;
//! one that rejects is probed from the hint it returned, skipping a whole
//! conflicting term per round trip. An entry commits when a majority holds it
//! *and* it belongs to the leader's current term; older entries commit
//! indirectly with it (the Figure 8 rule).

use super::message::{ConflictHint, Entry, Index, MessageBody, NodeId, Payload, Term};
use super::node::{RaftNode, Role};
use super::progress::ReplicationMode;

impl RaftNode {
    /// Appends an entry to the leader's own log; replication follows at `take_ready`.
    pub(super) fn append_as_leader(&mut self, payload: Payload) -> (Index, Term) {
        let entry = Entry {
            index: self.log.last_index() + 1,
            term: self.term,
            payload,
        };
        let position = (entry.index, entry.term);
        self.log.push(entry.clone());
        self.ready.persist_entries(vec![entry]);
        self.append_pending = true;
        self.maybe_commit(); // A single-node cluster commits alone.
        position
    }

    pub(super) fn tick_leader(&mut self) {
        for progress in self.progress.values_mut() {
            progress.ticks_since_heard = progress.ticks_since_heard.saturating_add(1);
        }
        self.heartbeat_elapsed += 1;
        if self.heartbeat_elapsed >= self.config.heartbeat_interval_ticks {
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeat();
        }
        self.retry_lost_appends();
        if let Some((target, ticks)) = self.transfer {
            if ticks + 1 >= self.config.election_timeout_min_ticks {
                self.transfer = None; // The target did not take over in time.
            } else {
                self.transfer = Some((target, ticks + 1));
            }
        }
        self.election_elapsed += 1;
        if self.election_elapsed >= self.config.election_timeout_min_ticks {
            self.election_elapsed = 0;
            self.check_quorum();
        }
    }

    /// Steps down when a majority has been silent for a whole election
    /// timeout: such a leader cannot commit anything, and stepping down lets
    /// clients find the leader the majority has elected meanwhile.
    fn check_quorum(&mut self) {
        let active = 1 + self
            .progress
            .values()
            .filter(|progress| progress.recently_active)
            .count();
        for progress in self.progress.values_mut() {
            progress.recently_active = false;
        }
        if self.config.check_quorum && active < self.quorum() {
            self.become_follower(self.term, None);
        }
    }

    /// Appends go missing on a lossy network; a follower that acknowledges
    /// nothing for `append_retry_ticks` is probed again from its match index.
    fn retry_lost_appends(&mut self) {
        let retry_after = self.config.append_retry_ticks;
        let mut retry = Vec::new();
        for (peer, progress) in self.progress.iter_mut() {
            if progress.inflight.is_empty() {
                continue;
            }
            progress.ticks_since_ack += 1;
            if progress.ticks_since_ack >= retry_after {
                progress.probe_from(progress.match_index + 1);
                retry.push(*peer);
            }
        }
        for peer in retry {
            self.send_append(peer);
        }
    }

    pub(super) fn send_appends_to_all(&mut self) {
        for peer in self.peers.clone() {
            self.send_appends(peer);
        }
    }

    /// Sends as many appends to `peer` as its flow control allows.
    fn send_appends(&mut self, peer: NodeId) {
        loop {
            let Some(progress) = self.progress.get(&peer) else {
                return;
            };
            let has_entries = progress.next_index <= self.log.last_index();
            let probing = progress.mode == ReplicationMode::Probe;
            if !progress.can_send(self.config.max_inflight_appends) || !(has_entries || probing) {
                return;
            }
            self.send_append(peer);
            if probing {
                return;
            }
        }
    }

    /// Sends one AppendEntries from the peer's `next_index`.
    fn send_append(&mut self, peer: NodeId) {
        let progress = &self.progress[&peer];
        let prev_log_index = progress.next_index - 1;
        let prev_log_term = self
            .log
            .term_at(prev_log_index)
            .expect("next_index is within the log");
        let entries = self.log.entries_from(
            progress.next_index,
            self.config.max_entries_per_append,
            self.config.max_bytes_per_append,
        );
        let last_sent = prev_log_index + entries.len() as Index;
        self.progress
            .get_mut(&peer)
            .expect("peer has progress")
            .sent(last_sent);
        let body = MessageBody::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
        };
        self.send(peer, self.term, body);
    }

    pub(super) fn broadcast_heartbeat(&mut self) {
        let read_seq = self.reads.seq();
        for peer in self.peers.clone() {
            // Cap the commit index by what the follower is known to hold, so it
            // can adopt it without having checked its log against ours.
            let commit_index = self.commit_index.min(self.progress[&peer].match_index);
            self.send(
                peer,
                self.term,
                MessageBody::Heartbeat {
                    commit_index,
                    read_seq,
                },
            );
        }
    }

    /// Follower side of AppendEntries (paper Figure 2, receiver rules 1–5).
    pub(super) fn handle_append(
        &mut self,
        from: NodeId,
        prev_log_index: Index,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
    ) {
        self.accept_leader(from);
        let matches = self.log.term_at(prev_log_index) == Some(prev_log_term);
        if !matches && !self.bugs.skip_log_matching_check {
            let conflict = Some(self.log.conflict_hint(prev_log_index));
            self.send(
                from,
                self.term,
                MessageBody::AppendEntriesResponse {
                    success: false,
                    match_index: 0,
                    conflict,
                },
            );
            return;
        }
        let match_index = prev_log_index + entries.len() as Index;
        let entries = if self.bugs.skip_log_matching_check {
            entries
                .into_iter()
                .filter(|entry| entry.index <= self.log.last_index() + 1)
                .collect()
        } else {
            entries
        };
        let fresh = self.log.merge(entries, self.commit_index);
        self.ready.persist_entries(fresh);
        self.commit_to(leader_commit.min(match_index));
        self.send(
            from,
            self.term,
            MessageBody::AppendEntriesResponse {
                success: true,
                match_index,
                conflict: None,
            },
        );
    }

    /// A message from the leader of our term: follow it and restart the timer.
    fn accept_leader(&mut self, from: NodeId) {
        if self.role != Role::Follower {
            self.become_follower(self.term, Some(from));
        }
        assert!(
            self.leader.is_none_or(|leader| leader == from),
            "two leaders in term {}: {:?} and {from}",
            self.term,
            self.leader
        );
        self.leader = Some(from);
        self.election_elapsed = 0;
    }

    /// Leader side: advance the follower's progress, commit, send more.
    pub(super) fn handle_append_response(
        &mut self,
        from: NodeId,
        success: bool,
        match_index: Index,
        conflict: Option<ConflictHint>,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let last_index = self.log.last_index();
        let Some(progress) = self.progress.get_mut(&from) else {
            return;
        };
        progress.heard();
        if success {
            if progress.acknowledge(match_index.min(last_index)) {
                self.maybe_commit();
                self.maybe_send_timeout_now(from);
            }
        } else if let Some(hint) = conflict {
            let next = match hint.term.and_then(|term| self.log.last_index_of_term(term)) {
                Some(last_of_term) => last_of_term + 1,
                None => hint.index,
            };
            self.progress
                .get_mut(&from)
                .expect("peer has progress")
                .probe_from(next.min(last_index + 1));
        }
        self.send_appends(from);
    }

    /// Follower side of a heartbeat: follow the leader, adopt its (capped) commit.
    pub(super) fn handle_heartbeat(&mut self, from: NodeId, commit_index: Index, read_seq: u64) {
        self.accept_leader(from);
        self.commit_to(commit_index);
        let last_log_index = self.log.last_index();
        self.send(
            from,
            self.term,
            MessageBody::HeartbeatResponse {
                read_seq,
                last_log_index,
            },
        );
    }

    /// Leader side: the follower is alive and confirms our leadership up to `read_seq`.
    pub(super) fn handle_heartbeat_response(
        &mut self,
        from: NodeId,
        read_seq: u64,
        _last_log_index: Index,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let Some(progress) = self.progress.get_mut(&from) else {
            return;
        };
        progress.heard();
        progress.read_seq_acked = progress.read_seq_acked.max(read_seq);
        // A probe whose append or reply was lost is sent again.
        let behind = progress.match_index < self.log.last_index();
        let idle_probe = progress.mode == ReplicationMode::Probe && progress.inflight.is_empty();
        if behind && idle_probe {
            self.send_appends(from);
        }
        self.resolve_reads();
    }

    /// Commits the highest index held by a majority, if it is of our term.
    pub(super) fn maybe_commit(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let mut matched: Vec<Index> = self
            .progress
            .values()
            .map(|progress| progress.match_index)
            .collect();
        matched.push(self.log.last_index());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let majority_index = matched[self.quorum() - 1];
        if majority_index <= self.commit_index {
            return;
        }
        let current_term = self.log.term_at(majority_index) == Some(self.term);
        if current_term || self.bugs.commit_old_term_by_counting {
            self.commit_to(majority_index);
        }
    }
}
