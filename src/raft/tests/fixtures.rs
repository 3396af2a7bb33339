//! Building blocks for the rule tests: a single `RaftNode` built in a given
//! state, messages built in one line, and a helper that walks a node through
//! an election so a test can start from "node 1 just became leader".
//!
//! Entries are made by [`entry`], whose payload depends only on (index,
//! term): two nodes holding "index 3 of term 2" hold equal entries, as the
//! Log Matching Property says they must.

use crate::raft::{
    ConflictHint, Entry, HardState, Index, Message, MessageBody, NodeId, Payload, RaftConfig,
    RaftNode, Ready, Role, Term,
};

/// The seed every rule test uses; nothing here depends on its value.
pub const SEED: u64 = 7;

/// The entry at `index` of `term`, with a payload naming both.
pub fn entry(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command(format!("i{index}t{term}").into_bytes()),
    }
}

/// A log of command entries whose terms are `terms`, from index 1.
pub fn log_of(terms: &[Term]) -> Vec<Entry> {
    entries_from(1, terms)
}

/// Entries with terms `terms`, the first at `first`.
pub fn entries_from(first: Index, terms: &[Term]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(offset, term)| entry(first + offset as Index, *term))
        .collect()
}

/// The no-op a leader of `term` appends at `index`.
pub fn noop(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Noop,
    }
}

/// The terms of a node's log, for comparing whole logs in one assertion.
pub fn log_terms(node: &RaftNode) -> Vec<Term> {
    let last = node.log().last_index();
    (1..=last)
        .map(|index| node.log().term_at(index).expect("index within the log"))
        .collect()
}

/// Node `id` of a cluster of `voters`, restarted from storage holding
/// (`term`, `voted_for`) and a log with terms `log`.
pub fn node(
    id: NodeId,
    voters: &[NodeId],
    config: RaftConfig,
    term: Term,
    voted_for: Option<NodeId>,
    log: &[Term],
) -> RaftNode {
    RaftNode::new(
        id,
        voters.iter().copied(),
        config,
        SEED,
        HardState { term, voted_for },
        log_of(log),
    )
}

/// Node 1 of the cluster {1, 2, 3}.
pub fn node3(config: RaftConfig, term: Term, voted_for: Option<NodeId>, log: &[Term]) -> RaftNode {
    node(1, &[1, 2, 3], config, term, voted_for, log)
}

/// The default configuration with pre-vote and check-quorum set as given.
pub fn config(pre_vote: bool, check_quorum: bool) -> RaftConfig {
    RaftConfig {
        pre_vote,
        check_quorum,
        ..RaftConfig::default()
    }
}

/// Ticks `node` `count` times and returns everything it produced.
pub fn tick_n(node: &mut RaftNode, count: u32) -> Ready {
    let mut merged = Ready::default();
    for _ in 0..count {
        node.tick();
        let ready = node.take_ready();
        merged.hard_state = ready.hard_state.or(merged.hard_state);
        merged.entries.extend(ready.entries);
        merged.messages.extend(ready.messages);
        merged.committed.extend(ready.committed);
        merged.reads.extend(ready.reads);
        merged.failed_reads.extend(ready.failed_reads);
    }
    merged
}

/// Ticks a follower until its election timer fires, returning that tick's Ready.
pub fn tick_until_campaign(node: &mut RaftNode) -> Ready {
    let limit = node.config().election_timeout_max_ticks;
    for _ in 0..limit {
        node.tick();
        if node.status().role != Role::Follower {
            return node.take_ready();
        }
        let quiet = node.take_ready();
        assert!(quiet.messages.is_empty(), "a quiet follower sent {quiet:?}");
    }
    panic!("no election within {limit} ticks");
}

/// Walks `node` through an election it wins with every peer's (pre-)vote,
/// discarding the campaign's output; returns the Ready of its first moment
/// as leader (the no-op and the appends carrying it).
pub fn elect(node: &mut RaftNode) -> Ready {
    let id = node.id();
    let peers = node.peers.clone();
    tick_until_campaign(node);
    if node.status().role == Role::PreCandidate {
        let term = node.status().term + 1;
        for peer in &peers {
            if node.status().role != Role::PreCandidate {
                break;
            }
            node.step(message(
                *peer,
                id,
                term,
                MessageBody::PreVoteResponse { granted: true },
            ));
        }
        node.take_ready();
    }
    let term = node.status().term;
    for peer in &peers {
        if node.status().role == Role::Leader {
            break;
        }
        node.step(message(
            *peer,
            id,
            term,
            MessageBody::RequestVoteResponse { granted: true },
        ));
    }
    assert_eq!(
        node.status().role,
        Role::Leader,
        "node{id} lost its election"
    );
    node.take_ready()
}

