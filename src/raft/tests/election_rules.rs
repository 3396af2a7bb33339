//! Election rules: paper Figure 2 ("RequestVote RPC", "Rules for Servers":
//! all servers, followers, candidates), §5.2, §5.4.1, plus pre-vote
//! (thesis §9.6) and the check-quorum leader lease (thesis §4.2.3).
//!
//! Each test drives node 1 directly and asserts the exact `Ready` it returns.

use super::fixtures::*;
use crate::raft::{HardState, Index, MessageBody, NodeId, RaftConfig, Ready, Role, Status, Term};

fn vote_response(to: NodeId, term: Term, granted: bool) -> Ready {
    Ready {
        messages: vec![message(
            1,
            to,
            term,
            MessageBody::RequestVoteResponse { granted },
        )],
        ..Ready::default()
    }
}

fn term_and_vote(status: &Status) -> (Term, Option<NodeId>) {
    (status.term, status.voted_for)
}

/// Figure 2, RequestVote receiver: (1) reply false if term < currentTerm;
/// (2) grant if votedFor is null or candidateId and the candidate's log is at
/// least as up-to-date (§5.4.1: compare last terms, then lengths). A higher
/// term is adopted first and clears the vote; the new term and vote are in
/// the same Ready as the response, so they are durable before it leaves.
#[test]
fn request_vote_is_granted_once_per_term_to_an_up_to_date_candidate() {
    struct Case {
        name: &'static str,
        term: Term,
        voted_for: Option<NodeId>,
        log: &'static [Term],
        request_term: Term,
        candidate_last: (Index, Term),
        granted: bool,
        /// (term, voted_for) afterwards; also what must be persisted if it changed.
        after: (Term, Option<NodeId>),
    }
    let cases = [
        Case {
            name: "empty logs, first vote",
            term: 0,
            voted_for: None,
            log: &[],
            request_term: 1,
            candidate_last: (0, 0),
            granted: true,
            after: (1, Some(2)),
        },
        Case {
            name: "equal logs, first vote of a new term",
            term: 1,
            voted_for: None,
            log: &[1],
            request_term: 2,
            candidate_last: (1, 1),
            granted: true,
            after: (2, Some(2)),
        },
        Case {
            name: "repeated request from the candidate already voted for",
            term: 2,
            voted_for: Some(2),
            log: &[1],
            request_term: 2,
            candidate_last: (1, 1),
            granted: true,
            after: (2, Some(2)),
        },
        Case {
            name: "second candidate in the same term",
            term: 2,
            voted_for: Some(3),
            log: &[1],
            request_term: 2,
            candidate_last: (1, 1),
            granted: false,
            after: (2, Some(3)),
        },
        Case {
            name: "lower term, even with a better log",
            term: 3,
            voted_for: None,
            log: &[1],
            request_term: 2,
            candidate_last: (5, 2),
            granted: false,
            after: (3, None),
        },
        Case {
            name: "higher term clears the vote of the old term",
            term: 2,
            voted_for: Some(3),
            log: &[1],
            request_term: 3,
            candidate_last: (1, 1),
            granted: true,
            after: (3, Some(2)),
        },
        Case {
            name: "higher term adopted even when the vote is refused",
            term: 2,
            voted_for: Some(3),
            log: &[2],
            request_term: 3,
            candidate_last: (1, 1),
            granted: false,
            after: (3, None),
        },
        Case {
            name: "older last term loses despite a longer log",
            term: 2,
            voted_for: None,
            log: &[1, 2],
            request_term: 3,
            candidate_last: (5, 1),
            granted: false,
            after: (3, None),
        },
        Case {
            name: "newer last term wins despite a shorter log",
            term: 2,
            voted_for: None,
            log: &[1, 1, 1],
            request_term: 3,
            candidate_last: (1, 2),
            granted: true,
            after: (3, Some(2)),
        },
        Case {
            name: "same last term, shorter log loses",
            term: 2,
            voted_for: None,
            log: &[1, 1],
            request_term: 3,
            candidate_last: (1, 1),
            granted: false,
            after: (3, None),
        },
        Case {
            name: "same last term, same length wins",
            term: 2,
            voted_for: None,
            log: &[1, 1],
            request_term: 3,
            candidate_last: (2, 1),
            granted: true,
            after: (3, Some(2)),
        },
        Case {
            name: "same last term, longer log wins",
            term: 2,
            voted_for: None,
            log: &[1, 1],
            request_term: 3,
            candidate_last: (3, 1),
            granted: true,
            after: (3, Some(2)),
        },
    ];
    for case in cases {
        let mut node = node3(RaftConfig::default(), case.term, case.voted_for, case.log);
        node.step(request_vote(
            2,
            1,
            case.request_term,
            case.candidate_last,
            false,
        ));
        let changed = case.after != (case.term, case.voted_for);
        let expected = Ready {
            hard_state: changed.then_some(HardState {
                term: case.after.0,
                voted_for: case.after.1,
            }),
            ..vote_response(2, case.after.0, case.granted)
        };
        assert_eq!(node.take_ready(), expected, "{}", case.name);
        assert_eq!(term_and_vote(&node.status()), case.after, "{}", case.name);
        assert_eq!(node.status().role, Role::Follower, "{}", case.name);
    }
}

