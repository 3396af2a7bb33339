//! Leader rules: paper Figure 2 ("Rules for Servers", leaders), §5.3 and
//! §5.4.2 (the Figure 8 commitment rule), plus pipelining and lost-append
//! retries (flow control), fast back-off by conflict hints, and check-quorum
//! (thesis §6.2).
//!
//! Node 1 is the leader; every test builds it from storage and walks it
//! through an election with `elect`.

use super::fixtures::*;
use crate::raft::{
    ConflictHint, Entry, Index, InjectedBugs, MessageBody, NodeId, Payload, RaftConfig, Ready,
    Role, Term,
};

fn command(index: Index, term: Term, bytes: &[u8]) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command(bytes.to_vec()),
    }
}

/// Figure 2, leaders: upon election, send initial AppendEntries to each
/// server. Here that carries the no-op of the new term (§8), appended after
/// the last entry and persisted in the same Ready; nothing is committed yet.
#[test]
fn new_leader_appends_and_sends_a_noop() {
    let mut node = node3(config(true, true), 1, None, &[1, 1]);
    let ready = elect(&mut node);
    let noop = noop(3, 2);
    let expected = Ready {
        entries: vec![noop.clone()],
        messages: vec![
            append(1, 2, 2, (2, 1), vec![noop.clone()], 0),
            append(1, 3, 2, (2, 1), vec![noop.clone()], 0),
        ],
        ..Ready::default()
    };
    assert_eq!(ready, expected);
    let status = node.status();
    assert_eq!((status.term, status.leader), (2, Some(1)));
    assert_eq!(status.commit_index, 0);
    assert_eq!(
        status.progress.into_iter().collect::<Vec<_>>(),
        vec![(2, (0, 3)), (3, (0, 3))]
    );
}

/// A cluster of one elects itself and commits its no-op alone.
#[test]
fn single_node_elects_itself_and_commits_alone() {
    let mut node = node(1, &[1], config(true, true), 1, None, &[1]);
    let ready = tick_until_campaign(&mut node);
    assert_eq!(node.status().role, Role::Leader);
    let expected = Ready {
        hard_state: Some(crate::raft::HardState {
            term: 2,
            voted_for: Some(1),
        }),
        entries: vec![noop(2, 2)],
        committed: vec![entry(1, 1), noop(2, 2)],
        ..Ready::default()
    };
    assert_eq!(ready, expected);
    let (index, term) = node.propose(b"x".to_vec()).unwrap();
    let expected = Ready {
        entries: vec![command(3, 2, b"x")],
        committed: vec![command(3, 2, b"x")],
        ..Ready::default()
    };
    assert_eq!((index, term), (3, 2));
    assert_eq!(node.take_ready(), expected);
}

/// §5.4.2 / Figure 8: a leader commits only entries of its own term by
/// counting replicas; an older-term entry on a majority is not committed
/// until an entry of the current term above it is. Set up by hand: node 1
/// holds index 2 from term 2, wins term 4 in a cluster of five, and gets
/// index 2 (but not its no-op at 3) onto two followers — a majority.
/// The injected bug `commit_old_term_by_counting` shows the test can fail.
#[test]
fn only_current_term_entries_commit_by_counting() {
    struct Case {
        name: &'static str,
        bug: bool,
        /// Commit index once a majority holds index 2 (term 2).
        commit_at_old_majority: Index,
    }
    let cases = [
        Case {
            name: "correct",
            bug: false,
            commit_at_old_majority: 0,
        },
        Case {
            name: "with the Figure 8 bug injected",
            bug: true,
            commit_at_old_majority: 2,
        },
    ];
    for case in cases {
        let config = RaftConfig {
            max_entries_per_append: 1,
            ..config(false, true)
        };
        let mut node = node(1, &[1, 2, 3, 4, 5], config, 3, None, &[1, 2]);
        node.inject_bugs(InjectedBugs {
            commit_old_term_by_counting: case.bug,
            ..InjectedBugs::default()
        });
        elect(&mut node);
        assert_eq!(node.status().term, 4, "{}", case.name);
        // Followers 2 and 3 hold only index 1: they reject the no-op and
        // receive index 2 alone.
        for peer in [2, 3] {
            let hint = ConflictHint {
                term: None,
                index: 2,
            };
            node.step(append_rejected(peer, 1, 4, Some(hint)));
            let ready = node.take_ready();
            assert_eq!(
                appends_sent(&ready.messages),
                vec![(peer, 1, 1, vec![2], 0)],
                "{}",
                case.name
            );
        }
        for peer in [2, 3] {
            node.step(append_ok(peer, 1, 4, 2));
        }
        let ready = node.take_ready();
        let expect = case.commit_at_old_majority;
        assert_eq!(node.status().commit_index, expect, "{}", case.name);
        assert_eq!(
            ready.committed,
            log_of(&[1, 2])[..expect as usize].to_vec(),
            "{}",
            case.name
        );
        // The no-op reaches follower 2: leader and two followers hold index
        // 3 in their logs, but only two of them hold it -- no majority yet.
        node.step(append_ok(2, 1, 4, 3));
        assert_eq!(node.status().commit_index, expect, "{}", case.name);
        node.take_ready();
        // ...and follower 3: now index 3 of term 4 commits, and 1-2 with it.
        node.step(append_ok(3, 1, 4, 3));
        let ready = node.take_ready();
        assert_eq!(node.status().commit_index, 3, "{}", case.name);
        let mut all = log_of(&[1, 2]);
        all.push(noop(3, 4));
        assert_eq!(
            ready.committed,
            all[expect as usize..].to_vec(),
            "{}",
            case.name
        );
    }
}

