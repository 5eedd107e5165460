//! Failover under load: requests outstanding on a peer that stops answering (frozen: it no
//! longer reads) or disappears (connection closed) are re-sent to the other peer with the T
//! flag, and every request ends with an answer; also with one peer killed and another frozen
//! at the same moment while traffic flows.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diameter_dictionaries::credit_control::{CreditControlAnswer, CreditControlRequest};
use diameter_runtime::base::{CapabilitiesExchangeRequest, ResultCode};
use diameter_runtime::node::{Event, Node, Reply, Request};
use diameter_runtime::peer::{AppId, Capabilities, WatchdogConfig};
use diameter_runtime::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FAST: WatchdogConfig = WatchdogConfig {
    interval: Duration::from_millis(100),
    jitter: Duration::from_millis(10),
};

async fn read_message(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
    let mut rest = vec![0u8; len - 4];
    s.read_exact(&mut rest).await.ok()?;
    let mut all = head.to_vec();
    all.extend_from_slice(&rest);
    Some(all)
}

/// A peer that answers the CER and then misbehaves: `Freeze` stops reading, `CloseAfter(n)`
/// reads n more messages and closes the connection.
enum Misbehave {
    Freeze,
    CloseAfter(usize),
}

async fn bad_peer(name: &'static str, how: Misbehave) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let cer = read_message(&mut s).await.unwrap();
        let (h, _) = CapabilitiesExchangeRequest::decode(cer.into()).unwrap();
        let mut caps = Capabilities::new(name, "example.net");
        caps.applications = vec![AppId::Auth(4)];
        let cea = caps
            .cea(ResultCode::DIAMETER_SUCCESS, None)
            .encode(h.hop_by_hop, h.end_to_end);
        s.write_all(&cea).await.unwrap();
        match how {
            Misbehave::Freeze => tokio::time::sleep(Duration::from_secs(30)).await,
            Misbehave::CloseAfter(n) => {
                for _ in 0..n {
                    if read_message(&mut s).await.is_none() {
                        break;
                    }
                }
                drop(s);
            }
        }
    });
    port
}

fn ccr(n: u32) -> CreditControlRequest {
    let (_, mut c) = CreditControlRequest::decode(codec_tests::ccr_260()).unwrap();
    c.cc_request_number = n;
    c
}

