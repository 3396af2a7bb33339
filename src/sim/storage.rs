//! A node's simulated disk, as the simulator sees it.
//!
//! This is the seam between the simulator and storage: the node driver calls
//! [`SimDisk::append`] with each `Ready`'s hard state and entries (one synced
//! write), [`SimDisk::append_torn`] when the node crashes in the middle of
//! that write, and [`SimDisk::recover`] when it restarts. The invariants read
//! [`SimDisk::durable_term_at`]: what a crash right now would leave.
//!
//! First version: a model of durable state kept as values. A crash in the
//! middle of a write loses the whole write.

use crate::raft::{Entry, HardState, Index, Term};
use rand_chacha::ChaCha8Rng;

/// What a restarted node finds on its disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The last hard state written durably.
    pub hard_state: HardState,
    /// The durable log, contiguous from index 1.
    pub entries: Vec<Entry>,
    /// Problems recovery repaired (a torn tail), for the trace.
    pub warnings: Vec<String>,
}

/// One node's disk; it outlives the node's crashes.
#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    /// The durable hard state.
    hard_state: HardState,
    /// The durable log.
    entries: Vec<Entry>,
}

impl SimDisk {
    /// A blank disk, as a brand-new node has.
    pub fn new(_name: String) -> SimDisk {
        SimDisk::default()
    }

    /// Reads back what survived, as a node does when it starts.
    pub fn recover(&mut self) -> Recovered {
        Recovered {
            hard_state: self.hard_state,
            entries: self.entries.clone(),
            warnings: Vec::new(),
        }
    }

    /// Writes `hard_state` and `entries` and syncs them. Entries starting at
    /// or below the last index overwrite the log from there.
    pub fn append(&mut self, hard_state: Option<HardState>, entries: &[Entry]) {
        if let Some(hard_state) = hard_state {
            self.hard_state = hard_state;
        }
        if let Some(first) = entries.first() {
            self.entries.truncate((first.index - 1) as usize);
            self.entries.extend_from_slice(entries);
        }
    }

    /// The node crashes while writing `hard_state` and `entries`, before the
    /// sync: returns how many bytes of the write survived.
    pub fn append_torn(
        &mut self,
        _hard_state: Option<HardState>,
        _entries: &[Entry],
        _rng: &mut ChaCha8Rng,
    ) -> usize {
        0
    }

    /// The term of the durable entry at `index`, if the disk holds one.
    pub fn durable_term_at(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.entries.get(index as usize - 1).map(|entry| entry.term)
    }

    /// The durable hard state.
    pub fn durable_hard_state(&self) -> HardState {
        self.hard_state
    }
}
