//! Named scenarios in the style of the MIT 6.824 Raft lab tests (2A–2C):
//! each builds a cluster, does a few things to it, and checks what Raft
//! promises. Every step runs the simulator's invariants too; a scenario
//! fails on any violation, whatever its own expectation.

use crate::raft::{Index, InjectedBugs, NodeId, Payload, RaftConfig, Role};
use crate::sim::{Cluster, ClusterOptions, CrashPoint, NetworkFaults};

/// Ticks an election may take: a few election timeouts.
const ELECTION_TICKS_MAX: u64 = 300;
/// Ticks an agreement may take on a reliable network.
const AGREEMENT_TICKS_MAX: u64 = 200;

fn cluster(nodes: usize, seed: u64) -> Cluster {
    Cluster::new(ClusterOptions::new(nodes), seed)
}

/// Runs `ticks`, failing the test on any invariant violation.
fn run(cluster: &mut Cluster, ticks: u64) {
    cluster.run(ticks);
    if let Some(violation) = &cluster.violation {
        panic!(
            "seed {} tick {}: {violation}\n{}",
            cluster.seed,
            cluster.now,
            cluster.trace.render().join("\n")
        );
    }
}

/// Ticks until one leader is seen; returns it.
fn elect(cluster: &mut Cluster) -> NodeId {
    for _ in 0..ELECTION_TICKS_MAX {
        run(cluster, 1);
        if let Some(leader) = cluster.leader() {
            return leader;
        }
    }
    panic!("no leader within {ELECTION_TICKS_MAX} ticks");
}

/// 6.824's `one()`: submits `command` to the leader (retrying through
/// elections) and waits until at least `expected` nodes applied it.
fn one(cluster: &mut Cluster, command: &[u8], expected: usize) -> Index {
    for _ in 0..10 {
        let leader = elect(cluster);
        let Ok((index, _)) = cluster.propose(leader, command.to_vec()) else {
            continue;
        };
        for _ in 0..AGREEMENT_TICKS_MAX {
            run(cluster, 1);
            let (count, payload) = cluster.applied_at(index);
            if payload.is_some_and(|payload| payload != Payload::Command(command.to_vec())) {
                break; // Another entry won the index: try again.
            }
            if count >= expected {
                return index;
            }
        }
    }
    panic!("{command:?} never reached {expected} nodes");
}

fn set(n: u64) -> Vec<u8> {
    crate::cache::Command::Set {
        key: "k".into(),
        value: format!("v{n}"),
        expires_at_ms: None,
    }
    .encode()
}

fn others(cluster: &Cluster, id: NodeId) -> Vec<NodeId> {
    cluster
        .ids
        .iter()
        .copied()
        .filter(|other| *other != id)
        .collect()
}

#[test]
fn initial_election_elects_one_leader_and_keeps_it() {
    let mut cluster = cluster(3, 1);
    let leader = elect(&mut cluster);
    let term = cluster.term(leader).unwrap();
    run(&mut cluster, 200);
    assert_eq!(
        cluster.leader(),
        Some(leader),
        "leader changed without failures"
    );
    assert_eq!(
        cluster.term(leader),
        Some(term),
        "term changed without failures"
    );
}

#[test]
fn reelection_after_leader_is_cut_off_and_when_it_returns() {
    let mut cluster = cluster(3, 2);
    let first = elect(&mut cluster);
    cluster.isolate(first);
    run(&mut cluster, 100);
    let second = cluster.leader().expect("the majority elects a new leader");
    assert_ne!(second, first);
    cluster.heal();
    run(&mut cluster, 100);
    let leader = cluster
        .leader()
        .expect("a leader after the old one rejoins");
    assert_eq!(
        cluster.nodes[&first].raft.as_ref().unwrap().status().role == Role::Leader,
        leader == first
    );
    // Two of three gone: no leader can be elected.
    let (a, b) = (others(&cluster, leader)[0], leader);
    cluster.partition(vec![vec![a], vec![b], vec![others(&cluster, leader)[1]]]);
    run(&mut cluster, 200);
    let majority_leader = cluster
        .up_nodes()
        .into_iter()
        .filter(|id| cluster.nodes[id].raft.as_ref().unwrap().status().role == Role::Leader)
        .filter(|id| *id != b)
        .count();
    assert_eq!(
        majority_leader, 0,
        "a node without a majority became leader"
    );
    cluster.heal();
    elect(&mut cluster);
}

