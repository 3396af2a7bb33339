//! The simulated cluster: nodes, network and virtual clock, and the driver
//! that carries out every `Ready` exactly as the real node driver will.
//!
//! Time advances one tick at a time ([`Cluster::tick`]): paused nodes whose
//! pause is over resume, every active node ticks, then every message due by
//! now is delivered, in due order. After each input to a node (a tick, a
//! message, a proposal, a read) its `Ready` is handled at once: persist (one
//! synced write), send, apply, answer reads — and the safety invariants are
//! checked. Nothing here reads a clock or an unseeded RNG.

use super::invariants::{self as inv, Applied, Observed, Violation};
use super::network::{Fate, Network, NetworkFaults};
use super::node::{CrashPoint, SimNode};
use super::trace::{MessageSummary, Trace, TraceEvent};
use super::workload::Workload;
use crate::cache::Command;
use crate::raft::{
    Entry, Index, InjectedBugs, Message, NodeId, NotAccepted, Payload, RaftConfig, RaftNode, Role,
    Term,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Milliseconds of cache time per tick: expiry is not exercised, but `now_ms`
/// must still move forward.
const MS_PER_TICK: u64 = 10;

/// How to build a cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Voters, numbered 1..=nodes.
    pub nodes: usize,
    /// Every node's Raft settings.
    pub raft: RaftConfig,
    /// The network's faults at the start.
    pub network: NetworkFaults,
    /// Known bugs switched on in every node (all off for real runs).
    pub bugs: InjectedBugs,
    /// Trace lines kept; the oldest are dropped first.
    pub trace_lines_max: usize,
}

impl ClusterOptions {
    /// `nodes` voters with the default Raft configuration on a reliable network.
    pub fn new(nodes: usize) -> ClusterOptions {
        ClusterOptions {
            nodes,
            raft: RaftConfig::default(),
            network: NetworkFaults::RELIABLE,
            bugs: InjectedBugs::default(),
            trace_lines_max: 200,
        }
    }
}

/// A whole cluster on a virtual clock.
pub struct Cluster {
    /// Seeds the network, the nodes' election timers and the clients.
    pub seed: u64,
    /// The current tick; starts at 0.
    pub now: u64,
    /// Events handled so far; also the clock of the client history, so that
    /// operations within one tick are still ordered.
    pub events: u64,
    /// The one source of randomness of network, nemesis and clients.
    pub rng: ChaCha8Rng,
    /// Voter ids, sorted.
    pub ids: Vec<NodeId>,
    /// How the cluster was built; restarts reuse it.
    pub options: ClusterOptions,
    /// Every voter, up or down, by id.
    pub nodes: BTreeMap<NodeId, SimNode>,
    /// Messages in flight and the faults in force.
    pub network: Network,
    /// Facts the invariants compare against.
    pub observed: Observed,
    /// The last events, for a failure report or a replay.
    pub trace: Trace,
    /// Clients and their history; `None` in scenario tests that drive by hand.
    pub workload: Option<Workload>,
    /// The first invariant violation; the cluster refuses to go on after one.
    pub violation: Option<Violation>,
}

impl Cluster {
    /// Starts every node with a blank disk.
    pub fn new(options: ClusterOptions, seed: u64) -> Cluster {
        assert!(
            options.network.delay_ticks_min >= 1,
            "messages must take at least one tick"
        );
        let ids: Vec<NodeId> = (1..=options.nodes as NodeId).collect();
        let mut cluster = Cluster {
            seed,
            now: 0,
            events: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            ids: ids.clone(),
            network: Network::new(options.network),
            nodes: ids.iter().map(|id| (*id, SimNode::new(*id))).collect(),
            trace: Trace::new(options.trace_lines_max),
            options,
            observed: Observed::default(),
            workload: None,
            violation: None,
        };
        for id in ids {
            cluster.start(id);
        }
        cluster
    }

    /// Votes a majority needs.
    pub fn quorum(&self) -> usize {
        self.ids.len() / 2 + 1
    }

    /// Cache time now.
    pub fn now_ms(&self) -> u64 {
        self.now * MS_PER_TICK
    }

    /// Records a trace line at the current tick.
    pub fn note(&mut self, node: Option<NodeId>, event: TraceEvent) {
        self.trace.record(self.now, node, event);
    }

    /// Records the first violation; later ones are consequences.
    fn fail(&mut self, violation: Violation) {
        if self.violation.is_none() {
            self.violation = Some(violation);
        }
    }

    fn check(&mut self, result: Result<(), Violation>) {
        if let Err(violation) = result {
            self.fail(violation);
        }
    }

    // ----- time -----

