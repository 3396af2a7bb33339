//! The HTTP edge: the per-node API of API.md, and the server loop shared
//! with the control plane. Hyper 1.x, JSON everywhere, every error as
//! `{"error", "code"}` with its status decided in one place (`error.rs`).

pub mod body;
pub mod error;
pub mod metrics;
pub mod node_api;
pub mod response;
pub mod server;

pub use error::ApiError;
pub use node_api::NodeApi;
pub use server::{serve, HttpBody};
