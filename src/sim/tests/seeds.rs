//! Many seeds of mixed faults, with zero violations allowed.

use crate::sim::{run_seed, SimOptions};

/// Seeds `cargo test` runs on every change; `raftcache sim` runs more.
/// `RAFTCACHE_SIM_SEEDS` and `RAFTCACHE_SIM_FROM` override the count and
/// the first seed, for longer runs from `cargo test`.
const SEEDS: u64 = 2000;

#[test]
fn sim_2000_seeds_of_mixed_faults_have_no_violation() {
    let count = std::env::var("RAFTCACHE_SIM_SEEDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(SEEDS);
    let from: u64 = std::env::var("RAFTCACHE_SIM_FROM")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    let options = SimOptions::default();
    for seed in from..from + count {
        if let Err(failure) = run_seed(seed, &options) {
            panic!("{failure}");
        }
    }
}