/// A candidate has voted for itself, and a leader never votes, in their term.
#[test]
fn candidate_and_leader_refuse_votes_in_their_own_term() {
    let mut candidate = node3(config(false, false), 1, None, &[1]);
    tick_until_campaign(&mut candidate);
    candidate.step(request_vote(2, 1, 2, (5, 1), false));
    assert_eq!(candidate.take_ready(), vote_response(2, 2, false));
    assert_eq!(candidate.status().role, Role::Candidate);

    let mut leader = node3(config(false, false), 1, None, &[1]);
    elect(&mut leader);
    leader.step(request_vote(2, 1, 2, (5, 2), false));
    assert_eq!(leader.take_ready(), vote_response(2, 2, false));
    assert_eq!(leader.status().role, Role::Leader);
}

/// Figure 2, candidates: on conversion, increment currentTerm, vote for self
/// and send RequestVote to all others — with the new term and vote in the
/// same Ready. With pre-vote, the timeout first sends PreVotes for term + 1
/// and changes neither term nor vote.
#[test]
fn election_timeout_starts_a_campaign_with_its_state_persisted() {
    struct Case {
        name: &'static str,
        pre_vote: bool,
        role: Role,
        hard_state: Option<HardState>,
        body: MessageBody,
        message_term: Term,
    }
    let cases = [
        Case {
            name: "real election",
            pre_vote: false,
            role: Role::Candidate,
            hard_state: Some(HardState {
                term: 2,
                voted_for: Some(1),
            }),
            body: MessageBody::RequestVote {
                last_log_index: 2,
                last_log_term: 1,
                transfer: false,
            },
            message_term: 2,
        },
        Case {
            name: "pre-vote",
            pre_vote: true,
            role: Role::PreCandidate,
            hard_state: None,
            body: MessageBody::PreVote {
                last_log_index: 2,
                last_log_term: 1,
            },
            message_term: 2,
        },
    ];
    for case in cases {
        let mut node = node3(config(case.pre_vote, true), 1, None, &[1, 1]);
        let expected = Ready {
            hard_state: case.hard_state,
            messages: vec![
                message(1, 2, case.message_term, case.body.clone()),
                message(1, 3, case.message_term, case.body.clone()),
            ],
            ..Ready::default()
        };
        assert_eq!(tick_until_campaign(&mut node), expected, "{}", case.name);
        let status = node.status();
        assert_eq!(status.role, case.role, "{}", case.name);
        let persisted = case.hard_state.unwrap_or(HardState {
            term: 1,
            voted_for: None,
        });
        assert_eq!(
            term_and_vote(&status),
            (persisted.term, persisted.voted_for),
            "{}",
            case.name
        );
    }
}

/// A majority of pre-votes turns the pre-candidate into a candidate, which
/// raises its term, votes for itself and persists both with its RequestVotes.
#[test]
fn pre_vote_majority_starts_the_real_election() {
    let mut node = node3(config(true, true), 1, None, &[1, 1]);
    tick_until_campaign(&mut node);
    node.step(message(
        2,
        1,
        2,
        MessageBody::PreVoteResponse { granted: true },
    ));
    let body = MessageBody::RequestVote {
        last_log_index: 2,
        last_log_term: 1,
        transfer: false,
    };
    let expected = Ready {
        hard_state: Some(HardState {
            term: 2,
            voted_for: Some(1),
        }),
        messages: vec![
            message(1, 2, 2, body.clone()),
            message(1, 3, 2, body.clone()),
        ],
        ..Ready::default()
    };
    assert_eq!(node.take_ready(), expected);
    assert_eq!(node.status().role, Role::Candidate);
}