/// Batching: proposals made between two `take_ready` calls leave in one
/// AppendEntries per follower, and are persisted in the same Ready.
#[test]
fn proposals_are_batched_into_one_append_per_follower() {
    let mut node = node3(config(true, true), 1, None, &[]);
    let commit = elect_and_settle(&mut node);
    assert_eq!(commit, 1);
    for (offset, bytes) in [b"a", b"b", b"c"].iter().enumerate() {
        let position = node.propose(bytes.to_vec()).unwrap();
        assert_eq!(position, (2 + offset as Index, 2));
    }
    let batch = vec![
        command(2, 2, b"a"),
        command(3, 2, b"b"),
        command(4, 2, b"c"),
    ];
    let expected = Ready {
        entries: batch.clone(),
        messages: vec![
            append(1, 2, 2, (1, 2), batch.clone(), 1),
            append(1, 3, 2, (1, 2), batch.clone(), 1),
        ],
        ..Ready::default()
    };
    assert_eq!(node.take_ready(), expected);
}

/// Flow control: a follower being probed gets one append at a time; once it
/// matches, appends are pipelined up to `max_inflight_appends`, and each
/// acknowledgement frees a slot for the next.
#[test]
fn appends_are_pipelined_up_to_the_inflight_limit() {
    let config = RaftConfig {
        max_inflight_appends: 3,
        max_entries_per_append: 1,
        ..config(true, true)
    };

    // Probing: the no-op is still unacknowledged, so nothing more leaves.
    let mut probing = node3(config.clone(), 1, None, &[]);
    elect(&mut probing);
    probing.propose(b"a".to_vec()).unwrap();
    probing.propose(b"b".to_vec()).unwrap();
    assert!(appends_sent(&probing.take_ready().messages).is_empty());
    probing.step(append_ok(2, 1, 2, 1));
    assert_eq!(
        appends_sent(&probing.take_ready().messages),
        vec![(2, 1, 2, vec![2], 1), (2, 2, 2, vec![3], 1)],
        "the acknowledged probe switches follower 2 to pipelining"
    );

    // Replicating: five proposals, three appends in flight per follower.
    let mut node = node3(config, 1, None, &[]);
    elect_and_settle(&mut node);
    for bytes in [b"a", b"b", b"c", b"d", b"e"] {
        node.propose(bytes.to_vec()).unwrap();
    }
    let ready = node.take_ready();
    assert_eq!(
        appends_sent(&ready.messages),
        vec![
            (2, 1, 2, vec![2], 1),
            (2, 2, 2, vec![3], 1),
            (2, 3, 2, vec![4], 1),
            (3, 1, 2, vec![2], 1),
            (3, 2, 2, vec![3], 1),
            (3, 3, 2, vec![4], 1),
        ]
    );
    // Follower 2 acknowledges index 2: one slot frees, index 5 leaves, and
    // index 2 commits (leader and follower 2 are a majority).
    node.step(append_ok(2, 1, 2, 2));
    let ready = node.take_ready();
    assert_eq!(appends_sent(&ready.messages), vec![(2, 4, 2, vec![5], 2)]);
    assert_eq!(ready.committed, vec![command(2, 2, b"a")]);
    // A duplicate acknowledgement frees nothing.
    node.step(append_ok(2, 1, 2, 2));
    assert!(appends_sent(&node.take_ready().messages).is_empty());
    // Acknowledging everything in flight sends the rest.
    node.step(append_ok(2, 1, 2, 5));
    let ready = node.take_ready();
    assert_eq!(appends_sent(&ready.messages), vec![(2, 5, 2, vec![6], 5)]);
}

