//! Tests of the Raft core: a tiny lockstep harness plus table-driven rule tests.

mod harness;
mod smoke;
