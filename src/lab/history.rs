//! The history: every client operation a lab made, with invoke and complete
//! times from one monotonic clock, the node asked and the outcome as the
//! client saw it. Written as `history.jsonl` and handed to the checkers.

use crate::check::linearizability::{OpKind, Operation, Outcome};
use crate::client::{ClientError, HttpResponse};
use parking_lot::Mutex;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// What an operation asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum OpType {
    Write,
    Delete,
    Clear,
    ReadLinearizable,
    ReadLocal,
    List,
}

impl OpType {
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Write => "write",
            OpType::Delete => "delete",
            OpType::Clear => "clear",
            OpType::ReadLinearizable => "read_linearizable",
            OpType::ReadLocal => "read_local",
            OpType::List => "list",
        }
    }
}

/// One client operation, as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryOp {
    /// Unique, in order of invocation.
    pub id: u64,
    /// At most one operation of a client is in flight.
    pub client: u64,
    /// The workload or step that issued it.
    pub source: String,
    /// Incremented by `reset_cluster`: each phase starts from an empty cache.
    pub phase: u32,
    pub op: OpType,
    pub node: String,
    /// Keys carry the phase (`p0/k3`) so phases never share a key.
    pub key: Option<String>,
    /// The value written (JSON text), for writes.
    pub value: Option<String>,
    /// What a read returned (JSON text), `None` when absent.
    pub observed: Option<String>,
    /// The write set a TTL: the checker does not model expiry.
    pub ttl: bool,
    pub invoke_us: u64,
    pub complete_us: u64,
    pub outcome: Outcome,
    /// HTTP status; 0 when no response came.
    pub status: u16,
    /// The API's error code, or the client's error.
    pub error: Option<String>,
    /// For an acknowledged write, delete or clear: the log index the node
    /// said the command was committed at (`index` of the response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The term of that log entry (`term` of the response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
}

impl HistoryOp {
    /// A write of key `p0/k` by client 1, for tests of the figures.
    #[cfg(test)]
    pub(crate) fn test_write(invoke_ms: u64, complete_ms: u64, outcome: Outcome) -> HistoryOp {
        HistoryOp {
            id: invoke_ms,
            client: 1,
            source: "writers".into(),
            phase: 0,
            op: OpType::Write,
            node: "node1".into(),
            key: Some("p0/k".into()),
            value: Some(format!("\"v{invoke_ms}\"")),
            observed: None,
            ttl: false,
            invoke_us: invoke_ms * 1000,
            complete_us: complete_ms * 1000,
            outcome,
            status: 200,
            error: None,
            index: None,
            term: None,
        }
    }

    pub fn latency_ms(&self) -> f64 {
        (self.complete_us - self.invoke_us) as f64 / 1000.0
    }

    /// The operation as the linearizability checker sees it; `None` for
    /// operations it does not judge (local reads, lists, TTL keys).
    pub fn to_checked(&self) -> Option<Operation> {
        let key = || self.key.clone().expect("keyed operation");
        let kind = match self.op {
            OpType::Write => OpKind::Set {
                key: key(),
                value: self.value.clone().unwrap_or_default(),
            },
            OpType::Delete => OpKind::Delete { key: key() },
            OpType::Clear => OpKind::Clear,
            OpType::ReadLinearizable => OpKind::Read {
                key: key(),
                observed: self.observed.clone(),
            },
            OpType::ReadLocal | OpType::List => return None,
        };
        Some(Operation {
            id: self.id,
            client: self.client,
            kind,
            invoke_us: self.invoke_us,
            complete_us: self.complete_us,
            outcome: self.outcome,
        })
    }
}

/// Classifies an HTTP exchange the way LABS.md asks: a 503 is a definite
/// failure, a 504, a timeout or a connection error leaves the outcome unknown.
pub fn classify(
    op: OpType,
    result: &Result<HttpResponse, ClientError>,
) -> (Outcome, u16, Option<String>) {
    match result {
        Ok(response) => {
            let status = response.status;
            let code = || {
                response.json()["code"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| Some(format!("http_{status}")))
            };
            match status {
                200..=299 => (Outcome::Ok, status, None),
                // A delete of an absent key and a read of one both took effect.
                404 if op != OpType::List => (Outcome::Ok, status, None),
                503 => (Outcome::Failed, status, code()),
                400..=499 => (Outcome::Failed, status, code()),
                _ => (Outcome::Unknown, status, code()),
            }
        }
        Err(ClientError::Timeout) => (Outcome::Unknown, 0, Some("timeout".into())),
        Err(ClientError::Connection(message)) => {
            let short = if message.contains("refused") {
                "connection_refused"
            } else {
                "connection_error"
            };
            (Outcome::Unknown, 0, Some(short.into()))
        }
    }
}

/// Where an acknowledged write, delete or clear sits in the log: the
/// `index` and `term` of a 2xx answer. `(None, None)` for anything else.
pub fn log_position(
    op: OpType,
    result: &Result<HttpResponse, ClientError>,
) -> (Option<u64>, Option<u64>) {
    let Ok(response) = result else {
        return (None, None);
    };
    if !matches!(op, OpType::Write | OpType::Delete | OpType::Clear)
        || !(200..=299).contains(&response.status)
    {
        return (None, None);
    }
    let body = response.json();
    match (body["index"].as_u64(), body["term"].as_u64()) {
        (Some(index), Some(term)) => (Some(index), Some(term)),
        _ => (None, None),
    }
}

/// Shared recorder of one lab run; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    epoch: Instant,
    inner: Arc<Mutex<Vec<HistoryOp>>>,
    next_client: Arc<std::sync::atomic::AtomicU64>,
}

impl Recorder {
    /// A recorder whose clock starts at `epoch` (the event bus's epoch).
    pub fn new(epoch: Instant) -> Recorder {
        Recorder {
            epoch,
            inner: Arc::default(),
            next_client: Arc::new(1.into()),
        }
    }

    /// Microseconds since the run began.
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// A fresh client id.
    pub fn new_client(&self) -> u64 {
        self.next_client
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Appends a completed operation and assigns its id.
    pub fn record(&self, mut op: HistoryOp) {
        let mut ops = self.inner.lock();
        op.id = ops.len() as u64;
        ops.push(op);
    }

    /// Every operation so far, sorted by invoke time.
    pub fn snapshot(&self) -> Vec<HistoryOp> {
        let mut ops = self.inner.lock().clone();
        ops.sort_by_key(|op| (op.invoke_us, op.id));
        for (id, op) in ops.iter_mut().enumerate() {
            op.id = id as u64;
        }
        ops
    }

    /// Operations recorded so far.
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts by outcome, for progress lines.
    pub fn counts(&self) -> (usize, usize, usize, Option<String>) {
        let ops = self.inner.lock();
        let mut counts = (0, 0, 0, None);
        for op in ops.iter() {
            match op.outcome {
                Outcome::Ok => counts.0 += 1,
                Outcome::Failed => counts.1 += 1,
                Outcome::Unknown => counts.2 += 1,
            }
            if op.error.is_some() {
                counts.3 = op.error.clone();
            }
        }
        counts
    }
}