/// The leader's view of a follower only moves forward: a stale
/// acknowledgement (reordered behind a newer one) changes nothing.
#[test]
fn match_index_never_decreases() {
    let mut node = node3(config(true, true), 1, None, &[]);
    elect_and_settle(&mut node);
    for bytes in [b"a", b"b", b"c"] {
        node.propose(bytes.to_vec()).unwrap();
    }
    node.take_ready();
    node.step(append_ok(2, 1, 2, 4));
    node.step(append_ok(2, 1, 2, 2));
    assert_eq!(node.status().progress[&2], (4, 5));
    assert_eq!(node.status().commit_index, 4);
}

/// Fast back-off (§5.3, end): after a rejection the leader probes again
/// from the hint, skipping a whole conflicting term per round trip, and
/// never beyond its own log. The leader's log is that of paper Figure 7,
/// plus its no-op (index 11, term 8).
#[test]
fn rejection_hint_moves_next_index_back_a_term_at_a_time() {
    struct Case {
        name: &'static str,
        hint: ConflictHint,
        /// (prev_log_index, prev_log_term) of the single probe that follows.
        probe_prev: (Index, Term),
    }
    let cases = [
        Case {
            name: "follower's log is short",
            hint: ConflictHint {
                term: None,
                index: 5,
            },
            probe_prev: (4, 4),
        },
        Case {
            name: "follower holds a term the leader lacks",
            hint: ConflictHint {
                term: Some(3),
                index: 7,
            },
            probe_prev: (6, 5),
        },
        Case {
            name: "follower holds more of a term the leader has",
            hint: ConflictHint {
                term: Some(5),
                index: 6,
            },
            probe_prev: (7, 5),
        },
        Case {
            name: "conflict from the first index",
            hint: ConflictHint {
                term: Some(2),
                index: 1,
            },
            probe_prev: (0, 0),
        },
        Case {
            name: "hint past the leader's log is capped",
            hint: ConflictHint {
                term: None,
                index: 40,
            },
            probe_prev: (11, 8),
        },
    ];
    const FIGURE_7_LEADER: &[Term] = &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    for case in cases {
        let mut node = node3(config(true, true), 7, None, FIGURE_7_LEADER);
        let ready = elect(&mut node);
        assert_eq!(
            appends_sent(&ready.messages)[0],
            (2, 10, 6, vec![11], 0),
            "{}",
            case.name
        );
        node.step(append_rejected(2, 1, 8, Some(case.hint)));
        let ready = node.take_ready();
        let sent = appends_sent(&ready.messages);
        assert_eq!(sent.len(), 1, "{}: one probe at a time", case.name);
        let (to, prev_index, prev_term, entries, _) = sent[0].clone();
        assert_eq!(to, 2, "{}", case.name);
        assert_eq!((prev_index, prev_term), case.probe_prev, "{}", case.name);
        let expected_entries: Vec<Index> = (prev_index + 1..=11).collect();
        assert_eq!(entries, expected_entries, "{}", case.name);
    }
}

