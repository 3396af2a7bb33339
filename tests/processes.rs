//! One node per OS process over TCP, tested the way users break it: real
//! `raftcache node` processes on ephemeral ports, real `kill -9` by PID,
//! real restarts from the data directories. Each test owns its processes
//! through [`Processes`], whose `Drop` kills every child it started, so a
//! failing assertion never leaves nodes running.

use raftcache::client::{HttpClient, HttpResponse};
use raftcache::transport::tcp::wire::{self, Hello, HelloReply};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const RAFTCACHE: &str = env!("CARGO_BIN_EXE_raftcache");
/// Longest wait for anything the cluster should do by itself (an election,
/// a restart, catching up); polls return as soon as it happens.
const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(20);

/// Free ports for a cluster's listeners, held (bound) until the caller drops
/// them. They are picked at random *below* the kernel's ephemeral range:
/// nodes start (and restart) after the ports are released, and a port from
/// the ephemeral range could meanwhile become the local end of some
/// outbound connection (any test's, any process's) — seen as "address
/// already in use" under parallel tests. Ports below the range are only
/// ever taken by explicit binds.
fn free_ports(count: usize) -> Vec<std::net::TcpListener> {
    use rand::Rng;
    let ephemeral_low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let range = 10_000..ephemeral_low.max(10_001);
    let mut rng = rand::rng();
    let mut listeners = Vec::new();
    for _ in 0..10_000 {
        if listeners.len() == count {
            return listeners;
        }
        let port = rng.random_range(range.clone());
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            listeners.push(listener);
        }
    }
    panic!("no {count} free ports in {range:?}");
}

/// Three nodes' layout on free ports, and the children running them.
struct Processes {
    dir: tempfile::TempDir,
    config: PathBuf,
    http: BTreeMap<u64, String>,
    raft: BTreeMap<u64, String>,
    children: BTreeMap<u64, Child>,
    client: HttpClient,
}

impl Processes {
    /// Writes a `cluster.toml` for node1..node3 on free ports (sharing `token`).
    fn new(token: &str) -> Processes {
        let dir = tempfile::tempdir().expect("temporary directory");
        let listeners = free_ports(6);
        let address = |i: usize| listeners[i].local_addr().unwrap().to_string();
        let mut http = BTreeMap::new();
        let mut raft = BTreeMap::new();
        let mut text = format!(
            "token = {token:?}\ndata_dir = {:?}\n",
            dir.path().join("data")
        );
        for id in 1..=3u64 {
            http.insert(id, address(id as usize - 1));
            raft.insert(id, address(id as usize + 2));
            text += &format!(
                "\n[[nodes]]\nid = \"node{id}\"\nhttp = {:?}\nraft = {:?}\n",
                http[&id], raft[&id]
            );
        }
        drop(listeners);
        let config = dir.path().join("cluster.toml");
        std::fs::write(&config, text).expect("write cluster.toml");
        Processes {
            dir,
            config,
            http,
            raft,
            children: BTreeMap::new(),
            client: HttpClient::with_timeout(Duration::from_secs(5)),
        }
    }

