//! A node's simulated disk: the real write-ahead log ([`Wal`]) over a
//! [`MemFile`] whose [`MemDisk`] outlives the node's crashes.
//!
//! This is the seam between the simulator and storage: the node driver calls
//! [`SimDisk::append`] with each `Ready`'s hard state and entries (one synced
//! write), [`SimDisk::append_torn`] when the node crashes in the middle of
//! that write (a prefix of the unsynced bytes survives, possibly ending
//! inside a record, which recovery must truncate), and [`SimDisk::recover`]
//! when it restarts, which replays the file with [`Wal::open`].
//!
//! Alongside the file it keeps a shadow of what is durable, as values, for
//! the invariants to read cheaply ([`SimDisk::durable_term_at`]); every
//! recovery asserts that the WAL gives back exactly that shadow, so a storage
//! bug that loses synced data shows up as a failed seed.

use crate::raft::{Entry, HardState, Index, Term};
use crate::storage::{MemDisk, MemFile, Wal};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub use crate::storage::Recovered;

/// One node's disk; it outlives the node's crashes.
pub struct SimDisk {
    /// Where the bytes live; survives crashes.
    disk: MemDisk,
    /// The open log; `None` after a crash until the next recovery.
    wal: Option<Wal<MemFile>>,
    /// The file's name in storage warnings and errors.
    name: String,
    /// The durable hard state, as values.
    hard_state: HardState,
    /// The term of each durable entry; `terms[i]` is index `i + 1`.
    terms: Vec<Term>,
    /// A write was torn since the last recovery, so the file may hold more
    /// (or, for an overwrite, less) than the shadow until it is replayed.
    torn: bool,
}

impl SimDisk {
    /// A blank disk, as a brand-new node has.
    pub fn new(name: String) -> SimDisk {
        SimDisk {
            disk: MemDisk::new(),
            wal: None,
            name,
            hard_state: HardState::default(),
            terms: Vec::new(),
            torn: false,
        }
    }

    /// Replays the file, as a node does when it starts. A torn tail is
    /// truncated with a warning; anything else unreadable is a bug.
    pub fn recover(&mut self) -> Recovered {
        let (wal, recovered) = Wal::open(self.disk.open(), self.name.clone())
            .unwrap_or_else(|error| panic!("storage refused to recover {}: {error}", self.name));
        let terms: Vec<Term> = recovered.entries.iter().map(|entry| entry.term).collect();
        if !self.torn {
            assert_eq!(
                (recovered.hard_state, &terms),
                (self.hard_state, &self.terms),
                "{}: recovery differs from what was synced",
                self.name
            );
        }
        self.hard_state = recovered.hard_state;
        self.terms = terms;
        self.wal = Some(wal);
        self.torn = false;
        recovered
    }

    /// Writes `hard_state` and `entries` and syncs them. Entries starting at
    /// or below the last index overwrite the log from there.
    pub fn append(&mut self, hard_state: Option<HardState>, entries: &[Entry]) {
        let wal = self.wal.as_mut().expect("disk is open");
        wal.append(hard_state, entries)
            .unwrap_or_else(|error| panic!("a simulated disk never fails: {error}"));
        self.remember(hard_state, entries);
    }

    /// The node crashes while writing `hard_state` and `entries`, before the
    /// sync: a random prefix of the write survives. Returns its length.
    pub fn append_torn(
        &mut self,
        hard_state: Option<HardState>,
        entries: &[Entry],
        rng: &mut ChaCha8Rng,
    ) -> usize {
        let before = self.disk.bytes();
        let mut wal = self.wal.take().expect("disk is open");
        wal.append(hard_state, entries)
            .unwrap_or_else(|error| panic!("a simulated disk never fails: {error}"));
        let mut after = self.disk.bytes();
        let written = after.len() - before.len();
        let torn_bytes = if written == 0 {
            0
        } else {
            rng.random_range(0..written)
        };
        after.truncate(before.len() + torn_bytes);
        self.disk.set_bytes(after);
        // What survived is known only once recovery replays it.
        self.torn = true;
        torn_bytes
    }

    /// The term of the durable entry at `index`, if the disk holds one.
    pub fn durable_term_at(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.terms.get(index as usize - 1).copied()
    }

    /// The durable hard state.
    pub fn durable_hard_state(&self) -> HardState {
        self.hard_state
    }

    fn remember(&mut self, hard_state: Option<HardState>, entries: &[Entry]) {
        if let Some(hard_state) = hard_state {
            self.hard_state = hard_state;
        }
        if let Some(first) = entries.first() {
            self.terms.truncate((first.index - 1) as usize);
            self.terms.extend(entries.iter().map(|entry| entry.term));
        }
    }
}
