//! ReadIndex rules (thesis §6.4): a read is answered at the leader's commit
//! index once (1) the leader has committed an entry of its own term and
//! (2) a majority has acknowledged a heartbeat sent after the read arrived.
//! Reads in progress fail when the node stops leading.

use super::fixtures::*;
use crate::raft::{Index, NodeId, NotAccepted, RaftNode, ReadState, Ready, Role};

fn read(id: u64, index: Index) -> ReadState {
    ReadState { id, index }
}

/// Until its no-op commits, a new leader does not know the commit index of
/// earlier terms: the read waits, with no heartbeat round. Once the no-op
/// commits, the round goes out with the new read_seq, and the read is
/// answered at the no-op's index after a majority echoes it.
#[test]
fn read_waits_for_the_leaders_first_commit() {
    let mut node = node3(config(true, true), 1, None, &[1, 1]);
    elect(&mut node);
    node.read_index(7).unwrap();
    assert_eq!(node.take_ready(), Ready::default());

    node.step(append_ok(2, 1, 2, 3));
    let expected = Ready {
        messages: vec![heartbeat(1, 2, 2, 3, 1), heartbeat(1, 3, 2, 0, 1)],
        committed: vec![entry(1, 1), entry(2, 1), noop(3, 2)],
        ..Ready::default()
    };
    assert_eq!(node.take_ready(), expected);

    node.step(heartbeat_ok(2, 1, 2, 1, 3));
    let expected = Ready {
        reads: vec![read(7, 3)],
        ..Ready::default()
    };
    assert_eq!(node.take_ready(), expected);
}

/// A read is confirmed only by a majority (the leader included) echoing a
/// read_seq at least that of the read's round; stale echoes of earlier
/// heartbeats and repeats from one follower do not count.
#[test]
fn read_is_confirmed_by_a_majority_echoing_its_round() {
    struct Case {
        name: &'static str,
        acks: &'static [(NodeId, u64)],
        confirmed: bool,
    }
    let cases = [
        Case {
            name: "no answers",
            acks: &[],
            confirmed: false,
        },
        Case {
            name: "one follower of four",
            acks: &[(2, 1)],
            confirmed: false,
        },
        Case {
            name: "the same follower twice",
            acks: &[(2, 1), (2, 1)],
            confirmed: false,
        },
        Case {
            name: "echoes of a heartbeat older than the read",
            acks: &[(2, 0), (3, 0), (4, 0)],
            confirmed: false,
        },
        Case {
            name: "one stale echo, one current",
            acks: &[(2, 0), (3, 1)],
            confirmed: false,
        },
        Case {
            name: "two followers of four",
            acks: &[(2, 1), (3, 1)],
            confirmed: true,
        },
        Case {
            name: "every follower",
            acks: &[(2, 1), (3, 1), (4, 1), (5, 1)],
            confirmed: true,
        },
    ];
    for case in cases {
        let mut node = node(1, &[1, 2, 3, 4, 5], config(true, true), 1, None, &[]);
        let commit = elect_and_settle(&mut node);
        node.read_index(9).unwrap();
        let round = heartbeats_sent(&node.take_ready().messages);
        assert_eq!(
            round,
            vec![(2, 1, 1), (3, 1, 1), (4, 1, 1), (5, 1, 1)],
            "{}",
            case.name
        );
        let mut reads = Vec::new();
        for (from, read_seq) in case.acks {
            node.step(heartbeat_ok(*from, 1, 2, *read_seq, commit));
            reads.extend(node.take_ready().reads);
        }
        let expected = if case.confirmed {
            vec![read(9, commit)]
        } else {
            vec![]
        };
        assert_eq!(reads, expected, "{}", case.name);
    }
}

/// Reads that arrive between two `take_ready` calls share one round: one
/// heartbeat per follower, and one majority answers them all.
#[test]
fn reads_between_two_take_ready_share_one_round() {
    let mut node = node3(config(true, true), 1, None, &[]);
    elect_and_settle(&mut node);
    node.read_index(1).unwrap();
    node.read_index(2).unwrap();
    let expected = Ready {
        messages: vec![heartbeat(1, 2, 2, 1, 1), heartbeat(1, 3, 2, 1, 1)],
        ..Ready::default()
    };
    assert_eq!(node.take_ready(), expected);
    node.step(heartbeat_ok(3, 1, 2, 1, 1));
    assert_eq!(node.take_ready().reads, vec![read(1, 1), read(2, 1)]);
}

/// Rounds are ordered: an echo of round 1 confirms round 1 only, and an
/// echo of a later round confirms every earlier one too. Each read is
/// answered at the commit index it arrived at.
#[test]
fn later_rounds_confirm_earlier_ones() {
    struct Case {
        name: &'static str,
        acks: &'static [u64],
        reads: &'static [(u64, Index)],
    }
    let cases = [
        Case {
            name: "round 1 echoed",
            acks: &[1],
            reads: &[(10, 1)],
        },
        Case {
            name: "rounds 1 then 2 echoed",
            acks: &[1, 2],
            reads: &[(10, 1), (20, 2)],
        },
        Case {
            name: "round 2 echoed alone",
            acks: &[2],
            reads: &[(10, 1), (20, 2)],
        },
    ];
    for case in cases {
        let mut node = node3(config(true, true), 1, None, &[]);
        elect_and_settle(&mut node);
        node.read_index(10).unwrap();
        node.take_ready();
        node.propose(b"a".to_vec()).unwrap();
        node.take_ready();
        node.step(append_ok(2, 1, 2, 2));
        assert_eq!(node.status().commit_index, 2, "{}", case.name);
        node.read_index(20).unwrap();
        let round = heartbeats_sent(&node.take_ready().messages);
        assert_eq!(round, vec![(2, 2, 2), (3, 1, 2)], "{}", case.name);
        let mut reads = Vec::new();
        for read_seq in case.acks {
            node.step(heartbeat_ok(3, 1, 2, *read_seq, 2));
            reads.extend(node.take_ready().reads);
        }
        let expected: Vec<ReadState> = case
            .reads
            .iter()
            .map(|(id, index)| read(*id, *index))
            .collect();
        assert_eq!(reads, expected, "{}", case.name);
    }
}

