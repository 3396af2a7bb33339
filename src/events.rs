//! The cluster's event stream: what the terminal prints, the dashboard's
//! Server-Sent Events carry, and the lab runner records. One bus per
//! launcher process; nodes and the control plane publish, anyone subscribes.

use serde::Serialize;
use std::time::Instant;
use tokio::sync::broadcast;

/// Events kept for slow subscribers; a subscriber further behind skips ahead.
pub const EVENT_BUFFER_LEN: usize = 4096;

/// Something that happened in the cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A node's role, term or known leader changed.
    StateChanged {
        node: String,
        role: &'static str,
        term: u64,
        leader: Option<String>,
    },
    /// A node started (or restarted) from its data directory.
    NodeStarted {
        node: String,
        recovered_entries: u64,
    },
    /// A node was killed by the control plane.
    NodeKilled {
        node: String,
    },
    /// A node stopped on its own: a storage error or a broken invariant.
    NodeFailed {
        node: String,
        reason: String,
    },
    NodePaused {
        node: String,
    },
    NodeResumed {
        node: String,
    },
    /// The network was split into groups.
    Partitioned {
        groups: Vec<Vec<String>>,
    },
    /// Every partition and link fault was removed.
    Healed,
    /// A link fault was set (`*` for any node).
    LinkChanged {
        from: String,
        to: String,
        drop: f64,
        delay_ms: u64,
        jitter_ms: u64,
        duplicate: f64,
    },
    /// Leadership transfer was requested.
    TransferRequested {
        to: String,
    },
    /// A lab step started.
    LabStep {
        index: usize,
        action: String,
        description: String,
    },
}

/// An event with the time it happened, in ms since the bus was created.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub at_ms: f64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The publish side of the event stream; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
    epoch: Instant,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    /// A bus whose timestamps count from now.
    pub fn new() -> EventBus {
        let (sender, _) = broadcast::channel(EVENT_BUFFER_LEN);
        EventBus {
            sender,
            epoch: Instant::now(),
        }
    }

    /// Publishes an event; nobody listening is fine.
    pub fn publish(&self, kind: EventKind) {
        let _ = self.sender.send(Event {
            at_ms: self.elapsed_ms(),
            kind,
        });
    }

    /// Milliseconds since the bus was created.
    pub fn elapsed_ms(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64() * 1000.0
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
