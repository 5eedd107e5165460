//! Connections over a custom transport: tokio's in-memory duplex pipe, through
//! `Node::serve_connection`, `Node::open_connection` and `NodeBuilder::peer_via`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diameter_dictionaries::credit_control::{CreditControlAnswer, CreditControlRequest};
use diameter_runtime::base::{DisconnectCause, ResultCode};
use diameter_runtime::node::{Node, Request};
use diameter_runtime::peer::WatchdogState;
use diameter_runtime::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(5);

fn ccr(n: u32) -> CreditControlRequest {
    let (_, mut c) = CreditControlRequest::decode(codec_tests::ccr_260()).unwrap();
    c.cc_request_number = n;
    c
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], port))
}

/// An OCS without listeners: connections reach it only through `serve_connection`.
async fn ocs() -> Node {
    Node::builder()
        .origin_host("ocs.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .handler(|req: Request| {
            std::future::ready(node_tests::grant(&req, ResultCode::DIAMETER_SUCCESS))
        })
        .start()
        .await
        .unwrap()
}

/// A client without peers: its connections are opened with `open_connection`.
async fn pcef() -> Node {
    Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_persistent_peer_over_an_in_memory_pipe_reconnects_through_its_connector() {
    let server = ocs().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (s, n) = (server.clone(), calls.clone());
    let connector = move || {
        let (s, n) = (s.clone(), n.clone());
        async move {
            n.fetch_add(1, Ordering::SeqCst);
            let (ours, theirs) = tokio::io::duplex(16 * 1024);
            s.serve_connection(theirs, addr(1))
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            Ok(ours)
        }
    };
    let client = Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .reconnect_interval(Duration::from_millis(100))
        .peer_via(Some("ocs.example.net"), connector)
        .start()
        .await
        .unwrap();
    client.wait_for_ready(4, T).await.unwrap();
    let peers = client.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].0.origin_host, "ocs.example.net");
    assert_eq!(peers[0].1, WatchdogState::Okay);
    assert_eq!(server.peers()[0].0.origin_host, "pcef.example.net");
    // 200 requests, larger in total than the pipe's buffer, each answered.
    for i in 0..200 {
        let cca: CreditControlAnswer = client.call(&ccr(i)).await.unwrap();
        assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
        assert_eq!(cca.cc_request_number, i);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // The server asks the client to go (DPR REBOOTING): after Tc the client reconnects
    // through its connector, and requests flow again.
    server
        .disconnect("pcef.example.net", DisconnectCause::Rebooting)
        .await
        .unwrap();
    tokio::time::timeout(T, async {
        while calls.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a second connection through the connector");
    client.wait_for_ready(4, T).await.unwrap();
    let cca: CreditControlAnswer = client.call(&ccr(7)).await.unwrap();
    assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn one_connection_opened_on_a_pipe() {
    let server = ocs().await;
    let client = pcef().await;
    let (ours, theirs) = tokio::io::duplex(4096);
    let served = server.serve_connection(theirs, addr(2)).unwrap();
    let opened = client.open_connection(ours, addr(3), Some("ocs.example.net"));
    client.wait_for_ready(4, T).await.unwrap();
    let cca: CreditControlAnswer = client.call(&ccr(1)).await.unwrap();
    assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
    // The client goes: DPR/DPA, and both connection tasks end.
    client.shutdown().await;
    tokio::time::timeout(T, opened).await.unwrap().unwrap();
    tokio::time::timeout(T, served).await.unwrap().unwrap();
    assert!(server.peers().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_origin_host_on_a_pipe_is_not_taken_as_the_expected_peer() {
    let server = ocs().await;
    let client = pcef().await;
    let (ours, theirs) = tokio::io::duplex(4096);
    server.serve_connection(theirs, addr(2)).unwrap();
    let opened = client.open_connection(ours, addr(3), Some("other.example.net"));
    tokio::time::timeout(T, opened).await.unwrap().unwrap();
    assert!(client.peers().is_empty());
    server.shutdown().await;
    client.shutdown().await;
}

#[tokio::test]
async fn a_malformed_header_on_a_pipe_closes_that_connection() {
    let server = ocs().await;
    let (mut ours, theirs) = tokio::io::duplex(4096);
    let served = server.serve_connection(theirs, addr(4)).unwrap();
    // Version 1, Message-Length 0: the stream cannot be resynchronised.
    let mut header = [0u8; 20];
    header[0] = 1;
    header[4] = 0x80;
    header[7] = 1;
    ours.write_all(&header).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(T, ours.read_to_end(&mut rest))
        .await
        .expect("the node closes the connection")
        .unwrap();
    tokio::time::timeout(T, served).await.unwrap().unwrap();
    // A node that still serves: a well-formed peer connects after it.
    let client = pcef().await;
    let (ours, theirs) = tokio::io::duplex(4096);
    server.serve_connection(theirs, addr(5)).unwrap();
    client.open_connection(ours, addr(6), None);
    client.wait_for_ready(4, T).await.unwrap();
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn serve_connection_keeps_to_the_pending_limit() {
    let server = Node::builder()
        .origin_host("ocs.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .max_pending_connections(1)
        .start()
        .await
        .unwrap();
    let (_a, theirs) = tokio::io::duplex(64);
    server.serve_connection(theirs, addr(7)).unwrap();
    let (_b, theirs) = tokio::io::duplex(64);
    let err = server.serve_connection(theirs, addr(8)).unwrap_err();
    assert!(err.to_string().contains("connection limit"), "{err}");
    server.shutdown().await;
}
