//! A simulated file for deterministic tests and the simulator: bytes in
//! memory, with a record of how many are durable, so a crash can drop or tear
//! whatever was written after the last sync.

use std::io;
use std::sync::Arc;

use parking_lot::Mutex;

use super::file::LogFile;

/// The contents of a simulated disk file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemFileState {
    /// Every byte written and not truncated, synced or not.
    pub bytes: Vec<u8>,
    /// How many leading bytes of `bytes` are durable; always `<= bytes.len()`.
    pub synced_len: usize,
}

/// A handle to a simulated disk file that outlives the node using it: the
/// simulator keeps a clone, lets the node crash, then reopens the same bytes.
/// Clones share the same file.
#[derive(Clone, Debug, Default)]
pub struct MemDisk {
    /// The shared contents.
    state: Arc<Mutex<MemFileState>>,
}

impl MemDisk {
    /// An empty disk file.
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    /// Opens the file, as a node does on start.
    pub fn open(&self) -> MemFile {
        MemFile { disk: self.clone() }
    }

    /// Simulates a power loss: everything written after the last sync is
    /// dropped except its first `torn_bytes` (clamped to what was written),
    /// which imitates a write that reached the platter only in part.
    pub fn crash(&self, torn_bytes: usize) {
        let mut state = self.state.lock();
        let unsynced = state.bytes.len() - state.synced_len;
        let kept = state.synced_len + torn_bytes.min(unsynced);
        state.bytes.truncate(kept);
        state.synced_len = kept;
    }

    /// A copy of every byte in the file, synced or not.
    pub fn bytes(&self) -> Vec<u8> {
        self.state.lock().bytes.clone()
    }

    /// Replaces the file's contents with `bytes`, all durable: for injecting
    /// torn tails and corruption.
    pub fn set_bytes(&self, bytes: Vec<u8>) {
        let mut state = self.state.lock();
        state.synced_len = bytes.len();
        state.bytes = bytes;
    }

    /// How many bytes are durable.
    pub fn synced_len(&self) -> usize {
        self.state.lock().synced_len
    }
}

/// A simulated log file, backed by a [`MemDisk`]. Never fails; clones share the disk.
#[derive(Clone, Debug, Default)]
pub struct MemFile {
    /// The disk this file's bytes live on.
    disk: MemDisk,
}

impl MemFile {
    /// A file on a fresh, empty disk.
    pub fn new() -> MemFile {
        MemFile::default()
    }

    /// The disk under this file, to keep across a crash.
    pub fn disk(&self) -> MemDisk {
        self.disk.clone()
    }

    /// Simulates a power loss; see [`MemDisk::crash`].
    pub fn crash(&mut self, torn_bytes: usize) {
        self.disk.crash(torn_bytes);
    }
}

impl LogFile for MemFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.disk.state.lock().bytes.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.disk.state.lock();
        state.synced_len = state.bytes.len();
        Ok(())
    }

    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        Ok(self.disk.bytes())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut state = self.disk.state.lock();
        let len = (len as usize).min(state.bytes.len());
        state.bytes.truncate(len);
        // Modelled as durable at once: a crash never brings cut bytes back.
        state.synced_len = state.synced_len.min(len);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.disk.state.lock().bytes.len() as u64
    }
}
