//! Steps that act as clients: workloads (started, stopped and judged) and
//! single API calls (`set`, `get`, `delete`, `clear`, `list`).

use super::*;

impl Lab {
    pub(super) async fn workload(
        &mut self,
        index: usize,
        spec: &WorkloadSpec,
    ) -> Result<String, String> {
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| format!("step{}", index + 1));
        let running = RunningWorkload::start(
            self.world.clone(),
            name.clone(),
            spec.clone(),
            self.options.stop.child_token(),
        );
        if spec.background {
            self.workloads.insert(name.clone(), (index, running));
            return Ok(format!(
                "{name}: {} clients started in the background",
                spec.clients
            ));
        }
        let panics = running.join().await;
        judged_with_panics(self.judge_workload(&name, spec), &panics)
    }

    pub(super) async fn stop_workload(&mut self, name: &str) -> Result<String, String> {
        let Some((index, running)) = self.workloads.remove(name) else {
            return Err(format!("workload {name:?} is not running"));
        };
        let spec = running.spec.clone();
        let panics = running.stop().await;
        let verdict = judged_with_panics(self.judge_workload(name, &spec), &panics);
        if let Some(step) = self.steps.get_mut(index) {
            step.ok = verdict.is_ok();
            step.detail = verdict.clone().unwrap_or_else(|error| error);
        }
        verdict
    }

    pub(super) async fn stop_workloads(&mut self) {
        let names: Vec<String> = self.workloads.keys().cloned().collect();
        for name in names {
            let _ = self.stop_workload(&name).await;
        }
    }

    /// Checks a finished workload against its `expect` and `latency_max_ms`.
    /// (A client task that panicked fails it too: see `judged_with_panics`.)
    pub(super) fn judge_workload(&self, name: &str, spec: &WorkloadSpec) -> Result<String, String> {
        let history = self.world.recorder.snapshot();
        let ops: Vec<&HistoryOp> = history.iter().filter(|op| op.source == name).collect();
        let count = |outcome| ops.iter().filter(|op| op.outcome == outcome).count();
        let (ok, failed, unknown) = (
            count(Outcome::Ok),
            count(Outcome::Failed),
            count(Outcome::Unknown),
        );
        let slowest = ops.iter().map(|op| op.latency_ms()).fold(0.0, f64::max);
        let summary = format!(
            "{name}: {} ops, {ok} ok, {failed} failed, {unknown} unknown, slowest {slowest:.1} ms",
            ops.len()
        );
        let verdict = match spec.expect {
            Expect::Any => Ok(()),
            Expect::AllOk if ok == ops.len() && ok > 0 => Ok(()),
            Expect::AllOk => Err("expected every operation acknowledged"),
            Expect::SomeOk if ok > 0 => Ok(()),
            Expect::SomeOk => Err("expected some operation acknowledged"),
            Expect::AllFail if failed == ops.len() && failed > 0 => Ok(()),
            Expect::AllFail => Err("expected every operation to fail clearly (503)"),
        };
        if let Err(why) = verdict {
            return Err(format!("{summary}; {why}"));
        }
        if let Some(bound) = spec.latency_max_ms {
            if slowest > bound {
                return Err(format!(
                    "{summary}; expected every answer within {bound} ms"
                ));
            }
        }
        Ok(summary)
    }

    /// One script operation on each node `node` names.
    pub(super) async fn script_op(
        &self,
        op: OpType,
        node: &str,
        key: &str,
        value: Option<serde_json::Value>,
        ttl_s: Option<f64>,
    ) -> Result<Vec<HistoryOp>, String> {
        let mut records = Vec::new();
        for id in self.world.resolve(node)? {
            let record = perform(
                &self.world,
                &self.http,
                Request {
                    client: self.script_client,
                    source: "script",
                    phase: self.world.timeline.phase(),
                    op,
                    node: id,
                    key,
                    value: value.clone(),
                    ttl_s,
                },
            )
            .await;
            if record.outcome != Outcome::Ok {
                return Err(format!(
                    "{} on {} failed: {}",
                    op.as_str(),
                    record.node,
                    record
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("HTTP {}", record.status))
                ));
            }
            records.push(record);
        }
        Ok(records)
    }

    pub(super) async fn get(
        &self,
        key: &str,
        node: &str,
        consistency: crate::lab::script::Consistency,
        equals: Option<&toml::Value>,
        absent: bool,
    ) -> Result<String, String> {
        let op = match consistency {
            crate::lab::script::Consistency::Local => OpType::ReadLocal,
            crate::lab::script::Consistency::Linearizable => OpType::ReadLinearizable,
        };
        let records = self.script_op(op, node, key, None, None).await?;
        let expected = equals
            .map(|value| serde_json::to_value(value).map(|value| value.to_string()))
            .transpose()
            .map_err(|error| error.to_string())?;
        let mut seen = Vec::new();
        for record in &records {
            let observed = record.observed.clone();
            seen.push(format!(
                "{}: {}",
                record.node,
                observed.as_deref().unwrap_or("absent")
            ));
            if absent && observed.is_some() {
                return Err(format!(
                    "expected {key} absent, {} has {}",
                    record.node,
                    observed.unwrap_or_default()
                ));
            }
            if let Some(expected) = &expected {
                if observed.as_ref() != Some(expected) {
                    return Err(format!(
                        "expected {key} = {expected}, {} has {}",
                        record.node,
                        observed.as_deref().unwrap_or("nothing")
                    ));
                }
            }
        }
        Ok(format!("{key} → {}", seen.join(", ")))
    }

    pub(super) async fn list(&self, node: &str, count: Option<usize>) -> Result<String, String> {
        let records = self.script_op(OpType::List, node, "", None, None).await?;
        let mut seen = Vec::new();
        for record in &records {
            let found: usize = record
                .observed
                .as_deref()
                .and_then(|text| text.parse().ok())
                .unwrap_or(0);
            seen.push(format!("{}: {found} keys", record.node));
            if let Some(count) = count {
                if found != count {
                    return Err(format!(
                        "expected {count} keys, {} lists {found}",
                        record.node
                    ));
                }
            }
        }
        Ok(seen.join(", "))
    }
}

/// A workload whose client task panicked did not do what it was asked,
/// whatever its recorded operations say.
pub(super) fn judged_with_panics(
    verdict: Result<String, String>,
    panics: &[String],
) -> Result<String, String> {
    if panics.is_empty() {
        return verdict;
    }
    let summary = verdict.unwrap_or_else(|error| error);
    Err(format!(
        "{summary}; {} client(s) stopped by a bug in the runner: {}",
        panics.len(),
        panics.join("; ")
    ))
}