#[test]
fn many_elections_with_random_partitions_keep_one_leader_per_term() {
    let mut cluster = cluster(5, 3);
    elect(&mut cluster);
    for round in 0..10u64 {
        // Cut off three random nodes' worth of links, as 6.824 disconnects three of seven.
        let cut = (round % 5 + 1) as NodeId;
        cluster.isolate(cut);
        run(&mut cluster, 60);
        cluster.heal();
        run(&mut cluster, 60);
    }
    elect(&mut cluster);
    assert!(cluster.leaders_by_term().len() >= 2, "elections happened");
}

#[test]
fn basic_agreement_every_node_applies_each_command_at_the_same_index() {
    let mut cluster = cluster(3, 4);
    for n in 1..=3 {
        let index = one(&mut cluster, &set(n), 3);
        let (count, _) = cluster.applied_at(index);
        assert_eq!(count, 3);
    }
}

#[test]
fn agreement_despite_a_failed_follower() {
    let mut cluster = cluster(3, 5);
    one(&mut cluster, &set(1), 3);
    let leader = elect(&mut cluster);
    let follower = others(&cluster, leader)[0];
    cluster.crash(follower);
    one(&mut cluster, &set(2), 2);
    one(&mut cluster, &set(3), 2);
    cluster.restart(follower);
    one(&mut cluster, &set(4), 3);
}

#[test]
fn no_agreement_without_a_majority() {
    let mut cluster = cluster(5, 6);
    one(&mut cluster, &set(1), 5);
    let leader = elect(&mut cluster);
    let followers = others(&cluster, leader);
    for follower in &followers[..3] {
        cluster.crash(*follower);
    }
    let (index, _) = cluster.propose(leader, set(2)).expect("still leader");
    run(&mut cluster, 100);
    assert_eq!(
        cluster.applied_at(index).0,
        0,
        "committed without a majority"
    );
    for follower in &followers[..3] {
        cluster.restart(*follower);
    }
    one(&mut cluster, &set(3), 5);
}

#[test]
fn partitioned_leader_rejoins_and_its_uncommitted_entries_are_replaced() {
    let mut cluster = cluster(3, 7);
    one(&mut cluster, &set(1), 3);
    let old = elect(&mut cluster);
    cluster.isolate(old);
    // The old leader accepts writes it can never commit.
    for n in 2..5 {
        let _ = cluster.propose(old, set(n));
    }
    let committed = one(&mut cluster, &set(10), 2);
    cluster.heal();
    one(&mut cluster, &set(11), 3);
    let (count, payload) = cluster.applied_at(committed);
    assert_eq!((count, payload), (3, Some(Payload::Command(set(10)))));
}

#[test]
fn leader_backs_up_quickly_over_many_divergent_entries() {
    let mut cluster = cluster(5, 8);
    one(&mut cluster, &set(0), 5);
    // Leader and one follower in a minority take 50 doomed entries.
    let leader = elect(&mut cluster);
    let rest = others(&cluster, leader);
    cluster.partition(vec![vec![leader, rest[0]], rest[1..].to_vec()]);
    for n in 1..=50 {
        let _ = cluster.propose(leader, set(n));
    }
    // The majority commits 50 of its own, then loses one member and takes 50 more that do not commit.
    for n in 100..150 {
        one(&mut cluster, &set(n), 3);
    }
    let majority_leader = elect(&mut cluster);
    let dropped = *rest[1..].iter().find(|id| **id != majority_leader).unwrap();
    let others_in_majority: Vec<NodeId> = rest[1..]
        .iter()
        .copied()
        .filter(|id| *id != dropped)
        .collect();
    cluster.partition(vec![
        others_in_majority.clone(),
        vec![leader, rest[0], dropped],
    ]);
    for n in 200..250 {
        let _ = cluster.propose(majority_leader, set(n));
    }
    // The first minority plus the dropped node now form a majority.
    cluster.partition(vec![vec![leader, rest[0], dropped], others_in_majority]);
    for n in 300..350 {
        one(&mut cluster, &set(n), 3);
    }
    cluster.heal();
    let sent_before = cluster.messages_sent();
    let last = one(&mut cluster, &set(999), 5);
    assert_eq!(cluster.applied_at(last).0, 5);
    // Conflict hints skip a term per round trip, not an entry.
    let sent = cluster.messages_sent() - sent_before;
    assert!(sent < 2_000, "catching up took {sent} messages");
}

#[test]
fn message_counts_stay_bounded() {
    let mut cluster = cluster(3, 9);
    elect(&mut cluster);
    let elected_with = cluster.messages_sent();
    assert!(elected_with < 60, "election took {elected_with} messages");
    let before = cluster.messages_sent();
    for n in 1..=10 {
        one(&mut cluster, &set(n), 3);
    }
    let per_command = (cluster.messages_sent() - before) / 10;
    assert!(per_command < 40, "{per_command} messages per agreement");
    // Idle: only heartbeats, one round per interval.
    let before = cluster.messages_sent();
    run(&mut cluster, 100);
    let idle = cluster.messages_sent() - before;
    let heartbeat_rounds = 100 / RaftConfig::default().heartbeat_interval_ticks as u64;
    assert!(
        idle <= heartbeat_rounds * 4 + 8,
        "{idle} messages in 100 idle ticks"
    );
}

