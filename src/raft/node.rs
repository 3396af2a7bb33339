//! The Raft node: state, inputs and the dispatch of messages.
//!
//! Handlers for elections, replication and reads live in `election.rs`,
//! `replication.rs` and `read_index.rs`; they are `impl RaftNode` blocks over
//! the fields declared here.

use super::config::RaftConfig;
use super::log::RaftLog;
use super::message::{Entry, HardState, Index, Message, MessageBody, NodeId, Payload, Term};
use super::progress::Progress;
use super::ready::Ready;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The role a node plays in its current term (paper Figure 4, plus pre-vote).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    /// The name the HTTP API shows in `.raft.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre_candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// Why a proposal or a read was refused; the caller forwards or retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAccepted {
    /// Only the leader accepts proposals and reads; here is the leader if known.
    NotLeader { leader: Option<NodeId> },
    /// The leader is handing leadership over and accepts nothing meanwhile.
    Transferring,
}

/// Known Raft bugs that the simulator can switch on to prove its checks fail.
/// All off in every real configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InjectedBugs {
    /// Commit an entry of an older term by counting replicas (paper §5.4.2, Figure 8).
    pub commit_old_term_by_counting: bool,
    /// Never persist the vote, so a restarted node may vote twice in a term.
    pub forget_vote: bool,
    /// Accept AppendEntries without checking `prev_log_index`/`prev_log_term`.
    pub skip_log_matching_check: bool,
    /// Answer ReadIndex at once, without confirming leadership with a quorum.
    pub read_without_quorum: bool,
}

/// Read-only view of a node, for `/status`, metrics and tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub term: Term,
    pub leader: Option<NodeId>,
    pub voted_for: Option<NodeId>,
    pub commit_index: Index,
    pub last_log_index: Index,
    pub last_log_term: Term,
    /// The leader's view of each follower's `(match_index, next_index)`; empty on followers.
    pub progress: BTreeMap<NodeId, (Index, Index)>,
}

/// Counters of protocol events, for metrics and lab reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Elections this node started (real ones, after any pre-vote).
    pub elections_started: u64,
    /// Times this node became leader.
    pub elections_won: u64,
    /// Pre-vote rounds started.
    pub pre_votes_started: u64,
    /// Entries proposed by clients while leader.
    pub proposals: u64,
}

/// One Raft node: a deterministic state machine over ticks and messages.
pub struct RaftNode {
    /// This node's id; never changes.
    pub(super) id: NodeId,
    /// The other voters, sorted, never containing `id`.
    pub(super) peers: Vec<NodeId>,
    pub(super) config: RaftConfig,
    pub(super) bugs: InjectedBugs,
    /// Latest term seen; increases monotonically.
    pub(super) term: Term,
    /// Vote cast in `term`; reset when the term changes.
    pub(super) voted_for: Option<NodeId>,
    /// The hard state as last handed to the driver to persist.
    pub(super) persisted_hard_state: HardState,
    pub(super) role: Role,
    /// The leader of `term`, once known.
    pub(super) leader: Option<NodeId>,
    pub(super) log: RaftLog,
    /// Highest index known committed; never decreases, never exceeds the log.
    pub(super) commit_index: Index,
    /// Highest index handed to the driver to apply; `<= commit_index`.
    pub(super) emitted_index: Index,
    /// Ticks since the last heartbeat from a leader (followers), the last
    /// election start (candidates) or the last check-quorum (leaders).
    pub(super) election_elapsed: u32,
    /// This round's election timeout, in `[min, max)`.
    pub(super) randomized_election_timeout: u32,
    /// Ticks since the leader's last heartbeat broadcast.
    pub(super) heartbeat_elapsed: u32,
    /// Peers that granted (true) or refused (false) our current (pre-)vote.
    pub(super) votes: BTreeMap<NodeId, bool>,
    /// Leader only: each follower's replication progress.
    pub(super) progress: BTreeMap<NodeId, Progress>,
    /// Leader only: entries were proposed and appends must go out.
    pub(super) append_pending: bool,
    /// Leader only: the follower leadership is being handed to, and when.
    pub(super) transfer: Option<(NodeId, u32)>,
    /// Leader only: ReadIndex state.
    pub(super) reads: super::read_index::ReadQueue,
    pub(super) rng: ChaCha8Rng,
    pub(super) ready: Ready,
    pub(super) counters: Counters,
}

