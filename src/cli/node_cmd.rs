//! `raftcache node node1`: one node as its own OS process, talking to its
//! peers over TCP. The layout comes from `--config cluster.toml`, from
//! `--peer` flags, or is the default three-node one (HTTP 3001-3003, Raft
//! 4001-4003, data in `data/nodeN`); flags override this node's part.
//!
//! On SIGTERM or Ctrl-C the node stops cleanly: the driver stops first, so
//! requests still waiting are answered 503 `node_stopping` (never left
//! hanging), then the listeners close and the process exits 0. Writes are
//! acknowledged only after their fsync, so even `kill -9` loses nothing
//! acknowledged.

use crate::api::{serve, NodeApi};
use crate::cluster::layout::{ClusterLayout, NodePlace, DEFAULT_NODES};
use crate::events::EventBus;
use crate::node::spawn_node;
use crate::raft::{node_name, parse_node_name, NodeId};
use crate::transport::{TcpOptions, TcpTransport};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Environment variable read for the cluster token when `--token` is absent.
pub const TOKEN_ENV: &str = "RAFTCACHE_TOKEN";
/// After the driver stops, the HTTP server stays up this long so that the
/// requests it failed get their 503 on the wire before connections close.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(200);

/// Options of `raftcache node`.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// Which node to run: node1, node2, ... (or just 1, 2, ...).
    pub node: String,
    /// Read the cluster layout and shared settings from this TOML file.
    #[arg(long, conflicts_with = "peers")]
    pub config: Option<PathBuf>,
    /// A peer as NAME=HTTP_ADDR,RAFT_ADDR (repeat for each); replaces the
    /// default layout. Example: --peer node2=127.0.0.1:3002,127.0.0.1:4002
    #[arg(long = "peer", value_name = "NAME=HTTP,RAFT")]
    pub peers: Vec<String>,
    /// This node's HTTP address (default from the layout, e.g. 127.0.0.1:3001).
    #[arg(long, value_name = "HOST:PORT")]
    pub http: Option<String>,
    /// This node's Raft (TCP transport) address (default e.g. 127.0.0.1:4001).
    #[arg(long, value_name = "HOST:PORT")]
    pub raft: Option<String>,
    /// This node's data directory (default data/NODE, e.g. data/node1).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Shared cluster token peers must present (else $RAFTCACHE_TOKEN, else the config file's).
    #[arg(long)]
    pub token: Option<String>,
    /// Length of one Raft tick in ms (default 10).
    #[arg(long)]
    pub tick_ms: Option<u64>,
    /// Leader heartbeat interval, in ticks.
    #[arg(long)]
    pub heartbeat_interval_ticks: Option<u32>,
    /// Lower bound of the randomized election timeout, in ticks.
    #[arg(long)]
    pub election_timeout_min_ticks: Option<u32>,
    /// Upper bound of the randomized election timeout, in ticks.
    #[arg(long)]
    pub election_timeout_max_ticks: Option<u32>,
    /// Skip fsync (faster, and a machine crash may lose acknowledged writes).
    #[arg(long)]
    pub no_fsync: bool,
    /// Seed of this node's randomness (default: derived from its id).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl NodeArgs {
    /// The node's id and the layout it runs in, flags applied.
    pub fn resolve(&self) -> Result<(NodeId, ClusterLayout), String> {
        let id = parse_node_name(&self.node)
            .ok_or_else(|| format!("{:?} is not a node name like node1", self.node))?;
        let mut layout = match &self.config {
            Some(path) => ClusterLayout::load(path)?,
            None => ClusterLayout::default_local(DEFAULT_NODES),
        };
        if !self.peers.is_empty() {
            layout.nodes.retain(|node, _| *node == id);
            for peer in &self.peers {
                let (peer_id, place) = parse_peer(peer)?;
                if peer_id == id {
                    return Err(format!("--peer {peer}: that is this node"));
                }
                layout.nodes.insert(peer_id, place);
            }
        }
        let place = match layout.nodes.get_mut(&id) {
            Some(place) => place,
            None if self.config.is_none() => layout
                .nodes
                .entry(id)
                .or_insert_with(|| ClusterLayout::default_place(id, std::path::Path::new("data"))),
            None => {
                return Err(format!(
                    "{} is not in the cluster (nodes: {})",
                    node_name(id),
                    layout.names()
                ))
            }
        };
        if let Some(http) = &self.http {
            place.http = http.clone();
        }
        if let Some(raft) = &self.raft {
            place.raft = raft.clone();
        }
        if let Some(data_dir) = &self.data_dir {
            place.data_dir = data_dir.clone();
        }
        self.apply_settings(&mut layout);
        layout.validate()?;
        Ok((id, layout))
    }

    fn apply_settings(&self, layout: &mut ClusterLayout) {
        if let Some(token) = self.token.clone().or_else(|| std::env::var(TOKEN_ENV).ok()) {
            layout.token = token;
        }
        if let Some(tick_ms) = self.tick_ms {
            layout.tick = Duration::from_millis(tick_ms);
        }
        let raft = &mut layout.raft;
        if let Some(ticks) = self.heartbeat_interval_ticks {
            raft.heartbeat_interval_ticks = ticks;
        }
        if let Some(ticks) = self.election_timeout_min_ticks {
            raft.election_timeout_min_ticks = ticks;
        }
        if let Some(ticks) = self.election_timeout_max_ticks {
            raft.election_timeout_max_ticks = ticks;
        }
        if self.no_fsync {
            layout.fsync = false;
        }
    }
}

