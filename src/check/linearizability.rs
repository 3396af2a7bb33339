//! Linearizability of a client history against a key-value model.
//!
//! A history is linearizable if every operation can be given a single instant
//! between its call and its return such that, taken in the order of those
//! instants, the operations behave like a sequential key-value map (Herlihy &
//! Wing, 1990). Linearizability is local (their Theorem 1): a history is
//! linearizable if and only if each object's sub-history is. Each key is an
//! independent register, so [`check`] partitions the history by key and
//! searches each key on its own; the searches stay small even when the whole
//! run is long.
//!
//! The per-key search lives in the `search` submodule; this file turns client operations
//! into register operations, and, when a key fails, shrinks its history to a
//! small witness a person can read.
//!
//! Outcomes are handled as Jepsen's Knossos handles them:
//!
//! - `Failed` operations definitely did not take effect and are dropped.
//! - `Unknown` writes may have taken effect at any time after their call, or
//!   never: their return is at +infinity, and a write linearized after every
//!   other operation changes nothing observed, so they are optional.
//! - Reads with any outcome but `Ok` observed nothing and are dropped.
//!
//! Unknown writes are what makes a search blow up, so three exact (not
//! heuristic) reductions apply to them. One whose value no read observed is
//! dropped: linearizing it can only hide a value nobody saw. One that is the
//! only writer of a value some read observed must precede that read, so its
//! return moves to the earliest such read's return and it becomes mandatory.
//! The rest (deletes, clears, repeated values) float: the search places them
//! only right before a read that needs their value.
//!
//! Cost: with the reductions, a linearizable 60-second run (50,000 operations,
//! 8 clients, 100 keys) checks in a fraction of a second. A violation costs
//! more, because the search must exhaust every configuration before the bad
//! read, and the witness is shrunk by repeated searches; that is seconds for
//! a key with thousands of concurrent operations, and grows with how many
//! operations on one key overlap in time.
//!
//! Left out: `Clear` is atomic across all keys, which a per-key check cannot
//! see. It appears in every key's sub-history as a delete, so the check is a
//! necessary condition for the multi-key clear, not a sufficient one: a clear
//! that emptied one key before and another key after some concurrent write
//! would pass. Every history is assumed to start from an empty cache, and TTL
//! expiry is not modelled (a lab that lets keys expire must not check them).

mod search;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use search::{Access, RegisterOp, ValueId, ABSENT, NEVER_US};

/// One client operation as the workload recorded it.
///
/// Times come from one monotonic clock shared by all clients of a run, so
/// intervals of different clients can be compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Unique within a history; lets a witness point back into `history.jsonl`.
    pub id: u64,
    /// The client that issued it; a client has at most one operation in flight.
    pub client: u64,
    /// What was asked, and for reads what was seen.
    pub kind: OpKind,
    /// When the request was sent, in microseconds since the run began.
    pub invoke_us: u64,
    /// When the response arrived or the client gave up; `>= invoke_us`.
    pub complete_us: u64,
    /// Whether the operation took effect, as far as the client can tell.
    pub outcome: Outcome,
}

/// The operations of the cache's model, as seen by the checker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Makes `key` hold `value`.
    Set {
        /// The key written.
        key: String,
        /// The value written; unique per set in practice, which only helps
        /// the checker produce smaller witnesses.
        value: String,
    },
    /// Makes `key` absent.
    Delete {
        /// The key removed.
        key: String,
    },
    /// Makes every key absent at once.
    Clear,
    /// Observes `key`.
    Read {
        /// The key read.
        key: String,
        /// What the read returned; `None` when the key was absent.
        observed: Option<String>,
    },
}

/// What the client learned about whether its operation took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Acknowledged: it took effect between invoke and completion.
    Ok,
    /// Definitely did not take effect (e.g. rejected before proposing).
    Failed,
    /// May or may not have taken effect, at any time after invoke (e.g. a
    /// timeout after the request reached a leader).
    Unknown,
}

/// The checker's judgement of a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every key's sub-history has a linearization.
    Linearizable {
        /// Keys checked, each independently.
        keys: usize,
        /// Operations that constrained the check: failed operations and
        /// reads without an `Ok` outcome are not counted; a clear counts once.
        operations: usize,
    },
    /// Some key has no linearization; the first such key in key order.
    Violation {
        /// The key whose sub-history cannot be linearized.
        key: String,
        /// A minimal witness: a subset of the key's operations, sorted by
        /// invoke time, that still cannot be linearized. Every read in it is
        /// needed, and no write in it wrote a value the witness's reads saw
        /// unless that write is needed too.
        operations: Vec<Operation>,
        /// Why the witness cannot be linearized, in words.
        explanation: String,
    },
}

