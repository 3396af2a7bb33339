//! Proof that the checks can fail: each known Raft bug, switched on in every
//! node, is caught by the simulator's invariants or the linearizability
//! checker within a bounded number of seeds.

use crate::raft::InjectedBugs;
use crate::sim::{run_seed, SimFailure, SimOptions};

/// Seeds tried before a bug counts as missed.
const SEEDS_MAX: u64 = 500;

/// Runs seeds until one fails; returns the failure.
fn first_failure(bugs: InjectedBugs) -> Option<SimFailure> {
    let options = SimOptions {
        bugs,
        ..SimOptions::default()
    };
    (0..SEEDS_MAX).find_map(|seed| run_seed(seed, &options).err())
}

fn assert_caught(bugs: InjectedBugs) {
    match first_failure(bugs) {
        Some(failure) => println!(
            "{bugs:?} caught at seed {}: {} — {}",
            failure.seed, failure.invariant, failure.detail
        ),
        None => panic!("{bugs:?} survived {SEEDS_MAX} seeds"),
    }
}

#[test]
fn committing_an_old_term_entry_by_counting_is_caught() {
    assert_caught(InjectedBugs {
        commit_old_term_by_counting: true,
        ..InjectedBugs::default()
    });
}

#[test]
fn forgetting_the_vote_is_caught() {
    assert_caught(InjectedBugs {
        forget_vote: true,
        ..InjectedBugs::default()
    });
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
