//! Durable storage for the Raft log and hard state.
//!
//! Raft's safety rests on a few things surviving a crash (paper Figure 2,
//! "Persistent state on all servers"): the current term, the vote cast in it,
//! and the log. They must be durable *before* any message that depends on them
//! leaves the node: a vote granted and then forgotten lets a node vote twice in
//! one term; an acknowledged entry that is then forgotten can un-commit it.
//!
//! # How it works
//!
//! Everything goes into one append-only file, `raft.log`, as a sequence of
//! checksummed records, each `[len: u32 LE][crc32 of body: u32 LE][body]`,
//! the body being the postcard encoding of one of:
//!
//! - a **hard-state record** holds the term and vote; the last one wins;
//! - an **entries record** holds up to 1024 contiguous entries (a larger
//!   append becomes several records). If its first index is at or below the
//!   log's last index, replay cuts the log back to just before it and then
//!   appends: this is how a follower's overwrite of a conflicting suffix
//!   (paper §5.3) is stored without ever rewriting bytes in place.
//!
//! [`Wal::append`] encodes a hard state (if any) and then the entries into one
//! buffer, writes it with one call, and makes it durable with one fsync. The
//! caller hands it everything pending at once, so many client writes share one
//! fsync (group commit), and the hard state is durable no later than the
//! entries. [`Wal::open`] replays the file into a [`Recovered`] value: the last
//! hard state and the log with overwrites applied. The Wal keeps no copy of the
//! log, only its last index and hard state, to assert that appends are
//! contiguous and that terms never go back.
//!
//! # Crashes and corruption
//!
//! A crash can tear only the last write: the file then ends inside a record,
//! or its final record fails its checksum, or (on some file systems) it ends in
//! zeros. Such a tail was never synced, so nobody was told it was durable;
//! open truncates it away and reports a warning naming the file and offset.
//! Anything else (a bad checksum with records after it, a record whose
//! checksum holds but whose body does not decode, entries with a gap) cannot
//! come from a crash, and dropping it could lose committed entries, so open
//! refuses with [`StorageError::Corrupt`], naming the file and byte offset.
//! After a failed write or fsync the Wal refuses further appends: the tail is
//! unknown, and on Linux a retried fsync can report success for pages it
//! already dropped. The node should stop; reopening recovers the valid prefix.
//!
//! The file is a [`LogFile`]: a [`DiskFile`] in production, or a [`MemFile`]
//! in tests and the simulator, whose [`MemDisk`] survives a node's crash and
//! can drop or tear whatever was not synced, deterministically.
//!
//! # What it leaves out
//!
//! - **Snapshots and compaction** (a later goal): the file grows forever and is
//!   replayed whole on start. Snapshots will be written to a temporary file,
//!   fsynced and renamed into place (then the directory fsynced), after which
//!   the log can be rewritten to start after the snapshot's index, with
//!   `Recovered` gaining a first index.
//! - **A checksum over the length field**: a bit flip in the length of a record
//!   that points past the end of the file looks exactly like a torn tail and is
//!   truncated with a warning, dropping the records after it. A header checksum
//!   would tell the two apart, at the price of a format change.
//! - **Preallocation and segment files**: appends grow one file, so each fsync
//!   also writes the file size; fine at this scale.

mod error;
mod file;
mod mem;
mod record;
mod wal;

#[cfg(test)]
mod wal_tests;

use std::path::Path;

pub use error::StorageError;
pub use file::{sync_dir, DiskFile, DiskOptions, LogFile};
pub use mem::{MemDisk, MemFile, MemFileState};
pub use wal::{Recovered, Wal};

/// The log's file name inside a node's data directory.
pub const LOG_FILE_NAME: &str = "raft.log";

/// Opens (creating if needed) `dir/raft.log` and replays it. When the
/// directory or the file is new, its parent directory is fsynced so that the
/// new name itself survives a crash (unless `options.fsync` is off).
pub fn open_dir(
    dir: &Path,
    options: DiskOptions,
) -> Result<(Wal<DiskFile>, Recovered), StorageError> {
    let dir_name = dir.display().to_string();
    let dir_existed = dir.is_dir();
    std::fs::create_dir_all(dir).map_err(|e| StorageError::io(&dir_name, "create directory", e))?;
    if !dir_existed && options.fsync {
        if let Some(parent) = dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            let parent_name = parent.display().to_string();
            sync_dir(parent).map_err(|e| StorageError::io(&parent_name, "sync directory", e))?;
        }
    }

    let path = dir.join(LOG_FILE_NAME);
    let name = path.display().to_string();
    let file_existed = path.exists();
    let file = DiskFile::open(&path, options).map_err(|e| StorageError::io(&name, "open", e))?;
    if !file_existed && options.fsync {
        sync_dir(dir).map_err(|e| StorageError::io(&dir_name, "sync directory", e))?;
    }
    Wal::open(file, name)
}
