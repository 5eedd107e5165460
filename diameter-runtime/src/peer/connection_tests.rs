//! Every transition of the connection machine on a virtual clock: two machines wired back to
//! back, or one fed bytes by hand.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::*;
use crate::base::{DisconnectCause, ResultCode};
use crate::codec::dynamic::{Avp, Message as Dyn};
use crate::codec::{AvpFlags, CommandFlags, Header};
use crate::peer::{AppId, Capabilities, Side, WatchdogConfig, WatchdogState};

const M: AvpFlags = AvpFlags::MANDATORY;

fn caps(host: &str, apps: &[AppId]) -> Arc<Capabilities> {
    let mut c = Capabilities::new(host, "example.net");
    c.applications = apps.to_vec();
    Arc::new(c)
}

fn config() -> ConnectionConfig {
    ConnectionConfig {
        watchdog: WatchdogConfig {
            interval: Duration::from_secs(30),
            jitter: Duration::ZERO,
        },
        cer_timeout: Duration::from_secs(10),
        frame_timeout: Duration::from_secs(5),
        dpa_timeout: Duration::from_secs(2),
        ..ConnectionConfig::default()
    }
}

type Conn = Connection<u32>;

fn pair(t0: Instant) -> (Conn, Conn) {
    let a = Conn::new(
        Side::Initiator,
        caps("client.example.net", &[AppId::Auth(4)]),
        config(),
        t0,
        (100, 1000),
    );
    let b = Conn::new(
        Side::Responder,
        caps("server.example.net", &[AppId::Auth(4)]),
        config(),
        t0,
        (200, 2000),
    );
    (a, b)
}

/// Moves bytes both ways until neither side has anything to send.
fn pump(now: Instant, a: &mut Conn, b: &mut Conn) {
    loop {
        let mut moved = false;
        while let Some(x) = a.poll_transmit() {
            b.handle_input(now, &x);
            moved = true;
        }
        while let Some(x) = b.poll_transmit() {
            a.handle_input(now, &x);
            moved = true;
        }
        if !moved {
            break;
        }
    }
}

fn events(c: &mut Conn) -> Vec<Event<u32>> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn sent(c: &mut Conn) -> Vec<Dyn> {
    std::iter::from_fn(|| c.poll_transmit())
        .map(|b| Dyn::decode_with(b, &|c: u32, _: u32| c == 279).expect("well-formed"))
        .collect()
}

fn rc(m: &Dyn) -> u32 {
    m.find(268, 0).unwrap().get::<u32>().unwrap()
}

