//! The command line: one binary, one subcommand per way of running.

pub mod cluster_cmd;
pub mod signals;
pub mod terminal;
