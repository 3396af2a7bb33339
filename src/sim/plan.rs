//! The fault plan of one seed: cluster size, Raft settings, network and the
//! rates of crashes, partitions and pauses, all drawn from the seed so that
//! a few thousand seeds cover many mixes.

use super::network::NetworkFaults;
use super::workload::WorkloadOptions;
use crate::raft::RaftConfig;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Everything a seed decides before its first tick.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    /// Voters: 3 or 5.
    pub nodes: usize,
    /// Raft settings: pre-vote, check-quorum and flow-control limits vary.
    pub raft: RaftConfig,
    /// The network's faults while it is "bad"; it alternates with reliable.
    pub network: NetworkFaults,
    /// Chance per tick that a node crashes.
    pub crash_per_tick: f64,
    /// Chance that a crash hits the current leader rather than a random node.
    pub crash_leader_probability: f64,
    /// Chance that a crash waits for the node's next write (torn, after sync
    /// or after send) rather than striking between events.
    pub crash_in_ready_probability: f64,
    /// Chance per tick, while no node leads, that a node crashes and comes
    /// back within a few ticks: votes cast just before such a crash are
    /// what a node that forgets its vote would give twice.
    pub election_crash_per_tick: f64,
    /// A crashed node restarts after this many ticks at most.
    pub restart_ticks_max: u64,
    /// Chance per tick that a partition forms (when none is in force).
    pub partition_per_tick: f64,
    /// Chance that a partition cuts the leader off alone rather than
    /// splitting the cluster at random.
    pub isolate_leader_probability: f64,
    /// A partition heals after this many ticks at most.
    pub partition_ticks_max: u64,
    /// Chance that a partition cuts one link only (a partial partition).
    pub cut_link_probability: f64,
    /// Chance that a leader is cut off alone the moment it is first seen,
    /// before its no-op spreads: the step that sets up the paper's Figure 8.
    pub isolate_new_leader_probability: f64,
    /// Chance per tick that a node pauses.
    pub pause_per_tick: f64,
    /// A pause lasts this many ticks at most.
    pub pause_ticks_max: u64,
    /// Chance per tick that the network switches between reliable and bad.
    pub network_switch_per_tick: f64,
    /// How many clients, on how many keys.
    pub workload: WorkloadOptions,
}

/// Picks one of `choices` uniformly.
fn pick<T: Copy>(rng: &mut ChaCha8Rng, choices: &[T]) -> T {
    choices[rng.random_range(0..choices.len())]
}

impl FaultPlan {
    /// Draws a plan from `rng` (seeded from the run's seed).
    pub fn draw(rng: &mut ChaCha8Rng) -> FaultPlan {
        let nodes = pick(rng, &[3, 3, 5]);
        let raft = RaftConfig {
            pre_vote: rng.random_bool(0.7),
            check_quorum: rng.random_bool(0.7),
            max_inflight_appends: pick(rng, &[1, 2, 16]),
            max_entries_per_append: pick(rng, &[1, 2, 8, 512]),
            append_retry_ticks: pick(rng, &[5, 10, 20]),
            ..RaftConfig::default()
        };
        let network = NetworkFaults {
            loss_probability: pick(rng, &[0.0, 0.02, 0.1, 0.3]),
            duplicate_probability: pick(rng, &[0.0, 0.02, 0.1]),
            delay_ticks_min: 1,
            delay_ticks_max: pick(rng, &[1, 3, 8, 20]),
        };
        let intensity: f64 = pick(rng, &[1.0, 2.0, 4.0, 8.0]);
        let workload = WorkloadOptions {
            clients: pick(rng, &[2, 3, 5]),
            keys: pick(rng, &[1, 2, 4]),
            ..WorkloadOptions::default()
        };
        FaultPlan {
            nodes,
            raft,
            network,
            crash_per_tick: pick(rng, &[0.002, 0.002, 0.01, 0.03]) * intensity.min(2.0),
            crash_leader_probability: pick(rng, &[0.2, 0.5, 0.8]),
            crash_in_ready_probability: pick(rng, &[0.3, 0.8]),
            election_crash_per_tick: pick(rng, &[0.0, 0.1, 0.3]),
            restart_ticks_max: pick(rng, &[3, 20, 60, 150]),
            partition_per_tick: 0.004 * intensity,
            isolate_leader_probability: pick(rng, &[0.0, 0.5, 0.8]),
            cut_link_probability: pick(rng, &[0.0, 0.3]),
            isolate_new_leader_probability: pick(rng, &[0.0, 0.2, 0.5]),
            partition_ticks_max: pick(rng, &[20, 60, 200]),
            pause_per_tick: 0.001 * intensity,
            pause_ticks_max: pick(rng, &[10, 40, 100]),
            network_switch_per_tick: 0.005,
            workload,
        }
    }
}
