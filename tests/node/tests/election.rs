//! The RFC 6733 §5.6 peer state machine on real sockets: both sides connecting at once
//! (the election of §5.6.4, won and lost), a second connection from an open peer, and a
//! restarted peer (new Origin-State-Id) replacing its stale connection.

use std::time::Duration;

use bytes::Bytes;
use diameter_dictionaries::credit_control::CreditControlRequest;
use diameter_runtime::base::{
    CapabilitiesExchangeAnswer, CapabilitiesExchangeRequest, DeviceWatchdogAnswer, ResultCode,
};
use diameter_runtime::node::{Node, Reply, Request};
use diameter_runtime::peer::{AppId, Capabilities, PeerState, WatchdogState};
use diameter_runtime::{dynamic, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(5);

async fn read_message(s: &mut TcpStream) -> Option<Bytes> {
    let mut head = [0u8; 4];
    tokio::time::timeout(T, s.read_exact(&mut head))
        .await
        .expect("a message or EOF in time")
        .ok()?;
    let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
    let mut rest = vec![0u8; len - 4];
    s.read_exact(&mut rest).await.ok()?;
    let mut all = head.to_vec();
    all.extend_from_slice(&rest);
    Some(all.into())
}

fn caps(host: &str, osi: u32) -> Capabilities {
    let mut c = Capabilities::new(host, "example.net");
    c.applications = vec![AppId::Auth(4)];
    c.origin_state_id = Some(osi);
    c
}

/// A node "mm.example.net" that listens and keeps a persistent connection to the scripted
/// peer `peer` listening on `listener`.
async fn node_towards(peer: &str, listener: &TcpListener) -> Node {
    let port = listener.local_addr().unwrap().port();
    Node::builder()
        .origin_host("mm.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .listen("127.0.0.1:0")
        .reconnect_interval(Duration::from_secs(30))
        .peer_at(peer, &format!("aaa://127.0.0.1:{port};transport=tcp"))
        .handler(|r: Request| async move {
            Reply::Answer(r.generate_answer(ResultCode::DIAMETER_SUCCESS).encode())
        })
        .start()
        .await
        .unwrap()
}

/// Accepts the node's connection and reads its CER, leaving it unanswered (the node waits
/// in Wait-I-CEA); then opens the peer's own connection to the node and sends a CER.
async fn both_connect(peer: &str) -> (Node, TcpStream, Bytes, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node = node_towards(peer, &listener).await;
    let (mut initiated, _) = tokio::time::timeout(T, listener.accept())
        .await
        .unwrap()
        .unwrap();
    let cer = read_message(&mut initiated).await.unwrap();
    CapabilitiesExchangeRequest::decode(cer.clone()).unwrap();
    assert_eq!(node.peer_state(peer), PeerState::WaitICea);
    let mut responded = TcpStream::connect(node.local_addrs()[0]).await.unwrap();
    responded
        .write_all(&caps(peer, 7).cer().encode(1, 1))
        .await
        .unwrap();
    (node, initiated, cer, responded)
}

#[tokio::test]
async fn simultaneous_open_won_by_the_node_keeps_the_peers_connection() {
    // "mm…" > "aa…": the node wins, answers the peer's CER and drops its own connection.
    let (node, mut initiated, _, mut responded) = both_connect("aa.example.net").await;
    let cea = read_message(&mut responded).await.expect("a CEA");
    let (_, cea) = CapabilitiesExchangeAnswer::decode(cea).unwrap();
    assert_eq!(cea.result_code, ResultCode::DIAMETER_SUCCESS);
    assert!(
        read_message(&mut initiated).await.is_none(),
        "the node closes the connection it opened"
    );
    assert_eq!(node.peer_state("aa.example.net"), PeerState::ResponderOpen);
    let peers = node.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].0.origin_host, "aa.example.net");
    assert_eq!(peers[0].1, WatchdogState::Okay);
    // The kept connection carries the watchdog.
    let dwr = diameter_runtime::base::DeviceWatchdogRequest {
        origin_host: "aa.example.net".into(),
        origin_realm: "example.net".into(),
        origin_state_id: None,
        avps: Vec::new(),
    };
    responded.write_all(&dwr.encode(0x77, 0x78)).await.unwrap();
    let (h, dwa) =
        DeviceWatchdogAnswer::decode(read_message(&mut responded).await.unwrap()).unwrap();
    assert_eq!(
        (h.hop_by_hop, dwa.result_code),
        (0x77, ResultCode::DIAMETER_SUCCESS)
    );
    node.shutdown().await;
}

#[tokio::test]
async fn simultaneous_open_lost_by_the_node_waits_for_its_cea() {
    // "mm…" < "zz…": the node loses, holds the peer's CER, and when its own CER is answered
    // drops the peer's connection with 4003.
    let (node, mut initiated, cer, mut responded) = both_connect("zz.example.net").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(node.peer_state("zz.example.net"), PeerState::WaitReturns);
    assert!(
        node.peers().is_empty(),
        "nothing is open while the election runs"
    );
    let h = diameter_runtime::Header::parse(&cer).unwrap();
    let cea = caps("zz.example.net", 7).cea(ResultCode::DIAMETER_SUCCESS, None);
    initiated
        .write_all(&cea.encode(h.hop_by_hop, h.end_to_end))
        .await
        .unwrap();
    let refused = read_message(&mut responded).await.expect("a CEA");
    let (rh, refused) = CapabilitiesExchangeAnswer::decode(refused).unwrap();
    assert_eq!(refused.result_code, ResultCode::DIAMETER_ELECTION_LOST);
    assert!(!rh.flags.is_error(), "4xxx is not a protocol error");
    assert!(read_message(&mut responded).await.is_none(), "then closed");
    node.wait_for_ready(4, T).await.unwrap();
    assert_eq!(node.peer_state("zz.example.net"), PeerState::InitiatorOpen);
    node.shutdown().await;
}

