//! The known Raft bugs the simulator can switch on, each with the fault plan
//! that makes it show within a few hundred seeds. They prove the checks can
//! fail (`sim::tests::bugs`), and `raftcache sim --bug NAME` lets a student
//! watch a real mistake being caught and replay the seed that shows it.

use super::plan::FaultPlan;
use crate::raft::InjectedBugs;

/// A named bug of `raftcache sim --bug`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KnownBug {
    /// Commit an old-term entry by counting replicas (the paper's Figure 8).
    #[value(name = "figure-8")]
    Figure8,
    /// Never persist the vote, so a restarted node votes twice in a term.
    ForgetVote,
    /// Accept AppendEntries without the log-matching check.
    SkipLogMatching,
    /// Serve a "linearizable" read without confirming leadership (ReadIndex).
    #[value(name = "read-without-read-index")]
    ReadWithoutReadindex,
}

impl KnownBug {
    /// The switches of the Raft core that make this bug.
    pub fn switches(self) -> InjectedBugs {
        let mut bugs = InjectedBugs::default();
        match self {
            KnownBug::Figure8 => bugs.commit_old_term_by_counting = true,
            KnownBug::ForgetVote => bugs.forget_vote = true,
            KnownBug::SkipLogMatching => bugs.skip_log_matching_check = true,
            KnownBug::ReadWithoutReadindex => bugs.read_without_quorum = true,
        }
        bugs
    }

    /// Aims the faults at the bug's mechanism; `None` when the usual mix
    /// finds it quickly.
    pub fn aim(self) -> Option<fn(&mut FaultPlan)> {
        match self {
            KnownBug::Figure8 => Some(aim_at_figure_8),
            KnownBug::ForgetVote => Some(aim_at_double_votes),
            KnownBug::SkipLogMatching | KnownBug::ReadWithoutReadindex => None,
        }
    }
}

/// The Figure 8 bug needs leaders that lose their no-op to a partition and
/// replicate old entries one at a time: five nodes, one entry per append,
/// new leaders often cut off at once.
fn aim_at_figure_8(plan: &mut FaultPlan) {
    plan.nodes = 5;
    plan.raft.max_entries_per_append = 1;
    plan.raft.max_inflight_appends = 1;
    plan.isolate_new_leader_probability = 0.5;
    plan.isolate_leader_probability = 0.8;
    plan.partition_per_tick = 0.05;
    plan.partition_ticks_max = 40;
}

/// A forgotten vote is given twice only when a voter crashes between two
/// candidates' requests of one term and the second request outlives the
/// restart: three nodes, no pre-vote or leader lease (more candidates),
/// leaders crashing often, voters crashing right after voting and coming
/// back within a few ticks, and slow messages.
fn aim_at_double_votes(plan: &mut FaultPlan) {
    plan.nodes = 3;
    plan.raft.pre_vote = false;
    plan.raft.check_quorum = false;
    plan.election_crash_per_tick = 0.5;
    plan.crash_per_tick = plan.crash_per_tick.max(0.02);
    plan.crash_leader_probability = 0.8;
    plan.restart_ticks_max = 3;
    plan.network.delay_ticks_max = 20;
    plan.network_switch_per_tick = 0.05;
}
