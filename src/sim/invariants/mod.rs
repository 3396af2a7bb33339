//! The safety properties of Raft (paper Figure 3), checked after every event
//! of a simulation, one property per file.
//!
//! Each check reads what the simulator can see (node status, in-memory logs,
//! durable logs, applied entries) plus [`Observed`], the facts gathered so
//! far in the run: which node led each term, the (index, term) of every entry
//! ever appended anywhere, and every entry ever applied. Checks return a
//! [`Violation`] naming the property instead of panicking, so that the
//! simulator can attach its seed and trace.
//!
//! Linearizability of the client history is checked once, at the end of a
//! run, by `crate::check::linearizability`.

mod committed_durable;
mod election_safety;
mod leader_completeness;
mod log_matching;
mod one_vote_per_term;
mod state_machine_safety;

pub use committed_durable::check_committed_durable;
pub use election_safety::check_election_safety;
pub use leader_completeness::{check_leader_has_committed, check_leaders_have_new_commit};
pub use log_matching::check_log_matching;
pub use one_vote_per_term::check_one_vote_per_term;
pub use state_machine_safety::{check_state_machine_safety, Applied};

use crate::raft::{Entry, Index, NodeId, Payload, Term};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A broken safety property: a bug in Raft, storage or the simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The property, e.g. "election safety (§5.2)".
    pub invariant: &'static str,
    /// What was seen, with node ids, terms and indexes.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

/// An entry known committed, and the earliest term in which it was seen so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The entry as applied.
    pub entry: Entry,
    /// The lowest current term of a node that had it committed: the term of
    /// the leader that committed it (followers learn later, in that term or after).
    pub commit_term: Term,
}

/// What an entry (index, term) looked like the first time any log held it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// What the entry carried.
    pub payload: Payload,
    /// The term of the entry just before it in that log.
    pub prev_term: Term,
}

/// Facts gathered during a run that the checks compare new observations with.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The leader of each term, once seen.
    pub leaders: BTreeMap<Term, NodeId>,
    /// Every (index, term) ever held by some log.
    pub fingerprints: HashMap<(Index, Term), Fingerprint>,
    /// Every entry ever applied by some node, by index.
    pub committed: BTreeMap<Index, Committed>,
    /// (voter, term) → the candidate it voted for.
    pub votes: BTreeMap<(NodeId, Term), NodeId>,
}
