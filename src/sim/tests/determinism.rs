use crate::sim::{run_seed, SimOptions};

#[test]
fn same_seed_gives_identical_trace() {
    let options = SimOptions {
        trace_lines_max: usize::MAX,
        trace_on_success: true,
        ..SimOptions::default()
    };
    for seed in [1, 2, 3] {
        let first = run_seed(seed, &options);
        let second = run_seed(seed, &options);
        assert_eq!(first, second, "seed {seed} is not deterministic");
    }
}

/// A failing seed must replay to the same failure, trace and all, or
/// `raftcache sim --replay` would show a story other than the one that broke.
#[test]
fn a_failing_seed_replays_to_the_identical_failure() {
    let options = SimOptions {
        bugs: crate::raft::InjectedBugs {
            skip_log_matching_check: true,
            ..Default::default()
        },
        trace_lines_max: usize::MAX,
        ..SimOptions::default()
    };
    let failure = (0..200)
        .find_map(|seed| run_seed(seed, &options).err())
        .expect("the injected bug is caught within 200 seeds");
    assert!(failure.trace.len() > 100, "the whole trace is kept");
    for _ in 0..2 {
        assert_eq!(run_seed(failure.seed, &options), Err(failure.clone()));
    }
}