    /// Starts `raftcache node node{id}`, its output appended to `node{id}.log`.
    fn start(&mut self, id: u64, extra: &[&str]) {
        assert!(!self.children.contains_key(&id), "node{id} already runs");
        let log = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path(id))
                .expect("open log")
        };
        let child = Command::new(RAFTCACHE)
            .args(["node", &format!("node{id}"), "--config"])
            .arg(&self.config)
            .args(extra)
            .env("RUST_LOG", "raftcache=info")
            .env_remove("RAFTCACHE_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log()))
            .stderr(Stdio::from(log()))
            .spawn()
            .expect("start raftcache node");
        self.children.insert(id, child);
    }

    fn start_all(&mut self) {
        for id in 1..=3 {
            self.start(id, &[]);
        }
    }

    /// `kill -9 <pid>`: the process gets no chance to clean up.
    fn kill9(&mut self, id: u64) {
        let mut child = self.children.remove(&id).expect("node runs");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }

    /// `kill <pid>` (SIGTERM) and wait for the exit status.
    fn terminate(&mut self, id: u64) -> ExitStatus {
        let mut child = self.children.remove(&id).expect("node runs");
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
        // SAFETY: kill(2) has no memory-safety preconditions; the child is not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "node{id} ignored SIGTERM");
            std::thread::sleep(POLL);
        }
    }

    fn log_path(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node{id}.log"))
    }

    fn log(&self, id: u64) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(self.log_path(id)) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    fn url(&self, id: u64, path: &str) -> String {
        format!("http://{}{path}", self.http[&id])
    }

    async fn get(&self, id: u64, path: &str) -> Option<HttpResponse> {
        self.client.get(&self.url(id, path)).await.ok()
    }

    async fn post(&self, id: u64, key: &str, value: &str) -> Option<HttpResponse> {
        let url = self.url(id, &format!("/cache/{key}"));
        self.client
            .post_json(&url, &json!({ "value": value }))
            .await
            .ok()
    }

    /// Polls `check` until it returns `Some`, or panics naming `what`.
    async fn until<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = (1..=3)
                    .map(|id| format!("--- node{id} ---\n{}", self.log(id)))
                    .collect();
                panic!("gave up waiting for {what}\n{}", logs.join("\n"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The one node among `among` that says it leads (and the others agree).
    async fn leader(&self, among: &[u64]) -> u64 {
        self.until("a leader", || async {
            let mut leaders = Vec::new();
            let mut known = Vec::new();
            for id in among {
                let status = self.get(*id, "/status").await?.json();
                if status["raft"]["is_leader"] == json!(true) {
                    leaders.push(*id);
                }
                known.push(status["raft"]["leader_id"].clone());
            }
            let leader = *leaders.first()?;
            let name = json!(format!("node{leader}"));
            (leaders.len() == 1 && known.iter().all(|k| *k == name)).then_some(leader)
        })
        .await
    }

    /// Writes until acknowledged (elections may answer 503 meanwhile).
    async fn write_acknowledged(&self, id: u64, key: &str, value: &str) {
        self.until(&format!("{key} acknowledged by node{id}"), || async {
            self.post(id, key, value).await.filter(|r| r.status < 300)
        })
        .await;
    }

    /// Waits until node `id` serves `key` = `value` from its own state.
    async fn wait_value(&self, id: u64, key: &str, value: &str) {
        self.until(&format!("node{id} to serve {key}={value}"), || async {
            let response = self.get(id, &format!("/cache/{key}")).await?;
            (response.json()["value"] == json!(value)).then_some(())
        })
        .await;
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn walkthrough_with_real_kills_loses_no_acknowledged_write() {
    let mut cluster = Processes::new("");
    cluster.start_all();
    let mut acknowledged = BTreeMap::new();
    let leader = cluster.leader(&[1, 2, 3]).await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    cluster
        .write_acknowledged(follower, "username", "john_doe")
        .await;
    acknowledged.insert("username", "john_doe");

    // Follower failure: the other two are a majority.
    cluster.kill9(follower);
    assert!(
        cluster.get(follower, "/health").await.is_none(),
        "a killed node answers nothing"
    );
    let response = cluster
        .post(leader, "after_follower_failure", "cluster_still_works")
        .await;
    assert_eq!(
        response.map(|r| r.status),
        Some(201),
        "a majority still commits"
    );
    acknowledged.insert("after_follower_failure", "cluster_still_works");
    cluster.start(follower, &[]);
    cluster
        .wait_value(follower, "after_follower_failure", "cluster_still_works")
        .await;

    // Leader failure: the survivors elect a new leader and accept writes.
    cluster.kill9(leader);
    let survivors: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let new_leader = cluster.leader(&survivors).await;
    assert_ne!(new_leader, leader);
    let last = *survivors.iter().find(|id| **id != new_leader).unwrap();
    cluster
        .write_acknowledged(last, "after_leader_failure", "new_leader")
        .await;
    acknowledged.insert("after_leader_failure", "new_leader");

    // Majority failure: one node left cannot write, but still reads.
    cluster.kill9(new_leader);
    cluster
        .until("the last node to notice its leader is gone", || async {
            let status = cluster.get(last, "/status").await?.json();
            status["raft"]["leader_id"].is_null().then_some(())
        })
        .await;
    let refused = cluster
        .post(last, "no_majority", "should_fail")
        .await
        .expect("an answer");
    assert_eq!(refused.status, 503, "no majority: {}", refused.json());
    // Reads are served from what this node has applied. (The last write may
    // not be among it: its commit was news the dead leader never sent.)
    cluster
        .wait_value(last, "after_follower_failure", "cluster_still_works")
        .await;

    // Recovery: the killed nodes come back and catch up.
    cluster.start(leader, &[]);
    cluster.start(new_leader, &[]);
    cluster.leader(&[1, 2, 3]).await;
    cluster
        .write_acknowledged(leader, "after_recovery", "all_back")
        .await;
    acknowledged.insert("after_recovery", "all_back");

    // Full restart: every process killed at once, then started again.
    for id in 1..=3 {
        cluster.kill9(id);
    }
    cluster.start_all();
    cluster.leader(&[1, 2, 3]).await;
    for id in 1..=3 {
        for (key, value) in &acknowledged {
            cluster.wait_value(id, key, value).await;
        }
        let absent = cluster.get(id, "/cache/no_majority").await.unwrap();
        assert_eq!(
            absent.status, 404,
            "a write answered 503 must never appear later"
        );
    }
}

#[tokio::test]
async fn peer_with_wrong_token_is_refused_and_logged() {
    let mut cluster = Processes::new("right-token");
    cluster.start(1, &[]);
    cluster.start(2, &[]);
    cluster.start(3, &["--token", "wrong-token"]);
    let leader = cluster.leader(&[1, 2]).await;
    cluster.write_acknowledged(leader, "before", "ok").await;

    cluster
        .until("node1 to log node3's refusal", || async {
            cluster
                .log(1)
                .contains("wrong cluster token from node3")
                .then_some(())
        })
        .await;
    cluster
        .until("node3 to log that its peers refuse it", || async {
            cluster
                .log(3)
                .contains("peer refused our raft connection")
                .then_some(())
        })
        .await;
    cluster
        .write_acknowledged(leader, "after", "still_works")
        .await;
    for id in [1, 2] {
        cluster.wait_value(id, "after", "still_works").await;
    }
    let outsider = cluster.get(3, "/status").await.unwrap().json();
    assert_eq!(
        outsider["raft"]["leader_id"],
        Value::Null,
        "node3 never joined"
    );
    assert_eq!(cluster.get(3, "/cache/before").await.unwrap().status, 404);
}

#[tokio::test]
async fn garbage_on_the_raft_port_closes_only_that_connection() {
    let mut cluster = Processes::new("secret");
    cluster.start_all();
    let leader = cluster.leader(&[1, 2, 3]).await;
    let raft_address = cluster.raft[&leader].clone();
    let garbage: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: raft\r\n\r\n", // a length prefix of about 1.2 GB
        &[0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff], // a frame that is no handshake
        &[0, 0, 0, 0],                           // an empty frame
    ];
    for bytes in garbage {
        let mut stream = TcpStream::connect(&raft_address).expect("connect to the raft port");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.write_all(bytes).unwrap();
        let mut buffer = [0u8; 64];
        let read = stream.read(&mut buffer);
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "the node must close the connection, got {read:?}"
        );
        if let Err(error) = &read {
            assert_ne!(
                error.kind(),
                std::io::ErrorKind::WouldBlock,
                "not closed in time"
            );
        }
    }

    // A well-formed hello with the wrong token is refused with a reason.
    let mut stream = TcpStream::connect(&raft_address).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut frame = bytes::BytesMut::new();
    let hello = Hello {
        version: wire::PROTOCOL_VERSION,
        node: (1..=3).find(|id| *id != leader).unwrap(),
        to: leader,
        token: "guess".into(),
    };
    wire::encode_frame(&hello, &mut frame).unwrap();
    stream.write_all(&frame).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let refusal: HelloReply = wire::decode(&reply[4..]).expect("a reply frame");
    assert!(
        matches!(refusal, HelloReply::Refused(reason) if reason.contains("wrong cluster token"))
    );

    // The node is unharmed: same leader, writes commit, the garbage was logged.
    cluster
        .write_acknowledged(leader, "after_garbage", "fine")
        .await;
    assert_eq!(cluster.leader(&[1, 2, 3]).await, leader);
    let log = cluster.log(leader);
    assert!(
        log.contains("raft connection closed"),
        "garbage is logged:\n{log}"
    );
    assert!(
        log.contains("raft connection refused"),
        "the refusal is logged:\n{log}"
    );

    // SIGTERM stops a node cleanly with exit status 0.
    let status = cluster.terminate(leader);
    assert!(status.success(), "graceful stop exits 0, got {status}");
    assert!(cluster.log(leader).contains("stopped cleanly"));
}

/// Failover figures, not a pass/fail check: run with
/// `cargo test --release --test processes -- --ignored --nocapture`.
/// Kills the leader process with SIGKILL and times until a surviving node
/// acknowledges the next write, then runs `raftcache bench` (the same
/// measurement in one process) on the same machine for comparison.
#[tokio::test]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
async fn failover_with_processes_compared_with_one_process() {
    const TRIALS: usize = 20;
    let mut cluster = Processes::new("");
    cluster.start_all();
    let mut times_ms = Vec::new();
    for trial in 0..TRIALS {
        let leader = cluster.leader(&[1, 2, 3]).await;
        let survivor = (1..=3).find(|id| *id != leader).unwrap();
        let key = format!("failover-{trial}");
        cluster.write_acknowledged(survivor, &key, "before").await;
        let killed_at = Instant::now();
        cluster.kill9(leader);
        let mut refusals = Vec::new();
        loop {
            assert!(
                killed_at.elapsed() < WAIT,
                "trial {trial}: no write acknowledged"
            );
            match cluster.post(survivor, &key, "after").await {
                Some(response) if response.status < 300 => break,
                other => {
                    let code = other.map(|response| response.json()["code"].clone());
                    let at_ms = killed_at.elapsed().as_secs_f64() * 1000.0;
                    refusals.push(format!("{at_ms:.0} ms {code:?}"));
                    tokio::time::sleep(Duration::from_millis(1)).await
                }
            }
        }
        if !refusals.is_empty() {
            println!(
                "  trial {trial}, answers before the acknowledgement: {}",
                refusals.join(", ")
            );
        }
        times_ms.push(killed_at.elapsed().as_secs_f64() * 1000.0);
        cluster.start(leader, &[]);
        cluster.wait_value(leader, &key, "after").await;
    }
    let mut sorted = times_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let listed: Vec<String> = times_ms.iter().map(|ms| format!("{ms:.0}")).collect();
    println!(
        "separate processes over TCP, {TRIALS} trials, {} build: p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        if cfg!(debug_assertions) { "DEBUG" } else { "release" },
        at(0.5),
        at(0.9),
        at(1.0)
    );
    println!("  each trial (ms): {}", listed.join(" "));
    drop(cluster);
    let bench = Command::new(RAFTCACHE)
        .args([
            "bench",
            "--trials",
            "20",
            "--sequential",
            "0",
            "--seconds",
            "0",
        ])
        .output()
        .expect("run raftcache bench");
    println!("{}", String::from_utf8_lossy(&bench.stdout));
}
