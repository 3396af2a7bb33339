//! The handle through which the HTTP API and the launcher talk to a running
//! node: submit writes and linearizable reads to its driver, read its cache
//! and published status without touching the driver at all.

use super::status::NodeStatus;
use crate::cache::Cache;
use crate::raft::{Index, NodeId};
use crate::transport::{WriteError, WriteReceipt, WriteRequest};
use parking_lot::RwLock;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Client requests queued for the driver at most; beyond this, clients get
/// 503 at once rather than growing an unbounded queue.
pub const MAX_QUEUED_CLIENT_REQUESTS: usize = 16_384;

/// A request from a client of this node to its driver.
pub enum ClientInput {
    /// Replicate a write; answered once it is applied (or failed).
    Write {
        request: WriteRequest,
        reply: oneshot::Sender<Result<WriteReceipt, WriteError>>,
    },
    /// Confirm leadership; answered with an index this node has now applied.
    ReadIndex {
        reply: oneshot::Sender<Result<Index, WriteError>>,
    },
    /// Hand leadership to another node.
    TransferLeadership { to: NodeId },
}

/// A cheap-to-clone handle on one running node.
#[derive(Clone)]
pub struct NodeHandle {
    /// The node's id.
    pub id: NodeId,
    pub(super) inputs: mpsc::Sender<ClientInput>,
    /// The state machine, read directly by local reads.
    pub cache: Arc<Cache>,
    pub(super) status: Arc<RwLock<NodeStatus>>,
    pub(super) paused: watch::Receiver<bool>,
}

impl NodeHandle {
    /// Replicates a write through Raft and waits for it to be applied.
    pub async fn write(&self, request: WriteRequest) -> Result<WriteReceipt, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.submit(ClientInput::Write { request, reply })?;
        // The driver stopped after taking the write: it may already be in
        // the log and be committed by the others, so a 503 would be a lie.
        answer
            .await
            .unwrap_or(Err(WriteError::OutcomeUnknown { index: None }))
    }

    /// Waits until this node's state reflects every write acknowledged
    /// before the call; returns the applied index that guarantees it.
    pub async fn read_index(&self) -> Result<Index, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.submit(ClientInput::ReadIndex { reply })?;
        answer.await.unwrap_or(Err(WriteError::Stopping))
    }

    /// Asks the node, if it leads, to hand leadership to `to`.
    pub fn transfer_leadership(&self, to: NodeId) -> Result<(), WriteError> {
        self.submit(ClientInput::TransferLeadership { to })
    }

    fn submit(&self, input: ClientInput) -> Result<(), WriteError> {
        self.inputs.try_send(input).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => WriteError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => WriteError::Stopping,
        })
    }

    /// The node's state as last published by its driver.
    pub fn status(&self) -> NodeStatus {
        self.status.read().clone()
    }

    /// Waits while the node is paused (a simulated long GC pause freezes
    /// its API too). Returns at once when it runs.
    pub async fn wait_while_paused(&self) {
        let mut paused = self.paused.clone();
        let _ = paused.wait_for(|paused| !*paused).await;
    }
}
