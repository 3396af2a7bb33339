//! A node closes a keep-alive connection that stays idle for its header read
//! timeout; the project's client must never reuse one just as it closes.

mod common;

use common::TestCluster;
use raftcache::api::server::HEADER_READ_TIMEOUT;
use raftcache::client::HttpClient;
use std::time::{Duration, Instant};

/// Clients, each idling a little longer than the one before.
const CLIENTS: u32 = 200;
/// Difference between the idle times of two consecutive clients.
const IDLE_STEP: Duration = Duration::from_micros(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_idle_around_the_server_keep_alive_timeout_still_gets_answers() {
    let (cluster, leader) = TestCluster::start_with_leader().await;
    let url = format!("{}/health", cluster.node_url(leader));

    // Each client opens a connection, idles for about the header read
    // timeout (the idle times straddle it), then asks again.
    let first_idle = HEADER_READ_TIMEOUT - IDLE_STEP * (CLIENTS / 2);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let client = HttpClient::new();
                client.get(&url).await.expect("the first request");
                let resume_at = Instant::now() + first_idle + IDLE_STEP * i;
                tokio::time::sleep_until(resume_at.into()).await;
                client.get(&url).await.map(|response| response.status)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        match client.await.expect("client task") {
            Ok(200) => {}
            other => failures.push(format!("client {i}: {other:?}")),
        }
    }

    assert!(failures.is_empty(), "{failures:?}");
    cluster.shutdown().await;
}
