//! The launcher: runs N nodes as tokio tasks in one process, each with its
//! own HTTP listener, joined by the in-process transport, and carries out
//! the control plane's kills, restarts, pauses and network faults.

use crate::api::{serve, NodeApi};
use crate::events::{EventBus, EventKind};
use crate::node::{spawn_node, NodeConfig, NodeHandle, NodeStatus, RunningNode};
use crate::raft::{node_name, NodeId, RaftConfig};
use crate::transport::{LinkFault, MemoryNetwork, Transport};
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How to launch a cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Number of nodes, named node1..nodeN.
    pub nodes: u64,
    /// Node i listens on `base_port + i - 1`; 0 picks free ports (tests).
    pub base_port: u16,
    /// Address the node APIs bind to.
    pub host: String,
    /// Node i keeps its log in `data_dir/node{i}`.
    pub data_dir: PathBuf,
    pub raft: RaftConfig,
    pub tick: Duration,
    pub fsync: bool,
    pub fsync_delay: Duration,
    /// Seed of all randomness: election timeouts and network fault dice.
    pub seed: u64,
    /// How long a client request may wait; `None` is about two election
    /// timeouts (API.md).
    pub request_timeout: Option<Duration>,
}

impl ClusterOptions {
    /// Three nodes on 3001-3003 storing under `data_dir`.
    pub fn new(data_dir: PathBuf) -> ClusterOptions {
        ClusterOptions {
            nodes: 3,
            base_port: 3001,
            host: "127.0.0.1".into(),
            data_dir,
            raft: RaftConfig::default(),
            tick: crate::node::config::DEFAULT_TICK,
            fsync: true,
            fsync_delay: Duration::ZERO,
            seed: 1,
            request_timeout: None,
        }
    }
}

/// A control-plane request that cannot be carried out, with a sentence that says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    UnknownNode(String),
    /// The request does not fit the node's state (e.g. killing a dead node).
    Conflict(String),
    /// Storage or the listener failed while (re)starting.
    Failed(String),
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlError::UnknownNode(message)
            | ControlError::Conflict(message)
            | ControlError::Failed(message) => f.write_str(message),
        }
    }
}

/// A running node with its HTTP server.
struct Live {
    node: RunningNode,
    api: Arc<NodeApi>,
    http_stop: CancellationToken,
    http_task: JoinHandle<()>,
}

/// One node's place in the cluster, alive or not.
struct Slot {
    config: NodeConfig,
    address: SocketAddr,
    live: Option<Live>,
    paused: bool,
}

/// What the control plane shows of one node.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NodeView {
    pub id: String,
    pub address: String,
    /// "running", "paused" or "killed".
    pub process: &'static str,
    /// The node's last published status; `None` while killed.
    pub status: Option<NodeStatus>,
}

/// What readers need of a slot.
#[derive(Clone)]
struct SlotView {
    address: SocketAddr,
    handle: Option<NodeHandle>,
    paused: bool,
}

/// A cluster of nodes in this process.
pub struct Cluster {
    options: ClusterOptions,
    network: Arc<MemoryNetwork>,
    events: EventBus,
    slots: tokio::sync::Mutex<BTreeMap<NodeId, Slot>>,
    /// A copy of each node's handle and process state that reads without
    /// waiting for a kill or restart in progress.
    views: Mutex<BTreeMap<NodeId, SlotView>>,
}

impl Cluster {
    /// Binds every node's listener and starts every node.
    pub async fn start(
        options: ClusterOptions,
        events: EventBus,
    ) -> Result<Arc<Cluster>, ControlError> {
        let network = Arc::new(MemoryNetwork::new(options.seed));
        let voters: Vec<NodeId> = (1..=options.nodes).collect();
        let mut slots = BTreeMap::new();
        let mut listeners = BTreeMap::new();
        for id in &voters {
            let port = if options.base_port == 0 {
                0
            } else {
                options.base_port + (*id as u16) - 1
            };
            let wanted = format!("{}:{port}", options.host);
            let listener = TcpListener::bind(&wanted).await.map_err(|error| {
                ControlError::Failed(format!(
                    "cannot listen on {wanted} for {}: {error}",
                    node_name(*id)
                ))
            })?;
            let address = listener
                .local_addr()
                .map_err(|error| ControlError::Failed(error.to_string()))?;
            let mut config =
                NodeConfig::new(*id, voters.clone(), options.data_dir.join(node_name(*id)));
            config.raft = options.raft.clone();
            config.tick = options.tick;
            config.fsync = options.fsync;
            config.fsync_delay = options.fsync_delay;
            config.seed = options.seed.wrapping_mul(1000).wrapping_add(*id);
            config.request_timeout = options.request_timeout.unwrap_or_else(|| {
                crate::node::config::default_request_timeout(&config.raft, config.tick)
            });
            slots.insert(
                *id,
                Slot {
                    config,
                    address,
                    live: None,
                    paused: false,
                },
            );
            listeners.insert(*id, listener);
        }
        let cluster = Arc::new(Cluster {
            options,
            network,
            events,
            slots: tokio::sync::Mutex::new(slots),
            views: Mutex::new(BTreeMap::new()),
        });
        for (id, listener) in listeners {
            cluster.start_node(id, Some(listener)).await?;
        }
        Ok(cluster)
    }