/// Paper Figure 7: whatever a follower's log looks like, leader and
/// follower exchanging only AppendEntries converge to the leader's log,
/// with one rejection per conflicting term at most.
#[test]
fn figure_7_followers_converge_to_the_leader_log() {
    struct Case {
        name: &'static str,
        follower_log: &'static [Term],
        follower_term: Term,
        rejections: usize,
    }
    let cases = [
        Case {
            name: "(a) missing one entry",
            follower_log: &[1, 1, 1, 4, 4, 5, 5, 6, 6],
            follower_term: 6,
            rejections: 1,
        },
        Case {
            name: "(b) missing many entries",
            follower_log: &[1, 1, 1, 4],
            follower_term: 4,
            rejections: 1,
        },
        Case {
            name: "(c) one extra entry",
            follower_log: &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
            follower_term: 6,
            rejections: 0,
        },
        Case {
            name: "(d) extra entries of a later term",
            follower_log: &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
            follower_term: 7,
            rejections: 0,
        },
        Case {
            name: "(e) missing and extra entries",
            follower_log: &[1, 1, 1, 4, 4, 4, 4],
            follower_term: 4,
            rejections: 2,
        },
        Case {
            name: "(f) extra entries of terms the leader never saw",
            follower_log: &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
            follower_term: 3,
            rejections: 2,
        },
    ];
    const FIGURE_7_LEADER: &[Term] = &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    for case in cases {
        let mut leader = node3(config(true, true), 7, None, FIGURE_7_LEADER);
        let mut to_follower = elect(&mut leader).messages;
        let mut follower = node(
            2,
            &[1, 2, 3],
            config(true, true),
            case.follower_term,
            None,
            case.follower_log,
        );
        let mut rejections = 0;
        for _ in 0..20 {
            to_follower.retain(|sent| sent.to == 2);
            if to_follower.is_empty() {
                break;
            }
            for sent in to_follower.drain(..) {
                follower.step(sent);
            }
            for reply in follower.take_ready().messages {
                if let MessageBody::AppendEntriesResponse { success: false, .. } = reply.body {
                    rejections += 1;
                }
                leader.step(reply);
            }
            to_follower = leader.take_ready().messages;
        }
        assert_eq!(log_terms(&follower), log_terms(&leader), "{}", case.name);
        assert_eq!(rejections, case.rejections, "{}", case.name);
        assert_eq!(leader.status().commit_index, 11, "{}", case.name);
    }
}

/// Appends lost on the network are sent again once the follower has
/// acknowledged nothing for `append_retry_ticks`, from its match index.
#[test]
fn lost_appends_are_retried_after_append_retry_ticks() {
    let mut node = node3(config(true, true), 1, None, &[]);
    elect_and_settle(&mut node);
    node.propose(b"a".to_vec()).unwrap();
    node.propose(b"b".to_vec()).unwrap();
    node.take_ready(); // Both appends are lost.
    let retry = node.config().append_retry_ticks;
    let quiet = tick_n(&mut node, retry - 1);
    assert!(appends_sent(&quiet.messages).is_empty());
    let ready = tick_n(&mut node, 1);
    assert_eq!(
        appends_sent(&ready.messages),
        vec![(2, 1, 2, vec![2, 3], 1), (3, 1, 2, vec![2, 3], 1)]
    );
    // Follower 2 answers, follower 3's retry is lost again: only 3 is retried.
    node.step(append_ok(2, 1, 2, 3));
    node.take_ready();
    let quiet = tick_n(&mut node, retry - 1);
    assert!(appends_sent(&quiet.messages).is_empty());
    let ready = tick_n(&mut node, 1);
    assert_eq!(
        appends_sent(&ready.messages),
        vec![(3, 1, 2, vec![2, 3], 3)]
    );
}

/// Heartbeats cap the commit index they carry at what each follower is
/// known to hold, so a follower never commits an entry it has not checked.
#[test]
fn heartbeat_commit_is_capped_by_match_index() {
    let mut node = node3(config(true, true), 1, None, &[]);
    elect(&mut node);
    node.step(append_ok(2, 1, 2, 1));
    node.propose(b"a".to_vec()).unwrap();
    node.take_ready();
    node.step(append_ok(2, 1, 2, 2));
    node.take_ready();
    assert_eq!(node.status().commit_index, 2);
    let interval = node.config().heartbeat_interval_ticks;
    let ready = tick_n(&mut node, interval);
    assert_eq!(heartbeats_sent(&ready.messages), vec![(2, 2, 0), (3, 0, 0)]);
}

