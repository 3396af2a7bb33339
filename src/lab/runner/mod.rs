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
//!
//! This file runs the steps in order; the steps live by kind in `faults`,
//! `client_steps` and `expectations`, and closing a phase in `phase_end`.

mod client_steps;
mod expectations;
mod faults;
mod phase_end;

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
use expectations::within;
use phase_end::wait_converged;
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
