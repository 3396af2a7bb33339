//! Committed entries survive crashes (paper §5.4, Figure 2 "persistent state
//! on all servers"; thesis §3.8): an entry is committed only once a majority
//! has it on stable storage, so whatever crashes, a majority's durable logs
//! still hold every committed entry. Checked when an entry is first seen
//! committed and after every crash; it fails when a node acknowledges before
//! persisting, or storage loses synced data.

use super::{Committed, Violation};
use crate::raft::{Index, NodeId, Term};

/// Every committed entry must be durable on at least `quorum` nodes, where
/// `durable_term_at(node, index)` reads a node's disk.
pub fn check_committed_durable<'a>(
    committed: impl IntoIterator<Item = &'a Committed>,
    nodes: &[NodeId],
    quorum: usize,
    durable_term_at: impl Fn(NodeId, Index) -> Option<Term>,
) -> Result<(), Violation> {
    for committed in committed {
        let entry = &committed.entry;
        let holders: Vec<NodeId> = nodes
            .iter()
            .copied()
            .filter(|node| durable_term_at(*node, entry.index) == Some(entry.term))
            .collect();
        if holders.len() < quorum {
            return Err(Violation {
                invariant: "committed entries are durable on a majority (§5.4)",
                detail: format!(
                    "entry {}/{} (committed in term {}) is durable only on {holders:?}, quorum is {quorum}",
                    entry.index, entry.term, committed.commit_term
                ),
            });
        }
    }
    Ok(())
}
