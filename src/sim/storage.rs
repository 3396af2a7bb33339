//! A node's simulated disk: the real write-ahead log ([`Wal`]) over a
//! [`MemFile`] whose [`MemDisk`] outlives the node's crashes.
//!
//! This is the seam between the simulator and storage: the node driver calls
//! [`SimDisk::append`] with each `Ready`'s hard state and entries (one write,
//! which the WAL syncs), [`SimDisk::append_until_power_loss`] when the node
//! is to crash in the middle of that write (the bytes are written but the
//! sync never completes), [`SimDisk::crash`] whenever the node crashes, and
//! [`SimDisk::recover`] when it restarts, which replays the file with
//! [`Wal::open`].
//!
//! A crash keeps exactly the bytes the WAL synced ([`MemDisk::synced_len`]);
//! of the bytes written after the last sync, [`MemDisk::crash`] keeps none,
//! or, for a crash during a write, a random prefix, which may end inside a
//! record that recovery must then truncate. Nothing here decides on its own
//! that a write is durable: if the WAL forgot to sync, the bytes are lost.
//!
//! Alongside the file it keeps a shadow of what is durable — what the synced
//! bytes hold — as values, for the invariants to read cheaply
//! ([`SimDisk::durable_term_at`]). A write enters the shadow only once the
//! file's synced length covers it. Every recovery asserts that the WAL gives
//! back exactly that shadow, plus, after a crash during a write, a prefix of
//! the records of the unsynced writes that survived in part (which is only
//! known once recovery replays them), so storage that loses synced data, or
//! invents data, shows up as a failed seed.

use crate::raft::{Entry, HardState, Index, Term};
use crate::storage::{LogFile, MemDisk, MemFile, Wal};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

pub use crate::storage::Recovered;

/// How [`SimFile::sync`] behaves; shared between the disk and its open file.
const SYNC_WORKS: u8 = 0;
/// The power is gone: a sync fails and makes nothing durable.
const SYNC_POWER_LOST: u8 = 1;
/// A disk (or a WAL with fsync off) that reports success without syncing:
/// tests use it to check that the simulator notices unsynced data.
const SYNC_IGNORED: u8 = 2;

/// The WAL's file: a [`MemFile`] whose sync can fail (the power went during
/// the write) or silently do nothing (for tests of the simulator itself).
struct SimFile {
    /// The bytes, on the disk that survives the node.
    file: MemFile,
    /// One of the `SYNC_` constants, set by the [`SimDisk`].
    sync: Arc<AtomicU8>,
}

impl LogFile for SimFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.append(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        match self.sync.load(Ordering::Relaxed) {
            SYNC_WORKS => self.file.sync(),
            SYNC_POWER_LOST => Err(io::Error::other("power lost before the sync completed")),
            SYNC_IGNORED => Ok(()),
            other => unreachable!("unknown sync mode {other}"),
        }
    }

    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        self.file.read_all()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.truncate(len)
    }

    fn len(&self) -> u64 {
        self.file.len()
    }
}

/// A hard state and a log, as values: what the disk holds durably, or what
/// recovery gave back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Shadow {
    /// The hard state.
    hard_state: HardState,
    /// The term of each entry; `terms[i]` is index `i + 1`.
    terms: Vec<Term>,
}

impl Shadow {
    /// The shadow after `write` replays whole: a hard state replaces the old
    /// one, entries cut the log back to just before their first index.
    fn apply(&mut self, write: &Write) {
        self.record(
            write.hard_state,
            write.first_index,
            write.terms.iter().copied(),
        );
    }

    /// [`Shadow::apply`] for a write given as its parts.
    fn record(
        &mut self,
        hard_state: Option<HardState>,
        first_index: Index,
        terms: impl ExactSizeIterator<Item = Term>,
    ) {
        if let Some(hard_state) = hard_state {
            self.hard_state = hard_state;
        }
        if terms.len() > 0 {
            self.terms.truncate((first_index - 1) as usize);
            self.terms.extend(terms);
        }
    }