/// A leader elected as [`elect`] does whose followers have all acknowledged
/// its no-op, so every follower is being replicated to (pipelined). Returns
/// the commit index (the no-op's index).
pub fn elect_and_settle(node: &mut RaftNode) -> Index {
    elect(node);
    let (id, term, last) = (node.id(), node.status().term, node.log().last_index());
    for peer in node.peers.clone() {
        node.step(append_ok(peer, id, term, last));
    }
    node.take_ready();
    assert_eq!(node.status().commit_index, last, "no-op did not commit");
    last
}

/// A message from `from` to `to` in `term`.
pub fn message(from: NodeId, to: NodeId, term: Term, body: MessageBody) -> Message {
    Message {
        from,
        to,
        term,
        body,
    }
}

/// An AppendEntries carrying `entries`.
pub fn append(
    from: NodeId,
    to: NodeId,
    term: Term,
    prev: (Index, Term),
    entries: Vec<Entry>,
    leader_commit: Index,
) -> Message {
    message(
        from,
        to,
        term,
        MessageBody::AppendEntries {
            prev_log_index: prev.0,
            prev_log_term: prev.1,
            entries,
            leader_commit,
        },
    )
}

/// A successful AppendEntries reply up to `match_index`.
pub fn append_ok(from: NodeId, to: NodeId, term: Term, match_index: Index) -> Message {
    message(
        from,
        to,
        term,
        MessageBody::AppendEntriesResponse {
            success: true,
            match_index,
            conflict: None,
        },
    )
}

/// A rejected AppendEntries reply with a conflict hint.
pub fn append_rejected(
    from: NodeId,
    to: NodeId,
    term: Term,
    hint: Option<ConflictHint>,
) -> Message {
    message(
        from,
        to,
        term,
        MessageBody::AppendEntriesResponse {
            success: false,
            match_index: 0,
            conflict: hint,
        },
    )
}

/// A heartbeat carrying `commit_index` and `read_seq`.
pub fn heartbeat(
    from: NodeId,
    to: NodeId,
    term: Term,
    commit_index: Index,
    read_seq: u64,
) -> Message {
    message(
        from,
        to,
        term,
        MessageBody::Heartbeat {
            commit_index,
            read_seq,
        },
    )
}

/// A heartbeat reply echoing `read_seq`.
pub fn heartbeat_ok(
    from: NodeId,
    to: NodeId,
    term: Term,
    read_seq: u64,
    last_log_index: Index,
) -> Message {
    message(
        from,
        to,
        term,
        MessageBody::HeartbeatResponse {
            read_seq,
            last_log_index,
        },
    )
}

/// A RequestVote for a candidate whose log ends at `last` = (index, term).
pub fn request_vote(
    from: NodeId,
    to: NodeId,
    term: Term,
    last: (Index, Term),
    transfer: bool,
) -> Message {
    message(
        from,
        to,
        term,
        MessageBody::RequestVote {
            last_log_index: last.0,
            last_log_term: last.1,
            transfer,
        },
    )
}

/// A PreVote for the hypothetical `term`.
pub fn pre_vote(from: NodeId, to: NodeId, term: Term, last: (Index, Term)) -> Message {
    message(
        from,
        to,
        term,
        MessageBody::PreVote {
            last_log_index: last.0,
            last_log_term: last.1,
        },
    )
}

/// The AppendEntries among `messages`, as (to, prev_log_index,
/// prev_log_term, entry indexes, leader_commit), in sending order.
pub fn appends_sent(messages: &[Message]) -> Vec<(NodeId, Index, Term, Vec<Index>, Index)> {
    messages
        .iter()
        .filter_map(|sent| match &sent.body {
            MessageBody::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => Some((
                sent.to,
                *prev_log_index,
                *prev_log_term,
                entries.iter().map(|entry| entry.index).collect(),
                *leader_commit,
            )),
            _ => None,
        })
        .collect()
}

/// The heartbeats among `messages`, as (to, commit_index, read_seq).
pub fn heartbeats_sent(messages: &[Message]) -> Vec<(NodeId, Index, u64)> {
    messages
        .iter()
        .filter_map(|sent| match sent.body {
            MessageBody::Heartbeat {
                commit_index,
                read_seq,
            } => Some((sent.to, commit_index, read_seq)),
            _ => None,
        })
        .collect()
}
