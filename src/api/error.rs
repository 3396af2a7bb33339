//! The API's one error type, and the one place errors become HTTP statuses.

use crate::transport::WriteError;
use hyper::StatusCode;

/// An error answered to a client as `{"error": "...", "code": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable code (API.md).
    pub code: &'static str,
    /// A sentence for a human: what went wrong and what to do.
    pub message: String,
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    pub retry_after_s: Option<u32>,
    /// Methods the path accepts (sent as `Allow` with 405).
    pub allow: Option<&'static str>,
    /// The request's body was not read to its end, so the connection cannot
    /// carry another request: answer with `Connection: close`.
    pub close_connection: bool,
}

impl ApiError {
    /// An error with no retry hint.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
            allow: None,
            close_connection: false,
        }
    }

    fn unavailable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            retry_after_s: Some(1),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    /// 400 for malformed input.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 for an unknown path.
    pub fn unknown_path(path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such path: {path}"),
        )
    }

    /// 405 with the methods the path does accept.
    pub fn method_not_allowed(allow: &'static str) -> ApiError {
        ApiError {
            allow: Some(allow),
            ..ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("method not allowed here; use {allow}"),
            )
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> ApiError {
        match error {
            WriteError::NoLeader => ApiError::unavailable(
                "no_leader",
                "no leader is reachable from this node (an election is in progress or a majority is down); retry shortly",
            ),
            WriteError::NoQuorum { reachable, cluster } => ApiError::unavailable(
                "no_quorum",
                format!(
                    "the leader reaches only {reachable} of {cluster} nodes; a write needs a majority ({})",
                    cluster / 2 + 1
                ),
            ),
            WriteError::OutcomeUnknown { index } => ApiError {
                retry_after_s: Some(1),
                ..ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "outcome_unknown",
                    match index {
                        Some(index) => format!(
                            "the write was appended at log index {index} but not confirmed in time; it may or may not take effect: read the key to find out"
                        ),
                        None => "the write was sent to the leader but no answer came in time; it may or may not take effect: read the key to find out".to_string(),
                    },
                )
            },
            WriteError::Dropped => ApiError::unavailable(
                "leader_changed",
                "leadership changed before the write committed; it was not applied; retry",
            ),
            WriteError::Stopping => ApiError::unavailable("node_stopping", "this node is stopping; use another node"),
            WriteError::Overloaded => {
                ApiError::unavailable("overloaded", "too many requests are queued at this node; retry shortly")
            }
        }
    }
}
