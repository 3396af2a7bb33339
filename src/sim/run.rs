//! One seed, start to finish: draw a fault plan, run the cluster under the
//! nemesis with clients, heal everything, check liveness and the history.

use super::cluster::{Cluster, ClusterOptions};
use super::invariants::Violation;
use super::linearizability::{self, Outcome, Verdict};
use super::nemesis::Nemesis;
use super::plan::FaultPlan;
use super::workload::Workload;
use crate::raft::InjectedBugs;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Mixed into the seed for the plan's RNG, so that the plan and the run draw
/// from different streams.
const PLAN_STREAM: u64 = 0x5EED_F1A7_0000_0001;

/// Ticks a cluster may take beyond `settle_ticks` to settle, for settings
/// that replicate one entry per round trip behind a long backlog.
const SETTLE_EXTRA_TICKS_MAX: u64 = 2000;

/// How to run a seed.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Ticks with faults and clients.
    pub fault_ticks: u64,
    /// Ticks after every fault is repaired, for the cluster to settle and the
    /// clients to finish; liveness is judged at the end.
    pub settle_ticks: u64,
    /// Trace lines kept for a failure report (the last ones).
    pub trace_lines_max: usize,
    /// Render the kept trace into the report even when the run passes.
    pub trace_on_success: bool,
    /// Known bugs to switch on, to prove the checks catch them.
    pub bugs: InjectedBugs,
    /// Forces the cluster size instead of drawing 3 or 5.
    pub nodes: Option<usize>,
    /// Adjusts each drawn plan, to aim the faults at one kind of bug.
    pub adjust_plan: Option<fn(&mut FaultPlan)>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            fault_ticks: 1500,
            settle_ticks: 300,
            trace_lines_max: 300,
            trace_on_success: false,
            bugs: InjectedBugs::default(),
            nodes: None,
            adjust_plan: None,
        }
    }
}

/// What a passing seed did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimReport {
    /// The seed that was run.
    pub seed: u64,
    /// Voters in the cluster.
    pub nodes: usize,
    /// Ticks run in all.
    pub ticks: u64,
    /// Inputs handled by nodes (ticks, messages, requests).
    pub events: u64,
    /// Terms in which a leader was seen.
    pub leaders: usize,
    /// Highest index applied anywhere.
    pub committed_entries: usize,
    /// Messages handed to the network.
    pub messages_sent: u64,
    /// Messages stepped at their destination.
    pub messages_delivered: u64,
    /// Client operations acknowledged.
    pub operations_ok: usize,
    /// Operations refused (not the leader) or overtaken by another entry.
    pub operations_failed: usize,
    /// Operations whose node crashed or whose client timed out.
    pub operations_unknown: usize,
    /// Local reads served; never checked, they may be stale by design.
    pub local_reads: u64,
    /// The kept trace, rendered, when `trace_on_success` was set.
    pub trace: Vec<String>,
}

/// A seed that broke an invariant: enough to understand it and replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFailure {
    /// The failing seed: `raftcache sim --replay SEED` runs it again.
    pub seed: u64,
    /// The property that broke, e.g. "election safety (§5.2)".
    pub invariant: String,
    /// What was seen.
    pub detail: String,
    /// The tick it was found at.
    pub tick: u64,
    /// The last events before it, oldest first.
    pub trace: Vec<String>,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {} violated {} at tick {}: {}",
            self.seed, self.invariant, self.tick, self.detail
        )?;
        writeln!(f, "last {} events:", self.trace.len())?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        write!(f, "replay with: raftcache sim --replay {}", self.seed)
    }
}

impl std::error::Error for SimFailure {}

