//! The report of a lab: the figures computed from the history and the event
//! stream, and the files `report.json` (stable field names), `report.md`
//! (readable on GitHub), `latency.svg` and `history.jsonl`.

use super::availability::{self, Availability};
use super::checks::{Check, VERIFY_SOURCE};
use super::history::{HistoryOp, OpType};
use super::script::{ClusterSpec, IntervalEnd, Script, Step};
use super::timeline::{Election, Timeline};
use crate::check::linearizability::Outcome;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Width of one throughput/availability bucket.
pub const BUCKET_MS: f64 = 250.0;

/// A named instant of the run (`mark` step).
#[derive(Clone, Debug)]
pub struct Mark {
    pub name: String,
    pub at_us: u64,
    /// The highest term known at the mark.
    pub max_term: u64,
    pub phase: u32,
    /// Each running node's commit index at the mark.
    pub commit_index: BTreeMap<String, u64>,
    pub until: Option<IntervalEnd>,
}

/// One step as it ran.
#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    pub index: usize,
    pub action: String,
    /// The action and its fields on one line.
    pub brief: String,
    /// Line of the step in the script.
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    pub ok: bool,
    pub started_ms: f64,
    pub duration_ms: f64,
    pub detail: String,
}

impl StepRecord {
    /// A step not run because an earlier setup step failed.
    pub fn skipped(index: usize, step: &Step, brief: String) -> StepRecord {
        StepRecord {
            index,
            action: step.action.name(),
            brief,
            line: step.line,
            say: step.say.clone(),
            ok: false,
            started_ms: 0.0,
            duration_ms: 0.0,
            detail: "skipped: an earlier step failed".into(),
        }
    }
}

/// Latency percentiles of acknowledged operations, in ms.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Counts and latency of one kind of operation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OpStats {
    pub ok: usize,
    pub failed: usize,
    pub unknown: usize,
    /// `None` when nothing was acknowledged.
    pub latency_ms: Option<Latency>,
    /// Error codes and how often each came.
    pub errors: BTreeMap<String, usize>,
}

/// One bucket of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Bucket {
    pub at_ms: f64,
    /// Acknowledged operations per second, all kinds.
    pub ok_per_s: f64,
    pub writes_ok: usize,
    pub writes_not_ok: usize,
}

/// A fault step, drawn as a vertical line.
#[derive(Clone, Debug, Serialize)]
pub struct FaultMarker {
    pub at_ms: f64,
    pub label: String,
}

/// Everything `report.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub lab: String,
    pub summary: String,
    pub passed: bool,
    pub interrupted: bool,
    pub seed: u64,
    pub commit: String,
    pub nodes: u64,
    /// Unix seconds when the run started.
    pub started_at_s: u64,
    pub duration_ms: f64,
    pub cluster: ClusterSpec,
    pub steps: Vec<StepRecord>,
    pub intervals: BTreeMap<String, f64>,
    pub elections: Vec<Election>,
    pub operations: BTreeMap<String, OpStats>,
    pub workloads: BTreeMap<String, BTreeMap<String, OpStats>>,
    pub stale_reads: BTreeMap<String, usize>,
    pub availability: Availability,
    pub throughput: Vec<Bucket>,
    pub faults: Vec<FaultMarker>,
    pub checks: Vec<Check>,
    pub warnings: Vec<String>,
}

/// What [`assemble`] needs.
pub struct Inputs<'a> {
    pub script: &'a Script,
    pub seed: u64,
    pub nodes: u64,
    pub steps: Vec<StepRecord>,
    pub checks: Vec<Check>,
    pub intervals: BTreeMap<String, f64>,
    pub history: &'a [HistoryOp],
    pub timeline: &'a Timeline,
    pub stale: (usize, usize),
    pub interrupted: bool,
    pub warnings: Vec<String>,
    pub started_wall: std::time::SystemTime,
    pub duration_ms: f64,
}

