//! The nemesis: injects the faults of a [`FaultPlan`] into a running cluster,
//! and repairs them (restart, heal) after their drawn durations.

use super::cluster::Cluster;
use super::network::NetworkFaults;
use super::node::CrashPoint;
use super::plan::FaultPlan;
use crate::raft::NodeId;
use rand::Rng;
use std::collections::BTreeMap;

/// Faults in force and when each ends.
#[derive(Clone, Debug)]
pub struct Nemesis {
    /// The rates and durations of this seed's faults.
    pub plan: FaultPlan,
    /// Tick → nodes to restart then.
    restarts: BTreeMap<u64, Vec<NodeId>>,
    /// When the current partition heals.
    heal_at: Option<u64>,
    /// Whether the network is currently in its bad state.
    network_bad: bool,
    /// The highest term whose leader the nemesis has seen.
    leader_term_seen: u64,
}

impl Nemesis {
    /// A nemesis with no fault in force yet.
    pub fn new(plan: FaultPlan) -> Nemesis {
        Nemesis {
            plan,
            restarts: BTreeMap::new(),
            heal_at: None,
            network_bad: false,
            leader_term_seen: 0,
        }
    }

    /// Acts once, before the cluster's tick: repairs what is due, then maybe
    /// injects new faults.
    pub fn act(&mut self, cluster: &mut Cluster) {
        let now = cluster.now;
        while let Some(entry) = self.restarts.first_entry() {
            if *entry.key() > now {
                break;
            }
            for id in entry.remove() {
                cluster.restart(id);
            }
        }
        if self.heal_at.is_some_and(|at| at <= now) {
            self.heal_at = None;
            cluster.heal();
        }
        let plan = self.plan.clone();
        if cluster.rng.random_bool(plan.crash_per_tick) {
            self.crash_one(cluster);
        }
        if plan.election_crash_per_tick > 0.0
            && cluster.leader().is_none()
            && cluster.rng.random_bool(plan.election_crash_per_tick)
        {
            self.crash_during_election(cluster);
        }
        if let Some(leader) = cluster.leader() {
            let term = cluster.term(leader).unwrap_or(0);
            if term > self.leader_term_seen {
                self.leader_term_seen = term;
                if cluster.rng.random_bool(plan.isolate_new_leader_probability) {
                    cluster.isolate(leader);
                    let ticks = cluster.rng.random_range(1..=plan.partition_ticks_max);
                    self.heal_at = Some(now + ticks);
                }
            }
        }
        if self.heal_at.is_none() && cluster.rng.random_bool(plan.partition_per_tick) {
            self.partition(cluster);
        }
        if cluster.rng.random_bool(plan.pause_per_tick) {
            let id = cluster.ids[cluster.rng.random_range(0..cluster.ids.len())];
            let ticks = cluster.rng.random_range(1..=plan.pause_ticks_max);
            cluster.pause(id, now + ticks);
        }
        if cluster.rng.random_bool(plan.network_switch_per_tick) {
            self.network_bad = !self.network_bad;
            let faults = if self.network_bad {
                plan.network
            } else {
                NetworkFaults::RELIABLE
            };
            cluster.set_network(faults);
        }
    }

    fn crash_one(&mut self, cluster: &mut Cluster) {
        let leader = cluster.leader();
        let id = match leader {
            Some(leader) if cluster.rng.random_bool(self.plan.crash_leader_probability) => leader,
            _ => cluster.ids[cluster.rng.random_range(0..cluster.ids.len())],
        };
        if !cluster.nodes[&id].is_up() {
            return;
        }
        if cluster
            .rng
            .random_bool(self.plan.crash_in_ready_probability)
        {
            let point = match cluster.rng.random_range(0..3) {
                0 => CrashPoint::DuringWrite,
                1 => CrashPoint::AfterSync,
                _ => CrashPoint::AfterSend,
            };
            cluster.arm_crash(id, point);
        } else {
            cluster.crash(id);
        }
        let restart_at = cluster.now + cluster.rng.random_range(1..=self.plan.restart_ticks_max);
        self.restarts.entry(restart_at).or_default().push(id);
    }

    /// Crashes a random node just after it next sends (say, a vote) and
    /// restarts it a tick or two later.
    fn crash_during_election(&mut self, cluster: &mut Cluster) {
        let id = cluster.ids[cluster.rng.random_range(0..cluster.ids.len())];
        if !cluster.nodes[&id].is_up() {
            return;
        }
        cluster.arm_crash(id, CrashPoint::AfterSend);
        let restart_at = cluster.now + cluster.rng.random_range(2..=4);
        self.restarts.entry(restart_at).or_default().push(id);
    }

    fn partition(&mut self, cluster: &mut Cluster) {
        let ticks = cluster.rng.random_range(1..=self.plan.partition_ticks_max);
        self.heal_at = Some(cluster.now + ticks);
        if cluster.rng.random_bool(self.plan.cut_link_probability) {
            let count = cluster.ids.len();
            let a = cluster.ids[cluster.rng.random_range(0..count)];
            let b = cluster.ids[cluster.rng.random_range(0..count)];
            if a != b {
                cluster.cut(a, b);
            }
            return;
        }
        if let Some(leader) = cluster.leader() {
            if cluster
                .rng
                .random_bool(self.plan.isolate_leader_probability)
            {
                cluster.isolate(leader);
                return;
            }
        }
        let mut ids = cluster.ids.clone();
        // Shuffle deterministically, then cut at a random point.
        for i in (1..ids.len()).rev() {
            let j = cluster.rng.random_range(0..=i);
            ids.swap(i, j);
        }
        let cut = cluster.rng.random_range(1..ids.len());
        let (mut left, mut right) = (ids[..cut].to_vec(), ids[cut..].to_vec());
        left.sort_unstable();
        right.sort_unstable();
        cluster.partition(vec![left, right]);
    }

    /// Ends every fault: heal, restart every node, resume, reliable network.
    pub fn repair_all(&mut self, cluster: &mut Cluster) {
        self.restarts.clear();
        self.heal_at = None;
        self.network_bad = false;
        cluster.heal();
        cluster.set_network(NetworkFaults::RELIABLE);
        for id in cluster.ids.clone() {
            cluster.restart(id);
            cluster.nodes.get_mut(&id).expect("node exists").crash_armed = None;
        }
    }
}
