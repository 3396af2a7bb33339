//! The simulator's trace: what happened, when and where, kept cheaply while
//! the run goes well and printed only when it fails or is replayed.
//!
//! Events are stored as small values, not text, so tracing costs almost
//! nothing per event; [`TraceLine`]'s `Display` turns one into a line such as
//! `t=00412 node2  recv AppendEntries from node1 term 3 prev 7/2 entries 8..9 commit 7`.

use crate::raft::{Index, Message, MessageBody, NodeId, Role, Term};
use std::collections::VecDeque;
use std::fmt;

/// One thing that happened in a simulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// A message reached its destination and was stepped.
    Deliver(MessageSummary),
    /// A message was lost: by chance, to a partition, or to a dead node.
    Drop {
        message: MessageSummary,
        why: &'static str,
    },
    /// A message was sent twice.
    Duplicate(MessageSummary),
    /// A node changed role or term.
    Role { role: Role, term: Term },
    /// A node's commit index advanced.
    Commit { index: Index },
    /// A node lost its memory and everything not synced (`torn_bytes` of the
    /// unsynced write survived, when it crashed in the middle of one).
    Crash {
        point: &'static str,
        torn_bytes: usize,
    },
    /// A node came back from its disk.
    Restart {
        term: Term,
        voted_for: Option<NodeId>,
        last_index: Index,
        warnings: usize,
    },
    /// A node stopped taking ticks and messages until `until_tick`.
    Pause { until_tick: u64 },
    /// A paused node resumed.
    Resume,
    /// The network was split into these groups.
    Partition(Vec<Vec<NodeId>>),
    /// The link between two nodes was cut; both still reach the others.
    Cut(NodeId, NodeId),
    /// Every partition was healed.
    Heal,
    /// The network's loss, duplication and delay changed.
    Network {
        loss_percent: u32,
        duplicate_percent: u32,
        delay_ticks_max: u64,
    },
    /// A client sent a request to a node.
    Invoke { client: u64, op: String },
    /// A client learned its request's outcome.
    Complete {
        client: u64,
        op: String,
        outcome: &'static str,
    },
    /// Free text, for scenario tests and end-of-run notes.
    Note(String),
}

/// A message reduced to what a reader of the trace needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSummary {
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// The sender's term (the proposed term, for pre-votes).
    pub term: Term,
    /// The message kind and its salient numbers, already short.
    pub kind: MessageKind,
}

/// The kinds of message, with the numbers worth showing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageKind {
    PreVote {
        last: (Index, Term),
    },
    PreVoteResponse {
        granted: bool,
    },
    RequestVote {
        last: (Index, Term),
    },
    RequestVoteResponse {
        granted: bool,
    },
    AppendEntries {
        prev: (Index, Term),
        entries: (Index, Index),
        commit: Index,
    },
    AppendEntriesResponse {
        success: bool,
        match_index: Index,
    },
    Heartbeat {
        commit: Index,
        read_seq: u64,
    },
    HeartbeatResponse {
        read_seq: u64,
    },
    TimeoutNow,
}

impl MessageSummary {
    /// Summarizes `message` without cloning its entries.
    pub fn of(message: &Message) -> MessageSummary {
        let kind = match &message.body {
            MessageBody::PreVote {
                last_log_index,
                last_log_term,
            } => MessageKind::PreVote {
                last: (*last_log_index, *last_log_term),
            },
            MessageBody::PreVoteResponse { granted } => {
                MessageKind::PreVoteResponse { granted: *granted }
            }
            MessageBody::RequestVote {
                last_log_index,
                last_log_term,
                ..
            } => MessageKind::RequestVote {
                last: (*last_log_index, *last_log_term),
            },
            MessageBody::RequestVoteResponse { granted } => {
                MessageKind::RequestVoteResponse { granted: *granted }
            }
            MessageBody::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => MessageKind::AppendEntries {
                prev: (*prev_log_index, *prev_log_term),
                entries: (prev_log_index + 1, prev_log_index + entries.len() as Index),
                commit: *leader_commit,
            },
            MessageBody::AppendEntriesResponse {
                success,
                match_index,
                ..
            } => MessageKind::AppendEntriesResponse {
                success: *success,
                match_index: *match_index,
            },
            MessageBody::Heartbeat {
                commit_index,
                read_seq,
            } => MessageKind::Heartbeat {
                commit: *commit_index,
                read_seq: *read_seq,
            },
            MessageBody::HeartbeatResponse { read_seq, .. } => MessageKind::HeartbeatResponse {
                read_seq: *read_seq,
            },
            MessageBody::TimeoutNow => MessageKind::TimeoutNow,
        };
        MessageSummary {
            from: message.from,
            to: message.to,
            term: message.term,
            kind,
        }
    }
}

