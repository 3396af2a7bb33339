//! Leadership transfer (thesis §3.10): the leader stops accepting
//! proposals, catches the target up, then sends it TimeoutNow; the target
//! campaigns at once, skipping pre-vote, and its RequestVote carries
//! `transfer` so that voters' leader leases let it through.

use super::fixtures::*;
use super::harness::Cluster;
use crate::raft::{HardState, MessageBody, NotAccepted, RaftConfig, Ready, Role};

fn timeout_now(from: u64, to: u64, term: u64) -> crate::raft::Message {
    message(from, to, term, MessageBody::TimeoutNow)
}

/// A target that already holds the leader's whole log gets TimeoutNow at
/// once; nothing else is sent.
#[test]
fn caught_up_target_gets_timeout_now_at_once() {
    let mut node = node3(config(true, true), 1, None, &[]);
    elect_and_settle(&mut node);
    node.transfer_leadership(2).unwrap();
    let expected = Ready {
        messages: vec![timeout_now(1, 2, 2)],
        ..Ready::default()
    };
    assert_eq!(node.take_ready(), expected);
    assert_eq!(node.status().role, Role::Leader);
}

/// A target that is behind gets TimeoutNow only when it acknowledges the
/// leader's last index, and only once.
#[test]
fn lagging_target_gets_timeout_now_once_caught_up() {
    let mut node = node3(config(true, true), 1, None, &[1, 1]);
    elect(&mut node);
    node.step(append_ok(3, 1, 2, 3)); // Follower 3 holds the no-op; 2 does not.
    node.take_ready();
    node.transfer_leadership(2).unwrap();
    let ready = node.take_ready();
    assert!(
        !ready
            .messages
            .iter()
            .any(|sent| sent.body == MessageBody::TimeoutNow),
        "TimeoutNow before the target caught up: {ready:?}"
    );
    node.step(append_ok(2, 1, 2, 2)); // Partway.
    assert!(!node
        .take_ready()
        .messages
        .iter()
        .any(|sent| sent.body == MessageBody::TimeoutNow));
    node.step(append_ok(2, 1, 2, 3));
    let expected = Ready {
        messages: vec![timeout_now(1, 2, 2)],
        ..Ready::default()
    };
    assert_eq!(node.take_ready(), expected);
    // A duplicate acknowledgement or a heartbeat answer sends no second one.
    node.step(append_ok(2, 1, 2, 3));
    node.step(heartbeat_ok(2, 1, 2, 0, 3));
    assert_eq!(node.take_ready(), Ready::default());
}

/// While handing over, the leader accepts no proposals; if the target has
/// not taken over within the minimum election timeout, the transfer is
/// abandoned and proposals are accepted again.
#[test]
fn proposals_are_refused_while_transferring() {
    let mut node = node3(config(true, true), 1, None, &[]);
    elect_and_settle(&mut node);
    node.transfer_leadership(2).unwrap();
    node.take_ready();
    assert_eq!(node.propose(b"x".to_vec()), Err(NotAccepted::Transferring));
    let min = node.config().election_timeout_min_ticks;
    // Followers keep answering heartbeats, so check-quorum keeps us leader.
    for tick in 1..=min {
        node.tick();
        for sent in node.take_ready().messages {
            if let MessageBody::Heartbeat { read_seq, .. } = sent.body {
                node.step(heartbeat_ok(sent.to, 1, 2, read_seq, 1));
            }
        }
        let expected = if tick < min {
            Err(NotAccepted::Transferring)
        } else {
            Ok((2, 2))
        };
        assert_eq!(node.propose(b"x".to_vec()), expected, "tick {tick}");
    }
    assert_eq!(node.status().role, Role::Leader);
}

/// Only a leader transfers, and only to a voter it knows.
#[test]
fn transfer_is_refused_by_non_leaders_and_for_unknown_targets() {
    let mut follower = node3(config(true, true), 1, None, &[]);
    follower.step(heartbeat(3, 1, 1, 0, 0));
    assert_eq!(
        follower.transfer_leadership(2),
        Err(NotAccepted::NotLeader { leader: Some(3) })
    );
    let mut leader = node3(config(true, true), 1, None, &[]);
    elect_and_settle(&mut leader);
    assert!(leader.transfer_leadership(9).is_err());
    assert!(leader.transfer_leadership(1).is_err());
    assert_eq!(leader.propose(b"x".to_vec()), Ok((2, 2)));
}

