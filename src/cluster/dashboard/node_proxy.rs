//! The two server-side helpers of the dashboard, so the page never talks to
//! a node's port directly (that would be a cross-origin request):
//!
//! - [`forward`] relays `/api/nodes/{id}/cache...`, `/metrics` and `/stats`
//!   to that node's own HTTP API, unchanged, so the set/get/delete form goes
//!   through exactly the path a curl user takes (forwarding to the leader,
//!   503s without quorum, a paused node that does not answer).
//! - [`cache_listing`] lists the first keys of one node's cache with their
//!   remaining TTL, read in process from the node's handle. It reads a
//!   snapshot rather than `Cache::get`, so the dashboard's polling does not
//!   count as hits in the node's `/stats`.

use crate::api::response::json;
use crate::api::server::{full_body, HttpBody};
use crate::api::ApiError;
use crate::cache::{unix_now_ms, CacheSnapshot};
use crate::client::{ClientError, HttpClient};
use crate::cluster::Cluster;
use crate::raft::{node_name, NodeId};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use serde_json::json;
use std::time::Duration;

/// Largest body the form may send through the proxy.
const MAX_FORWARDED_BODY_BYTES: usize = 64 * 1024;
/// A forwarded request gets no answer after this long (a paused node never
/// answers until resumed; a write without quorum fails well before this).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys listed when the page does not ask for a number.
const DEFAULT_LISTED_KEYS: usize = 100;
/// Keys listed at most, whatever the page asks.
const MAX_LISTED_KEYS: usize = 1000;
/// Characters of each value shown in a listing.
const MAX_LISTED_VALUE_CHARS: usize = 80;
/// Response headers relayed from the node to the page.
const RELAYED_HEADERS: [&str; 6] = [
    "content-type",
    "x-raft-leader",
    "x-raft-consistency",
    "x-raft-applied-index",
    "retry-after",
    "allow",
];

/// Relays `request` to node `id`'s own API: `/api/nodes/node2/cache/k?x` goes
/// to `http://<node2>/cache/k?x`, with the same method and body.
pub async fn forward(
    cluster: &Cluster,
    id: NodeId,
    request: Request<Incoming>,
) -> Result<Response<HttpBody>, ApiError> {
    if cluster.handle(id).is_none() {
        return Err(not_running(id));
    }
    let address = cluster.address(id).ok_or_else(|| not_running(id))?;
    // "/api/nodes/node2/cache/k" -> "/cache/k", percent-encoding untouched.
    let rest = request.uri().path().splitn(5, '/').nth(4).unwrap_or("");
    let node_path = format!("/{rest}");
    let url = match request.uri().query() {
        Some(query) => format!("http://{address}{node_path}?{query}"),
        None => format!("http://{address}{node_path}"),
    };
    let method = request.method().clone();
    let body = crate::api::body::read_body(request, MAX_FORWARDED_BODY_BYTES).await?;
    let body = (!body.is_empty()).then_some(body);
    let answer = HttpClient::with_timeout(FORWARD_TIMEOUT)
        .send(method, &url, body)
        .await
        .map_err(|problem| unreachable(id, problem))?;
    let mut response = Response::new(full_body(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for name in RELAYED_HEADERS {
        if let Some(value) = answer.headers.get(name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response.headers_mut().insert(
        "x-raft-node",
        HeaderValue::from_str(&node_name(id)).expect("node names are ASCII"),
    );
    Ok(response)
}

/// The first `limit` live keys (sorted) of node `id`'s cache, each with a
/// shortened value and `ttl_remaining` in seconds (`null`: no expiry), and
/// the number of live keys. `query` may carry `limit=N`.
pub async fn cache_listing(
    cluster: &Cluster,
    id: NodeId,
    query: &str,
) -> Result<Response<HttpBody>, ApiError> {
    let handle = cluster.handle(id).ok_or_else(|| not_running(id))?;
    let limit = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("limit="))
        .map(|text| {
            text.parse::<usize>().map_err(|_| {
                ApiError::bad_request(
                    "invalid_limit",
                    format!("limit must be a number, got {text:?}"),
                )
            })
        })
        .transpose()?
        .unwrap_or(DEFAULT_LISTED_KEYS)
        .min(MAX_LISTED_KEYS);
    // The snapshot copies the whole map: do it off the async workers.
    let listing = tokio::task::spawn_blocking(move || {
        let snapshot =
            CacheSnapshot::decode(&handle.cache.snapshot()).expect("a snapshot just made decodes");
        let now_ms = unix_now_ms();
        let live: Vec<_> = snapshot
            .entries
            .into_iter()
            .filter(|entry| entry.expires_at_ms.is_none_or(|at| now_ms < at))
            .collect();
        let keys: Vec<_> = live
            .iter()
            .take(limit)
            .map(|entry| {
                let value: String = entry.value.chars().take(MAX_LISTED_VALUE_CHARS).collect();
                json!({
                    "key": entry.key,
                    "value": value,
                    "ttl_remaining": entry
                        .expires_at_ms
                        .map(|at| at.saturating_sub(now_ms) as f64 / 1000.0),
                })
            })
            .collect();
        json!({
            "node": node_name(id),
            "applied_index": snapshot.applied_index,
            "count": live.len(),
            "keys": keys,
        })
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed",
            "listing failed",
        )
    })?;
    Ok(json(StatusCode::OK, &listing))
}

fn not_running(id: NodeId) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!("{} is not running", node_name(id)),
    )
}

fn unreachable(id: NodeId, problem: ClientError) -> ApiError {
    match problem {
        ClientError::Timeout => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "node_timeout",
            format!(
                "{} did not answer within {} s (paused?)",
                node_name(id),
                FORWARD_TIMEOUT.as_secs()
            ),
        ),
        ClientError::Connection(message) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "node_unreachable",
            format!("{} cannot be reached (killed?): {message}", node_name(id)),
        ),
    }
}