impl Verdict {
    /// Lets a report turn the verdict into a pass/fail check without a match.
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable { .. })
    }
}

/// Checks `history` for linearizability against a key-value map that starts
/// empty, and on failure returns a minimal witness for the first failing key.
///
/// # Panics
///
/// If an operation completes before it is invoked: the recorder reads one
/// monotonic clock, so that is a bug in the recorder, not an event to judge.
pub fn check(history: &[Operation]) -> Verdict {
    let keys = partition(history);
    let operations = history.iter().filter(|op| constrains(op)).count();
    for (key, ops) in &keys {
        if is_linearizable(ops) {
            continue;
        }
        let witness = minimize(ops.clone());
        let explanation = explain(key, &witness, history);
        let mut operations: Vec<Operation> = witness
            .iter()
            .map(|op| history[op.source].clone())
            .collect();
        operations.sort_by_key(|op| (op.invoke_us, op.id));
        return Verdict::Violation {
            key: (*key).to_string(),
            operations,
            explanation,
        };
    }
    Verdict::Linearizable {
        keys: keys.len(),
        operations,
    }
}

/// One operation in a single key's sub-history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeyOp<'a> {
    /// Index of the operation in the checked history.
    source: usize,
    /// Copied from the operation.
    invoke_us: u64,
    /// `None` when the outcome is unknown (only ever for a write).
    complete_us: Option<u64>,
    /// What the operation does to this key; `None` means absent.
    access: KeyAccess<'a>,
}

/// A register access with its value still as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyAccess<'a> {
    Write(Option<&'a str>),
    Read(Option<&'a str>),
}

/// Whether an operation can affect the verdict at all.
fn constrains(op: &Operation) -> bool {
    match (&op.kind, op.outcome) {
        (_, Outcome::Failed) => false,
        (OpKind::Read { .. }, outcome) => outcome == Outcome::Ok,
        _ => true,
    }
}

/// Splits the history into per-key sub-histories, keyed in order so the
/// reported key is deterministic. A clear joins every key's sub-history.
fn partition(history: &[Operation]) -> BTreeMap<&str, Vec<KeyOp<'_>>> {
    let mut keys: BTreeMap<&str, Vec<KeyOp<'_>>> = BTreeMap::new();
    let mut clears = Vec::new();
    for (source, op) in history.iter().enumerate() {
        if !constrains(op) {
            continue;
        }
        let complete_us = (op.outcome == Outcome::Ok).then_some(op.complete_us);
        let key_op = |access| KeyOp {
            source,
            invoke_us: op.invoke_us,
            complete_us,
            access,
        };
        let (key, access) = match &op.kind {
            OpKind::Set { key, value } => (key, KeyAccess::Write(Some(value.as_str()))),
            OpKind::Delete { key } => (key, KeyAccess::Write(None)),
            OpKind::Read { key, observed } => (key, KeyAccess::Read(observed.as_deref())),
            OpKind::Clear => {
                clears.push(key_op(KeyAccess::Write(None)));
                continue;
            }
        };
        keys.entry(key.as_str()).or_default().push(key_op(access));
    }
    for ops in keys.values_mut() {
        ops.extend_from_slice(&clears);
        ops.sort_by_key(|op| (op.invoke_us, op.source));
    }
    keys
}