impl RaftNode {
    /// Restores a node from what storage recovered. `seed` drives its
    /// election timeouts, so a simulation replays exactly.
    pub fn new(
        id: NodeId,
        peers: impl IntoIterator<Item = NodeId>,
        config: RaftConfig,
        seed: u64,
        hard_state: HardState,
        entries: Vec<Entry>,
    ) -> RaftNode {
        config.validate().expect("invalid Raft configuration");
        let peers: BTreeSet<NodeId> = peers.into_iter().filter(|peer| *peer != id).collect();
        let mut node = RaftNode {
            id,
            peers: peers.into_iter().collect(),
            config,
            bugs: InjectedBugs::default(),
            term: hard_state.term,
            voted_for: hard_state.voted_for,
            persisted_hard_state: hard_state,
            role: Role::Follower,
            leader: None,
            log: RaftLog::from_entries(entries),
            commit_index: 0,
            emitted_index: 0,
            election_elapsed: 0,
            randomized_election_timeout: 0,
            heartbeat_elapsed: 0,
            votes: BTreeMap::new(),
            progress: BTreeMap::new(),
            append_pending: false,
            transfer: None,
            reads: Default::default(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            ready: Ready::default(),
            counters: Counters::default(),
        };
        node.reset_election_timer();
        node
    }

    /// Switches on known bugs; only the simulator's bug-finding tests call this.
    pub fn inject_bugs(&mut self, bugs: InjectedBugs) {
        self.bugs = bugs;
    }

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        match self.role {
            Role::Leader => self.tick_leader(),
            _ => {
                self.election_elapsed += 1;
                if self.election_elapsed >= self.randomized_election_timeout {
                    self.start_election(self.config.pre_vote, false);
                }
            }
        }
    }

    /// Handles a message from a peer.
    pub fn step(&mut self, message: Message) {
        assert_eq!(message.to, self.id, "message delivered to the wrong node");
        if message.from == self.id || !self.peers.contains(&message.from) {
            return; // Not a voter we know: ignore rather than trust it.
        }
        if !self.observe_term(&message) {
            return;
        }
        let Message {
            from, term, body, ..
        } = message;
        match body {
            MessageBody::PreVote {
                last_log_index,
                last_log_term,
            } => self.handle_pre_vote(from, term, last_log_index, last_log_term),
            MessageBody::PreVoteResponse { granted } => {
                self.handle_vote_response(from, term, granted, true)
            }
            MessageBody::RequestVote {
                last_log_index,
                last_log_term,
                ..
            } => self.handle_request_vote(from, last_log_index, last_log_term),
            MessageBody::RequestVoteResponse { granted } => {
                self.handle_vote_response(from, term, granted, false)
            }
            MessageBody::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => self.handle_append(from, prev_log_index, prev_log_term, entries, leader_commit),
            MessageBody::AppendEntriesResponse {
                success,
                match_index,
                conflict,
            } => self.handle_append_response(from, success, match_index, conflict),
            MessageBody::Heartbeat {
                commit_index,
                read_seq,
            } => self.handle_heartbeat(from, commit_index, read_seq),
            MessageBody::HeartbeatResponse {
                read_seq,
                last_log_index,
            } => self.handle_heartbeat_response(from, read_seq, last_log_index),
            MessageBody::TimeoutNow => {
                if self.role == Role::Follower {
                    self.start_election(false, true);
                }
            }
        }
    }

    /// Proposes a command; on the leader it is appended and will be
    /// replicated with the next `take_ready`. Returns its (index, term):
    /// the command took effect iff the entry at that index commits with that term.
    pub fn propose(&mut self, command: Vec<u8>) -> Result<(Index, Term), NotAccepted> {
        if self.role != Role::Leader {
            return Err(NotAccepted::NotLeader {
                leader: self.leader,
            });
        }
        if self.transfer.is_some() {
            return Err(NotAccepted::Transferring);
        }
        self.counters.proposals += 1;
        Ok(self.append_as_leader(Payload::Command(command)))
    }

    /// Hands leadership to `target` (thesis §3.10): catch it up, then tell it
    /// to start an election at once.
    pub fn transfer_leadership(&mut self, target: NodeId) -> Result<(), NotAccepted> {
        if self.role != Role::Leader {
            return Err(NotAccepted::NotLeader {
                leader: self.leader,
            });
        }
        if !self.peers.contains(&target) {
            return Err(NotAccepted::NotLeader {
                leader: Some(self.id),
            });
        }
        self.transfer = Some((target, 0));
        self.maybe_send_timeout_now(target);
        self.append_pending = true;
        Ok(())
    }

    /// Takes the effects produced so far; see `Ready` for what to do with them.
    pub fn take_ready(&mut self) -> Ready {
        if self.role == Role::Leader {
            if self.append_pending {
                self.append_pending = false;
                self.send_appends_to_all();
            }
            self.flush_read_round();
        }
        let hard_state = self.hard_state();
        if hard_state != self.persisted_hard_state {
            self.persisted_hard_state = hard_state;
            self.ready.hard_state = Some(self.stored_hard_state());
        }
        std::mem::take(&mut self.ready)
    }

