//! The serialized form of the whole cache, for log compaction (Raft paper §7).

use serde::{Deserialize, Serialize};

/// Every stored entry plus the index of the last command applied to produce it.
///
/// Entries are sorted by key so that two replicas with the same map at the same
/// `applied_index` produce byte-identical snapshots, unless one of them has
/// already purged entries that were invisible anyway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheSnapshot {
    /// The log index this snapshot reflects: every entry up to it, nothing after.
    pub applied_index: u64,
    /// Stored entries, live or expired-but-not-yet-purged, sorted by key.
    pub entries: Vec<SnapshotEntry>,
}

/// One stored key as it travels in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    /// The cache key; unique within a snapshot.
    pub key: String,
    /// The value as JSON text, verbatim as the client sent it.
    pub value: String,
    /// Absolute expiry in Unix milliseconds, as decided by the leader.
    pub expires_at_ms: Option<u64>,
}

impl CacheSnapshot {
    /// Encodes the snapshot with postcard, the same encoding as log entries.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("encoding a snapshot into memory cannot fail")
    }

    /// Decodes snapshot bytes; an error means they are corrupt or come from
    /// another version, and the caller must not install them.
    pub fn decode(bytes: &[u8]) -> Result<CacheSnapshot, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}