/// Whether one key's sub-history has a linearization.
fn is_linearizable(ops: &[KeyOp<'_>]) -> bool {
    search::search(&reduce(ops), false).is_ok()
}

/// Interns values and applies the two exact reductions for unknown writes
/// described in the module essay. `origin` in the result indexes `ops`.
fn reduce(ops: &[KeyOp<'_>]) -> Vec<RegisterOp> {
    let mut ids: HashMap<Option<&str>, ValueId> = HashMap::from([(None, ABSENT)]);
    let mut intern = |value| {
        let next = ValueId::try_from(ids.len()).expect("fewer than 2^32 values per key");
        *ids.entry(value).or_insert(next)
    };
    let accesses: Vec<Access> = ops
        .iter()
        .map(|op| match op.access {
            KeyAccess::Write(value) => Access::Write(intern(value)),
            KeyAccess::Read(value) => Access::Read(intern(value)),
        })
        .collect();

    let mut writers = vec![0usize; ids.len()];
    // Per value: the earliest return of a read that observed it.
    let mut first_seen_us: Vec<Option<u64>> = vec![None; ids.len()];
    for (op, access) in ops.iter().zip(&accesses) {
        match (*access, op.complete_us) {
            (Access::Write(value), _) => writers[value as usize] += 1,
            (Access::Read(value), Some(complete_us)) => {
                let seen = &mut first_seen_us[value as usize];
                *seen = Some(seen.map_or(complete_us, |seen_us| seen_us.min(complete_us)));
            }
            (Access::Read(_), None) => unreachable!("reads without an ok outcome are dropped"),
        }
    }

    let mut reduced = Vec::with_capacity(ops.len());
    for (origin, (op, access)) in ops.iter().zip(accesses).enumerate() {
        let complete_us = match (op.complete_us, access) {
            (Some(complete_us), _) => complete_us,
            (None, Access::Read(_)) => unreachable!("reads without an ok outcome are dropped"),
            (None, Access::Write(value)) => match first_seen_us[value as usize] {
                // Nobody saw it: omitting it is always at least as good.
                None => continue,
                // Its value's only writer must precede the first read of it.
                Some(seen_us)
                    if value != ABSENT
                        && writers[value as usize] == 1
                        && seen_us >= op.invoke_us =>
                {
                    seen_us
                }
                Some(_) => NEVER_US,
            },
        };
        reduced.push(RegisterOp {
            origin,
            invoke_us: op.invoke_us,
            complete_us,
            access,
        });
    }
    reduced
}

/// Shrinks a non-linearizable sub-history to a small one that still fails.
///
/// Greedy, in the spirit of delta debugging: drop reads, then writes, in
/// halving chunks, until nothing more can go. Dropping reads is always fair,
/// since a read constrains only itself; and because adding a read to a failing
/// history keeps it failing, one pass at chunk size one leaves every remaining
/// read necessary. A write may go only if no remaining read saw the value it
/// wrote, or the witness would blame a read for seeing a value from nowhere.
fn minimize(mut witness: Vec<KeyOp<'_>>) -> Vec<KeyOp<'_>> {
    loop {
        let before = witness.len();
        shrink(&mut witness, true);
        shrink(&mut witness, false);
        if witness.len() == before {
            return witness;
        }
    }
}

/// One round of chunked removal of reads (`reads`) or of writes.
fn shrink(witness: &mut Vec<KeyOp<'_>>, reads: bool) {
    let is_candidate = |op: &KeyOp<'_>| matches!(op.access, KeyAccess::Read(_)) == reads;
    let mut chunk = witness
        .iter()
        .filter(|op| is_candidate(op))
        .count()
        .div_ceil(2)
        .max(1);
    loop {
        // Candidates tried and kept during this pass at this chunk size.
        let mut kept = 0;
        loop {
            let mut remove = vec![false; witness.len()];
            let chosen = (0..witness.len())
                .filter(|&i| is_candidate(&witness[i]))
                .skip(kept)
                .take(chunk);
            let mut count = 0;
            for i in chosen {
                remove[i] = true;
                count += 1;
            }
            if count == 0 {
                break;
            }
            let remainder: Vec<KeyOp<'_>> = witness
                .iter()
                .zip(&remove)
                .filter(|(_, &removed)| !removed)
                .map(|(op, _)| *op)
                .collect();
            let writes_unobserved =
                witness
                    .iter()
                    .zip(&remove)
                    .all(|(op, &removed)| match op.access {
                        KeyAccess::Write(value) if removed => !observed(value, &remainder),
                        _ => true,
                    });
            if writes_unobserved && !is_linearizable(&remainder) {
                *witness = remainder;
            } else {
                kept += count;
            }
        }
        if chunk == 1 {
            return;
        }
        chunk = chunk.div_ceil(2);
    }
}

/// Whether some read in `ops` returned `value`.
fn observed(value: Option<&str>, ops: &[KeyOp<'_>]) -> bool {
    ops.iter().any(|op| op.access == KeyAccess::Read(value))
}

/// Puts a minimal witness into words: either a read saw a value nobody wrote,
/// or the furthest valid order the search reached, and the reads that all
/// disagree with the value it leaves.
fn explain(key: &str, witness: &[KeyOp<'_>], history: &[Operation]) -> String {
    let describe = |op: &KeyOp<'_>| {
        let operation = &history[op.source];
        format!("{} by client {}", operation.kind, operation.client)
    };
    let phantom = witness.iter().find_map(|op| match op.access {
        KeyAccess::Read(Some(value))
            if !witness
                .iter()
                .any(|w| w.access == KeyAccess::Write(Some(value))) =>
        {
            Some((op, value))
        }
        _ => None,
    });
    if let Some((read, value)) = phantom {
        let failed = history.iter().find(|op| {
            op.outcome == Outcome::Failed
                && matches!(&op.kind, OpKind::Set { key: k, value: v } if k == key && v == value)
        });
        let mut text = format!(
            "{} saw a value that no operation on {key:?} wrote",
            describe(read)
        );
        if let Some(failed) = failed {
            text += &format!(
                "; client {}'s {} was reported failed, so it must not take effect",
                failed.client, failed.kind
            );
        }
        return text;
    }

    let reduced = reduce(witness);
    let longest = match search::search(&reduced, true) {
        Err(longest) => longest,
        Ok(_) => unreachable!("a witness is not linearizable"),
    };
    let mut value: Option<&str> = None;
    for &origin in &longest {
        if let KeyAccess::Write(written) = witness[origin].access {
            value = written;
        }
    }
    // What can take effect next: calls before the earliest remaining return.
    // Floating writes never have to come next, so they are not listed.
    let remaining: Vec<&RegisterOp> = reduced
        .iter()
        .filter(|op| op.complete_us != NEVER_US && !longest.contains(&op.origin))
        .collect();
    let first_return_us = remaining
        .iter()
        .map(|op| op.complete_us)
        .min()
        .unwrap_or(NEVER_US);
    let next: Vec<String> = remaining
        .iter()
        .filter(|op| op.invoke_us <= first_return_us)
        .map(|op| describe(&witness[op.origin]))
        .collect();

    let mut text = format!(
        "no order of these {} operations on {key:?} respects both their real-time order and what each read saw",
        witness.len()
    );
    if longest.is_empty() {
        text += "; the key starts absent";
    } else {
        let order: Vec<String> = longest
            .iter()
            .map(|&origin| describe(&witness[origin]))
            .collect();
        text += &format!(
            "; the furthest a valid order gets is {}, which leaves the key ",
            order.join(", then ")
        );
        text += &match value {
            Some(value) => format!("holding {value:?}"),
            None => "absent".to_string(),
        };
    }
    text += &format!(
        ", but every operation that can come next is a read that saw otherwise: {}",
        next.join("; ")
    );
    text
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpKind::Set { key, value } => write!(f, "set({key}, {value:?})"),
            OpKind::Delete { key } => write!(f, "delete({key})"),
            OpKind::Clear => write!(f, "clear()"),
            OpKind::Read {
                key,
                observed: Some(value),
            } => write!(f, "read({key}) -> {value:?}"),
            OpKind::Read {
                key,
                observed: None,
            } => write!(f, "read({key}) -> absent"),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable { keys, operations } => {
                write!(f, "linearizable: {operations} operations on {keys} keys")
            }
            Verdict::Violation {
                key,
                operations,
                explanation,
            } => {
                writeln!(f, "not linearizable on key {key:?}: {explanation}")?;
                write!(
                    f,
                    "witness ({} operations, times from the first invoke):",
                    operations.len()
                )?;
                let start_us = operations.iter().map(|op| op.invoke_us).min().unwrap_or(0);
                for op in operations {
                    let invoke = millis(op.invoke_us - start_us);
                    let (complete, note) = match op.outcome {
                        Outcome::Ok => (millis(op.complete_us - start_us), ""),
                        Outcome::Unknown => ("?".to_string(), "  (outcome unknown)"),
                        Outcome::Failed => (millis(op.complete_us - start_us), "  (failed)"),
                    };
                    write!(
                        f,
                        "\n  client {}  [{invoke} .. {complete}]  {}{note}",
                        op.client, op.kind
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Formats microseconds as milliseconds with three decimals, without floats.
fn millis(us: u64) -> String {
    format!("{}.{:03}ms", us / 1000, us % 1000)
}
