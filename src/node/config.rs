//! Everything one node needs to start, with the defaults users get.

use crate::raft::{NodeId, RaftConfig};
use std::path::PathBuf;
use std::time::Duration;

/// Real time per Raft tick: the core counts ticks, the driver turns them into time.
pub const DEFAULT_TICK: Duration = Duration::from_millis(10);

/// Configuration of one node of a cluster.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id.
    pub id: NodeId,
    /// Every voter of the cluster, this node included.
    pub voters: Vec<NodeId>,
    /// Protocol timings and switches, in ticks.
    pub raft: RaftConfig,
    /// Length of one tick.
    pub tick: Duration,
    /// Where the write-ahead log lives; kept across kills and restarts.
    pub data_dir: PathBuf,
    /// Sync the log before acknowledging (turn off only to show what it costs).
    pub fsync: bool,
    /// Extra delay per fsync, to imitate a slow disk in labs.
    pub fsync_delay: Duration,
    /// Seed of this node's randomness (election timeouts).
    pub seed: u64,
    /// How long a client write or linearizable read may wait for a leader
    /// and a majority before it is answered with an error.
    pub request_timeout: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
}

impl NodeConfig {
    /// Defaults for node `id` of `voters`, storing under `data_dir`.
    pub fn new(id: NodeId, voters: Vec<NodeId>, data_dir: PathBuf) -> NodeConfig {
        let raft = RaftConfig::default();
        let request_timeout = default_request_timeout(&raft, DEFAULT_TICK);
        NodeConfig {
            id,
            voters,
            raft,
            tick: DEFAULT_TICK,
            data_dir,
            fsync: true,
            fsync_delay: Duration::ZERO,
            seed: id,
            request_timeout,
            max_body_bytes: 1 << 20,
        }
    }

    /// The longest election timeout, in real time.
    pub fn election_timeout_max(&self) -> Duration {
        self.tick * self.raft.election_timeout_max_ticks
    }
}

/// About two election timeouts (API.md): long enough to ride out one
/// election, short enough that a client is never left hanging.
pub fn default_request_timeout(raft: &RaftConfig, tick: Duration) -> Duration {
    tick * raft.election_timeout_max_ticks * 2 + Duration::from_millis(100)
}
