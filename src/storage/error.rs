//! The storage layer's one error type.

use std::fmt;
use std::io;

/// What can go wrong in storage. Both variants are operating errors (the
/// world misbehaved); a caller's bug, such as appending a gap, panics instead.
#[derive(Debug)]
pub enum StorageError {
    /// An I/O call failed. After a failed write or sync the file's contents
    /// are unknown, so the [`Wal`](super::Wal) refuses further appends.
    Io {
        /// The file (or directory) the operation was on, as given by the caller.
        file: String,
        /// What was being done, as a verb phrase: `"open"`, `"sync"`, `"append to"`.
        operation: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The log holds bytes that cannot be a torn tail: refusing to start is
    /// safer than silently dropping entries that may have been committed.
    Corrupt {
        /// The log file, as given by the caller.
        file: String,
        /// Byte offset of the first bad record's header.
        offset: u64,
        /// What is wrong there, lowercase.
        reason: String,
    },
}

impl StorageError {
    /// Wraps an I/O error with the file and the operation that failed.
    pub fn io(file: &str, operation: &'static str, source: io::Error) -> Self {
        StorageError::Io {
            file: file.to_string(),
            operation,
            source,
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Io {
                file,
                operation,
                source,
            } => {
                write!(f, "cannot {operation} {file}: {source}")
            }
            StorageError::Corrupt {
                file,
                offset,
                reason,
            } => {
                write!(f, "corrupt log file {file} at byte {offset}: {reason}")
            }
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Io { source, .. } => Some(source),
            StorageError::Corrupt { .. } => None,
        }
    }
}
