//! Real TCP on loopback: capabilities-exchange outcomes, requests and answers, the watchdog,
//! DPR/DPA, and the answers the node produces itself.

use std::time::Duration;

use diameter_dictionaries::credit_control::{CreditControlAnswer, CreditControlRequest};
use diameter_runtime::base::{InbandSecurityId, ResultCode};
use diameter_runtime::node::{Call, Error, ErrorKind, Event, Node, NodeBuilder, Reply, Request};
use diameter_runtime::peer::{WatchdogConfig, WatchdogState};
use diameter_runtime::{dynamic, Message};

const T: Duration = Duration::from_secs(5);

fn ccr(n: u32) -> CreditControlRequest {
    let (_, mut c) = CreditControlRequest::decode(codec_tests::ccr_260()).unwrap();
    c.cc_request_number = n;
    c
}

/// An OCS that grants every CCR.
fn ocs(b: NodeBuilder) -> NodeBuilder {
    b.handler(|req: Request| {
        std::future::ready(node_tests::grant(&req, ResultCode::DIAMETER_SUCCESS))
    })
}

async fn server(name: &str, b: impl FnOnce(NodeBuilder) -> NodeBuilder) -> Node {
    b(Node::builder()
        .origin_host(name)
        .origin_realm("example.net")
        .auth_application(4)
        .listen("127.0.0.1:0"))
    .start()
    .await
    .unwrap()
}

async fn client(name: &str, to: &Node, b: impl FnOnce(NodeBuilder) -> NodeBuilder) -> Node {
    let addr = to.local_addrs()[0];
    b(Node::builder()
        .origin_host(name)
        .origin_realm("example.net")
        .auth_application(4)
        .reconnect_interval(Duration::from_millis(200))
        .peer(&format!("aaa://127.0.0.1:{};transport=tcp", addr.port())))
    .start()
    .await
    .unwrap()
}

async fn refused(node: &Node) -> u32 {
    let mut ev = node.events();
    tokio::time::timeout(T, async {
        loop {
            if let Ok(Event::Refused { result_code, .. }) = ev.recv().await {
                return result_code;
            }
        }
    })
    .await
    .expect("a refusal event")
}

#[tokio::test]
async fn cer_cea_then_typed_request_answer() {
    let s = server("ocs.example.net", ocs).await;
    let c = client("pcef.example.net", &s, |b| b).await;
    c.wait_for_ready(4, T).await.unwrap();
    let peers = c.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].0.origin_host, "ocs.example.net");
    assert_eq!(peers[0].1, WatchdogState::Okay);
    for n in 0..50 {
        let cca: CreditControlAnswer = c.call(&ccr(n)).await.unwrap();
        assert_eq!(cca.result_code, ResultCode::DIAMETER_SUCCESS);
        assert_eq!(cca.cc_request_number, n);
        assert_eq!(cca.origin_host, "ocs.example.net");
        assert_eq!(cca.session_id, "rs-bench.client.lab;1732275200;42;7");
    }
    c.shutdown().await;
    s.shutdown().await;
}

#[tokio::test]
async fn busy_polling_ends_still_answer_and_shut_down() {
    // Windows that never pass while traffic lasts (`Duration::MAX`) on both sides: requests
    // are answered, and shutdown (DPR/DPA) still gets through the polling.
    let always = |b: NodeBuilder| b.busy_poll(Duration::MAX);
    let s = server("ocs.example.net", |b| always(ocs(b))).await;
    let c = client("pcef.example.net", &s, always).await;
    c.wait_for_ready(4, T).await.unwrap();
    answers_then_shuts_down(c, s, 50, |n| Call::new(ccr(n))).await;
}

/// `n` calls from `c` to `s` (each built by `call`), each answered in time with its own
/// CC-Request-Number; then both nodes shut down in time.
async fn answers_then_shuts_down(
    c: Node,
    s: Node,
    n: u32,
    call: impl Fn(u32) -> Call<CreditControlRequest>,
) {
    for n in 0..n {
        let cca: CreditControlAnswer = tokio::time::timeout(T, c.call(call(n)))
            .await
            .expect("answered in time")
            .unwrap();
        assert_eq!(cca.cc_request_number, n);
    }
    tokio::time::timeout(T, c.shutdown())
        .await
        .expect("client shut down");
    tokio::time::timeout(T, s.shutdown())
        .await
        .expect("server shut down");
}

