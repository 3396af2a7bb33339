//! Reading and validating request bodies and keys: the bad-input table of
//! API.md lives here, so that no handler can forget a rule.

use super::error::ApiError;
use http_body_util::BodyExt;
use hyper::body::Body;
use hyper::body::Incoming;
use hyper::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// Longest key accepted, in bytes after percent-decoding.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest TTL accepted: ten years.
pub const MAX_TTL_S: f64 = 10.0 * 365.25 * 24.0 * 3600.0;
/// A body that has not fully arrived after this long is abandoned.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A validated set request.
#[derive(Debug, PartialEq)]
pub struct SetBody {
    /// The value as compact JSON text.
    pub value: Value,
    /// TTL in milliseconds, if any (rounded up: a TTL never ends early).
    pub ttl_ms: Option<u64>,
    /// The TTL as sent, echoed in the response.
    pub ttl: Option<Value>,
}

/// Decodes a key from its raw path segment.
pub fn decode_key(raw: &str) -> Result<String, ApiError> {
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
    let key = String::from_utf8(bytes).map_err(|_| {
        ApiError::bad_request(
            "invalid_key",
            "the key is not valid UTF-8 after percent-decoding",
        )
    })?;
    if key.is_empty() {
        return Err(ApiError::bad_request("invalid_key", "the key is empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ApiError::bad_request(
            "invalid_key",
            format!(
                "the key is {} bytes; at most {MAX_KEY_BYTES} are allowed",
                key.len()
            ),
        ));
    }
    Ok(key)
}

/// Bytes of an oversized body read past the limit and thrown away before
/// answering 413. Draining lets the 413 go out on a connection that stays
/// usable: closing a socket with unread bytes makes the kernel send a reset,
/// which can destroy the 413 before the client reads it, and a pooling client
/// would then see a bare connection error instead of a clear answer. Beyond
/// this much the sender is not worth waiting for, and the connection is closed.
pub const DRAIN_MAX_BYTES: usize = 8 << 20;

/// Reads the whole body, refusing more than `max_bytes` and slow senders.
pub async fn read_body(
    request: hyper::Request<Incoming>,
    max_bytes: usize,
) -> Result<bytes::Bytes, ApiError> {
    let expects_continue = request
        .headers()
        .get(hyper::header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let body = request.into_body();
    // A client that waits for `100 Continue` has sent no body yet: a length
    // over the limit is refused now, before it uploads anything (hyper sends
    // 100 Continue only once the body is read).
    if expects_continue && body.size_hint().lower() > max_bytes as u64 {
        return Err(payload_too_large(max_bytes, true));
    }
    match tokio::time::timeout(BODY_READ_TIMEOUT, read_limited(body, max_bytes)).await {
        Err(_) => Err(ApiError {
            close_connection: true,
            ..ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the body did not arrive in time",
            )
        }),
        Ok(result) => result,
    }
}

fn payload_too_large(max_bytes: usize, close_connection: bool) -> ApiError {
    ApiError {
        close_connection,
        ..ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {max_bytes} bytes"),
        )
    }
}

async fn read_limited(mut body: Incoming, max_bytes: usize) -> Result<bytes::Bytes, ApiError> {
    let too_large = |close_connection| payload_too_large(max_bytes, close_connection);
    let drain_limit = max_bytes.saturating_add(DRAIN_MAX_BYTES);
    // A declared length past the drain limit is refused before any of the
    // body is asked for (a client waiting on `Expect: 100-continue` never
    // sends it).
    if body.size_hint().lower() > drain_limit as u64 {
        return Err(too_large(true));
    }
    let mut collected = bytes::BytesMut::new();
    let mut received = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|_| ApiError::bad_request("invalid_body", "the body could not be read"))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing the API reads
        };
        received = received.saturating_add(data.len());
        if received <= max_bytes {
            collected.extend_from_slice(&data);
        } else if received > drain_limit {
            return Err(too_large(true));
        } else {
            collected = bytes::BytesMut::new(); // past the limit: drain only
        }
    }
    if received > max_bytes {
        return Err(too_large(false));
    }
    Ok(collected.freeze())
}

/// Parses and validates `{"value": <any JSON>, "ttl": <seconds>}`.
pub fn parse_set_body(bytes: &[u8]) -> Result<SetBody, ApiError> {
    let json: Value = serde_json::from_slice(bytes).map_err(|error| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body is not valid JSON: {error}"),
        )
    })?;
    let Value::Object(mut object) = json else {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body must be a JSON object like {\"value\": ...}",
        ));
    };
    let value = object
        .remove("value")
        .ok_or_else(|| ApiError::bad_request("missing_value", "the body has no \"value\" field"))?;
    let ttl = object.remove("ttl").filter(|ttl| !ttl.is_null());
    let ttl_ms = match &ttl {
        None => None,
        Some(ttl) => Some(ttl_to_ms(ttl)?),
    };
    Ok(SetBody { value, ttl_ms, ttl })
}

fn ttl_to_ms(ttl: &Value) -> Result<u64, ApiError> {
    let invalid = |why: &str| {
        ApiError::bad_request(
            "invalid_ttl",
            format!("\"ttl\" must be a number of seconds above 0 and at most 10 years; {why}"),
        )
    };
    let seconds = ttl.as_f64().ok_or_else(|| invalid("got a non-number"))?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(invalid(&format!("got {seconds}")));
    }
    if seconds > MAX_TTL_S {
        return Err(invalid(&format!("got {seconds}")));
    }
    Ok((seconds * 1000.0).ceil() as u64)
}
