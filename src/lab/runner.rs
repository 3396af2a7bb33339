//! Runs one lab: starts the cluster and its control plane, carries out the
//! steps in order while the event stream and every client operation are
//! recorded, repairs the cluster, reads every key back, runs the checks and
//! writes the report.
//!
//! Each cluster phase (the run, or the part before a `reset_cluster`) is
//! closed the same way before its cluster goes: faults undone, convergence
//! awaited, every key read back, then the nodes frozen and stopped and their
//! write-ahead logs read from disk, so that every acknowledged write can be
//! looked up at the index and term its answer gave (a read-back alone cannot
//! see a write lost and then overwritten).

use super::checks::{self, Check, LogAgreement, NodeLog, VERIFY_SOURCE};
use super::history::{HistoryOp, OpType, Recorder};
use super::report::{self, Mark, Report, StepRecord};
use super::script::{Action, Expect, IntervalEnd, Script, Step, WaitFor, WorkloadSpec};
use super::timeline::Timeline;
use super::workload::{perform, Request, RunningWorkload};
use super::world::{names, working_leader, World, POLL_INTERVAL};
use crate::api::serve;
use crate::check::linearizability::Outcome;
use crate::client::HttpClient;
use crate::cluster::control_api;
use crate::events::{EventBus, EventKind};
use crate::raft::{node_name, NodeId};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Time the end-of-lab repair waits for a leader and for convergence.
const REPAIR_TIMEOUT: Duration = Duration::from_secs(8);

/// How a lab is run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub seed: u64,
    /// The report goes to `out/<lab>/`.
    pub out: PathBuf,
    /// Classroom mode: narrate each step and wait for Enter.
    pub step_mode: bool,
    /// Keep the cluster up after the report, until Ctrl-C.
    pub hold: bool,
    /// 0 picks free ports.
    pub base_port: u16,
    pub control_port: u16,
    /// Print events and progress while running.
    pub verbose: bool,
    /// Cancelled by Ctrl-C.
    pub stop: CancellationToken,
}

/// What a run came to.
pub struct LabRun {
    pub report: Report,
    pub dir: PathBuf,
}

/// A lab in progress.
struct Lab {
    world: Arc<World>,
    options: RunOptions,
    http: HttpClient,
    /// The client id of the script's own operations.
    script_client: u64,
    workloads: BTreeMap<String, (usize, RunningWorkload)>,
    marks: BTreeMap<String, Mark>,
    steps: Vec<StepRecord>,
    warnings: Vec<String>,
    /// Step indices whose expectation is judged once the run is over.
    deferred: Vec<usize>,
    /// What the end of each cluster phase found, in order.
    phases: Vec<PhaseVerdict>,
}

/// What closing one cluster phase (the end of the run, or a
/// `reset_cluster`) found before its cluster was stopped.
struct PhaseVerdict {
    phase: u32,
    /// "after repair" or "before reset_cluster".
    when: &'static str,
    converged: Result<String, String>,
    /// The nodes' logs compared with each other and with the phase's
    /// acknowledged writes.
    logs: Result<LogAgreement, String>,
}

