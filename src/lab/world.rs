//! What a running lab knows of its cluster: the cluster itself (replaced by
//! `reset_cluster`), the names steps bound with `as`, and the answers to
//! "who is the leader", "who is a follower", "which nodes are killed".

use super::history::Recorder;
use super::script::ClusterSpec;
use super::timeline::Timeline;
use crate::cluster::{Cluster, ClusterOptions, NodeView};
use crate::events::EventBus;
use crate::raft::{node_name, parse_node_name, NodeId, Role, Term};
use parking_lot::{Mutex, RwLock};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often waits poll the nodes' published status.
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// The shared state of one lab run.
pub struct World {
    cluster: RwLock<Arc<Cluster>>,
    pub events: EventBus,
    pub timeline: Timeline,
    pub recorder: Recorder,
    pub seed: u64,
    /// Decides "a follower": seeded, so a seed replays the same faults.
    rng: Mutex<ChaCha8Rng>,
    /// Names bound by `as = "..."`.
    bindings: Mutex<BTreeMap<String, Vec<NodeId>>>,
    /// The highest term seen just before the last fault step.
    pub term_before_fault: Mutex<Term>,
    pub spec: Mutex<ClusterSpec>,
    pub data_dir: PathBuf,
    pub base_port: u16,
}

impl World {
    /// Starts the first cluster.
    pub async fn start(
        spec: ClusterSpec,
        seed: u64,
        base_port: u16,
        data_dir: PathBuf,
        events: EventBus,
        timeline: Timeline,
        recorder: Recorder,
    ) -> Result<World, String> {
        let cluster =
            start_cluster(&spec, seed, base_port, &data_dir.join("phase0"), &events).await?;
        Ok(World {
            cluster: RwLock::new(cluster),
            events,
            timeline,
            recorder,
            seed,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            bindings: Mutex::default(),
            term_before_fault: Mutex::new(0),
            spec: Mutex::new(spec),
            data_dir,
            base_port,
        })
    }

    /// The cluster of the current phase.
    pub fn cluster(&self) -> Arc<Cluster> {
        self.cluster.read().clone()
    }

    /// Stops the cluster and starts a fresh, empty one with `spec`.
    pub async fn reset(&self, spec: ClusterSpec) -> Result<(), String> {
        let old = self.cluster();
        old.shutdown().await;
        let phase = self.timeline.next_phase();
        let seed = self.seed.wrapping_add(phase as u64 * 7919);
        let cluster = start_cluster(
            &spec,
            seed,
            self.base_port,
            &self.data_dir.join(format!("phase{phase}")),
            &self.events,
        )
        .await?;
        *self.cluster.write() = cluster;
        *self.spec.lock() = spec;
        self.bindings.lock().clear();
        *self.term_before_fault.lock() = 0;
        Ok(())
    }

    /// Binds a name to nodes for later steps.
    pub fn bind(&self, name: &str, ids: Vec<NodeId>) {
        self.bindings.lock().insert(name.to_string(), ids);
    }

    /// Remembers the term before a fault, for `wait until = "new_leader"`.
    pub fn note_fault(&self) {
        *self.term_before_fault.lock() = self.max_term();
    }

    /// The highest term among running nodes.
    pub fn max_term(&self) -> Term {
        self.cluster()
            .nodes()
            .iter()
            .filter_map(|view| view.status.as_ref().map(|status| status.term))
            .max()
            .unwrap_or(0)
            .max(self.timeline.max_term())
    }

    /// Resolves a node reference to ids, in id order.
    pub fn resolve(&self, name: &str) -> Result<Vec<NodeId>, String> {
        let views = self.cluster().nodes();
        let running = |view: &&NodeView| view.process == "running";
        let leader = working_leader(&views).map(|(id, _)| id);
        let ids = match name {
            "all" => views.iter().map(view_id).collect(),
            "leader" => vec![leader.ok_or("there is no leader now")?],
            "followers" => views
                .iter()
                .filter(running)
                .map(view_id)
                .filter(|id| Some(*id) != leader)
                .collect(),
            "follower" => {
                let followers: Vec<NodeId> = views
                    .iter()
                    .filter(running)
                    .map(view_id)
                    .filter(|id| Some(*id) != leader)
                    .collect();
                if followers.is_empty() {
                    return Err("there is no running follower".into());
                }
                let pick = self.rng.lock().random_range(0..followers.len());
                vec![followers[pick]]
            }
            "killed" => views
                .iter()
                .filter(|view| view.process == "killed")
                .map(view_id)
                .collect(),
            "paused" => views
                .iter()
                .filter(|view| view.process == "paused")
                .map(view_id)
                .collect(),
            other => match self.bindings.lock().get(other) {
                Some(ids) => ids.clone(),
                None => {
                    vec![parse_node_name(other).ok_or_else(|| format!("unknown node {other:?}"))?]
                }
            },
        };
        if ids.is_empty() {
            return Err(format!("{name:?} names no node now"));
        }
        Ok(ids)
    }

    /// A seeded number in `0..bound`, for choices the script leaves open.
    pub fn random_below(&self, bound: usize) -> usize {
        self.rng.lock().random_range(0..bound.max(1))
    }

    /// The HTTP base URL of a node.
    pub fn url(&self, id: NodeId) -> String {
        let address = self.cluster().address(id).expect("resolved nodes exist");
        format!("http://{address}")
    }

    /// Running, unpaused nodes.
    pub fn live(&self) -> Vec<NodeId> {
        self.cluster()
            .nodes()
            .iter()
            .filter(|view| view.process == "running")
            .map(view_id)
            .collect()
    }
}

fn view_id(view: &NodeView) -> NodeId {
    parse_node_name(&view.id).expect("the launcher names nodes nodeN")
}

/// The leader a majority of all nodes follows in its term, if any.
pub fn working_leader(views: &[NodeView]) -> Option<(NodeId, Term)> {
    let majority = views.len() / 2 + 1;
    let live: Vec<_> = views
        .iter()
        .filter(|view| view.process == "running")
        .filter_map(|view| view.status.as_ref())
        .collect();
    live.iter()
        .filter(|status| status.role == Role::Leader)
        .filter(|leader| {
            live.iter()
                .filter(|status| {
                    status.term == leader.term
                        && (status.leader == Some(leader.id) || status.id == leader.id)
                })
                .count()
                >= majority
        })
        .map(|leader| (leader.id, leader.term))
        .max_by_key(|(_, term)| *term)
}

async fn start_cluster(
    spec: &ClusterSpec,
    seed: u64,
    base_port: u16,
    data_dir: &std::path::Path,
    events: &EventBus,
) -> Result<Arc<Cluster>, String> {
    let mut options = ClusterOptions::new(data_dir.to_path_buf());
    options.nodes = spec.nodes;
    options.base_port = base_port;
    options.seed = seed;
    options.fsync = spec.fsync;
    options.fsync_delay = Duration::from_millis(spec.fsync_delay_ms);
    options.tick = Duration::from_millis(spec.tick_ms.max(1));
    options.raft = spec.raft_config();
    options.raft.validate()?;
    Cluster::start(options, events.clone())
        .await
        .map_err(|error| format!("{error} (use --base-port, or 0 for free ports)"))
}

/// Names of ids, for messages.
pub fn names(ids: &[NodeId]) -> String {
    ids.iter()
        .map(|id| node_name(*id))
        .collect::<Vec<_>>()
        .join(", ")
}
