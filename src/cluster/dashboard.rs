//! The dashboard page served at `/` of the control plane. A first, plain
//! version: live node table from `/api/cluster`, the event stream, and the
//! control buttons. Embedded in the binary; no network at run time.

/// The whole page: HTML, CSS and script in one string.
pub const DASHBOARD_HTML: &str = include_str!("dashboard.html");
