//! The event stream of a lab, recorded: every state change, fault and step,
//! each tagged with the cluster phase it belongs to. Elections, one leader
//! per term and rising terms are all read from here, so they reflect what
//! the nodes themselves said, not what the runner polled.

use crate::events::{Event, EventKind};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// A leader elected: the first `StateChanged` to leader in a term.
#[derive(Clone, Debug, Serialize)]
pub struct Election {
    pub phase: u32,
    pub term: u64,
    pub leader: String,
    pub at_ms: f64,
}

/// The recorded events of one run; cheap to clone.
#[derive(Clone, Default)]
pub struct Timeline {
    events: Arc<Mutex<Vec<(u32, Event)>>>,
    phase: Arc<AtomicU32>,
    /// Events the recorder missed because it fell behind.
    skipped: Arc<AtomicU32>,
    /// Whether events are still printed (off once the summary is due).
    printing: Arc<AtomicBool>,
}

impl Timeline {
    /// Stops printing events (the run's own output follows).
    pub fn mute(&self) {
        self.printing.store(false, Ordering::SeqCst);
    }

    /// Records every event of `receiver` until the bus closes, printing the
    /// interesting ones when `print` is set.
    pub fn record(
        &self,
        mut receiver: broadcast::Receiver<Event>,
        print: bool,
    ) -> tokio::task::JoinHandle<()> {
        let timeline = self.clone();
        timeline.printing.store(true, Ordering::SeqCst);
        tokio::spawn(async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => {
                        if print && timeline.printing.load(Ordering::SeqCst) {
                            if let Some(line) = describe(&event.kind) {
                                println!("  [{:>7.3}s] {line}", event.at_ms / 1000.0);
                            }
                        }
                        let phase = timeline.phase.load(Ordering::SeqCst);
                        timeline.events.lock().push((phase, event));
                    }
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        timeline.skipped.fetch_add(skipped as u32, Ordering::SeqCst);
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    }

    /// The current cluster phase.
    pub fn phase(&self) -> u32 {
        self.phase.load(Ordering::SeqCst)
    }

    /// Starts the next phase (a fresh cluster).
    pub fn next_phase(&self) -> u32 {
        self.phase.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Events missed by the recorder.
    pub fn skipped(&self) -> u32 {
        self.skipped.load(Ordering::SeqCst)
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<(u32, Event)> {
        self.events.lock().clone()
    }

    /// Every election, in order.
    pub fn elections(&self) -> Vec<Election> {
        let mut seen = BTreeSet::new();
        let mut elections = Vec::new();
        for (phase, event) in self.events.lock().iter() {
            if let EventKind::StateChanged {
                node,
                role: "leader",
                term,
                ..
            } = &event.kind
            {
                if seen.insert((*phase, *term, node.clone())) {
                    elections.push(Election {
                        phase: *phase,
                        term: *term,
                        leader: node.clone(),
                        at_ms: event.at_ms,
                    });
                }
            }
        }
        elections
    }

    /// The highest term any node announced in the current phase.
    pub fn max_term(&self) -> u64 {
        let phase = self.phase();
        self.events
            .lock()
            .iter()
            .filter(|(p, _)| *p == phase)
            .filter_map(|(_, event)| match &event.kind {
                EventKind::StateChanged { term, .. } => Some(*term),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Terms with more than one leader: `(phase, term, leaders)`.
    pub fn double_leaders(&self) -> Vec<(u32, u64, Vec<String>)> {
        let mut leaders: BTreeMap<(u32, u64), BTreeSet<String>> = BTreeMap::new();
        for election in self.elections() {
            leaders
                .entry((election.phase, election.term))
                .or_default()
                .insert(election.leader);
        }
        leaders
            .into_iter()
            .filter(|(_, names)| names.len() > 1)
            .map(|((phase, term), names)| (phase, term, names.into_iter().collect()))
            .collect()
    }

    /// Nodes whose announced term went down: `(phase, node, from, to)`.
    pub fn falling_terms(&self) -> Vec<(u32, String, u64, u64)> {
        let mut last: BTreeMap<(u32, String), u64> = BTreeMap::new();
        let mut falls = Vec::new();
        for (phase, event) in self.events.lock().iter() {
            if let EventKind::StateChanged { node, term, .. } = &event.kind {
                let previous = last.entry((*phase, node.clone())).or_insert(*term);
                if *term < *previous {
                    falls.push((*phase, node.clone(), *previous, *term));
                }
                *previous = (*previous).max(*term);
            }
        }
        falls
    }
}

/// What the terminal shows of an event, one line, or nothing for noise.
fn describe(kind: &EventKind) -> Option<String> {
    match kind {
        EventKind::LabStep { .. } => None,
        other => crate::cli::terminal::describe(other),
    }
}
