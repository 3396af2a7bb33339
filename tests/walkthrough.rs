//! The original README's walkthrough, step by step, against a real cluster:
//! the basic cache operations first, then the failure and recovery guide
//! with every kill and restart done through the control plane.

mod common;

use common::{eventually, name, TestCluster, ELECTION_WAIT, NODE_IDS};
use raftcache::client::ClientError;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_status_describe_each_node_and_its_raft_state() {
    let (cluster, leader) = TestCluster::start_with_leader().await;

    for id in NODE_IDS {
        let health = cluster.health(id).await.expect("health answers");
        assert_eq!(health.status, 200);
        assert_eq!(health.json()["status"], "healthy");
        assert_eq!(health.json()["node_id"], name(id));

        // A node may learn of the election a heartbeat after the others.
        let status = eventually(
            &format!("{} to know its role", name(id)),
            ELECTION_WAIT,
            || async {
                let status = cluster.status(id).await?;
                if status["raft"]["leader_id"] == name(leader) {
                    Ok(status)
                } else {
                    Err(status["raft"].to_string())
                }
            },
        )
        .await;
        let raft = &status["raft"];
        assert_eq!(status["node_id"], name(id));
        let expected_state = if id == leader { "leader" } else { "follower" };
        assert_eq!(raft["state"], expected_state, "{}: {raft}", name(id));
        assert_eq!(raft["is_leader"], json!(id == leader));
        assert!(raft["term"].as_u64().unwrap() >= 1, "{raft}");
    }

    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_get_list_delete_clear_and_stats_give_their_documented_results() {
    let (cluster, leader) = TestCluster::start_with_leader().await;
    let client = &cluster.client;

    // Set a key-value pair: 201 with where it landed in the log.
    let set = client
        .post_json(
            &cluster.key_url(leader, "username"),
            &json!({"value": "john_doe"}),
        )
        .await
        .unwrap();
    assert_eq!(set.status, 201, "{}", common::describe(&set));
    let body = set.json();
    assert_eq!(body["key"], "username");
    assert_eq!(body["value"], "john_doe");
    assert!(body["index"].as_u64().unwrap() >= 1, "{body}");
    assert!(body["term"].as_u64().unwrap() >= 1, "{body}");

    // Overwriting is a 200, not a 201.
    let overwrite = client
        .post_json(
            &cluster.key_url(leader, "username"),
            &json!({"value": "jane_doe"}),
        )
        .await
        .unwrap();
    assert_eq!(overwrite.status, 200, "{}", common::describe(&overwrite));
    assert!(overwrite.json()["index"].as_u64() > body["index"].as_u64());

    // Set a key with a TTL: the read shows how long it has left.
    let session = client
        .post_json(
            &cluster.key_url(leader, "session123"),
            &json!({"value": "active_session", "ttl": 60}),
        )
        .await
        .unwrap();
    assert_eq!(session.status, 201, "{}", common::describe(&session));
    assert_eq!(session.json()["ttl"], 60);

    // Get a value.
    let get = client
        .get(&cluster.key_url(leader, "username"))
        .await
        .unwrap();
    assert_eq!(get.status, 200);
    assert_eq!(get.json()["key"], "username");
    assert_eq!(get.json()["value"], "jane_doe");
    let session = client
        .get(&cluster.key_url(leader, "session123"))
        .await
        .unwrap();
    let ttl_remaining = session.json()["ttl_remaining"]
        .as_f64()
        .expect("ttl_remaining");
    assert!(
        ttl_remaining > 0.0 && ttl_remaining <= 60.0,
        "{ttl_remaining}"
    );

    // List all keys.
    let list = client
        .get(&format!("{}/cache", cluster.node_url(leader)))
        .await
        .unwrap();
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["count"], 2);
    let mut keys: Vec<String> = serde_json::from_value(list.json()["keys"].clone()).unwrap();
    keys.sort();
    assert_eq!(keys, ["session123", "username"]);

    // Delete a key: 200, then 404 because it is gone.
    let delete = client
        .delete(&cluster.key_url(leader, "username"))
        .await
        .unwrap();
    assert_eq!(delete.status, 200, "{}", common::describe(&delete));
    let again = client
        .delete(&cluster.key_url(leader, "username"))
        .await
        .unwrap();
    assert_eq!(again.status, 404);
    assert_eq!(again.json()["code"], "not_found");
    let gone = client
        .get(&cluster.key_url(leader, "username"))
        .await
        .unwrap();
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["code"], "not_found");

    // Clear all: says how many keys went.
    cluster.write(leader, "another", json!(1)).await;
    let clear = client
        .delete(&format!("{}/cache", cluster.node_url(leader)))
        .await
        .unwrap();
    assert_eq!(clear.status, 200, "{}", common::describe(&clear));
    assert_eq!(clear.json()["cleared"], 2);
    let list = client
        .get(&format!("{}/cache", cluster.node_url(leader)))
        .await
        .unwrap();
    assert_eq!(list.json()["count"], 0);

    // Statistics count what happened.
    let stats = client
        .get(&format!("{}/stats", cluster.node_url(leader)))
        .await
        .unwrap();
    assert_eq!(stats.status, 200);
    let stats = stats.json();
    assert_eq!(stats["keys"], 0, "{stats}");
    assert_eq!(stats["sets"], 4, "{stats}");
    assert_eq!(stats["deletes"], 2, "{stats}");
    assert!(stats["hits"].as_u64().unwrap() >= 2, "{stats}");
    assert!(stats["misses"].as_u64().unwrap() >= 1, "{stats}");

    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_with_a_ttl_expires_on_every_node() {
    let (cluster, leader) = TestCluster::start_with_leader().await;

    let set = cluster
        .client
        .post_json(
            &cluster.key_url(leader, "flash"),
            &json!({"value": "gone soon", "ttl": 0.3}),
        )
        .await
        .unwrap();
    assert_eq!(set.status, 201, "{}", common::describe(&set));
    let read = cluster
        .client
        .get(&cluster.key_url(leader, "flash"))
        .await
        .unwrap();
    if read.status == 200 {
        let ttl_remaining = read.json()["ttl_remaining"]
            .as_f64()
            .expect("ttl_remaining");
        assert!(ttl_remaining <= 0.3, "{ttl_remaining}");
    }

    for id in NODE_IDS {
        eventually(
            &format!("flash to expire on {}", name(id)),
            Duration::from_secs(5),
            || async {
                match cluster.client.get(&cluster.key_url(id, "flash")).await {
                    Ok(response) if response.status == 404 => Ok(()),
                    Ok(response) => Err(common::describe(&response)),
                    Err(error) => Err(error.to_string()),
                }
            },
        )
        .await;
    }

    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_serves_the_same_data() {
    let (cluster, leader) = TestCluster::start_with_leader().await;

    cluster
        .write(leader, "mykey", json!({"shared": [1, 2, 3]}))
        .await;

    for id in NODE_IDS {
        cluster
            .wait_for_value(id, "mykey", &json!({"shared": [1, 2, 3]}))
            .await;
    }

    cluster.shutdown().await;
}

/// Waits until `id` is down: its listener closed, so `/health` is refused.
async fn assert_refused(cluster: &TestCluster, id: u64) {
    match cluster.health(id).await {
        Err(ClientError::Connection(_)) => {}
        other => panic!("{} should refuse connections, got {other:?}", name(id)),
    }
}

/// Writes through `node` and remembers the acknowledged value.
async fn write_and_remember(
    cluster: &TestCluster,
    acknowledged: &mut BTreeMap<String, Value>,
    node: u64,
    key: &str,
    value: &str,
) {
    let response = cluster
        .client
        .post_json(&cluster.key_url(node, key), &json!({ "value": value }))
        .await
        .unwrap_or_else(|error| panic!("write {key} through {}: {error}", name(node)));
    assert!(
        (200..300).contains(&response.status),
        "write {key} through {}: {}",
        name(node),
        common::describe(&response)
    );
    acknowledged.insert(key.to_string(), json!(value));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_survives_follower_and_leader_failures_refuses_writes_without_a_majority_and_recovers(
) {
    let (cluster, leader) = TestCluster::start_with_leader().await;
    let mut acknowledged = BTreeMap::new();
    cluster
        .write(leader, "before_failures", json!("here"))
        .await;
    acknowledged.insert("before_failures".to_string(), json!("here"));

    // Follower failure: the follower is gone, the two others still write.
    let (leader, followers) = cluster.leader_and_followers().await;
    let follower = followers[0];
    cluster.kill(follower).await;
    assert_refused(&cluster, follower).await;
    write_and_remember(
        &cluster,
        &mut acknowledged,
        leader,
        "after_follower_failure",
        "cluster_still_works",
    )
    .await;
    cluster.restart(follower).await;
    cluster.wait_until_caught_up(follower, leader).await;

    // Leader failure: a new leader of a higher term takes writes.
    let (old_leader, old_term) = cluster.wait_for_leader(ELECTION_WAIT).await;
    cluster.kill(old_leader).await;
    assert_refused(&cluster, old_leader).await;
    let (new_leader, new_term) = cluster.wait_for_leader(ELECTION_WAIT).await;
    assert_ne!(new_leader, old_leader);
    assert!(new_term > old_term, "term {new_term} after {old_term}");
    write_and_remember(
        &cluster,
        &mut acknowledged,
        new_leader,
        "after_leader_failure",
        "new_leader_works",
    )
    .await;
    cluster.restart(old_leader).await;
    cluster.wait_until_caught_up(old_leader, new_leader).await;

    // Majority failure: with two nodes down, writes fail fast with a 503,
    // and the survivor still answers local reads.
    let (leader, followers) = cluster.leader_and_followers().await;
    let survivor = leader;
    for follower in &followers {
        cluster.kill(*follower).await;
    }
    let killed = Instant::now();
    let refusal = eventually(
        "a write without a majority to be refused with 503",
        Duration::from_secs(10),
        || async {
            let sent = Instant::now();
            let response = cluster
                .client
                .post_json(
                    &cluster.key_url(survivor, "no_majority"),
                    &json!({"value": "should_fail"}),
                )
                .await
                .map_err(|error| error.to_string())?;
            assert!(
                sent.elapsed() < Duration::from_secs(3),
                "a write without a majority took {:?}",
                sent.elapsed()
            );
            let code = response.json()["code"].as_str().unwrap_or("").to_string();
            match (response.status, code.as_str()) {
                (503, "no_leader" | "no_quorum") => Ok(response),
                // Right after the kill the survivor may still have appended
                // the write; it then says honestly that it cannot tell.
                (504, "outcome_unknown") => Err(common::describe(&response)),
                _ => panic!(
                    "unexpected answer without a majority: {}",
                    common::describe(&response)
                ),
            }
        },
    )
    .await;
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "the first 503 came {:?} after the kills",
        killed.elapsed()
    );
    assert!(
        refusal.header("retry-after").is_some(),
        "{:?}",
        refusal.headers
    );
    for (key, value) in &acknowledged {
        let read = cluster
            .client
            .get(&cluster.key_url(survivor, key))
            .await
            .expect("survivor answers reads");
        assert_eq!(read.status, 200, "{key}: {}", common::describe(&read));
        assert_eq!(read.json()["value"], *value);
    }

    // Recovery: both come back, everyone is healthy, writes work again.
    for follower in &followers {
        cluster.restart(*follower).await;
    }
    for id in NODE_IDS {
        let health = cluster.health(id).await.expect("health answers");
        assert_eq!(health.json()["status"], "healthy");
    }
    let (leader, _) = cluster.wait_for_leader(ELECTION_WAIT).await;
    write_and_remember(
        &cluster,
        &mut acknowledged,
        leader,
        "after_recovery",
        "back",
    )
    .await;
    for id in NODE_IDS {
        for (key, value) in &acknowledged {
            cluster.wait_for_value(id, key, value).await;
        }
    }

    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_restart_keeps_every_acknowledged_write() {
    let (cluster, leader) = TestCluster::start_with_leader().await;
    let mut acknowledged = BTreeMap::new();
    write_and_remember(
        &cluster,
        &mut acknowledged,
        leader,
        "persistent_data",
        "should_survive_failure",
    )
    .await;
    for i in 0..50 {
        let node = NODE_IDS[i % NODE_IDS.len()];
        let key = format!("perf_test_{i}");
        write_and_remember(&cluster, &mut acknowledged, node, &key, "performance_test").await;
    }

    for id in NODE_IDS {
        cluster.kill(id).await;
    }
    for id in NODE_IDS {
        assert_refused(&cluster, id).await;
    }
    for id in NODE_IDS {
        cluster.restart(id).await;
    }

    cluster.wait_for_leader(ELECTION_WAIT).await;
    for id in NODE_IDS {
        for (key, value) in &acknowledged {
            cluster.wait_for_value(id, key, value).await;
        }
    }

    cluster.shutdown().await;
}
