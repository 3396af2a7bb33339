//! Simulated clients and the history they record.
//!
//! Each client has at most one request in flight. It writes (`Set` with a
//! value no other write uses, `Delete`, rarely `Clear`) and reads, either
//! locally (any node's cache as it stands: may be stale by design, so not
//! checked) or linearizably (ReadIndex on the leader). It sends to the node
//! it believes leads, or to any node. Outcomes follow what a real client can
//! know:
//!
//! - a proposal or read refused by a non-leader is `Failed`;
//! - a proposal accepted at (index, term) is `Ok` once the node it went to
//!   applies that index with that term, `Failed` if it applies another entry
//!   there, and `Unknown` if the node crashes or the client times out first;
//! - a linearizable read is `Ok` with the value the leader's cache holds once
//!   it has applied the read's index, `Failed` if leadership was lost first,
//!   `Unknown` on a crash or a timeout.
//!
//! Times in the history are the cluster's event counter, one clock for all.

use super::cluster::Cluster;
use super::linearizability::{OpKind, Operation, Outcome};
use super::trace::TraceEvent;
use crate::cache::Command;
use crate::raft::{Entry, Index, NodeId, NotAccepted, Payload, ReadState, Term};
use rand::Rng;

/// How the clients behave.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadOptions {
    /// Concurrent clients.
    pub clients: u64,
    /// Distinct keys; few keys mean more contention, which finds more bugs.
    pub keys: u64,
    /// A client waits up to this many ticks between requests.
    pub think_ticks_max: u64,
    /// A client gives up on a request after this many ticks (outcome unknown).
    pub timeout_ticks: u64,
    /// Percent of requests that are linearizable reads.
    pub read_percent: u32,
    /// Percent of requests that are local (possibly stale) reads.
    pub local_read_percent: u32,
    /// Percent of requests that are deletes; one in ten of these is a clear.
    pub delete_percent: u32,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        WorkloadOptions {
            clients: 3,
            keys: 3,
            think_ticks_max: 8,
            timeout_ticks: 80,
            read_percent: 40,
            local_read_percent: 10,
            delete_percent: 10,
        }
    }
}

/// What a pending request waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// The proposal's entry to be applied at the node it went to.
    Commit { index: Index, term: Term },
    /// The leader to confirm read `read_id`.
    ReadConfirmed { read_id: u64 },
    /// The node to apply up to the confirmed read index.
    ReadApplied { index: Index },
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Position of the operation in the history.
    op: usize,
    node: NodeId,
    /// Tick after which the client gives up.
    deadline: u64,
    wait: Wait,
}

#[derive(Clone, Debug)]
struct Client {
    id: u64,
    pending: Option<Pending>,
    /// Tick at which the next request goes out, when idle.
    next_at: u64,
    /// The node last said to lead.
    leader_hint: Option<NodeId>,
}

/// The clients of a run and everything they did.
#[derive(Clone, Debug)]
pub struct Workload {
    /// How the clients behave.
    pub options: WorkloadOptions,
    clients: Vec<Client>,
    /// Every linearizable read and write, with its outcome; `complete_us` is
    /// final only once the operation is no longer pending.
    pub history: Vec<Operation>,
    /// When false, clients finish what is in flight but start nothing new.
    pub issuing: bool,
    /// Local reads served; not part of the checked history.
    pub local_reads: u64,
    /// Counter making every written value unique.
    next_value: u64,
}

impl Workload {
    /// Idle clients, about to start.
    pub fn new(options: WorkloadOptions) -> Workload {
        let clients = (1..=options.clients)
            .map(|id| Client {
                id,
                pending: None,
                next_at: 0,
                leader_hint: None,
            })
            .collect();
        Workload {
            options,
            clients,
            history: Vec::new(),
            issuing: true,
            local_reads: 0,
            next_value: 0,
        }
    }

    /// Whether any request is still waiting.
    pub fn has_pending(&self) -> bool {
        self.clients.iter().any(|client| client.pending.is_some())
    }

    fn complete(&mut self, client: usize, outcome: Outcome, now_us: u64) -> (u64, String, Outcome) {
        let pending = self.clients[client]
            .pending
            .take()
            .expect("pending request");
        let op = &mut self.history[pending.op];
        op.complete_us = now_us;
        op.outcome = outcome;
        (self.clients[client].id, describe(&op.kind), outcome)
    }
}

fn describe(kind: &OpKind) -> String {
    match kind {
        OpKind::Set { key, value } => format!("set {key}={value}"),
        OpKind::Delete { key } => format!("delete {key}"),
        OpKind::Clear => "clear".to_string(),
        OpKind::Read { key, observed } => format!("read {key} -> {observed:?}"),
    }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Failed => "failed",
        Outcome::Unknown => "unknown",
    }
}

