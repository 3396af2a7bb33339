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