    async fn start_node(
        &self,
        id: NodeId,
        listener: Option<TcpListener>,
    ) -> Result<(), ControlError> {
        let mut slots = self.slots.lock().await;
        let slot = slots
            .get_mut(&id)
            .ok_or_else(|| ControlError::UnknownNode(format!("no node {id}")))?;
        if slot.live.is_some() {
            return Err(ControlError::Conflict(format!(
                "{} is already running",
                node_name(id)
            )));
        }
        let listener = match listener {
            Some(listener) => listener,
            None => TcpListener::bind(slot.address).await.map_err(|error| {
                ControlError::Failed(format!(
                    "cannot listen on {} for {}: {error}",
                    slot.address,
                    node_name(id)
                ))
            })?,
        };
        let inbox = self.network.register(id);
        let transport: Arc<dyn Transport> = self.network.clone();
        let node = spawn_node(slot.config.clone(), transport, inbox, self.events.clone()).map_err(
            |error| {
                self.network.unregister(id);
                ControlError::Failed(format!("{} cannot start: {error}", node_name(id)))
            },
        )?;
        let peer_addresses = slots
            .iter()
            .filter(|(peer, _)| **peer != id)
            .map(|(peer, peer_slot)| (*peer, peer_slot.address.to_string()))
            .collect();
        let slot = slots.get_mut(&id).expect("slot exists");
        let api = Arc::new(NodeApi {
            node: node.handle.clone(),
            address: slot.address.to_string(),
            peer_addresses,
            max_body_bytes: slot.config.max_body_bytes,
            metrics: Default::default(),
        });
        let http_stop = CancellationToken::new();
        let handler_api = api.clone();
        let http_task = tokio::spawn(serve(listener, http_stop.clone(), move |request| {
            handler_api.clone().handle(request)
        }));
        self.views.lock().insert(
            id,
            SlotView {
                address: slot.address,
                handle: Some(node.handle.clone()),
                paused: false,
            },
        );
        slot.live = Some(Live {
            node,
            api,
            http_stop,
            http_task,
        });
        slot.paused = false;
        Ok(())
    }

    /// Resolves a node name (`node2` or `2`).
    pub fn resolve(&self, name: &str) -> Result<NodeId, ControlError> {
        crate::raft::parse_node_name(name)
            .filter(|id| *id >= 1 && *id <= self.options.nodes)
            .ok_or_else(|| {
                let names: Vec<String> = (1..=self.options.nodes).map(node_name).collect();
                ControlError::UnknownNode(format!(
                    "unknown node {name:?}; the nodes are {}",
                    names.join(", ")
                ))
            })
    }

    /// Crashes a node: driver aborted, listener and connections closed,
    /// memory lost, data directory kept.
    pub async fn kill(&self, id: NodeId) -> Result<(), ControlError> {
        let mut slots = self.slots.lock().await;
        let slot = slots
            .get_mut(&id)
            .ok_or_else(|| ControlError::UnknownNode(format!("no node {id}")))?;
        let live = slot
            .live
            .take()
            .ok_or_else(|| ControlError::Conflict(format!("{} is not running", node_name(id))))?;
        self.network.unregister(id);
        live.node.stop.cancel();
        live.http_stop.cancel();
        let _ = live.node.task.await;
        let _ = live.http_task.await;
        drop(live.api);
        slot.paused = false;
        self.views.lock().insert(
            id,
            SlotView {
                address: slot.address,
                handle: None,
                paused: false,
            },
        );
        drop(slots);
        self.events.publish(EventKind::NodeKilled {
            node: node_name(id),
        });
        Ok(())
    }

    /// Starts a killed node again from its data directory.
    pub async fn restart(&self, id: NodeId) -> Result<(), ControlError> {
        self.start_node(id, None).await
    }

