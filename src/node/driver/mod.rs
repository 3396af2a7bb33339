//! The node driver: one tokio task per node that owns the Raft core, the
//! write-ahead log and the state machine, and carries out the core's `Ready`
//! batches — persist (one fsync for the whole batch), send, apply, answer.
//!
//! Batching falls out of the loop's shape: the driver waits for any input,
//! then drains everything else already queued before asking the core for its
//! effects, so writes that arrive while an fsync runs share the next one
//! (group commit) and the next AppendEntries.
//!
//! Clients wait in three places: writes appended to the log wait for their
//! index to be applied (`writes`); requests that arrived with no leader
//! known wait for one (`queued`); requests sent on to the leader wait for
//! its reply (`forwarded`). Every wait has a deadline, so no client hangs.
//! The last two, and how they end when the leader changes, are in `waiting`.

mod waiting;

use super::commands::{decide, effect_of};
use super::config::NodeConfig;
use super::handle::ClientInput;
use super::requests::{
    respond, AppendedWrite, PendingRead, Reply, Request, Responder, SeenForwards, Waiting,
};
use super::status::NodeStatus;
use crate::cache::{unix_now_ms, Cache, Command};
use crate::events::{EventBus, EventKind};
use crate::raft::{node_name, Entry, Index, NodeId, Payload, RaftNode, Ready, Role, Term};
use crate::storage::{DiskFile, Wal};
use crate::transport::{
    Envelope, ForwardedReply, ForwardedRequest, Transport, WriteError, WriteReceipt, WriteRequest,
};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Inputs handled per batch at most, so ticks are never starved.
pub const MAX_INPUTS_PER_BATCH: usize = 4096;
/// Log entries shown in the published status's tail.
const LOG_TAIL_LEN: usize = 24;
/// Expired keys are purged this often.
const PURGE_INTERVAL_MS: u64 = 1000;
/// A forward is remembered for this many request timeouts after its first
/// copy arrived; copies of one envelope arrive within the network's jitter.
const SEEN_FORWARD_TIMEOUTS: u32 = 4;

/// The driver's state. Lives inside the node task; dropped when it is killed.
pub struct Driver {
    config: NodeConfig,
    core: RaftNode,
    wal: Arc<Mutex<Wal<DiskFile>>>,
    cache: Arc<Cache>,
    transport: Arc<dyn Transport>,
    events: EventBus,
    status: Arc<RwLock<NodeStatus>>,
    writes: BTreeMap<Index, AppendedWrite>,
    queued: VecDeque<Waiting>,
    /// Requests forwarded to a leader, by request id, with that leader.
    forwarded: BTreeMap<u64, (NodeId, Waiting)>,
    /// Forwards from other nodes already taken, to drop duplicates.
    seen_forwards: SeenForwards,
    /// The leader the forwards were last checked against: they are scanned
    /// again only when the known leader changes, not on every step.
    forwards_checked_for: Option<NodeId>,
    /// ReadIndex requests given to the core, by read id.
    reads: BTreeMap<u64, PendingRead>,
    /// Confirmed reads waiting for this node to apply up to their index.
    read_waits: Vec<(Index, oneshot::Sender<Result<Index, WriteError>>)>,
    next_request_id: u64,
    /// The leader (and its term) a forward just failed to reach: requests
    /// wait for a new leader instead of bouncing off this one.
    unreachable_leader: Option<(NodeId, Term)>,
    last_purge_ms: u64,
    published: (Role, Term, Option<NodeId>),
}

