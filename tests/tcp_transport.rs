//! The TCP transport on its own, two nodes in one test process: `send`
//! answers false until the handshake is accepted, envelopes arrive in order,
//! a peer that goes away is noticed at once, and one that comes back on the
//! same address is redialed within the backoff.

use raftcache::transport::{Envelope, ForwardedRequest, TcpOptions, TcpTransport, Transport};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

fn envelope(from: u64, to: u64, request_id: u64) -> Envelope {
    Envelope::Forward {
        from,
        to,
        request_id,
        request: ForwardedRequest::ReadIndex,
    }
}

async fn start(
    me: u64,
    listener: TcpListener,
    peer: (u64, SocketAddr),
    token: &str,
) -> (Arc<TcpTransport>, mpsc::Receiver<Envelope>) {
    let options = TcpOptions {
        me,
        peers: BTreeMap::from([(peer.0, peer.1.to_string())]),
        token: token.into(),
    };
    TcpTransport::start(options, listener)
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    (listener, address)
}

#[tokio::test]
async fn envelopes_flow_once_linked_and_links_come_back_after_a_restart() {
    let (listener1, address1) = listener().await;
    let (listener2, address2) = listener().await;
    let (one, _inbox1) = start(1, listener1, (2, address2), "t").await;
    let (two, mut inbox2) = start(2, listener2, (1, address1), "t").await;

    until("node1 linked to node2", || one.is_connected(2)).await;
    for id in 0..100 {
        assert!(
            one.send(envelope(1, 2, id)),
            "a linked peer accepts envelopes"
        );
    }
    for id in 0..100 {
        let received = tokio::time::timeout(WAIT, inbox2.recv()).await.unwrap();
        assert_eq!(received, Some(envelope(1, 2, id)), "in order, none lost");
    }
    assert!(
        !one.send(envelope(1, 3, 0)),
        "an unknown node is unreachable"
    );

    // node2 goes away: node1 notices without having to write first.
    two.shutdown();
    drop(two);
    drop(inbox2);
    until("node1 to see the link down", || !one.is_connected(2)).await;
    assert!(
        !one.send(envelope(1, 2, 0)),
        "send answers false while unlinked"
    );

    // node2 comes back on the same address: node1 redials on its own.
    let listener2 = TcpListener::bind(address2).await.unwrap();
    let (_two, mut inbox2) = start(2, listener2, (1, address1), "t").await;
    until("node1 to redial node2", || one.is_connected(2)).await;
    assert!(one.send(envelope(1, 2, 7)));
    let received = tokio::time::timeout(WAIT, inbox2.recv()).await.unwrap();
    assert_eq!(received, Some(envelope(1, 2, 7)));
}

#[tokio::test]
async fn a_wrong_token_never_links() {
    let (listener1, address1) = listener().await;
    let (listener2, address2) = listener().await;
    let (one, _inbox1) = start(1, listener1, (2, address2), "right").await;
    let (two, _inbox2) = start(2, listener2, (1, address1), "wrong").await;
    // Give both sides several dial attempts; neither may link.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!one.is_connected(2) && !two.is_connected(1));
    assert!(!one.send(envelope(1, 2, 0)));
}
