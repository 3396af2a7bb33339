//! The single-process launcher: N nodes as tokio tasks, the in-process
//! network between them, and the control plane that breaks them on purpose.

pub mod control_api;
pub mod dashboard;
pub mod launcher;
pub mod layout;
pub mod processes;

pub use launcher::{Cluster, ClusterOptions, ControlError, NodeView};