/// Fault actions, drawn as lines in the figure.
const FAULT_ACTIONS: &[&str] = &[
    "kill",
    "restart",
    "pause",
    "resume",
    "full_restart",
    "partition",
    "heal",
    "link",
    "transfer",
    "reset_cluster",
];

/// Builds the report from a finished run.
pub fn assemble(inputs: Inputs<'_>) -> Report {
    let workload_ops: Vec<&HistoryOp> = inputs
        .history
        .iter()
        .filter(|op| op.source != VERIFY_SOURCE)
        .collect();
    let mut operations = BTreeMap::new();
    let mut workloads: BTreeMap<String, BTreeMap<String, OpStats>> = BTreeMap::new();
    for op_type in [
        OpType::Write,
        OpType::Delete,
        OpType::Clear,
        OpType::ReadLinearizable,
        OpType::ReadLocal,
        OpType::List,
    ] {
        let ops: Vec<&HistoryOp> = workload_ops
            .iter()
            .copied()
            .filter(|op| op.op == op_type)
            .collect();
        if ops.is_empty() {
            continue;
        }
        operations.insert(op_type.as_str().to_string(), stats(&ops));
        let mut by_source: BTreeMap<&str, Vec<&HistoryOp>> = BTreeMap::new();
        for op in ops {
            by_source.entry(op.source.as_str()).or_default().push(op);
        }
        for (source, ops) in by_source {
            workloads
                .entry(source.to_string())
                .or_default()
                .insert(op_type.as_str().to_string(), stats(&ops));
        }
    }
    let throughput = buckets(&workload_ops);
    let availability = availability::measure(&workload_ops);
    let faults = inputs
        .steps
        .iter()
        .filter(|step| FAULT_ACTIONS.contains(&step.action.as_str()) && step.duration_ms > 0.0)
        .map(|step| FaultMarker {
            at_ms: round3(step.started_ms),
            label: step.brief.clone(),
        })
        .collect();
    let passed = !inputs.interrupted
        && inputs.steps.iter().all(|step| step.ok)
        && inputs.checks.iter().all(|check| check.ok);
    Report {
        lab: inputs.script.name.clone(),
        summary: inputs.script.summary.clone(),
        passed,
        interrupted: inputs.interrupted,
        seed: inputs.seed,
        commit: git_commit(),
        nodes: inputs.nodes,
        started_at_s: inputs
            .started_wall
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0),
        duration_ms: round3(inputs.duration_ms),
        cluster: inputs.script.cluster.clone(),
        steps: inputs.steps,
        intervals: inputs
            .intervals
            .into_iter()
            .map(|(name, ms)| (name, round3(ms)))
            .collect(),
        elections: inputs
            .timeline
            .elections()
            .into_iter()
            .map(|election| Election {
                at_ms: round3(election.at_ms),
                ..election
            })
            .collect(),
        operations,
        workloads,
        stale_reads: BTreeMap::from([
            ("local".to_string(), inputs.stale.0),
            ("linearizable".to_string(), inputs.stale.1),
        ]),
        availability,
        throughput,
        faults,
        checks: inputs.checks,
        warnings: inputs.warnings,
    }
}

