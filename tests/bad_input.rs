//! One test per row of API.md's bad-input table: each bad request gets its
//! JSON error, the node stays healthy, and the data is exactly as before.
//! Bad writes aim at a key that already exists, so a partial write would show.

mod common;

use common::{eventually, TestCluster};
use hyper::Method;
use raftcache::client::HttpResponse;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The node every bad request is sent to.
const TARGET: u64 = 1;
/// The key present before any bad request, and its value.
const EXISTING_KEY: &str = "existing";
const EXISTING_VALUE: &str = "original";

/// A cluster holding one key, applied on the target node.
async fn cluster_with_one_key() -> TestCluster {
    let cluster = TestCluster::start().await;
    cluster.wait_for_leader(common::ELECTION_WAIT).await;
    cluster
        .write(TARGET, EXISTING_KEY, json!(EXISTING_VALUE))
        .await;
    cluster
        .wait_for_value(TARGET, EXISTING_KEY, &json!(EXISTING_VALUE))
        .await;
    cluster
}

/// The response is `status` with the JSON error shape and `code`.
fn assert_error(response: &HttpResponse, status: u16, code: &str) {
    let described = common::describe(response);
    assert_eq!(response.status, status, "{described}");
    assert_eq!(
        response.header("content-type").as_deref(),
        Some("application/json"),
        "{described}"
    );
    let body = response.json();
    assert_eq!(body["code"], code, "{described}");
    let sentence = body["error"].as_str().unwrap_or_default();
    assert!(!sentence.is_empty(), "no error sentence: {described}");
}

/// The target node still answers, and the data is what it was.
async fn assert_healthy_and_unchanged(cluster: &TestCluster) {
    let health = cluster
        .health(TARGET)
        .await
        .expect("the node still answers");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "healthy");
    let existing = cluster
        .read_local(TARGET, EXISTING_KEY)
        .await
        .expect("the key reads");
    assert_eq!(existing, Some(json!(EXISTING_VALUE)));
    let list = cluster.raw(TARGET, Method::GET, "/cache", None).await;
    assert_eq!(list.json()["count"], 1, "{}", common::describe(&list));
    assert_eq!(list.json()["keys"], json!([EXISTING_KEY]));
}