impl fmt::Display for MessageSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (from, term) = (self.from, self.term);
        match &self.kind {
            MessageKind::PreVote { last } => write!(
                f,
                "PreVote from node{from} term {term} last {}/{}",
                last.0, last.1
            ),
            MessageKind::PreVoteResponse { granted } => {
                write!(f, "PreVoteResponse from node{from} term {term} granted={granted}")
            }
            MessageKind::RequestVote { last } => write!(
                f,
                "RequestVote from node{from} term {term} last {}/{}",
                last.0, last.1
            ),
            MessageKind::RequestVoteResponse { granted } => write!(
                f,
                "RequestVoteResponse from node{from} term {term} granted={granted}"
            ),
            MessageKind::AppendEntries {
                prev,
                entries,
                commit,
            } => {
                write!(
                    f,
                    "AppendEntries from node{from} term {term} prev {}/{}",
                    prev.0, prev.1
                )?;
                if entries.1 >= entries.0 {
                    write!(f, " entries {}..{}", entries.0, entries.1)?;
                }
                write!(f, " commit {commit}")
            }
            MessageKind::AppendEntriesResponse {
                success,
                match_index,
            } => write!(
                f,
                "AppendEntriesResponse from node{from} term {term} success={success} match {match_index}"
            ),
            MessageKind::Heartbeat { commit, read_seq } => write!(
                f,
                "Heartbeat from node{from} term {term} commit {commit} read_seq {read_seq}"
            ),
            MessageKind::HeartbeatResponse { read_seq } => write!(
                f,
                "HeartbeatResponse from node{from} term {term} read_seq {read_seq}"
            ),
            MessageKind::TimeoutNow => write!(f, "TimeoutNow from node{from} term {term}"),
        }
    }
}

/// One line of the trace: an event, its virtual time and the node it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    /// The virtual tick it happened in.
    pub tick: u64,
    /// The node it happened on; `None` for cluster-wide events.
    pub node: Option<NodeId>,
    /// What happened.
    pub event: TraceEvent,
}

impl fmt::Display for TraceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={:05} ", self.tick)?;
        match self.node {
            Some(node) => write!(f, "node{node:<2} ")?,
            None => write!(f, "{:7}", "")?,
        }
        match &self.event {
            TraceEvent::Deliver(message) => write!(f, "recv {message}"),
            TraceEvent::Drop { message, why } => {
                write!(f, "lost ({why}) {message} to node{}", message.to)
            }
            TraceEvent::Duplicate(message) => {
                write!(f, "duplicated {message} to node{}", message.to)
            }
            TraceEvent::Role { role, term } => write!(f, "became {} in term {term}", role.as_str()),
            TraceEvent::Commit { index } => write!(f, "commit index {index}"),
            TraceEvent::Crash { point, torn_bytes } => {
                write!(f, "CRASH {point}")?;
                if *torn_bytes > 0 {
                    write!(f, " ({torn_bytes} bytes of a torn write survive)")?;
                }
                Ok(())
            }
            TraceEvent::Restart {
                term,
                voted_for,
                last_index,
                warnings,
            } => write!(
                f,
                "RESTART with term {term} vote {voted_for:?} last index {last_index} ({warnings} storage warnings)"
            ),
            TraceEvent::Pause { until_tick } => write!(f, "PAUSE until t={until_tick}"),
            TraceEvent::Resume => write!(f, "RESUME"),
            TraceEvent::Partition(groups) => write!(f, "PARTITION {groups:?}"),
            TraceEvent::Cut(a, b) => write!(f, "CUT the link node{a} <-> node{b}"),
            TraceEvent::Heal => write!(f, "HEAL all partitions"),
            TraceEvent::Network {
                loss_percent,
                duplicate_percent,
                delay_ticks_max,
            } => write!(
                f,
                "NETWORK loss {loss_percent}% duplicate {duplicate_percent}% delay up to {delay_ticks_max} ticks"
            ),
            TraceEvent::Invoke { client, op } => write!(f, "client{client} invokes {op}"),
            TraceEvent::Complete {
                client,
                op,
                outcome,
            } => write!(f, "client{client} {outcome}: {op}"),
            TraceEvent::Note(text) => write!(f, "{text}"),
        }
    }
}

/// The trace of a run: the last `capacity` lines, or every line.
#[derive(Clone, Debug)]
pub struct Trace {
    lines: VecDeque<TraceLine>,
    /// Lines kept at most; older ones are dropped first. `usize::MAX` keeps all.
    capacity: usize,
    /// Lines recorded in total, including dropped ones.
    recorded: u64,
}

impl Trace {
    /// A trace keeping the last `capacity` lines.
    pub fn new(capacity: usize) -> Trace {
        Trace {
            lines: VecDeque::new(),
            capacity: capacity.max(1),
            recorded: 0,
        }
    }

    /// Records one line, dropping the oldest when full.
    pub fn record(&mut self, tick: u64, node: Option<NodeId>, event: TraceEvent) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(TraceLine { tick, node, event });
        self.recorded += 1;
    }

    /// The lines kept, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &TraceLine> {
        self.lines.iter()
    }

    /// Lines recorded in total.
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// The kept lines as text, one per line.
    pub fn render(&self) -> Vec<String> {
        self.lines.iter().map(ToString::to_string).collect()
    }
}
