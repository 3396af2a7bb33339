//! `raftcache cluster`: three nodes in this process, the control plane on
//! port 3000, leader changes printed as they happen, a clean stop on Ctrl-C.

use crate::api::serve;
use crate::cluster::{control_api, Cluster, ClusterOptions};
use crate::events::EventBus;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Options of `raftcache cluster`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=9))]
    pub nodes: u64,
    /// HTTP port of node1; node i listens on base-port + i - 1.
    #[arg(long, default_value_t = 3001)]
    pub base_port: u16,
    /// Port of the dashboard and control API (loopback only).
    #[arg(long, default_value_t = 3000)]
    pub control_port: u16,
    /// Where node logs are kept across restarts (node i in `DIR/node<i>`).
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Use a temporary data directory, deleted on exit.
    #[arg(long, conflicts_with = "data_dir")]
    pub ephemeral: bool,
    /// Seed of all randomness (election timeouts, fault dice).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip fsync (faster, and a machine crash may lose acknowledged writes).
    #[arg(long)]
    pub no_fsync: bool,
    /// Run each node as its own process (`raftcache node nodeN`, Raft over
    /// TCP on HTTP port + 1000), like the original start_cluster.py; no dashboard.
    #[arg(long)]
    pub processes: bool,
}

/// Runs the cluster until Ctrl-C or SIGTERM.
pub async fn run(args: ClusterArgs) -> Result<(), String> {
    let stop = super::signals::stop_on_signal()
        .map_err(|error| format!("cannot install signal handlers: {error}"))?;
    let temporary = if args.ephemeral {
        Some(
            tempfile::tempdir()
                .map_err(|error| format!("cannot create a temporary directory: {error}"))?,
        )
    } else {
        None
    };
    let data_dir = temporary
        .as_ref()
        .map(|dir| dir.path().to_path_buf())
        .unwrap_or(args.data_dir.clone());
    if args.processes {
        let options = crate::cluster::processes::ProcessOptions {
            nodes: args.nodes,
            base_port: args.base_port,
            data_dir,
            seed: (args.seed != 1).then_some(args.seed),
            fsync: !args.no_fsync,
        };
        return crate::cluster::processes::run(options, stop).await;
    }
    let mut options = ClusterOptions::new(data_dir.clone());
    options.nodes = args.nodes;
    options.base_port = args.base_port;
    options.seed = args.seed;
    options.fsync = !args.no_fsync;
    let control_address = format!("127.0.0.1:{}", args.control_port);
    let control_listener = TcpListener::bind(&control_address)
        .await
        .map_err(|error| format!("cannot listen on {control_address} for the control plane: {error} (use --control-port)"))?;
    let events = EventBus::new();
    tokio::spawn(super::terminal::print_events(events.subscribe()));
    let cluster = Cluster::start(options, events)
        .await
        .map_err(|error| format!("{error} (use --base-port)"))?;

    println!(
        "raftcache: {} nodes, data in {}",
        cluster.size(),
        data_dir.display()
    );
    for view in cluster.nodes() {
        println!("  {}  http://{}", view.id, view.address);
    }
    println!("  dashboard + control API  http://{control_address}/");
    println!(
        "Try: curl -s http://{}/status | jq .raft",
        cluster.nodes()[0].address
    );
    println!("Ctrl-C stops the cluster; acknowledged writes are on disk.\n");

    let control = cluster.clone();
    let control_stop = stop.child_token();
    let control_task = tokio::spawn(serve(
        control_listener,
        control_stop.clone(),
        move |request| control_api::handle(Arc::clone(&control), request),
    ));
    stop.cancelled().await;
    println!("\nstopping: closing listeners and stopping nodes...");
    control_stop.cancel();
    let _ = control_task.await;
    cluster.shutdown().await;
    println!("stopped cleanly.");
    Ok(())
}
