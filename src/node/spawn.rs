//! Starting a node: recover its log, build its core, spawn its driver.

use super::config::NodeConfig;
use super::driver::Driver;
use super::handle::{NodeHandle, MAX_QUEUED_CLIENT_REQUESTS};
use super::status::NodeStatus;
use crate::cache::Cache;
use crate::events::{EventBus, EventKind};
use crate::raft::{node_name, RaftNode};
use crate::storage::{self, DiskOptions, StorageError};
use crate::transport::{Envelope, Transport};
use parking_lot::RwLock;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A node that is running: its handle, and the means to stop or pause it.
pub struct RunningNode {
    /// For the API and the launcher.
    pub handle: NodeHandle,
    /// Cancelling it kills the node: the driver stops, memory is dropped.
    pub stop: CancellationToken,
    /// Setting it pauses the node (driver and API freeze).
    pub pause: watch::Sender<bool>,
    /// The driver task; ends after `stop` is cancelled.
    pub task: JoinHandle<()>,
}

/// Recovers the node's log from its data directory and starts its driver.
/// Fails, naming file and offset, if the log is corrupt beyond a torn tail.
pub fn spawn_node(
    config: NodeConfig,
    transport: Arc<dyn Transport>,
    network: mpsc::Receiver<Envelope>,
    events: EventBus,
) -> Result<RunningNode, StorageError> {
    let options = DiskOptions {
        fsync: config.fsync,
        fsync_delay: config.fsync_delay,
    };
    let (wal, recovered) = storage::open_dir(&config.data_dir, options)?;
    for warning in &recovered.warnings {
        tracing::warn!(node = %node_name(config.id), "{warning}");
    }
    events.publish(EventKind::NodeStarted {
        node: node_name(config.id),
        recovered_entries: recovered.entries.len() as u64,
    });
    let core = RaftNode::new(
        config.id,
        config.voters.iter().copied(),
        config.raft.clone(),
        config.seed,
        recovered.hard_state,
        recovered.entries,
    );
    let cache = Arc::new(Cache::new());
    let status = Arc::new(RwLock::new(NodeStatus::initial(config.id)));
    let (inputs, clients) = mpsc::channel(MAX_QUEUED_CLIENT_REQUESTS);
    let (pause, paused) = watch::channel(false);
    let stop = CancellationToken::new();
    let handle = NodeHandle {
        id: config.id,
        inputs,
        cache: cache.clone(),
        status: status.clone(),
        paused: paused.clone(),
    };
    let driver = Driver::new(config, core, wal, cache, transport, events, status);
    let task = tokio::spawn(driver.run(network, clients, paused, stop.clone()));
    Ok(RunningNode {
        handle,
        stop,
        pause,
        task,
    })
}
