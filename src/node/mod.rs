//! A running node: its driver task, the handle the API uses, its status.

mod commands;
pub mod config;
pub mod driver;
pub mod handle;
mod requests;
pub mod spawn;
pub mod status;

pub use config::NodeConfig;
pub use handle::{ClientInput, NodeHandle};
pub use spawn::{spawn_node, RunningNode};
pub use status::NodeStatus;
