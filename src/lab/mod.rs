//! Labs: scripted faults, workloads, checks and reports (`raftcache lab`).
//!
//! A lab is a TOML script (`labs/*.toml`, format in `labs/README.md`) that
//! the runner carries out against a real in-process cluster: nodes on real
//! HTTP ports, the control plane on its own port, so people can `curl` and
//! watch the dashboard while it runs. The flow is one direction:
//!
//! ```text
//! script/ ─▶ runner/   ─▶ world.rs (cluster, roles, bindings)
//!                │          └─▶ workload.rs (HTTP clients) ─▶ history.rs
//!                └─▶ timeline.rs (event stream: elections, terms)
//! history + timeline ─▶ checks.rs ─▶ report.rs (+ svg.rs) ─▶ results/<lab>/
//! ```
//!
//! Every random choice (election timeouts, network dice, "a follower",
//! workload keys) comes from the one seed printed at the start, so the same
//! seed replays the same sequence of faults; the timing of real threads and
//! sockets still varies, which is why the checks judge properties (one
//! leader per term, linearizable, nothing acknowledged lost), never exact
//! interleavings.
//!
//! Left out: clock skew (the launcher has no per-node clock yet) and
//! snapshot thresholds (the nodes do not compact their logs yet); the script
//! accepts `snapshot_threshold_entries` and the report warns it was ignored.

pub mod availability;
pub mod checks;
pub mod history;
pub mod report;
pub mod results_table;
pub mod runner;
pub mod script;
mod svg;
pub mod timeline;
pub mod workload;
pub mod world;

pub use runner::{run, LabRun, RunOptions};
pub use script::{load, Script, ScriptError};
