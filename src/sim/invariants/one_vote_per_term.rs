//! One vote per term (paper §5.2, Figure 2 "votedFor" is persistent): each
//! server votes for at most one candidate in a given term, on a
//! first-come-first-served basis, across crashes. Election safety rests on
//! it; checked on every vote granted, before a second leader need appear.

use super::{Observed, Violation};
use crate::raft::{Message, MessageBody};

/// Records a vote granted by `message`, failing if its sender already voted
/// for someone else in that term.
pub fn check_one_vote_per_term(
    observed: &mut Observed,
    message: &Message,
) -> Result<(), Violation> {
    if !matches!(
        message.body,
        MessageBody::RequestVoteResponse { granted: true }
    ) {
        return Ok(());
    }
    let voter = (message.from, message.term);
    match observed.votes.insert(voter, message.to) {
        Some(earlier) if earlier != message.to => Err(Violation {
            invariant: "one vote per term (§5.2)",
            detail: format!(
                "node{} voted for node{earlier} and then for node{} in term {}",
                message.from, message.to, message.term
            ),
        }),
        _ => Ok(()),
    }
}
