//! Write availability measured from the history itself: an outage is a
//! stretch with writes in flight and none acknowledged for longer than
//! [`OUTAGE_MS`]. Fixed buckets hide a 400 ms failover inside two buckets
//! that each saw one write; gaps between acknowledgements do not.
//!
//! The share is the part of the writing time outside outages, the writing
//! time of each cluster phase running from its first write invoked to its
//! last write completed. Dividing by the time with writes in flight instead
//! would make a slow open-loop workload (a write every 100 ms, answered in
//! 1 ms) look 14% available through one 245 ms outage.

use super::history::{HistoryOp, OpType};
use crate::check::linearizability::Outcome;
use serde::Serialize;

/// Longer than any write takes on a healthy cluster here (p99 is a few ms,
/// a heartbeat 50 ms), shorter than the quickest election (150 ms).
pub const OUTAGE_MS: f64 = 100.0;

/// How long writes were waited on with none acknowledged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Availability {
    /// Share of the writing time (per phase, first write invoked to last
    /// write completed) that was not inside an outage; `None` when the lab
    /// wrote nothing.
    pub share: Option<f64>,
    /// A gap between acknowledged writes longer than this is an outage.
    pub outage_threshold_ms: f64,
    /// The longest outage, 0 when there was none.
    pub longest_gap_ms: f64,
    /// The stretches with writes in flight, in order.
    pub writing: Vec<Span>,
    /// The stretches with writes in flight and none acknowledged, in order.
    pub outages: Vec<Span>,
}

/// A stretch of the run, in milliseconds since it began.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Span {
    /// Where it starts.
    pub from_ms: f64,
    /// Where it ends; never before `from_ms`.
    pub to_ms: f64,
}

/// Measures write availability over `ops` (any kinds; only writes count).
pub fn measure(ops: &[&HistoryOp]) -> Availability {
    let writes: Vec<&&HistoryOp> = ops.iter().filter(|op| op.op == OpType::Write).collect();
    let ms = |us: u64| us as f64 / 1000.0;
    let mut busy = merge(
        writes
            .iter()
            .map(|op| (ms(op.invoke_us), ms(op.complete_us)))
            .collect(),
    );
    busy.retain(|(from, to)| to > from);
    let mut acks: Vec<f64> = writes
        .iter()
        .filter(|op| op.outcome == Outcome::Ok)
        .map(|op| ms(op.complete_us))
        .collect();
    acks.sort_by(f64::total_cmp);
    let mut phases: std::collections::BTreeMap<u32, (f64, f64)> = Default::default();
    for op in &writes {
        let span = phases
            .entry(op.phase)
            .or_insert((f64::INFINITY, f64::NEG_INFINITY));
        span.0 = span.0.min(ms(op.invoke_us));
        span.1 = span.1.max(ms(op.complete_us));
    }
    let writing_ms: f64 = phases.values().map(|(from, to)| to - from).sum();
    let mut outages = Vec::new();
    for &(from, to) in &busy {
        // Inside one busy stretch, the silences are the gaps between the
        // acknowledgements that fall in it, and its two ends.
        let first = acks.partition_point(|at| *at < from);
        let last = acks.partition_point(|at| *at <= to);
        let mut edges = vec![from];
        edges.extend_from_slice(&acks[first..last]);
        edges.push(to);
        for pair in edges.windows(2) {
            if pair[1] - pair[0] > OUTAGE_MS {
                outages.push(Span {
                    from_ms: round3(pair[0]),
                    to_ms: round3(pair[1]),
                });
            }
        }
    }
    let down_ms: f64 = outages.iter().map(|o| o.to_ms - o.from_ms).sum();
    Availability {
        share: (writing_ms > 0.0).then(|| round3(1.0 - down_ms / writing_ms)),
        outage_threshold_ms: OUTAGE_MS,
        longest_gap_ms: outages
            .iter()
            .map(|o| round3(o.to_ms - o.from_ms))
            .fold(0.0, f64::max),
        writing: busy
            .iter()
            .map(|&(from, to)| Span {
                from_ms: round3(from),
                to_ms: round3(to),
            })
            .collect(),
        outages,
    }
}