/// Thesis §9.6: a pre-vote is granted for a term above ours to an up-to-date
/// log when we have not heard from a leader lately; granting or refusing it
/// changes neither our term nor our vote, and nothing is persisted.
#[test]
fn pre_vote_answers_without_changing_term_or_vote() {
    struct Case {
        name: &'static str,
        /// Whether node 1 heard a heartbeat from leader 3 just before.
        heard_leader: bool,
        pre_vote_term: Term,
        candidate_last: (Index, Term),
        granted: bool,
        reply_term: Term,
    }
    let cases = [
        Case {
            name: "up-to-date candidate, no leader heard",
            heard_leader: false,
            pre_vote_term: 3,
            candidate_last: (2, 2),
            granted: true,
            reply_term: 3,
        },
        Case {
            name: "pre-vote for a far higher term",
            heard_leader: false,
            pre_vote_term: 9,
            candidate_last: (2, 2),
            granted: true,
            reply_term: 9,
        },
        Case {
            name: "stale log",
            heard_leader: false,
            pre_vote_term: 3,
            candidate_last: (5, 1),
            granted: false,
            reply_term: 2,
        },
        Case {
            name: "term not above ours",
            heard_leader: false,
            pre_vote_term: 2,
            candidate_last: (2, 2),
            granted: false,
            reply_term: 2,
        },
        Case {
            name: "term below ours",
            heard_leader: false,
            pre_vote_term: 1,
            candidate_last: (2, 2),
            granted: false,
            reply_term: 2,
        },
        Case {
            name: "inside the leader lease",
            heard_leader: true,
            pre_vote_term: 3,
            candidate_last: (2, 2),
            granted: false,
            reply_term: 2,
        },
    ];
    for case in cases {
        let mut node = node3(config(true, true), 2, Some(3), &[1, 2]);
        if case.heard_leader {
            node.step(heartbeat(3, 1, 2, 0, 0));
            node.take_ready();
        }
        node.step(pre_vote(2, 1, case.pre_vote_term, case.candidate_last));
        let expected = Ready {
            messages: vec![message(
                1,
                2,
                case.reply_term,
                MessageBody::PreVoteResponse {
                    granted: case.granted,
                },
            )],
            ..Ready::default()
        };
        assert_eq!(node.take_ready(), expected, "{}", case.name);
        assert_eq!(term_and_vote(&node.status()), (2, Some(3)), "{}", case.name);
        assert_eq!(node.status().role, Role::Follower, "{}", case.name);
    }
}

/// A configuration whose election timeouts are long enough that node 1 does
/// not campaign itself while a test waits out the minimum timeout.
fn slow_timeout_config(check_quorum: bool) -> RaftConfig {
    RaftConfig {
        election_timeout_max_ticks: 1_000,
        ..config(true, check_quorum)
    }
}

/// The leader lease ends `election_timeout_min_ticks` after the last message
/// from the leader; from then on a pre-vote is granted.
#[test]
fn pre_vote_is_granted_once_the_leader_lease_expires() {
    let mut node = node3(slow_timeout_config(true), 2, None, &[1]);
    node.step(heartbeat(3, 1, 2, 0, 0));
    node.take_ready();
    let min = node.config().election_timeout_min_ticks;
    tick_n(&mut node, min - 1);
    node.step(pre_vote(2, 1, 3, (1, 1)));
    let refused = node.take_ready();
    assert_eq!(
        refused.messages,
        vec![message(
            1,
            2,
            2,
            MessageBody::PreVoteResponse { granted: false }
        )]
    );
    tick_n(&mut node, 1);
    assert_eq!(node.status().role, Role::Follower);
    node.step(pre_vote(2, 1, 3, (1, 1)));
    let granted = node.take_ready();
    assert_eq!(
        granted.messages,
        vec![message(
            1,
            2,
            3,
            MessageBody::PreVoteResponse { granted: true }
        )]
    );
}