/// Runs `script` and writes its report.
pub async fn run(script: &Script, options: RunOptions) -> Result<LabRun, String> {
    let started_wall = std::time::SystemTime::now();
    let started = Instant::now();
    let data = tempfile::tempdir()
        .map_err(|error| format!("cannot create a temporary directory: {error}"))?;
    let events = EventBus::new();
    let timeline = Timeline::default();
    let recorder_task = timeline.record(events.subscribe(), options.verbose);
    let recorder = Recorder::new(started);
    let control_address = format!("127.0.0.1:{}", options.control_port);
    let control_listener = TcpListener::bind(&control_address).await.map_err(|error| {
        format!("cannot listen on {control_address} for the control plane: {error} (use --control-port, 0 for a free one)")
    })?;
    let control_address = control_listener
        .local_addr()
        .map_err(|error| error.to_string())?;
    let mut warnings = Vec::new();
    if script.cluster.snapshot_threshold_entries > 0 {
        warnings.push(
            "snapshot_threshold_entries is ignored: this build's nodes do not take snapshots yet"
                .to_string(),
        );
    }
    let world = Arc::new(
        World::start(
            script.cluster.clone(),
            options.seed,
            options.base_port,
            data.path().to_path_buf(),
            events.clone(),
            timeline.clone(),
            recorder.clone(),
        )
        .await?,
    );
    let control_stop = CancellationToken::new();
    let control_world = world.clone();
    let control_task = tokio::spawn(serve(
        control_listener,
        control_stop.clone(),
        move |request| control_api::handle(control_world.cluster(), request),
    ));
    if options.verbose {
        print_header(script, &options, &world, control_address);
        for warning in &warnings {
            println!("  warning: {warning}");
        }
    }
    let progress = spawn_progress(recorder.clone(), options.verbose);
    let mut lab = Lab {
        world: world.clone(),
        http: HttpClient::with_timeout(Duration::from_secs(3)),
        script_client: recorder.new_client(),
        options: options.clone(),
        workloads: BTreeMap::new(),
        marks: BTreeMap::new(),
        steps: Vec::new(),
        warnings,
        deferred: Vec::new(),
        phases: Vec::new(),
    };
    let interrupted = lab.run_steps(script).await;
    let mut checks = Vec::new();
    if !interrupted {
        lab.finish(&mut checks).await;
    } else {
        lab.stop_workloads().await;
    }
    progress.cancel();
    timeline.mute();
    let history = recorder.snapshot();
    let report = lab.judge(script, &history, checks, interrupted, started_wall, started);
    let dir = options.out.join(&script.name);
    report::write(&dir, &report, &history, &timeline)?;
    if options.verbose {
        report::print_summary(&report, &dir);
    }
    if options.hold && !interrupted {
        // The final check stopped the nodes to read their logs; bring them back.
        let cluster = world.cluster();
        for id in 1..=cluster.size() {
            let _ = cluster.restart(id).await;
        }
        println!("\n--hold: the cluster stays up (control plane http://{control_address}/); Ctrl-C stops it.");
        options.stop.cancelled().await;
    }
    control_stop.cancel();
    let _ = control_task.await;
    world.cluster().shutdown().await;
    drop(world);
    recorder_task.abort();
    Ok(LabRun { report, dir })
}

fn print_header(
    script: &Script,
    options: &RunOptions,
    world: &World,
    control: std::net::SocketAddr,
) {
    println!("━━ lab {} ━━ {}", script.name, script.summary);
    if options.step_mode {
        // Classroom mode: the whole lesson first, then step by step.
        println!();
        for line in script.description.trim().lines() {
            println!("  {line}");
        }
        println!();
    }
    println!(
        "seed {} (replay with --seed {})",
        options.seed, options.seed
    );
    for view in world.cluster().nodes() {
        println!("  {}  http://{}", view.id, view.address);
    }
    println!("  dashboard + control API  http://{control}/");
    if let Some(first) = world.cluster().nodes().first() {
        println!("  try: curl -s http://{}/status | jq .raft", first.address);
    }
}

/// Prints operation counts once a second while they change.
fn spawn_progress(recorder: Recorder, verbose: bool) -> CancellationToken {
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        let mut last = 0;
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            let (ok, failed, unknown, error) = recorder.counts();
            let total = ok + failed + unknown;
            if verbose && total != last {
                let error = error
                    .map(|error| format!(", last error: {error}"))
                    .unwrap_or_default();
                println!("  ··· {total} ops: {ok} ok, {failed} failed, {unknown} unknown{error}");
                last = total;
            }
        }
    });
    stop
}

