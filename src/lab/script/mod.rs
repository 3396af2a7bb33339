//! The lab script: a TOML file read with serde, unknown keys rejected, and
//! every mistake reported with file, line, column and the valid choices
//! before anything starts. `labs/README.md` documents the format.
//!
//! A step is a TOML table whose `action` key picks the variant of [`Action`];
//! the common keys `say` (narration) and `fail_ok` are taken out first. The
//! `toml` crate keeps byte spans for tables but not for keys inside an
//! internally tagged enum, so `locate` finds the offending key inside the
//! step's span when serde's message names it.

use crate::api::body::MAX_KEY_BYTES;
use crate::lab::checks::VERIFY_SOURCE;
use crate::raft::{node_name, parse_node_name, RaftConfig};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use toml::Spanned;

mod parse;

pub use parse::{action_names, find, load, parse};

/// Node names a step may use besides `node1..nodeN` and names bound with `as`.
pub const ROLES: &[&str] = &["leader", "follower", "followers", "killed", "paused", "all"];

/// History sources a workload may not be named after: the verification
/// reads ([`VERIFY_SOURCE`]) and the runner's `set`/`get`/`delete`/`clear`/`list`
/// steps (`"script"`). A workload sharing one would be judged on their operations.
pub const RESERVED_WORKLOAD_NAMES: &[&str] = &[VERIFY_SOURCE, "script"];

/// Lowest `rate` of a workload, operations per second over all its clients.
pub const MIN_RATE: f64 = 0.01;
/// Highest `rate`: far beyond what one process can send; above it, ask for a
/// closed loop (no `rate`) instead.
pub const MAX_RATE: f64 = 1_000_000.0;
/// Longest interval between one client's requests (`clients / rate`), in
/// seconds: one hour.
pub const MAX_CLIENT_INTERVAL_S: f64 = 3600.0;

/// A script error, pointing at the place in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is about the whole file.
    pub line: usize,
    /// 1-based column of the offending text.
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// A parsed, validated lab.
#[derive(Clone, Debug)]
pub struct Script {
    /// The lab's name: the file name without `.toml`.
    pub name: String,
    pub path: PathBuf,
    /// One line for `lab --list`.
    pub summary: String,
    /// What happens, what to watch, why Raft behaves so.
    pub description: String,
    pub cluster: ClusterSpec,
    pub steps: Vec<Step>,
}

/// The `[cluster]` table: size, timings and switches.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    /// Number of nodes; `--nodes` overrides it unless `fixed_nodes`.
    pub nodes: u64,
    /// The lab's lesson depends on exactly `nodes` nodes.
    pub fixed_nodes: bool,
    /// Real time per Raft tick.
    pub tick_ms: u64,
    pub heartbeat_ticks: u32,
    /// `[min, max)` of the randomized election timeout.
    pub election_timeout_ticks: [u32; 2],
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub fsync: bool,
    /// Artificial extra time per fsync, to imitate a slow disk.
    pub fsync_delay_ms: u64,
    /// Compact the log past this many entries; 0 = never. Snapshots are not
    /// implemented by this build's node yet, so the runner warns and ignores it.
    pub snapshot_threshold_entries: u64,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        let raft = crate::raft::RaftConfig::default();
        ClusterSpec {
            nodes: 3,
            fixed_nodes: false,
            tick_ms: crate::node::config::DEFAULT_TICK.as_millis() as u64,
            heartbeat_ticks: raft.heartbeat_interval_ticks,
            election_timeout_ticks: [
                raft.election_timeout_min_ticks,
                raft.election_timeout_max_ticks,
            ],
            pre_vote: raft.pre_vote,
            check_quorum: raft.check_quorum,
            fsync: true,
            fsync_delay_ms: 0,
            snapshot_threshold_entries: 0,
        }
    }
}

/// One step: an action, with an optional narration.
#[derive(Clone, Debug)]
pub struct Step {
    pub action: Action,
    /// Said before the step runs (printed; with `--step`, waited on).
    pub say: Option<String>,
    /// 1-based line of the step's `[[step]]` header.
    pub line: usize,
}

