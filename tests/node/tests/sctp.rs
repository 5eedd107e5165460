//! SCTP between two nodes: one-to-one sockets, CER/CEA and requests, a multihomed listener.
//!
//! These need a kernel with SCTP. Where the kernel has none (`socket(…, IPPROTO_SCTP)`
//! refused), the socket tests say so and return, and the error path is tested instead; where
//! it has SCTP, the error-path test says so and returns. The stream and PPID choices are unit
//! tests of `diameter_runtime::node::sctp`.

use std::net::IpAddr;
use std::time::Duration;

use diameter_dictionaries::credit_control::{CreditControlAnswer, CreditControlRequest};
use diameter_runtime::base::ResultCode;
use diameter_runtime::node::{sctp_available, Node, NodeBuilder, Request};
use diameter_runtime::Message;

const T: Duration = Duration::from_secs(5);

/// Whether this kernel has SCTP; says why not when it has none.
fn kernel_has_sctp(test: &str) -> bool {
    match sctp_available() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("{test}: not run, this machine has no SCTP: {e}");
            false
        }
    }
}

fn ocs(b: NodeBuilder) -> NodeBuilder {
    b.origin_host("ocs.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .handler(|req: Request| {
            std::future::ready(node_tests::grant(&req, ResultCode::DIAMETER_SUCCESS))
        })
}

async fn client(uri: &str) -> Node {
    Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .reconnect_interval(Duration::from_millis(200))
        .peer_at("ocs.example.net", uri)
        .start()
        .await
        .unwrap()
}

async fn requests_answered(c: &Node, n: u32) {
    for i in 0..n {
        let (_, mut ccr) = CreditControlRequest::decode(codec_tests::ccr_260()).unwrap();
        ccr.cc_request_number = i;
        let cca: CreditControlAnswer = c.call(&ccr).await.unwrap();
        assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
        assert_eq!(cca.cc_request_number, i);
    }
}

#[tokio::test]
async fn without_kernel_support_sctp_is_one_clear_error() {
    if sctp_available().is_ok() {
        eprintln!("this kernel has SCTP: the missing-kernel error is not exercised here");
        return;
    }
    let e = Node::builder()
        .origin_host("a.example.net")
        .origin_realm("example.net")
        .peer("aaa://b.example.net:3868;transport=sctp")
        .start()
        .await
        .err()
        .expect("SCTP is refused");
    let text = e.to_string();
    assert!(text.contains("transport=sctp"), "{text}");
    assert!(text.contains("SCTP is not available"), "{text}");
    assert!(text.contains("kernel"), "{text}");
    assert!(text.contains("use transport=tcp"), "{text}");

    let e = ocs(Node::builder())
        .listen_sctp(&["127.0.0.1:0"])
        .start()
        .await
        .err()
        .expect("an SCTP listener is refused");
    let text = e.to_string();
    assert!(text.contains("SCTP listener 127.0.0.1:0"), "{text}");
    assert!(text.contains("kernel"), "{text}");

    // TLS over SCTP is refused by name, whatever the kernel.
    let e = Node::builder()
        .origin_host("a.example.net")
        .origin_realm("example.net")
        .peer("aaas://b.example.net:5658;transport=sctp")
        .start()
        .await
        .err()
        .expect("aaas over SCTP is refused");
    assert!(e.to_string().contains("DTLS"), "{e}");
}

#[tokio::test]
async fn two_nodes_over_sctp() {
    if !kernel_has_sctp("two_nodes_over_sctp") {
        return;
    }
    let server = ocs(Node::builder())
        .listen_sctp(&["127.0.0.1:0"])
        .start()
        .await
        .unwrap();
    let port = server.local_addrs()[0].port();
    let c = client(&format!("aaa://127.0.0.1:{port};transport=sctp")).await;
    c.wait_for_ready(4, T).await.unwrap();
    assert_eq!(c.peers()[0].0.origin_host, "ocs.example.net");
    requests_answered(&c, 200).await;
    // DPR/DPA over SCTP, and the server sees the peer go.
    c.shutdown().await;
    tokio::time::timeout(T, async {
        while !server.peers().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the server drops the peer after DPR");
    server.shutdown().await;
}

#[tokio::test]
async fn a_multihomed_listener_announces_and_answers_on_each_address() {
    if !kernel_has_sctp("a_multihomed_listener_announces_and_answers_on_each_address") {
        return;
    }
    let port = node_tests::free_port();
    let server = ocs(Node::builder())
        .listen_sctp(&[&format!("127.0.0.1:{port}"), "127.0.0.2"])
        .start()
        .await
        .unwrap();
    assert_eq!(
        server.capabilities().host_ip_addresses,
        vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2])]
    );
    let c = client(&format!("aaa://127.0.0.2:{port};transport=sctp")).await;
    c.wait_for_ready(4, T).await.unwrap();
    let peer = &c.peers()[0].0;
    assert_eq!(
        peer.host_ip_addresses.len(),
        2,
        "{:?}",
        peer.host_ip_addresses
    );
    requests_answered(&c, 10).await;
    c.shutdown().await;
    server.shutdown().await;
}

/// The probe is a plain socket call: it works (or fails cleanly) outside a runtime too.
#[test]
fn sctp_available_needs_no_runtime() {
    match sctp_available() {
        Ok(()) => {}
        Err(e) => assert!(e.to_string().contains("SCTP is not available"), "{e}"),
    }
}
