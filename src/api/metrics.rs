//! Per-node Prometheus metrics: request counts and latencies recorded by the
//! API, Raft gauges read from the node's published status at scrape time.

use crate::node::NodeStatus;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Labels of one request series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route, not the raw path, so keys do not explode the series count.
    pub route: &'static str,
    pub status: u16,
}

/// Labels of one latency series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms .. ~3.3 s, doubling.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The metrics of one node's API.
pub struct ApiMetrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    raft_term: Gauge,
    raft_is_leader: Gauge,
    raft_commit_index: Gauge,
    raft_applied_index: Gauge,
    raft_last_log_index: Gauge,
    raft_elections_started: Gauge,
    raft_elections_won: Gauge,
    raft_proposals: Gauge,
    wal_bytes: Gauge,
    /// Requests per route, for `/stats` (the Prometheus families are write-only).
    per_route: Mutex<BTreeMap<&'static str, u64>>,
    total_requests: AtomicU64,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        ApiMetrics::new()
    }
}

impl ApiMetrics {
    /// Registers every series.
    pub fn new() -> ApiMetrics {
        let mut registry = Registry::with_prefix("raftcache");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        ApiMetrics {
            raft_term: gauge(&mut registry, "raft_term", "Current Raft term"),
            raft_is_leader: gauge(
                &mut registry,
                "raft_is_leader",
                "1 when this node is the leader",
            ),
            raft_commit_index: gauge(
                &mut registry,
                "raft_commit_index",
                "Highest log index known committed",
            ),
            raft_applied_index: gauge(
                &mut registry,
                "raft_applied_index",
                "Highest log index applied to the cache",
            ),
            raft_last_log_index: gauge(
                &mut registry,
                "raft_last_log_index",
                "Index of the last log entry",
            ),
            raft_elections_started: gauge(
                &mut registry,
                "raft_elections_started",
                "Elections this node started",
            ),
            raft_elections_won: gauge(
                &mut registry,
                "raft_elections_won",
                "Elections this node won",
            ),
            raft_proposals: gauge(
                &mut registry,
                "raft_proposals",
                "Entries proposed while leader",
            ),
            wal_bytes: gauge(&mut registry, "wal_bytes", "Size of the write-ahead log"),
            registry: Mutex::new(registry),
            requests,
            latency,
            per_route: Mutex::new(BTreeMap::new()),
            total_requests: AtomicU64::new(0),
        }
    }

    /// Records one answered request.
    pub fn observe(&self, route: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(seconds);
        *self.per_route.lock().entry(route).or_default() += 1;
        self.total_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests answered per route, for `/stats`.
    pub fn requests_per_route(&self) -> BTreeMap<&'static str, u64> {
        self.per_route.lock().clone()
    }

    /// The text exposition, with Raft gauges taken from `status`.
    pub fn render(&self, status: &NodeStatus) -> String {
        self.raft_term.set(status.term as i64);
        self.raft_is_leader
            .set(i64::from(status.role == crate::raft::Role::Leader));
        self.raft_commit_index.set(status.commit_index as i64);
        self.raft_applied_index.set(status.last_applied as i64);
        self.raft_last_log_index.set(status.last_log_index as i64);
        self.raft_elections_started
            .set(status.counters.elections_started as i64);
        self.raft_elections_won
            .set(status.counters.elections_won as i64);
        self.raft_proposals.set(status.counters.proposals as i64);
        self.wal_bytes.set(status.wal_bytes as i64);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry.lock())
            .expect("writing to a String cannot fail");
        text
    }
}
