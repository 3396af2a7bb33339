//! The Raft core (placeholder essay; the core lands next).
pub mod message;
pub use message::*;
