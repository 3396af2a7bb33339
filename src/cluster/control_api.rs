//! The control plane of API.md: everything the dashboard can do, curl can do.

use super::dashboard::{node_proxy, DASHBOARD_HTML};
use super::launcher::{Cluster, ControlError};
use crate::api::body::read_body;
use crate::api::response::{error, json, text};
use crate::api::server::HttpBody;
use crate::api::ApiError;
use crate::raft::NodeId;
use crate::transport::LinkFault;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_stream::wrappers::BroadcastStream;

/// Largest control-plane request body.
const MAX_CONTROL_BODY_BYTES: usize = 64 * 1024;

/// Answers one control-plane request.
pub async fn handle(cluster: Arc<Cluster>, request: Request<Incoming>) -> Response<HttpBody> {
    route(&cluster, request)
        .await
        .unwrap_or_else(|api_error| error(&api_error))
}

async fn route(
    cluster: &Cluster,
    request: Request<Incoming>,
) -> Result<Response<HttpBody>, ApiError> {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (segments.as_slice(), &method) {
        ([""], &Method::GET) => Ok(text(DASHBOARD_HTML.to_string(), "text/html; charset=utf-8")),
        (["api", "cluster"], &Method::GET) => Ok(cluster_view(cluster)),
        (["api", "events"], &Method::GET) => Ok(event_stream(cluster)),
        // The dashboard's helpers (dashboard/node_proxy.rs): a node's cache
        // listing, and the node's own API relayed so the page stays same-origin.
        (["api", "nodes", name, "keys"], &Method::GET) => {
            let id = cluster.resolve(name).map_err(control_error)?;
            let query = request.uri().query().unwrap_or("").to_string();
            node_proxy::cache_listing(cluster, id, &query).await
        }
        (["api", "nodes", name, "cache" | "metrics" | "stats", ..], _) => {
            let id = cluster.resolve(name).map_err(control_error)?;
            node_proxy::forward(cluster, id, request).await
        }
        (["api", "nodes", name, action], &Method::POST) => {
            let id = cluster.resolve(name).map_err(control_error)?;
            node_action(cluster, id, action).await
        }
        (["api", "partition"], &Method::POST) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Body {
                groups: Vec<Vec<String>>,
            }
            let body: Body = parse(request).await?;
            let mut groups = Vec::new();
            let mut seen = BTreeSet::new();
            for group in body.groups {
                let mut ids = BTreeSet::new();
                for name in group {
                    let id = cluster.resolve(&name).map_err(control_error)?;
                    if !seen.insert(id) {
                        return Err(ApiError::bad_request(
                            "invalid_partition",
                            format!("{name} is in two groups"),
                        ));
                    }
                    ids.insert(id);
                }
                groups.push(ids);
            }
            cluster.partition(groups);
            Ok(json(
                StatusCode::OK,
                &json!({"ok": true, "faults": cluster.network().faults()}),
            ))
        }
        (["api", "heal"], &Method::POST) => {
            cluster.heal();
            Ok(json(StatusCode::OK, &json!({"ok": true})))
        }
        (["api", "links"], &Method::POST) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Body {
                from: String,
                to: String,
                #[serde(flatten)]
                fault: LinkFault,
            }
            let body: Body = parse(request).await?;
            body.fault
                .validate()
                .map_err(|message| ApiError::bad_request("invalid_link", message))?;
            let endpoint = |name: &str| -> Result<Option<NodeId>, ApiError> {
                if name == "*" {
                    Ok(None)
                } else {
                    cluster.resolve(name).map(Some).map_err(control_error)
                }
            };
            cluster.set_link(endpoint(&body.from)?, endpoint(&body.to)?, body.fault);
            Ok(json(
                StatusCode::OK,
                &json!({"ok": true, "faults": cluster.network().faults()}),
            ))
        }
        (["api", "transfer"], &Method::POST) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Body {
                to: String,
            }
            let body: Body = parse(request).await?;
            let to = cluster.resolve(&body.to).map_err(control_error)?;
            cluster.transfer_leadership(to).map_err(control_error)?;
            Ok(json(StatusCode::ACCEPTED, &json!({"ok": true})))
        }
        ([""] | ["api", "cluster"] | ["api", "events"], _) => {
            Err(ApiError::method_not_allowed("GET"))
        }
        (
            ["api", "nodes", _, _]
            | ["api", "partition"]
            | ["api", "heal"]
            | ["api", "links"]
            | ["api", "transfer"],
            _,
        ) => Err(ApiError::method_not_allowed("POST")),
        _ => Err(ApiError::unknown_path(&path)),
    }
}

async fn node_action(
    cluster: &Cluster,
    id: NodeId,
    action: &str,
) -> Result<Response<HttpBody>, ApiError> {
    let result = match action {
        "kill" => cluster.kill(id).await,
        "restart" => cluster.restart(id).await,
        "pause" => cluster.set_paused(id, true).await,
        "resume" => cluster.set_paused(id, false).await,
        other => {
            return Err(ApiError::unknown_path(&format!(
                "/api/nodes/{}/{other} (actions: kill, restart, pause, resume)",
                crate::raft::node_name(id)
            )))
        }
    };
    result.map_err(control_error)?;
    Ok(json(
        StatusCode::OK,
        &json!({"ok": true, "node": crate::raft::node_name(id), "action": action}),
    ))
}

fn cluster_view(cluster: &Cluster) -> Response<HttpBody> {
    json(
        StatusCode::OK,
        &json!({
            "nodes": cluster.nodes(),
            "faults": cluster.network().faults(),
            "traffic": cluster.network().traffic(),
        }),
    )
}

/// Server-Sent Events: one `data:` line of JSON per cluster event.
fn event_stream(cluster: &Cluster) -> Response<HttpBody> {
    let events = BroadcastStream::new(cluster.events().subscribe()).map(|event| {
        let line = match event {
            Ok(event) => format!(
                "data: {}\n\n",
                serde_json::to_string(&event).expect("events serialize")
            ),
            Err(_) => ": some events were skipped\n\n".to_string(),
        };
        Ok::<_, Infallible>(Frame::data(Bytes::from(line)))
    });
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(events)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn parse<T: serde::de::DeserializeOwned>(request: Request<Incoming>) -> Result<T, ApiError> {
    let bytes = read_body(request, MAX_CONTROL_BODY_BYTES).await?;
    serde_json::from_slice(&bytes).map_err(|problem| {
        ApiError::bad_request("invalid_json", format!("invalid request body: {problem}"))
    })
}

fn control_error(problem: ControlError) -> ApiError {
    match problem {
        ControlError::UnknownNode(message) => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_node", message)
        }
        ControlError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
        ControlError::Failed(message) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "failed", message)
        }
    }
}