#[tokio::test]
async fn timeouts_of_duration_max_mean_never() {
    // Every timeout a user sets, at `Duration::MAX` ("no timeout"): no deadline overflows,
    // requests are answered, and both ends still shut down.
    let never = |b: NodeBuilder| {
        b.request_timeout(Duration::MAX)
            .cer_timeout(Duration::MAX)
            .dpa_timeout(Duration::MAX)
            .reconnect_interval(Duration::MAX)
            .retransmit_on_timeout(Duration::MAX, 2)
            .watchdog(WatchdogConfig {
                interval: Duration::MAX,
                jitter: Duration::MAX,
            })
    };
    let s = server("ocs.example.net", |b| never(ocs(b))).await;
    let c = client("pcef.example.net", &s, never).await;
    tokio::time::timeout(T, c.wait_for_ready(4, Duration::MAX))
        .await
        .expect("ready in time")
        .unwrap();
    answers_then_shuts_down(c, s, 20, |n| Call::new(ccr(n)).timeout(Duration::MAX)).await;
}

#[tokio::test]
async fn concurrent_requests_are_matched_to_their_answers() {
    let s = server("ocs.example.net", ocs).await;
    let c = client("pcef.example.net", &s, |b| b).await;
    c.wait_for_ready(4, T).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..500u32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let a: CreditControlAnswer = c.call(&ccr(n)).await.unwrap();
            assert_eq!(a.cc_request_number, n);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn no_common_application_5010() {
    let s = server("ocs.example.net", |b| b.auth_application(1)).await;
    let c = Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(16777238)
        .peer(&format!("127.0.0.1:{}", s.local_addrs()[0].port()));
    let mut sev = s.events();
    let c = c.start().await.unwrap();
    let rc = tokio::time::timeout(T, async {
        loop {
            if let Ok(Event::Refused { result_code, .. }) = sev.recv().await {
                return result_code;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(rc, 5010);
    assert_eq!(refused(&c).await, 5010, "the client sees the CEA's 5010");
    assert!(c
        .wait_for_ready(16777238, Duration::from_millis(300))
        .await
        .is_err());
}

#[tokio::test]
async fn no_common_security_5017() {
    let s = server("ocs.example.net", |b| b).await;
    let c = client("pcef.example.net", &s, |b| {
        b.tls(self_signed()).tls_inband()
    })
    .await;
    assert_eq!(refused(&c).await, 5017);
}

/// A certificate for pcef.example.net that trusts itself.
fn self_signed() -> diameter_runtime::node::TlsConfig {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["pcef.example.net".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    diameter_runtime::node::TlsConfig::from_pem(
        &cert.pem(),
        &key.serialize_pem(),
        &cert.pem(),
        false,
    )
    .unwrap()
}

#[tokio::test]
async fn advertising_tls_in_band_needs_certificates() {
    let e = Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .inband_security_id(InbandSecurityId::TLS)
        .start()
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("needs NodeBuilder::tls"), "{e}");
}

#[tokio::test]
async fn unknown_peer_3010() {
    let s = server("ocs.example.net", |b| b.allow_host("friend.example.net")).await;
    let c = client("stranger.example.net", &s, |b| b).await;
    assert_eq!(refused(&c).await, 3010);
    let ok = client("friend.example.net", &s, |b| b).await;
    ok.wait_for_ready(4, T).await.unwrap();
}

#[tokio::test]
async fn election_lost_4003() {
    // The peer is open (R-Open): a second connection from it is rejected (R-Reject, 4003).
    let s = server("zz.example.net", |b| b).await;
    let first = client("aa.example.net", &s, |b| b).await;
    first.wait_for_ready(4, T).await.unwrap();
    let second = client("aa.example.net", &s, |b| b).await;
    assert_eq!(refused(&second).await, 4003);
}

#[tokio::test]
async fn watchdog_exchanges_dwr_and_stays_okay() {
    let fast = WatchdogConfig {
        interval: Duration::from_millis(100),
        jitter: Duration::from_millis(20),
    };
    let s = server("ocs.example.net", |b| b.watchdog(fast)).await;
    let c = client("pcef.example.net", &s, |b| b.watchdog(fast)).await;
    c.wait_for_ready(4, T).await.unwrap();
    let mut ev = c.events();
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Several Tw passed with DWR/DWA both ways: no watchdog transition, still OKAY.
    while let Ok(e) = ev.try_recv() {
        assert!(
            !matches!(e, Event::Watchdog { .. } | Event::PeerDown { .. }),
            "{e:?}"
        );
    }
    assert_eq!(c.peers()[0].1, WatchdogState::Okay);
}

#[tokio::test]
async fn dpr_on_shutdown_and_the_peer_sees_it() {
    let s = server("ocs.example.net", |b| b).await;
    let c = client("pcef.example.net", &s, |b| b).await;
    c.wait_for_ready(4, T).await.unwrap();
    let mut ev = s.events();
    c.shutdown().await;
    let reason = tokio::time::timeout(T, async {
        loop {
            if let Ok(Event::PeerDown { reason, .. }) = ev.recv().await {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        reason.contains("disconnected by the peer (Rebooting)"),
        "{reason}"
    );
    assert!(s.peers().is_empty());
}

#[tokio::test]
async fn automatic_answers() {
    // A server with no handler: 3001. One that panics: 5012.
    let plain = server("plain.example.net", |b| b.auth_application(3)).await;
    let c = client("pcef.example.net", &plain, |b| b.auth_application(3)).await;
    c.wait_for_ready(4, T).await.unwrap();
    let err: Error = c.call::<_, CreditControlAnswer>(&ccr(1)).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.result_code()),
        (ErrorKind::Refused, Some(3001))
    );

    // The same for another shared application the server has no handler for.
    let mut d = dynamic::Message::from_typed(&ccr(2), 0, 0);
    d.header.application_id = 3;
    let ans = c.send_request(&d, T).await.unwrap();
    assert!(ans.header.flags.is_error());
    assert_eq!(ans.find(268, 0).unwrap().get::<u32>().unwrap(), 3001);

    let panicky = server("panic.example.net", |b| {
        b.handler(|_req: Request| async move {
            if true {
                panic!("handler bug");
            }
            Reply::Discard
        })
    })
    .await;
    let c2 = client("pcef2.example.net", &panicky, |b| b).await;
    c2.wait_for_ready(4, T).await.unwrap();
    let d = dynamic::Message::from_typed(&ccr(3), 0, 0);
    let ans = c2.send_request(&d, T).await.unwrap();
    assert_eq!(ans.find(268, 0).unwrap().get::<u32>().unwrap(), 5012);
    // The node survives its handler's panic and keeps answering.
    let ans = c2.send_request(&d, T).await.unwrap();
    assert_eq!(ans.find(268, 0).unwrap().get::<u32>().unwrap(), 5012);
}

#[tokio::test]
async fn decode_error_in_handler_answers_5005_with_failed_avp() {
    let s = server("ocs.example.net", ocs).await;
    let c = client("pcef.example.net", &s, |b| b).await;
    c.wait_for_ready(4, T).await.unwrap();
    let mut d = dynamic::Message::from_typed(&ccr(1), 0, 0);
    d.avps.retain(|a| a.code != 415); // drop CC-Request-Number: the OCS's decode fails
    let ans = c.send_request(&d, T).await.unwrap();
    assert_eq!(ans.find(268, 0).unwrap().get::<u32>().unwrap(), 5005);
    let failed = ans.find(279, 0).expect("Failed-AVP");
    assert_eq!(failed.data()[..4], 415u32.to_be_bytes());
    assert!(!ans.header.flags.is_error(), "5xxx is not a protocol error");
}

/// A scripted peer on a raw socket: does the CER/CEA by hand, then sends what a test wants.
mod raw {
    use diameter_runtime::base::{CapabilitiesExchangeAnswer, ResultCode};
    use diameter_runtime::peer::{AppId, Capabilities};
    use diameter_runtime::Message;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub async fn read_message(s: &mut TcpStream) -> bytes::Bytes {
        let mut head = [0u8; 4];
        s.read_exact(&mut head).await.unwrap();
        let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
        let mut rest = vec![0u8; len - 4];
        s.read_exact(&mut rest).await.unwrap();
        let mut all = head.to_vec();
        all.extend_from_slice(&rest);
        all.into()
    }

    pub async fn connect(port: u16) -> TcpStream {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut caps = Capabilities::new("raw.example.net", "example.net");
        caps.applications = vec![AppId::Auth(4)];
        s.write_all(&caps.cer().encode(1, 1)).await.unwrap();
        let (_, cea) = CapabilitiesExchangeAnswer::decode(read_message(&mut s).await).unwrap();
        assert_eq!(cea.result_code, ResultCode::DIAMETER_SUCCESS);
        s
    }
}

#[tokio::test]
async fn raw_peer_gets_3007_and_3008() {
    use tokio::io::AsyncWriteExt;
    let s = server("ocs.example.net", ocs).await;
    let mut sock = raw::connect(s.local_addrs()[0].port()).await;
    // Application 16777238 was not negotiated: 3007 with the E bit and our identifiers.
    let mut d = dynamic::Message::from_typed(&ccr(1), 0xabc, 0xdef);
    d.header.application_id = 16777238;
    sock.write_all(&d.encode()).await.unwrap();
    let ans = dynamic::Message::decode(raw::read_message(&mut sock).await).unwrap();
    assert!(ans.header.flags.is_error());
    assert_eq!(
        (ans.header.hop_by_hop, ans.header.end_to_end),
        (0xabc, 0xdef)
    );
    assert_eq!(ans.find(268, 0).unwrap().get::<u32>().unwrap(), 3007);
    assert_eq!(
        ans.find(263, 0)
            .unwrap()
            .get::<diameter_runtime::Utf8String>()
            .unwrap(),
        "rs-bench.client.lab;1732275200;42;7"
    );
    // A reserved command flag bit: 3008.
    let mut b = bytes::BytesMut::from(&ccr(2).encode(0x111, 0x222)[..]);
    b[4] |= 0x01;
    sock.write_all(&b).await.unwrap();
    let ans = dynamic::Message::decode(raw::read_message(&mut sock).await).unwrap();
    assert_eq!(ans.header.hop_by_hop, 0x111);
    assert!(ans.header.flags.is_error());
    assert_eq!(ans.find(268, 0).unwrap().get::<u32>().unwrap(), 3008);
    // The connection still works afterwards.
    sock.write_all(&ccr(3).encode(0x333, 0x444)).await.unwrap();
    let (h, cca) = CreditControlAnswer::decode(raw::read_message(&mut sock).await).unwrap();
    assert_eq!((h.hop_by_hop, cca.cc_request_number), (0x333, 3));
}

#[tokio::test]
async fn oversized_message_closes_the_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = server("ocs.example.net", |b| b.max_message_len(4096)).await;
    let mut sock = raw::connect(s.local_addrs()[0].port()).await;
    // Announce 1 MiB: refused before the body is buffered, answered 5015 with the request's
    // identifiers, then the connection is closed (the stream cannot be resynchronised).
    sock.write_all(&[
        1, 0x10, 0, 0, 0x80, 0, 1, 0x10, 0, 0, 0, 4, 0, 0, 0, 0x33, 0, 0, 0, 0x44,
    ])
    .await
    .unwrap();
    let ans = dynamic::Message::decode(raw::read_message(&mut sock).await).unwrap();
    assert_eq!(ans.header.hop_by_hop, 0x33);
    assert!(!ans.header.flags.is_request());
    assert_eq!(ans.find(268, 0).unwrap().get::<u32>().unwrap(), 5015);
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(T, sock.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the node closes the connection");
}

#[tokio::test]
async fn no_reconnect_after_do_not_want_to_talk_to_you() {
    use diameter_runtime::base::DisconnectCause;
    let s = server("ocs.example.net", |b| b).await;
    let c = client("pcef.example.net", &s, |b| b).await;
    c.wait_for_ready(4, T).await.unwrap();
    let mut ev = c.events();
    s.disconnect("pcef.example.net", DisconnectCause::DoNotWantToTalkToYou)
        .await
        .unwrap();
    let reason = tokio::time::timeout(T, async {
        loop {
            if let Ok(Event::PeerDown { reason, .. }) = ev.recv().await {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    assert!(reason.contains("DoNotWantToTalkToYou"), "{reason}");
    // Tc is 200 ms in these tests: a reconnect would have happened by now.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(c.peers().is_empty() && s.peers().is_empty(), "no reconnect");

    // REBOOTING: the client comes back.
    let c2 = client("pgw.example.net", &s, |b| b).await;
    c2.wait_for_ready(4, T).await.unwrap();
    s.disconnect("pgw.example.net", DisconnectCause::Rebooting)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    c2.wait_for_ready(4, T)
        .await
        .expect("reconnected after REBOOTING");
}

#[tokio::test(flavor = "multi_thread")]
async fn least_outstanding_balancing_and_stats() {
    use diameter_runtime::node::Balancing;
    let slow = server("slow.example.net", |b| {
        b.handler(|req: Request| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Reply::Answer(req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode())
        })
    })
    .await;
    let fast = server("fast.example.net", |b| {
        b.handler(|req: Request| {
            std::future::ready(Reply::Answer(
                req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode(),
            ))
        })
    })
    .await;
    let c = Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .balancing(Balancing::LeastOutstanding)
        .peer(&format!("127.0.0.1:{}", slow.local_addrs()[0].port()))
        .peer(&format!("127.0.0.1:{}", fast.local_addrs()[0].port()))
        .start()
        .await
        .unwrap();
    node_tests::wait_for_peers(&c, 2).await;
    // Sustained load: 10 callers, 20 requests each, one at a time.
    let mut tasks = Vec::new();
    for w in 0..10u32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..20u32 {
                let d = dynamic::Message::from_typed(&ccr(w * 100 + k), 0, 0);
                let a = c.send_request(&d, T).await.unwrap();
                assert_eq!(a.find(268, 0).unwrap().get::<u32>().unwrap(), 2001);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = c.stats();
    let get = |h: &str| stats.iter().find(|s| s.host == h).unwrap().clone();
    let (s, f) = (get("slow.example.net"), get("fast.example.net"));
    assert_eq!(s.requests_sent + f.requests_sent, 200);
    assert_eq!(s.answers_received + f.answers_received, 200);
    assert_eq!(s.results[1] + f.results[1], 200, "all 2xxx");
    assert_eq!(
        (s.outstanding, f.outstanding, s.timeouts + f.timeouts),
        (0, 0, 0)
    );
    assert!(
        f.requests_sent > 3 * s.requests_sent,
        "fewest outstanding wins: fast {} slow {}",
        f.requests_sent,
        s.requests_sent
    );
    let served: u64 = fast.stats().iter().map(|p| p.requests_received).sum();
    assert_eq!(
        served, f.requests_sent,
        "the server counts what it received"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_requests_get_the_stored_answer() {
    duplicates_get_the_stored_answer(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_of_a_waiting_handler_get_the_stored_answer() {
    duplicates_get_the_stored_answer(true).await;
}

/// A T-flagged repeat of an answered request gets the stored answer, from a handler that
/// answers at once or one that waits (its answer is stored from the task that runs it).
async fn duplicates_get_the_stored_answer(waits: bool) {
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::io::AsyncWriteExt;
    let calls = std::sync::Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let s = server("ocs.example.net", move |b| {
        // The duplicate cache is on by default.
        b.handler(move |req: Request| {
            let seen = seen.clone();
            async move {
                if waits {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                let n = seen.fetch_add(1, Ordering::Relaxed);
                let mut a = req.generate_answer(ResultCode::DIAMETER_SUCCESS);
                // Something that differs per handler call.
                a.avps.push(dynamic::Avp::new(
                    278,
                    diameter_runtime::AvpFlags::MANDATORY,
                    0,
                    &n,
                ));
                Reply::Answer(a.encode())
            }
        })
    })
    .await;
    let mut sock = raw::connect(s.local_addrs()[0].port()).await;
    sock.write_all(&ccr(1).encode(0x10, 0xe2e)).await.unwrap();
    let first = dynamic::Message::decode(raw::read_message(&mut sock).await).unwrap();
    // The same request again (same Origin-Host and End-to-End), retransmitted with T.
    let mut again = bytes::BytesMut::from(&ccr(1).encode(0x11, 0xe2e)[..]);
    again[4] |= 0x10;
    sock.write_all(&again).await.unwrap();
    let second = dynamic::Message::decode(raw::read_message(&mut sock).await).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1, "handled once");
    assert_eq!(
        second.header.hop_by_hop, 0x11,
        "answered under the new hop-by-hop id"
    );
    assert_eq!(second.avps, first.avps, "the same answer");
    // A new end-to-end id is a new request.
    sock.write_all(&ccr(1).encode(0x12, 0xe2f)).await.unwrap();
    let third = dynamic::Message::decode(raw::read_message(&mut sock).await).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_ne!(third.avps, first.avps);
}

#[tokio::test(flavor = "multi_thread")]
async fn call_filters_choose_the_peers() {
    use diameter_runtime::node::Filter::{self, *};
    async fn named(host: &str, realm: &str) -> Node {
        Node::builder()
            .origin_host(host)
            .origin_realm(realm)
            .auth_application(4)
            .listen("127.0.0.1:0")
            .handler(|req: Request| {
                std::future::ready(Reply::Answer(
                    req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode(),
                ))
            })
            .start()
            .await
            .unwrap()
    }
    let a = named("a.one.net", "one.net").await;
    let b = named("b.one.net", "one.net").await;
    let c = named("c.two.net", "two.net").await;
    let mut builder = Node::builder()
        .origin_host("client.example.net")
        .origin_realm("example.net")
        .auth_application(4);
    for n in [&a, &b, &c] {
        builder = builder.peer(&format!("127.0.0.1:{}", n.local_addrs()[0].port()));
    }
    let client = builder.start().await.unwrap();
    node_tests::wait_for_peers(&client, 3).await;
    // Which peers answer a filter, over enough requests to see every candidate.
    let answering = |f: Filter| {
        let client = client.clone();
        async move {
            let mut hosts = std::collections::BTreeSet::new();
            for n in 0..12 {
                let d = dynamic::Message::from_typed(&ccr(n), 0, 0);
                match client.send_request_filtered(&d, T, f.clone()).await {
                    Ok(a) => {
                        hosts.insert(
                            a.find(264, 0)
                                .unwrap()
                                .get::<diameter_runtime::DiameterIdentity>()
                                .unwrap()
                                .to_string(),
                        );
                    }
                    Err(e) => {
                        hosts.insert(format!("error: {e}"));
                    }
                }
            }
            hosts.into_iter().collect::<Vec<_>>()
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(answering(Host("b.one.net".into())).await, s(&["b.one.net"]));
    assert_eq!(answering(Realm("two.net".into())).await, s(&["c.two.net"]));
    assert_eq!(
        answering(Not(Box::new(Realm("one.net".into())))).await,
        s(&["c.two.net"])
    );
    assert_eq!(
        answering(All(vec![
            Realm("one.net".into()),
            Not(Box::new(Host("a.one.net".into())))
        ]))
        .await,
        s(&["b.one.net"])
    );
    assert_eq!(
        answering(Any(vec![
            Host("a.one.net".into()),
            Host("c.two.net".into())
        ]))
        .await,
        s(&["a.one.net", "c.two.net"])
    );
    assert_eq!(
        answering(First(vec![
            Host("nobody.net".into()),
            Realm("one.net".into())
        ]))
        .await,
        s(&["a.one.net", "b.one.net"])
    );
    let none = answering(Host("nobody.net".into())).await;
    assert!(
        none.len() == 1 && none[0].starts_with("error: no route"),
        "{none:?}"
    );
}

#[tokio::test]
async fn in_flight_requests_per_peer_are_bounded() {
    let s = server("slow.example.net", |b| {
        b.handler(|req: Request| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Reply::Answer(req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode())
        })
    })
    .await;
    let c = client("pcef.example.net", &s, |b| b.max_outstanding_per_peer(5)).await;
    c.wait_for_ready(4, T).await.unwrap();
    let req = dynamic::Message::from_typed(&ccr(1), 0, 0);
    let mut full = Vec::new();
    for _ in 0..5 {
        let (c, req) = (c.clone(), req.clone());
        full.push(tokio::spawn(async move { c.send_request(&req, T).await }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = tokio::time::Instant::now();
    let err = c.send_request(&req, T).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoRoute, "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "refused at once, not queued"
    );
    for t in full {
        let a = t.await.unwrap().unwrap();
        assert_eq!(a.find(268, 0).unwrap().get::<u32>().unwrap(), 2001);
    }
    // Room again.
    c.send_request(&req, T).await.unwrap();
}

#[tokio::test]
async fn reconnect_attempts_are_events_with_backoff() {
    // Nothing listens on this port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .reconnect_interval(Duration::from_millis(500))
        .peer(&format!("127.0.0.1:{port}"));
    // Subscribe before the first attempt: start, then read what was queued.
    let c = c.start().await.unwrap();
    let mut ev = c.events();
    let mut delays = Vec::new();
    tokio::time::timeout(T, async {
        while delays.len() < 3 {
            if let Ok(Event::Reconnecting { addr, after }) = ev.recv().await {
                assert_eq!(addr, format!("127.0.0.1:{port}"));
                delays.push(after);
            }
        }
    })
    .await
    .expect("reconnect events");
    // Doubling, capped at Tc.
    for w in delays.windows(2) {
        assert!(
            w[1] == (w[0] * 2).min(Duration::from_millis(500)),
            "{delays:?}"
        );
    }
    assert!(delays.iter().all(|d| *d <= Duration::from_millis(500)));
}

#[tokio::test]
async fn an_answer_with_another_end_to_end_id_is_not_taken() {
    use diameter_runtime::base::CapabilitiesExchangeRequest;
    use diameter_runtime::peer::{AppId, Capabilities};
    use tokio::io::AsyncWriteExt;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let cer = raw::read_message(&mut s).await;
        let (h, _) = CapabilitiesExchangeRequest::decode(cer).unwrap();
        let mut caps = Capabilities::new("raw.example.net", "example.net");
        caps.applications = vec![AppId::Auth(4)];
        let cea = caps.cea(ResultCode::DIAMETER_SUCCESS, None);
        s.write_all(&cea.encode(h.hop_by_hop, h.end_to_end))
            .await
            .unwrap();
        loop {
            let req = raw::read_message(&mut s).await;
            let h = diameter_runtime::Header::parse(&req).unwrap();
            if h.command_code != 272 {
                continue;
            }
            let answer = |rc: u32, e2e: u32| {
                let mut a = dynamic::Message::decode(req.clone()).unwrap();
                a.header = h.answer();
                a.header.end_to_end = e2e;
                a.avps.retain(|x| x.code == 263);
                a.avps.push(dynamic::Avp::new(
                    264,
                    diameter_runtime::AvpFlags::MANDATORY,
                    0,
                    &diameter_runtime::DiameterIdentity::from("raw.example.net"),
                ));
                a.avps.push(dynamic::Avp::new(
                    268,
                    diameter_runtime::AvpFlags::MANDATORY,
                    0,
                    &rc,
                ));
                a.encode()
            };
            // Same hop-by-hop id, another end-to-end id: not the answer to this request.
            s.write_all(&answer(5012, h.end_to_end.wrapping_add(1)))
                .await
                .unwrap();
            s.write_all(&answer(2001, h.end_to_end)).await.unwrap();
        }
    });
    let c = Node::builder()
        .origin_host("pcef.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .peer(&format!("127.0.0.1:{port}"))
        .start()
        .await
        .unwrap();
    c.wait_for_ready(4, T).await.unwrap();
    let a = c
        .send_request(&dynamic::Message::from_typed(&ccr(1), 0, 0), T)
        .await
        .unwrap();
    assert_eq!(a.find(268, 0).unwrap().get::<u32>().unwrap(), 2001);
}

#[tokio::test]
async fn duplicate_detection_can_be_turned_off() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::io::AsyncWriteExt;
    let calls = std::sync::Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let s = server("ocs.example.net", move |b| {
        b.duplicate_cache(0).handler(move |req: Request| {
            seen.fetch_add(1, Ordering::Relaxed);
            std::future::ready(node_tests::grant(&req, ResultCode::DIAMETER_SUCCESS))
        })
    })
    .await;
    let mut sock = raw::connect(s.local_addrs()[0].port()).await;
    sock.write_all(&ccr(1).encode(0x10, 0xe2e)).await.unwrap();
    raw::read_message(&mut sock).await;
    let mut again = bytes::BytesMut::from(&ccr(1).encode(0x11, 0xe2e)[..]);
    again[4] |= 0x10;
    sock.write_all(&again).await.unwrap();
    raw::read_message(&mut sock).await;
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2,
        "handled twice without the cache"
    );
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once() {
    use tokio::io::AsyncReadExt;
    let s = server("ocs.example.net", |b| ocs(b).max_connections(1)).await;
    let port = s.local_addrs()[0].port();
    let _first = raw::connect(port).await;
    let mut second = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(T, second.read(&mut buf))
        .await
        .expect("closed at once, not after the CER timeout")
        .unwrap_or(0);
    assert_eq!(n, 0);
}
