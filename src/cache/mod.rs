//! The cache state machine.
pub mod command;
pub use command::Command;