/// Measured intervals, `<name>_ms`, from marks with `until`.
///
/// `write_ok` ends at the first acknowledged write invoked once the first
/// fault step after the mark completed: a write sent between the mark and
/// the kill says nothing about the failover. Without a fault step after the
/// mark, any acknowledged write invoked after the mark ends it.
pub fn intervals(
    marks: &BTreeMap<String, Mark>,
    history: &[HistoryOp],
    elections: &[Election],
    steps: &[StepRecord],
) -> BTreeMap<String, f64> {
    let mut intervals = BTreeMap::new();
    for mark in marks.values() {
        let end_us = match mark.until {
            None => continue,
            Some(IntervalEnd::WriteOk) => {
                let mark_ms = mark.at_us as f64 / 1000.0;
                let fault_done_us = steps
                    .iter()
                    .filter(|step| {
                        step.ok
                            && FAULT_ACTIONS.contains(&step.action.as_str())
                            && step.started_ms >= mark_ms
                    })
                    .map(|step| ((step.started_ms + step.duration_ms) * 1000.0).ceil() as u64)
                    .min()
                    .unwrap_or(mark.at_us);
                history
                    .iter()
                    .filter(|op| {
                        op.op == OpType::Write
                            && op.outcome == Outcome::Ok
                            && op.invoke_us >= fault_done_us
                    })
                    .map(|op| op.complete_us)
                    .min()
            }
            Some(IntervalEnd::NewLeader) => elections
                .iter()
                .filter(|election| {
                    election.phase == mark.phase
                        && election.term > mark.max_term
                        && election.at_ms * 1000.0 >= mark.at_us as f64
                })
                .map(|election| (election.at_ms * 1000.0) as u64)
                .min(),
        };
        if let Some(end_us) = end_us {
            intervals.insert(
                format!("{}_ms", mark.name),
                (end_us - mark.at_us) as f64 / 1000.0,
            );
        }
    }
    intervals
}

fn stats(ops: &[&HistoryOp]) -> OpStats {
    let mut stats = OpStats::default();
    let mut histogram = crate::bench::latency_histogram();
    for op in ops {
        match op.outcome {
            Outcome::Ok => {
                stats.ok += 1;
                histogram
                    .record((op.complete_us - op.invoke_us).clamp(1, 60_000_000))
                    .expect("latency within the histogram's bounds");
            }
            Outcome::Failed => stats.failed += 1,
            Outcome::Unknown => stats.unknown += 1,
        }
        if let Some(error) = &op.error {
            *stats.errors.entry(error.clone()).or_default() += 1;
        }
    }
    if !histogram.is_empty() {
        let ms = |us: u64| round3(us as f64 / 1000.0);
        stats.latency_ms = Some(Latency {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
        });
    }
    stats
}

