//! A follower that was down while the others took 10,000 writes catches up
//! from the leader's log once it is back.

mod common;

use common::{eventually, name, TestCluster, CONVERGENCE_WAIT};
use futures_util::stream::{self, StreamExt};
use serde_json::json;
use std::time::Duration;

/// Writes made while the follower is down.
const MISSED_WRITES: usize = 10_000;
/// Clients writing at once.
const CONCURRENT_CLIENTS: usize = 32;
/// Every this many keys, one is read back from the restarted follower.
const SAMPLE_EVERY: usize = 97;

fn key_of(i: usize) -> String {
    format!("key-{i:05}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_missed_ten_thousand_writes_catches_up() {
    let cluster = TestCluster::start().await;
    let (leader, followers) = cluster.leader_and_followers().await;
    let lagging = followers[0];

    cluster.kill(lagging).await;
    stream::iter(0..MISSED_WRITES)
        .for_each_concurrent(CONCURRENT_CLIENTS, |i| {
            let cluster = &cluster;
            async move {
                cluster.write(leader, &key_of(i), json!(i)).await;
            }
        })
        .await;
    cluster.restart(lagging).await;

    let (leader, _) = cluster.wait_for_leader(common::ELECTION_WAIT).await;
    eventually(
        &format!("{} to apply the leader's whole log", name(lagging)),
        CONVERGENCE_WAIT + Duration::from_secs(10),
        || async {
            let leader_commit = cluster.status(leader).await?["raft"]["commit_index"].as_u64();
            let applied = cluster.status(lagging).await?["raft"]["last_applied"].as_u64();
            match (leader_commit, applied) {
                (Some(commit), Some(applied)) if applied == commit => Ok(()),
                seen => Err(format!("(leader commit, follower applied) = {seen:?}")),
            }
        },
    )
    .await;
    let sample = (0..MISSED_WRITES)
        .step_by(SAMPLE_EVERY)
        .chain([MISSED_WRITES - 1]);
    for i in sample {
        let seen = cluster.read_local(lagging, &key_of(i)).await.unwrap();
        assert_eq!(seen, Some(json!(i)), "{} on {}", key_of(i), name(lagging));
    }
    let list = cluster
        .client
        .get(&format!("{}/cache", cluster.node_url(lagging)))
        .await
        .unwrap();
    assert_eq!(list.json()["count"], MISSED_WRITES);

    cluster.shutdown().await;
}
