//! `raftcache bench`: measures the README's figures on this machine against
//! a fresh in-process cluster (ephemeral ports, temporary data directory).

use crate::bench::{failover, load};
use crate::cluster::{Cluster, ClusterOptions};
use crate::events::EventBus;
use std::time::Duration;

/// Options of `raftcache bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Sequential writes (one client) for the latency figure.
    #[arg(long, default_value_t = 2000)]
    pub sequential: u64,
    /// Concurrent clients for the throughput figure.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Seconds of the throughput run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Failover trials.
    #[arg(long, default_value_t = 20)]
    pub trials: usize,
    /// Skip fsync (shows what durability costs).
    #[arg(long)]
    pub no_fsync: bool,
    /// Send load to every node (followers forward), not only the leader.
    #[arg(long)]
    pub spread: bool,
}

/// Runs every measurement and prints a summary with the conditions.
pub async fn run(args: BenchArgs) -> Result<(), String> {
    let data = tempfile::tempdir()
        .map_err(|error| format!("cannot create a temporary directory: {error}"))?;
    let mut options = ClusterOptions::new(data.path().to_path_buf());
    options.base_port = 0;
    options.fsync = !args.no_fsync;
    let cluster = Cluster::start(options, EventBus::new())
        .await
        .map_err(|error| error.to_string())?;
    let leader = failover::wait_for_leader(&cluster, Duration::from_secs(10))
        .await
        .ok_or("no leader elected")?;
    let url = |id| format!("http://{}", cluster.address(id).expect("node exists"));
    let targets: Vec<String> = if args.spread {
        (1..=cluster.size()).map(url).collect()
    } else {
        vec![url(leader)]
    };
    println!(
        "raftcache bench: 3 nodes in one process, {} cores, fsync {}, load on {}, {} build",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        if args.no_fsync { "off" } else { "on" },
        if args.spread {
            "every node (followers forward)"
        } else {
            "the leader"
        },
        if cfg!(debug_assertions) {
            "DEBUG (figures not representative)"
        } else {
            "release"
        },
    );

    if args.sequential > 0 {
        let sequential =
            load::run_writes(&targets[..1], 1, Duration::from_secs(600), args.sequential).await;
        print_load("sequential writes (1 client)", &sequential);
    }
    if args.clients > 0 && args.seconds > 0 {
        let concurrent = load::run_writes(
            &targets,
            args.clients,
            Duration::from_secs(args.seconds),
            u64::MAX / 2,
        )
        .await;
        print_load(
            &format!(
                "concurrent writes ({} clients, {} s)",
                args.clients, args.seconds
            ),
            &concurrent,
        );
    }

    if args.trials > 0 {
        let times = failover::run_trials(cluster.clone(), args.trials).await?;
        let summary = failover::summarize(&times);
        let listed: Vec<String> = times.iter().map(|ms| format!("{ms:.0}")).collect();
        println!(
            "failover ({} trials, leader killed until next acknowledged write): p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
            times.len(),
            summary.p50_ms,
            summary.p90_ms,
            summary.max_ms
        );
        println!("  each trial (ms): {}", listed.join(" "));
    }
    cluster.shutdown().await;
    Ok(())
}

fn print_load(name: &str, result: &load::LoadResult) {
    println!(
        "{name}: {} ok, {} failed, {:.0} writes/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        result.ok,
        result.failed,
        result.writes_per_s,
        result.latency.p50_ms,
        result.latency.p90_ms,
        result.latency.p99_ms,
        result.latency.max_ms
    );
}