/// What one step does. Each variant is one value of `action = "..."`.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Crash nodes: memory lost, disk kept.
    Kill {
        node: String,
        #[serde(rename = "as")]
        bind: Option<String>,
    },
    /// Start killed nodes again from their data directory.
    Restart {
        node: String,
    },
    /// Freeze nodes (a long GC pause): alive, silent.
    Pause {
        node: String,
        #[serde(rename = "as")]
        bind: Option<String>,
    },
    Resume {
        node: String,
    },
    /// Kill every node, then start them all again.
    FullRestart {},
    /// Split the network; nodes in no group form one more group.
    Partition {
        groups: Vec<Vec<String>>,
        /// Binds the first group's nodes to this name.
        #[serde(rename = "as")]
        bind: Option<String>,
    },
    /// Remove every partition and link fault.
    Heal {},
    /// Faults on messages from `from` to `to` (`*` = any node).
    Link {
        #[serde(default = "any_node")]
        from: String,
        #[serde(default = "any_node")]
        to: String,
        #[serde(default)]
        drop: f64,
        #[serde(default)]
        delay_ms: u64,
        /// Extra random delay; messages overtake each other (reordering).
        #[serde(default)]
        jitter_ms: u64,
        #[serde(default)]
        duplicate: f64,
    },
    /// Ask the leader to hand leadership to `to`.
    Transfer {
        to: String,
    },
    /// Replace the cluster by a fresh one with changed switches (a new phase).
    ResetCluster {
        pre_vote: Option<bool>,
        check_quorum: Option<bool>,
    },
    Sleep {
        ms: u64,
    },
    /// Wait until a condition holds; fails after `timeout_ms`.
    Wait {
        until: WaitFor,
        #[serde(default = "default_wait_ms")]
        timeout_ms: u64,
    },
    /// Client operations over real HTTP.
    Workload(WorkloadSpec),
    /// Stop a background workload and wait for its clients.
    Stop {
        workload: String,
    },
    /// Remember this instant; with `until`, measure `<name>_ms` from here.
    Mark {
        name: String,
        until: Option<IntervalEnd>,
    },
    /// One write through the API.
    Set {
        key: String,
        value: toml::Value,
        ttl_s: Option<f64>,
        #[serde(default = "leader_node")]
        node: String,
    },
    /// One read; with `equals` or `absent`, an expectation on every node named.
    Get {
        key: String,
        #[serde(default = "leader_node")]
        node: String,
        #[serde(default)]
        consistency: Consistency,
        equals: Option<toml::Value>,
        #[serde(default)]
        absent: bool,
    },
    Delete {
        key: String,
        #[serde(default = "leader_node")]
        node: String,
    },
    Clear {
        #[serde(default = "leader_node")]
        node: String,
    },
    /// List keys; with `count`, expect that many on every node named.
    List {
        #[serde(default = "leader_node")]
        node: String,
        count: Option<usize>,
    },
    /// Every live node applied the same index and holds the same data.
    ExpectConverged {
        #[serde(default = "default_wait_ms")]
        timeout_ms: u64,
    },
    /// Read every key written so far: nothing acknowledged may be missing.
    ExpectAcknowledgedWritesReadable {},
    /// Elections won since a mark, within bounds.
    ExpectElections {
        since: Option<String>,
        min: Option<usize>,
        max: Option<usize>,
    },
    /// How far the highest term rose since a mark.
    ExpectTermRise {
        since: String,
        min: Option<u64>,
        max: Option<u64>,
    },
    /// A node's commit index did not move since a mark: it could not commit.
    ExpectNoCommit {
        node: String,
        since: String,
    },
    /// A node has this role now.
    ExpectRole {
        node: String,
        role: String,
    },
    /// A measured interval stays under a bound.
    ExpectInterval {
        name: String,
        max_ms: f64,
    },
    /// A workload's latency percentile stays under a bound.
    ExpectLatency {
        workload: String,
        #[serde(default = "default_percentile")]
        percentile: f64,
        max_ms: f64,
    },
    /// Stale reads of a consistency level, counted at the end.
    ExpectStaleReads {
        consistency: Consistency,
        min: Option<usize>,
        max: Option<usize>,
    },
}

fn any_node() -> String {
    "*".into()
}
fn leader_node() -> String {
    "leader".into()
}
fn default_wait_ms() -> u64 {
    5000
}
fn default_percentile() -> f64 {
    99.0
}

/// Conditions a `wait` step waits for.
#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WaitFor {
    /// A leader followed by a majority.
    Leader,
    /// Such a leader in a term above the one before the last fault.
    NewLeader,
    /// Every live node applied the same index as the leader committed.
    Converged,
}

/// Where a measured interval ends.
#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IntervalEnd {
    /// The first write invoked after the mark and acknowledged (failover).
    WriteOk,
    /// The first leader elected after the mark in a higher term.
    NewLeader,
}

