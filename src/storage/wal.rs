//! The write-ahead log: appends hard states and entries, replays them on open.

use crate::raft::{Entry, HardState, Index};

use super::error::StorageError;
use super::file::LogFile;
use super::record::{self, Frame, Record, RecordRef, ENTRIES_PER_RECORD_MAX};

/// What a log file held when it was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The last hard state written, or the default (term 0, no vote) if none.
    pub hard_state: HardState,
    /// The log, contiguous from index 1, with overwritten suffixes already replaced.
    pub entries: Vec<Entry>,
    /// One line per repair made on open (a torn tail truncated), naming file and offset.
    pub warnings: Vec<String>,
}

/// An append-only log of hard states and entries over a [`LogFile`].
///
/// The Wal only writes and replays; the Raft core keeps the log in memory.
#[derive(Debug)]
pub struct Wal<F: LogFile> {
    /// The file records go to; it always ends at a record boundary unless an
    /// append failed, which sets `failed`.
    file: F,
    /// The file's name in errors and warnings, e.g. `data/node1/raft.log`.
    name: String,
    /// The index of the last entry in the log as replay would rebuild it; 0 if empty.
    last_index: Index,
    /// The last hard state written; terms never decrease.
    hard_state: HardState,
    /// Set by a failed write or sync: the file's tail is then unknown, and
    /// retrying an fsync after a failure can report success for lost data.
    failed: bool,
    /// Encoding buffer, reused across appends to avoid an allocation each time.
    buffer: Vec<u8>,
}

impl<F: LogFile> Wal<F> {
    /// Replays `file`, truncating a torn final record (with a warning), and
    /// returns the log ready for appending together with what it held.
    /// Any other damage refuses to open with [`StorageError::Corrupt`].
    pub fn open(mut file: F, name_for_errors: String) -> Result<(Wal<F>, Recovered), StorageError> {
        let name = name_for_errors;
        let bytes = file
            .read_all()
            .map_err(|e| StorageError::io(&name, "read", e))?;
        let mut recovered = Recovered::default();
        let mut offset = 0;
        loop {
            let corrupt = |reason| StorageError::Corrupt {
                file: name.clone(),
                offset: offset as u64,
                reason,
            };
            match record::decode(&bytes, offset) {
                Frame::Record { record, next } => {
                    replay(record, &mut recovered).map_err(corrupt)?;
                    offset = next;
                }
                Frame::End => break,
                Frame::Torn { reason } => {
                    truncate_torn_tail(&mut file, &name, offset, bytes.len(), &reason)?;
                    let dropped = bytes.len() - offset;
                    let warning = format!(
                        "log file {name}: truncated a torn record at byte {offset} \
                         ({dropped} bytes dropped: {reason})"
                    );
                    tracing::warn!("{warning}");
                    recovered.warnings.push(warning);
                    break;
                }
                Frame::Corrupt { reason } => return Err(corrupt(reason)),
            }
        }
        let wal = Wal {
            file,
            name,
            last_index: recovered.entries.last().map_or(0, |entry| entry.index),
            hard_state: recovered.hard_state,
            failed: false,
            buffer: Vec::new(),
        };
        Ok((wal, recovered))
    }

    /// Writes `hard_state` (if any) and then `entries` in one write, and makes
    /// them durable with one sync: the caller batches everything pending into
    /// one call (group commit). `entries` must start at or below
    /// `last_index() + 1`; starting below overwrites the log from there.
    /// Nothing to write means no I/O at all.
    pub fn append(
        &mut self,
        hard_state: Option<HardState>,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        if hard_state.is_none() && entries.is_empty() {
            return Ok(());
        }
        if self.failed {
            let error = std::io::Error::other("an earlier write or sync failed; reopen the log");
            return Err(StorageError::io(&self.name, "append to", error));
        }
        if let Some(hard_state) = &hard_state {
            assert_hard_state_follows(&self.hard_state, hard_state);
        }
        assert_entries_follow(self.last_index, entries);

        self.buffer.clear();
        if let Some(hard_state) = &hard_state {
            record::encode(&RecordRef::HardState(hard_state), &mut self.buffer);
        }
        for chunk in entries.chunks(ENTRIES_PER_RECORD_MAX) {
            record::encode(&RecordRef::Entries(chunk), &mut self.buffer);
        }
        if let Err(error) = self.file.append(&self.buffer) {
            self.failed = true;
            return Err(StorageError::io(&self.name, "append to", error));
        }
        if let Err(error) = self.file.sync() {
            self.failed = true;
            return Err(StorageError::io(&self.name, "sync", error));
        }

        if let Some(hard_state) = hard_state {
            self.hard_state = hard_state;
        }
        if let Some(last) = entries.last() {
            self.last_index = last.index;
        }
        Ok(())
    }