/// Check-quorum (thesis §6.2): a leader that hears from no majority during
/// a whole election timeout steps down; one that does stays, however long.
#[test]
fn check_quorum_deposes_a_leader_without_a_majority() {
    struct Case {
        name: &'static str,
        voters: &'static [NodeId],
        check_quorum: bool,
        /// Peers that answer every heartbeat.
        answering: &'static [NodeId],
        ticks: u32,
        role: Role,
    }
    const THREE: &[NodeId] = &[1, 2, 3];
    const FIVE: &[NodeId] = &[1, 2, 3, 4, 5];
    let cases = [
        Case {
            name: "silent peers, one tick short of the election timeout",
            voters: THREE,
            check_quorum: true,
            answering: &[],
            ticks: 14,
            role: Role::Leader,
        },
        Case {
            name: "silent peers for a whole election timeout",
            voters: THREE,
            check_quorum: true,
            answering: &[],
            ticks: 15,
            role: Role::Follower,
        },
        Case {
            name: "one answering peer of two is a majority",
            voters: THREE,
            check_quorum: true,
            answering: &[2],
            ticks: 150,
            role: Role::Leader,
        },
        Case {
            name: "one answering peer of four is not",
            voters: FIVE,
            check_quorum: true,
            answering: &[2],
            ticks: 15,
            role: Role::Follower,
        },
        Case {
            name: "two answering peers of four are",
            voters: FIVE,
            check_quorum: true,
            answering: &[2, 3],
            ticks: 150,
            role: Role::Leader,
        },
        Case {
            name: "check-quorum switched off",
            voters: THREE,
            check_quorum: false,
            answering: &[],
            ticks: 150,
            role: Role::Leader,
        },
    ];
    for case in cases {
        let mut node = node(
            1,
            case.voters,
            config(true, case.check_quorum),
            1,
            None,
            &[],
        );
        elect(&mut node);
        assert_eq!(node.config().election_timeout_min_ticks, 15);
        let term = node.status().term;
        for _ in 0..case.ticks {
            node.tick();
            for sent in node.take_ready().messages {
                if let MessageBody::Heartbeat { read_seq, .. } = sent.body {
                    if case.answering.contains(&sent.to) {
                        node.step(heartbeat_ok(sent.to, 1, term, read_seq, 1));
                    }
                }
            }
        }
        let status = node.status();
        assert_eq!(status.role, case.role, "{}", case.name);
        assert_eq!(
            status.term, term,
            "{}: stepping down keeps the term",
            case.name
        );
        if case.role == Role::Follower {
            assert_eq!(status.leader, None, "{}", case.name);
            assert_eq!(
                node.propose(b"x".to_vec()),
                Err(crate::raft::NotAccepted::NotLeader { leader: None }),
                "{}",
                case.name
            );
        }
    }
}

/// A rejection delayed or duplicated by the network may reach the leader
/// after the follower has caught up. The leader probes once more; the
/// probe's acknowledgement at the known match index ends the probe, and the
/// pair falls quiet instead of trading empty appends forever.
#[test]
fn stale_rejection_costs_one_probe_not_an_endless_exchange() {
    let mut leader = node3(config(true, true), 1, None, &[]);
    let mut follower = node(2, &[1, 2, 3], config(true, true), 1, None, &[]);
    let mut to_follower = elect(&mut leader).messages;
    let stale = append_rejected(
        2,
        1,
        2,
        Some(crate::raft::ConflictHint {
            term: None,
            index: 1,
        }),
    );
    let mut rounds = 0;
    let mut stale_delivered = false;
    loop {
        to_follower.retain(|sent| sent.to == 2);
        if to_follower.is_empty() {
            if stale_delivered {
                break;
            }
            // The follower matches the leader; now the old rejection arrives.
            assert_eq!(leader.status().progress[&2], (1, 2));
            stale_delivered = true;
            leader.step(stale.clone());
            to_follower = leader.take_ready().messages;
            assert_eq!(appends_sent(&to_follower), vec![(2, 1, 2, vec![], 1)]);
            continue;
        }
        rounds += 1;
        assert!(rounds < 10, "leader and follower never fell quiet");
        for sent in to_follower.drain(..) {
            follower.step(sent);
        }
        for reply in follower.take_ready().messages {
            leader.step(reply);
        }
        to_follower = leader.take_ready().messages;
    }
    // Follower 2 is replicated to again: a new entry goes to it at once
    // (follower 3 never answered, so it is still being probed).
    leader.propose(b"a".to_vec()).unwrap();
    let sent = appends_sent(&leader.take_ready().messages);
    assert_eq!(sent, vec![(2, 1, 2, vec![2], 1)]);
    assert_eq!(leader.status().progress[&2], (1, 3));
}