#[test]
fn persistence_state_survives_crashes_of_every_node() {
    let mut cluster = cluster(3, 10);
    one(&mut cluster, &set(1), 3);
    for id in cluster.ids.clone() {
        cluster.crash(id);
    }
    for id in cluster.ids.clone() {
        cluster.restart(id);
    }
    one(&mut cluster, &set(2), 3);
    // Leader crashes mid-write and after sync, repeatedly; the log survives.
    for n in 3..10 {
        let leader = elect(&mut cluster);
        let point = [
            CrashPoint::DuringWrite,
            CrashPoint::AfterSync,
            CrashPoint::AfterSend,
        ][n as usize % 3];
        let _ = cluster.propose(leader, set(100 + n));
        cluster.arm_crash(leader, point);
        one(&mut cluster, &set(n), 2);
        cluster.restart(leader);
    }
    let last = one(&mut cluster, &set(99), 3);
    assert_eq!(cluster.applied_at(last).0, 3);
    assert_eq!(
        cluster.applied_at(1).0,
        3,
        "every restarted cache re-applied the log"
    );
}

/// 6.824's Figure 8 test: leaders crash right after appending, random
/// nodes restart, and every command still agrees once the dust settles.
fn figure_8(network: NetworkFaults, seed: u64, bugs: InjectedBugs) -> Cluster {
    let mut options = ClusterOptions::new(5);
    options.network = network;
    options.bugs = bugs;
    options.raft.max_entries_per_append = 1;
    options.raft.max_inflight_appends = 1;
    let mut cluster = Cluster::new(options, seed);
    one(&mut cluster, &set(0), 1);
    for round in 0..200u64 {
        if cluster.violation.is_some() {
            break;
        }
        if let Some(leader) = cluster.leader() {
            if round % 3 == 1 {
                // The leader appends locally and dies before sending.
                cluster.arm_crash(leader, CrashPoint::AfterSync);
            }
            let _ = cluster.propose(leader, set(1000 + round));
        }
        cluster.run(1 + round * 7 % 13);
        if let Some(leader) = cluster.leader() {
            if round % 3 == 0 {
                cluster.crash(leader);
            }
        }
        if cluster.up_nodes().len() < 3 {
            let down: Vec<NodeId> = cluster
                .ids
                .iter()
                .copied()
                .filter(|id| !cluster.nodes[id].is_up())
                .collect();
            let id = down[(round as usize * 3) % down.len()];
            cluster.restart(id);
        }
    }
    cluster
}

#[test]
fn figure_8_leaders_crash_after_appending_yet_all_agree() {
    let mut cluster = figure_8(NetworkFaults::RELIABLE, 11, InjectedBugs::default());
    for id in cluster.ids.clone() {
        cluster.restart(id);
    }
    one(&mut cluster, &set(5000), 5);
}

#[test]
fn figure_8_on_an_unreliable_network() {
    let mut cluster = figure_8(NetworkFaults::UNRELIABLE, 12, InjectedBugs::default());
    for id in cluster.ids.clone() {
        cluster.restart(id);
    }
    cluster.set_network(NetworkFaults::RELIABLE);
    one(&mut cluster, &set(5000), 5);
}

/// Ticks until `done` holds, at most `ticks_max` ticks; returns whether it did.
fn tick_until(cluster: &mut Cluster, ticks_max: u64, done: impl Fn(&Cluster) -> bool) -> bool {
    for _ in 0..ticks_max {
        if done(cluster) || cluster.violation.is_some() {
            break;
        }
        cluster.run(1);
    }
    done(cluster)
}

fn role(cluster: &Cluster, id: NodeId) -> Option<Role> {
    Some(cluster.nodes[&id].raft.as_ref()?.status().role)
}

