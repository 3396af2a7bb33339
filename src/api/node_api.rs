//! The per-node HTTP API of API.md: routing, and one handler per endpoint.

use super::body::{decode_key, parse_set_body, read_body};
use super::error::ApiError;
use super::metrics::ApiMetrics;
use super::response::{error, json, text};
use super::server::HttpBody;
use crate::cache::unix_now_ms;
use crate::node::NodeHandle;
use crate::raft::{node_name, NodeId, Role};
use crate::transport::{WriteEffect, WriteRequest};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Everything a node's API needs.
pub struct NodeApi {
    pub node: NodeHandle,
    /// This node's HTTP address, as shown in `/status`.
    pub address: String,
    /// Every other node's HTTP address, as shown in `/status`.
    pub peer_addresses: BTreeMap<NodeId, String>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    pub metrics: ApiMetrics,
}

/// How a read may be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Consistency {
    Local,
    Linearizable,
}

impl NodeApi {
    /// Answers one request. Never panics on client input: every failure is a JSON error.
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<HttpBody> {
        let started = Instant::now();
        self.node.wait_while_paused().await;
        let (route, result) = self.route(request).await;
        let mut response = result.unwrap_or_else(|api_error| error(&api_error));
        if let Some(leader) = self.node.status().leader {
            let name = HeaderValue::from_str(&node_name(leader)).expect("node names are ASCII");
            response.headers_mut().insert("x-raft-leader", name);
        }
        self.metrics.observe(
            route,
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
        response
    }

    async fn route(
        &self,
        request: Request<Incoming>,
    ) -> (&'static str, Result<Response<HttpBody>, ApiError>) {
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or("").to_string();
        let method = request.method().clone();
        match path.as_str() {
            "/health" => (
                "health",
                only(&method, &Method::GET, "GET").map(|()| self.health()),
            ),
            "/status" => (
                "status",
                only(&method, &Method::GET, "GET").map(|()| self.status()),
            ),
            "/stats" => (
                "stats",
                only(&method, &Method::GET, "GET").map(|()| self.stats()),
            ),
            "/metrics" => (
                "metrics",
                only(&method, &Method::GET, "GET").map(|()| self.metrics_text()),
            ),
            "/cache" | "/cache/" => match method {
                Method::GET => ("list", self.list(&query).await),
                Method::DELETE => ("clear", self.write(WriteRequest::Clear, None).await),
                _ => ("list", Err(ApiError::method_not_allowed("GET, DELETE"))),
            },
            _ => match path.strip_prefix("/cache/") {
                Some(raw_key) => {
                    let key = match decode_key(raw_key) {
                        Ok(key) => key,
                        Err(invalid) => return ("key", Err(invalid)),
                    };
                    match method {
                        Method::GET => ("get", self.get(key, &query).await),
                        Method::POST | Method::PUT => ("set", self.set(key, request).await),
                        Method::DELETE => (
                            "delete",
                            self.write(WriteRequest::Delete { key: key.clone() }, None)
                                .await,
                        ),
                        _ => (
                            "key",
                            Err(ApiError::method_not_allowed("GET, POST, PUT, DELETE")),
                        ),
                    }
                }
                None => ("unknown", Err(ApiError::unknown_path(&path))),
            },
        }
    }

    fn health(&self) -> Response<HttpBody> {
        let status = self.node.status();
        json(
            StatusCode::OK,
            &json!({
                "status": "healthy",
                "node_id": node_name(status.id),
                "state": status.role.as_str(),
                "term": status.term,
                "leader_id": status.leader.map(node_name),
            }),
        )
    }

    fn status(&self) -> Response<HttpBody> {
        let status = self.node.status();
        let nodes: Vec<Value> = self
            .peer_addresses
            .iter()
            .map(|(id, address)| {
                let progress = status.progress.get(id);
                json!({
                    "id": node_name(*id),
                    "address": address,
                    "match_index": progress.map(|(matched, _)| *matched),
                    "next_index": progress.map(|(_, next)| *next),
                })
            })
            .collect();
        json(
            StatusCode::OK,
            &json!({
                "node_id": node_name(status.id),
                "address": self.address,
                "raft": {
                    "state": status.role.as_str(),
                    "term": status.term,
                    "is_leader": status.role == Role::Leader,
                    "leader_id": status.leader.map(node_name),
                    "voted_for": status.voted_for.map(node_name),
                    "commit_index": status.commit_index,
                    "last_applied": status.last_applied,
                    "last_log_index": status.last_log_index,
                    "last_log_term": status.last_log_term,
                    "snapshot_index": 0,
                    "log_tail": status.log_tail_terms,
                    "elections_started": status.counters.elections_started,
                    "elections_won": status.counters.elections_won,
                },
                "cluster": {"nodes": nodes},
                "storage": {"wal_bytes": status.wal_bytes},
                "pending_writes": status.pending_writes,
            }),
        )
    }

    fn stats(&self) -> Response<HttpBody> {
        let stats = self.node.cache.stats(unix_now_ms());
        let mut body = serde_json::to_value(stats).expect("stats serialize");
        body["node_id"] = json!(node_name(self.node.id));
        body["requests"] = json!(self.metrics.requests_per_route());
        json(StatusCode::OK, &body)
    }

    fn metrics_text(&self) -> Response<HttpBody> {
        text(
            self.metrics.render(&self.node.status()),
            "text/plain; version=0.0.4; charset=utf-8",
        )
    }

    /// Waits for a ReadIndex confirmation when the read must be linearizable.
    async fn consistent(&self, query: &str) -> Result<Consistency, ApiError> {
        let consistency = parse_consistency(query)?;
        if consistency == Consistency::Linearizable {
            self.node.read_index().await?;
        }
        Ok(consistency)
    }

    async fn get(&self, key: String, query: &str) -> Result<Response<HttpBody>, ApiError> {
        let consistency = self.consistent(query).await?;
        let now_ms = unix_now_ms();
        let applied = self.node.cache.applied_index();
        let Some(cached) = self.node.cache.get(&key, now_ms) else {
            let mut response = error(&ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("key not found: {key}"),
            ));
            read_headers(&mut response, consistency, applied);
            return Ok(response);
        };
        let value: Value =
            serde_json::from_str(&cached.value).expect("stored values are valid JSON");
        let ttl_remaining = cached.ttl_remaining_ms(now_ms).map(|ms| ms as f64 / 1000.0);
        let mut response = json(
            StatusCode::OK,
            &json!({"key": key, "value": value, "ttl_remaining": ttl_remaining}),
        );
        read_headers(&mut response, consistency, applied);
        Ok(response)
    }