    /// Freezes (or unfreezes) a node without killing it.
    pub async fn set_paused(&self, id: NodeId, paused: bool) -> Result<(), ControlError> {
        let mut slots = self.slots.lock().await;
        let slot = slots
            .get_mut(&id)
            .ok_or_else(|| ControlError::UnknownNode(format!("no node {id}")))?;
        let live = slot
            .live
            .as_ref()
            .ok_or_else(|| ControlError::Conflict(format!("{} is not running", node_name(id))))?;
        if slot.paused == paused {
            let state = if paused {
                "already paused"
            } else {
                "not paused"
            };
            return Err(ControlError::Conflict(format!(
                "{} is {state}",
                node_name(id)
            )));
        }
        live.node.pause.send_replace(paused);
        slot.paused = paused;
        if let Some(view) = self.views.lock().get_mut(&id) {
            view.paused = paused;
        }
        let node = node_name(id);
        self.events.publish(if paused {
            EventKind::NodePaused { node }
        } else {
            EventKind::NodeResumed { node }
        });
        Ok(())
    }

    /// Splits the network into groups of node ids.
    pub fn partition(&self, groups: Vec<BTreeSet<NodeId>>) {
        let names = groups
            .iter()
            .map(|group| group.iter().map(|id| node_name(*id)).collect())
            .collect();
        self.network.partition(groups);
        self.events
            .publish(EventKind::Partitioned { groups: names });
    }

    /// Removes every partition and link fault.
    pub fn heal(&self) {
        self.network.heal();
        self.events.publish(EventKind::Healed);
    }

    /// Sets a link fault; `None` means any node.
    pub fn set_link(&self, from: Option<NodeId>, to: Option<NodeId>, fault: LinkFault) {
        self.network.set_link(from, to, fault);
        let name = |id: Option<NodeId>| id.map(node_name).unwrap_or_else(|| "*".into());
        self.events.publish(EventKind::LinkChanged {
            from: name(from),
            to: name(to),
            drop: fault.drop,
            delay_ms: fault.delay_ms,
            jitter_ms: fault.jitter_ms,
            duplicate: fault.duplicate,
        });
    }

    /// Asks the current leader to hand leadership to `to`.
    pub fn transfer_leadership(&self, to: NodeId) -> Result<(), ControlError> {
        let views = self.views.lock();
        let leader = views
            .values()
            .filter_map(|view| view.handle.as_ref())
            .find(|handle| handle.status().role == crate::raft::Role::Leader)
            .ok_or_else(|| ControlError::Conflict("there is no leader to transfer from".into()))?;
        if leader.id == to {
            return Err(ControlError::Conflict(format!(
                "{} already leads",
                node_name(to)
            )));
        }
        leader
            .transfer_leadership(to)
            .map_err(|_| ControlError::Conflict("the leader is stopping".into()))
    }

    /// Every node's address, process state and status.
    pub fn nodes(&self) -> Vec<NodeView> {
        self.views
            .lock()
            .iter()
            .map(|(id, view)| NodeView {
                id: node_name(*id),
                address: view.address.to_string(),
                process: match (&view.handle, view.paused) {
                    (None, _) => "killed",
                    (Some(_), true) => "paused",
                    (Some(_), false) => "running",
                },
                status: view.handle.as_ref().map(|handle| handle.status()),
            })
            .collect()
    }

    /// The handle of a running node.
    pub fn handle(&self, id: NodeId) -> Option<NodeHandle> {
        self.views
            .lock()
            .get(&id)
            .and_then(|view| view.handle.clone())
    }

    /// The HTTP address of a node.
    pub fn address(&self, id: NodeId) -> Option<SocketAddr> {
        self.views.lock().get(&id).map(|view| view.address)
    }

    /// Where node `id` keeps its log (`data_dir/node{id}`), running or not.
    pub fn node_data_dir(&self, id: NodeId) -> PathBuf {
        self.options.data_dir.join(node_name(id))
    }

    /// The network controller, for fault inspection and traffic counts.
    pub fn network(&self) -> &MemoryNetwork {
        &self.network
    }

    /// The event bus.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// Number of nodes.
    pub fn size(&self) -> u64 {
        self.options.nodes
    }

    /// Stops every node. Writes are acknowledged only after their fsync, so
    /// nothing acknowledged is lost; writes still in flight get 504
    /// `outcome_unknown` (they may be in the log), other requests 503.
    pub async fn shutdown(&self) {
        for id in 1..=self.options.nodes {
            let _ = self.kill(id).await;
        }
    }
}
