//! Proof that the checks can fail: each known Raft bug, switched on in every
//! node, is caught by the simulator's invariants or the linearizability
//! checker within a bounded number of seeds.

use crate::sim::{run_seed, KnownBug, SimFailure, SimOptions};

/// Seeds tried before a bug counts as missed.
const SEEDS_MAX: u64 = 500;

/// Runs seeds until one fails; returns the failure.
fn first_failure(bug: KnownBug) -> Option<SimFailure> {
    let options = SimOptions {
        bugs: bug.switches(),
        adjust_plan: bug.aim(),
        ..SimOptions::default()
    };
    (0..SEEDS_MAX).find_map(|seed| run_seed(seed, &options).err())
}

fn assert_caught(bug: KnownBug) {
    match first_failure(bug) {
        Some(failure) => println!(
            "{bug:?} caught at seed {}: {} — {}",
            failure.seed, failure.invariant, failure.detail
        ),
        None => panic!("{bug:?} survived {SEEDS_MAX} seeds"),
    }
}

#[test]
fn committing_an_old_term_entry_by_counting_is_caught() {
    assert_caught(KnownBug::Figure8);
}

#[test]
fn forgetting_the_vote_is_caught() {
    assert_caught(KnownBug::ForgetVote);
}

#[test]
fn skipping_the_log_matching_check_is_caught() {
    assert_caught(KnownBug::SkipLogMatching);
}

#[test]
fn reading_without_read_index_is_caught() {
    assert_caught(KnownBug::ReadWithoutReadindex);
}