impl Driver {
    /// Builds a driver from recovered storage; the core starts as a follower.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: NodeConfig,
        core: RaftNode,
        wal: Wal<DiskFile>,
        cache: Arc<Cache>,
        transport: Arc<dyn Transport>,
        events: EventBus,
        status: Arc<RwLock<NodeStatus>>,
    ) -> Driver {
        let seen_forwards = SeenForwards::new(config.request_timeout * SEEN_FORWARD_TIMEOUTS);
        Driver {
            config,
            seen_forwards,
            forwards_checked_for: None,
            core,
            wal: Arc::new(Mutex::new(wal)),
            cache,
            transport,
            events,
            status,
            writes: BTreeMap::new(),
            queued: VecDeque::new(),
            forwarded: BTreeMap::new(),
            reads: BTreeMap::new(),
            read_waits: Vec::new(),
            // Random, so that a reply meant for a request of this node's
            // previous life cannot match one of this life.
            next_request_id: rand::random::<u64>() >> 1,
            unreachable_leader: None,
            last_purge_ms: 0,
            published: (Role::Follower, 0, None),
        }
    }

    /// Runs until `stop` is cancelled or storage fails. A paused node
    /// handles nothing, not even ticks, until resumed.
    pub async fn run(
        mut self,
        mut network: mpsc::Receiver<Envelope>,
        mut clients: mpsc::Receiver<ClientInput>,
        mut paused: watch::Receiver<bool>,
        stop: CancellationToken,
    ) {
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        self.publish_status();
        loop {
            if *paused.borrow() {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = paused.wait_for(|paused| !*paused) => { ticker.reset(); continue; }
                }
            }
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = ticker.tick() => self.on_tick(),
                Some(envelope) = network.recv() => self.on_envelope(envelope),
                Some(input) = clients.recv() => self.on_client(input),
                _ = paused.changed() => continue,
            }
            for _ in 0..MAX_INPUTS_PER_BATCH {
                match network.try_recv() {
                    Ok(envelope) => self.on_envelope(envelope),
                    Err(_) => break,
                }
            }
            for _ in 0..MAX_INPUTS_PER_BATCH {
                match clients.try_recv() {
                    Ok(input) => self.on_client(input),
                    Err(_) => break,
                }
            }
            if let Err(reason) = self.process_ready().await {
                self.events.publish(EventKind::NodeFailed {
                    node: node_name(self.config.id),
                    reason: reason.clone(),
                });
                tracing::error!(node = %node_name(self.config.id), "node stopped: {reason}");
                return;
            }
        }
    }

    fn on_tick(&mut self) {
        self.core.tick();
        self.expire_deadlines(Instant::now());
        let now_ms = unix_now_ms();
        if now_ms.saturating_sub(self.last_purge_ms) >= PURGE_INTERVAL_MS {
            self.last_purge_ms = now_ms;
            self.cache.purge_expired(now_ms);
        }
    }

    fn on_envelope(&mut self, envelope: Envelope) {
        match envelope {
            Envelope::Raft(message) => self.core.step(message),
            Envelope::Forward {
                from,
                request_id,
                request,
                ..
            } => {
                if !self
                    .seen_forwards
                    .first_time(from, request_id, Instant::now())
                {
                    return; // a duplicate: the first copy is answered
                }
                let deadline = Instant::now() + self.config.request_timeout.mul_f64(0.75);
                match request {
                    ForwardedRequest::Write(write) => {
                        let responder = Responder::Remote {
                            node: from,
                            request_id,
                        };
                        self.submit_write(write, responder, deadline, false);
                    }
                    ForwardedRequest::ReadIndex => {
                        let responder = Responder::Remote {
                            node: from,
                            request_id,
                        };
                        self.submit_read(responder, deadline, false);
                    }
                }
            }
            Envelope::ForwardReply {
                from,
                request_id,
                reply,
                ..
            } => self.on_forward_reply(from, request_id, reply),
        }
    }

    fn on_client(&mut self, input: ClientInput) {
        let deadline = Instant::now() + self.config.request_timeout;
        match input {
            ClientInput::Write { request, reply } => {
                self.submit_write(request, Responder::Local(reply), deadline, true)
            }
            ClientInput::ReadIndex { reply } => {
                self.submit_read(Responder::Local(reply), deadline, true)
            }
            ClientInput::TransferLeadership { to } => {
                if self.core.transfer_leadership(to).is_ok() {
                    self.events
                        .publish(EventKind::TransferRequested { to: node_name(to) });
                }
            }
        }
    }

    /// Proposes on the leader, forwards to a known leader, or waits for one.
    /// Only requests from this node's own clients are forwarded: one hop at most.
    fn submit_write(
        &mut self,
        request: WriteRequest,
        responder: Responder<WriteReceipt>,
        deadline: Instant,
        may_forward: bool,
    ) {
        match self.core.role() {
            Role::Leader => {
                if !self.core.has_quorum_contact() {
                    let error = WriteError::NoQuorum {
                        reachable: self.core.reachable_voters(),
                        cluster: self.core.cluster_size(),
                    };
                    return respond(
                        &*self.transport,
                        self.config.id,
                        responder,
                        Err(error),
                        Reply::write_wrap,
                    );
                }
                let command = decide(&request, unix_now_ms());
                match self.core.propose(command.encode()) {
                    Ok((index, term)) => {
                        self.writes.insert(
                            index,
                            AppendedWrite {
                                term,
                                responder,
                                deadline,
                            },
                        );
                    }
                    Err(_) => self.queued.push_back(Waiting::new(
                        Request::Write(request),
                        Reply::Write(responder),
                        deadline,
                    )),
                }
            }
            _ => match (self.core.leader(), may_forward, responder) {
                (Some(leader), true, responder)
                    if leader != self.config.id && !self.is_unreachable(leader) =>
                {
                    self.forward(
                        leader,
                        ForwardedRequest::Write(request.clone()),
                        Request::Write(request),
                        Reply::Write(responder),
                        deadline,
                    );
                }
                (_, true, responder) => self.queued.push_back(Waiting::new(
                    Request::Write(request),
                    Reply::Write(responder),
                    deadline,
                )),
                (_, false, responder) => respond(
                    &*self.transport,
                    self.config.id,
                    responder,
                    Err(WriteError::NoLeader),
                    Reply::write_wrap,
                ),
            },
        }
    }

    /// Starts a ReadIndex round on the leader, or forwards, or waits.
    fn submit_read(&mut self, responder: Responder<Index>, deadline: Instant, may_forward: bool) {
        let status = self.core.status();
        if status.role == Role::Leader {
            let id = self.next_id();
            match self.core.read_index(id) {
                Ok(()) => {
                    self.reads.insert(
                        id,
                        PendingRead {
                            responder,
                            deadline,
                        },
                    );
                }
                Err(_) => self.queued.push_back(Waiting::new(
                    Request::ReadIndex,
                    Reply::Read(responder),
                    deadline,
                )),
            }
            return;
        }
        match (status.leader, may_forward) {
            (Some(leader), true) if leader != self.config.id && !self.is_unreachable(leader) => {
                self.forward(
                    leader,
                    ForwardedRequest::ReadIndex,
                    Request::ReadIndex,
                    Reply::Read(responder),
                    deadline,
                )
            }
            (_, true) => self.queued.push_back(Waiting::new(
                Request::ReadIndex,
                Reply::Read(responder),
                deadline,
            )),
            (_, false) => respond(
                &*self.transport,
                self.config.id,
                responder,
                Err(WriteError::NoLeader),
                Reply::read_wrap,
            ),
        }
    }

    /// Answers every request whose deadline passed, saying as precisely as
    /// possible what happened to it.
    fn expire_deadlines(&mut self, now: Instant) {
        let expired: Vec<Index> = self
            .writes
            .iter()
            .filter(|(_, write)| write.deadline <= now)
            .map(|(index, _)| *index)
            .collect();
        for index in expired {
            let write = self.writes.remove(&index).expect("expired write exists");
            let error = WriteError::OutcomeUnknown { index: Some(index) };
            respond(
                &*self.transport,
                self.config.id,
                write.responder,
                Err(error),
                Reply::write_wrap,
            );
        }
        let no_leader = self.no_leader_error();
        let (expired_queue, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queued)
            .into_iter()
            .partition(|waiting| waiting.deadline <= now);
        self.queued = kept.into();
        for waiting in expired_queue {
            self.fail(waiting.responder, no_leader.clone());
        }
        let expired: Vec<u64> = self
            .forwarded
            .iter()
            .filter(|(_, (_, waiting))| waiting.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let (_, waiting) = self.forwarded.remove(&id).expect("expired forward exists");
            let error = match waiting.request {
                // The leader may have applied it: we cannot tell.
                Request::Write(_) => WriteError::OutcomeUnknown { index: None },
                Request::ReadIndex => no_leader.clone(),
            };
            self.fail(waiting.responder, error);
        }
        let expired: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, read)| read.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let read = self.reads.remove(&id).expect("expired read exists");
            respond(
                &*self.transport,
                self.config.id,
                read.responder,
                Err(no_leader.clone()),
                Reply::read_wrap,
            );
        }
    }

    fn no_leader_error(&self) -> WriteError {
        if self.core.role() == Role::Leader {
            WriteError::NoQuorum {
                reachable: self.core.reachable_voters(),
                cluster: self.core.cluster_size(),
            }
        } else {
            WriteError::NoLeader
        }
    }

    fn fail(&self, reply: Reply, error: WriteError) {
        match reply {
            Reply::Write(responder) => respond(
                &*self.transport,
                self.config.id,
                responder,
                Err(error),
                Reply::write_wrap,
            ),
            Reply::Read(responder) => respond(
                &*self.transport,
                self.config.id,
                responder,
                Err(error),
                Reply::read_wrap,
            ),
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_request_id += 1;
        self.next_request_id
    }

    /// Carries out the core's effects: persist, send, apply, answer.
    async fn process_ready(&mut self) -> Result<(), String> {
        self.drain_queue();
        if !self.core.has_ready() {
            self.publish_status();
            return Ok(());
        }
        let Ready {
            hard_state,
            entries,
            messages,
            committed,
            reads,
            failed_reads,
        } = self.core.take_ready();
        if hard_state.is_some() || !entries.is_empty() {
            let wal = self.wal.clone();
            let persisted =
                tokio::task::spawn_blocking(move || wal.lock().append(hard_state, &entries)).await;
            match persisted {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(format!("storage failed: {error}")),
                Err(join_error) => return Err(format!("storage task failed: {join_error}")),
            }
        }
        for message in messages {
            self.transport.send(Envelope::Raft(message));
        }
        for entry in committed {
            self.apply(entry)?;
        }
        for read in reads {
            if let Some(waiting) = self.reads.remove(&read.id) {
                match waiting.responder {
                    Responder::Local(sender) => self.read_waits.push((read.index, sender)),
                    responder => respond(
                        &*self.transport,
                        self.config.id,
                        responder,
                        Ok(read.index),
                        Reply::read_wrap,
                    ),
                }
            }
        }
        for id in failed_reads {
            if let Some(waiting) = self.reads.remove(&id) {
                self.queued.push_back(Waiting::new(
                    Request::ReadIndex,
                    Reply::Read(waiting.responder),
                    waiting.deadline,
                ));
            }
        }
        self.answer_ready_reads();
        self.publish_status();
        Ok(())
    }

    /// Applies one committed entry and answers the client waiting for it.
    fn apply(&mut self, entry: Entry) -> Result<(), String> {
        let Entry {
            index,
            term,
            payload,
        } = entry;
        let effect = match payload {
            Payload::Noop => {
                self.cache.note_applied(index);
                None
            }
            Payload::Command(bytes) => {
                let command = Command::decode(&bytes).map_err(|error| {
                    format!("committed entry {index} cannot be decoded: {error}")
                })?;
                let outcome = self.cache.apply(index, &command, unix_now_ms());
                Some(effect_of(&command, outcome))
            }
        };
        if let Some(write) = self.writes.remove(&index) {
            let result = match effect {
                Some(effect) if write.term == term => Ok(WriteReceipt {
                    index,
                    term,
                    leader: self.config.id,
                    effect,
                }),
                // Another leader's entry took this slot: ours was never applied.
                _ => Err(WriteError::Dropped),
            };
            respond(
                &*self.transport,
                self.config.id,
                write.responder,
                result,
                Reply::write_wrap,
            );
        }
        Ok(())
    }

    fn answer_ready_reads(&mut self) {
        let applied = self.cache.applied_index();
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.read_waits)
            .into_iter()
            .partition(|(index, sender)| *index <= applied || sender.is_closed());
        self.read_waits = waiting;
        for (_, sender) in ready {
            let _ = sender.send(Ok(applied));
        }
    }

    /// Publishes the status for readers and announces role/term/leader changes.
    fn publish_status(&mut self) {
        let status = self.core.status();
        let current = (status.role, status.term, status.leader);
        if current != self.published {
            self.published = current;
            self.events.publish(EventKind::StateChanged {
                node: node_name(self.config.id),
                role: status.role.as_str(),
                term: status.term,
                leader: status.leader.map(node_name),
            });
        }
        let log = self.core.log();
        let tail_start = log.last_index().saturating_sub(LOG_TAIL_LEN as u64) + 1;
        let log_tail_terms = (tail_start..=log.last_index())
            .filter_map(|i| log.term_at(i).map(|t| (i, t)))
            .collect();
        let published = NodeStatus {
            id: self.config.id,
            role: status.role,
            term: status.term,
            leader: status.leader,
            voted_for: status.voted_for,
            commit_index: status.commit_index,
            last_applied: self.cache.applied_index(),
            last_log_index: status.last_log_index,
            last_log_term: status.last_log_term,
            log_tail_terms,
            progress: status.progress,
            counters: self.core.counters(),
            wal_bytes: self.wal.lock().size_bytes(),
            pending_writes: self.writes.len() + self.queued.len() + self.forwarded.len(),
        };
        *self.status.write() = published;
    }
}
