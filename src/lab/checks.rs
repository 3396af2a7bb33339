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
//!   at `expect_acknowledged_writes_readable`) must not be stale, and every
//!   key must have been read; and, since a key overwritten hundreds of times
//!   would hide a write lost in between, the nodes' logs are read from disk
//!   once they stopped and [`compare_logs`] finds each acknowledged write at
//!   the index and term its answer gave, on every node that committed it,
//!   and checks that the committed logs agree entry by entry.
//! - **one leader per term** and **terms rising**: from the event stream.

use super::history::{HistoryOp, OpType};
use crate::cache::Command;
use crate::check::linearizability::{check, Outcome, Verdict};
use crate::raft::{Entry, Index, Payload};
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

/// No verification read may miss an acknowledged write, and every key
/// the verification tried must have been read at least once (a retry that
/// succeeds is not a failure). With `every_key`, each key with an
/// acknowledged write must also have a successful verification read begun
/// after its last acknowledged write: the end of a run (and of each phase)
/// reads every key back, so a key it skipped is a hole in the check.
pub fn no_acknowledged_write_lost(history: &[HistoryOp], every_key: bool) -> Check {
    let excluded = ttl_keys(history);
    let verify = || {
        history
            .iter()
            .filter(|op| op.source == VERIFY_SOURCE && op.op == OpType::ReadLinearizable)
    };
    let verified = verify().filter(|op| op.outcome == Outcome::Ok).count();
    let retried = verify().filter(|op| op.outcome != Outcome::Ok).count();
    let mut read_ok: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut tried: BTreeSet<&str> = BTreeSet::new();
    for op in verify() {
        let Some(key) = op.key.as_deref() else {
            continue;
        };
        tried.insert(key);
        if op.outcome == Outcome::Ok {
            read_ok.entry(key).or_default().push(op.invoke_us);
        }
    }
    let unread: Vec<&str> = tried
        .iter()
        .copied()
        .filter(|key| !read_ok.contains_key(key))
        .collect();
    let lost = stale_reads(history, OpType::ReadLinearizable, Some(VERIFY_SOURCE));
    let mut last_write: BTreeMap<&str, u64> = BTreeMap::new();
    for op in history
        .iter()
        .filter(|op| op.op == OpType::Write && op.outcome == Outcome::Ok)
    {
        let key = op.key.as_deref().expect("writes have keys");
        if !excluded.contains(key) {
            let last = last_write.entry(key).or_default();
            *last = (*last).max(op.complete_us);
        }
    }
    let acknowledged = history
        .iter()
        .filter(|op| op.op == OpType::Write && op.outcome == Outcome::Ok)
        .count();
    let skipped: Vec<&str> = if every_key {
        last_write
            .iter()
            .filter(|(key, written_us)| {
                !read_ok
                    .get(*key)
                    .is_some_and(|reads| reads.iter().any(|at| at > written_us))
            })
            .map(|(key, _)| *key)
            .collect()
    } else {
        Vec::new()
    };
    let name = "no_acknowledged_write_lost";
    if let Some(first) = lost.first() {
        return Check::new(
            name,
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
    if let Some(first) = unread.first() {
        return Check::new(
            name,
            false,
            format!(
                "{} keys got no answer to any read-back attempt (first: {first}); {} keys read back",
                unread.len(),
                read_ok.len()
            ),
        );
    }
    if let Some(first) = skipped.first() {
        return Check::new(
            name,
            false,
            format!(
                "{} keys with an acknowledged write were never read back after it (first: {first})",
                skipped.len()
            ),
        );
    }
    let retries = if retried > 0 {
        format!(" ({retried} attempts retried)")
    } else {
        String::new()
    };
    Check::new(
        name,
        true,
        format!(
            "{} keys read back linearizably{retries}; each saw a value that the {acknowledged} acknowledged writes allow",
            read_ok.len()
        ),
    )
}

/// One node's log as its write-ahead log replays it, read from the node's
/// data directory once the node stopped.
#[derive(Clone, Debug)]
pub struct NodeLog {
    pub node: String,
    /// The node's commit index when it stopped: how much of `entries` is
    /// known committed. 0 when the node was not running.
    pub commit_index: Index,
    /// The whole log, contiguous from index 1.
    pub entries: Vec<Entry>,
}

/// What [`compare_logs`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogAgreement {
    /// Acknowledged writes, deletes and clears found, with their term and
    /// command, at their index on every node that committed that index.
    pub found: usize,
    /// Acknowledged ones whose answer carried no log position (a delete of
    /// an absent key answers 404 without one): not judged here.
    pub unplaced: usize,
    /// Every node committed up to here, and all logs agree up to here.
    pub agreed: Index,
    /// The highest commit index; beyond `agreed`, the nodes that committed
    /// an index agree on it.
    pub highest: Index,
    /// Number of nodes compared.
    pub nodes: usize,
}

impl std::fmt::Display for LogAgreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} acknowledged updates (writes, deletes, clears) found at their log index, with their term and command, on every node that committed it; the {} nodes' committed logs agree entry by entry on {} entries",
            self.found, self.nodes, self.agreed
        )?;
        if self.highest > self.agreed {
            write!(
                f,
                " and up to {} on the nodes that committed more",
                self.highest
            )?;
        }
        if self.unplaced > 0 {
            write!(
                f,
                "; {} acknowledged without a log position (a delete of an absent key answers 404 without one)",
                self.unplaced
            )?;
        }
        Ok(())
    }
}