fn open(t0: Instant) -> (Conn, Conn) {
    let (mut a, mut b) = pair(t0);
    pump(t0, &mut a, &mut b);
    match events(&mut b).as_slice() {
        [Event::CapabilitiesRequest { peer, common }] => {
            assert_eq!(peer.origin_host, "client.example.net");
            assert_eq!(common, &[AppId::Auth(4)]);
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(b.phase(), Phase::WaitDecision);
    b.accept(t0);
    pump(t0, &mut a, &mut b);
    assert!(matches!(events(&mut a).as_slice(), [Event::Open { .. }]));
    assert!(matches!(events(&mut b).as_slice(), [Event::Open { .. }]));
    assert!(a.is_usable() && b.is_usable());
    (a, b)
}

fn ccr(hbh: u32, e2e: u32) -> Bytes {
    Dyn {
        header: Header::new(
            CommandFlags::REQUEST.with(CommandFlags::PROXIABLE),
            272,
            4,
            hbh,
            e2e,
        ),
        avps: vec![
            Avp::new(263, M, 0, &crate::codec::Utf8String::from("s;1")),
            Avp::new(
                264,
                M,
                0,
                &crate::codec::DiameterIdentity::from("client.example.net"),
            ),
            Avp::new(
                283,
                M,
                0,
                &crate::codec::DiameterIdentity::from("example.net"),
            ),
        ],
    }
    .encode()
}

fn answer_to(req: &Bytes, result: u32) -> Bytes {
    let h = Header::parse(req).unwrap();
    Dyn {
        header: h.answer(),
        avps: vec![Avp::new(268, M, 0, &result)],
    }
    .encode()
}

#[test]
fn capabilities_exchange_both_sides() {
    let t0 = Instant::now();
    let (a, b) = open(t0);
    assert_eq!(a.peer().unwrap().origin_host, "server.example.net");
    assert_eq!(b.common_applications(), &[AppId::Auth(4)]);
    assert_eq!(a.watchdog_state(), WatchdogState::Okay);
    assert_eq!(a.phase(), Phase::Open);
}

#[test]
fn refused_after_the_election_4003() {
    let t0 = Instant::now();
    let (mut a, mut b) = pair(t0);
    pump(t0, &mut a, &mut b);
    events(&mut b);
    b.refuse(4003, "election lost");
    pump(t0, &mut a, &mut b);
    assert!(matches!(
        events(&mut a).as_slice(),
        [
            Event::Refused {
                result_code: 4003,
                ..
            },
            Event::Closed { .. }
        ]
    ));
    assert!(matches!(
        events(&mut b).as_slice(),
        [
            Event::Refused {
                result_code: 4003,
                ..
            },
            Event::Closed { .. }
        ]
    ));
    assert_eq!(a.phase(), Phase::Closed);
    assert_eq!(b.phase(), Phase::Closed);
}

#[test]
fn no_common_application_5010() {
    let t0 = Instant::now();
    let mut a = Conn::new(
        Side::Initiator,
        caps("client.example.net", &[AppId::Auth(16777238)]),
        config(),
        t0,
        (1, 1),
    );
    let (_, mut b) = pair(t0);
    pump(t0, &mut a, &mut b);
    assert!(matches!(
        events(&mut a).as_slice(),
        [
            Event::Refused {
                result_code: 5010,
                ..
            },
            Event::Closed { .. }
        ]
    ));
}

#[test]
fn cer_and_cea_timeouts() {
    let t0 = Instant::now();
    let (mut a, mut b) = pair(t0);
    assert_eq!(b.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    b.handle_timeout(t0 + Duration::from_secs(9));
    assert_eq!(b.phase(), Phase::WaitCer);
    b.handle_timeout(t0 + Duration::from_secs(10));
    assert!(
        matches!(events(&mut b).as_slice(), [Event::Closed { reason, .. }] if reason.contains("capabilities exchange"))
    );
    let _ = a.poll_transmit();
    a.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(a.phase(), Phase::Closed);
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn a_request_before_the_cer_closes_unanswered() {
    let t0 = Instant::now();
    let (_, mut b) = pair(t0);
    b.handle_input(t0, &ccr(1, 1));
    assert_eq!(b.phase(), Phase::Closed);
    assert!(b.poll_transmit().is_none());
}

#[test]
fn a_malformed_cer_is_refused_with_failed_avp() {
    let t0 = Instant::now();
    let (_, mut b) = pair(t0);
    let cer = Dyn {
        header: Header::new(CommandFlags::REQUEST, 257, 0, 5, 6),
        avps: vec![
            Avp::new(
                296,
                M,
                0,
                &crate::codec::DiameterIdentity::from("example.net"),
            ),
            Avp::new(266, M, 0, &0u32),
            Avp::new(269, AvpFlags::NONE, 0, &crate::codec::Utf8String::from("x")),
        ],
    };
    b.handle_input(t0, &cer.encode());
    let out = sent(&mut b);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].header.command_code, 257);
    assert_eq!(out[0].header.hop_by_hop, 5);
    assert_eq!(rc(&out[0]), 5005);
    let failed = out[0].find(279, 0).unwrap();
    assert_eq!(failed.children()[0].code, 264);
    assert_eq!(b.phase(), Phase::Closed);
}

#[test]
fn an_unframeable_header_is_answered_then_closed() {
    let t0 = Instant::now();
    let (mut a, mut b) = open(t0);
    let mut bad = ccr(9, 9).to_vec();
    bad[1..4].copy_from_slice(&[0, 0, 0]);
    b.handle_input(t0, &bad[..20]);
    let out = sent(&mut b);
    assert_eq!((out[0].header.hop_by_hop, rc(&out[0])), (9, 5015));
    assert!(matches!(events(&mut b).as_slice(), [Event::Closed { .. }]));
    // Nothing more is read.
    b.handle_input(t0, &ccr(10, 10));
    assert!(b.poll_transmit().is_none() && b.poll_event().is_none());
    let _ = a.poll_event();
    // Version 2: 5011, in a version 1 answer (`sent` decodes only version 1).
    let (_, mut b) = open(t0);
    let mut bad = ccr(11, 11).to_vec();
    bad[0] = 2;
    b.handle_input(t0, &bad);
    let out = sent(&mut b);
    assert_eq!((out[0].header.hop_by_hop, rc(&out[0])), (11, 5011));
    assert_eq!(b.phase(), Phase::Closed);
}

#[test]
fn a_slow_sender_is_closed_after_the_frame_timeout() {
    let t0 = Instant::now();
    let (_, mut b) = open(t0);
    let req = ccr(1, 1);
    b.handle_input(t0, &req[..10]);
    let due = b.poll_timeout().unwrap();
    assert!(due <= t0 + Duration::from_secs(5));
    // More bytes of the same message do not restart the clock.
    b.handle_input(t0 + Duration::from_secs(3), &req[10..20]);
    b.handle_timeout(t0 + Duration::from_secs(5));
    assert!(
        matches!(events(&mut b).as_slice(), [Event::Closed { reason, .. }] if reason.contains("whole"))
    );
}

#[test]
fn requests_answers_timeouts_and_unsolicited() {
    let t0 = Instant::now();
    let (mut a, mut b) = open(t0);
    let r1 = ccr(0x11, 0xe1);
    a.send_request(r1.clone(), t0 + Duration::from_secs(1), 1)
        .unwrap();
    a.send_request(ccr(0x12, 0xe2), t0 + Duration::from_secs(1), 2)
        .unwrap();
    pump(t0, &mut a, &mut b);
    let got = events(&mut b);
    assert_eq!(got.len(), 2);
    let Event::Request(r) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(r.header.hop_by_hop, 0x11);
    assert_eq!(r.session_id(), Some(&b"s;1"[..]));
    assert_eq!(r.origin_host(), Some(&b"client.example.net"[..]));
    assert_eq!(r.destination_realm(), Some(&b"example.net"[..]));
    assert_eq!(r.destination_host(), None);
    // The first is answered; the second never is.
    b.send(answer_to(&r1, 2001));
    pump(t0, &mut a, &mut b);
    match events(&mut a).as_slice() {
        [Event::Answer {
            waiter: 1,
            class: 1,
            ..
        }] => {}
        e => panic!("{e:?}"),
    }
    assert_eq!(a.outstanding(), 1);
    assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    a.handle_timeout(t0 + Duration::from_secs(1));
    assert!(matches!(events(&mut a).as_slice(), [Event::TimedOut(2)]));
    // Its late answer, and one with a wrong end-to-end id, are unsolicited.
    b.send(answer_to(&ccr(0x12, 0xe2), 2001));
    a.send_request(ccr(0x13, 0xe3), t0 + Duration::from_secs(9), 3)
        .unwrap();
    b.send(answer_to(&ccr(0x13, 0xe4), 2001));
    pump(t0, &mut a, &mut b);
    let e = events(&mut a);
    assert!(
        matches!(e.as_slice(), [Event::Unsolicited(_), Event::Unsolicited(_)]),
        "{e:?}"
    );
    assert_eq!(
        a.counters()
            .timeouts
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn per_command_counts_are_published_per_batch() {
    let t0 = Instant::now();
    let (mut a, mut b) = open(t0);
    let count = |c: &Conn, app: u32, code: u32| {
        c.counters()
            .commands()
            .into_iter()
            .find(|s| (s.application, s.command) == (app, code))
    };
    // The capabilities exchange is counted on both sides.
    let cer = count(&a, 0, 257).expect("CER/CEA counted");
    assert_eq!((cer.requests_sent, cer.answers_received), (1, 1));
    assert_eq!(cer.results_received[1], 1);
    let r1 = ccr(0x11, 0xe1);
    let r2 = ccr(0x12, 0xe2);
    a.send_request(r1.clone(), t0 + Duration::from_secs(1), 1)
        .unwrap();
    a.send_request(r2.clone(), t0 + Duration::from_secs(1), 2)
        .unwrap();
    // Queued, not yet taken by the writer: not counted yet.
    assert!(count(&a, 4, 272).is_none());
    let mut wire = Vec::new();
    while let Some(x) = a.poll_transmit() {
        wire.extend_from_slice(&x);
    }
    assert_eq!(count(&a, 4, 272).unwrap().requests_sent, 2);
    // Both requests in one read: published once handled.
    b.handle_input(t0, &wire);
    assert_eq!(count(&b, 4, 272).unwrap().requests_received, 2);
    events(&mut b);
    b.send(answer_to(&r1, 2001));
    b.send(answer_to(&r2, 5012));
    pump(t0, &mut a, &mut b);
    let theirs = count(&b, 4, 272).unwrap();
    assert_eq!(theirs.answers_sent, 2);
    assert_eq!(theirs.results_sent, [0, 1, 0, 0, 1, 0]);
    let ours = count(&a, 4, 272).unwrap();
    assert_eq!((ours.requests_sent, ours.answers_received), (2, 2));
    assert_eq!(ours.results_received, [0, 1, 0, 0, 1, 0]);
    // Closing publishes what is left.
    b.send(answer_to(&ccr(0x13, 0xe3), 2001));
    b.close("test", Outcome::Closed);
    assert_eq!(count(&b, 4, 272).unwrap().answers_sent, 3);
}

#[test]
fn requests_are_refused_unless_open() {
    let t0 = Instant::now();
    let (mut a, _) = pair(t0);
    assert_eq!(a.send_request(ccr(1, 1), t0, 7), Err(7));
}

#[test]
fn watchdog_okay_suspect_failover_down() {
    let t0 = Instant::now();
    let (mut a, mut b) = open(t0);
    a.send_request(ccr(1, 1), t0 + Duration::from_secs(100), 1)
        .unwrap();
    let _ = b.poll_transmit();
    let _ = sent(&mut a);
    let tw = t0 + Duration::from_secs(30);
    assert_eq!(a.poll_timeout(), Some(tw));
    a.handle_timeout(tw);
    let dwr = sent(&mut a);
    assert_eq!(dwr[0].header.command_code, 280);
    // A DWA answers it and keeps OKAY.
    b.handle_input(tw, &dwr[0].encode());
    let dwa = sent(&mut b);
    assert_eq!(rc(&dwa[0]), 2001);
    a.handle_input(tw, &dwa[0].encode());
    assert_eq!(a.watchdog_state(), WatchdogState::Okay);
    // The next DWR goes unanswered: SUSPECT, and the waiting request fails over.
    let t2 = a.poll_timeout().unwrap();
    a.handle_timeout(t2);
    let _ = sent(&mut a);
    let t3 = a.poll_timeout().unwrap();
    a.handle_timeout(t3);
    let e = events(&mut a);
    assert!(
        matches!(e.as_slice(), [Event::Failover(w), Event::Watchdog(WatchdogState::Suspect)] if w == &[1]),
        "{e:?}"
    );
    assert!(!a.is_usable());
    assert_eq!(
        a.send_request(ccr(2, 2), t3 + Duration::from_secs(5), 2),
        Err(2)
    );
    // Still nothing: DOWN, the connection closes.
    let t4 = a.poll_timeout().unwrap();
    a.handle_timeout(t4);
    let e = events(&mut a);
    assert!(
        e.iter()
            .any(|e| matches!(e, Event::Closed { reason, .. } if reason.contains("watchdog"))),
        "{e:?}"
    );
}

#[test]
fn our_dpr_then_dpa_or_timeout() {
    let t0 = Instant::now();
    let (mut a, mut b) = open(t0);
    a.disconnect(t0, DisconnectCause::Rebooting);
    assert_eq!(a.phase(), Phase::Closing);
    pump(t0, &mut a, &mut b);
    assert!(matches!(
        events(&mut b).as_slice(),
        [Event::Closed {
            outcome: Outcome::Closed,
            ..
        }]
    ));
    assert!(
        matches!(events(&mut a).as_slice(), [Event::Closed { reason, .. }] if reason.contains("DPA"))
    );
    // Without an answer, the DPA timeout closes.
    let (mut a, _) = open(t0);
    a.disconnect(t0, DisconnectCause::Rebooting);
    assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    a.handle_timeout(t0 + Duration::from_secs(2));
    assert!(
        matches!(events(&mut a).as_slice(), [Event::Closed { reason, .. }] if reason == "no DPA")
    );
}

#[test]
fn their_dpr_says_whether_to_reconnect() {
    let t0 = Instant::now();
    let (mut a, mut b) = open(t0);
    b.disconnect(t0, DisconnectCause::DoNotWantToTalkToYou);
    pump(t0, &mut a, &mut b);
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::Closed {
            outcome: Outcome::DoNotReconnect,
            ..
        }]
    ));
}

#[test]
fn malformed_base_requests_are_answered_and_the_connection_stays() {
    let t0 = Instant::now();
    let (_, mut b) = open(t0);
    // DWR with a Session-Id: 5008. DWR without Origin-Realm: 5005. DPR without a cause: 5005.
    let dwr = |avps: Vec<Avp>, code: u32| {
        Dyn {
            header: Header::new(CommandFlags::REQUEST, code, 0, 3, 3),
            avps,
        }
        .encode()
    };
    let host = Avp::new(
        264,
        M,
        0,
        &crate::codec::DiameterIdentity::from("client.example.net"),
    );
    let realm = Avp::new(
        296,
        M,
        0,
        &crate::codec::DiameterIdentity::from("example.net"),
    );
    let session = Avp::new(263, M, 0, &crate::codec::Utf8String::from("s;1"));
    b.handle_input(t0, &dwr(vec![host.clone(), realm.clone(), session], 280));
    b.handle_input(t0, &dwr(vec![host.clone()], 280));
    b.handle_input(t0, &dwr(vec![host, realm], 282));
    let out = sent(&mut b);
    let codes: Vec<(u32, u32, u32)> = out
        .iter()
        .map(|m| {
            let failed = m.find(279, 0).unwrap().children()[0].code;
            (m.header.command_code, rc(m), failed)
        })
        .collect();
    assert_eq!(
        codes,
        [(280, 5008, 263), (280, 5005, 296), (282, 5005, 273)]
    );
    assert!(
        out.iter().all(|m| m.find(263, 0).is_none()),
        "no Session-Id in base answers"
    );
    assert_eq!(b.phase(), Phase::Open);
    // A second CER: 5012.
    let mut cer = BytesMut::new();
    b.caps
        .cer()
        .encode_with_header(&Header::new(CommandFlags::REQUEST, 257, 0, 4, 4), &mut cer);
    b.handle_input(t0, &cer);
    assert_eq!(
        rc(&sent(&mut b)[0]),
        ResultCode::DIAMETER_UNABLE_TO_COMPLY.0
    );
}

#[test]
fn bad_header_bits_are_answered_3008() {
    let t0 = Instant::now();
    let (_, mut b) = open(t0);
    let mut r = ccr(0x21, 0x22).to_vec();
    r[4] |= 0x01;
    b.handle_input(t0, &r);
    let out = sent(&mut b);
    assert_eq!(rc(&out[0]), 3008);
    assert!(out[0].header.flags.is_error());
    assert_eq!(out[0].header.hop_by_hop, 0x21);
    assert_eq!(b.phase(), Phase::Open);
}

#[test]
fn eof_hands_back_what_was_waiting() {
    let t0 = Instant::now();
    let (mut a, _) = open(t0);
    a.send_request(ccr(1, 1), t0 + Duration::from_secs(5), 1)
        .unwrap();
    a.handle_eof(t0);
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::Closed { pending, .. }] if pending == &[1]
    ));
}