    async fn list(&self, query: &str) -> Result<Response<HttpBody>, ApiError> {
        let consistency = self.consistent(query).await?;
        let applied = self.node.cache.applied_index();
        let keys = self.node.cache.keys(unix_now_ms());
        let mut response = json(StatusCode::OK, &json!({"count": keys.len(), "keys": keys}));
        read_headers(&mut response, consistency, applied);
        Ok(response)
    }

    async fn set(
        &self,
        key: String,
        request: Request<Incoming>,
    ) -> Result<Response<HttpBody>, ApiError> {
        let bytes = read_body(request, self.max_body_bytes).await?;
        let body = parse_set_body(&bytes)?;
        let value_text = serde_json::to_string(&body.value).expect("JSON values serialize");
        let write = WriteRequest::Set {
            key,
            value: value_text,
            ttl_ms: body.ttl_ms,
        };
        self.write(write, Some((body.value, body.ttl))).await
    }

    /// Replicates a write and describes its effect.
    async fn write(
        &self,
        request: WriteRequest,
        set: Option<(Value, Option<Value>)>,
    ) -> Result<Response<HttpBody>, ApiError> {
        let key = match &request {
            WriteRequest::Set { key, .. } | WriteRequest::Delete { key } => Some(key.clone()),
            WriteRequest::Clear => None,
        };
        let receipt = self.node.write(request).await?;
        let position = json!({"index": receipt.index, "term": receipt.term, "leader_id": node_name(receipt.leader)});
        let (status, mut body) = match receipt.effect {
            WriteEffect::Stored {
                created,
                expires_at_ms,
            } => {
                let (value, ttl) = set.expect("a stored effect comes from a set");
                let status = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                (
                    status,
                    json!({"key": key, "value": value, "ttl": ttl, "expires_at_ms": expires_at_ms}),
                )
            }
            WriteEffect::Deleted { existed: true } => {
                (StatusCode::OK, json!({"key": key, "deleted": true}))
            }
            WriteEffect::Deleted { existed: false } => {
                let key = key.unwrap_or_default();
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("key not found: {key}"),
                ));
            }
            WriteEffect::Cleared { removed } => (StatusCode::OK, json!({"cleared": removed})),
        };
        for (field, value) in position.as_object().expect("object") {
            body[field] = value.clone();
        }
        Ok(json(status, &body))
    }
}

/// Accepts only `allowed` on a path.
fn only(method: &Method, allowed: &Method, allow: &'static str) -> Result<(), ApiError> {
    if method == allowed || (*allowed == Method::GET && method == Method::HEAD) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(allow))
    }
}

fn parse_consistency(query: &str) -> Result<Consistency, ApiError> {
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == "consistency" {
            return match value {
                "local" => Ok(Consistency::Local),
                "linearizable" => Ok(Consistency::Linearizable),
                other => Err(ApiError::bad_request(
                    "invalid_consistency",
                    format!("consistency must be \"local\" or \"linearizable\", got {other:?}"),
                )),
            };
        }
    }
    Ok(Consistency::Local)
}

fn read_headers(response: &mut Response<HttpBody>, consistency: Consistency, applied: u64) {
    let name = match consistency {
        Consistency::Local => "local",
        Consistency::Linearizable => "linearizable",
    };
    response
        .headers_mut()
        .insert("x-raft-consistency", HeaderValue::from_static(name));
    response
        .headers_mut()
        .insert("x-raft-applied-index", HeaderValue::from(applied));
}