/// Compares the committed logs of all nodes of one cluster with each
/// other and with the acknowledged writes of its history:
///
/// 1. every node's log on disk reaches its commit index;
/// 2. every index up to the highest commit index holds the same term and
///    payload on every node that committed it (so the committed prefixes
///    agree entry by entry, Log Matching and Leader Completeness);
/// 3. every acknowledged write, delete or clear with a log position
///    `(index, term)` is committed on a majority, and every node that
///    committed `index` holds an entry of that `term` there whose command
///    is that operation (same key, same JSON value).
pub fn compare_logs(acknowledged: &[&HistoryOp], logs: &[NodeLog]) -> Result<LogAgreement, String> {
    if logs.is_empty() {
        return Err("no node's log was read".into());
    }
    for log in logs {
        for (position, entry) in log.entries.iter().enumerate() {
            if entry.index != position as Index + 1 {
                return Err(format!(
                    "{}'s log holds index {} at position {}",
                    log.node,
                    entry.index,
                    position + 1
                ));
            }
        }
        if (log.entries.len() as Index) < log.commit_index {
            return Err(format!(
                "{} committed up to {} but its log on disk ends at {}",
                log.node,
                log.commit_index,
                log.entries.len()
            ));
        }
    }
    let agreed = logs.iter().map(|log| log.commit_index).min().unwrap_or(0);
    let highest = logs.iter().map(|log| log.commit_index).max().unwrap_or(0);
    for index in 1..=highest {
        let holders: Vec<(&str, &Entry)> = logs
            .iter()
            .filter(|log| log.commit_index >= index)
            .map(|log| (log.node.as_str(), &log.entries[index as usize - 1]))
            .collect();
        let (first_node, first) = holders[0];
        for (node, entry) in &holders[1..] {
            if entry.term != first.term || entry.payload != first.payload {
                return Err(format!(
                    "committed logs differ at index {index}: {first_node} holds term {} ({}), {node} term {} ({})",
                    first.term,
                    describe_payload(&first.payload),
                    entry.term,
                    describe_payload(&entry.payload)
                ));
            }
        }
    }
    let majority = logs.len() / 2 + 1;
    let mut found = 0;
    let mut unplaced = 0;
    for op in acknowledged.iter().filter(|op| {
        op.outcome == Outcome::Ok && matches!(op.op, OpType::Write | OpType::Delete | OpType::Clear)
    }) {
        let (Some(index), Some(term)) = (op.index, op.term) else {
            unplaced += 1;
            continue;
        };
        let what = || {
            format!(
                "acknowledged {} of {} by {} (index {index}, term {term})",
                op.op.as_str(),
                op.key.as_deref().unwrap_or("every key"),
                op.node
            )
        };
        let holders: Vec<&NodeLog> = logs
            .iter()
            .filter(|log| log.commit_index >= index && index > 0)
            .collect();
        if holders.len() < majority {
            return Err(format!(
                "{} is committed on {} of {} nodes, fewer than a majority",
                what(),
                holders.len(),
                logs.len()
            ));
        }
        for log in holders {
            let entry = &log.entries[index as usize - 1];
            if entry.term != term {
                return Err(format!(
                    "{}: {} holds an entry of term {} there",
                    what(),
                    log.node,
                    entry.term
                ));
            }
            if let Err(why) = same_command(op, &entry.payload) {
                return Err(format!("{}: {} holds {why}", what(), log.node));
            }
        }
        found += 1;
    }
    Ok(LogAgreement {
        found,
        unplaced,
        agreed,
        highest,
        nodes: logs.len(),
    })
}

fn describe_payload(payload: &Payload) -> String {
    match payload {
        Payload::Noop => "no-op".into(),
        Payload::Command(bytes) => match Command::decode(bytes) {
            Ok(Command::Set { key, value, .. }) => format!("set {key} = {value}"),
            Ok(Command::Delete { key }) => format!("delete {key}"),
            Ok(Command::Clear) => "clear".into(),
            Err(_) => format!("{} undecodable bytes", bytes.len()),
        },
    }
}

