//! Failover trials: kill the leader, time until the next acknowledged write.
//!
//! One client writes continuously to a surviving node, retrying at once on
//! any error; the failover time is from just before the kill to the first
//! write acknowledged after it. Detection (an election timeout of silence),
//! the election and the new leader's first commit are all inside it.

use super::Percentiles;
use crate::client::HttpClient;
use crate::cluster::Cluster;
use crate::raft::{NodeId, Role};
use hdrhistogram::Histogram;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits until exactly one running node leads; returns it.
pub async fn wait_for_leader(cluster: &Cluster, timeout: Duration) -> Option<NodeId> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let leaders: Vec<NodeId> = cluster
            .nodes()
            .iter()
            .filter_map(|view| view.status.as_ref())
            .filter(|status| status.role == Role::Leader)
            .map(|status| status.id)
            .collect();
        if leaders.len() == 1 {
            return Some(leaders[0]);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

/// Runs `trials` failovers; returns each trial's failover time in ms.
pub async fn run_trials(cluster: Arc<Cluster>, trials: usize) -> Result<Vec<f64>, String> {
    let http = HttpClient::with_timeout(Duration::from_secs(3));
    let mut times = Vec::new();
    for trial in 0..trials {
        let leader = wait_for_leader(&cluster, Duration::from_secs(10))
            .await
            .ok_or("no leader elected")?;
        let survivor = (1..=cluster.size())
            .find(|id| *id != leader)
            .expect("more than one node");
        let url = format!(
            "http://{}/cache/failover-{trial}",
            cluster.address(survivor).expect("node exists")
        );
        // Warm the connection and make sure the survivor knows the leader.
        http.post_json(&url, &json!({"value": "before"}))
            .await
            .map_err(|error| error.to_string())?;
        let killed_at = Instant::now();
        cluster
            .kill(leader)
            .await
            .map_err(|error| error.to_string())?;
        loop {
            if killed_at.elapsed() > Duration::from_secs(10) {
                return Err(format!(
                    "trial {trial}: no write acknowledged within 10 s of the kill"
                ));
            }
            match http.post_json(&url, &json!({"value": trial})).await {
                Ok(response) if response.status < 300 => break,
                _ => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
        times.push(killed_at.elapsed().as_secs_f64() * 1000.0);
        cluster
            .restart(leader)
            .await
            .map_err(|error| error.to_string())?;
        // Let the restarted node catch up before the next trial.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(times)
}

/// Percentiles of failover times in ms.
pub fn summarize(times_ms: &[f64]) -> Percentiles {
    let mut histogram: Histogram<u64> = super::latency_histogram();
    for ms in times_ms {
        histogram
            .record((ms * 1000.0) as u64)
            .expect("within bounds");
    }
    Percentiles::of(&histogram)
}
