//! Where the nodes of a multi-process cluster live: each node's id, HTTP
//! and Raft addresses and data directory, and the settings every node must
//! share (timings, the cluster token). Read from a `cluster.toml`, or the
//! default three-node layout of the original walkthrough:
//!
//! | node  | HTTP           | Raft           | data         |
//! | ----- | -------------- | -------------- | ------------ |
//! | node1 | 127.0.0.1:3001 | 127.0.0.1:4001 | `data/node1` |
//! | node2 | 127.0.0.1:3002 | 127.0.0.1:4002 | `data/node2` |
//! | node3 | 127.0.0.1:3003 | 127.0.0.1:4003 | `data/node3` |
//!
//! A `cluster.toml` (every key but `nodes` optional; unknown keys are errors):
//!
//! ```toml
//! token = "change-me"          # shared secret checked when peers connect
//! data_dir = "data"            # node N keeps its log in data_dir/nodeN
//! tick_ms = 10                 # length of one Raft tick
//! fsync = true
//! request_timeout_ms = 700     # default: about two election timeouts
//!
//! [raft]                       # any field of RaftConfig, in ticks
//! election_timeout_min_ticks = 15
//! election_timeout_max_ticks = 30
//!
//! [[nodes]]
//! id = "node1"
//! http = "127.0.0.1:3001"
//! raft = "127.0.0.1:4001"
//! # data_dir = "/var/lib/raftcache/node1"   # overrides data_dir/node1
//! ```

use crate::node::config::{default_request_timeout, DEFAULT_TICK};
use crate::node::NodeConfig;
use crate::raft::{node_name, parse_node_name, NodeId, RaftConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Nodes in the default layout.
pub const DEFAULT_NODES: u64 = 3;
/// HTTP port of node N in the default layout is this plus N.
pub const DEFAULT_HTTP_PORT_BASE: u16 = 3000;
/// Raft port of node N in the default layout is this plus N.
pub const DEFAULT_RAFT_PORT_BASE: u16 = 4000;
/// Node N keeps its log in this directory's `nodeN` by default.
pub const DEFAULT_DATA_DIR: &str = "data";
/// Longest tick accepted, in ms: beyond it elections take minutes.
pub const MAX_TICK_MS: u64 = 10_000;

/// Where one node listens and stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePlace {
    /// HTTP API address (`host:port`), bound by the node and shown in `/status`.
    pub http: String,
    /// Raft transport address (`host:port`), bound by the node, dialed by its peers.
    pub raft: String,
    /// The node's own data directory.
    pub data_dir: PathBuf,
}

/// A whole cluster's layout and shared settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterLayout {
    /// Every voter, in id order.
    pub nodes: BTreeMap<NodeId, NodePlace>,
    /// Shared cluster token; empty means none is checked.
    pub token: String,
    /// Length of one Raft tick.
    pub tick: Duration,
    /// Protocol timings and switches, in ticks.
    pub raft: RaftConfig,
    /// Sync the log before acknowledging.
    pub fsync: bool,
    /// How long a client request may wait; `None` derives it from the timings.
    pub request_timeout: Option<Duration>,
}

/// The file as written; see the module documentation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    data_dir: Option<PathBuf>,
    #[serde(default)]
    tick_ms: Option<u64>,
    #[serde(default)]
    fsync: Option<bool>,
    #[serde(default)]
    request_timeout_ms: Option<u64>,
    #[serde(default)]
    raft: Option<RaftConfig>,
    nodes: Vec<NodeFile>,
}

/// One `[[nodes]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    id: String,
    http: String,
    raft: String,
    #[serde(default)]
    data_dir: Option<PathBuf>,
}

impl ClusterLayout {
    /// The default layout: `nodes` nodes on 127.0.0.1, HTTP on 3001.., Raft
    /// on 4001.., data under `data/`.
    pub fn default_local(nodes: u64) -> ClusterLayout {
        let nodes = (1..=nodes)
            .map(|id| {
                (
                    id,
                    ClusterLayout::default_place(id, Path::new(DEFAULT_DATA_DIR)),
                )
            })
            .collect();
        ClusterLayout {
            nodes,
            token: String::new(),
            tick: DEFAULT_TICK,
            raft: RaftConfig::default(),
            fsync: true,
            request_timeout: None,
        }
    }

    /// Where node `id` lives by default, storing under `data_dir`.
    pub fn default_place(id: NodeId, data_dir: &Path) -> NodePlace {
        let port = |base: u16| u16::try_from(id).ok().and_then(|id| base.checked_add(id));
        let address = |base| match port(base) {
            Some(port) => format!("127.0.0.1:{port}"),
            None => format!("127.0.0.1:{base}"),
        };
        NodePlace {
            http: address(DEFAULT_HTTP_PORT_BASE),
            raft: address(DEFAULT_RAFT_PORT_BASE),
            data_dir: data_dir.join(node_name(id)),
        }
    }

    /// Reads and checks a `cluster.toml`; errors name the file and the problem.
    pub fn load(path: &Path) -> Result<ClusterLayout, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        ClusterLayout::parse(&text).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// Parses and checks the text of a `cluster.toml`.
    pub fn parse(text: &str) -> Result<ClusterLayout, String> {
        let file: ClusterFile = toml::from_str(text).map_err(|error| error.to_string())?;
        let data_dir = file
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let mut nodes = BTreeMap::new();
        for entry in file.nodes {
            let id = parse_node_name(&entry.id).ok_or_else(|| {
                format!(
                    "node id {:?} is not of the form nodeN (N a positive number)",
                    entry.id
                )
            })?;
            let place = NodePlace {
                http: entry.http,
                raft: entry.raft,
                data_dir: entry
                    .data_dir
                    .unwrap_or_else(|| data_dir.join(node_name(id))),
            };
            if nodes.insert(id, place).is_some() {
                return Err(format!("{} is listed twice", node_name(id)));
            }
        }
        let layout = ClusterLayout {
            nodes,
            token: file.token.unwrap_or_default(),
            tick: Duration::from_millis(file.tick_ms.unwrap_or(DEFAULT_TICK.as_millis() as u64)),
            raft: file.raft.unwrap_or_default(),
            fsync: file.fsync.unwrap_or(true),
            request_timeout: file.request_timeout_ms.map(Duration::from_millis),
        };
        layout.validate()?;
        Ok(layout)
    }