async fn run(how: Misbehave, bad_name: &'static str) {
    let retransmitted = Arc::new(AtomicUsize::new(0));
    let seen = retransmitted.clone();
    let good = Node::builder()
        .origin_host("good.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .watchdog(FAST)
        .listen("127.0.0.1:0")
        .handler(move |req: Request| {
            if req.header().flags.is_retransmit() {
                seen.fetch_add(1, Ordering::Relaxed);
            }
            std::future::ready(node_tests::grant(&req, ResultCode::DIAMETER_SUCCESS))
        })
        .start()
        .await
        .unwrap();
    let bad_port = bad_peer(bad_name, how).await;
    let client = Node::builder()
        .origin_host("client.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .watchdog(FAST)
        .request_timeout(Duration::from_secs(5))
        .peer(&format!("127.0.0.1:{}", good.local_addrs()[0].port()))
        .peer(&format!("127.0.0.1:{bad_port}"))
        .start()
        .await
        .unwrap();
    let mut events = client.events();
    // Both peers up.
    node_tests::wait_for_peers(&client, 2).await;
    let mut tasks = Vec::new();
    for n in 0..300u32 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let a: CreditControlAnswer = c
                .call(&ccr(n))
                .await
                .unwrap_or_else(|e| panic!("request {n}: {e}"));
            assert_eq!(a.cc_request_number, n);
            assert_eq!(a.origin_host, "good.example.net");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let moved = retransmitted.load(Ordering::Relaxed);
    assert!(
        moved > 0,
        "some requests went to the bad peer first and were re-sent with T"
    );
    let mut failovers = 0;
    while let Ok(e) = events.try_recv() {
        if let Event::Failover { host, requests } = e {
            assert_eq!(host, bad_name);
            failovers += requests;
        }
    }
    assert_eq!(
        failovers, moved,
        "every request that failed over reached the good peer once, with T"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn frozen_peer_fails_over_with_t_flag() {
    run(Misbehave::Freeze, "frozen.example.net").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_peer_fails_over_with_t_flag() {
    run(Misbehave::CloseAfter(20), "dying.example.net").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_are_retransmitted_to_another_peer() {
    let slow = Node::builder()
        .origin_host("slow.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .listen("127.0.0.1:0")
        .handler(|req: Request| async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Reply::Answer(req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode())
        })
        .start()
        .await
        .unwrap();
    let retransmitted = Arc::new(AtomicUsize::new(0));
    let seen = retransmitted.clone();
    let fast = Node::builder()
        .origin_host("fast.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .listen("127.0.0.1:0")
        .handler(move |req: Request| {
            if req.header().flags.is_retransmit() {
                seen.fetch_add(1, Ordering::Relaxed);
            }
            std::future::ready(Reply::Answer(
                req.generate_answer(ResultCode::DIAMETER_SUCCESS).encode(),
            ))
        })
        .start()
        .await
        .unwrap();
    let client = Node::builder()
        .origin_host("client.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .request_timeout(Duration::from_secs(3))
        .retransmit_on_timeout(Duration::from_millis(100), 1)
        .peer(&format!("127.0.0.1:{}", slow.local_addrs()[0].port()))
        .peer(&format!("127.0.0.1:{}", fast.local_addrs()[0].port()))
        .start()
        .await
        .unwrap();
    node_tests::wait_for_peers(&client, 2).await;
    let mut tasks = Vec::new();
    for n in 0..40u32 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let d = diameter_runtime::dynamic::Message::from_typed(&ccr(n), 0, 0);
            let a = c
                .send_request(&d, Duration::from_secs(3))
                .await
                .unwrap_or_else(|e| panic!("request {n}: {e}"));
            assert_eq!(
                a.find(264, 0)
                    .unwrap()
                    .get::<diameter_runtime::DiameterIdentity>()
                    .unwrap(),
                "fast.example.net"
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = client.stats();
    let slow_stats = stats.iter().find(|s| s.host == "slow.example.net").unwrap();
    assert!(
        slow_stats.timeouts > 0,
        "attempts on the slow peer timed out"
    );
    assert_eq!(
        retransmitted.load(Ordering::Relaxed) as u64,
        slow_stats.timeouts,
        "each one was retransmitted with T"
    );
}

/// A CCA from `origin` for an encoded CCR: Session-Id, request type and number echoed.
fn cca(request: &bytes::Bytes, origin: &str) -> bytes::Bytes {
    use diameter_runtime::dynamic::{Avp, Message as Dyn};
    use diameter_runtime::{AvpFlags, DiameterIdentity};
    let (h, ccr) = CreditControlRequest::decode(request.clone()).unwrap();
    let m = AvpFlags::MANDATORY;
    let mut avps = vec![
        Avp::new(263, m, 0, &ccr.session_id),
        Avp::new(264, m, 0, &DiameterIdentity::from(origin)),
        Avp::new(296, m, 0, &DiameterIdentity::from("example.net")),
        Avp::new(268, m, 0, &ResultCode::DIAMETER_SUCCESS.0),
    ];
    avps.extend(node_tests::cca_echo(&ccr));
    Dyn {
        header: h.answer(),
        avps,
    }
    .encode()
}

/// What a scripted peer does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Serve,
    Freeze,
    Die,
}

/// A peer that answers CCRs and DWRs like a server until told to freeze (stop reading,
/// socket kept open) or die (close at once). Returns its port and how many CCRs it
/// answered.
async fn scripted_peer(
    name: &'static str,
    mut mode: tokio::sync::watch::Receiver<Mode>,
) -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut caps = Capabilities::new(name, "example.net");
        caps.applications = vec![AppId::Auth(4)];
        loop {
            let msg = tokio::select! {
                m = read_message(&mut s) => m,
                _ = mode.changed() => None,
            };
            let now = *mode.borrow();
            match now {
                Mode::Serve => {}
                Mode::Freeze => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                Mode::Die => return,
            }
            let Some(msg) = msg else { continue };
            let h = diameter_runtime::Header::parse(&msg).unwrap();
            let out = match h.command_code {
                257 => caps
                    .cea(ResultCode::DIAMETER_SUCCESS, None)
                    .encode(h.hop_by_hop, h.end_to_end),
                280 => diameter_runtime::base::DeviceWatchdogAnswer {
                    result_code: ResultCode::DIAMETER_SUCCESS,
                    origin_host: name.into(),
                    origin_realm: "example.net".into(),
                    error_message: None,
                    failed_avp: None,
                    origin_state_id: None,
                    avps: Vec::new(),
                }
                .encode(h.hop_by_hop, h.end_to_end),
                272 => {
                    count.fetch_add(1, Ordering::Relaxed);
                    cca(&msg.into(), name)
                }
                _ => continue,
            };
            if s.write_all(&out).await.is_err() {
                return;
            }
        }
    });
    (port, answered)
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_one_and_freeze_another_while_requests_flow() {
    let retransmitted = Arc::new(AtomicUsize::new(0));
    let seen = retransmitted.clone();
    let good = Node::builder()
        .origin_host("good.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .watchdog(FAST)
        .listen("127.0.0.1:0")
        .handler(move |req: Request| {
            if req.header().flags.is_retransmit() {
                seen.fetch_add(1, Ordering::Relaxed);
            }
            std::future::ready(node_tests::grant(&req, ResultCode::DIAMETER_SUCCESS))
        })
        .start()
        .await
        .unwrap();
    let (kill, kill_rx) = tokio::sync::watch::channel(Mode::Serve);
    let (freeze, freeze_rx) = tokio::sync::watch::channel(Mode::Serve);
    let (dying, dying_answered) = scripted_peer("dying.example.net", kill_rx).await;
    let (frozen, frozen_answered) = scripted_peer("frozen.example.net", freeze_rx).await;
    let client = Node::builder()
        .origin_host("client.example.net")
        .origin_realm("example.net")
        .auth_application(4)
        .watchdog(FAST)
        .request_timeout(Duration::from_secs(5))
        .reconnect_interval(Duration::from_secs(30))
        .peer(&format!("127.0.0.1:{}", good.local_addrs()[0].port()))
        .peer(&format!("127.0.0.1:{dying}"))
        .peer(&format!("127.0.0.1:{frozen}"))
        .start()
        .await
        .unwrap();
    node_tests::wait_for_peers(&client, 3).await;
    // 32 workers, 60 requests each, back to back; halfway through the first round of
    // traffic one peer dies and another freezes.
    let answered = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..32u32 {
        let (c, answered) = (client.clone(), answered.clone());
        workers.push(tokio::spawn(async move {
            for i in 0..60u32 {
                let n = w * 1000 + i;
                let a: CreditControlAnswer = c
                    .call(&ccr(n))
                    .await
                    .unwrap_or_else(|e| panic!("request {n}: {e}"));
                assert_eq!(a.cc_request_number, n, "the answer to this request");
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::timeout(Duration::from_secs(5), async {
        while answered.load(Ordering::Relaxed) < 300 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("traffic flows");
    kill.send(Mode::Die).unwrap();
    freeze.send(Mode::Freeze).unwrap();
    for w in workers {
        tokio::time::timeout(Duration::from_secs(20), w)
            .await
            .expect("every request ends")
            .unwrap();
    }
    assert_eq!(answered.load(Ordering::Relaxed), 32 * 60, "none lost");
    assert!(dying_answered.load(Ordering::Relaxed) > 0);
    assert!(frozen_answered.load(Ordering::Relaxed) > 0);
    assert!(
        retransmitted.load(Ordering::Relaxed) > 0,
        "requests caught on the dead and frozen peers reached the good one with T"
    );
    // Only the good peer is left, in OKAY.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let okay: Vec<String> = client
        .peers()
        .into_iter()
        .filter(|(_, s)| *s == diameter_runtime::peer::WatchdogState::Okay)
        .map(|(p, _)| p.origin_host.to_string())
        .collect();
    assert_eq!(okay, ["good.example.net"]);
}
