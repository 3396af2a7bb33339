//! Write load: N clients, each sending its next write as soon as the
//! previous one is answered (closed loop), for a fixed duration or count.

use super::{latency_histogram, Percentiles};
use crate::client::HttpClient;
use serde::Serialize;
use serde_json::json;
use std::time::{Duration, Instant};

/// What a load run measured.
#[derive(Clone, Debug, Serialize)]
pub struct LoadResult {
    pub clients: usize,
    pub duration_s: f64,
    pub ok: u64,
    pub failed: u64,
    pub writes_per_s: f64,
    pub latency: Percentiles,
}

/// Runs `clients` closed-loop writers against `urls` (spread round-robin)
/// until `duration` passes or `max_writes` are answered.
pub async fn run_writes(
    urls: &[String],
    clients: usize,
    duration: Duration,
    max_writes: u64,
) -> LoadResult {
    let started = Instant::now();
    let per_client = max_writes.div_ceil(clients as u64);
    let mut tasks = Vec::new();
    for client_index in 0..clients {
        let base = urls[client_index % urls.len()].clone();
        tasks.push(tokio::spawn(async move {
            let http = HttpClient::new();
            let mut histogram = latency_histogram();
            let (mut ok, mut failed) = (0u64, 0u64);
            for sequence in 0..per_client {
                if started.elapsed() >= duration {
                    break;
                }
                let url = format!("{base}/cache/bench-{client_index}-{sequence}");
                let sent = Instant::now();
                let response = http.post_json(&url, &json!({"value": sequence})).await;
                let elapsed_us = sent.elapsed().as_micros() as u64;
                match response {
                    Ok(response) if response.status < 300 => {
                        ok += 1;
                        histogram
                            .record(elapsed_us.max(1))
                            .expect("latency within bounds");
                    }
                    _ => failed += 1,
                }
            }
            (histogram, ok, failed)
        }));
    }
    let mut histogram = latency_histogram();
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        let (client_histogram, client_ok, client_failed) =
            task.await.expect("load task does not panic");
        histogram
            .add(client_histogram)
            .expect("histograms have the same bounds");
        ok += client_ok;
        failed += client_failed;
    }
    let duration_s = started.elapsed().as_secs_f64();
    LoadResult {
        clients,
        duration_s,
        ok,
        failed,
        writes_per_s: ok as f64 / duration_s,
        latency: Percentiles::of(&histogram),
    }
}
