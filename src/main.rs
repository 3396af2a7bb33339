//! The `raftcache` binary: see `raftcache --help`.

use clap::{Parser, Subcommand};
use raftcache::cli;

/// A Raft-replicated in-memory key-value cache, built as a lab.
#[derive(Parser)]
#[command(name = "raftcache", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a cluster in this process: nodes on 3001.., dashboard on 3000.
    Cluster(cli::cluster_cmd::ClusterArgs),
    /// Run one node as this process, over TCP: `raftcache node node1`.
    Node(cli::node_cmd::NodeArgs),
    /// Measure write latency, throughput and failover time on this machine.
    Bench(cli::bench_cmd::BenchArgs),
    /// Run a scripted lab (labs/NAME.toml), or `all`; reports in results/.
    Lab(cli::lab_cmd::LabArgs),
    /// Run seeded simulations of whole clusters under faults, or replay one.
    Sim(raftcache::sim::cli::SimArgs),
}

fn main() {
    let cli = Cli::parse();
    if let Command::Sim(args) = &cli.command {
        // Pure and single-threaded by design: no runtime, no clock, no
        // sockets, and no log lines (the torn writes it makes on purpose
        // would otherwise warn thousands of times; the trace tells all).
        let code = raftcache::sim::cli::run_cli(args, &mut std::io::stdout().lock());
        std::process::exit(if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            1
        });
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "raftcache=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Cluster(args) => cli::cluster_cmd::run(args).await,
            Command::Node(args) => cli::node_cmd::run(args).await,
            Command::Bench(args) => cli::bench_cmd::run(args).await,
            Command::Lab(args) => cli::lab_cmd::run(args).await,
            Command::Sim(_) => unreachable!("sim runs before the runtime starts"),
        }
    });
    if let Err(message) = result {
        eprintln!("raftcache: {message}");
        std::process::exit(1);
    }
}