/// The paper's Figure 8, step by step, on five nodes. Returns the cluster
/// after the last step, with any violation recorded.
fn figure_8_story(bugs: InjectedBugs) -> Cluster {
    let mut options = ClusterOptions::new(5);
    options.bugs = bugs;
    options.raft.max_entries_per_append = 1;
    options.raft.max_inflight_appends = 1;
    let mut cluster = Cluster::new(options, 16);
    one(&mut cluster, &set(0), 5);
    // (a) S1 leads and replicates a new entry at index 2 to S2 only.
    let s1 = elect(&mut cluster);
    let rest = others(&cluster, s1);
    let s2 = rest[0];
    let (index, _) = cluster.propose(s1, set(1)).expect("s1 leads");
    cluster.partition(vec![vec![s1, s2], rest[1..].to_vec()]);
    // (b) S5 is elected by S3, S4, S5 and appends its no-op at index 2 alone.
    let majority = rest[1..].to_vec();
    let elected = tick_until(&mut cluster, ELECTION_TICKS_MAX, |c| {
        majority.iter().any(|id| role(c, *id) == Some(Role::Leader))
    });
    assert!(elected, "the majority side elects a leader");
    let s5 = *majority
        .iter()
        .find(|id| role(&cluster, **id) == Some(Role::Leader))
        .unwrap();
    let s3 = *majority.iter().find(|id| **id != s5).unwrap();
    let s4 = *majority.iter().find(|id| **id != s5 && **id != s3).unwrap();
    cluster.partition(vec![vec![s5], vec![s1, s2, s3], vec![s4]]);
    // (c) S1 or S2, holding index 2 from term 2, is elected with S3 and
    // replicates that old entry to S3, one entry per append.
    let elected = tick_until(&mut cluster, ELECTION_TICKS_MAX, |c| {
        [s1, s2].iter().any(|id| role(c, *id) == Some(Role::Leader))
    });
    assert!(elected, "S1 or S2 is elected by S1, S2, S3");
    let leader = if role(&cluster, s1) == Some(Role::Leader) {
        s1
    } else {
        s2
    };
    let old_entry_committed = |c: &Cluster| {
        c.nodes[&leader]
            .raft
            .as_ref()
            .is_some_and(|raft| raft.status().commit_index >= index)
    };
    tick_until(&mut cluster, 50, old_entry_committed);
    // (d) It is cut off at once; S5 is elected by S3 and S4 and overwrites index 2.
    cluster.partition(vec![vec![s1, s2], vec![s3, s4, s5]]);
    tick_until(&mut cluster, ELECTION_TICKS_MAX, |c| {
        role(c, s5) == Some(Role::Leader)
    });
    cluster.heal();
    cluster.run(200);
    cluster
}

#[test]
fn figure_8_an_old_term_entry_is_not_committed_by_counting() {
    let mut cluster = figure_8_story(InjectedBugs::default());
    assert_eq!(cluster.violation, None);
    let last = one(&mut cluster, &set(99), 5);
    assert_eq!(cluster.applied_at(last).0, 5);
}

#[test]
fn figure_8_catches_committing_old_term_entries_by_counting() {
    let cluster = figure_8_story(InjectedBugs {
        commit_old_term_by_counting: true,
        ..InjectedBugs::default()
    });
    let violation = cluster.violation.expect("the Figure 8 bug went unnoticed");
    assert!(
        violation.invariant.starts_with("leader completeness")
            || violation.invariant.starts_with("state machine safety"),
        "{violation}"
    );
}

#[test]
fn unreliable_network_still_agrees() {
    let mut cluster = cluster(5, 13);
    cluster.set_network(NetworkFaults::UNRELIABLE);
    for n in 1..=30 {
        one(&mut cluster, &set(n), 1);
    }
    cluster.set_network(NetworkFaults::RELIABLE);
    let last = one(&mut cluster, &set(31), 5);
    assert_eq!(cluster.applied_at(last).0, 5);
}

fn churn(network: NetworkFaults, seed: u64) {
    let mut cluster = cluster(5, seed);
    cluster.set_network(network);
    let mut next = 0u64;
    for round in 0..60u64 {
        let id = (round * 7 % 5 + 1) as NodeId;
        match round % 4 {
            0 => cluster.crash(id),
            1 => cluster.restart(id),
            2 => cluster.isolate(id),
            _ => cluster.heal(),
        }
        for _ in 0..3 {
            next += 1;
            if let Some(leader) = cluster.leader() {
                let _ = cluster.propose(leader, set(next));
            }
            run(&mut cluster, 5);
        }
    }
    cluster.heal();
    cluster.set_network(NetworkFaults::RELIABLE);
    for id in cluster.ids.clone() {
        cluster.restart(id);
    }
    let last = one(&mut cluster, &set(10_000), 5);
    assert_eq!(cluster.applied_at(last).0, 5);
}

#[test]
fn churn_on_a_reliable_network() {
    churn(NetworkFaults::RELIABLE, 14);
}

#[test]
fn churn_on_an_unreliable_network() {
    churn(NetworkFaults::UNRELIABLE, 15);
}