/// Read consistency, as in `?consistency=`.
#[derive(Clone, Copy, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    #[default]
    Local,
    Linearizable,
}

/// Operations a workload issues.
#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OpMix {
    Write,
    ReadLocal,
    ReadLinearizable,
    Delete,
    /// 50% writes, 30% linearizable reads, 10% local reads, 10% deletes.
    Mixed,
}

/// What every operation of a workload must come to.
#[derive(Clone, Copy, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Anything goes (faults are the point).
    #[default]
    Any,
    /// Every operation acknowledged.
    AllOk,
    /// At least one acknowledged.
    SomeOk,
    /// Every operation definitely failed (e.g. 503 without a majority).
    AllFail,
}

/// The `workload` action.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Needed to `stop` a background workload or bound its latency.
    pub name: Option<String>,
    pub op: OpMix,
    #[serde(default = "one")]
    pub clients: usize,
    /// Operations in all; with neither count nor duration, runs until stopped.
    pub count: Option<u64>,
    pub duration_ms: Option<u64>,
    /// Total operations per second over all clients; closed loop without it.
    pub rate: Option<f64>,
    /// `spread` (every running node in turn), a role, a node or a bound name.
    #[serde(default = "spread")]
    pub target: String,
    /// Keys are `<key_prefix><0..keys>`; workloads sharing keys share a prefix.
    #[serde(default = "default_keys")]
    pub keys: u64,
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// Keep running across the following steps until `stop`.
    #[serde(default)]
    pub background: bool,
    #[serde(default)]
    pub expect: Expect,
    /// Every operation must be answered within this bound (fail fast).
    pub latency_max_ms: Option<f64>,
    /// A client gives up on a request after this long (outcome unknown).
    #[serde(default = "default_client_timeout_ms")]
    pub timeout_ms: u64,
}

fn one() -> usize {
    1
}
fn spread() -> String {
    "spread".into()
}
fn default_keys() -> u64 {
    20
}
fn default_prefix() -> String {
    "k".into()
}
fn default_client_timeout_ms() -> u64 {
    2000
}

impl ClusterSpec {
    /// The Raft timings and switches of this table, the rest left at their defaults.
    pub fn raft_config(&self) -> RaftConfig {
        RaftConfig {
            heartbeat_interval_ticks: self.heartbeat_ticks,
            election_timeout_min_ticks: self.election_timeout_ticks[0],
            election_timeout_max_ticks: self.election_timeout_ticks[1],
            pre_vote: self.pre_vote,
            check_quorum: self.check_quorum,
            ..RaftConfig::default()
        }
    }

    /// What the cluster would refuse at start, in the script's own key names.
    fn validate(&self) -> Result<(), String> {
        if self.tick_ms == 0 {
            return Err("tick_ms must be at least 1".into());
        }
        self.raft_config().validate().map_err(|message| {
            message
                .replace("heartbeat_interval_ticks", "heartbeat_ticks")
                .replace("election_timeout_min_ticks", "election_timeout_ticks[0]")
                .replace("election_timeout_max_ticks", "election_timeout_ticks[1]")
        })
    }
}

impl Action {
    /// The `action = "..."` name of this step.
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|value| value["action"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Node references this step makes, for validation.
    fn node_refs(&self) -> Vec<&str> {
        match self {
            Action::Kill { node, .. }
            | Action::Restart { node }
            | Action::Pause { node, .. }
            | Action::Resume { node }
            | Action::Set { node, .. }
            | Action::Get { node, .. }
            | Action::Delete { node, .. }
            | Action::Clear { node }
            | Action::List { node, .. }
            | Action::ExpectNoCommit { node, .. }
            | Action::ExpectRole { node, .. } => vec![node],
            Action::Transfer { to } => vec![to],
            Action::Partition { groups, .. } => {
                groups.iter().flatten().map(String::as_str).collect()
            }
            Action::Link { from, to, .. } => [from, to]
                .into_iter()
                .filter(|name| *name != "*")
                .map(String::as_str)
                .collect(),
            Action::Workload(spec) if spec.target != "spread" => vec![&spec.target],
            _ => Vec::new(),
        }
    }

    fn binding(&self) -> Option<&str> {
        match self {
            Action::Kill { bind, .. }
            | Action::Pause { bind, .. }
            | Action::Partition { bind, .. } => bind.as_deref(),
            _ => None,
        }
    }
}
