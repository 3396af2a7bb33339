//! A three-node cluster for end-to-end tests: real HTTP on ephemeral ports,
//! kills and restarts done through the control plane, and bounded polling
//! helpers so that no test sleeps for a fixed time or hangs forever.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use bytes::Bytes;
use hyper::Method;
use raftcache::client::{ClientError, HttpClient, HttpResponse};
use raftcache::cluster::{control_api, Cluster, ClusterOptions};
use raftcache::events::EventBus;
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The ids of the three nodes.
pub const NODE_IDS: [u64; 3] = [1, 2, 3];
/// How long a test waits for an election on a loaded two-core machine.
pub const ELECTION_WAIT: Duration = Duration::from_secs(10);
/// How long a test waits for replicas to converge.
pub const CONVERGENCE_WAIT: Duration = Duration::from_secs(20);
/// Pause between two polls.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The node name used by the API (`node2`).
pub fn name(id: u64) -> String {
    format!("node{id}")
}

/// Polls `probe` until it returns `Some`, failing the test after `timeout`
/// with `what` and the last thing the probe saw.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last_seen) if started.elapsed() >= timeout => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last_seen}")
            }
            Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

/// A cluster of three nodes plus its control plane, in this test's runtime.
pub struct TestCluster {
    pub cluster: Arc<Cluster>,
    pub client: HttpClient,
    control_address: SocketAddr,
    control_stop: CancellationToken,
    control_task: JoinHandle<()>,
    /// Kept so that the data directories outlive the cluster.
    _data_dir: TempDir,
}

impl TestCluster {
    /// Starts three nodes and the control plane on ephemeral ports.
    pub async fn start() -> TestCluster {
        TestCluster::start_with(|_| {}).await
    }

    /// Starts three nodes on ephemeral ports after `adjust` changed the options.
    pub async fn start_with(adjust: impl FnOnce(&mut ClusterOptions)) -> TestCluster {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let mut options = ClusterOptions::new(data_dir.path().to_path_buf());
        options.base_port = 0;
        adjust(&mut options);
        let cluster = Cluster::start(options, EventBus::new())
            .await
            .expect("cluster starts");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("control plane listener");
        let control_address = listener.local_addr().expect("control plane address");
        let control_stop = CancellationToken::new();
        let served = cluster.clone();
        let control_task = tokio::spawn(raftcache::api::serve(
            listener,
            control_stop.clone(),
            move |request| control_api::handle(served.clone(), request),
        ));
        TestCluster {
            cluster,
            client: HttpClient::with_timeout(Duration::from_secs(10)),
            control_address,
            control_stop,
            control_task,
            _data_dir: data_dir,
        }
    }

    /// Starts a cluster and waits until it has a leader.
    pub async fn start_with_leader() -> (TestCluster, u64) {
        let cluster = TestCluster::start().await;
        let (leader, _term) = cluster.wait_for_leader(ELECTION_WAIT).await;
        (cluster, leader)
    }

    /// `http://127.0.0.1:port` of a node.
    pub fn node_url(&self, id: u64) -> String {
        let address = self.cluster.address(id).expect("node exists");
        format!("http://{address}")
    }

    /// The URL of a key on a node.
    pub fn key_url(&self, id: u64, key: &str) -> String {
        format!("{}/cache/{key}", self.node_url(id))
    }