    /// Whether `take_ready` would return anything.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
            || self.append_pending
            || (self.role == Role::Leader && self.reads.round_requested())
            || self.hard_state() != self.persisted_hard_state
    }

    /// A snapshot of this node's state.
    pub fn status(&self) -> Status {
        Status {
            id: self.id,
            role: self.role,
            term: self.term,
            leader: self.leader,
            voted_for: self.voted_for,
            commit_index: self.commit_index,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
            progress: self
                .progress
                .iter()
                .map(|(peer, progress)| (*peer, (progress.match_index, progress.next_index)))
                .collect(),
        }
    }

    /// Whether this node leads and heard from a majority (itself included)
    /// within the minimum election timeout. A leader without that contact
    /// cannot commit, so the driver refuses writes at once instead of
    /// letting them wait for a timeout.
    pub fn has_quorum_contact(&self) -> bool {
        if self.role != Role::Leader {
            return false;
        }
        let window = self.config.election_timeout_min_ticks;
        let heard = self
            .progress
            .values()
            .filter(|progress| progress.ticks_since_heard < window)
            .count();
        1 + heard >= self.quorum()
    }

    /// How many voters (itself included) this leader heard from recently.
    pub fn reachable_voters(&self) -> usize {
        let window = self.config.election_timeout_min_ticks;
        1 + self
            .progress
            .values()
            .filter(|progress| progress.ticks_since_heard < window)
            .count()
    }

    /// Number of voters in the cluster.
    pub fn cluster_size(&self) -> usize {
        self.peers.len() + 1
    }

    /// The current term.
    pub fn term(&self) -> Term {
        self.term
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The leader of the current term, once known.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// Protocol event counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The log, for inspection by tests, the simulator and `/status`.
    pub fn log(&self) -> &RaftLog {
        &self.log
    }

    /// The configuration this node runs with.
    pub fn config(&self) -> &RaftConfig {
        &self.config
    }

    // ----- shared helpers -----

    pub(super) fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            voted_for: self.voted_for,
        }
    }

    /// What goes to disk; the `forget_vote` bug drops the vote here.
    fn stored_hard_state(&self) -> HardState {
        let mut stored = self.hard_state();
        if self.bugs.forget_vote {
            stored.voted_for = None;
        }
        stored
    }

    /// Votes needed to win: a strict majority of all voters.
    pub(super) fn quorum(&self) -> usize {
        self.cluster_size() / 2 + 1
    }

    pub(super) fn send(&mut self, to: NodeId, term: Term, body: MessageBody) {
        self.ready.messages.push(Message {
            from: self.id,
            to,
            term,
            body,
        });
    }

    pub(super) fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let (min, max) = (
            self.config.election_timeout_min_ticks,
            self.config.election_timeout_max_ticks,
        );
        self.randomized_election_timeout = self.rng.random_range(min..max);
    }

    /// Whether this node heard from a live leader within the minimum election
    /// timeout: then it refuses to help anyone replace that leader.
    pub(super) fn in_leader_lease(&self) -> bool {
        match self.role {
            Role::Leader => true,
            _ => {
                self.leader.is_some()
                    && self.election_elapsed < self.config.election_timeout_min_ticks
            }
        }
    }

    /// Applies the term rules of paper §5.1 before a message is handled.
    /// Returns false when the message must be dropped.
    fn observe_term(&mut self, message: &Message) -> bool {
        use MessageBody::*;
        if message.term > self.term {
            match &message.body {
                // A pre-vote carries a hypothetical term; a granted pre-vote
                // response echoes it. Neither changes anyone's term.
                PreVote { .. } => return true,
                PreVoteResponse { granted: true } => return true,
                RequestVote { transfer, .. }
                    if self.config.check_quorum && !transfer && self.in_leader_lease() =>
                {
                    return false; // A disruptive candidate while our leader is alive.
                }
                _ => {}
            }
            let leader = match message.body {
                AppendEntries { .. } | Heartbeat { .. } => Some(message.from),
                _ => None,
            };
            self.become_follower(message.term, leader);
            return true;
        }
        if message.term < self.term {
            match message.body {
                // Tell a deposed leader or stale candidate about the newer term.
                AppendEntries { .. } | Heartbeat { .. } => self.send(
                    message.from,
                    self.term,
                    AppendEntriesResponse {
                        success: false,
                        match_index: 0,
                        conflict: None,
                    },
                ),
                PreVote { .. } => {
                    self.send(message.from, self.term, PreVoteResponse { granted: false })
                }
                RequestVote { .. } => self.send(
                    message.from,
                    self.term,
                    RequestVoteResponse { granted: false },
                ),
                _ => {}
            }
            return false;
        }
        true
    }

    /// Becomes a follower of `leader` (if known) in `term`.
    pub(super) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        assert!(
            term >= self.term,
            "term went backwards from {} to {term}",
            self.term
        );
        if term > self.term {
            self.term = term;
            self.voted_for = None;
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        self.progress.clear();
        self.transfer = None;
        self.append_pending = false;
        self.fail_pending_reads();
        self.reset_election_timer();
    }

    /// Advances the commit index and queues newly committed entries to apply.
    pub(super) fn commit_to(&mut self, index: Index) {
        let index = index.min(self.log.last_index());
        if index <= self.commit_index {
            return;
        }
        self.commit_index = index;
        let committed = self.log.slice(self.emitted_index + 1, index);
        self.emitted_index = index;
        self.ready.committed.extend(committed);
        self.on_commit_advanced();
    }
}
