//! Tests of the Raft core: a tiny lockstep harness plus table-driven rule tests.

mod append_rules;
mod election_rules;
mod fixtures;
mod harness;
mod leader_rules;
mod read_index_rules;
mod smoke;
mod transfer_rules;
