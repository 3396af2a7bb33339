//! The command line: one binary, one subcommand per way of running.

pub mod bench_cmd;
pub mod cluster_cmd;
pub mod lab_cmd;
pub mod node_cmd;
pub mod signals;
pub mod terminal;
