//! A small HTTP/JSON client over hyper, shared by the end-to-end tests, the
//! lab workloads and the benchmark: connection pooling, a timeout on every
//! request, and responses kept whole (status, headers, body).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, CONTENT_TYPE};
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;

/// A request gets no answer after this long by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A pooled connection idle this long is not reused. Our nodes close a
/// keep-alive connection that stays idle for their header read timeout
/// ([`crate::api::server::HEADER_READ_TIMEOUT`], 5 s); reusing one just as the
/// server closes it fails the request, so the pool lets go well before.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// A whole response.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    }
}

/// Why no response arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// Nothing is listening, or the connection broke before an answer.
    Connection(String),
    /// No answer within the timeout.
    Timeout,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Connection(message) => write!(f, "connection failed: {message}"),
            ClientError::Timeout => f.write_str("timed out"),
        }
    }
}

/// A pooled HTTP/1.1 client; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}

impl HttpClient {
    /// A client with the default timeout.
    pub fn new() -> HttpClient {
        HttpClient::with_timeout(DEFAULT_REQUEST_TIMEOUT)
    }

    /// A client whose requests give up after `timeout`.
    pub fn with_timeout(timeout: Duration) -> HttpClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        HttpClient { inner, timeout }
    }

    /// Sends a request with an optional raw body.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Bytes>,
    ) -> Result<HttpResponse, ClientError> {
        let mut builder = Request::builder().method(method).uri(url);
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|error| ClientError::Connection(error.to_string()))?;
        let exchange = async {
            let response = self
                .inner
                .request(request)
                .await
                .map_err(|error| ClientError::Connection(error.to_string()))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|error| ClientError::Connection(error.to_string()))?
                .to_bytes();
            Ok(HttpResponse {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(ClientError::Timeout))
    }

    /// GET.
    pub async fn get(&self, url: &str) -> Result<HttpResponse, ClientError> {
        self.send(Method::GET, url, None).await
    }

    /// POST a JSON value.
    pub async fn post_json(&self, url: &str, body: &Value) -> Result<HttpResponse, ClientError> {
        self.send(Method::POST, url, Some(Bytes::from(body.to_string())))
            .await
    }

    /// DELETE.
    pub async fn delete(&self, url: &str) -> Result<HttpResponse, ClientError> {
        self.send(Method::DELETE, url, None).await
    }
}