impl Lab {
    /// Runs every step; returns whether Ctrl-C interrupted the run.
    async fn run_steps(&mut self, script: &Script) -> bool {
        let total = script.steps.len();
        let mut skipping = false;
        for (index, step) in script.steps.iter().enumerate() {
            if self.options.stop.is_cancelled() {
                return true;
            }
            let brief = brief(&step.action);
            if skipping {
                self.steps.push(StepRecord::skipped(index, step, brief));
                continue;
            }
            if self.options.verbose {
                println!("\n▶ step {}/{total}: {brief}", index + 1);
                if let Some(say) = &step.say {
                    for line in textwrap(say, 76) {
                        println!("    {line}");
                    }
                }
            }
            if self.options.step_mode && !wait_for_enter(&self.options.stop).await {
                return true;
            }
            self.world.events.publish(EventKind::LabStep {
                index,
                action: brief.clone(),
                description: step.say.clone().unwrap_or_default(),
            });
            let started_ms = self.world.recorder.now_us() as f64 / 1000.0;
            let stop = self.options.stop.clone();
            let result = tokio::select! {
                result = self.execute(index, step) => result,
                _ = stop.cancelled() => Err("interrupted by Ctrl-C".to_string()),
            };
            let duration_ms = self.world.recorder.now_us() as f64 / 1000.0 - started_ms;
            let (ok, detail) = match result {
                Ok(detail) => (true, detail),
                Err(detail) => (false, detail),
            };
            if self.options.verbose {
                let mark = if ok { "ok" } else { "FAILED" };
                println!("  {mark}: {detail}");
            }
            let is_check = step.action.name().starts_with("expect")
                || matches!(
                    step.action,
                    Action::Workload(_)
                        | Action::Stop { .. }
                        | Action::Get { .. }
                        | Action::List { .. }
                );
            if !ok && !is_check {
                skipping = true;
            }
            self.steps.push(StepRecord {
                index,
                action: step.action.name(),
                brief,
                line: step.line,
                say: step.say.clone(),
                ok,
                started_ms,
                duration_ms,
                detail,
            });
            if self.options.stop.is_cancelled() {
                return true;
            }
        }
        false
    }

