//! The in-process transport and its network controller.
//!
//! Every envelope between two nodes of one process passes through
//! [`MemoryNetwork::send`], which applies the faults in force — partitions,
//! and per-link drop probability, delay with jitter (which also reorders),
//! and duplication — using one seeded RNG, so a lab's fault dice replay from
//! its seed. A node that is killed unregisters its inbox, so traffic to it
//! vanishes as it would towards a dead host.

use super::{Envelope, Transport};
use crate::raft::NodeId;
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::mpsc;

/// Envelopes queued for one node at most; beyond this, new ones are dropped
/// (a paused or overloaded node cannot exhaust memory).
pub const MAX_QUEUED_ENVELOPES_PER_NODE: usize = 8192;

/// Faults on the messages from one node (or any, `None`) to another (or any).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkFault {
    /// Probability in [0, 1] that a message is lost.
    pub drop: f64,
    /// Fixed delay added to every message.
    pub delay_ms: u64,
    /// Extra random delay in [0, jitter_ms]; messages overtake each other.
    pub jitter_ms: u64,
    /// Probability in [0, 1] that a message is delivered twice.
    pub duplicate: f64,
}

impl LinkFault {
    /// Rejects probabilities outside [0, 1] and absurd delays.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [("drop", self.drop), ("duplicate", self.duplicate)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "{name} must be a probability between 0 and 1, got {p}"
                ));
            }
        }
        if self.delay_ms > 60_000 || self.jitter_ms > 60_000 {
            return Err("delay_ms and jitter_ms must be at most 60000".into());
        }
        Ok(())
    }

    fn is_none(&self) -> bool {
        *self == LinkFault::default()
    }
}

/// A link rule: `None` matches any node.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LinkRule {
    pub from: Option<NodeId>,
    pub to: Option<NodeId>,
    pub fault: LinkFault,
}

/// The faults in force, as shown by `/api/cluster`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NetworkFaults {
    /// Groups that can talk only among themselves; empty means no partition.
    pub partition: Vec<BTreeSet<NodeId>>,
    /// Link rules, later ones overriding earlier ones where both match.
    pub links: Vec<LinkRule>,
}

impl NetworkFaults {
    fn connected(&self, from: NodeId, to: NodeId) -> bool {
        if self.partition.is_empty() {
            return true;
        }
        let group_of = |node| {
            self.partition
                .iter()
                .position(|group| group.contains(&node))
        };
        // Nodes left out of every group form one more group together.
        group_of(from) == group_of(to)
    }

    fn link(&self, from: NodeId, to: NodeId) -> LinkFault {
        self.links
            .iter()
            .rev()
            .find(|rule| rule.from.is_none_or(|f| f == from) && rule.to.is_none_or(|t| t == to))
            .map(|rule| rule.fault)
            .unwrap_or_default()
    }
}

/// Counts of traffic, for the dashboard and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TrafficCounts {
    /// Envelopes delivered, by kind (`append`, `heartbeat`, `vote`, ...).
    pub delivered: BTreeMap<&'static str, u64>,
    /// Envelopes lost to partitions, drop faults, dead nodes or full queues.
    pub dropped: u64,
    /// Extra copies delivered by duplication faults.
    pub duplicated: u64,
}

struct State {
    inboxes: BTreeMap<NodeId, mpsc::Sender<Envelope>>,
    faults: NetworkFaults,
    rng: ChaCha8Rng,
    traffic: TrafficCounts,
}

/// The network controller of one launcher process.
pub struct MemoryNetwork {
    state: Mutex<State>,
}

impl MemoryNetwork {
    /// A fault-free network whose fault dice roll from `seed`.
    pub fn new(seed: u64) -> MemoryNetwork {
        MemoryNetwork {
            state: Mutex::new(State {
                inboxes: BTreeMap::new(),
                faults: NetworkFaults::default(),
                rng: ChaCha8Rng::seed_from_u64(seed),
                traffic: TrafficCounts::default(),
            }),
        }
    }

    /// Connects a (re)started node; returns the receiving end of its inbox.
    pub fn register(&self, node: NodeId) -> mpsc::Receiver<Envelope> {
        let (sender, receiver) = mpsc::channel(MAX_QUEUED_ENVELOPES_PER_NODE);
        self.state.lock().inboxes.insert(node, sender);
        receiver
    }

    /// Disconnects a killed node: traffic to it is lost from now on.
    pub fn unregister(&self, node: NodeId) {
        self.state.lock().inboxes.remove(&node);
    }

    /// Splits the nodes into groups that cannot reach each other.
    pub fn partition(&self, groups: Vec<BTreeSet<NodeId>>) {
        self.state.lock().faults.partition = groups;
    }

    /// Sets the fault on links from `from` to `to` (`None` = any node).
    pub fn set_link(&self, from: Option<NodeId>, to: Option<NodeId>, fault: LinkFault) {
        let mut state = self.state.lock();
        state
            .faults
            .links
            .retain(|rule| !(rule.from == from && rule.to == to));
        if !fault.is_none() || !state.faults.links.is_empty() {
            state.faults.links.push(LinkRule { from, to, fault });
        }
    }

    /// Removes every partition and link fault.
    pub fn heal(&self) {
        self.state.lock().faults = NetworkFaults::default();
    }

    /// The faults in force.
    pub fn faults(&self) -> NetworkFaults {
        self.state.lock().faults.clone()
    }

    /// Traffic so far.
    pub fn traffic(&self) -> TrafficCounts {
        self.state.lock().traffic.clone()
    }

    fn deliver(sender: &mpsc::Sender<Envelope>, envelope: Envelope) -> bool {
        sender.try_send(envelope).is_ok()
    }
}

impl Transport for MemoryNetwork {
    fn send(&self, envelope: Envelope) -> bool {
        let (from, to) = (envelope.from(), envelope.to());
        let mut state = self.state.lock();
        let Some(sender) = state.inboxes.get(&to).cloned() else {
            state.traffic.dropped += 1;
            return false; // A dead node: the sender would see "connection refused".
        };
        if !state.faults.connected(from, to) {
            state.traffic.dropped += 1;
            return true; // Lost on the way, as far as the sender can tell.
        }
        let fault = state.faults.link(from, to);
        if fault.drop > 0.0 && state.rng.random_bool(fault.drop) {
            state.traffic.dropped += 1;
            return true;
        }
        let copies = if fault.duplicate > 0.0 && state.rng.random_bool(fault.duplicate) {
            2
        } else {
            1
        };
        state.traffic.duplicated += copies - 1;
        *state.traffic.delivered.entry(envelope.kind()).or_default() += 1;
        let delays: Vec<u64> = (0..copies)
            .map(|_| {
                fault.delay_ms
                    + if fault.jitter_ms > 0 {
                        state.rng.random_range(0..=fault.jitter_ms)
                    } else {
                        0
                    }
            })
            .collect();
        drop(state);
        for delay_ms in delays {
            let copy = envelope.clone();
            if delay_ms == 0 {
                if !Self::deliver(&sender, copy) {
                    self.state.lock().traffic.dropped += 1;
                }
            } else {
                let sender = sender.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    let _ = Self::deliver(&sender, copy);
                });
            }
        }
        true
    }
}