    /// Advances one tick: resume, tick every active node, deliver what is due,
    /// let the clients act.
    pub fn tick(&mut self) {
        self.now += 1;
        for id in self.ids.clone() {
            if self.nodes[&id]
                .paused_until
                .is_some_and(|until| until <= self.now)
            {
                self.nodes.get_mut(&id).expect("node exists").paused_until = None;
                self.note(Some(id), TraceEvent::Resume);
            }
        }
        for id in self.ids.clone() {
            if self.nodes[&id].is_active() {
                self.events += 1;
                self.nodes.get_mut(&id).expect("node exists").raft().tick();
                self.handle_ready(id);
            }
        }
        while let Some(message) = self.network.next_due(self.now) {
            self.deliver(message);
        }
        if self.workload.is_some() {
            self.clients_act();
        }
    }

    /// Runs `ticks` ticks, stopping early at a violation.
    pub fn run(&mut self, ticks: u64) {
        for _ in 0..ticks {
            if self.violation.is_some() {
                return;
            }
            self.tick();
        }
    }

    fn deliver(&mut self, message: Message) {
        let to = message.to;
        let node = &self.nodes[&to];
        if !node.is_up() {
            self.network.counters.to_dead_node += 1;
            let message = MessageSummary::of(&message);
            self.note(
                Some(to),
                TraceEvent::Drop {
                    message,
                    why: "receiver down",
                },
            );
            return;
        }
        if let Some(until) = node.paused_until {
            self.network.enqueue(until, message);
            return;
        }
        if !self.network.connected(message.from, to) {
            self.network.counters.partitioned += 1;
            let message = MessageSummary::of(&message);
            self.note(
                Some(to),
                TraceEvent::Drop {
                    message,
                    why: "partition",
                },
            );
            return;
        }
        self.network.counters.delivered += 1;
        self.events += 1;
        self.note(Some(to), TraceEvent::Deliver(MessageSummary::of(&message)));
        self.nodes
            .get_mut(&to)
            .expect("node exists")
            .raft()
            .step(message);
        self.handle_ready(to);
    }

    // ----- the driver -----

    /// Carries out `id`'s Ready: observe its role, term and commit index
    /// (election safety is checked here, before any crash point), persist,
    /// send, apply, answer reads — checking along the way the invariants
    /// that this node's change could break.
    pub fn handle_ready(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        let Some(raft) = node.raft.as_mut() else {
            return;
        };
        let ready = raft.take_ready();
        let term = raft.status().term;
        // Role, term and commit changes are visible now: record a new
        // leadership before any crash point below can cut this Ready short,
        // so that a leader crashing in its first Ready still counts.
        self.observe(id);
        let node = self.nodes.get_mut(&id).expect("node exists");
        // (1) Persist: hard state and entries, one synced write.
        let writes = ready.hard_state.is_some() || !ready.entries.is_empty();
        if writes && node.crash_armed == Some(CrashPoint::DuringWrite) {
            node.disk
                .append_until_power_loss(ready.hard_state, &ready.entries);
            self.crash_now(id, Some(CrashPoint::DuringWrite));
            return;
        }
        node.disk.append(ready.hard_state, &ready.entries);
        if let Some(first) = ready.entries.first() {
            let log = node.raft.as_ref().expect("node is up").log();
            let result = inv::check_log_matching(&mut self.observed, id, log, first.index);
            self.check(result);
        }
        let node = &self.nodes[&id];
        if writes && node.crash_armed == Some(CrashPoint::AfterSync) {
            self.crash_now(id, Some(CrashPoint::AfterSync));
            return;
        }
        // (2) Send.
        let sent = !ready.messages.is_empty();
        for message in ready.messages {
            let result = inv::check_one_vote_per_term(&mut self.observed, &message);
            self.check(result);
            self.send(message);
        }
        let node = self.nodes.get_mut(&id).expect("node exists");
        if sent && node.crash_armed == Some(CrashPoint::AfterSend) {
            self.crash_now(id, Some(CrashPoint::AfterSend));
            return;
        }
        // (3) Apply.
        for entry in ready.committed {
            self.apply(id, term, entry);
        }
        // (4) Answer reads.
        if self.workload.is_some() {
            self.clients_hear_reads(id, ready.reads, ready.failed_reads);
        }
    }

    fn send(&mut self, message: Message) {
        let summary = (self.options.trace_lines_max > 0).then(|| MessageSummary::of(&message));
        match self.network.send(message, self.now, &mut self.rng) {
            Fate::Queued { duplicated: false } => {}
            Fate::Queued { duplicated: true } => {
                let summary = summary.expect("summarized");
                self.note(Some(summary.from), TraceEvent::Duplicate(summary));
            }
            Fate::Lost | Fate::Partitioned => {
                let summary = summary.expect("summarized");
                self.note(
                    Some(summary.from),
                    TraceEvent::Drop {
                        message: summary,
                        why: "lost in the network",
                    },
                );
            }
        }
    }