/// Sets the existing key with a raw body and expects it refused.
async fn assert_set_refused(cluster: &TestCluster, body: &[u8], code: &str) {
    let path = format!("/cache/{EXISTING_KEY}");
    for method in [Method::POST, Method::PUT] {
        let response = cluster.raw(TARGET, method, &path, Some(body)).await;
        assert_error(&response, 400, code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_invalid_json() {
    let cluster = cluster_with_one_key().await;

    for body in [&b"hello"[..], b"{\"value\": ", b"", b"\xff\xfe"] {
        assert_set_refused(&cluster, body, "invalid_json").await;
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_body_that_is_not_an_object_is_invalid_json() {
    let cluster = cluster_with_one_key().await;

    for body in ["[1, 2]", "\"text\"", "42", "null", "true"] {
        assert_set_refused(&cluster, body.as_bytes(), "invalid_json").await;
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_without_value_is_missing_value() {
    let cluster = cluster_with_one_key().await;

    for body in ["{}", "{\"ttl\": 5}", "{\"val\": \"typo\"}"] {
        assert_set_refused(&cluster, body.as_bytes(), "missing_value").await;
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ttl_that_is_not_a_number_is_invalid_ttl() {
    let cluster = cluster_with_one_key().await;

    for ttl in ["\"60\"", "true", "[60]", "{\"seconds\": 60}"] {
        let body = format!("{{\"value\": \"new\", \"ttl\": {ttl}}}");
        assert_set_refused(&cluster, body.as_bytes(), "invalid_ttl").await;
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ttl_of_zero_is_invalid_ttl() {
    let cluster = cluster_with_one_key().await;

    for ttl in ["0", "0.0", "-0"] {
        let body = format!("{{\"value\": \"new\", \"ttl\": {ttl}}}");
        assert_set_refused(&cluster, body.as_bytes(), "invalid_ttl").await;
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_ttl_is_invalid_ttl() {
    let cluster = cluster_with_one_key().await;

    for ttl in ["-1", "-0.001", "-1e300"] {
        let body = format!("{{\"value\": \"new\", \"ttl\": {ttl}}}");
        assert_set_refused(&cluster, body.as_bytes(), "invalid_ttl").await;
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ttl_over_ten_years_is_invalid_ttl() {
    let cluster = cluster_with_one_key().await;

    // Ten years of 365.25 days is 315,576,000 s.
    for ttl in ["315576001", "1e10", "18446744073709551616"] {
        let body = format!("{{\"value\": \"new\", \"ttl\": {ttl}}}");
        assert_set_refused(&cluster, body.as_bytes(), "invalid_ttl").await;
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

/// JSON has no NaN or infinity; the nearest a client can send is a number
/// too large for a double. The parser may turn it into infinity (then the
/// TTL rule refuses it) or refuse the document: both are correct answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ttl_beyond_the_range_of_a_double_is_refused() {
    let cluster = cluster_with_one_key().await;

    for ttl in ["1e400", "-1e400", "NaN", "Infinity"] {
        let body = format!("{{\"value\": \"new\", \"ttl\": {ttl}}}");
        let path = format!("/cache/{EXISTING_KEY}");
        let response = cluster
            .raw(TARGET, Method::POST, &path, Some(body.as_bytes()))
            .await;
        let code = response.json()["code"].as_str().unwrap_or("").to_string();
        assert!(
            code == "invalid_ttl" || code == "invalid_json",
            "ttl {ttl}: {}",
            common::describe(&response)
        );
        assert_error(&response, 400, &code);
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_1024_bytes_is_invalid_key() {
    let cluster = cluster_with_one_key().await;
    let ascii = "k".repeat(1025);
    // 513 two-byte characters: 1026 bytes once decoded.
    let multibyte = "%C3%A9".repeat(513);

    for key in [ascii.as_str(), multibyte.as_str()] {
        let path = format!("/cache/{key}");
        let set = cluster
            .raw(TARGET, Method::POST, &path, Some(b"{\"value\": 1}"))
            .await;
        assert_error(&set, 400, "invalid_key");
        let get = cluster.raw(TARGET, Method::GET, &path, None).await;
        assert_error(&get, 400, "invalid_key");
        let delete = cluster.raw(TARGET, Method::DELETE, &path, None).await;
        assert_error(&delete, 400, "invalid_key");
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_exactly_1024_bytes_is_accepted() {
    let cluster = cluster_with_one_key().await;
    let key = "k".repeat(1024);

    let set = cluster
        .raw(
            TARGET,
            Method::POST,
            &format!("/cache/{key}"),
            Some(b"{\"value\": \"long\"}"),
        )
        .await;

    assert_eq!(set.status, 201, "{}", common::describe(&set));
    cluster.wait_for_value(TARGET, &key, &json!("long")).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_utf8_after_percent_decoding_is_invalid_key() {
    let cluster = cluster_with_one_key().await;

    for key in ["%FF", "bad%FFkey", "%C3%28", "%ED%A0%80"] {
        let path = format!("/cache/{key}");
        let set = cluster
            .raw(TARGET, Method::POST, &path, Some(b"{\"value\": 1}"))
            .await;
        assert_error(&set, 400, "invalid_key");
        let get = cluster.raw(TARGET, Method::GET, &path, None).await;
        assert_error(&get, 400, "invalid_key");
        let delete = cluster.raw(TARGET, Method::DELETE, &path, None).await;
        assert_error(&delete, 400, "invalid_key");
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

/// An empty key cannot be named: `/cache/` is the list path, where a set
/// is not allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_empty_key_is_the_list_path_where_a_set_is_not_allowed() {
    let cluster = cluster_with_one_key().await;

    for method in [Method::POST, Method::PUT] {
        let response = cluster
            .raw(TARGET, method, "/cache/", Some(b"{\"value\": 1}"))
            .await;
        assert_error(&response, 405, "method_not_allowed");
        let allow = response.header("allow").expect("an Allow header");
        assert!(allow.contains("GET"), "{allow}");
    }
    let list = cluster.raw(TARGET, Method::GET, "/cache/", None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["count"], 1);

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_one_mebibyte_is_payload_too_large() {
    let cluster = cluster_with_one_key().await;
    let padding = "x".repeat(1 << 20);
    let body = format!("{{\"value\": \"{padding}\"}}");

    let response = cluster
        .raw(
            TARGET,
            Method::POST,
            &format!("/cache/{EXISTING_KEY}"),
            Some(body.as_bytes()),
        )
        .await;

    assert_error(&response, 413, "payload_too_large");
    // A body this size is drained, so the connection stays usable.
    assert_eq!(response.header("connection"), None);
    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

/// A client waiting for `100 Continue` with a length over the limit is
/// refused before it uploads anything, even below the drain limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expect_continue_over_the_limit_is_refused_before_the_upload() {
    let cluster = cluster_with_one_key().await;

    let answer = send_head_only(&cluster, "Content-Length: 2000000\r\nExpect: 100-continue").await;

    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "expected 413 and no 100 Continue, got {answer:?}"
    );
    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

/// Sends the head of a POST with `headers` and no body; returns everything
/// the server says until it closes the connection.
async fn send_head_only(cluster: &TestCluster, headers: &str) -> String {
    let address = cluster.cluster.address(TARGET).unwrap();
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /cache/{EXISTING_KEY} HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\n{headers}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    read_until_closed(&mut stream, Duration::from_secs(15)).await
}

/// A declared length far past the limit is refused before the body is sent,
/// and the connection is closed rather than drained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_far_past_the_limit_is_refused_at_once() {
    let cluster = cluster_with_one_key().await;

    // No Expect header: the length alone is enough to refuse without reading.
    let answer = send_head_only(&cluster, "Content-Length: 100000000").await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "expected 413, got {answer:?}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

/// A pooled client must not be handed the connection a 413 left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_goes_on_working_after_many_payload_too_large_answers() {
    let cluster = cluster_with_one_key().await;
    let body = format!("{{\"value\": \"{}\"}}", "x".repeat(1 << 20));
    let path = format!("/cache/{EXISTING_KEY}");

    for round in 0..50 {
        let response = cluster
            .raw(TARGET, Method::POST, &path, Some(body.as_bytes()))
            .await;
        assert_error(&response, 413, "payload_too_large");
        let health = cluster.health(TARGET).await;
        assert!(
            matches!(&health, Ok(response) if response.status == 200),
            "round {round}: the request after a 413 failed: {health:?}"
        );
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

/// Without a Content-Length the limit must hold while the body streams in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_one_mebibyte_is_payload_too_large() {
    let cluster = cluster_with_one_key().await;
    let address = cluster.cluster.address(TARGET).unwrap();
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /cache/{EXISTING_KEY} HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
    stream.write_all(b"b\r\n{\"value\": \"\r\n").await.unwrap();
    for _ in 0..17 {
        // The server may answer and close before all is sent.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"2\r\n\"}\r\n0\r\n\r\n").await;

    let answer = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "expected 413, got {answer:?}"
    );
    assert!(answer.contains("payload_too_large"), "{answer}");
    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_path_is_not_found() {
    let cluster = cluster_with_one_key().await;

    for path in ["/nope", "/cachex", "/api/cluster", "/health/extra", "/"] {
        for method in [Method::GET, Method::POST] {
            let response = cluster.raw(TARGET, method, path, None).await;
            assert_error(&response, 404, "not_found");
        }
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_path_with_the_wrong_method_is_not_allowed_and_says_what_is() {
    let cluster = cluster_with_one_key().await;
    let patch = Method::from_bytes(b"PATCH").unwrap();
    let existing = format!("/cache/{EXISTING_KEY}");
    let cases = [
        (patch.clone(), existing.as_str(), "GET"),
        (patch.clone(), "/cache", "GET"),
        (Method::POST, "/cache", "GET"),
        (Method::POST, "/health", "GET"),
        (Method::DELETE, "/health", "GET"),
        (Method::PUT, "/status", "GET"),
        (Method::POST, "/stats", "GET"),
        (Method::DELETE, "/metrics", "GET"),
    ];

    for (method, path, allowed) in cases {
        let response = cluster
            .raw(TARGET, method.clone(), path, Some(b"{\"value\": 1}"))
            .await;
        assert_error(&response, 405, "method_not_allowed");
        let allow = response
            .header("allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow header"));
        assert!(allow.contains(allowed), "{method} {path}: Allow {allow}");
    }

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

/// Reads what the server sends until it closes the connection; fails the
/// test if it is still open after `timeout`.
async fn read_until_closed(stream: &mut TcpStream, timeout: Duration) -> String {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => panic!(
                "the connection is still open after {timeout:?}; received {:?}",
                String::from_utf8_lossy(&received)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&received).into_owned(),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_headers_never_finish_is_disconnected() {
    let cluster = cluster_with_one_key().await;
    let address = cluster.cluster.address(TARGET).unwrap();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST /cache/existing HTTP/1.1\r\nHost: test\r\nContent-Len")
        .await
        .unwrap();

    // The header read timeout is 5 s; allow for a loaded machine.
    let started = Instant::now();
    let answer = read_until_closed(&mut stream, Duration::from_secs(12)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "closed suspiciously early: {answer:?}"
    );
    assert!(!answer.starts_with("HTTP/1.1 2"), "{answer:?}");

    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_body_never_finishes_is_answered_or_disconnected() {
    let cluster = cluster_with_one_key().await;
    let address = cluster.cluster.address(TARGET).unwrap();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            b"POST /cache/existing HTTP/1.1\r\nHost: test\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"value\": \"ha",
        )
        .await
        .unwrap();

    // The body read timeout is 10 s; allow for a loaded machine.
    let answer = read_until_closed(&mut stream, Duration::from_secs(20)).await;
    if !answer.is_empty() {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
        assert!(answer.contains("body_timeout"), "{answer:?}");
    }

    // Meanwhile other clients were served all along.
    eventually("the node to answer", Duration::from_secs(5), || async {
        cluster
            .health(TARGET)
            .await
            .map_err(|error| error.to_string())
    })
    .await;
    assert_healthy_and_unchanged(&cluster).await;
    cluster.shutdown().await;
}