/// Merges overlapping intervals.
fn merge(mut intervals: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (from, to) in intervals {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(invoke_ms: u64, complete_ms: u64, outcome: Outcome) -> HistoryOp {
        HistoryOp::test_write(invoke_ms, complete_ms, outcome)
    }

    fn measure_all(ops: &[HistoryOp]) -> Availability {
        measure(&ops.iter().collect::<Vec<_>>())
    }

    #[test]
    fn steady_writes_have_no_outage() {
        let ops: Vec<HistoryOp> = (0..100)
            .map(|i| write(i * 10, i * 10 + 2, Outcome::Ok))
            .collect();
        let availability = measure_all(&ops);
        assert_eq!(availability.outages, vec![]);
        assert_eq!(availability.share, Some(1.0));
    }

    #[test]
    fn a_failover_inside_one_write_is_an_outage_of_its_length() {
        let ops = vec![
            write(0, 5, Outcome::Ok),
            write(5, 10, Outcome::Ok),
            write(10, 410, Outcome::Unknown), // the leader died
            write(410, 415, Outcome::Ok),
        ];
        let availability = measure_all(&ops);
        assert_eq!(
            availability.outages,
            vec![Span {
                from_ms: 10.0,
                to_ms: 415.0
            }]
        );
        assert_eq!(availability.longest_gap_ms, 405.0);
        assert_eq!(availability.share, Some(0.024));
    }

    #[test]
    fn a_slow_open_loop_workload_is_judged_over_its_whole_span() {
        // A write every 100 ms for 3 s, each answered in 1 ms, except the
        // three sent while a new leader was elected, all answered at 1245 ms:
        // one outage of 245 ms in 3 s.
        let mut ops: Vec<HistoryOp> = (0..30)
            .map(|i| write(i * 100, i * 100 + 1, Outcome::Ok))
            .collect();
        for (i, op) in ops.iter_mut().enumerate().take(13).skip(10) {
            *op = write(i as u64 * 100, 1245, Outcome::Ok);
        }
        let availability = measure_all(&ops);
        assert_eq!(
            availability.outages,
            vec![Span {
                from_ms: 1000.0,
                to_ms: 1245.0
            }]
        );
        // 245 ms down out of 0..2901 ms, not out of the 274 ms with writes in flight.
        assert_eq!(availability.share, Some(0.916));
    }

    #[test]
    fn phases_are_spans_of_their_own() {
        let mut late = write(10_000, 10_010, Outcome::Ok);
        late.phase = 1;
        let ops = vec![
            write(0, 10, Outcome::Ok),
            write(10, 210, Outcome::Unknown),
            write(210, 220, Outcome::Ok),
            write(990, 1000, Outcome::Ok),
            late,
        ];
        let availability = measure_all(&ops);
        // Phase 0 spans 1000 ms, phase 1 10 ms; the 9 s between them are not counted.
        assert_eq!(availability.longest_gap_ms, 210.0);
        assert_eq!(availability.share, Some(round3(1.0 - 210.0 / 1010.0)));
    }

    #[test]
    fn idle_time_between_workloads_is_not_an_outage() {
        let ops = vec![write(0, 5, Outcome::Ok), write(1000, 1005, Outcome::Ok)];
        assert_eq!(measure_all(&ops).outages, vec![]);
    }

    #[test]
    fn writes_failing_fast_and_repeatedly_are_one_outage() {
        let mut ops: Vec<HistoryOp> = (0..20)
            .map(|i| write(i * 20, i * 20 + 20, Outcome::Failed))
            .collect();
        ops.push(write(400, 402, Outcome::Ok));
        let availability = measure_all(&ops);
        assert_eq!(
            availability.outages,
            vec![Span {
                from_ms: 0.0,
                to_ms: 402.0
            }]
        );
    }

    #[test]
    fn no_writes_means_no_share() {
        assert_eq!(measure_all(&[]).share, None);
    }
}