    /// The index of the last entry written; 0 when the log is empty.
    pub fn last_index(&self) -> Index {
        self.last_index
    }

    /// The last hard state written (or recovered).
    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }

    /// The file's size in bytes: it only grows until snapshots compact it.
    pub fn size_bytes(&self) -> u64 {
        self.file.len()
    }

    /// The file's name as used in errors and warnings.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Applies one replayed record to the log being rebuilt, or says why it cannot be.
fn replay(record: Record, recovered: &mut Recovered) -> Result<(), String> {
    match record {
        Record::HardState(hard_state) => {
            if hard_state.term < recovered.hard_state.term {
                return Err(format!(
                    "hard state term went back from {} to {}",
                    recovered.hard_state.term, hard_state.term
                ));
            }
            recovered.hard_state = hard_state;
        }
        Record::Entries(entries) => {
            let last_index = recovered.entries.last().map_or(0, |entry| entry.index);
            check_entries_follow(last_index, &entries)?;
            let Some(first) = entries.first() else {
                return Err("empty entries record".to_string());
            };
            recovered.entries.truncate(first.index as usize - 1);
            recovered.entries.extend(entries);
        }
    }
    Ok(())
}

/// Checks that `entries` are contiguous, with non-decreasing terms, and can
/// follow a log whose last index is `last_index` (possibly overwriting it).
fn check_entries_follow(last_index: Index, entries: &[Entry]) -> Result<(), String> {
    let Some(first) = entries.first() else {
        return Ok(());
    };
    if first.index == 0 || first.index > last_index + 1 {
        return Err(format!(
            "entries start at index {} but must start within 1..={}",
            first.index,
            last_index + 1
        ));
    }
    for pair in entries.windows(2) {
        if pair[1].index != pair[0].index + 1 {
            return Err(format!(
                "entries not contiguous: index {} follows {}",
                pair[1].index, pair[0].index
            ));
        }
        if pair[1].term < pair[0].term {
            return Err(format!(
                "entry terms go back from {} to {} at index {}",
                pair[0].term, pair[1].term, pair[1].index
            ));
        }
    }
    Ok(())
}

/// Panics unless `entries` can be appended to a log ending at `last_index`: a bug in the caller.
fn assert_entries_follow(last_index: Index, entries: &[Entry]) {
    if let Err(reason) = check_entries_follow(last_index, entries) {
        panic!("appending to the write-ahead log: {reason}");
    }
}

/// Panics if `next` would undo `current`: a term never decreases, and a vote
/// cast in a term is never changed within that term (paper Figure 2).
fn assert_hard_state_follows(current: &HardState, next: &HardState) {
    assert!(
        next.term >= current.term,
        "hard state term going back from {} to {}",
        current.term,
        next.term
    );
    if next.term == current.term && current.voted_for.is_some() {
        assert_eq!(
            next.voted_for, current.voted_for,
            "vote changed within term {}",
            current.term
        );
    }
}

/// Cuts a torn tail off the file at `offset` and makes the cut durable.
fn truncate_torn_tail<F: LogFile>(
    file: &mut F,
    name: &str,
    offset: usize,
    file_len: usize,
    reason: &str,
) -> Result<(), StorageError> {
    debug_assert!(offset < file_len, "a torn tail has bytes ({reason})");
    file.truncate(offset as u64)
        .map_err(|e| StorageError::io(name, "truncate", e))?;
    file.sync().map_err(|e| StorageError::io(name, "sync", e))
}