    /// Whether `recovered` is this shadow plus a prefix of `write`'s records
    /// (its hard state record, then its entries, possibly only some of them):
    /// what a write that reached the disk only in part can leave. Entry
    /// records are taken to break at any entry, which is looser than the
    /// WAL's real record size but keeps the check free of the file format.
    fn plus_prefix_of(&self, write: &Write, recovered: &Shadow) -> bool {
        if recovered == self {
            return true; // None of the write survived.
        }
        let hard_state = write.hard_state.unwrap_or(self.hard_state);
        if recovered.hard_state != hard_state {
            return false;
        }
        if recovered.terms == self.terms {
            return true; // The hard state record survived, no entries.
        }
        if write.terms.is_empty() {
            return false;
        }
        let cut = (write.first_index - 1) as usize;
        let Some(kept) = recovered.terms.get(cut..) else {
            return false;
        };
        !kept.is_empty()
            && write.terms.starts_with(kept)
            && self.terms.get(..cut) == Some(&recovered.terms[..cut])
    }
}

/// One append to the file, remembered until the synced length covers it.
#[derive(Clone, Debug)]
struct Write {
    /// The file's length when the write ended.
    end: usize,
    /// The hard state it carries, if any.
    hard_state: Option<HardState>,
    /// The index of its first entry (meaningless when `terms` is empty).
    first_index: Index,
    /// The terms of its entries.
    terms: Vec<Term>,
}

impl Write {
    fn new(end: usize, hard_state: Option<HardState>, entries: &[Entry]) -> Write {
        Write {
            end,
            hard_state,
            first_index: entries.first().map_or(0, |entry| entry.index),
            terms: entries.iter().map(|entry| entry.term).collect(),
        }
    }
}

/// What a crash left beyond the synced bytes, for the next recovery to check.
#[derive(Debug, Default)]
struct CrashTail {
    /// The unsynced writes that ended within the bytes kept: they replay whole.
    whole: Vec<Write>,
    /// The unsynced write the crash cut, if any: some prefix of its records
    /// (perhaps none) replays.
    cut: Option<Write>,
}

/// One node's disk; it outlives the node's crashes.
pub struct SimDisk {
    /// Where the bytes live; survives crashes.
    disk: MemDisk,
    /// The open log; `None` after a crash until the next recovery.
    wal: Option<Wal<SimFile>>,
    /// How the open file's sync behaves (`SYNC_` constants).
    sync: Arc<AtomicU8>,
    /// The file's name in storage warnings and errors.
    name: String,
    /// What the synced bytes hold.
    durable: Shadow,
    /// Writes beyond the synced length, oldest first. Empty while the WAL
    /// syncs every append, as it must.
    unsynced: Vec<Write>,
    /// Set by a crash that kept unsynced bytes; checked and cleared by recovery.
    tail: CrashTail,
}

impl SimDisk {
    /// A blank disk, as a brand-new node has.
    pub fn new(name: String) -> SimDisk {
        SimDisk {
            disk: MemDisk::new(),
            wal: None,
            sync: Arc::new(AtomicU8::new(SYNC_WORKS)),
            name,
            durable: Shadow::default(),
            unsynced: Vec::new(),
            tail: CrashTail::default(),
        }
    }

    /// Replays the file, as a node does when it starts. A torn tail is
    /// truncated with a warning; anything else unreadable is a bug, and so
    /// is a recovery that differs from the synced data (plus, after a crash
    /// during a write, a prefix of what that write held).
    pub fn recover(&mut self) -> Recovered {
        assert!(self.wal.is_none(), "{}: recovered while open", self.name);
        let file = SimFile {
            file: self.disk.open(),
            sync: Arc::clone(&self.sync),
        };
        let (wal, recovered) = Wal::open(file, self.name.clone())
            .unwrap_or_else(|error| panic!("storage refused to recover {}: {error}", self.name));
        let got = Shadow {
            hard_state: recovered.hard_state,
            terms: recovered.entries.iter().map(|entry| entry.term).collect(),
        };
        let tail = std::mem::take(&mut self.tail);
        let mut expected = self.durable.clone();
        for write in &tail.whole {
            expected.apply(write);
        }
        let matches = match &tail.cut {
            None => got == expected,
            Some(cut) => expected.plus_prefix_of(cut, &got),
        };
        assert!(
            matches,
            "{}: recovery differs from what was synced\n recovered {got:?}\n synced    {:?}\n then whole {:?}\n then part of {:?}",
            self.name, self.durable, tail.whole, tail.cut
        );
        // Recovery truncated (and synced) any torn record: what it replayed
        // is exactly what is durable now.
        assert_eq!(
            self.disk.synced_len() as u64,
            wal.size_bytes(),
            "{}: unsynced bytes after recovery",
            self.name
        );
        self.durable = got;
        self.wal = Some(wal);
        recovered
    }

