//! Log matching (paper Figure 3, §5.3): if two logs contain an entry with the
//! same index and term, the logs are identical in all entries up through
//! that index.
//!
//! Checked locally: the first time any log holds (index, term) its payload
//! and the term of its predecessor are recorded; every later log holding
//! (index, term) must agree on both. By induction on the index, two logs that
//! share (index, term) then share every earlier entry too, so comparing one
//! predecessor per entry is enough and each entry is checked once per append.

use super::{Fingerprint, Observed, Violation};
use crate::raft::{Index, NodeId, RaftLog};

/// Checks the entries of `node`'s log from `from` to its end.
pub fn check_log_matching(
    observed: &mut Observed,
    node: NodeId,
    log: &RaftLog,
    from: Index,
) -> Result<(), Violation> {
    for index in from.max(1)..=log.last_index() {
        let entry = log.get(index).expect("index within the log");
        let prev_term = log.term_at(index - 1).expect("log is contiguous");
        let seen = Fingerprint {
            payload: entry.payload.clone(),
            prev_term,
        };
        match observed.fingerprints.get(&(index, entry.term)) {
            None => {
                observed.fingerprints.insert((index, entry.term), seen);
            }
            Some(first) if *first == seen => {}
            Some(first) => {
                return Err(Violation {
                    invariant: "log matching (§5.3)",
                    detail: format!(
                        "node{node} holds entry {index}/{} after an entry of term {} with payload {:?}, \
                         another log held it after term {} with payload {:?}",
                        entry.term, prev_term, seen.payload, first.prev_term, first.payload
                    ),
                })
            }
        }
    }
    Ok(())
}
