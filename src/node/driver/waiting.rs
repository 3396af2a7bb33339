//! Requests that wait for a leader: forwarded to the one this node knows,
//! queued while none is known, retried when one appears, and given up on
//! (as honestly as possible) when the leader they went to is replaced.

use super::*;

impl Driver {
    pub(super) fn forward(
        &mut self,
        leader: NodeId,
        wire: ForwardedRequest,
        request: Request,
        reply: Reply,
        deadline: Instant,
    ) {
        let request_id = self.next_id();
        let sent = self.transport.send(Envelope::Forward {
            from: self.config.id,
            to: leader,
            request_id,
            request: wire,
        });
        if sent {
            self.forwarded
                .insert(request_id, (leader, Waiting::new(request, reply, deadline)));
        } else {
            // The leader we know of is gone (e.g. killed): the request never
            // left, so it can safely wait here for the next leader.
            let status = self.core.status();
            self.unreachable_leader = Some((leader, status.term));
            self.queued
                .push_back(Waiting::new(request, reply, deadline));
        }
    }

    pub(super) fn on_forward_reply(
        &mut self,
        from: NodeId,
        request_id: u64,
        reply: ForwardedReply,
    ) {
        if self.forwarded.get(&request_id).map(|(to, _)| *to) != Some(from) {
            return; // unknown, already answered, or not from where it went
        }
        let (_, waiting) = self.forwarded.remove(&request_id).expect("checked above");
        match (waiting.responder, reply) {
            // The node we forwarded to was no longer leader: wait for the real one.
            (responder, ForwardedReply::Write(Err(WriteError::NoLeader)))
            | (responder, ForwardedReply::ReadIndex(Err(WriteError::NoLeader))) => self
                .queued
                .push_back(Waiting::new(waiting.request, responder, waiting.deadline)),
            (Reply::Write(Responder::Local(sender)), ForwardedReply::Write(result)) => {
                let _ = sender.send(result);
            }
            (Reply::Read(Responder::Local(sender)), ForwardedReply::ReadIndex(Ok(index))) => {
                // The leader confirmed index: serve once we have applied it too.
                self.read_waits.push((index, sender));
                self.answer_ready_reads();
            }
            (Reply::Read(Responder::Local(sender)), ForwardedReply::ReadIndex(Err(error))) => {
                let _ = sender.send(Err(error));
            }
            _ => {} // Mismatched kinds cannot happen: ids are unique per node.
        }
    }

    /// Retries queued requests once a leader is known.
    pub(super) fn drain_queue(&mut self) {
        let status = self.core.status();
        if self
            .unreachable_leader
            .is_some_and(|(leader, term)| status.leader != Some(leader) || status.term != term)
        {
            self.unreachable_leader = None;
        }
        let leader_known = status.leader.is_some()
            && (status.role == Role::Leader || status.leader != Some(self.config.id));
        if leader_known {
            self.abandon_forwards_to_old_leaders(status.leader);
        }
        let leader_reachable = self.unreachable_leader.is_none();
        if !leader_known || !leader_reachable || self.queued.is_empty() {
            return;
        }
        for waiting in std::mem::take(&mut self.queued) {
            // A request another node forwarded here is not forwarded again:
            // if this node no longer leads, it answers NoLeader (the request
            // was never proposed) and the forwarding node tries the leader.
            let may_forward = waiting.responder.is_local();
            match (waiting.request, waiting.responder) {
                (Request::Write(request), Reply::Write(responder)) => {
                    self.submit_write(request, responder, waiting.deadline, may_forward)
                }
                (Request::ReadIndex, Reply::Read(responder)) => {
                    self.submit_read(responder, waiting.deadline, may_forward)
                }
                _ => {}
            }
        }
    }

    /// A reply from a leader that has since been replaced may never come (it
    /// may be dead or cut off), so its forwards are not left to run out
    /// their deadline: a write is answered as outcome unknown at once (the
    /// old leader may have appended it, and the new one may commit it), and a
    /// read, which is safe to repeat, goes to the new leader.
    pub(super) fn abandon_forwards_to_old_leaders(&mut self, leader: Option<NodeId>) {
        if self.forwards_checked_for == leader {
            return;
        }
        self.forwards_checked_for = leader;
        let stale: Vec<u64> = self
            .forwarded
            .iter()
            .filter(|(_, (to, _))| Some(*to) != leader)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            let (_, waiting) = self.forwarded.remove(&id).expect("stale forward exists");
            match waiting.request {
                Request::Write(_) => self.fail(
                    waiting.responder,
                    WriteError::OutcomeUnknown { index: None },
                ),
                Request::ReadIndex => self.queued.push_back(waiting),
            }
        }
    }

    pub(super) fn is_unreachable(&self, leader: NodeId) -> bool {
        self.unreachable_leader == Some((leader, self.core.term()))
    }
}