    async fn execute(&mut self, index: usize, step: &Step) -> Result<String, String> {
        match &step.action {
            Action::Kill { node, bind } => self.kill(node, bind.as_deref()).await,
            Action::Restart { node } => self.restart(node).await,
            Action::Pause { node, bind } => self.pause(node, bind.as_deref(), true).await,
            Action::Resume { node } => self.pause(node, None, false).await,
            Action::FullRestart {} => self.full_restart().await,
            Action::Partition { groups, bind } => self.partition(groups, bind.as_deref()),
            Action::Heal {} => {
                self.world.cluster().heal();
                Ok("network healed".into())
            }
            Action::Link {
                from,
                to,
                drop,
                delay_ms,
                jitter_ms,
                duplicate,
            } => {
                let fault = crate::transport::LinkFault {
                    drop: *drop,
                    delay_ms: *delay_ms,
                    jitter_ms: *jitter_ms,
                    duplicate: *duplicate,
                };
                self.link(from, to, fault)
            }
            Action::Transfer { to } => self.transfer(to),
            Action::ResetCluster {
                pre_vote,
                check_quorum,
            } => self.reset(*pre_vote, *check_quorum).await,
            Action::Sleep { ms } => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                Ok(format!("slept {ms} ms"))
            }
            Action::Wait { until, timeout_ms } => {
                self.wait(*until, Duration::from_millis(*timeout_ms)).await
            }
            Action::Workload(spec) => self.workload(index, spec).await,
            Action::Stop { workload } => self.stop_workload(workload).await,
            Action::Mark { name, until } => Ok(self.mark(name, *until)),
            Action::Set {
                key,
                value,
                ttl_s,
                node,
            } => {
                let value = serde_json::to_value(value).map_err(|error| error.to_string())?;
                self.script_op(OpType::Write, node, key, Some(value), *ttl_s)
                    .await
                    .map(|_| format!("set {key}"))
            }
            Action::Get {
                key,
                node,
                consistency,
                equals,
                absent,
            } => {
                self.get(key, node, *consistency, equals.as_ref(), *absent)
                    .await
            }
            Action::Delete { key, node } => self
                .script_op(OpType::Delete, node, key, None, None)
                .await
                .map(|ops| {
                    let existed = ops.iter().any(|op| op.status == 200);
                    format!("deleted {key} (existed: {existed})")
                }),
            Action::Clear { node } => self
                .script_op(OpType::Clear, node, "", None, None)
                .await
                .map(|_| "cleared".into()),
            Action::List { node, count } => self.list(node, *count).await,
            Action::ExpectConverged { timeout_ms } => {
                wait_converged(&self.world, Duration::from_millis(*timeout_ms)).await
            }
            Action::ExpectAcknowledgedWritesReadable {} => self.verify_reads().await,
            Action::ExpectElections { since, min, max } => {
                self.expect_elections(since.as_deref(), *min, *max)
            }
            Action::ExpectTermRise { since, min, max } => {
                let at_mark = self.marks[since].max_term;
                let rise = self.world.max_term().saturating_sub(at_mark);
                within(
                    "term rise",
                    rise as usize,
                    min.map(|v| v as usize),
                    max.map(|v| v as usize),
                )
                .map(|text| {
                    format!(
                        "{text} (term {at_mark} at mark {since:?}, {} now)",
                        self.world.max_term()
                    )
                })
            }
            Action::ExpectNoCommit { node, since } => self.expect_no_commit(node, since),
            Action::ExpectRole { node, role } => self.expect_role(node, role),
            Action::ExpectInterval { .. }
            | Action::ExpectLatency { .. }
            | Action::ExpectStaleReads { .. } => {
                self.deferred.push(index);
                Ok("judged at the end of the run".into())
            }
        }
    }

    async fn kill(&self, node: &str, bind: Option<&str>) -> Result<String, String> {
        let ids = self.world.resolve(node)?;
        self.world.note_fault();
        for id in &ids {
            self.world
                .cluster()
                .kill(*id)
                .await
                .map_err(|error| error.to_string())?;
        }
        if let Some(name) = bind {
            self.world.bind(name, ids.clone());
        }
        Ok(format!("killed {}", names(&ids)))
    }

    async fn restart(&self, node: &str) -> Result<String, String> {
        let ids = self.world.resolve(node)?;
        self.world.note_fault();
        for id in &ids {
            self.world
                .cluster()
                .restart(*id)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(format!("restarted {}", names(&ids)))
    }

    async fn pause(&self, node: &str, bind: Option<&str>, paused: bool) -> Result<String, String> {
        let ids = self.world.resolve(node)?;
        self.world.note_fault();
        for id in &ids {
            self.world
                .cluster()
                .set_paused(*id, paused)
                .await
                .map_err(|error| error.to_string())?;
        }
        if let Some(name) = bind {
            self.world.bind(name, ids.clone());
        }
        Ok(format!(
            "{} {}",
            if paused { "paused" } else { "resumed" },
            names(&ids)
        ))
    }

    async fn full_restart(&self) -> Result<String, String> {
        self.world.note_fault();
        let cluster = self.world.cluster();
        for id in 1..=cluster.size() {
            let _ = cluster.kill(id).await;
        }
        for id in 1..=cluster.size() {
            cluster
                .restart(id)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(format!(
            "all {} nodes killed and restarted from disk",
            cluster.size()
        ))
    }

    fn partition(&self, groups: &[Vec<String>], bind: Option<&str>) -> Result<String, String> {
        let mut resolved: Vec<BTreeSet<NodeId>> = Vec::new();
        let mut seen = BTreeSet::new();
        for group in groups {
            let mut ids = BTreeSet::new();
            for name in group {
                for id in self.world.resolve(name)? {
                    if !seen.insert(id) {
                        return Err(format!("{} is in two groups", node_name(id)));
                    }
                    ids.insert(id);
                }
            }
            resolved.push(ids);
        }
        self.world.note_fault();
        if let (Some(name), Some(first)) = (bind, resolved.first()) {
            self.world.bind(name, first.iter().copied().collect());
        }
        let text: Vec<String> = resolved
            .iter()
            .map(|group| format!("[{}]", names(&group.iter().copied().collect::<Vec<_>>())))
            .collect();
        self.world.cluster().partition(resolved);
        Ok(format!(
            "partitioned {} (the rest together)",
            text.join(" ")
        ))
    }

    fn link(
        &self,
        from: &str,
        to: &str,
        fault: crate::transport::LinkFault,
    ) -> Result<String, String> {
        let ends = |name: &str| -> Result<Vec<Option<NodeId>>, String> {
            if name == "*" {
                Ok(vec![None])
            } else {
                Ok(self.world.resolve(name)?.into_iter().map(Some).collect())
            }
        };
        self.world.note_fault();
        for from_id in ends(from)? {
            for to_id in ends(to)? {
                self.world.cluster().set_link(from_id, to_id, fault);
            }
        }
        Ok(format!(
            "{from} -> {to}: drop {}, delay {}±{} ms, duplicate {}",
            fault.drop, fault.delay_ms, fault.jitter_ms, fault.duplicate
        ))
    }

    fn transfer(&self, to: &str) -> Result<String, String> {
        let ids = self.world.resolve(to)?;
        self.world.note_fault();
        self.world
            .cluster()
            .transfer_leadership(ids[0])
            .map_err(|error| error.to_string())?;
        self.world.events.publish(EventKind::TransferRequested {
            to: node_name(ids[0]),
        });
        Ok(format!(
            "asked the leader to hand over to {}",
            node_name(ids[0])
        ))
    }

    async fn reset(
        &mut self,
        pre_vote: Option<bool>,
        check_quorum: Option<bool>,
    ) -> Result<String, String> {
        self.stop_workloads().await;
        let mut spec = self.world.spec.lock().clone();
        spec.pre_vote = pre_vote.unwrap_or(spec.pre_vote);
        spec.check_quorum = check_quorum.unwrap_or(spec.check_quorum);
        // The old cluster is about to go: judge it first, as the end of a run would.
        let closed = self.close_phase("before reset_cluster").await;
        let text = format!(
            "{closed}; fresh cluster: pre_vote = {}, check_quorum = {}",
            spec.pre_vote, spec.check_quorum
        );
        self.world.reset(spec).await?;
        Ok(text)
    }

    async fn wait(&self, until: WaitFor, timeout: Duration) -> Result<String, String> {
        let started = Instant::now();
        match until {
            WaitFor::Converged => return wait_converged(&self.world, timeout).await,
            WaitFor::Leader | WaitFor::NewLeader => {}
        }
        let above = if until == WaitFor::NewLeader {
            *self.world.term_before_fault.lock()
        } else {
            0
        };
        loop {
            if let Some((id, term)) = working_leader(&self.world.cluster().nodes()) {
                if term > above {
                    return Ok(format!(
                        "{} leads term {term} (after {:.0} ms)",
                        node_name(id),
                        started.elapsed().as_secs_f64() * 1000.0
                    ));
                }
            }
            if started.elapsed() >= timeout {
                return Err(format!(
                    "no {} within {} ms",
                    if above > 0 {
                        format!("leader above term {above}")
                    } else {
                        "leader".into()
                    },
                    timeout.as_millis()
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn workload(&mut self, index: usize, spec: &WorkloadSpec) -> Result<String, String> {
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

    async fn stop_workload(&mut self, name: &str) -> Result<String, String> {
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

    async fn stop_workloads(&mut self) {
        let names: Vec<String> = self.workloads.keys().cloned().collect();
        for name in names {
            let _ = self.stop_workload(&name).await;
        }
    }

    /// Checks a finished workload against its `expect` and `latency_max_ms`.
    /// (A client task that panicked fails it too: see `judged_with_panics`.)
    fn judge_workload(&self, name: &str, spec: &WorkloadSpec) -> Result<String, String> {
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

    fn mark(&mut self, name: &str, until: Option<IntervalEnd>) -> String {
        let cluster = self.world.cluster();
        let commit_index = cluster
            .nodes()
            .iter()
            .filter_map(|view| {
                view.status
                    .as_ref()
                    .map(|status| (view.id.clone(), status.commit_index))
            })
            .collect();
        let mark = Mark {
            name: name.to_string(),
            at_us: self.world.recorder.now_us(),
            max_term: self.world.max_term(),
            phase: self.world.timeline.phase(),
            commit_index,
            until,
        };
        let text = format!(
            "mark {name:?} at {:.3} s, term {}",
            mark.at_us as f64 / 1e6,
            mark.max_term
        );
        self.marks.insert(name.to_string(), mark);
        text
    }

    /// One script operation on each node `node` names.
    async fn script_op(
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

    async fn get(
        &self,
        key: &str,
        node: &str,
        consistency: super::script::Consistency,
        equals: Option<&toml::Value>,
        absent: bool,
    ) -> Result<String, String> {
        let op = match consistency {
            super::script::Consistency::Local => OpType::ReadLocal,
            super::script::Consistency::Linearizable => OpType::ReadLinearizable,
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

    async fn list(&self, node: &str, count: Option<usize>) -> Result<String, String> {
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

    /// Reads every key of this phase back linearizably through the leader.
    async fn verify_reads(&self) -> Result<String, String> {
        let phase = self.world.timeline.phase();
        let prefix = format!("p{phase}/");
        let history = self.world.recorder.snapshot();
        let keys: BTreeSet<String> = history
            .iter()
            .filter(|op| op.phase == phase && !op.ttl && op.op != OpType::ReadLocal)
            .filter_map(|op| op.key.as_deref()?.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let mut unread = Vec::new();
        for key in &keys {
            let mut read = false;
            for _attempt in 0..5 {
                let node = self
                    .world
                    .resolve("leader")
                    .map(|ids| ids[0])
                    .or_else(|_| self.world.live().first().copied().ok_or("no node runs"))?;
                let record = perform(
                    &self.world,
                    &self.http,
                    Request {
                        client: self.script_client,
                        source: VERIFY_SOURCE,
                        phase,
                        op: OpType::ReadLinearizable,
                        node,
                        key,
                        value: None,
                        ttl_s: None,
                    },
                )
                .await;
                if record.outcome == Outcome::Ok {
                    read = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if !read {
                unread.push(key.clone());
            }
        }
        let history = self.world.recorder.snapshot();
        let check = checks::no_acknowledged_write_lost(&history, false);
        if !unread.is_empty() {
            return Err(format!(
                "{} keys could not be read back (first: {})",
                unread.len(),
                unread[0]
            ));
        }
        if check.ok {
            Ok(check.detail)
        } else {
            Err(check.detail)
        }
    }

    fn expect_elections(
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

    fn expect_no_commit(&self, node: &str, since: &str) -> Result<String, String> {
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

    fn expect_role(&self, node: &str, role: &str) -> Result<String, String> {
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

    /// After the steps: stop workloads, undo every fault, wait for a
    /// converged cluster, read every key back and compare the logs.
    async fn finish(&mut self, checks: &mut Vec<Check>) {
        self.stop_workloads().await;
        self.close_phase("after repair").await;
        let ok = self.phases.iter().all(|phase| phase.converged.is_ok());
        let several = self.phases.len() > 1;
        let detail: Vec<String> = self
            .phases
            .iter()
            .map(|phase| {
                let text = match &phase.converged {
                    Ok(text) | Err(text) => text,
                };
                if several {
                    format!("phase {} {}: {text}", phase.phase, phase.when)
                } else {
                    format!("{}: {text}", phase.when)
                }
            })
            .collect();
        checks.push(Check::new("converged", ok, detail.join("; ")));
    }

    /// Ends the current phase: undoes every fault, waits for convergence,
    /// reads every key of the phase back, then stops the cluster and
    /// compares the nodes' logs on disk with each other and with the
    /// phase's acknowledged writes. Returns a one-line summary.
    async fn close_phase(&mut self, when: &'static str) -> String {
        let phase = self.world.timeline.phase();
        let cluster = self.world.cluster();
        cluster.heal();
        for view in cluster.nodes() {
            let id = crate::raft::parse_node_name(&view.id).expect("node names");
            match view.process {
                "paused" => {
                    let _ = cluster.set_paused(id, false).await;
                }
                "killed" => {
                    let _ = cluster.restart(id).await;
                }
                _ => {}
            }
        }
        let converged = wait_converged(&self.world, REPAIR_TIMEOUT).await;
        if self.options.verbose {
            println!(
                "\n■ phase {phase} {when}: read every key back, stop the nodes, compare their logs on disk"
            );
        }
        if let Err(detail) = self.verify_reads().await {
            self.warnings
                .push(format!("phase {phase} read-back {when}: {detail}"));
        }
        let history = self.world.recorder.snapshot();
        let acknowledged: Vec<&HistoryOp> = history
            .iter()
            .filter(|op| op.phase == phase && op.outcome == Outcome::Ok)
            .collect();
        let logs = match self.stop_and_read_logs().await {
            Ok(logs) => checks::compare_logs(&acknowledged, &logs),
            Err(error) => Err(error),
        };
        let summary = match (&converged, &logs) {
            (Ok(_), Ok(agreement)) => format!(
                "phase {phase} converged; {} acknowledged updates found in the logs, which agree on {} entries",
                agreement.found, agreement.agreed
            ),
            (Err(why), _) | (_, Err(why)) => format!("phase {phase} check failed: {why}"),
        };
        self.phases.push(PhaseVerdict {
            phase,
            when,
            converged,
            logs,
        });
        summary
    }

    /// Stops every node of the current cluster and reads each node's log
    /// from its data directory. The nodes are frozen first, so that none
    /// starts an election while the others are stopping, and their commit
    /// indices are taken then: a node publishes its commit index only after
    /// the entries are durable, so each is a safe bound of its committed log.
    async fn stop_and_read_logs(&mut self) -> Result<Vec<NodeLog>, String> {
        let cluster = self.world.cluster();
        for view in cluster.nodes() {
            if view.process == "running" {
                let id = crate::raft::parse_node_name(&view.id).expect("node names");
                let _ = cluster.set_paused(id, true).await;
            }
        }
        let commits: BTreeMap<String, u64> = cluster
            .nodes()
            .into_iter()
            .filter_map(|view| Some((view.id, view.status?.commit_index)))
            .collect();
        cluster.shutdown().await;
        let mut logs = Vec::new();
        for id in 1..=cluster.size() {
            let node = node_name(id);
            let (entries, warnings) = read_log(&cluster.node_data_dir(id))?;
            self.warnings.extend(warnings);
            logs.push(NodeLog {
                commit_index: commits.get(&node).copied().unwrap_or(0),
                node,
                entries,
            });
        }
        Ok(logs)
    }

    /// `no_acknowledged_write_lost`: the read-back of every key, and each
    /// phase's logs compared with its acknowledged writes.
    fn acknowledged_writes_kept(&self, history: &[HistoryOp]) -> Check {
        let read_back = checks::no_acknowledged_write_lost(history, true);
        let several = self.phases.len() > 1;
        let mut ok = read_back.ok;
        let mut parts = vec![read_back.detail];
        for phase in &self.phases {
            let text = match &phase.logs {
                Ok(agreement) => agreement.to_string(),
                Err(why) => {
                    ok = false;
                    format!("LOG CHECK FAILED: {why}")
                }
            };
            parts.push(if several {
                format!("phase {}: {text}", phase.phase)
            } else {
                text
            });
        }
        Check::new(read_back.name.as_str(), ok, parts.join("; "))
    }

    /// Runs the checks and assembles the report.
    fn judge(
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

    fn judge_deferred(
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
                    super::script::Consistency::Local => stale_local,
                    super::script::Consistency::Linearizable => stale_linearizable,
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

/// Waits until every live node applied what the leader committed and all
/// hold the same data and agree on the log tail they share.
pub async fn wait_converged(world: &World, timeout: Duration) -> Result<String, String> {
    let started = Instant::now();
    loop {
        let verdict = converged(world);
        match verdict {
            Ok(detail) => return Ok(detail),
            Err(detail) if started.elapsed() >= timeout => {
                return Err(format!(
                    "not converged within {} ms: {detail}",
                    timeout.as_millis()
                ))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn converged(world: &World) -> Result<String, String> {
    let cluster = world.cluster();
    let views = cluster.nodes();
    let (leader, _) = working_leader(&views).ok_or("no leader")?;
    let leader_status = cluster.handle(leader).ok_or("the leader stopped")?.status();
    let live = world.live();
    let handles: Vec<_> = live.iter().filter_map(|id| cluster.handle(*id)).collect();
    let mut tail_compared = usize::MAX;
    for handle in &handles {
        let status = handle.status();
        if status.last_applied != leader_status.commit_index {
            return Err(format!(
                "{} applied {}, the leader committed {}",
                node_name(handle.id),
                status.last_applied,
                leader_status.commit_index
            ));
        }
        let mut shared = 0;
        for (index, term) in &status.log_tail_terms {
            if let Some((_, leader_term)) = leader_status
                .log_tail_terms
                .iter()
                .find(|(i, _)| i == index)
            {
                shared += 1;
                if leader_term != term {
                    return Err(format!(
                        "{} has term {term} at index {index}, the leader {leader_term}",
                        node_name(handle.id)
                    ));
                }
            }
        }
        tail_compared = tail_compared.min(shared);
    }
    let now_ms = crate::cache::unix_now_ms();
    let leader_cache = &cluster.handle(leader).ok_or("the leader stopped")?.cache;
    let keys = leader_cache.keys(now_ms);
    for handle in &handles {
        if handle.cache.keys(now_ms).len() != keys.len() {
            return Err(format!(
                "{} holds a different number of keys",
                node_name(handle.id)
            ));
        }
        for key in &keys {
            let mine = handle.cache.get(key, now_ms).map(|value| value.value);
            let theirs = leader_cache.get(key, now_ms).map(|value| value.value);
            if mine != theirs {
                return Err(format!(
                    "{} differs from the leader on {key}",
                    node_name(handle.id)
                ));
            }
        }
    }
    // The published tail is short; the whole committed logs are compared
    // from disk by no_acknowledged_write_lost once the cluster stops.
    Ok(format!(
        "{} live nodes applied the leader's commit index {}, hold the same {} keys and agree with the leader on the terms of the last {} log entries (whole logs: see no_acknowledged_write_lost)",
        handles.len(),
        leader_status.commit_index,
        keys.len(),
        if handles.is_empty() { 0 } else { tail_compared }
    ))
}

/// The `percentile` latency in ms of every operation of `workload`, at the
/// latency its client saw whatever the outcome (a request that failed or
/// timed out kept its client waiting too), with the number of operations
/// and of acknowledged ones; `None` when the workload made none.
fn workload_latency(
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

/// Replays the write-ahead log in `dir` with the nodes' own reader, on a
/// copy of its bytes: the reader truncates a torn tail, and a check must
/// never touch the file it checks. Returns the entries and any repair the
/// reader reported (a clean stop leaves none).
fn read_log(dir: &std::path::Path) -> Result<(Vec<crate::raft::Entry>, Vec<String>), String> {
    let path = dir.join(crate::storage::LOG_FILE_NAME);
    let bytes =
        std::fs::read(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let disk = crate::storage::MemDisk::new();
    disk.set_bytes(bytes);
    let (_, recovered) = crate::storage::Wal::open(disk.open(), path.display().to_string())
        .map_err(|error| format!("cannot replay the log: {error}"))?;
    Ok((recovered.entries, recovered.warnings))
}

/// Checks a count against optional bounds.
fn within(
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

/// `kill node=leader`: the action and its fields, for one line.
pub fn brief(action: &Action) -> String {
    let value = serde_json::to_value(action).unwrap_or_default();
    let mut text = action.name().replace('_', " ");
    if let Some(fields) = value.as_object() {
        for (name, field) in fields {
            if name == "action" || field.is_null() || field == &serde_json::json!(false) {
                continue;
            }
            let shown = match field {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            text += &format!(" {name}={shown}");
        }
    }
    text
}

/// Waits for Enter on stdin; false if Ctrl-C came first.
async fn wait_for_enter(stop: &CancellationToken) -> bool {
    println!("    [press Enter to run this step]");
    let read = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    });
    tokio::select! {
        _ = read => true,
        _ = stop.cancelled() => false,
    }
}

/// Wraps text at word boundaries.
fn textwrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + word.len() + 1 > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

/// A workload whose client task panicked did not do what it was asked,
/// whatever its recorded operations say.
fn judged_with_panics(
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

    #[test]
    fn a_missing_log_file_is_an_error_and_reading_one_leaves_it_untouched() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_log(dir.path()).is_err());
        let (mut wal, _) = crate::storage::open_dir(
            dir.path(),
            crate::storage::DiskOptions {
                fsync: false,
                fsync_delay: Duration::ZERO,
            },
        )
        .unwrap();
        let entries: Vec<crate::raft::Entry> = (1..=3)
            .map(|index| crate::raft::Entry {
                index,
                term: 1,
                payload: crate::raft::Payload::Noop,
            })
            .collect();
        wal.append(None, &entries).unwrap();
        drop(wal);
        let path = dir.path().join(crate::storage::LOG_FILE_NAME);
        // A torn tail: the reader drops it from its copy, never from the file.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[7, 0, 0, 0, 1]);
        std::fs::write(&path, &bytes).unwrap();
        let (read, warnings) = read_log(dir.path()).unwrap();
        assert_eq!(read, entries);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}
