//! The on-disk record format of the write-ahead log.
//!
//! ```text
//! [len: u32 LE][crc32 of body: u32 LE][body: len bytes, postcard of Record]
//! ```
//!
//! One `append` call writes at most one hard-state record followed by one
//! entries record per [`ENTRIES_PER_RECORD_MAX`] entries, in a single write.

use serde::{Deserialize, Serialize};

use crate::raft::{Entry, HardState};

/// Size of a record header: the body length and the body checksum.
pub const HEADER_BYTES: usize = 8;

/// Largest body a record may have. A header claiming more is corruption,
/// not a record to allocate for.
pub const RECORD_BODY_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Most entries one record carries; a larger append is split into several
/// records so that no record nears [`RECORD_BODY_BYTES_MAX`].
pub const ENTRIES_PER_RECORD_MAX: usize = 1024;

/// What a record body holds, as read back.
#[derive(Debug, PartialEq, Eq, Deserialize)]
pub enum Record {
    /// The node's term and vote; the last one in the file wins.
    HardState(HardState),
    /// Contiguous entries. If the first index is at or below the log's last
    /// index, the log is cut back to just before it first (a follower
    /// overwriting a conflicting suffix).
    Entries(Vec<Entry>),
}

/// The same record, borrowed for writing: serializes to the same bytes as
/// [`Record`] (same variant order, and serde writes a slice like a `Vec`).
#[derive(Serialize)]
pub enum RecordRef<'a> {
    /// See [`Record::HardState`].
    HardState(&'a HardState),
    /// See [`Record::Entries`].
    Entries(&'a [Entry]),
}

/// Appends one framed record to `buffer`.
pub fn encode(record: &RecordRef<'_>, buffer: &mut Vec<u8>) {
    let start = buffer.len();
    buffer.extend_from_slice(&[0; HEADER_BYTES]);
    let taken = std::mem::take(buffer);
    *buffer = postcard::to_extend(record, taken).expect("encoding a record into a Vec cannot fail");
    let body = &buffer[start + HEADER_BYTES..];
    assert!(
        body.len() <= RECORD_BODY_BYTES_MAX,
        "record body of {} bytes exceeds RECORD_BODY_BYTES_MAX ({RECORD_BODY_BYTES_MAX}); \
         callers must bound entry sizes",
        body.len()
    );
    let crc = crc32fast::hash(body);
    let len = body.len() as u32;
    buffer[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buffer[start + 4..start + HEADER_BYTES].copy_from_slice(&crc.to_le_bytes());
}

/// What lies at one offset of the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole record whose checksum matches; the next frame starts at `next`.
    Record { record: Record, next: usize },
    /// The end of the file.
    End,
    /// The file ends inside this record, or this is the final record and its
    /// checksum fails: a write that a crash cut short. Safe to drop.
    Torn { reason: String },
    /// Bad bytes that a crash cannot explain. Never safe to drop.
    Corrupt { reason: String },
}

/// Reads the frame at `offset` of `bytes`.
pub fn decode(bytes: &[u8], offset: usize) -> Frame {
    let rest = &bytes[offset..];
    if rest.is_empty() {
        return Frame::End;
    }
    if rest.len() < HEADER_BYTES {
        return torn(format!(
            "incomplete header ({} of {HEADER_BYTES} bytes)",
            rest.len()
        ));
    }
    let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
    let stored_crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    if len == 0 || len > RECORD_BODY_BYTES_MAX {
        // A file system may extend a file before the data lands, leaving zeros.
        if rest.iter().all(|byte| *byte == 0) {
            return torn(format!("{} zero bytes at the end", rest.len()));
        }
        return corrupt(format!(
            "record length {len} outside 1..={RECORD_BODY_BYTES_MAX}"
        ));
    }
    let available = rest.len() - HEADER_BYTES;
    if available < len {
        return torn(format!("incomplete body ({available} of {len} bytes)"));
    }
    let body = &rest[HEADER_BYTES..HEADER_BYTES + len];
    let next = offset + HEADER_BYTES + len;
    let computed_crc = crc32fast::hash(body);
    if computed_crc != stored_crc {
        let reason =
            format!("checksum mismatch (stored {stored_crc:#010x}, computed {computed_crc:#010x})");
        return if next == bytes.len() {
            torn(reason)
        } else {
            corrupt(reason)
        };
    }
    match postcard::take_from_bytes::<Record>(body) {
        Ok((record, [])) => Frame::Record { record, next },
        Ok((_, trailing)) => corrupt(format!(
            "{} unexpected bytes after the record",
            trailing.len()
        )),
        Err(error) => corrupt(format!(
            "undecodable record with a valid checksum ({error})"
        )),
    }
}

fn torn(reason: String) -> Frame {
    Frame::Torn { reason }
}

fn corrupt(reason: String) -> Frame {
    Frame::Corrupt { reason }
}
