//! Proof that the checks can fail: each known Raft bug, switched on in every
//! node, is caught by the simulator's invariants or the linearizability
//! checker within a bounded number of seeds.

use crate::raft::InjectedBugs;
use crate::sim::{run_seed, FaultPlan, SimFailure, SimOptions};

/// Seeds tried before a bug counts as missed.
const SEEDS_MAX: u64 = 500;

/// Runs seeds until one fails; returns the failure.
fn first_failure(
    bugs: InjectedBugs,
    adjust_plan: Option<fn(&mut FaultPlan)>,
) -> Option<SimFailure> {
    let options = SimOptions {
        bugs,
        adjust_plan,
        ..SimOptions::default()
    };
    (0..SEEDS_MAX).find_map(|seed| run_seed(seed, &options).err())
}

fn assert_caught(bugs: InjectedBugs) {
    assert_caught_with(bugs, None);
}

fn assert_caught_with(bugs: InjectedBugs, adjust_plan: Option<fn(&mut FaultPlan)>) {
    match first_failure(bugs, adjust_plan) {
        Some(failure) => println!(
            "{bugs:?} caught at seed {}: {} — {}",
            failure.seed, failure.invariant, failure.detail
        ),
        None => panic!("{bugs:?} survived {SEEDS_MAX} seeds"),
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

#[test]
fn committing_an_old_term_entry_by_counting_is_caught() {
    assert_caught_with(
        InjectedBugs {
            commit_old_term_by_counting: true,
            ..InjectedBugs::default()
        },
        Some(aim_at_figure_8),
    );
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

#[test]
fn forgetting_the_vote_is_caught() {
    assert_caught_with(
        InjectedBugs {
            forget_vote: true,
            ..InjectedBugs::default()
        },
        Some(aim_at_double_votes),
    );
}

#[test]
fn skipping_the_log_matching_check_is_caught() {
    assert_caught(InjectedBugs {
        skip_log_matching_check: true,
        ..InjectedBugs::default()
    });
}

#[test]
fn reading_without_a_quorum_is_caught() {
    assert_caught(InjectedBugs {
        read_without_quorum: true,
        ..InjectedBugs::default()
    });
}
