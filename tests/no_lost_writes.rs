//! Killing the leader while clients write never loses an acknowledged write,
//! and never applies a write that was refused with a 503.

mod common;

use common::{eventually, name, TestCluster, ELECTION_WAIT, NODE_IDS};
use futures_util::stream::{self, StreamExt};
use raftcache::client::HttpClient;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Client tasks writing at once.
const WRITERS: u64 = 8;
/// Acknowledged writes to wait for between two steps of the story.
const WRITES_PER_STEP: usize = 200;
/// Times the leader is killed (and later restarted) in one run.
const LEADER_KILLS: usize = 2;

/// What one writer saw.
#[derive(Default)]
struct Outcomes {
    /// Answered 2xx: must be readable everywhere afterwards.
    acknowledged: Vec<(String, Value)>,
    /// Answered 503: API.md promises these were not and will not be applied.
    refused: Vec<(String, String)>,
    /// 504, timeouts, broken connections: may or may not have been applied.
    unknown: usize,
}

/// Writes unique keys round-robin over the nodes until told to stop.
async fn writer(
    id: u64,
    node_urls: Vec<String>,
    stop: Arc<AtomicBool>,
    acknowledged_total: Arc<AtomicUsize>,
) -> Outcomes {
    let client = HttpClient::with_timeout(Duration::from_secs(5));
    let mut outcomes = Outcomes::default();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let key = format!("writer{id}-{seq}");
        let value = json!({"writer": id, "seq": seq});
        let node = &node_urls[(id + seq) as usize % node_urls.len()];
        let url = format!("{node}/cache/{key}");
        match client.post_json(&url, &json!({ "value": value })).await {
            Ok(response) if (200..300).contains(&response.status) => {
                outcomes.acknowledged.push((key, value));
                acknowledged_total.fetch_add(1, Ordering::Relaxed);
            }
            Ok(response) if response.status == 503 => {
                let code = response.json()["code"].as_str().unwrap_or("").to_string();
                outcomes.refused.push((key, code));
            }
            Ok(response) if response.status == 504 => outcomes.unknown += 1,
            Ok(response) => panic!("{url}: unexpected {}", common::describe(&response)),
            Err(_) => {
                outcomes.unknown += 1;
                // A killed node refuses at once; do not spin on it.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    outcomes
}

/// Waits until the writers have `count` acknowledged writes in all.
async fn wait_for_acknowledged(total: &AtomicUsize, count: usize) {
    eventually(
        &format!("{count} acknowledged writes"),
        Duration::from_secs(30),
        || async {
            let seen = total.load(Ordering::Relaxed);
            if seen >= count {
                Ok(())
            } else {
                Err(format!("{seen} acknowledged"))
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_mid_stream_never_loses_an_acknowledged_write() {
    let cluster = TestCluster::start().await;
    cluster.wait_for_leader(ELECTION_WAIT).await;
    let node_urls: Vec<String> = NODE_IDS.iter().map(|id| cluster.node_url(*id)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (1..=WRITERS)
        .map(|id| tokio::spawn(writer(id, node_urls.clone(), stop.clone(), total.clone())))
        .collect();

    // Write, kill the leader, write through the new one, bring the old one back.
    let mut target = WRITES_PER_STEP;
    wait_for_acknowledged(&total, target).await;
    for _ in 0..LEADER_KILLS {
        let (leader, _) = cluster.wait_for_leader(ELECTION_WAIT).await;
        cluster.kill(leader).await;
        target = total.load(Ordering::Relaxed) + WRITES_PER_STEP;
        wait_for_acknowledged(&total, target).await;
        cluster.restart(leader).await;
        target = total.load(Ordering::Relaxed) + WRITES_PER_STEP;
        wait_for_acknowledged(&total, target).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Outcomes::default();
    for writer in writers {
        let seen = writer.await.expect("writer task");
        outcomes.acknowledged.extend(seen.acknowledged);
        outcomes.refused.extend(seen.refused);
        outcomes.unknown += seen.unknown;
    }

    // Stabilize, then every node must hold every acknowledged write and no refused one.
    let (leader, _) = cluster.wait_for_leader(ELECTION_WAIT).await;
    for id in NODE_IDS {
        cluster.wait_until_caught_up(id, leader).await;
    }
    for id in NODE_IDS {
        let lost: Vec<String> = stream::iter(&outcomes.acknowledged)
            .map(|(key, value)| {
                let cluster = &cluster;
                async move {
                    match cluster.read_local(id, key).await {
                        Ok(Some(seen)) if seen == *value => None,
                        seen => Some(format!("{key}: {seen:?}")),
                    }
                }
            })
            .buffer_unordered(32)
            .filter_map(|lost| async move { lost })
            .collect()
            .await;
        assert!(
            lost.is_empty(),
            "{} lost {} of {} acknowledged writes, e.g. {:?}",
            name(id),
            lost.len(),
            outcomes.acknowledged.len(),
            &lost[..lost.len().min(5)]
        );

        let mut applied_anyway = Vec::new();
        for (key, code) in &outcomes.refused {
            if let Ok(Some(_)) = cluster.read_local(id, key).await {
                applied_anyway.push(format!("{key} ({code})"));
            }
        }
        assert!(
            applied_anyway.is_empty(),
            "{} applied writes that were answered 503: {applied_anyway:?}",
            name(id)
        );
    }
    eprintln!(
        "{} acknowledged, {} refused with 503, {} with unknown outcome",
        outcomes.acknowledged.len(),
        outcomes.refused.len(),
        outcomes.unknown
    );

    cluster.shutdown().await;
}
