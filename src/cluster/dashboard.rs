//! The dashboard served at `/` of the control plane: watch the cluster and
//! break it from a browser.
//!
//! The page is plain HTML, CSS and JavaScript, embedded in the binary (no
//! CDN, nothing fetched at run time) and assembled here from the files in
//! `dashboard/`. It reads three things:
//!
//! - `GET /api/cluster`, polled at most 4 times a second: every node's
//!   status, the faults in force and the network's traffic counters, from
//!   whose deltas it derives messages/s and commits/s;
//! - `GET /api/events` (Server-Sent Events) for the timeline; the browser's
//!   `EventSource` reconnects by itself and the page shows the connection;
//! - the per-node helpers of [`node_proxy`]: each node's `/metrics` (errors
//!   and latency), its cache listing, and the set/get/delete form.
//!
//! Every control button calls the same control-plane endpoint curl would.
//! DOM updates are batched into one `requestAnimationFrame` per poll, and
//! the timeline keeps a bounded number of lines, so the page stays smooth at
//! full write load (`tests/dashboard_browser.rs` measures it).

pub mod node_proxy;

/// The whole page, one string: HTML with its stylesheet and scripts inlined.
pub const DASHBOARD_HTML: &str = concat!(
    include_str!("dashboard/head.html"),
    "<style>\n",
    include_str!("dashboard/style.css"),
    "</style>\n</head>\n",
    include_str!("dashboard/body.html"),
    "<script>\n",
    include_str!("dashboard/charts.js"),
    include_str!("dashboard/topology.js"),
    include_str!("dashboard/app.js"),
    "</script>\n</body>\n</html>\n",
);