    /// The URL of a control-plane path such as `/api/cluster`.
    pub fn control_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.control_address)
    }

    /// A node's `/status`, or why it could not be read.
    pub async fn status(&self, id: u64) -> Result<Value, String> {
        match self
            .client
            .get(&format!("{}/status", self.node_url(id)))
            .await
        {
            Ok(response) if response.status == 200 => Ok(response.json()),
            Ok(response) => Err(format!("status {} from /status", response.status)),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Waits until one of the running nodes leads with the votes of a
    /// majority: it says it leads, and enough nodes (itself included) name it
    /// as leader of the same term. Returns its id and term.
    pub async fn wait_for_leader(&self, timeout: Duration) -> (u64, u64) {
        eventually("a leader backed by a majority", timeout, || async {
            let mut statuses = Vec::new();
            for id in NODE_IDS {
                if let Ok(status) = self.status(id).await {
                    statuses.push((id, status));
                }
            }
            let leader = statuses
                .iter()
                .filter(|(_, status)| status["raft"]["is_leader"] == json!(true))
                .max_by_key(|(_, status)| status["raft"]["term"].as_u64());
            let Some((leader, leader_status)) = leader else {
                return Err(format!("no node leads: {}", summary(&statuses)));
            };
            let term = leader_status["raft"]["term"].as_u64().expect("term");
            let backers = statuses
                .iter()
                .filter(|(_, status)| {
                    status["raft"]["leader_id"] == json!(name(*leader))
                        && status["raft"]["term"].as_u64() == Some(term)
                })
                .count();
            if backers * 2 > NODE_IDS.len() {
                Ok((*leader, term))
            } else {
                Err(format!("leader without majority: {}", summary(&statuses)))
            }
        })
        .await
    }

    /// Waits for a leader and returns the ids of the other running nodes too.
    pub async fn leader_and_followers(&self) -> (u64, Vec<u64>) {
        let (leader, _) = self.wait_for_leader(ELECTION_WAIT).await;
        let followers = NODE_IDS.into_iter().filter(|id| *id != leader).collect();
        (leader, followers)
    }

    /// Sends a control-plane action (`kill`, `restart`, `pause`, `resume`) for a node.
    pub async fn control(&self, id: u64, action: &str) {
        let url = self.control_url(&format!("/api/nodes/{}/{action}", name(id)));
        let response = self
            .client
            .send(Method::POST, &url, None)
            .await
            .unwrap_or_else(|error| panic!("control plane {action} {}: {error}", name(id)));
        assert_eq!(
            response.status,
            200,
            "control plane {action} {}: {}",
            name(id),
            String::from_utf8_lossy(&response.body)
        );
    }

    /// Crashes a node through the control plane.
    pub async fn kill(&self, id: u64) {
        self.control(id, "kill").await;
    }

    /// Starts a killed node again through the control plane.
    pub async fn restart(&self, id: u64) {
        self.control(id, "restart").await;
    }

    /// Sets `key` through `node`, retrying while the cluster is electing
    /// (503, 504, connection errors), for steps that only set the scene.
    pub async fn write(&self, node: u64, key: &str, value: Value) -> HttpResponse {
        let url = self.key_url(node, key);
        let body = json!({ "value": value });
        eventually(
            &format!("a write of {key} through {}", name(node)),
            ELECTION_WAIT,
            || async {
                match self.client.post_json(&url, &body).await {
                    Ok(response) if (200..300).contains(&response.status) => Ok(response),
                    Ok(response) if matches!(response.status, 503 | 504) => {
                        Err(describe(&response))
                    }
                    Ok(response) => panic!("write of {key} refused: {}", describe(&response)),
                    Err(error) => Err(error.to_string()),
                }
            },
        )
        .await
    }

    /// A local read of a key on a node: the value, `None` when absent.
    pub async fn read_local(&self, node: u64, key: &str) -> Result<Option<Value>, String> {
        match self.client.get(&self.key_url(node, key)).await {
            Ok(response) if response.status == 200 => Ok(Some(response.json()["value"].clone())),
            Ok(response) if response.status == 404 => Ok(None),
            Ok(response) => Err(describe(&response)),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Waits until a node serves `key` with `value` from its own state.
    pub async fn wait_for_value(&self, node: u64, key: &str, value: &Value) {
        eventually(
            &format!("{} to serve {key} = {value}", name(node)),
            CONVERGENCE_WAIT,
            || async {
                match self.read_local(node, key).await? {
                    Some(seen) if seen == *value => Ok(()),
                    seen => Err(format!("{seen:?}")),
                }
            },
        )
        .await
    }

    /// Waits until `node` has applied everything the leader has committed.
    pub async fn wait_until_caught_up(&self, node: u64, leader: u64) {
        eventually(
            &format!("{} to apply the leader's commit index", name(node)),
            CONVERGENCE_WAIT,
            || async {
                let leader_commit = self.status(leader).await?["raft"]["commit_index"]
                    .as_u64()
                    .ok_or("no commit_index")?;
                let applied = self.status(node).await?["raft"]["last_applied"]
                    .as_u64()
                    .ok_or("no last_applied")?;
                if applied >= leader_commit {
                    Ok(())
                } else {
                    Err(format!("applied {applied} < leader commit {leader_commit}"))
                }
            },
        )
        .await
    }

    /// `GET /health` on a node.
    pub async fn health(&self, node: u64) -> Result<HttpResponse, ClientError> {
        self.client
            .get(&format!("{}/health", self.node_url(node)))
            .await
    }

    /// Sends a raw request to a node.
    pub async fn raw(
        &self,
        node: u64,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let url = format!("{}{path}", self.node_url(node));
        self.client
            .send(method.clone(), &url, body.map(Bytes::copy_from_slice))
            .await
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"))
    }

    /// Stops the control plane and every node.
    pub async fn shutdown(self) {
        self.control_stop.cancel();
        let _ = self.control_task.await;
        self.cluster.shutdown().await;
    }
}

/// A response in one line, for failure messages.
pub fn describe(response: &HttpResponse) -> String {
    format!(
        "{} {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    )
}

fn summary(statuses: &[(u64, Value)]) -> String {
    statuses
        .iter()
        .map(|(id, status)| {
            format!(
                "{}: {} term {} leader {}",
                name(*id),
                status["raft"]["state"],
                status["raft"]["term"],
                status["raft"]["leader_id"]
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
