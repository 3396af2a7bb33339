//! Checkers that judge what a cluster did.
//!
//! A lab records every client operation it makes (`history.jsonl`) and, once
//! the run is over, hands the history to these checkers. They are pure
//! functions of the history: no I/O, no clock, so a failing verdict can be
//! replayed from the saved file and debugged like any other unit test.
//!
//! - [`linearizability`]: could some single order of the operations, each
//!   taking effect between its call and its return, explain every read? This
//!   is the strongest claim the cache makes for writes and for reads with
//!   `consistency=linearizable`, and the one a Raft bug breaks first.

pub mod linearizability;

#[cfg(test)]
mod linearizability_tests;
