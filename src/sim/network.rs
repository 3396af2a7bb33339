//! The simulated network: every message in flight, with the faults in force.
//!
//! A message sent at tick `t` is delivered at `t + latency` where the latency
//! is drawn between `delay_ticks_min` and `delay_ticks_max`, so messages with
//! different draws overtake each other (reordering). It may instead be lost,
//! or delivered twice. A partition puts nodes in groups; a message between
//! groups is dropped when sent and again when due, so a partition that forms
//! while a message is in flight still cuts it. All randomness comes from the
//! simulation's one seeded RNG, so the same seed gives the same deliveries.

use crate::raft::{Message, NodeId};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// What the network does to each message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetworkFaults {
    /// Probability that a message is lost, in `[0, 1]`.
    pub loss_probability: f64,
    /// Probability that a delivered message is delivered twice.
    pub duplicate_probability: f64,
    /// Fewest ticks a message takes.
    pub delay_ticks_min: u64,
    /// Most ticks a message takes; above the minimum, messages reorder.
    pub delay_ticks_max: u64,
}

impl NetworkFaults {
    /// Every message arrives, in order, one tick after it is sent.
    pub const RELIABLE: NetworkFaults = NetworkFaults {
        loss_probability: 0.0,
        duplicate_probability: 0.0,
        delay_ticks_min: 1,
        delay_ticks_max: 1,
    };

    /// The 6.824 labs' "unreliable" network: a tenth lost, some duplicated,
    /// latencies spread enough to reorder.
    pub const UNRELIABLE: NetworkFaults = NetworkFaults {
        loss_probability: 0.1,
        duplicate_probability: 0.02,
        delay_ticks_min: 1,
        delay_ticks_max: 6,
    };
}

/// Counters of what the network did, for reports and message-count tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkCounters {
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages stepped at their destination.
    pub delivered: u64,
    /// Messages lost by chance.
    pub lost: u64,
    /// Messages cut by a partition.
    pub partitioned: u64,
    /// Messages whose destination was down when they arrived.
    pub to_dead_node: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
}

/// Why a message did not get through, for the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// In flight; will be due later.
    Queued { duplicated: bool },
    /// Lost by chance.
    Lost,
    /// Sender and receiver are in different partitions.
    Partitioned,
}

/// Messages in flight, ordered by due tick and then by send order.
#[derive(Clone, Debug)]
pub struct Network {
    /// Due tick and a sequence number (for a total, deterministic order) → message.
    in_flight: BTreeMap<(u64, u64), Message>,
    /// Next sequence number; increases with every message queued.
    next_seq: u64,
    /// Loss, duplication and delay applied to each message sent from now on.
    pub faults: NetworkFaults,
    /// Partition group of each node; nodes not listed are in group 0.
    groups: BTreeMap<NodeId, u32>,
    /// Single links cut on top of the groups, as (lower id, higher id): a
    /// partial partition, where two nodes cannot talk but both reach a third.
    cut_links: BTreeSet<(NodeId, NodeId)>,
    /// What happened to the messages so far.
    pub counters: NetworkCounters,
}

impl Network {
    /// An empty network with the given faults and no partition.
    pub fn new(faults: NetworkFaults) -> Network {
        Network {
            in_flight: BTreeMap::new(),
            next_seq: 0,
            faults,
            groups: BTreeMap::new(),
            cut_links: BTreeSet::new(),
            counters: NetworkCounters::default(),
        }
    }

    /// Whether `a` and `b` can currently talk.
    pub fn connected(&self, a: NodeId, b: NodeId) -> bool {
        let group = |node| self.groups.get(&node).copied().unwrap_or(0);
        group(a) == group(b) && !self.cut_links.contains(&(a.min(b), a.max(b)))
    }

    /// Cuts the link between `a` and `b` only.
    pub fn cut(&mut self, a: NodeId, b: NodeId) {
        self.cut_links.insert((a.min(b), a.max(b)));
    }

    /// Splits the cluster: nodes in the same group talk, others do not.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        self.groups.clear();
        for (group, members) in groups.iter().enumerate() {
            for node in members {
                self.groups.insert(*node, group as u32);
            }
        }
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.groups.clear();
        self.cut_links.clear();
    }

    /// Whether some partition is in force.
    pub fn is_partitioned(&self) -> bool {
        self.groups.values().any(|group| *group != 0) || !self.cut_links.is_empty()
    }

    /// Sends `message` at tick `now`, drawing its fate from `rng`.
    pub fn send(&mut self, message: Message, now: u64, rng: &mut ChaCha8Rng) -> Fate {
        self.counters.sent += 1;
        if !self.connected(message.from, message.to) {
            self.counters.partitioned += 1;
            return Fate::Partitioned;
        }
        if self.faults.loss_probability > 0.0 && rng.random_bool(self.faults.loss_probability) {
            self.counters.lost += 1;
            return Fate::Lost;
        }
        let duplicated = self.faults.duplicate_probability > 0.0
            && rng.random_bool(self.faults.duplicate_probability);
        if duplicated {
            self.counters.duplicated += 1;
            let due = now + self.draw_delay(rng);
            self.enqueue(due, message.clone());
        }
        let due = now + self.draw_delay(rng);
        self.enqueue(due, message);
        Fate::Queued { duplicated }
    }

    /// Puts a message back in flight, due at `due` (for a paused receiver).
    pub fn enqueue(&mut self, due: u64, message: Message) {
        self.in_flight.insert((due, self.next_seq), message);
        self.next_seq += 1;
    }

    /// Takes the next message due at or before `now`, if any.
    pub fn next_due(&mut self, now: u64) -> Option<Message> {
        let (&(due, seq), _) = self.in_flight.first_key_value()?;
        if due > now {
            return None;
        }
        self.in_flight.remove(&(due, seq))
    }

    /// Messages in flight.
    pub fn in_flight_count(&self) -> usize {
        self.in_flight.len()
    }

    fn draw_delay(&self, rng: &mut ChaCha8Rng) -> u64 {
        let (min, max) = (self.faults.delay_ticks_min, self.faults.delay_ticks_max);
        if max <= min {
            min
        } else {
            rng.random_range(min..=max)
        }
    }
}
