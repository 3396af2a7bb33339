//! Workload clients: each a task that sends one request at a time over real
//! HTTP to the node its target names, records the operation, and goes on
//! until its count, its duration or a stop. Keys and operation choices come
//! from a per-client RNG seeded from the lab's seed.

use super::history::{classify, log_position, HistoryOp, OpType};
use super::script::{OpMix, WorkloadSpec, MAX_CLIENT_INTERVAL_S};
use super::world::World;
use crate::client::HttpClient;
use crate::raft::{node_name, NodeId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Pause after a connection error, so a dead node is not hammered.
const BACKOFF_AFTER_CONNECTION_ERROR: Duration = Duration::from_millis(20);

/// A workload in flight.
pub struct RunningWorkload {
    pub name: String,
    pub spec: WorkloadSpec,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningWorkload {
    /// Starts the clients of `spec`.
    pub fn start(
        world: Arc<World>,
        name: String,
        spec: WorkloadSpec,
        stop: CancellationToken,
    ) -> RunningWorkload {
        let started = Instant::now();
        let issued = Arc::new(AtomicU64::new(0));
        let phase = world.timeline.phase();
        let tasks = (0..spec.clients)
            .map(|index| {
                let client = Client {
                    world: world.clone(),
                    id: world.recorder.new_client(),
                    index,
                    name: name.clone(),
                    spec: spec.clone(),
                    phase,
                    http: HttpClient::with_timeout(Duration::from_millis(spec.timeout_ms)),
                    issued: issued.clone(),
                    started,
                    stop: stop.clone(),
                };
                tokio::spawn(client.run())
            })
            .collect();
        RunningWorkload {
            name,
            spec,
            stop,
            tasks,
        }
    }

    /// Waits for every client to finish on its own. Returns one line per
    /// client that panicked (its operations stopped there, so the history
    /// holds fewer than asked); each is also said on stderr, so that no panic
    /// goes unseen while the runner does not yet fail the step on it.
    pub async fn join(self) -> Vec<String> {
        let mut panics = Vec::new();
        for (index, task) in self.tasks.into_iter().enumerate() {
            let Err(error) = task.await else { continue };
            if !error.is_panic() {
                continue;
            }
            let payload = error.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            let line = format!(
                "workload {:?}: client {index} panicked and stopped: {message}",
                self.name
            );
            eprintln!("lab: {line}");
            panics.push(line);
        }
        panics
    }

    /// Stops the clients after their current request; returns what `join` does.
    pub async fn stop(self) -> Vec<String> {
        self.stop.cancel();
        self.join().await
    }
}

struct Client {
    world: Arc<World>,
    id: u64,
    index: usize,
    name: String,
    spec: WorkloadSpec,
    phase: u32,
    http: HttpClient,
    issued: Arc<AtomicU64>,
    started: Instant,
    stop: CancellationToken,
}

impl Client {
    async fn run(self) {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.world.seed ^ (self.id.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        );
        // The script rejects a rate outside its bounds (script::check_rate);
        // the clamp keeps a spec built in code from panicking here on an
        // interval no Duration holds.
        let period = self.spec.rate.filter(|rate| *rate > 0.0).map(|rate| {
            Duration::from_secs_f64((self.spec.clients as f64 / rate).min(MAX_CLIENT_INTERVAL_S))
        });
        let mut next_at = Instant::now();
        let mut sequence = 0u64;
        loop {
            if self.stop.is_cancelled() || self.duration_over() {
                return;
            }
            if let Some(count) = self.spec.count {
                if self.issued.fetch_add(1, Ordering::SeqCst) >= count {
                    return;
                }
            }
            if let Some(period) = period {
                next_at += period;
                let wait = next_at.saturating_duration_since(Instant::now());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.stop.cancelled() => return,
                }
            }
            let op = pick_op(self.spec.op, &mut rng);
            let key = format!(
                "{}{}",
                self.spec.key_prefix,
                rng.random_range(0..self.spec.keys)
            );
            let Some(node) = self.pick_node(sequence) else {
                tokio::time::sleep(BACKOFF_AFTER_CONNECTION_ERROR).await;
                continue;
            };
            let value = format!("{}-c{}-{}", self.name, self.id, sequence);
            let recorded = perform(
                &self.world,
                &self.http,
                Request {
                    client: self.id,
                    source: &self.name,
                    phase: self.phase,
                    op,
                    node,
                    key: &key,
                    value: Some(json!(value)),
                    ttl_s: None,
                },
            )
            .await;
            if recorded.status == 0 {
                tokio::time::sleep(BACKOFF_AFTER_CONNECTION_ERROR).await;
            }
            sequence += 1;
        }
    }

    fn duration_over(&self) -> bool {
        self.spec
            .duration_ms
            .is_some_and(|ms| self.started.elapsed() >= Duration::from_millis(ms))
    }

    /// The node for this request: for `spread`, every running node in turn.
    fn pick_node(&self, sequence: u64) -> Option<NodeId> {
        if self.spec.target == "spread" {
            let live = self.world.live();
            if live.is_empty() {
                return None;
            }
            return Some(live[(self.index + sequence as usize) % live.len()]);
        }
        let live = self.world.live();
        let resolved = self.world.resolve(&self.spec.target).map(|ids| {
            // Named nodes that are down are skipped while others run.
            let running: Vec<NodeId> = ids.iter().copied().filter(|id| live.contains(id)).collect();
            if running.is_empty() {
                ids
            } else {
                running
            }
        });
        match resolved {
            Ok(ids) => Some(ids[(self.index + sequence as usize) % ids.len()]),
            // No leader now: ask any running node, which forwards or fails.
            Err(_) => {
                (!live.is_empty()).then(|| live[(self.index + sequence as usize) % live.len()])
            }
        }
    }
}

fn pick_op(mix: OpMix, rng: &mut ChaCha8Rng) -> OpType {
    match mix {
        OpMix::Write => OpType::Write,
        OpMix::ReadLocal => OpType::ReadLocal,
        OpMix::ReadLinearizable => OpType::ReadLinearizable,
        OpMix::Delete => OpType::Delete,
        OpMix::Mixed => match rng.random_range(0..10) {
            0..=4 => OpType::Write,
            5..=7 => OpType::ReadLinearizable,
            8 => OpType::ReadLocal,
            _ => OpType::Delete,
        },
    }
}

/// One client operation to send: who sends it, what, and to which node.
pub struct Request<'a> {
    /// The recorded client id; a client has one operation in flight.
    pub client: u64,
    /// The workload or step sending it.
    pub source: &'a str,
    /// The cluster phase (`reset_cluster` starts a new one).
    pub phase: u32,
    /// What to do.
    pub op: OpType,
    /// The node the request is sent to.
    pub node: NodeId,
    /// The script's key; the history stores it with the phase prefix.
    pub key: &'a str,
    /// The value to write, as JSON.
    pub value: Option<serde_json::Value>,
    /// A TTL in seconds, for writes.
    pub ttl_s: Option<f64>,
}

