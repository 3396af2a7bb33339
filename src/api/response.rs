//! Building JSON responses.

use super::error::ApiError;
use super::server::{full_body, HttpBody};
use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde::Serialize;

/// A JSON response with `status`.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response<HttpBody> {
    let body = serde_json::to_vec(value).expect("API values always serialize");
    let mut response = Response::new(full_body(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The JSON form of an error, with its `Retry-After` and `Allow` headers.
pub fn error(error: &ApiError) -> Response<HttpBody> {
    let mut response = json(
        error.status,
        &serde_json::json!({"error": error.message, "code": error.code}),
    );
    if let Some(seconds) = error.retry_after_s {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(allow) = error.allow {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    if error.close_connection {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Plain text, for `/metrics`.
pub fn text(body: String, content_type: &'static str) -> Response<HttpBody> {
    let mut response = Response::new(full_body(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