/// TimeoutNow makes a follower campaign at once — even inside its leader
/// lease and with pre-vote on — raising its term and persisting its vote in
/// the same Ready as RequestVotes marked `transfer`.
#[test]
fn timeout_now_target_campaigns_skipping_pre_vote() {
    let mut node = node(2, &[1, 2, 3], config(true, true), 2, None, &[2]);
    node.step(heartbeat(1, 2, 2, 0, 0));
    node.take_ready();
    node.step(timeout_now(1, 2, 2));
    let body = MessageBody::RequestVote {
        last_log_index: 1,
        last_log_term: 2,
        transfer: true,
    };
    let expected = Ready {
        hard_state: Some(HardState {
            term: 3,
            voted_for: Some(2),
        }),
        messages: vec![message(2, 1, 3, body.clone()), message(2, 3, 3, body)],
        ..Ready::default()
    };
    assert_eq!(node.take_ready(), expected);
    assert_eq!(node.status().role, Role::Candidate);
    let counters = node.counters();
    assert_eq!(
        (counters.pre_votes_started, counters.elections_started),
        (0, 1)
    );
}

/// TimeoutNow is only for a follower: a node already campaigning or
/// leading ignores it, and one from an older term is dropped.
#[test]
fn timeout_now_is_ignored_unless_a_follower_of_that_term() {
    struct Case {
        name: &'static str,
        setup: fn(&mut crate::raft::RaftNode),
        message_term: u64,
    }
    let cases = [
        Case {
            name: "pre-candidate",
            setup: |node| {
                tick_until_campaign(node);
            },
            message_term: 2,
        },
        Case {
            name: "candidate",
            setup: |node| {
                tick_until_campaign(node);
                node.step(message(
                    3,
                    2,
                    3,
                    MessageBody::PreVoteResponse { granted: true },
                ));
                node.take_ready();
            },
            message_term: 3,
        },
        Case {
            name: "leader",
            setup: |node| {
                elect(node);
            },
            message_term: 3,
        },
        Case {
            name: "follower, older term",
            setup: |node| {
                node.step(heartbeat(1, 2, 2, 0, 0));
                node.take_ready();
            },
            message_term: 1,
        },
    ];
    for case in cases {
        let mut node = node(2, &[1, 2, 3], config(true, true), 2, None, &[2]);
        (case.setup)(&mut node);
        let before = node.status();
        node.step(timeout_now(1, 2, case.message_term));
        assert_eq!(node.take_ready(), Ready::default(), "{}", case.name);
        assert_eq!(node.status(), before, "{}", case.name);
    }
}

/// The whole hand-over in a three-node cluster: the old leader and the
/// other follower are inside their leases, yet the target is elected, and
/// the cluster keeps committing under it.
#[test]
fn leadership_moves_to_the_target() {
    let mut cluster = Cluster::new(3, RaftConfig::default(), 11);
    let old = cluster.elect();
    cluster.tick();
    let target = if old == 1 { 2 } else { 1 };
    let old_term = cluster.node(old).status().term;
    cluster.node(old).transfer_leadership(target).unwrap();
    cluster.deliver_all();
    assert_eq!(cluster.leader(), Some(target));
    assert_eq!(cluster.node(target).status().term, old_term + 1);
    assert_eq!(cluster.node(old).status().role, Role::Follower);
    assert_eq!(cluster.node(target).counters().pre_votes_started, 0);
    let (index, term) = cluster.node(target).propose(b"after".to_vec()).unwrap();
    cluster.deliver_all();
    // Followers learn the new commit index from the next heartbeat.
    for _ in 0..RaftConfig::default().heartbeat_interval_ticks {
        cluster.tick();
    }
    for (id, applied) in &cluster.applied {
        assert!(
            applied
                .iter()
                .any(|entry| (entry.index, entry.term) == (index, term)),
            "node{id} did not apply the entry proposed after the transfer"
        );
    }
}
