//! `raftcache cluster --processes`: the nodes as child processes of this
//! executable (`raftcache node nodeN`), like the original `start_cluster.py`.
//! Their output is forwarded line by line, prefixed with the node's name;
//! on Ctrl-C each child gets SIGTERM, and one that has not exited within
//! [`STOP_TIMEOUT`] gets SIGKILL (acknowledged writes are on disk anyway).
//!
//! The children run in their own process group, so a Ctrl-C in the
//! terminal reaches the launcher only, and each child gets exactly one
//! SIGTERM (a second signal would make it exit at once).

use crate::cluster::layout::{DEFAULT_DATA_DIR, DEFAULT_NODES};
use crate::raft::{node_name, NodeId};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a child may take to stop after SIGTERM before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The Raft port of node N is its HTTP port plus this.
pub const RAFT_PORT_OFFSET: u16 = 1000;

/// What to launch.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// Number of nodes, node1..nodeN.
    pub nodes: u64,
    /// HTTP port of node1; node N uses base + N - 1, and Raft that plus 1000.
    pub base_port: u16,
    /// Node N keeps its log in `data_dir/nodeN`.
    pub data_dir: PathBuf,
    /// Seed passed to every node, when not the default.
    pub seed: Option<u64>,
    pub fsync: bool,
}

/// One child node, owned by its watcher task (the only one that reaps
/// it, so its pid cannot be reused while the watcher may signal it).
struct Child {
    pid: u32,
    /// Cancelled to ask the watcher to stop the child.
    stop: CancellationToken,
    /// Ends when the child has exited.
    watcher: JoinHandle<()>,
}

/// The arguments after `raftcache` that start node `id`: only what differs
/// from the defaults, so the printed restart command is the one a user types.
pub fn node_arguments(options: &ProcessOptions, id: NodeId) -> Result<Vec<String>, String> {
    let mut arguments = vec!["node".to_string(), node_name(id)];
    let default_layout = options.nodes == DEFAULT_NODES && options.base_port == 3001;
    if !default_layout {
        for peer in (1..=options.nodes).filter(|peer| *peer != id) {
            let (http, raft) = addresses(options, peer)?;
            arguments.push("--peer".into());
            arguments.push(format!("{}={http},{raft}", node_name(peer)));
        }
        let (http, raft) = addresses(options, id)?;
        arguments.extend(["--http".into(), http, "--raft".into(), raft]);
    }
    if options.data_dir != Path::new(DEFAULT_DATA_DIR) {
        arguments.push("--data-dir".into());
        arguments.push(options.data_dir.join(node_name(id)).display().to_string());
    }
    if let Some(seed) = options.seed {
        arguments.extend(["--seed".into(), seed.to_string()]);
    }
    if !options.fsync {
        arguments.push("--no-fsync".into());
    }
    Ok(arguments)
}

fn addresses(options: &ProcessOptions, id: NodeId) -> Result<(String, String), String> {
    let http = u16::try_from(id - 1)
        .ok()
        .and_then(|offset| options.base_port.checked_add(offset))
        .ok_or("--base-port is too high for this many nodes")?;
    let raft = http
        .checked_add(RAFT_PORT_OFFSET)
        .ok_or("--base-port is too high: Raft ports are HTTP ports + 1000")?;
    Ok((format!("127.0.0.1:{http}"), format!("127.0.0.1:{raft}")))
}

/// Starts the children, forwards their output until `stop`, then stops them.
pub async fn run(options: ProcessOptions, stop: CancellationToken) -> Result<(), String> {
    let executable = std::env::current_exe()
        .map_err(|error| format!("cannot find this program's executable: {error}"))?;
    println!(
        "raftcache: {} nodes as processes, data in {}",
        options.nodes,
        options.data_dir.display()
    );
    let mut children = BTreeMap::new();
    for id in 1..=options.nodes {
        let arguments = node_arguments(&options, id)?;
        match spawn(&executable, id, &arguments) {
            Ok(child) => {
                println!(
                    "  {}  pid {:<7}  restart with: raftcache {}",
                    node_name(id),
                    child.pid,
                    arguments.join(" ")
                );
                children.insert(id, child);
            }
            Err(error) => {
                stop_all(children).await;
                return Err(error);
            }
        }
    }
    println!("Ctrl-C stops every node (SIGTERM); acknowledged writes are on disk.\n");
    stop.cancelled().await;
    println!("\nstopping: SIGTERM to every node...");
    stop_all(children).await;
    println!("stopped.");
    Ok(())
}

fn spawn(executable: &Path, id: NodeId, arguments: &[String]) -> Result<Child, String> {
    let name = node_name(id);
    let mut child = Command::new(executable)
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|error| format!("cannot start {name}: {error}"))?;
    let pid = child.id().expect("a child just spawned has a pid");
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(forward(stdout, name.clone(), false));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(forward(stderr, name.clone(), true));
    }
    let stop = CancellationToken::new();
    let watcher = tokio::spawn(watch(child, name, stop.clone()));
    Ok(Child { pid, stop, watcher })
}

/// Waits for the child to exit, or stops it when `stop` is cancelled:
/// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`].
async fn watch(mut child: tokio::process::Child, name: String, stop: CancellationToken) {
    let pid = child.id().unwrap_or_default();
    let status = tokio::select! {
        status = child.wait() => status,
        _ = stop.cancelled() => {
            if let Some(pid) = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()) {
                // SAFETY: kill(2) has no memory-safety preconditions, and the
                // child is not reaped yet (id() is Some), so the pid is its own.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
                Ok(status) => status,
                Err(_) => {
                    println!("{name} (pid {pid}) did not stop within {STOP_TIMEOUT:?}: SIGKILL");
                    let _ = child.start_kill();
                    child.wait().await
                }
            }
        }
    };
    match status {
        Ok(status) => println!("{name} (pid {pid}) exited: {status}"),
        Err(error) => println!("{name} (pid {pid}): cannot wait for it: {error}"),
    }
}

/// Copies a child's output to ours, one prefixed line at a time.
async fn forward(output: impl AsyncRead + Unpin, name: String, to_stderr: bool) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if to_stderr {
            eprintln!("{name} | {line}");
        } else {
            println!("{name} | {line}");
        }
    }
}

/// Stops every child (see [`watch`]) and waits until all have exited.
async fn stop_all(children: BTreeMap<NodeId, Child>) {
    for child in children.values() {
        child.stop.cancel();
    }
    for child in children.into_values() {
        let _ = child.watcher.await;
    }
}