impl Cluster {
    fn workload(&mut self) -> &mut Workload {
        self.workload.as_mut().expect("cluster has a workload")
    }

    fn finish_op(&mut self, client: usize, outcome: Outcome) {
        let now_us = self.events;
        let (client, op, outcome) = self.workload().complete(client, outcome, now_us);
        self.note(
            None,
            TraceEvent::Complete {
                client,
                op,
                outcome: outcome_name(outcome),
            },
        );
    }

    /// Once per tick: give up on late requests, send new ones.
    pub(super) fn clients_act(&mut self) {
        for client in 0..self.workload().clients.len() {
            let now = self.now;
            let issuing = self.workload().issuing;
            let state = &self.workload().clients[client];
            match state.pending {
                Some(pending) if pending.deadline <= now => {
                    self.finish_op(client, Outcome::Unknown);
                    let think = self.workload().options.think_ticks_max;
                    let wait = self.rng.random_range(0..=think);
                    self.workload().clients[client].next_at = now + wait;
                }
                Some(_) => {}
                None if state.next_at <= now && issuing => {
                    self.client_invoke(client);
                }
                None => {}
            }
        }
    }

    /// Picks a node for a request: the believed leader mostly, any active node otherwise.
    fn pick_node(&mut self, client: usize) -> Option<NodeId> {
        let active: Vec<NodeId> = self
            .ids
            .iter()
            .copied()
            .filter(|id| self.nodes[id].is_active())
            .collect();
        if active.is_empty() {
            return None;
        }
        let hint = self.workload().clients[client].leader_hint;
        match hint {
            Some(leader) if active.contains(&leader) && self.rng.random_bool(0.8) => Some(leader),
            _ => Some(active[self.rng.random_range(0..active.len())]),
        }
    }

    fn client_invoke(&mut self, client: usize) {
        let Some(node) = self.pick_node(client) else {
            return;
        };
        let options = self.workload().options.clone();
        let key = format!("k{}", self.rng.random_range(0..options.keys));
        let roll = self.rng.random_range(0..100u32);
        let kind = if roll < options.read_percent {
            OpKind::Read {
                key,
                observed: None,
            }
        } else if roll < options.read_percent + options.local_read_percent {
            self.local_read(node, &key);
            return;
        } else if roll < options.read_percent + options.local_read_percent + options.delete_percent
        {
            if self.rng.random_range(0..10) == 0 {
                OpKind::Clear
            } else {
                OpKind::Delete { key }
            }
        } else {
            let workload = self.workload();
            workload.next_value += 1;
            OpKind::Set {
                key,
                value: format!("v{}", workload.next_value),
            }
        };
        self.events += 1;
        let now_us = self.events;
        let workload = self.workload();
        let client_id = workload.clients[client].id;
        let op = workload.history.len();
        workload.history.push(Operation {
            id: op as u64,
            client: client_id,
            kind: kind.clone(),
            invoke_us: now_us,
            complete_us: now_us,
            outcome: Outcome::Unknown,
        });
        self.note(
            Some(node),
            TraceEvent::Invoke {
                client: client_id,
                op: describe(&kind),
            },
        );
        let deadline = self.now + options.timeout_ticks;
        let raft = self.nodes.get_mut(&node).expect("node exists").raft();
        let result = match &kind {
            OpKind::Read { .. } => {
                let read_id = op as u64;
                raft.read_index(read_id)
                    .map(|()| Wait::ReadConfirmed { read_id })
            }
            OpKind::Set { key, value } => raft
                .propose(
                    Command::Set {
                        key: key.clone(),
                        value: value.clone(),
                        expires_at_ms: None,
                    }
                    .encode(),
                )
                .map(|(index, term)| Wait::Commit { index, term }),
            OpKind::Delete { key } => raft
                .propose(Command::Delete { key: key.clone() }.encode())
                .map(|(index, term)| Wait::Commit { index, term }),
            OpKind::Clear => raft
                .propose(Command::Clear.encode())
                .map(|(index, term)| Wait::Commit { index, term }),
        };
        self.workload().clients[client].pending = Some(Pending {
            op,
            node,
            deadline,
            wait: Wait::Commit { index: 0, term: 0 },
        });
        match result {
            Ok(wait) => {
                let pending = self.workload().clients[client]
                    .pending
                    .as_mut()
                    .expect("just set");
                pending.wait = wait;
                self.handle_ready(node);
            }
            Err(refusal) => {
                let hint = match refusal {
                    NotAccepted::NotLeader { leader } => leader,
                    NotAccepted::Transferring => None,
                };
                self.workload().clients[client].leader_hint = hint;
                self.finish_op(client, Outcome::Failed);
                self.handle_ready(node);
                // Back off: with no leader known, retrying at once only fails again.
                let backoff =
                    options.think_ticks_max + self.rng.random_range(0..=options.think_ticks_max);
                self.workload().clients[client].next_at = self.now + backoff;
            }
        }
    }

