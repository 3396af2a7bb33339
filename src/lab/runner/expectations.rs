//! Expectation steps and the checks judged once the run is over: elections,
//! terms, commits, roles, intervals, latency bounds and stale reads.

use super::*;

impl Lab {
    pub(super) fn expect_elections(
        &self,
        since: Option<&str>,
        min: Option<usize>,
        max: Option<usize>,
    ) -> Result<String, String> {
        let phase = self.world.timeline.phase();
        let from_ms = since
            .map(|name| self.marks[name].at_us as f64 / 1000.0)
            .unwrap_or(0.0);
        let elections: Vec<_> = self
            .world
            .timeline
            .elections()
            .into_iter()
            .filter(|election| election.phase == phase && election.at_ms >= from_ms)
            .collect();
        let list: Vec<String> = elections
            .iter()
            .map(|e| format!("{} in term {}", e.leader, e.term))
            .collect();
        within("elections", elections.len(), min, max)
            .map(|text| format!("{text}: {}", list.join(", ")))
    }

    pub(super) fn expect_no_commit(&self, node: &str, since: &str) -> Result<String, String> {
        let mark = &self.marks[since];
        let mut lines = Vec::new();
        for id in self.world.resolve(node)? {
            let name = node_name(id);
            let before = mark.commit_index.get(&name).copied().ok_or_else(|| {
                format!("{name} was not running at mark {since:?}: no commit index to compare with")
            })?;
            let now = self
                .world
                .cluster()
                .handle(id)
                .map(|handle| handle.status().commit_index)
                .ok_or_else(|| {
                    format!("{name} is not running: cannot tell whether it committed since mark {since:?}")
                })?;
            if now > before {
                return Err(format!(
                    "{name} committed up to {now} since mark {since:?} (was {before})"
                ));
            }
            lines.push(format!("{name} commit index stayed at {before}"));
        }
        Ok(lines.join(", "))
    }

    pub(super) fn expect_role(&self, node: &str, role: &str) -> Result<String, String> {
        for id in self.world.resolve(node)? {
            let status = self
                .world
                .cluster()
                .handle(id)
                .map(|handle| handle.status());
            let actual = status
                .as_ref()
                .map(|status| status.role.as_str())
                .unwrap_or("killed");
            if actual != role {
                return Err(format!("{} is {actual}, expected {role}", node_name(id)));
            }
        }
        Ok(format!("{node} is {role}"))
    }

