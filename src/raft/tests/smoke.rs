use super::harness::Cluster;
use crate::raft::{Payload, RaftConfig};

#[test]
fn three_nodes_elect_a_leader_and_replicate() {
    let mut cluster = Cluster::new(3, RaftConfig::default(), 1);
    let leader = cluster.elect();
    let (index, term) = cluster.node(leader).propose(b"x".to_vec()).unwrap();
    cluster.deliver_all();
    for _ in 0..10 {
        cluster.tick();
    }
    for (id, applied) in &cluster.applied {
        let entry = applied
            .iter()
            .find(|entry| entry.index == index)
            .unwrap_or_else(|| panic!("node{id} missing entry"));
        assert_eq!(entry.term, term);
        assert_eq!(entry.payload, Payload::Command(b"x".to_vec()));
    }
}

#[test]
fn isolated_leader_is_replaced_and_steps_down() {
    let mut cluster = Cluster::new(3, RaftConfig::default(), 7);
    let old = cluster.elect();
    cluster.isolated.insert(old);
    let new = cluster.elect();
    assert_ne!(old, new);
    for _ in 0..40 {
        cluster.tick();
    }
    assert_ne!(
        cluster.node(old).status().role,
        crate::raft::Role::Leader,
        "check-quorum should depose it"
    );
    cluster.isolated.clear();
    let (index, _) = cluster.node(new).propose(b"y".to_vec()).unwrap();
    for _ in 0..20 {
        cluster.tick();
    }
    assert!(cluster.applied[&old]
        .iter()
        .any(|entry| entry.index == index));
}

#[test]
fn read_index_confirms_after_a_heartbeat_round() {
    let mut cluster = Cluster::new(3, RaftConfig::default(), 3);
    let leader = cluster.elect();
    cluster.tick();
    cluster.node(leader).read_index(42).unwrap();
    cluster.deliver_all();
    let reads = &cluster.reads[&leader];
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].id, 42);
}
