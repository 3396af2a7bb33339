//! Timings, switches and limits of the Raft core, all in abstract ticks and
//! counts: the driver decides how long a tick is (10 ms by default).

use serde::{Deserialize, Serialize};

/// Configuration of one Raft node. Every field has a unit in its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftConfig {
    /// A leader sends heartbeats this often; must be well below the election timeout.
    pub heartbeat_interval_ticks: u32,
    /// Lower bound of the randomized election timeout (paper §5.2).
    pub election_timeout_min_ticks: u32,
    /// Upper bound (exclusive) of the randomized election timeout.
    pub election_timeout_max_ticks: u32,
    /// Ask for pre-votes before raising the term, so a node returning from
    /// isolation cannot disrupt a working leader (thesis §9.6).
    pub pre_vote: bool,
    /// A leader that has not heard from a majority within an election timeout
    /// steps down, and followers ignore vote requests while they hear from a
    /// leader (thesis §6.2, §4.2.3).
    pub check_quorum: bool,
    /// AppendEntries sent to one peer without waiting for a reply (pipelining).
    pub max_inflight_appends: usize,
    /// Entries carried by one AppendEntries at most.
    pub max_entries_per_append: usize,
    /// Approximate payload bytes carried by one AppendEntries at most.
    pub max_bytes_per_append: usize,
    /// A replicating leader that sees no acknowledgement from a peer for this
    /// long assumes appends were lost and probes again from the match index.
    pub append_retry_ticks: u32,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            heartbeat_interval_ticks: 5,
            election_timeout_min_ticks: 15,
            election_timeout_max_ticks: 30,
            pre_vote: true,
            check_quorum: true,
            max_inflight_appends: 16,
            max_entries_per_append: 512,
            max_bytes_per_append: 1 << 20,
            append_retry_ticks: 10,
        }
    }
}

impl RaftConfig {
    /// Rejects configurations under which Raft cannot work reliably.
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat_interval_ticks == 0 {
            return Err("heartbeat_interval_ticks must be at least 1".into());
        }
        if self.election_timeout_min_ticks <= self.heartbeat_interval_ticks {
            return Err(format!(
                "election_timeout_min_ticks ({}) must exceed heartbeat_interval_ticks ({})",
                self.election_timeout_min_ticks, self.heartbeat_interval_ticks
            ));
        }
        if self.election_timeout_max_ticks <= self.election_timeout_min_ticks {
            return Err(format!(
                "election_timeout_max_ticks ({}) must exceed election_timeout_min_ticks ({})",
                self.election_timeout_max_ticks, self.election_timeout_min_ticks
            ));
        }
        if self.max_inflight_appends == 0 || self.max_entries_per_append == 0 {
            return Err(
                "max_inflight_appends and max_entries_per_append must be at least 1".into(),
            );
        }
        if self.append_retry_ticks == 0 {
            return Err("append_retry_ticks must be at least 1".into());
        }
        Ok(())
    }
}