#[tokio::test]
async fn the_winner_dropping_its_connection_first_also_ends_in_i_open() {
    let (node, mut initiated, cer, responded) = both_connect("zz.example.net").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // R-Peer-Disc first (back to Wait-I-CEA), then the CEA.
    drop(responded);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(node.peer_state("zz.example.net"), PeerState::WaitICea);
    let h = diameter_runtime::Header::parse(&cer).unwrap();
    let cea = caps("zz.example.net", 7).cea(ResultCode::DIAMETER_SUCCESS, None);
    initiated
        .write_all(&cea.encode(h.hop_by_hop, h.end_to_end))
        .await
        .unwrap();
    node.wait_for_ready(4, T).await.unwrap();
    assert_eq!(node.peer_state("zz.example.net"), PeerState::InitiatorOpen);
    node.shutdown().await;
}

async fn responder_only_node() -> Node {
    Node::builder()
        .origin_host("mm.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap()
}

async fn open(node: &Node, host: &str, osi: u32) -> (TcpStream, u32) {
    let mut s = TcpStream::connect(node.local_addrs()[0]).await.unwrap();
    s.write_all(&caps(host, osi).cer().encode(1, 1))
        .await
        .unwrap();
    let (h, cea) = CapabilitiesExchangeAnswer::decode(read_message(&mut s).await.unwrap()).unwrap();
    assert_eq!(h.hop_by_hop, 1);
    (s, cea.result_code.0)
}

#[tokio::test]
async fn a_second_connection_from_an_open_peer_is_rejected_4003() {
    let node = responder_only_node().await;
    let (_first, rc) = open(&node, "aa.example.net", 1).await;
    assert_eq!(rc, 2001);
    let (mut second, rc) = open(&node, "aa.example.net", 1).await;
    assert_eq!(rc, 4003, "same Origin-State-Id: the open connection stays");
    assert!(read_message(&mut second).await.is_none());
    assert_eq!(node.peers().len(), 1);
}

#[tokio::test]
async fn a_restarted_peer_replaces_its_stale_connection() {
    let node = responder_only_node().await;
    let (mut old, rc) = open(&node, "aa.example.net", 1).await;
    assert_eq!(rc, 2001);
    // The peer restarted without closing (its old socket is half-open from our side): a new
    // Origin-State-Id says so.
    let (_new, rc) = open(&node, "aa.example.net", 2).await;
    assert_eq!(rc, 2001);
    assert!(
        read_message(&mut old).await.is_none(),
        "the stale connection is closed"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let peers = node.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].0.origin_state_id, Some(2));
    assert_eq!(node.peer_state("aa.example.net"), PeerState::ResponderOpen);
}

#[tokio::test]
async fn two_nodes_configured_towards_each_other_keep_one_connection() {
    // Both nodes list each other as persistent peers and start together: however the
    // connections interleave, one connection remains and requests flow both ways.
    let la = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (pa, pb) = (
        la.local_addr().unwrap().port(),
        lb.local_addr().unwrap().port(),
    );
    drop((la, lb));
    let build = |me: &str, port: u16, other: &str, other_port: u16| {
        Node::builder()
            .origin_host(me)
            .origin_realm("example.net")
            .auth_application(4)
            .listen(&format!("127.0.0.1:{port}"))
            .reconnect_interval(Duration::from_millis(300))
            .peer_at(other, &format!("127.0.0.1:{other_port}"))
            .handler(|r: Request| async move {
                Reply::Answer(r.generate_answer(ResultCode::DIAMETER_SUCCESS).encode())
            })
            .start()
    };
    let (a, b) = tokio::join!(
        build("aa.example.net", pa, "zz.example.net", pb),
        build("zz.example.net", pb, "aa.example.net", pa)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    a.wait_for_ready(4, T).await.unwrap();
    b.wait_for_ready(4, T).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(a.peers().len(), 1);
    assert_eq!(b.peers().len(), 1);
    let (sa, sb) = (
        a.peer_state("zz.example.net"),
        b.peer_state("aa.example.net"),
    );
    assert!(
        matches!(
            (sa, sb),
            (PeerState::InitiatorOpen, PeerState::ResponderOpen)
                | (PeerState::ResponderOpen, PeerState::InitiatorOpen)
        ),
        "one connection, seen from both ends: {sa:?} / {sb:?}"
    );
    for (from, to) in [(&a, "zz.example.net"), (&b, "aa.example.net")] {
        let (_, mut ccr) = CreditControlRequest::decode(codec_tests::ccr_260()).unwrap();
        ccr.destination_host = Some(to.into());
        let mut m = dynamic::Message::from_typed(&ccr, 0, 0);
        m.header.flags = m.header.flags.with(diameter_runtime::CommandFlags::REQUEST);
        let ans = from.send_request(&m, T).await.unwrap();
        assert_eq!(ans.find(268, 0).unwrap().get::<u32>().unwrap(), 2001);
        assert_eq!(
            ans.find(264, 0)
                .unwrap()
                .get::<diameter_runtime::DiameterIdentity>()
                .unwrap(),
            to
        );
    }
}