    /// Writes `hard_state` and `entries`; the WAL syncs them. Entries starting
    /// at or below the last index overwrite the log from there. They count as
    /// durable only once the file's synced length covers them.
    pub fn append(&mut self, hard_state: Option<HardState>, entries: &[Entry]) {
        let wal = self.wal.as_mut().expect("disk is open");
        wal.append(hard_state, entries)
            .unwrap_or_else(|error| panic!("a simulated disk never fails: {error}"));
        let end = wal.size_bytes() as usize;
        self.written(end, hard_state, entries);
    }

    /// The power goes while `hard_state` and `entries` are being written: the
    /// bytes reach the file but the WAL's sync fails. The node must crash
    /// next ([`SimDisk::crash`] with `tear`), before anything else.
    pub fn append_until_power_loss(&mut self, hard_state: Option<HardState>, entries: &[Entry]) {
        let wal = self.wal.as_mut().expect("disk is open");
        self.sync.store(SYNC_POWER_LOST, Ordering::Relaxed);
        // The sync fails, so the WAL refuses further appends; no matter,
        // the node is dead and recovery opens a fresh one.
        let _ = wal.append(hard_state, entries);
        let end = wal.size_bytes() as usize;
        self.written(end, hard_state, entries);
    }

    /// The node crashes: the open log is gone, and so is every byte written
    /// after the last sync — except, when `tear` is given (a crash during a
    /// write), a random prefix of them, which may end inside a record.
    /// Returns how many unsynced bytes survive.
    pub fn crash(&mut self, tear: Option<&mut ChaCha8Rng>) -> usize {
        self.wal = None;
        // The power is back for the restart; a lying disk (tests) stays one.
        let _ = self.sync.compare_exchange(
            SYNC_POWER_LOST,
            SYNC_WORKS,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        let synced = self.disk.synced_len();
        let unsynced = self.disk.open().len() as usize - synced;
        let torn_bytes = match tear {
            Some(rng) if unsynced > 0 => rng.random_range(0..=unsynced),
            _ => 0,
        };
        self.disk.crash(torn_bytes);
        let kept = synced + torn_bytes;
        let mut tail = CrashTail::default();
        for write in self.unsynced.drain(..) {
            if write.end <= kept {
                tail.whole.push(write);
            } else {
                tail.cut = Some(write);
                break;
            }
        }
        self.tail = tail;
        torn_bytes
    }

    /// The term of the durable entry at `index`, if the synced bytes hold one.
    pub fn durable_term_at(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.durable.terms.get(index as usize - 1).copied()
    }

    /// The durable hard state.
    pub fn durable_hard_state(&self) -> HardState {
        self.durable.hard_state
    }

    /// Makes every sync report success without syncing, as a disk that lies
    /// about fsync (or a WAL that skips it) would: for tests that check the
    /// simulator catches the lost data.
    #[cfg(test)]
    pub(crate) fn ignore_syncs(&mut self) {
        self.sync.store(SYNC_IGNORED, Ordering::Relaxed);
    }

    /// Restores working syncs after [`SimDisk::ignore_syncs`].
    #[cfg(test)]
    pub(crate) fn honour_syncs(&mut self) {
        self.sync.store(SYNC_WORKS, Ordering::Relaxed);
    }

    /// The bytes on the disk, synced or not, and how many are synced.
    #[cfg(test)]
    pub(crate) fn raw(&self) -> (Vec<u8>, usize) {
        (self.disk.bytes(), self.disk.synced_len())
    }

    /// Notes a write that ended at byte `end`, then moves every write the
    /// synced length now covers into the durable shadow.
    fn written(&mut self, end: usize, hard_state: Option<HardState>, entries: &[Entry]) {
        let synced = self.disk.synced_len();
        if self.unsynced.is_empty() && end <= synced {
            // The usual case, without copying: the WAL synced this write.
            let first_index = entries.first().map_or(0, |entry| entry.index);
            let terms = entries.iter().map(|entry| entry.term);
            self.durable.record(hard_state, first_index, terms);
            return;
        }
        if hard_state.is_some() || !entries.is_empty() {
            self.unsynced.push(Write::new(end, hard_state, entries));
        }
        let covered = self
            .unsynced
            .iter()
            .take_while(|write| write.end <= synced)
            .count();
        for write in self.unsynced.drain(..covered) {
            self.durable.apply(&write);
        }
    }
}