    fn local_read(&mut self, node: NodeId, key: &str) {
        let now_ms = self.now_ms();
        let _ = self.nodes[&node].cache.get(key, now_ms);
        self.workload().local_reads += 1;
    }

    /// Indexes of clients waiting on `node` for which `waiting` holds.
    fn clients_waiting_on(&mut self, node: NodeId, waiting: impl Fn(Wait) -> bool) -> Vec<usize> {
        self.workload()
            .clients
            .iter()
            .enumerate()
            .filter(|(_, client)| {
                client
                    .pending
                    .is_some_and(|pending| pending.node == node && waiting(pending.wait))
            })
            .map(|(position, _)| position)
            .collect()
    }

    fn after_completion(&mut self, client: usize) {
        let think = self.workload().options.think_ticks_max;
        let wait = self.rng.random_range(0..=think);
        self.workload().clients[client].next_at = self.now + wait;
    }

    /// `node` applied `entry`: writes waiting on it learn their outcome,
    /// reads waiting for it are served.
    pub(super) fn clients_hear_apply(&mut self, node: NodeId, entry: &Entry) {
        let index = entry.index;
        for client in self.clients_waiting_on(
            node,
            |wait| matches!(wait, Wait::Commit { index: at, .. } if at == index),
        ) {
            let pending = self.workload().clients[client].pending.expect("pending");
            let Wait::Commit { term, .. } = pending.wait else {
                unreachable!("filtered on commit waits");
            };
            let outcome = if entry.term == term && matches!(entry.payload, Payload::Command(_)) {
                Outcome::Ok
            } else {
                Outcome::Failed
            };
            self.finish_op(client, outcome);
            self.after_completion(client);
        }
        for client in self.clients_waiting_on(
            node,
            |wait| matches!(wait, Wait::ReadApplied { index: at } if at <= index),
        ) {
            self.serve_read(client, node);
        }
    }

    /// `node`'s Ready confirmed or failed some reads.
    pub(super) fn clients_hear_reads(
        &mut self,
        node: NodeId,
        reads: Vec<ReadState>,
        failed: Vec<u64>,
    ) {
        for read in reads {
            let read_id = read.id;
            for client in
                self.clients_waiting_on(node, |wait| wait == Wait::ReadConfirmed { read_id })
            {
                if self.nodes[&node].applied_index() >= read.index {
                    self.serve_read(client, node);
                } else {
                    let pending = self.workload().clients[client]
                        .pending
                        .as_mut()
                        .expect("pending");
                    pending.wait = Wait::ReadApplied { index: read.index };
                }
            }
        }
        for read_id in failed {
            for client in
                self.clients_waiting_on(node, |wait| wait == Wait::ReadConfirmed { read_id })
            {
                self.finish_op(client, Outcome::Failed);
                self.after_completion(client);
            }
        }
    }

    fn serve_read(&mut self, client: usize, node: NodeId) {
        let now_ms = self.now_ms();
        let pending = self.workload().clients[client].pending.expect("pending");
        let OpKind::Read { key, .. } = self.workload().history[pending.op].kind.clone() else {
            unreachable!("only reads wait for a read index");
        };
        let observed = self.nodes[&node]
            .cache
            .get(&key, now_ms)
            .map(|value| value.value.to_string());
        self.workload().history[pending.op].kind = OpKind::Read { key, observed };
        self.finish_op(client, Outcome::Ok);
        self.after_completion(client);
    }

    /// `node` crashed: whatever its clients were waiting for is unknown.
    pub(super) fn clients_hear_crash(&mut self, node: NodeId) {
        for client in self.clients_waiting_on(node, |_| true) {
            self.finish_op(client, Outcome::Unknown);
            self.after_completion(client);
        }
    }

    /// Ends the run for the clients: every request still in flight is unknown.
    pub fn clients_give_up(&mut self) {
        for client in 0..self.workload().clients.len() {
            if self.workload().clients[client].pending.is_some() {
                self.finish_op(client, Outcome::Unknown);
            }
        }
    }
}