    /// Rejects layouts no cluster can run with.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("the cluster has no nodes ([[nodes]] entries)".into());
        }
        let mut seen = BTreeMap::new();
        for (id, place) in &self.nodes {
            for (kind, address) in [("http", &place.http), ("raft", &place.raft)] {
                if !address.contains(':') {
                    return Err(format!(
                        "{} {kind} address {address:?} is not host:port",
                        node_name(*id)
                    ));
                }
                if let Some(other) = seen.insert(address.clone(), (*id, kind)) {
                    return Err(format!(
                        "{} {kind} and {} {} both use {address}",
                        node_name(*id),
                        node_name(other.0),
                        other.1
                    ));
                }
            }
        }
        let tick_ms = self.tick.as_millis();
        if tick_ms == 0 || tick_ms > u128::from(MAX_TICK_MS) {
            return Err(format!(
                "tick_ms must be between 1 and {MAX_TICK_MS}, got {tick_ms}"
            ));
        }
        self.raft.validate()
    }

    /// The configuration node `id` starts with.
    pub fn node_config(&self, id: NodeId) -> NodeConfig {
        let place = &self.nodes[&id];
        let mut config = NodeConfig::new(
            id,
            self.nodes.keys().copied().collect(),
            place.data_dir.clone(),
        );
        config.raft = self.raft.clone();
        config.tick = self.tick;
        config.fsync = self.fsync;
        config.request_timeout = self
            .request_timeout
            .unwrap_or_else(|| default_request_timeout(&self.raft, self.tick));
        config
    }

    /// Every node but `id`, with the given address of each.
    pub fn peers(
        &self,
        id: NodeId,
        address: impl Fn(&NodePlace) -> &String,
    ) -> BTreeMap<NodeId, String> {
        self.nodes
            .iter()
            .filter(|(peer, _)| **peer != id)
            .map(|(peer, place)| (*peer, address(place).clone()))
            .collect()
    }

    /// The node names, for error messages.
    pub fn names(&self) -> String {
        let names: Vec<String> = self.nodes.keys().map(|id| node_name(*id)).collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
        token = "t"
        data_dir = "/srv/cache"
        tick_ms = 20
        [raft]
        election_timeout_min_ticks = 20
        election_timeout_max_ticks = 40
        [[nodes]]
        id = "node1"
        http = "10.0.0.1:3001"
        raft = "10.0.0.1:4001"
        [[nodes]]
        id = "node2"
        http = "10.0.0.2:3001"
        raft = "10.0.0.2:4001"
        data_dir = "/mnt/fast/node2"
    "#;

    #[test]
    fn default_layout_is_the_original_walkthrough() {
        let layout = ClusterLayout::default_local(3);
        assert_eq!(layout.names(), "node1, node2, node3");
        assert_eq!(layout.nodes[&2].http, "127.0.0.1:3002");
        assert_eq!(layout.nodes[&2].raft, "127.0.0.1:4002");
        assert_eq!(layout.nodes[&2].data_dir, PathBuf::from("data/node2"));
        assert_eq!(layout.validate(), Ok(()));
    }

    #[test]
    fn a_file_sets_places_and_shared_settings() {
        let layout = ClusterLayout::parse(EXAMPLE).unwrap();
        assert_eq!(layout.token, "t");
        assert_eq!(layout.tick, Duration::from_millis(20));
        assert_eq!(layout.raft.election_timeout_max_ticks, 40);
        assert_eq!(layout.nodes[&1].data_dir, PathBuf::from("/srv/cache/node1"));
        assert_eq!(layout.nodes[&2].data_dir, PathBuf::from("/mnt/fast/node2"));
        let config = layout.node_config(2);
        assert_eq!(config.voters, vec![1, 2]);
        assert_eq!(
            config.request_timeout,
            Duration::from_millis(20 * 40 * 2 + 100)
        );
        assert_eq!(layout.peers(2, |place| &place.raft)[&1], "10.0.0.1:4001");
    }

    #[test]
    fn errors_name_the_problem() {
        let error = |text: &str| ClusterLayout::parse(text).unwrap_err();
        assert!(error("tokn = \"x\"\nnodes = []").contains("unknown field `tokn`"));
        assert!(error("nodes = []").contains("no nodes"));
        let node = |id: &str, port: u16| {
            format!("[[nodes]]\nid = \"{id}\"\nhttp = \"h:{port}\"\nraft = \"r:{port}\"\n")
        };
        assert!(error(&node("first", 1)).contains("\"first\" is not of the form nodeN"));
        assert!(error(&(node("node1", 1) + &node("node1", 2))).contains("node1 is listed twice"));
        assert!(error(&(node("node1", 1) + &node("node2", 1))).contains("both use h:1"));
        let slow = format!(
            "[raft]\nelection_timeout_min_ticks = 2\n{}",
            node("node1", 1)
        );
        assert!(error(&slow).contains("must exceed heartbeat_interval_ticks"));
        assert!(
            error("[[nodes]]\nid = \"node1\"\nhttp = \"h:1\"\nport = 3\n")
                .contains("unknown field `port`")
        );
    }
}