    /// Applies one committed entry to `id`'s cache and checks state machine
    /// safety, leader completeness and durability of a new commit.
    fn apply(&mut self, id: NodeId, term: Term, entry: Entry) {
        let now_ms = self.now_ms();
        let node = self.nodes.get_mut(&id).expect("node exists");
        assert_eq!(
            entry.index,
            node.applied_index() + 1,
            "node{id} applies out of order"
        );
        match &entry.payload {
            Payload::Noop => node.cache.note_applied(entry.index),
            Payload::Command(bytes) => {
                let command = Command::decode(bytes).expect("committed command decodes");
                node.cache.apply(entry.index, &command, now_ms);
            }
        }
        node.applied.push(entry.clone());
        match inv::check_state_machine_safety(&mut self.observed, id, term, &entry) {
            Err(violation) => self.fail(violation),
            Ok(Applied::Known) => {}
            Ok(Applied::New) => self.check_new_commit(entry.index),
        }
        if self.workload.is_some() {
            self.clients_hear_apply(id, &entry);
        }
    }

    fn check_new_commit(&mut self, index: Index) {
        let committed = self.observed.committed[&index].clone();
        let leaders = self.nodes.values().filter_map(|node| {
            let raft = node.raft.as_ref()?;
            let status = raft.status();
            (status.role == Role::Leader).then(|| (node.id, status.term, raft.log()))
        });
        let result = inv::check_leaders_have_new_commit(&committed, leaders);
        self.check(result);
        let result =
            inv::check_committed_durable([&committed], &self.ids, self.quorum(), |node, index| {
                self.nodes[&node].disk.durable_term_at(index)
            });
        self.check(result);
    }

    /// Traces role, term and commit changes of `id` and checks election
    /// safety and the completeness of a new leader.
    fn observe(&mut self, id: NodeId) {
        let node = &self.nodes[&id];
        let Some(raft) = node.raft.as_ref() else {
            return;
        };
        let status = raft.status();
        let seen = (status.role, status.term);
        let last_commit = node.last_commit;
        if seen != node.last_seen {
            self.note(
                Some(id),
                TraceEvent::Role {
                    role: status.role,
                    term: status.term,
                },
            );
        }
        if status.commit_index != last_commit {
            self.note(
                Some(id),
                TraceEvent::Commit {
                    index: status.commit_index,
                },
            );
        }
        let node = self.nodes.get_mut(&id).expect("node exists");
        node.last_seen = seen;
        node.last_commit = status.commit_index;
        if status.role == Role::Leader {
            match inv::check_election_safety(&mut self.observed, id, status.term) {
                Err(violation) => self.fail(violation),
                Ok(false) => {}
                Ok(true) => {
                    let log = self.nodes[&id].raft.as_ref().expect("node is up").log();
                    let result =
                        inv::check_leader_has_committed(&self.observed, id, status.term, log);
                    self.check(result);
                }
            }
        }
    }

    // ----- faults -----

    /// Starts (or restarts) `id` from what its disk holds; the cache starts
    /// empty and is rebuilt by re-applying the log from index 1.
    pub fn start(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        assert!(node.raft.is_none(), "node{id} is already running");
        let recovered = node.disk.recover();
        node.incarnation += 1;
        let seed = self.seed ^ node.incarnation.wrapping_mul(0xA24B_AED4_963E_E407);
        let last_index = recovered.entries.last().map_or(0, |entry| entry.index);
        let mut raft = RaftNode::new(
            id,
            self.ids.clone(),
            self.options.raft.clone(),
            seed,
            recovered.hard_state,
            recovered.entries,
        );
        raft.inject_bugs(self.options.bugs);
        let status = raft.status();
        node.raft = Some(raft);
        node.cache = crate::cache::Cache::new();
        node.applied.clear();
        node.paused_until = None;
        node.crash_armed = None;
        node.last_seen = (status.role, status.term);
        node.last_commit = 0;
        if node.incarnation > 1 {
            self.note(
                Some(id),
                TraceEvent::Restart {
                    term: status.term,
                    voted_for: status.voted_for,
                    last_index,
                    warnings: recovered.warnings.len(),
                },
            );
            let log = self.nodes[&id].raft.as_ref().expect("node is up").log();
            let result = inv::check_log_matching(&mut self.observed, id, log, 1);
            self.check(result);
            self.check_all_committed_durable();
        }
    }

    /// Crashes `id` now, between events: memory is lost, the disk stays.
    pub fn crash(&mut self, id: NodeId) {
        if self.nodes[&id].is_up() {
            self.crash_now(id, None);
        }
    }