/// Sends one operation, records it, and returns the record.
pub async fn perform(world: &World, http: &HttpClient, request: Request<'_>) -> HistoryOp {
    let Request {
        client,
        source,
        phase,
        op,
        node,
        key,
        value,
        ttl_s,
    } = request;
    let base = world.url(node);
    let path_key = percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC);
    let invoke_us = world.recorder.now_us();
    let result = match op {
        OpType::Write => {
            let mut body = json!({"value": value.clone().unwrap_or(json!(null))});
            if let Some(ttl) = ttl_s {
                body["ttl"] = json!(ttl);
            }
            http.post_json(&format!("{base}/cache/{path_key}"), &body)
                .await
        }
        OpType::Delete => http.delete(&format!("{base}/cache/{path_key}")).await,
        OpType::Clear => http.delete(&format!("{base}/cache")).await,
        OpType::ReadLinearizable => {
            http.get(&format!("{base}/cache/{path_key}?consistency=linearizable"))
                .await
        }
        OpType::ReadLocal => {
            http.get(&format!("{base}/cache/{path_key}?consistency=local"))
                .await
        }
        OpType::List => http.get(&format!("{base}/cache")).await,
    };
    let complete_us = world.recorder.now_us().max(invoke_us);
    let (outcome, status, error) = classify(op, &result);
    let (index, term) = log_position(op, &result);
    let observed = match (&result, op) {
        (Ok(response), OpType::ReadLinearizable | OpType::ReadLocal) if response.status == 200 => {
            Some(response.json()["value"].to_string())
        }
        (Ok(response), OpType::List) if response.status == 200 => {
            Some(response.json()["count"].to_string())
        }
        _ => None,
    };
    let record = HistoryOp {
        id: 0,
        client,
        source: source.to_string(),
        phase,
        op,
        node: node_name(node),
        key: (op != OpType::Clear && op != OpType::List).then(|| format!("p{phase}/{key}")),
        value: value.map(|value| value.to_string()),
        observed,
        ttl: ttl_s.is_some(),
        invoke_us,
        complete_us,
        outcome,
        status,
        error,
        index,
        term,
    };
    world.recorder.record(record.clone());
    record
}
