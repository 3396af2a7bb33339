//! State machine safety (paper Figure 3, §5.4.3): if a server has applied a
//! log entry at a given index, no other server will ever apply a different
//! log entry for the same index.

use super::{Committed, Observed, Violation};
use crate::raft::{Entry, NodeId, Term};

/// What applying one entry taught the checks.
pub enum Applied {
    /// The first time any node applied this index.
    New,
    /// Seen before; the recorded commit term may have dropped.
    Known,
}

/// Records that `node`, in `term`, applied `entry`; fails if another node
/// applied something else at that index.
pub fn check_state_machine_safety(
    observed: &mut Observed,
    node: NodeId,
    term: Term,
    entry: &Entry,
) -> Result<Applied, Violation> {
    match observed.committed.get_mut(&entry.index) {
        None => {
            observed.committed.insert(
                entry.index,
                Committed {
                    entry: entry.clone(),
                    commit_term: term,
                },
            );
            Ok(Applied::New)
        }
        Some(known) if known.entry == *entry => {
            known.commit_term = known.commit_term.min(term);
            Ok(Applied::Known)
        }
        Some(known) => Err(Violation {
            invariant: "state machine safety (§5.4.3)",
            detail: format!(
                "node{node} applied {}/{} {:?} at index {}, where {}/{} {:?} was applied before",
                entry.index,
                entry.term,
                entry.payload,
                entry.index,
                known.entry.index,
                known.entry.term,
                known.entry.payload
            ),
        }),
    }
}