/// How a leader loses office in the step-down table.
#[derive(Clone, Copy, Debug)]
enum StepDown {
    /// A heartbeat from the leader of a higher term.
    NewerLeader,
    /// A vote request the leader itself asked for (leadership transfer).
    TransferVote,
    /// Check-quorum: no answers for election timeouts.
    SilentMajority,
}

fn step_down(node: &mut RaftNode, how: StepDown) -> Ready {
    match how {
        StepDown::NewerLeader => node.step(heartbeat(2, 1, 3, 0, 0)),
        StepDown::TransferVote => node.step(request_vote(2, 1, 3, (9, 9), true)),
        StepDown::SilentMajority => {
            let limit = 4 * node.config().election_timeout_min_ticks;
            let mut merged = Ready::default();
            for _ in 0..limit {
                let ready = tick_n(node, 1);
                merged.failed_reads.extend(ready.failed_reads);
                if node.status().role != Role::Leader {
                    return merged;
                }
            }
            panic!("leader never stepped down");
        }
    }
    node.take_ready()
}

/// A read in progress — waiting for the no-op to commit or for its round's
/// majority — fails when the leader steps down, whatever the cause, so the
/// caller can retry it elsewhere; the node then refuses new reads.
#[test]
fn reads_in_progress_fail_on_step_down() {
    struct Case {
        name: &'static str,
        /// Whether the no-op has committed before the read arrives.
        settled: bool,
        how: StepDown,
    }
    let cases = [
        Case {
            name: "awaiting the no-op, newer leader",
            settled: false,
            how: StepDown::NewerLeader,
        },
        Case {
            name: "awaiting the no-op, transfer vote",
            settled: false,
            how: StepDown::TransferVote,
        },
        Case {
            name: "awaiting the no-op, silent majority",
            settled: false,
            how: StepDown::SilentMajority,
        },
        Case {
            name: "awaiting its round, newer leader",
            settled: true,
            how: StepDown::NewerLeader,
        },
        Case {
            name: "awaiting its round, transfer vote",
            settled: true,
            how: StepDown::TransferVote,
        },
        Case {
            name: "awaiting its round, silent majority",
            settled: true,
            how: StepDown::SilentMajority,
        },
    ];
    for case in cases {
        let mut node = node3(config(true, true), 1, None, &[]);
        if case.settled {
            elect_and_settle(&mut node);
        } else {
            elect(&mut node);
        }
        node.read_index(5).unwrap();
        node.take_ready();
        let ready = step_down(&mut node, case.how);
        assert_eq!(
            ready.failed_reads,
            vec![5],
            "{} ({:?})",
            case.name,
            case.how
        );
        assert!(ready.reads.is_empty(), "{}", case.name);
        assert_ne!(node.status().role, Role::Leader, "{}", case.name);
        assert!(
            matches!(node.read_index(6), Err(NotAccepted::NotLeader { .. })),
            "{}",
            case.name
        );
        // Late echoes of the old round confirm nothing.
        let term = node.status().term;
        node.step(heartbeat_ok(3, 1, term, 1, 1));
        assert!(node.take_ready().reads.is_empty(), "{}", case.name);
    }
}

/// Only the leader serves reads; others name the leader they know.
#[test]
fn followers_refuse_reads_naming_the_leader() {
    let mut node = node3(config(true, true), 1, None, &[]);
    assert_eq!(
        node.read_index(1),
        Err(NotAccepted::NotLeader { leader: None })
    );
    node.step(heartbeat(2, 1, 1, 0, 0));
    assert_eq!(
        node.read_index(1),
        Err(NotAccepted::NotLeader { leader: Some(2) })
    );
}

/// A cluster of one is its own majority: a read is confirmed at once.
#[test]
fn single_node_confirms_reads_at_once() {
    let mut node = node(1, &[1], config(true, true), 1, None, &[1]);
    tick_until_campaign(&mut node);
    assert_eq!(node.status().role, Role::Leader);
    node.read_index(4).unwrap();
    let expected = Ready {
        reads: vec![read(4, 2)],
        ..Ready::default()
    };
    assert_eq!(node.take_ready(), expected);
}

/// A driver calls `take_ready` only when `has_ready` says there is work, so
/// a read that needs its heartbeat round broadcast must show as work — or
/// it waits for the next heartbeat tick, and on a single node, forever.
#[test]
fn a_registered_read_makes_the_node_ready() {
    struct Case {
        name: &'static str,
        voters: &'static [NodeId],
    }
    let cases = [
        Case {
            name: "single node",
            voters: &[1],
        },
        Case {
            name: "three nodes",
            voters: &[1, 2, 3],
        },
    ];
    for case in cases {
        let mut node = node(1, case.voters, config(true, true), 1, None, &[]);
        elect_and_settle(&mut node);
        assert!(!node.has_ready(), "{}: idle leader", case.name);
        node.read_index(1).unwrap();
        assert!(node.has_ready(), "{}: read registered", case.name);
        let ready = node.take_ready();
        assert!(
            !ready.reads.is_empty() || !ready.messages.is_empty(),
            "{}",
            case.name
        );
    }
}
