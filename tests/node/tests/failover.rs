//! Failover under load: requests outstanding on a peer that stops answering (frozen: it no
//! longer reads) or disappears (connection closed) are re-sent to the other peer with the T
//! flag, and every request ends with an answer.

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
            let n = req
                .decode::<CreditControlRequest>()
                .map(|c| c.cc_request_number)
                .unwrap_or(0);
            let mut a = req.generate_answer(ResultCode::DIAMETER_SUCCESS);
            let m = diameter_runtime::AvpFlags::MANDATORY;
            a.avps
                .push(diameter_runtime::dynamic::Avp::new(258, m, 0, &4u32));
            a.avps
                .push(diameter_runtime::dynamic::Avp::new(416, m, 0, &1i32));
            a.avps
                .push(diameter_runtime::dynamic::Avp::new(415, m, 0, &n));
            std::future::ready(Reply::Answer(a.encode()))
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
    tokio::time::timeout(Duration::from_secs(5), async {
        while client.peers().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("both peers up");
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
    tokio::time::timeout(Duration::from_secs(5), async {
        while client.peers().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
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