fn buckets(ops: &[&HistoryOp]) -> Vec<Bucket> {
    let end_ms = ops.iter().map(|op| op.complete_us).max().unwrap_or(0) as f64 / 1000.0;
    let count = (end_ms / BUCKET_MS).ceil() as usize;
    let mut buckets: Vec<Bucket> = (0..count)
        .map(|index| Bucket {
            at_ms: index as f64 * BUCKET_MS,
            ok_per_s: 0.0,
            writes_ok: 0,
            writes_not_ok: 0,
        })
        .collect();
    for op in ops {
        let index =
            ((op.complete_us as f64 / 1000.0 / BUCKET_MS) as usize).min(count.saturating_sub(1));
        let Some(bucket) = buckets.get_mut(index) else {
            continue;
        };
        if op.outcome == Outcome::Ok {
            bucket.ok_per_s += 1000.0 / BUCKET_MS;
        }
        if op.op == OpType::Write {
            if op.outcome == Outcome::Ok {
                bucket.writes_ok += 1;
            } else {
                bucket.writes_not_ok += 1;
            }
        }
    }
    buckets
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Writes the four report files into `dir`, replacing an earlier run's.
pub fn write(
    dir: &Path,
    report: &Report,
    history: &[HistoryOp],
    timeline: &Timeline,
) -> Result<(), String> {
    let failed = |what: &str, error: std::io::Error| {
        format!("cannot write {what} in {}: {error}", dir.display())
    };
    std::fs::create_dir_all(dir).map_err(|error| failed("the report", error))?;
    let json = serde_json::to_string_pretty(report).expect("reports serialize");
    std::fs::write(dir.join("report.json"), json + "\n")
        .map_err(|error| failed("report.json", error))?;
    std::fs::write(dir.join("report.md"), markdown(report))
        .map_err(|error| failed("report.md", error))?;
    std::fs::write(
        dir.join("latency.svg"),
        super::svg::render(report, history, timeline),
    )
    .map_err(|error| failed("latency.svg", error))?;
    let mut lines = String::new();
    for op in history {
        lines += &serde_json::to_string(op).expect("operations serialize");
        lines.push('\n');
    }
    std::fs::write(dir.join("history.jsonl"), lines)
        .map_err(|error| failed("history.jsonl", error))?;
    Ok(())
}

fn latency_cell(stats: Option<&OpStats>, pick: fn(&Latency) -> f64) -> String {
    stats
        .and_then(|stats| stats.latency_ms.as_ref())
        .map(|latency| format!("{:.2}", pick(latency)))
        .unwrap_or_else(|| "–".into())
}

/// `report.md`: what happened, in order, with the figures.
pub fn markdown(report: &Report) -> String {
    let mut md = String::new();
    let verdict = if report.passed {
        "✅ passed"
    } else if report.interrupted {
        "⏹ interrupted"
    } else {
        "❌ failed"
    };
    let _ = writeln!(md, "# Lab `{}`: {verdict}\n", report.lab);
    let _ = writeln!(md, "{}\n", report.summary);
    let _ = writeln!(
        md,
        "Seed {} · commit `{}` · {} nodes · pre-vote {} · check-quorum {} · fsync {} · {:.1} s\n",
        report.seed,
        report.commit,
        report.nodes,
        report.cluster.pre_vote,
        report.cluster.check_quorum,
        report.cluster.fsync,
        report.duration_ms / 1000.0
    );
    let _ = writeln!(
        md,
        "Replay: `cargo run --release -- lab {} --seed {}`\n",
        report.lab, report.seed
    );
    let _ = writeln!(md, "![latency of every operation over time](latency.svg)\n");
    let _ = writeln!(
        md,
        "## Steps\n\n| # | at | step | result |\n| --- | --- | --- | --- |"
    );
    for step in &report.steps {
        let _ = writeln!(
            md,
            "| {} | {:.2} s | `{}` | {} {} |",
            step.index + 1,
            step.started_ms / 1000.0,
            step.brief.replace('|', "\\|"),
            if step.ok { "ok" } else { "**FAILED**" },
            step.detail.replace('|', "\\|").replace('\n', " ")
        );
    }
    let _ = writeln!(
        md,
        "\n## Checks\n\n| check | ok | detail |\n| --- | --- | --- |"
    );
    for check in &report.checks {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            check.name,
            if check.ok { "✅" } else { "❌" },
            check.detail.replace('|', "\\|").replace('\n', "<br>")
        );
    }
    if !report.intervals.is_empty() {
        let _ = writeln!(md, "\n## Intervals\n");
        for (name, ms) in &report.intervals {
            let _ = writeln!(md, "- `{name}`: **{ms:.0} ms**");
        }
    }
    let _ = writeln!(md, "\n## Operations\n\nLatency percentiles are over the acknowledged operations only; `expect_latency` judges every operation at the latency its client saw.\n\n| operation | ok | failed | unknown | acknowledged p50 ms | p90 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, stats) in &report.operations {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            stats.ok,
            stats.failed,
            stats.unknown,
            latency_cell(Some(stats), |l| l.p50),
            latency_cell(Some(stats), |l| l.p90),
            latency_cell(Some(stats), |l| l.p99),
            latency_cell(Some(stats), |l| l.max)
        );
    }
    let errors: BTreeMap<&String, usize> = report
        .operations
        .values()
        .flat_map(|stats| stats.errors.iter())
        .fold(BTreeMap::new(), |mut all, (code, count)| {
            *all.entry(code).or_default() += count;
            all
        });
    if !errors.is_empty() {
        let list: Vec<String> = errors
            .iter()
            .map(|(code, count)| format!("`{code}` ×{count}"))
            .collect();
        let _ = writeln!(md, "\nErrors: {}", list.join(", "));
    }
    let _ = writeln!(
        md,
        "\nStale reads: {} local (allowed), {} linearizable (must be 0).",
        report.stale_reads.get("local").unwrap_or(&0),
        report.stale_reads.get("linearizable").unwrap_or(&0)
    );
    if let Some(share) = report.availability.share {
        let _ = writeln!(
            md,
            "\nAvailability: {:.1}% of the time from the first write to the last; {} outages (writes in flight and none acknowledged for over {:.0} ms), the longest {:.0} ms.",
            share * 100.0,
            report.availability.outages.len(),
            report.availability.outage_threshold_ms,
            report.availability.longest_gap_ms
        );
    }
    let _ = writeln!(
        md,
        "\n## Elections\n\n| at | term | leader |\n| --- | --- | --- |"
    );
    for election in &report.elections {
        let phase = if election.phase > 0 {
            format!(" (phase {})", election.phase)
        } else {
            String::new()
        };
        let _ = writeln!(
            md,
            "| {:.3} s | {}{phase} | {} |",
            election.at_ms / 1000.0,
            election.term,
            election.leader
        );
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(md, "\n## Warnings\n");
        for warning in &report.warnings {
            let _ = writeln!(md, "- {warning}");
        }
    }
    md
}

