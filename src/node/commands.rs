//! Turning client writes into log commands and applied commands into
//! effects the client sees.

use crate::cache::{ApplyOutcome, Command};
use crate::transport::{WriteEffect, WriteRequest};

/// The leader decides everything non-deterministic about a write before it
/// enters the log: here, a relative TTL becomes an absolute expiry.
pub(super) fn decide(request: &WriteRequest, now_ms: u64) -> Command {
    match request {
        WriteRequest::Set { key, value, ttl_ms } => Command::Set {
            key: key.clone(),
            value: value.clone(),
            expires_at_ms: ttl_ms.map(|ttl| now_ms.saturating_add(ttl)),
        },
        WriteRequest::Delete { key } => Command::Delete { key: key.clone() },
        WriteRequest::Clear => Command::Clear,
    }
}

pub(super) fn effect_of(command: &Command, outcome: ApplyOutcome) -> WriteEffect {
    match (command, outcome) {
        (Command::Set { expires_at_ms, .. }, ApplyOutcome::Stored { created }) => {
            WriteEffect::Stored {
                created,
                expires_at_ms: *expires_at_ms,
            }
        }
        (_, ApplyOutcome::Deleted { existed }) => WriteEffect::Deleted { existed },
        (_, ApplyOutcome::Cleared { removed }) => WriteEffect::Cleared {
            removed: removed as u64,
        },
        (command, outcome) => unreachable!("{command:?} produced {outcome:?}"),
    }
}