/// Parses `node2=127.0.0.1:3002,127.0.0.1:4002`.
fn parse_peer(text: &str) -> Result<(NodeId, NodePlace), String> {
    let bad = || format!("--peer {text:?} is not NAME=HTTP_ADDR,RAFT_ADDR");
    let (name, addresses) = text.split_once('=').ok_or_else(bad)?;
    let (http, raft) = addresses.split_once(',').ok_or_else(bad)?;
    let id = parse_node_name(name).ok_or_else(bad)?;
    let mut place = ClusterLayout::default_place(id, std::path::Path::new("data"));
    place.http = http.trim().to_string();
    place.raft = raft.trim().to_string();
    Ok((id, place))
}

/// Runs the node until SIGTERM or Ctrl-C (exit 0), or until its storage fails.
pub async fn run(args: NodeArgs) -> Result<(), String> {
    let stop = super::signals::stop_on_signal()
        .map_err(|error| format!("cannot install signal handlers: {error}"))?;
    let (id, layout) = args.resolve()?;
    let name = node_name(id);
    let place = layout.nodes[&id].clone();
    let http_listener = bind(&place.http, &name, "HTTP API").await?;
    let raft_listener = bind(&place.raft, &name, "Raft transport").await?;
    let mut config = layout.node_config(id);
    if let Some(seed) = args.seed {
        config.seed = seed.wrapping_mul(1000).wrapping_add(id);
    }
    let max_body_bytes = config.max_body_bytes;
    let options = TcpOptions {
        me: id,
        peers: layout.peers(id, |place| &place.raft),
        token: layout.token.clone(),
    };
    let (transport, inbox) = TcpTransport::start(options, raft_listener);
    let events = EventBus::new();
    tokio::spawn(super::terminal::print_events(events.subscribe()));
    let mut node = spawn_node(config, transport.clone(), inbox, events)
        .map_err(|error| format!("{name} cannot start: {error}"))?;
    let api = Arc::new(NodeApi {
        node: node.handle.clone(),
        address: place.http.clone(),
        peer_addresses: layout.peers(id, |place| &place.http),
        max_body_bytes,
        metrics: Default::default(),
    });
    let http_stop = CancellationToken::new();
    let http_task = tokio::spawn(serve(http_listener, http_stop.clone(), move |request| {
        api.clone().handle(request)
    }));
    println!(
        "{}: http://{}  raft {}  data {}  cluster {}{}",
        name,
        place.http,
        place.raft,
        place.data_dir.display(),
        layout.names(),
        if layout.token.is_empty() {
            ""
        } else {
            "  (token required)"
        },
    );

    let failed = tokio::select! {
        _ = stop.cancelled() => false,
        _ = &mut node.task => true,
    };
    node.stop.cancel();
    if !failed {
        let _ = (&mut node.task).await;
    }
    tokio::time::sleep(SHUTDOWN_GRACE).await;
    http_stop.cancel();
    transport.shutdown();
    let _ = http_task.await;
    if failed {
        return Err(format!(
            "{name} stopped: its storage failed (see the log above)"
        ));
    }
    println!("{name}: stopped cleanly");
    Ok(())
}

async fn bind(address: &str, node: &str, what: &str) -> Result<TcpListener, String> {
    TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address} for {node}'s {what}: {error}"))
}