/// Thesis §4.2.3: with check-quorum, a follower that heard from its leader
/// within the minimum election timeout ignores a RequestVote of a higher
/// term entirely (no term change, no reply) — unless the leader itself asked
/// for the election (`transfer`), or the lease has run out.
#[test]
fn leader_lease_ignores_disruptive_request_vote() {
    struct Case {
        name: &'static str,
        check_quorum: bool,
        transfer: bool,
        ticks_after_heartbeat: u32,
        expected: Ready,
        after: (Term, Option<NodeId>),
    }
    let granted = Ready {
        hard_state: Some(HardState {
            term: 3,
            voted_for: Some(2),
        }),
        ..vote_response(2, 3, true)
    };
    let cases = [
        Case {
            name: "lease holds",
            check_quorum: true,
            transfer: false,
            ticks_after_heartbeat: 0,
            expected: Ready::default(),
            after: (2, None),
        },
        Case {
            name: "lease holds until the last tick",
            check_quorum: true,
            transfer: false,
            ticks_after_heartbeat: 14,
            expected: Ready::default(),
            after: (2, None),
        },
        Case {
            name: "leadership transfer passes the lease",
            check_quorum: true,
            transfer: true,
            ticks_after_heartbeat: 0,
            expected: granted.clone(),
            after: (3, Some(2)),
        },
        Case {
            name: "no lease without check-quorum",
            check_quorum: false,
            transfer: false,
            ticks_after_heartbeat: 0,
            expected: granted.clone(),
            after: (3, Some(2)),
        },
        Case {
            name: "lease expired",
            check_quorum: true,
            transfer: false,
            ticks_after_heartbeat: 15,
            expected: granted.clone(),
            after: (3, Some(2)),
        },
    ];
    for case in cases {
        let mut node = node3(slow_timeout_config(case.check_quorum), 2, None, &[1]);
        assert_eq!(node.config().election_timeout_min_ticks, 15);
        node.step(heartbeat(3, 1, 2, 0, 0));
        node.take_ready();
        tick_n(&mut node, case.ticks_after_heartbeat);
        node.step(request_vote(2, 1, 3, (1, 1), case.transfer));
        assert_eq!(node.take_ready(), case.expected, "{}", case.name);
        assert_eq!(term_and_vote(&node.status()), case.after, "{}", case.name);
    }
}

/// Figure 2, candidates: if AppendEntries is received from a new leader,
/// convert to follower. A heartbeat of the candidate's term is as good, and a
/// pre-candidate (which has not raised its term) gives up the same way.
#[test]
fn candidate_steps_down_for_a_leader_of_its_term() {
    struct Case {
        name: &'static str,
        pre_vote: bool,
        body: MessageBody,
        reply: MessageBody,
    }
    let append = MessageBody::AppendEntries {
        prev_log_index: 1,
        prev_log_term: 1,
        entries: vec![],
        leader_commit: 0,
    };
    let append_reply = MessageBody::AppendEntriesResponse {
        success: true,
        match_index: 1,
        conflict: None,
    };
    let beat = MessageBody::Heartbeat {
        commit_index: 0,
        read_seq: 4,
    };
    let beat_reply = MessageBody::HeartbeatResponse {
        read_seq: 4,
        last_log_index: 1,
    };
    let cases = [
        Case {
            name: "candidate, append",
            pre_vote: false,
            body: append.clone(),
            reply: append_reply.clone(),
        },
        Case {
            name: "candidate, heartbeat",
            pre_vote: false,
            body: beat.clone(),
            reply: beat_reply.clone(),
        },
        Case {
            name: "pre-candidate, append",
            pre_vote: true,
            body: append.clone(),
            reply: append_reply.clone(),
        },
        Case {
            name: "pre-candidate, heartbeat",
            pre_vote: true,
            body: beat.clone(),
            reply: beat_reply.clone(),
        },
    ];
    for case in cases {
        let mut node = node3(config(case.pre_vote, true), 1, None, &[1]);
        tick_until_campaign(&mut node);
        let term = node.status().term;
        node.step(message(3, 1, term, case.body));
        let expected = Ready {
            messages: vec![message(1, 3, term, case.reply)],
            ..Ready::default()
        };
        assert_eq!(node.take_ready(), expected, "{}", case.name);
        let status = node.status();
        assert_eq!(status.role, Role::Follower, "{}", case.name);
        assert_eq!(status.leader, Some(3), "{}", case.name);
        assert_eq!(status.term, term, "{}", case.name);
    }
}

