//! The checks every lab runs on what it recorded.
//!
//! - **linearizable**: writes, deletes, clears and linearizable reads go to
//!   the checker of `crate::check::linearizability`, per key, unknown
//!   outcomes as possibly applied. Keys given a TTL are left out (the model
//!   has no expiry).
//! - **stale reads**: a read is *stale* when every write that could have
//!   produced the value it saw was definitely overwritten, by a write
//!   acknowledged before the read began. Local reads are counted this way
//!   (the lesson of `stale-read`, not a bug); linearizable reads must count zero.
//! - **no acknowledged write lost**: the verification reads at the end (and
//!   at `expect_acknowledged_writes_readable`) must not be stale.
//! - **one leader per term** and **terms rising**: from the event stream.

use super::history::{HistoryOp, OpType};
use crate::check::linearizability::{check, Outcome, Verdict};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Source name of the verification reads.
pub const VERIFY_SOURCE: &str = "verify";

/// One named check of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, ok: bool, detail: impl Into<String>) -> Check {
        Check {
            name: name.to_string(),
            ok,
            detail: detail.into(),
        }
    }
}

/// Keys whose writes carried a TTL.
fn ttl_keys(history: &[HistoryOp]) -> BTreeSet<String> {
    history
        .iter()
        .filter(|op| op.ttl)
        .filter_map(|op| op.key.clone())
        .collect()
}

/// Runs the linearizability checker on the judged part of the history.
pub fn linearizability(history: &[HistoryOp]) -> (Check, Verdict) {
    let excluded = ttl_keys(history);
    let phases: BTreeSet<u32> = history.iter().map(|op| op.phase).collect();
    let mut total_ops = 0;
    let mut total_keys = 0;
    for phase in phases {
        // A clear reaches only the keys of its own phase.
        let operations: Vec<_> = history
            .iter()
            .filter(|op| op.phase == phase)
            .filter(|op| op.key.as_ref().is_none_or(|key| !excluded.contains(key)))
            .filter_map(HistoryOp::to_checked)
            .collect();
        let verdict = check(&operations);
        match verdict {
            Verdict::Linearizable { keys, operations } => {
                total_keys += keys;
                total_ops += operations;
            }
            violation => {
                let detail = format!("phase {phase}: {violation}");
                return (Check::new("linearizable", false, detail), violation);
            }
        }
    }
    let verdict = Verdict::Linearizable {
        keys: total_keys,
        operations: total_ops,
    };
    let mut detail = verdict.to_string();
    if !excluded.is_empty() {
        detail += &format!(" ({} TTL keys not judged)", excluded.len());
    }
    (Check::new("linearizable", true, detail), verdict)
}

/// A write of one key as the staleness rule sees it.
#[derive(Clone, Copy)]
struct Writer<'a> {
    value: Option<&'a str>,
    invoke_us: u64,
    /// `None` when the outcome is unknown: it may apply at any later time.
    complete_us: Option<u64>,
}

/// Writers of every key per phase, with the initial absence (time 0).
fn writers(history: &[HistoryOp]) -> BTreeMap<&str, Vec<Writer<'_>>> {
    let mut by_key: BTreeMap<&str, Vec<Writer<'_>>> = BTreeMap::new();
    let mut clears: Vec<(u32, Writer<'_>)> = Vec::new();
    let keys: BTreeSet<(&str, u32)> = history
        .iter()
        .filter_map(|op| op.key.as_deref().map(|key| (key, op.phase)))
        .collect();
    for op in history.iter().filter(|op| op.outcome != Outcome::Failed) {
        let complete_us = (op.outcome == Outcome::Ok).then_some(op.complete_us);
        let writer = |value| Writer {
            value,
            invoke_us: op.invoke_us,
            complete_us,
        };
        match op.op {
            OpType::Write => by_key
                .entry(op.key.as_deref().expect("writes have keys"))
                .or_default()
                .push(writer(op.value.as_deref())),
            OpType::Delete => by_key
                .entry(op.key.as_deref().expect("deletes have keys"))
                .or_default()
                .push(writer(None)),
            OpType::Clear => clears.push((op.phase, writer(None))),
            _ => {}
        }
    }
    for (key, phase) in keys {
        let list = by_key.entry(key).or_default();
        list.push(Writer {
            value: None,
            invoke_us: 0,
            complete_us: Some(0),
        });
        for (clear_phase, clear) in &clears {
            if *clear_phase == phase {
                list.push(*clear);
            }
        }
    }
    by_key
}

/// Whether `read` saw a value every possible writer of which was
/// definitely overwritten before the read began (or nobody wrote at all).
fn is_stale(read: &HistoryOp, writers: &[Writer<'_>]) -> bool {
    let observed = read.observed.as_deref();
    let overwritten = |writer: &Writer<'_>| match writer.complete_us {
        None => false,
        Some(done_us) => writers.iter().any(|later| {
            later.invoke_us > done_us
                && later
                    .complete_us
                    .is_some_and(|later_done| later_done < read.invoke_us)
        }),
    };
    !writers
        .iter()
        .filter(|writer| writer.value == observed && writer.invoke_us < read.complete_us)
        .any(|writer| !overwritten(writer))
}

/// Stale reads among the acknowledged reads of `op` type (and, if given, `source`).
pub fn stale_reads<'a>(
    history: &'a [HistoryOp],
    op: OpType,
    source: Option<&str>,
) -> Vec<&'a HistoryOp> {
    let excluded = ttl_keys(history);
    let writers = writers(history);
    history
        .iter()
        .filter(|read| read.op == op && read.outcome == Outcome::Ok)
        .filter(|read| source.is_none_or(|source| read.source == source))
        .filter(|read| {
            let key = read.key.as_deref().expect("reads have keys");
            !excluded.contains(key)
                && writers
                    .get(key)
                    .is_some_and(|writers| is_stale(read, writers))
        })
        .collect()
}

/// No verification read may miss an acknowledged write.
pub fn no_acknowledged_write_lost(history: &[HistoryOp]) -> Check {
    let verified = history
        .iter()
        .filter(|op| op.source == VERIFY_SOURCE && op.outcome == Outcome::Ok)
        .count();
    let failed_reads = history
        .iter()
        .filter(|op| op.source == VERIFY_SOURCE && op.outcome != Outcome::Ok)
        .count();
    let lost = stale_reads(history, OpType::ReadLinearizable, Some(VERIFY_SOURCE));
    let acknowledged = history
        .iter()
        .filter(|op| op.op == OpType::Write && op.outcome == Outcome::Ok)
        .count();
    if let Some(first) = lost.first() {
        return Check::new(
            "no_acknowledged_write_lost",
            false,
            format!(
                "{} of {verified} read-backs missed an acknowledged write; first: {} on {} read {}",
                lost.len(),
                first.key.as_deref().unwrap_or("?"),
                first.node,
                first.observed.as_deref().unwrap_or("absent")
            ),
        );
    }
    if failed_reads > 0 {
        return Check::new(
            "no_acknowledged_write_lost",
            false,
            format!("{failed_reads} verification reads got no answer; {verified} keys read back"),
        );
    }
    Check::new(
        "no_acknowledged_write_lost",
        true,
        format!("{verified} linearizable read-backs; each saw a value that the {acknowledged} acknowledged writes allow"),
    )
}
