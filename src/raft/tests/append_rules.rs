//! Follower side of log replication: paper Figure 2, "AppendEntries RPC",
//! receiver implementation steps 1–5 (§5.3), with the conflict hints of §5.3's
//! optimisation, and the follower side of heartbeats.
//!
//! Node 1 is the follower and node 2 the leader throughout.

use super::fixtures::*;
use crate::raft::{ConflictHint, HardState, Index, MessageBody, RaftConfig, Ready, Role, Term};

/// Node 1 as a follower in `term` holding a log with terms `log`.
fn follower(term: Term, log: &[Term]) -> crate::raft::RaftNode {
    node3(RaftConfig::default(), term, None, log)
}

struct Case {
    name: &'static str,
    /// The follower's term and log before.
    term: Term,
    log: &'static [Term],
    /// The AppendEntries: its term, (prev_log_index, prev_log_term), the
    /// terms of the entries it carries after prev, and leader_commit.
    append_term: Term,
    prev: (Index, Term),
    entries: &'static [Term],
    leader_commit: Index,
    /// The reply's body (sent in the follower's term afterwards).
    reply: MessageBody,
    /// The follower's log afterwards.
    log_after: &'static [Term],
    /// (first index, terms) of the entries handed to the driver to persist.
    persisted: (Index, &'static [Term]),
    /// Entries 1..=committed are handed to the driver to apply.
    committed: Index,
}

fn ok(match_index: Index) -> MessageBody {
    MessageBody::AppendEntriesResponse {
        success: true,
        match_index,
        conflict: None,
    }
}

fn rejected(conflict: Option<ConflictHint>) -> MessageBody {
    MessageBody::AppendEntriesResponse {
        success: false,
        match_index: 0,
        conflict,
    }
}

fn run(cases: Vec<Case>) {
    for case in cases {
        let mut node = follower(case.term, case.log);
        node.step(append(
            2,
            1,
            case.append_term,
            case.prev,
            entries_from(case.prev.0 + 1, case.entries),
            case.leader_commit,
        ));
        let term_after = case.term.max(case.append_term);
        let expected = Ready {
            hard_state: (term_after != case.term).then_some(HardState {
                term: term_after,
                voted_for: None,
            }),
            entries: entries_from(case.persisted.0, case.persisted.1),
            messages: vec![message(1, 2, term_after, case.reply)],
            committed: log_of(case.log_after)
                .into_iter()
                .take(case.committed as usize)
                .collect(),
            ..Ready::default()
        };
        assert_eq!(node.take_ready(), expected, "{}", case.name);
        assert_eq!(log_terms(&node), case.log_after, "{}", case.name);
        assert_eq!(node.status().commit_index, case.committed, "{}", case.name);
    }
}

/// Step 1: reply false if term < currentTerm; step 2: reply false if the
/// log has no entry at prevLogIndex whose term matches prevLogTerm — with a
/// hint of one of two shapes: "my log ends before that" (`term: None`, my
/// last index + 1) or "I hold term T there, starting at index I".
#[test]
fn append_is_rejected_when_stale_or_logs_disagree() {
    run(vec![
        Case {
            name: "term below ours: no hint, our term in the reply",
            term: 3,
            log: &[1, 2],
            append_term: 2,
            prev: (2, 2),
            entries: &[2],
            leader_commit: 2,
            reply: rejected(None),
            log_after: &[1, 2],
            persisted: (0, &[]),
            committed: 0,
        },
        Case {
            name: "log shorter than prev_log_index",
            term: 2,
            log: &[1, 1],
            append_term: 2,
            prev: (5, 2),
            entries: &[2],
            leader_commit: 0,
            reply: rejected(Some(ConflictHint {
                term: None,
                index: 3,
            })),
            log_after: &[1, 1],
            persisted: (0, &[]),
            committed: 0,
        },
        Case {
            name: "empty log",
            term: 2,
            log: &[],
            append_term: 2,
            prev: (1, 1),
            entries: &[],
            leader_commit: 0,
            reply: rejected(Some(ConflictHint {
                term: None,
                index: 1,
            })),
            log_after: &[],
            persisted: (0, &[]),
            committed: 0,
        },
        Case {
            name: "term mismatch at prev: hint names our term and where it starts",
            term: 4,
            log: &[1, 1, 2, 2, 2, 3],
            append_term: 4,
            prev: (5, 4),
            entries: &[4],
            leader_commit: 0,
            reply: rejected(Some(ConflictHint {
                term: Some(2),
                index: 3,
            })),
            log_after: &[1, 1, 2, 2, 2, 3],
            persisted: (0, &[]),
            committed: 0,
        },
        Case {
            name: "term mismatch in the first term of the log",
            term: 4,
            log: &[1, 1, 2],
            append_term: 4,
            prev: (2, 3),
            entries: &[],
            leader_commit: 0,
            reply: rejected(Some(ConflictHint {
                term: Some(1),
                index: 1,
            })),
            log_after: &[1, 1, 2],
            persisted: (0, &[]),
            committed: 0,
        },
        Case {
            name: "rejection from a newer leader still adopts its term",
            term: 1,
            log: &[1],
            append_term: 3,
            prev: (3, 3),
            entries: &[3],
            leader_commit: 0,
            reply: rejected(Some(ConflictHint {
                term: None,
                index: 2,
            })),
            log_after: &[1],
            persisted: (0, &[]),
            committed: 0,
        },
    ]);
}

/// Steps 3 and 4: an existing entry that conflicts with a new one (same
/// index, different term) is deleted with all that follow it, and new
/// entries are appended; entries the log already holds are left alone, so a
/// duplicated or reordered (stale) append never truncates newer entries.
#[test]
fn append_merges_entries_truncating_only_on_conflict() {
    run(vec![
        Case {
            name: "append after a matching prev",
            term: 2,
            log: &[1],
            append_term: 2,
            prev: (1, 1),
            entries: &[2, 2],
            leader_commit: 0,
            reply: ok(3),
            log_after: &[1, 2, 2],
            persisted: (2, &[2, 2]),
            committed: 0,
        },
        Case {
            name: "append to an empty log",
            term: 1,
            log: &[],
            append_term: 1,
            prev: (0, 0),
            entries: &[1],
            leader_commit: 0,
            reply: ok(1),
            log_after: &[1],
            persisted: (1, &[1]),
            committed: 0,
        },
        Case {
            name: "conflicting suffix truncated and replaced",
            term: 3,
            log: &[1, 1, 2, 2],
            append_term: 3,
            prev: (2, 1),
            entries: &[3],
            leader_commit: 0,
            reply: ok(3),
            log_after: &[1, 1, 3],
            persisted: (3, &[3]),
            committed: 0,
        },
        Case {
            name: "conflict in the middle of the new entries",
            term: 3,
            log: &[1, 1, 2],
            append_term: 3,
            prev: (1, 1),
            entries: &[1, 3, 3],
            leader_commit: 0,
            reply: ok(4),
            log_after: &[1, 1, 3, 3],
            persisted: (3, &[3, 3]),
            committed: 0,
        },
        Case {
            name: "stale append covering a prefix truncates nothing",
            term: 2,
            log: &[1, 2, 2, 2],
            append_term: 2,
            prev: (1, 1),
            entries: &[2],
            leader_commit: 0,
            reply: ok(2),
            log_after: &[1, 2, 2, 2],
            persisted: (0, &[]),
            committed: 0,
        },
        Case {
            name: "duplicate append is idempotent",
            term: 2,
            log: &[1, 2, 2],
            append_term: 2,
            prev: (1, 1),
            entries: &[2, 2],
            leader_commit: 0,
            reply: ok(3),
            log_after: &[1, 2, 2],
            persisted: (0, &[]),
            committed: 0,
        },
        Case {
            name: "overlapping append adds only the missing tail",
            term: 2,
            log: &[1, 2, 2],
            append_term: 2,
            prev: (1, 1),
            entries: &[2, 2, 2],
            leader_commit: 0,
            reply: ok(4),
            log_after: &[1, 2, 2, 2],
            persisted: (4, &[2]),
            committed: 0,
        },
        Case {
            name: "empty append at a matching prev",
            term: 2,
            log: &[1, 2],
            append_term: 2,
            prev: (2, 2),
            entries: &[],
            leader_commit: 0,
            reply: ok(2),
            log_after: &[1, 2],
            persisted: (0, &[]),
            committed: 0,
        },
    ]);
}

/// Step 5: if leaderCommit > commitIndex, set commitIndex =
/// min(leaderCommit, index of last new entry) — "last new entry" being the
/// last one this append vouches for, not the end of a longer log.
#[test]
fn append_commits_up_to_leader_commit_and_last_new_entry() {
    run(vec![
        Case {
            name: "leader commit below the new entries",
            term: 1,
            log: &[],
            append_term: 1,
            prev: (0, 0),
            entries: &[1, 1, 1],
            leader_commit: 1,
            reply: ok(3),
            log_after: &[1, 1, 1],
            persisted: (1, &[1, 1, 1]),
            committed: 1,
        },
        Case {
            name: "leader commit beyond the entries sent",
            term: 1,
            log: &[],
            append_term: 1,
            prev: (0, 0),
            entries: &[1, 1],
            leader_commit: 5,
            reply: ok(2),
            log_after: &[1, 1],
            persisted: (1, &[1, 1]),
            committed: 2,
        },
        Case {
            name: "stale append: longer log is not vouched for",
            term: 2,
            log: &[1, 2, 2, 2],
            append_term: 2,
            prev: (1, 1),
            entries: &[2],
            leader_commit: 4,
            reply: ok(2),
            log_after: &[1, 2, 2, 2],
            persisted: (0, &[]),
            committed: 2,
        },
        Case {
            name: "empty append commits up to prev",
            term: 2,
            log: &[1, 2, 2],
            append_term: 2,
            prev: (2, 2),
            entries: &[],
            leader_commit: 3,
            reply: ok(2),
            log_after: &[1, 2, 2],
            persisted: (0, &[]),
            committed: 2,
        },
        Case {
            name: "commit covers replaced entries only after replacing them",
            term: 3,
            log: &[1, 2, 2],
            append_term: 3,
            prev: (1, 1),
            entries: &[3, 3],
            leader_commit: 3,
            reply: ok(3),
            log_after: &[1, 3, 3],
            persisted: (2, &[3, 3]),
            committed: 3,
        },
    ]);
}

/// The commit index never moves backwards, even when a later append carries
/// a lower leader_commit (a reordered message).
#[test]
fn commit_index_never_decreases() {
    let mut node = follower(1, &[]);
    node.step(append(2, 1, 1, (0, 0), log_of(&[1, 1, 1]), 3));
    assert_eq!(node.take_ready().committed, log_of(&[1, 1, 1]));
    node.step(append(2, 1, 1, (0, 0), log_of(&[1]), 0));
    let ready = node.take_ready();
    assert!(ready.committed.is_empty());
    assert_eq!(node.status().commit_index, 3);
}

/// Entries handed to the driver but not yet taken are replaced, not
/// duplicated, when a conflicting append overwrites them before
/// `take_ready`: the Ready holds exactly the log's new suffix.
#[test]
fn overwritten_entries_are_dropped_from_the_pending_ready() {
    let mut node = follower(2, &[1]);
    node.step(append(2, 1, 2, (1, 1), entries_from(2, &[1, 1]), 0));
    node.step(append(3, 1, 3, (1, 1), entries_from(2, &[3]), 0));
    let ready = node.take_ready();
    assert_eq!(ready.entries, entries_from(2, &[3]));
    assert_eq!(log_terms(&node), vec![1, 3]);
}

/// A heartbeat makes its sender the known leader, restarts the election
/// timer and adopts its commit index, which the leader has capped to what
/// this follower holds; the follower caps again at its own last index.
#[test]
fn heartbeat_adopts_commit_within_the_log() {
    struct Case {
        name: &'static str,
        log: &'static [Term],
        commit_index: Index,
        committed: Index,
    }
    let cases = [
        Case {
            name: "commit within the log",
            log: &[1, 1, 1],
            commit_index: 2,
            committed: 2,
        },
        Case {
            name: "commit beyond the log is capped",
            log: &[1, 1],
            commit_index: 5,
            committed: 2,
        },
        Case {
            name: "zero commit",
            log: &[1],
            commit_index: 0,
            committed: 0,
        },
    ];
    for case in cases {
        let mut node = follower(1, case.log);
        node.step(heartbeat(2, 1, 1, case.commit_index, 9));
        let expected = Ready {
            messages: vec![heartbeat_ok(1, 2, 1, 9, case.log.len() as Index)],
            committed: log_of(case.log)
                .into_iter()
                .take(case.committed as usize)
                .collect(),
            ..Ready::default()
        };
        assert_eq!(node.take_ready(), expected, "{}", case.name);
        assert_eq!(node.status().leader, Some(2), "{}", case.name);
        assert_eq!(node.status().role, Role::Follower, "{}", case.name);
    }
}

/// Figure 2, followers: a follower that keeps hearing from the leader never
/// starts an election; one that stops hearing does.
#[test]
fn leader_messages_hold_off_the_election_timer() {
    let mut node = follower(1, &[1]);
    let max = node.config().election_timeout_max_ticks;
    for round in 0..3 * max {
        node.tick();
        if round % 5 == 0 {
            node.step(heartbeat(2, 1, 1, 0, 0));
        }
        assert_eq!(node.status().role, Role::Follower, "tick {round}");
        node.take_ready();
    }
    let ready = tick_until_campaign(&mut node);
    assert!(!ready.messages.is_empty());
}