    /// Makes `id` crash when its next `Ready` reaches `point`.
    pub fn arm_crash(&mut self, id: NodeId, point: CrashPoint) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        if node.is_up() {
            node.crash_armed = Some(point);
        }
    }

    /// Crashes `id` at `point` of its Ready (`None`: between events). The
    /// disk loses every byte not yet synced; a crash during a write keeps a
    /// random prefix of the unsynced bytes, which may end inside a record.
    fn crash_now(&mut self, id: NodeId, point: Option<CrashPoint>) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        let tear = (point == Some(CrashPoint::DuringWrite)).then_some(&mut self.rng);
        let torn_bytes = node.disk.crash(tear);
        let point = point.map_or("between events", CrashPoint::as_str);
        node.raft = None;
        node.cache = crate::cache::Cache::new();
        node.applied.clear();
        node.paused_until = None;
        node.crash_armed = None;
        self.note(Some(id), TraceEvent::Crash { point, torn_bytes });
        if self.workload.is_some() {
            self.clients_hear_crash(id);
        }
        self.check_all_committed_durable();
    }

    fn check_all_committed_durable(&mut self) {
        let result = inv::check_committed_durable(
            self.observed.committed.values(),
            &self.ids,
            self.quorum(),
            |node, index| self.nodes[&node].disk.durable_term_at(index),
        );
        self.check(result);
    }

    /// Restarts `id` if it is down.
    pub fn restart(&mut self, id: NodeId) {
        if !self.nodes[&id].is_up() {
            self.start(id);
        }
    }

    /// Freezes `id` (a long GC pause, a stopped VM) until tick `until`.
    pub fn pause(&mut self, id: NodeId, until: u64) {
        let node = self.nodes.get_mut(&id).expect("node exists");
        if node.is_active() {
            node.paused_until = Some(until);
            self.note(Some(id), TraceEvent::Pause { until_tick: until });
        }
    }

    /// Splits the network into `groups`.
    pub fn partition(&mut self, groups: Vec<Vec<NodeId>>) {
        self.network.partition(&groups);
        self.note(None, TraceEvent::Partition(groups));
    }

    /// Cuts `id` off from every other node.
    pub fn isolate(&mut self, id: NodeId) {
        let rest = self
            .ids
            .iter()
            .copied()
            .filter(|other| *other != id)
            .collect();
        self.partition(vec![vec![id], rest]);
    }

    /// Cuts the link between `a` and `b` alone (a partial partition).
    pub fn cut(&mut self, a: NodeId, b: NodeId) {
        self.network.cut(a, b);
        self.note(None, TraceEvent::Cut(a, b));
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.network.heal();
        self.note(None, TraceEvent::Heal);
    }

    /// Changes loss, duplication and delay.
    pub fn set_network(&mut self, faults: NetworkFaults) {
        assert!(
            faults.delay_ticks_min >= 1,
            "messages must take at least one tick"
        );
        self.network.faults = faults;
        self.note(
            None,
            TraceEvent::Network {
                loss_percent: (faults.loss_probability * 100.0).round() as u32,
                duplicate_percent: (faults.duplicate_probability * 100.0).round() as u32,
                delay_ticks_max: faults.delay_ticks_max,
            },
        );
    }

    // ----- inspection and direct driving, for scenario tests -----

    /// The unique leader of the highest term among running nodes, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .filter_map(|node| {
                let status = node.raft.as_ref()?.status();
                (status.role == Role::Leader).then_some((status.term, node.id))
            })
            .max()
            .map(|(_, id)| id)
    }

    /// The leaders seen so far, by term.
    pub fn leaders_by_term(&self) -> &BTreeMap<Term, NodeId> {
        &self.observed.leaders
    }

    /// `id`'s current term, if up.
    pub fn term(&self, id: NodeId) -> Option<Term> {
        Some(self.nodes[&id].raft.as_ref()?.status().term)
    }

    /// Proposes `bytes` at `id` and handles the Ready at once.
    pub fn propose(&mut self, id: NodeId, bytes: Vec<u8>) -> Result<(Index, Term), NotAccepted> {
        let node = self.nodes.get_mut(&id).expect("node exists");
        let Some(raft) = node.raft.as_mut() else {
            return Err(NotAccepted::NotLeader { leader: None });
        };
        self.events += 1;
        let result = raft.propose(bytes);
        self.handle_ready(id);
        result
    }

    /// How many nodes have applied `index`, and what (asserting they agree).
    pub fn applied_at(&self, index: Index) -> (usize, Option<Payload>) {
        let mut count = 0;
        let mut payload = None;
        for node in self.nodes.values() {
            if let Some(entry) = node.applied.get(index as usize - 1) {
                count += 1;
                payload = Some(entry.payload.clone());
            }
        }
        (count, payload)
    }

    /// Messages sent by all nodes so far.
    pub fn messages_sent(&self) -> u64 {
        self.network.counters.sent
    }

    /// Ids of running nodes.
    pub fn up_nodes(&self) -> Vec<NodeId> {
        self.ids
            .iter()
            .copied()
            .filter(|id| self.nodes[id].is_up())
            .collect()
    }
}
