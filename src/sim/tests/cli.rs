use crate::sim::cli::{run_cli, SimArgs};
use std::process::ExitCode;

fn args(seeds: u64, replay: Option<u64>) -> SimArgs {
    SimArgs {
        seeds,
        from: 10,
        replay,
        ticks: 300,
        nodes: None,
        bug: None,
    }
}

#[test]
fn sim_command_runs_seeds_and_reports_progress() {
    let mut out = Vec::new();
    let code = run_cli(&args(3, None), &mut out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(text.contains("3/3 seeds passed"), "{text}");
    assert!(text.contains("seeds 10..13: no violation"), "{text}");
}

#[test]
fn sim_replay_prints_the_whole_trace_identically_twice() {
    let replay = |seed| {
        let mut out = Vec::new();
        let code = run_cli(&args(0, Some(seed)), &mut out);
        (code, String::from_utf8(out).unwrap())
    };
    let (code, first) = replay(42);
    assert_eq!(code, ExitCode::SUCCESS, "{first}");
    assert!(first.lines().next().unwrap().starts_with("t=0"), "{first}");
    assert!(
        first.lines().count() > 1000,
        "the whole trace, not the tail"
    );
    assert_eq!(replay(42).1, first);
}

#[test]
fn sim_with_a_known_bug_fails_and_says_how_to_replay_it() {
    let mut out = Vec::new();
    let code = run_cli(
        &SimArgs {
            seeds: 200,
            from: 0,
            replay: None,
            ticks: crate::sim::SimOptions::default().fault_ticks,
            nodes: None,
            bug: Some(crate::sim::KnownBug::SkipLogMatching),
        },
        &mut out,
    );
    let text = String::from_utf8(out).unwrap();
    assert_eq!(code, ExitCode::FAILURE, "{text}");
    assert!(text.contains("FAILED at seed"), "{text}");
    assert!(text.contains("--bug skip-log-matching"), "{text}");
}
