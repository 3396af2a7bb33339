//! Leader completeness (paper Figure 3, §5.4): if an entry is committed in a
//! given term, it is present in the logs of the leaders of all higher terms.
//!
//! Checked twice: when a node becomes leader (it must hold every entry
//! committed in an earlier term), and when an entry is first seen committed
//! (every current leader of a later term must hold it). A leader never
//! removes entries from its own log, so together these cover every leader.

use super::{Committed, Observed, Violation};
use crate::raft::{NodeId, RaftLog, Term};

const INVARIANT: &str = "leader completeness (§5.4)";

/// A new leader of `term` must hold every entry committed before `term`.
pub fn check_leader_has_committed(
    observed: &Observed,
    node: NodeId,
    term: Term,
    log: &RaftLog,
) -> Result<(), Violation> {
    for committed in observed.committed.values() {
        if committed.commit_term < term {
            holds(node, term, log, committed)?;
        }
    }
    Ok(())
}

/// Every current leader of a later term must hold a newly committed entry.
pub fn check_leaders_have_new_commit<'a>(
    committed: &Committed,
    leaders: impl IntoIterator<Item = (NodeId, Term, &'a RaftLog)>,
) -> Result<(), Violation> {
    for (node, term, log) in leaders {
        if term > committed.commit_term {
            holds(node, term, log, committed)?;
        }
    }
    Ok(())
}

fn holds(node: NodeId, term: Term, log: &RaftLog, committed: &Committed) -> Result<(), Violation> {
    let entry = &committed.entry;
    if log.term_at(entry.index) == Some(entry.term) {
        return Ok(());
    }
    Err(Violation {
        invariant: INVARIANT,
        detail: format!(
            "node{node}, leader of term {term}, lacks entry {}/{} committed in term {} (it holds term {:?} there)",
            entry.index,
            entry.term,
            committed.commit_term,
            log.term_at(entry.index)
        ),
    })
}
