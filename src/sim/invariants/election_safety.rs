//! Election safety (paper Figure 3, §5.2): at most one leader can be
//! elected in a given term.

use super::{Observed, Violation};
use crate::raft::{NodeId, Term};

/// Records that `node` is leader in `term`, failing if another node led it.
/// Returns whether this leadership is new (for the leader completeness check).
pub fn check_election_safety(
    observed: &mut Observed,
    node: NodeId,
    term: Term,
) -> Result<bool, Violation> {
    match observed.leaders.get(&term) {
        Some(leader) if *leader == node => Ok(false),
        Some(leader) => Err(Violation {
            invariant: "election safety (§5.2)",
            detail: format!("two leaders in term {term}: node{leader} and node{node}"),
        }),
        None => {
            observed.leaders.insert(term, node);
            Ok(true)
        }
    }
}
