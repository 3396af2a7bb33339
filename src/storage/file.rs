//! The file a [`Wal`](super::Wal) writes to, and its on-disk implementation.
//!
//! The trait is the seam between the write-ahead-log logic and the world:
//! [`DiskFile`] is a real file, [`MemFile`](super::MemFile) a simulated one
//! that can crash and tear writes deterministically.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An append-only file with an explicit durability point.
///
/// Bytes given to [`append`](LogFile::append) may be lost, or kept only in
/// part (a torn write), until [`sync`](LogFile::sync) returns `Ok`.
pub trait LogFile: Send {
    /// Writes `bytes` at the end of the file. Not durable until `sync`.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes every byte appended so far durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Reads the whole file from the start.
    fn read_all(&mut self) -> io::Result<Vec<u8>>;
    /// Cuts the file down to `len` bytes; durable only after `sync`.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// The file's length in bytes, including what is not yet synced.
    fn len(&self) -> u64;
    /// Whether the file holds no bytes at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a [`DiskFile`] makes data durable. Labs turn these knobs to show what
/// fsync costs and what skipping it risks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskOptions {
    /// When false every fsync (of the file and of its directory) is skipped:
    /// fast, and a machine crash can lose acknowledged writes.
    pub fsync: bool,
    /// Extra sleep after each real fsync, to imitate a slow disk. Ignored when
    /// `fsync` is false, because then there is no sync to slow down.
    pub fsync_delay: Duration,
}

impl Default for DiskOptions {
    /// Durable and undelayed: what production wants.
    fn default() -> Self {
        DiskOptions {
            fsync: true,
            fsync_delay: Duration::ZERO,
        }
    }
}

/// A real file opened for appending, created if missing.
#[derive(Debug)]
pub struct DiskFile {
    /// The open file; its write position is always the end (append mode).
    file: File,
    /// Where the file lives, for error messages.
    path: PathBuf,
    /// The file's length: what was there at open plus every append, minus truncations.
    len_bytes: u64,
    /// How `sync` behaves.
    options: DiskOptions,
}

impl DiskFile {
    /// Opens (creating if needed) the file at `path` for appending.
    pub fn open(path: &Path, options: DiskOptions) -> io::Result<DiskFile> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let len_bytes = file.metadata()?.len();
        Ok(DiskFile {
            file,
            path: path.to_path_buf(),
            len_bytes,
            options,
        })
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl LogFile for DiskFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len_bytes += bytes.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        if !self.options.fsync {
            return Ok(());
        }
        // sync_data also flushes the file size, which is all the metadata a
        // reader needs; timestamps can stay behind.
        self.file.sync_data()?;
        if !self.options.fsync_delay.is_zero() {
            std::thread::sleep(self.options.fsync_delay);
        }
        Ok(())
    }

    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        // In append mode writes ignore the cursor, so moving it is harmless.
        self.file.seek(SeekFrom::Start(0))?;
        let mut bytes = Vec::with_capacity(self.len_bytes as usize);
        self.file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.len_bytes = len;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len_bytes
    }
}

/// Fsyncs a directory, so that a file created (or renamed) in it survives a
/// machine crash: the file's own fsync does not cover its directory entry.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
