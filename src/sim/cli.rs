//! `raftcache sim`: run many seeds, or replay one with its whole trace.
//!
//! ```text
//! raftcache sim --seeds 2000 --from 0     # seeds 0..2000, stop at the first violation
//! raftcache sim --replay 1234             # run seed 1234 again, printing every event
//! ```

use super::known_bugs::KnownBug;
use super::run::{run_seed, SimOptions};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `raftcache sim`; the main CLI embeds this as a subcommand.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct SimArgs {
    /// How many seeds to run, starting at `--from`.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Replay this one seed and print every event of its trace.
    #[arg(long)]
    pub replay: Option<u64>,
    /// Ticks of faults per seed (then the cluster settles).
    #[arg(long, default_value_t = SimOptions::default().fault_ticks)]
    pub ticks: u64,
    /// Force the cluster size (3 or 5 are drawn per seed otherwise).
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Switch on a known Raft bug in every node and watch the checks catch it.
    #[arg(long, value_enum)]
    pub bug: Option<KnownBug>,
}

/// Runs `raftcache sim`, writing progress and results to `out`. Exits
/// non-zero with the failing seed on the first violation.
pub fn run_cli(args: &SimArgs, out: &mut dyn Write) -> ExitCode {
    let options = SimOptions {
        fault_ticks: args.ticks,
        nodes: args.nodes,
        bugs: args.bug.map(KnownBug::switches).unwrap_or_default(),
        adjust_plan: args.bug.and_then(KnownBug::aim),
        ..SimOptions::default()
    };
    let result = match args.replay {
        Some(seed) => replay(seed, options, out),
        None => run_many(args.from, args.seeds, &options, out),
    }
    .and_then(|code| {
        if code != ExitCode::SUCCESS && args.replay.is_none() {
            if let Some(extra) = same_options(args) {
                writeln!(out, "(replay with the same options:{extra})")?;
            }
        }
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("raftcache sim: cannot write output: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The options a replay must repeat to see the same run, if any differ
/// from the defaults.
fn same_options(args: &SimArgs) -> Option<String> {
    let mut extra = String::new();
    if args.ticks != SimOptions::default().fault_ticks {
        extra.push_str(&format!(" --ticks {}", args.ticks));
    }
    if let Some(nodes) = args.nodes {
        extra.push_str(&format!(" --nodes {nodes}"));
    }
    if let Some(bug) = args.bug {
        let name = clap::ValueEnum::to_possible_value(&bug).expect("every bug has a name");
        extra.push_str(&format!(" --bug {}", name.get_name()));
    }
    (!extra.is_empty()).then_some(extra)
}

fn replay(seed: u64, options: SimOptions, out: &mut dyn Write) -> std::io::Result<ExitCode> {
    let options = SimOptions {
        trace_lines_max: usize::MAX,
        trace_on_success: true,
        ..options
    };
    match run_seed(seed, &options) {
        Ok(report) => {
            for line in &report.trace {
                writeln!(out, "{line}")?;
            }
            writeln!(
                out,
                "seed {seed}: no violation; {} nodes, {} ticks, {} events, {} leaders, \
                 {} entries committed, {} messages sent, operations {} ok / {} failed / {} unknown",
                report.nodes,
                report.ticks,
                report.events,
                report.leaders,
                report.committed_entries,
                report.messages_sent,
                report.operations_ok,
                report.operations_failed,
                report.operations_unknown
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            writeln!(out, "{failure}")?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn run_many(
    from: u64,
    count: u64,
    options: &SimOptions,
    out: &mut dyn Write,
) -> std::io::Result<ExitCode> {
    let started = Instant::now();
    let progress_every = (count / 20).max(1);
    let (mut events, mut ops) = (0u64, 0usize);
    for (done, seed) in (from..from + count).enumerate() {
        match run_seed(seed, options) {
            Ok(report) => {
                events += report.events;
                ops += report.operations_ok + report.operations_failed + report.operations_unknown;
            }
            Err(failure) => {
                writeln!(out, "{failure}")?;
                writeln!(out, "FAILED at seed {seed} after {done} passing seeds")?;
                return Ok(ExitCode::FAILURE);
            }
        }
        let done = done as u64 + 1;
        if done.is_multiple_of(progress_every) || done == count {
            writeln!(
                out,
                "{done}/{count} seeds passed ({events} events, {ops} client operations, {:.1}s)",
                started.elapsed().as_secs_f64()
            )?;
        }
    }
    writeln!(out, "seeds {from}..{}: no violation", from + count)?;
    Ok(ExitCode::SUCCESS)
}