    /// Runs the checks and assembles the report.
    pub(super) fn judge(
        &mut self,
        script: &Script,
        history: &[HistoryOp],
        mut checks: Vec<Check>,
        interrupted: bool,
        started_wall: std::time::SystemTime,
        started: Instant,
    ) -> Report {
        let (linearizable, _) = checks::linearizability(history);
        checks.insert(0, linearizable);
        let stale_local = checks::stale_reads(history, OpType::ReadLocal, None).len();
        let stale_linearizable = checks::stale_reads(history, OpType::ReadLinearizable, None).len();
        let local_reads = history
            .iter()
            .filter(|op| op.op == OpType::ReadLocal && op.outcome == Outcome::Ok)
            .count();
        checks.push(Check::new(
            "local_reads",
            true,
            format!("{stale_local} of {local_reads} acknowledged local reads were stale (allowed: local reads may lag)"),
        ));
        let doubles = self.world.timeline.double_leaders();
        checks.push(Check::new(
            "one_leader_per_term",
            doubles.is_empty(),
            match doubles.first() {
                None => format!(
                    "{} elections, never two leaders in a term",
                    self.world.timeline.elections().len()
                ),
                Some((phase, term, leaders)) => format!(
                    "phase {phase} term {term} had leaders {}",
                    leaders.join(", ")
                ),
            },
        ));
        let falls = self.world.timeline.falling_terms();
        checks.push(Check::new(
            "terms_rising",
            falls.is_empty(),
            match falls.first() {
                None => "no node's term ever went down".to_string(),
                Some((_, node, from, to)) => format!("{node} went from term {from} to {to}"),
            },
        ));
        if !interrupted {
            checks.push(self.acknowledged_writes_kept(history));
        }
        let intervals = report::intervals(
            &self.marks,
            history,
            &self.world.timeline.elections(),
            &self.steps,
        );
        for index in std::mem::take(&mut self.deferred) {
            let verdict = self.judge_deferred(
                &script.steps[index].action,
                history,
                &intervals,
                stale_local,
                stale_linearizable,
            );
            if let Some(step) = self.steps.get_mut(index) {
                step.ok = verdict.is_ok();
                step.detail = verdict.unwrap_or_else(|error| error);
            }
        }
        if self.world.timeline.skipped() > 0 {
            self.warnings.push(format!(
                "{} events were missed by the recorder",
                self.world.timeline.skipped()
            ));
        }
        report::assemble(report::Inputs {
            script,
            seed: self.options.seed,
            nodes: self.world.cluster().size(),
            steps: std::mem::take(&mut self.steps),
            checks,
            intervals,
            history,
            timeline: &self.world.timeline,
            stale: (stale_local, stale_linearizable),
            interrupted,
            warnings: std::mem::take(&mut self.warnings),
            started_wall,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    pub(super) fn judge_deferred(
        &self,
        action: &Action,
        history: &[HistoryOp],
        intervals: &BTreeMap<String, f64>,
        stale_local: usize,
        stale_linearizable: usize,
    ) -> Result<String, String> {
        match action {
            Action::ExpectInterval { name, max_ms } => match intervals.get(&format!("{name}_ms")) {
                None => Err(format!("interval {name:?} never ended")),
                Some(ms) if ms > max_ms => {
                    Err(format!("{name} took {ms:.0} ms, bound {max_ms} ms"))
                }
                Some(ms) => Ok(format!("{name} took {ms:.0} ms (bound {max_ms} ms)")),
            },
            Action::ExpectLatency {
                workload,
                percentile,
                max_ms,
            } => {
                let Some((ms, total, acknowledged)) =
                    workload_latency(history, workload, *percentile)
                else {
                    return Err(format!("workload {workload:?} made no operation"));
                };
                let over = format!("over all {total} operations, {acknowledged} acknowledged");
                if ms > *max_ms {
                    Err(format!(
                        "{workload} p{percentile} = {ms:.2} ms {over}, bound {max_ms} ms"
                    ))
                } else {
                    Ok(format!(
                        "{workload} p{percentile} = {ms:.2} ms {over} (bound {max_ms} ms)"
                    ))
                }
            }
            Action::ExpectStaleReads {
                consistency,
                min,
                max,
            } => {
                let count = match consistency {
                    crate::lab::script::Consistency::Local => stale_local,
                    crate::lab::script::Consistency::Linearizable => stale_linearizable,
                };
                within(
                    &format!("stale {consistency:?} reads").to_lowercase(),
                    count,
                    *min,
                    *max,
                )
            }
            _ => Ok(String::new()),
        }
    }
}

/// The `percentile` latency in ms of every operation of `workload`, at the
/// latency its client saw whatever the outcome (a request that failed or
/// timed out kept its client waiting too), with the number of operations
/// and of acknowledged ones; `None` when the workload made none.
pub(super) fn workload_latency(
    history: &[HistoryOp],
    workload: &str,
    percentile: f64,
) -> Option<(f64, usize, usize)> {
    let mut histogram = crate::bench::latency_histogram();
    let (mut total, mut acknowledged) = (0, 0);
    for op in history.iter().filter(|op| op.source == workload) {
        let _ = histogram.record((op.complete_us - op.invoke_us).clamp(1, 60_000_000));
        total += 1;
        acknowledged += usize::from(op.outcome == Outcome::Ok);
    }
    if histogram.is_empty() {
        return None;
    }
    let ms = histogram.value_at_quantile(percentile / 100.0) as f64 / 1000.0;
    Some((ms, total, acknowledged))
}

/// Checks a count against optional bounds.
pub(super) fn within(
    what: &str,
    count: usize,
    min: Option<usize>,
    max: Option<usize>,
) -> Result<String, String> {
    if min.is_some_and(|min| count < min) {
        return Err(format!(
            "{what}: {count}, expected at least {}",
            min.unwrap_or(0)
        ));
    }
    if max.is_some_and(|max| count > max) {
        return Err(format!(
            "{what}: {count}, expected at most {}",
            max.unwrap_or(0)
        ));
    }
    Ok(format!("{what}: {count}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(invoke_ms: u64, latency_ms: u64, outcome: Outcome) -> HistoryOp {
        HistoryOp::test_write(invoke_ms, invoke_ms + latency_ms, outcome)
    }

    #[test]
    fn latency_bounds_count_failed_and_timed_out_operations() {
        // 90 fast acknowledged writes and 10 that waited 3 s for nothing:
        // p95 is a timeout, not a fast write.
        let mut history: Vec<HistoryOp> = (0..90).map(|i| op(i * 10, 1, Outcome::Ok)).collect();
        history.extend((0..10).map(|i| op(1000 + i * 10, 3000, Outcome::Unknown)));
        let (ms, total, acknowledged) = workload_latency(&history, "writers", 95.0).unwrap();
        assert!(ms >= 2900.0, "p95 {ms} ms");
        assert_eq!((total, acknowledged), (100, 90));
        assert!(workload_latency(&history, "nobody", 50.0).is_none());
    }
}
