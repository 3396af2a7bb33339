//! The driver observes what the invariants need, even from a Ready that a
//! crash cuts short.

use crate::raft::{NodeId, Role};
use crate::sim::{Cluster, ClusterOptions, CrashPoint};

/// A node that wins an election and crashes in the very Ready that makes it
/// leader, before sending a message, still counts as that term's leader for
/// election safety.
#[test]
fn a_leader_crashing_in_its_first_ready_is_recorded() {
    let mut cluster = Cluster::new(ClusterOptions::new(3), 3);
    let mut candidate = None;
    for _ in 0..1000 {
        cluster.tick();
        candidate = cluster.ids.iter().copied().find(|id| {
            cluster.nodes[id]
                .raft
                .as_ref()
                .is_some_and(|raft| raft.status().role == Role::Candidate)
        });
        if candidate.is_some() {
            break;
        }
    }
    let candidate: NodeId = candidate.expect("someone stands for election");
    let term = cluster.term(candidate).expect("up");
    cluster.arm_crash(candidate, CrashPoint::DuringWrite);
    // Deliver by hand, watching the candidate's role before its Ready runs.
    let mut won = false;
    while let Some(message) = cluster.network.next_due(u64::MAX) {
        let to = message.to;
        let Some(raft) = cluster.nodes.get_mut(&to).and_then(|n| n.raft.as_mut()) else {
            continue;
        };
        raft.step(message);
        if to == candidate && raft.status().role == Role::Leader {
            won = true;
            cluster.handle_ready(to);
            break;
        }
        cluster.handle_ready(to);
    }
    assert!(won, "node{candidate} wins term {term}");
    assert!(
        !cluster.nodes[&candidate].is_up(),
        "it crashed in that Ready"
    );
    assert_eq!(cluster.leaders_by_term().get(&term), Some(&candidate));
    assert!(cluster.violation.is_none());
}
