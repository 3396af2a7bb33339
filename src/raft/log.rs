//! The in-memory Raft log: the core's view of what storage holds.
//!
//! The node keeps every entry in memory and hands new ones to the driver to
//! persist (see `Ready`). Entries are contiguous from index 1; a follower may
//! overwrite an uncommitted suffix that conflicts with its leader (paper §5.3),
//! but never a committed entry, which is asserted.

use super::message::{ConflictHint, Entry, Index, Term};

/// The replicated log held by one node.
#[derive(Clone, Debug, Default)]
pub struct RaftLog {
    /// `entries[i]` has index `i + 1`.
    entries: Vec<Entry>,
}

impl RaftLog {
    /// Rebuilds the log from entries recovered from storage.
    pub fn from_entries(entries: Vec<Entry>) -> RaftLog {
        for (position, entry) in entries.iter().enumerate() {
            assert_eq!(
                entry.index,
                position as Index + 1,
                "recovered log is not contiguous"
            );
        }
        RaftLog { entries }
    }

    /// The index of the last entry, 0 when empty.
    pub fn last_index(&self) -> Index {
        self.entries.len() as Index
    }

    /// The term of the last entry, 0 when empty.
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(0, |entry| entry.term)
    }

    /// The term at `index`; index 0 has term 0, beyond the log is `None`.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.entries.get(index as usize - 1).map(|entry| entry.term)
    }

    /// The entry at `index`, if held.
    pub fn get(&self, index: Index) -> Option<&Entry> {
        if index == 0 {
            return None;
        }
        self.entries.get(index as usize - 1)
    }

    /// Entries from `from` on, at most `max_count` and about `max_bytes`
    /// (always at least one when any exist, so a huge entry still travels).
    pub fn entries_from(&self, from: Index, max_count: usize, max_bytes: usize) -> Vec<Entry> {
        let start = (from.max(1) - 1) as usize;
        let mut bytes = 0;
        let mut batch = Vec::new();
        for entry in self.entries.iter().skip(start).take(max_count) {
            bytes += entry.size_bytes();
            if !batch.is_empty() && bytes > max_bytes {
                break;
            }
            batch.push(entry.clone());
        }
        batch
    }

    /// Entries in `from..=to`, for applying committed entries.
    pub fn slice(&self, from: Index, to: Index) -> Vec<Entry> {
        if from > to {
            return Vec::new();
        }
        self.entries[(from - 1) as usize..to as usize].to_vec()
    }

    /// Whether a log ending at (`last_index`, `last_term`) is at least as
    /// up-to-date as ours: the voting rule of paper §5.4.1.
    pub fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// Appends one entry at the end, as a leader does.
    pub fn push(&mut self, entry: Entry) {
        assert_eq!(
            entry.index,
            self.last_index() + 1,
            "appended entry leaves a gap"
        );
        self.entries.push(entry);
    }

    /// Merges entries from a leader that follow an entry we already match.
    /// Entries we already hold with the same term are skipped (a duplicated or
    /// reordered AppendEntries must not truncate newer entries); from the first
    /// conflict on, our suffix is replaced. Returns the entries that are new
    /// to this log and must be persisted, and asserts nothing at or below
    /// `commit_index` is overwritten.
    pub fn merge(&mut self, entries: Vec<Entry>, commit_index: Index) -> Vec<Entry> {
        let mut fresh = Vec::new();
        for entry in entries {
            if !fresh.is_empty() {
                self.push(entry.clone());
                fresh.push(entry);
                continue;
            }
            match self.term_at(entry.index) {
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    assert!(
                        entry.index > commit_index,
                        "leader overwrote committed entry {} (commit index {commit_index})",
                        entry.index
                    );
                    self.entries.truncate((entry.index - 1) as usize);
                }
                None => {}
            }
            self.push(entry.clone());
            fresh.push(entry);
        }
        fresh
    }

    /// Where to retry after rejecting an AppendEntries at `prev_log_index`:
    /// the first index of our conflicting term, or our end when we are short.
    pub fn conflict_hint(&self, prev_log_index: Index) -> ConflictHint {
        match self.term_at(prev_log_index) {
            None => ConflictHint {
                term: None,
                index: self.last_index() + 1,
            },
            Some(term) => {
                // Terms never decrease along a log, so a binary search finds
                // where `term` starts.
                let held = &self.entries[..prev_log_index as usize];
                let first = held.partition_point(|entry| entry.term < term) as Index + 1;
                ConflictHint {
                    term: Some(term),
                    index: first,
                }
            }
        }
    }

    /// The last index holding `term`, used by a leader to follow a hint.
    pub fn last_index_of_term(&self, term: Term) -> Option<Index> {
        let end = self.entries.partition_point(|entry| entry.term <= term);
        (end > 0 && self.entries[end - 1].term == term).then_some(end as Index)
    }
}