/// Whether `payload` is the command `op` asked for: same key (the history
/// prefixes keys with their phase, the log does not) and the same JSON value.
fn same_command(op: &HistoryOp, payload: &Payload) -> Result<(), String> {
    let Payload::Command(bytes) = payload else {
        return Err("a no-op".into());
    };
    // A committed entry that does not decode would stop the node applying
    // it, so it cannot be the acknowledged write.
    let command = Command::decode(bytes)
        .map_err(|error| format!("a command that does not decode ({error})"))?;
    let prefix = format!("p{}/", op.phase);
    let key = op
        .key
        .as_deref()
        .map(|key| key.strip_prefix(&prefix).unwrap_or(key));
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    let matches = match (&command, op.op) {
        (Command::Set { key: k, value, .. }, OpType::Write) => {
            Some(k.as_str()) == key
                && match (op.value.as_deref().and_then(json), json(value)) {
                    (Some(mine), Some(theirs)) => mine == theirs,
                    _ => op.value.as_deref() == Some(value.as_str()),
                }
        }
        (Command::Delete { key: k }, OpType::Delete) => Some(k.as_str()) == key,
        (Command::Clear, OpType::Clear) => true,
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err(describe_payload(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: u64, op: OpType, key: &str, value: Option<&str>) -> HistoryOp {
        HistoryOp {
            id,
            client: 1,
            source: "writers".into(),
            phase: 0,
            op,
            node: "node1".into(),
            key: Some(format!("p0/{key}")),
            value: value.map(|value| format!("{value:?}")),
            observed: None,
            ttl: false,
            invoke_us: id * 100,
            complete_us: id * 100 + 50,
            outcome: Outcome::Ok,
            status: 200,
            error: None,
            index: None,
            term: None,
        }
    }

    fn write_at(id: u64, key: &str, value: &str, index: Index, term: u64) -> HistoryOp {
        HistoryOp {
            index: Some(index),
            term: Some(term),
            ..op(id, OpType::Write, key, Some(value))
        }
    }

    fn set(index: Index, term: u64, key: &str, value: &str) -> Entry {
        Entry {
            index,
            term,
            payload: Payload::Command(
                Command::Set {
                    key: key.into(),
                    value: format!("{value:?}"),
                    expires_at_ms: None,
                }
                .encode(),
            ),
        }
    }

    fn noop(index: Index, term: u64) -> Entry {
        Entry {
            index,
            term,
            payload: Payload::Noop,
        }
    }

    /// Three nodes that all committed: noop, k=a, k=b, all in term 1.
    fn three_logs() -> Vec<NodeLog> {
        (1..=3)
            .map(|id| NodeLog {
                node: format!("node{id}"),
                commit_index: 3,
                entries: vec![noop(1, 1), set(2, 1, "k", "a"), set(3, 1, "k", "b")],
            })
            .collect()
    }

    fn acknowledged() -> Vec<HistoryOp> {
        vec![write_at(1, "k", "a", 2, 1), write_at(2, "k", "b", 3, 1)]
    }

    fn compare(ops: &[HistoryOp], logs: &[NodeLog]) -> Result<LogAgreement, String> {
        compare_logs(&ops.iter().collect::<Vec<_>>(), logs)
    }

    #[test]
    fn agreeing_logs_holding_every_acknowledged_write_pass() {
        let agreement = compare(&acknowledged(), &three_logs()).unwrap();
        assert_eq!(
            agreement,
            LogAgreement {
                found: 2,
                unplaced: 0,
                agreed: 3,
                highest: 3,
                nodes: 3
            }
        );
        assert!(agreement.to_string().starts_with("2 acknowledged updates"));
    }

    #[test]
    fn a_write_lost_at_failover_fails_although_its_key_was_overwritten() {
        // The write of k=a was acknowledged at index 2, term 1; the new
        // leader (term 2) never had it and put its no-op there. A read-back
        // of k sees b, which the history allows: only the log shows the loss.
        let mut logs = three_logs();
        for log in &mut logs {
            log.entries[1] = noop(2, 2);
            log.entries[2] = set(3, 2, "k", "b");
        }
        let ops = vec![write_at(1, "k", "a", 2, 1), write_at(2, "k", "b", 3, 2)];
        let error = compare(&ops, &logs).unwrap_err();
        assert!(
            error.contains("index 2, term 1") && error.contains("term 2"),
            "{error}"
        );
    }

    #[test]
    fn an_acknowledged_write_missing_from_a_node_that_committed_its_index_fails() {
        let mut logs = three_logs();
        logs[2].entries[1] = set(2, 1, "other", "x");
        let error = compare(&acknowledged(), &logs).unwrap_err();
        assert!(
            error.contains("committed logs differ at index 2"),
            "{error}"
        );
        // Alone (the other nodes not compared), the wrong command is named.
        let error = compare(&acknowledged(), &logs[2..]).unwrap_err();
        assert!(error.contains("node3 holds set other"), "{error}");
    }

    #[test]
    fn a_different_value_at_the_acknowledged_index_fails() {
        let mut logs = three_logs();
        for log in &mut logs {
            log.entries[2] = set(3, 1, "k", "c");
        }
        let error = compare(&acknowledged(), &logs).unwrap_err();
        assert!(error.contains("holds set k = \"c\""), "{error}");
    }

    #[test]
    fn an_acknowledged_write_committed_on_a_minority_fails() {
        let mut logs = three_logs();
        logs[1].commit_index = 2;
        logs[2].commit_index = 2;
        let error = compare(&acknowledged(), &logs).unwrap_err();
        assert!(error.contains("committed on 1 of 3 nodes"), "{error}");
    }

    #[test]
    fn a_log_shorter_than_its_commit_index_fails() {
        let mut logs = three_logs();
        logs[0].entries.truncate(2);
        let error = compare(&acknowledged(), &logs).unwrap_err();
        assert!(error.contains("node1 committed up to 3"), "{error}");
    }

    #[test]
    fn a_lagging_node_is_compared_up_to_its_own_commit_index() {
        let mut logs = three_logs();
        logs[2].commit_index = 2;
        logs[2].entries.truncate(2);
        let agreement = compare(&acknowledged(), &logs).unwrap();
        assert_eq!((agreement.agreed, agreement.highest), (2, 3));
    }

    #[test]
    fn uncommitted_suffixes_may_differ() {
        let mut logs = three_logs();
        logs[0].entries.push(set(4, 1, "k", "lost"));
        logs[1].entries.push(set(4, 2, "k", "other"));
        assert!(compare(&acknowledged(), &logs).is_ok());
    }

    #[test]
    fn deletes_and_clears_are_found_by_their_command() {
        let mut logs = three_logs();
        let delete = Entry {
            index: 4,
            term: 1,
            payload: Payload::Command(Command::Delete { key: "k".into() }.encode()),
        };
        let clear = Entry {
            index: 5,
            term: 1,
            payload: Payload::Command(Command::Clear.encode()),
        };
        for log in &mut logs {
            log.entries.extend([delete.clone(), clear.clone()]);
            log.commit_index = 5;
        }
        let mut ops = acknowledged();
        ops.push(HistoryOp {
            index: Some(4),
            term: Some(1),
            ..op(3, OpType::Delete, "k", None)
        });
        ops.push(HistoryOp {
            index: Some(5),
            term: Some(1),
            key: None,
            ..op(4, OpType::Clear, "", None)
        });
        // A 404 delete carries no position: counted, not judged.
        ops.push(op(5, OpType::Delete, "gone", None));
        let agreement = compare(&ops, &logs).unwrap();
        assert_eq!((agreement.found, agreement.unplaced), (4, 1));
        // A delete claimed where the clear is fails.
        ops[2].index = Some(5);
        assert!(compare(&ops, &logs).is_err());
    }

    fn verify(id: u64, key: &str, observed: Option<&str>, outcome: Outcome) -> HistoryOp {
        HistoryOp {
            source: VERIFY_SOURCE.into(),
            observed: observed.map(|value| format!("{value:?}")),
            outcome,
            status: if outcome == Outcome::Ok { 200 } else { 0 },
            ..op(id, OpType::ReadLinearizable, key, None)
        }
    }

    #[test]
    fn a_read_back_that_succeeds_on_retry_is_not_a_failure() {
        let history = vec![
            write_at(1, "k", "a", 2, 1),
            verify(2, "k", None, Outcome::Unknown),
            verify(3, "k", Some("a"), Outcome::Ok),
        ];
        let check = no_acknowledged_write_lost(&history, true);
        assert!(check.ok, "{}", check.detail);
        assert!(
            check.detail.contains("1 attempts retried"),
            "{}",
            check.detail
        );
    }

    #[test]
    fn a_key_never_read_back_fails() {
        let history = vec![
            write_at(1, "k", "a", 2, 1),
            verify(2, "k", None, Outcome::Unknown),
            verify(3, "k", None, Outcome::Unknown),
        ];
        assert!(!no_acknowledged_write_lost(&history, false).ok);
        // Not even attempted: caught only when every key must be read.
        let history = vec![write_at(1, "k", "a", 2, 1)];
        assert!(no_acknowledged_write_lost(&history, false).ok);
        assert!(!no_acknowledged_write_lost(&history, true).ok);
    }

    #[test]
    fn a_read_back_missing_the_last_write_fails() {
        let history = vec![
            write_at(1, "k", "a", 2, 1),
            write_at(2, "k", "b", 3, 1),
            verify(3, "k", Some("a"), Outcome::Ok),
        ];
        assert!(!no_acknowledged_write_lost(&history, true).ok);
    }
}