/// Figure 2, candidates: votes from a majority make a leader; refusals from
/// a majority end the election (back to follower, same term, vote kept, so
/// no second vote in this term). Duplicate answers count once.
#[test]
fn votes_are_tallied_by_majority() {
    struct Case {
        name: &'static str,
        voters: &'static [NodeId],
        pre_vote: bool,
        answers: &'static [(NodeId, bool)],
        role: Role,
        /// (term, voted_for) afterwards, from a start at term 1 with no vote.
        after: (Term, Option<NodeId>),
    }
    const THREE: &[NodeId] = &[1, 2, 3];
    const FIVE: &[NodeId] = &[1, 2, 3, 4, 5];
    let cases = [
        Case {
            name: "3 nodes, one grant wins",
            voters: THREE,
            pre_vote: false,
            answers: &[(2, true)],
            role: Role::Leader,
            after: (2, Some(1)),
        },
        Case {
            name: "3 nodes, one refusal keeps campaigning",
            voters: THREE,
            pre_vote: false,
            answers: &[(2, false)],
            role: Role::Candidate,
            after: (2, Some(1)),
        },
        Case {
            name: "3 nodes, two refusals lose",
            voters: THREE,
            pre_vote: false,
            answers: &[(2, false), (3, false)],
            role: Role::Follower,
            after: (2, Some(1)),
        },
        Case {
            name: "5 nodes, a repeated grant counts once",
            voters: FIVE,
            pre_vote: false,
            answers: &[(2, true), (2, true)],
            role: Role::Candidate,
            after: (2, Some(1)),
        },
        Case {
            name: "5 nodes, two refusals and a grant keep campaigning",
            voters: FIVE,
            pre_vote: false,
            answers: &[(2, false), (3, false), (4, true)],
            role: Role::Candidate,
            after: (2, Some(1)),
        },
        Case {
            name: "5 nodes, two grants win",
            voters: FIVE,
            pre_vote: false,
            answers: &[(2, false), (3, true), (4, true)],
            role: Role::Leader,
            after: (2, Some(1)),
        },
        Case {
            name: "5 nodes, three refusals lose",
            voters: FIVE,
            pre_vote: false,
            answers: &[(2, false), (3, false), (4, false)],
            role: Role::Follower,
            after: (2, Some(1)),
        },
        Case {
            name: "pre-vote, 3 nodes, two refusals lose without a term change",
            voters: THREE,
            pre_vote: true,
            answers: &[(2, false), (3, false)],
            role: Role::Follower,
            after: (1, None),
        },
        Case {
            name: "pre-vote, 5 nodes, two grants start the election",
            voters: FIVE,
            pre_vote: true,
            answers: &[(2, true), (3, true)],
            role: Role::Candidate,
            after: (2, Some(1)),
        },
    ];
    for case in cases {
        let mut node = node(1, case.voters, config(case.pre_vote, true), 1, None, &[1]);
        tick_until_campaign(&mut node);
        for (from, granted) in case.answers {
            let body = if case.pre_vote {
                MessageBody::PreVoteResponse { granted: *granted }
            } else {
                MessageBody::RequestVoteResponse { granted: *granted }
            };
            // A granted pre-vote echoes the pre-vote's term; a refusal carries the voter's.
            let term = if case.pre_vote && *granted {
                2
            } else {
                node.status().term
            };
            node.step(message(*from, 1, term, body));
        }
        let status = node.status();
        assert_eq!(status.role, case.role, "{}", case.name);
        assert_eq!(term_and_vote(&status), case.after, "{}", case.name);
        if case.role == Role::Follower {
            assert_eq!(status.leader, None, "{}", case.name);
        }
    }
}

/// Figure 2, all servers: if an RPC request or response contains a term
/// above currentTerm, set currentTerm to it (clearing the vote) and convert
/// to follower — persisted in the same Ready.
#[test]
fn higher_term_in_any_message_makes_a_leader_follow() {
    struct Case {
        name: &'static str,
        body: MessageBody,
        leader: Option<NodeId>,
    }
    let cases = [
        Case {
            name: "append response",
            body: MessageBody::AppendEntriesResponse {
                success: false,
                match_index: 0,
                conflict: None,
            },
            leader: None,
        },
        Case {
            name: "heartbeat response",
            body: MessageBody::HeartbeatResponse {
                read_seq: 0,
                last_log_index: 0,
            },
            leader: None,
        },
        Case {
            name: "vote response",
            body: MessageBody::RequestVoteResponse { granted: false },
            leader: None,
        },
        Case {
            name: "heartbeat from a newer leader",
            body: MessageBody::Heartbeat {
                commit_index: 0,
                read_seq: 0,
            },
            leader: Some(2),
        },
        Case {
            name: "append from a newer leader",
            body: MessageBody::AppendEntries {
                prev_log_index: 0,
                prev_log_term: 0,
                entries: vec![],
                leader_commit: 0,
            },
            leader: Some(2),
        },
    ];
    for case in cases {
        let mut node = node3(config(false, true), 1, None, &[1]);
        elect(&mut node);
        assert_eq!(node.status().term, 2);
        node.step(message(2, 1, 5, case.body));
        let ready = node.take_ready();
        assert_eq!(
            ready.hard_state,
            Some(HardState {
                term: 5,
                voted_for: None
            }),
            "{}",
            case.name
        );
        let status = node.status();
        assert_eq!(status.role, Role::Follower, "{}", case.name);
        assert_eq!(status.leader, case.leader, "{}", case.name);
        assert!(status.progress.is_empty(), "{}", case.name);
    }
}
