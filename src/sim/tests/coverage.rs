//! The fault mix actually exercises what it claims to: torn writes that
//! recovery truncates, crashes, partitions, and client outcomes of every kind.

use crate::sim::{run_seed, SimOptions};

#[test]
fn fault_mix_reaches_torn_writes_crashes_and_partitions() {
    let options = SimOptions {
        trace_lines_max: usize::MAX,
        trace_on_success: true,
        ..SimOptions::default()
    };
    let (mut torn_recoveries, mut crashes, mut partitions, mut unknown) = (0, 0, 0, 0);
    for seed in 0..30 {
        let report = run_seed(seed, &options).unwrap_or_else(|failure| panic!("{failure}"));
        for line in &report.trace {
            torn_recoveries +=
                usize::from(line.contains("RESTART") && !line.contains("(0 storage"));
            crashes += usize::from(line.contains("CRASH"));
            partitions += usize::from(line.contains("PARTITION"));
        }
        unknown += report.operations_unknown;
    }
    println!("torn recoveries {torn_recoveries}, crashes {crashes}, partitions {partitions}, unknown ops {unknown}");
    assert!(torn_recoveries > 0, "no torn write was ever recovered");
    assert!(crashes > 30 && partitions > 30 && unknown > 0);
}
