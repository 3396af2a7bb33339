//! The commands the cache state machine applies, and their log encoding.
//!
//! Every command is decided completely by the leader before it enters the log
//! (a TTL becomes an absolute expiry), so applying it is deterministic and
//! every replica ends in the same state (paper §5, "State machine safety").

use serde::{Deserialize, Serialize};

/// A state-machine command as stored in a log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Store `value` (JSON text, kept verbatim) under `key`.
    Set {
        key: String,
        /// The value as JSON text, exactly as the client sent it.
        value: String,
        /// Wall-clock expiry in Unix milliseconds, decided by the leader.
        expires_at_ms: Option<u64>,
    },
    /// Remove one key.
    Delete { key: String },
    /// Remove every key, in one log entry.
    Clear,
}

impl Command {
    /// Encodes the command for a log entry payload.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("encoding a command into memory cannot fail")
    }

    /// Decodes a log entry payload. An undecodable committed entry means the
    /// log is corrupt or written by another version: the caller must stop.
    pub fn decode(bytes: &[u8]) -> Result<Command, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}