/// The summary table printed at the end of a run.
pub fn print_summary(report: &Report, dir: &Path) {
    println!("\n━━ {} ━━", report.lab);
    for check in &report.checks {
        println!(
            "  {} {:<28} {}",
            if check.ok { "✔" } else { "✘" },
            check.name,
            first_line(&check.detail)
        );
    }
    for step in report.steps.iter().filter(|step| !step.ok) {
        println!(
            "  ✘ step {:<23} {}",
            format!("{} ({})", step.index + 1, step.action),
            first_line(&step.detail)
        );
    }
    for (name, ms) in &report.intervals {
        println!("  {name}: {ms:.0} ms");
    }
    if let Some(latency) = report
        .operations
        .get("write")
        .and_then(|stats| stats.latency_ms)
    {
        println!(
            "  acknowledged write latency: p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
            latency.p50, latency.p99, latency.max
        );
    }
    println!(
        "  verdict: {}   report: {}",
        if report.passed { "PASSED" } else { "FAILED" },
        dir.join("report.md").display()
    );
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(invoke_ms: u64, complete_ms: u64, outcome: Outcome) -> HistoryOp {
        HistoryOp::test_write(invoke_ms, complete_ms, outcome)
    }

    fn step(index: usize, action: &str, started_ms: f64, duration_ms: f64) -> StepRecord {
        StepRecord {
            index,
            action: action.into(),
            brief: action.into(),
            line: 1,
            say: None,
            ok: true,
            started_ms,
            duration_ms,
            detail: String::new(),
        }
    }

    fn failover(history: &[HistoryOp], steps: &[StepRecord]) -> Option<f64> {
        let mark = Mark {
            name: "failover".into(),
            at_us: 100_000,
            max_term: 1,
            phase: 0,
            commit_index: BTreeMap::new(),
            until: Some(IntervalEnd::WriteOk),
        };
        let marks = BTreeMap::from([("failover".to_string(), mark)]);
        intervals(&marks, history, &[], steps)
            .get("failover_ms")
            .copied()
    }

    #[test]
    fn failover_ends_with_a_write_sent_after_the_kill_not_before_it() {
        // Mark at 100 ms; a write sent at 101 ms is acknowledged at 103 ms by
        // the old leader, which is killed from 110 to 115 ms; the first write
        // sent after that is acknowledged at 400 ms.
        let history = vec![
            write(101, 103, Outcome::Ok),
            write(112, 300, Outcome::Unknown),
            write(300, 400, Outcome::Ok),
        ];
        let steps = vec![
            step(0, "mark", 99.0, 1.0),
            step(1, "kill", 110.0, 5.0),
            step(2, "restart", 500.0, 5.0),
        ];
        assert_eq!(failover(&history, &steps), Some(300.0));
        // Without a fault step, any acknowledged write after the mark ends it.
        assert_eq!(failover(&history, &steps[..1]), Some(3.0));
    }
}
