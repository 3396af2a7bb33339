//! `raftcache lab NAME|PATH|all`, `lab --list`: run scripted labs and write
//! their reports (see `labs/README.md` and `src/lab/`).

use crate::lab::{self, results_table, RunOptions, Script};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `raftcache lab`.
#[derive(Debug, clap::Args)]
pub struct LabArgs {
    /// A lab name (`leader-failure` = labs/leader-failure.toml), a path to a
    /// .toml script, or `all`.
    #[arg(required_unless_present = "list")]
    pub lab: Option<String>,
    /// List the labs with a one-line description.
    #[arg(long)]
    pub list: bool,
    /// Seed of all randomness; a random one is printed when not given.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Reports go to DIR/LAB/ (one folder per lab).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Classroom mode: narrate each step and wait for Enter.
    #[arg(long)]
    pub step: bool,
    /// Keep the cluster up after the last step, until Ctrl-C.
    #[arg(long)]
    pub hold: bool,
    /// Number of nodes, where the lab allows it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=9))]
    pub nodes: Option<u64>,
    /// HTTP port of node1 (node i on base-port + i - 1); 0 picks free ports.
    #[arg(long, default_value_t = 3001)]
    pub base_port: u16,
    /// Port of the dashboard and control API; 0 picks a free one.
    #[arg(long, default_value_t = 3000)]
    pub control_port: u16,
    /// Directory of the lab scripts.
    #[arg(long, default_value = "labs")]
    pub labs_dir: PathBuf,
}

/// Runs the command; an error means exit status 1.
pub async fn run(args: LabArgs) -> Result<(), String> {
    if args.list {
        for script in all_scripts(&args.labs_dir, args.nodes)? {
            println!("{:<28} {}", script.name, script.summary);
        }
        return Ok(());
    }
    let stop = super::signals::stop_on_signal()
        .map_err(|error| format!("cannot install signal handlers: {error}"))?;
    let seed = args.seed.unwrap_or_else(random_seed);
    let name = args.lab.clone().unwrap_or_default();
    let scripts = if name == "all" {
        all_scripts(&args.labs_dir, args.nodes)?
    } else {
        vec![
            lab::load(&lab::script::find(&name, &args.labs_dir), args.nodes)
                .map_err(|error| error.to_string())?,
        ]
    };
    let started = Instant::now();
    let mut rows = Vec::new();
    for script in &scripts {
        if stop.is_cancelled() {
            break;
        }
        let options = RunOptions {
            seed,
            out: args.out.clone(),
            step_mode: args.step,
            hold: args.hold && scripts.len() == 1,
            base_port: args.base_port,
            control_port: args.control_port,
            verbose: true,
            stop: stop.clone(),
        };
        let run = lab::run(script, options).await?;
        rows.push(run.report);
    }
    if scripts.len() > 1 {
        print_table(&rows, started.elapsed().as_secs_f64());
        write_tables(&args.out)?;
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|report| !report.passed)
        .map(|report| report.lab.as_str())
        .collect();
    if rows.len() < scripts.len() {
        return Err("interrupted".into());
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")))
    }
}

/// Every `*.toml` in `dir`, parsed, in name order.
pub fn all_scripts(dir: &Path, nodes: Option<u64>) -> Result<Vec<Script>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            // --nodes applies only where a lab allows it.
            lab::load(path, None).and_then(|script| {
                if script.cluster.fixed_nodes {
                    Ok(script)
                } else {
                    lab::load(path, nodes)
                }
            })
        })
        .collect::<Result<_, _>>()
        .map_err(|error| error.to_string())
}

fn print_table(rows: &[lab::report::Report], elapsed_s: f64) {
    println!(
        "\n{:<28} {:<8} {:>12} {:>10} {:>10} {:>8}",
        "lab", "verdict", "failover ms", "p50 ms", "p99 ms", "time s"
    );
    for report in rows {
        let write = report
            .operations
            .get("write")
            .and_then(|stats| stats.latency_ms);
        let cell = |value: Option<f64>| {
            value
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "–".into())
        };
        println!(
            "{:<28} {:<8} {:>12} {:>10} {:>10} {:>8.1}",
            report.lab,
            if report.passed { "pass" } else { "FAIL" },
            report
                .intervals
                .get("failover_ms")
                .map(|ms| format!("{ms:.0}"))
                .unwrap_or_else(|| "–".into()),
            cell(write.map(|l| l.p50)),
            cell(write.map(|l| l.p99)),
            report.duration_ms / 1000.0
        );
    }
    let passed = rows.iter().filter(|report| report.passed).count();
    println!("{passed} of {} labs passed in {elapsed_s:.1} s", rows.len());
}

/// Writes `OUT/README.md` and, when the reports went to the default
/// `results/`, refreshes the table in the project README too: both come
/// from the report files, never from figures typed by hand.
fn write_tables(out: &Path) -> Result<(), String> {
    let index = out.join("README.md");
    let table = results_table::from_reports(out, "")?;
    let text = format!(
        "# Lab results\n\nGenerated by `cargo run --release -- lab all`; each lab's folder has \
         `report.md`, `report.json` and `latency.svg` (and `history.jsonl`, not committed).\n\n{table}"
    );
    std::fs::write(&index, text)
        .map_err(|error| format!("cannot write {}: {error}", index.display()))?;
    if out == Path::new("results") {
        let readme = Path::new("README.md");
        if let Ok(text) = std::fs::read_to_string(readme) {
            let table = results_table::from_reports(out, "results/")?;
            if let Some(updated) = results_table::replace_block(&text, &table) {
                std::fs::write(readme, updated)
                    .map_err(|error| format!("cannot write README.md: {error}"))?;
                println!("README.md: lab table refreshed from {}", out.display());
            }
        }
    }
    Ok(())
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(1);
    nanos % 1_000_000
}