/// Runs one seed; the same seed and options always give the same result.
pub fn run_seed(seed: u64, options: &SimOptions) -> Result<SimReport, SimFailure> {
    let mut plan_rng = ChaCha8Rng::seed_from_u64(seed ^ PLAN_STREAM);
    let mut plan = FaultPlan::draw(&mut plan_rng);
    if let Some(nodes) = options.nodes {
        plan.nodes = nodes;
    }
    if let Some(adjust) = options.adjust_plan {
        adjust(&mut plan);
    }
    let mut cluster = Cluster::new(
        ClusterOptions {
            nodes: plan.nodes,
            raft: plan.raft.clone(),
            network: crate::sim::NetworkFaults::RELIABLE,
            bugs: options.bugs,
            trace_lines_max: options.trace_lines_max,
        },
        seed,
    );
    cluster.workload = Some(Workload::new(plan.workload.clone()));
    let mut nemesis = Nemesis::new(plan);

    for _ in 0..options.fault_ticks {
        guarded(&mut cluster, |cluster| {
            nemesis.act(cluster);
            cluster.tick();
        });
        if cluster.violation.is_some() {
            return Err(failure(&cluster));
        }
    }
    guarded(&mut cluster, |cluster| nemesis.repair_all(cluster));
    // Clients go on for half the settling time, then stop; the cluster must
    // then settle within the rest (a slow configuration gets longer).
    for tick in 0..options.settle_ticks + SETTLE_EXTRA_TICKS_MAX {
        if tick == options.settle_ticks / 2 {
            cluster.workload.as_mut().expect("workload").issuing = false;
        }
        guarded(&mut cluster, Cluster::tick);
        if cluster.violation.is_some() {
            return Err(failure(&cluster));
        }
        if tick >= options.settle_ticks && check_settled(&cluster).is_ok() {
            break;
        }
    }
    if let Err(violation) = check_settled(&cluster) {
        cluster.violation = Some(violation);
        return Err(failure(&cluster));
    }
    cluster.clients_give_up();
    let workload = cluster.workload.take().expect("workload");
    if let Verdict::Violation {
        key,
        operations,
        explanation,
    } = linearizability::check(&workload.history)
    {
        let mut detail = format!("key {key}: {explanation}; witness:");
        for op in operations {
            detail.push_str(&format!("\n    {op:?}"));
        }
        cluster.violation = Some(Violation {
            invariant: "linearizability of the client history",
            detail,
        });
        return Err(failure(&cluster));
    }
    let count = |outcome| {
        workload
            .history
            .iter()
            .filter(|op| op.outcome == outcome)
            .count()
    };
    Ok(SimReport {
        seed,
        nodes: cluster.ids.len(),
        ticks: cluster.now,
        events: cluster.events,
        leaders: cluster.observed.leaders.len(),
        committed_entries: cluster.observed.committed.len(),
        messages_sent: cluster.network.counters.sent,
        messages_delivered: cluster.network.counters.delivered,
        operations_ok: count(Outcome::Ok),
        operations_failed: count(Outcome::Failed),
        operations_unknown: count(Outcome::Unknown),
        local_reads: workload.local_reads,
        trace: if options.trace_on_success {
            cluster.trace.render()
        } else {
            Vec::new()
        },
    })
}

/// Runs `step`, turning a panic (an assertion in the core, the cache or the
/// driver) into a violation so that it is reported with its seed and trace.
pub(super) fn guarded(cluster: &mut Cluster, step: impl FnOnce(&mut Cluster)) {
    let result = catch_unwind(AssertUnwindSafe(|| step(cluster)));
    if let Err(panic) = result {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
            .unwrap_or_else(|| "non-text panic".to_string());
        cluster.violation.get_or_insert(Violation {
            invariant: "an assertion in the core or the driver",
            detail: message,
        });
    }
}

/// After every fault is repaired and the clients went quiet: one leader, and
/// every node has applied everything it committed (liveness, paper §5.2, §5.3).
fn check_settled(cluster: &Cluster) -> Result<(), Violation> {
    let invariant = "liveness once every fault is repaired (§5.2, §5.3)";
    let Some(leader) = cluster.leader() else {
        return Err(Violation {
            invariant,
            detail: format!("no leader {} ticks after healing", cluster.now),
        });
    };
    let leader_applied = cluster.nodes[&leader].applied_index();
    for node in cluster.nodes.values() {
        if node.applied_index() != leader_applied {
            return Err(Violation {
                invariant,
                detail: format!(
                    "node{} applied {} while leader node{leader} applied {leader_applied}",
                    node.id,
                    node.applied_index()
                ),
            });
        }
    }
    Ok(())
}

fn failure(cluster: &Cluster) -> SimFailure {
    let violation = cluster.violation.clone().expect("a violation");
    SimFailure {
        seed: cluster.seed,
        invariant: violation.invariant.to_string(),
        detail: violation.detail,
        tick: cluster.now,
        trace: cluster.trace.render(),
    }
}
