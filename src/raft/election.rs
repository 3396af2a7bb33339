//! Leader election (paper §5.2, §5.4.1) with pre-vote (thesis §9.6) and
//! leadership transfer (thesis §3.10).
//!
//! A follower that hears nothing for a randomized election timeout first asks
//! for pre-votes without raising its term; only with a majority of pre-votes
//! does it become a candidate, raise its term and vote for itself. The vote
//! is persisted (the driver writes `Ready::hard_state`) before any
//! RequestVote leaves, so a restarted node never votes twice in one term.

use super::message::{Index, MessageBody, NodeId, Payload, Term};
use super::node::{RaftNode, Role};
use super::progress::Progress;

impl RaftNode {
    /// Starts a pre-vote round (`pre`) or a real election. `transfer` marks an
    /// election the old leader asked for, which voters let through their lease.
    pub(super) fn start_election(&mut self, pre: bool, transfer: bool) {
        let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
        self.votes.clear();
        self.votes.insert(self.id, true);
        self.leader = None;
        self.reset_election_timer();
        let body;
        let term;
        if pre {
            self.role = Role::PreCandidate;
            self.counters.pre_votes_started += 1;
            term = self.term + 1;
            body = MessageBody::PreVote {
                last_log_index,
                last_log_term,
            };
        } else {
            self.role = Role::Candidate;
            self.counters.elections_started += 1;
            self.term += 1;
            self.voted_for = Some(self.id);
            term = self.term;
            body = MessageBody::RequestVote {
                last_log_index,
                last_log_term,
                transfer,
            };
        }
        for peer in self.peers.clone() {
            self.send(peer, term, body.clone());
        }
        self.tally_votes(pre);
    }

    /// Grants a pre-vote when the candidate's log is up to date and we have
    /// not heard from a leader recently; our term and vote do not change.
    pub(super) fn handle_pre_vote(
        &mut self,
        from: NodeId,
        term: Term,
        last_log_index: Index,
        last_log_term: Term,
    ) {
        let granted = term > self.term
            && !self.in_leader_lease()
            && self.log.is_up_to_date(last_log_index, last_log_term);
        let reply_term = if granted { term } else { self.term };
        self.send(from, reply_term, MessageBody::PreVoteResponse { granted });
    }

    /// Grants a vote at most once per term, only to a candidate whose log is
    /// at least as up-to-date as ours (paper §5.4.1, election restriction).
    pub(super) fn handle_request_vote(
        &mut self,
        from: NodeId,
        last_log_index: Index,
        last_log_term: Term,
    ) {
        let can_vote =
            self.voted_for.is_none_or(|voted| voted == from) && self.role != Role::Leader;
        let granted = can_vote && self.log.is_up_to_date(last_log_index, last_log_term);
        if granted {
            self.voted_for = Some(from);
            self.reset_election_timer();
        }
        self.send(
            from,
            self.term,
            MessageBody::RequestVoteResponse { granted },
        );
    }

    /// Counts a (pre-)vote answer for the round we are running, if any.
    pub(super) fn handle_vote_response(
        &mut self,
        from: NodeId,
        term: Term,
        granted: bool,
        pre: bool,
    ) {
        let running = match (pre, self.role) {
            (true, Role::PreCandidate) => term == self.term + 1 || !granted,
            (false, Role::Candidate) => term == self.term,
            _ => false,
        };
        if !running {
            return;
        }
        self.votes.insert(from, granted);
        self.tally_votes(pre);
    }

    fn tally_votes(&mut self, pre: bool) {
        let granted = self.votes.values().filter(|granted| **granted).count();
        let refused = self.votes.len() - granted;
        if granted >= self.quorum() {
            if pre {
                self.start_election(false, false);
            } else {
                self.become_leader();
            }
        } else if refused >= self.quorum() {
            // The election is lost: wait for a leader or the next timeout.
            self.become_follower(self.term, None);
        }
    }

    /// Takes office: fresh progress for every follower and a no-op entry, so
    /// that an entry of this term commits at once (paper §8).
    pub(super) fn become_leader(&mut self) {
        assert_eq!(
            self.role,
            Role::Candidate,
            "only a candidate can become leader"
        );
        self.role = Role::Leader;
        self.leader = Some(self.id);
        self.counters.elections_won += 1;
        self.votes.clear();
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        let next = self.log.last_index() + 1;
        self.progress = self
            .peers
            .iter()
            .map(|peer| (*peer, Progress::new(next - 1)))
            .collect();
        self.append_as_leader(Payload::Noop);
    }

    /// Sends TimeoutNow once the transfer target has our whole log.
    pub(super) fn maybe_send_timeout_now(&mut self, target: crate::raft::NodeId) {
        let caught_up = self
            .progress
            .get(&target)
            .is_some_and(|progress| progress.match_index == self.log.last_index());
        if caught_up && self.transfer.is_some_and(|(to, _)| to == target) {
            self.send(target, self.term, MessageBody::TimeoutNow);
        }
    }
}
