//! What the terminal shows while a cluster runs: leader changes and faults,
//! as they happen, one line each.

use crate::events::{Event, EventKind};
use tokio::sync::broadcast;

/// Prints the events people want to watch until the bus closes.
pub async fn print_events(mut events: broadcast::Receiver<Event>) {
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Some(line) = describe(&event.kind) {
                    println!("[{:>9.3}s] {line}", event.at_ms / 1000.0);
                }
            }
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                println!("({skipped} events skipped)")
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// A one-line description, or `None` for events too frequent to print.
pub fn describe(kind: &EventKind) -> Option<String> {
    Some(match kind {
        EventKind::StateChanged { node, role: "leader", term, .. } => format!("{node} is leader for term {term}"),
        EventKind::StateChanged { node, role: "candidate", term, .. } => {
            format!("{node} is a candidate in term {term}")
        }
        EventKind::StateChanged { .. } => return None,
        EventKind::NodeStarted { node, recovered_entries } => {
            format!("{node} started ({recovered_entries} log entries recovered)")
        }
        EventKind::NodeKilled { node } => format!("{node} killed"),
        EventKind::NodeFailed { node, reason } => format!("{node} FAILED: {reason}"),
        EventKind::NodePaused { node } => format!("{node} paused"),
        EventKind::NodeResumed { node } => format!("{node} resumed"),
        EventKind::Partitioned { groups } => format!("network partitioned: {groups:?}"),
        EventKind::Healed => "network healed".to_string(),
        EventKind::LinkChanged { from, to, drop, delay_ms, jitter_ms, duplicate } => format!(
            "link {from} -> {to}: drop {drop}, delay {delay_ms}±{jitter_ms} ms, duplicate {duplicate}"
        ),
        EventKind::TransferRequested { to } => format!("leadership transfer to {to} requested"),
        EventKind::LabStep { index, action, .. } => format!("step {index}: {action}"),
    })
}
