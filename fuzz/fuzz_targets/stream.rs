//! A byte stream, split at arbitrary points and spread over virtual time, through the sans-IO
//! connection (responder and initiator, strict dictionaries) and through the framer and the
//! run-time dictionary. No panic; every message the connection sends is a well-formed
//! Diameter message; nothing is sent or reported after it closed; frames are whole messages
//! of valid length and nothing is framed after a bad header; for the bundled commands with
//! generated types, the run-time verdict is the generated decoder's (same Result-Code,
//! Failed-AVP and path).
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use diameter_dictionaries::credit_control::{CreditControlAnswer, CreditControlRequest};
use diameter_runtime::base::{
    CapabilitiesExchangeRequest, DeviceWatchdogRequest, DisconnectPeerRequest,
};
use diameter_runtime::codec::Framer;
use diameter_runtime::dictionary::{Dictionary, Strictness};
use diameter_runtime::peer::{
    AppId, Capabilities, Connection, ConnectionConfig, Event, Phase, Side,
};
use diameter_runtime::{DecodeError, Header, Message};
use libfuzzer_sys::fuzz_target;

fn dictionaries() -> &'static (Dictionary, Dictionary) {
    static D: OnceLock<(Dictionary, Dictionary)> = OnceLock::new();
    D.get_or_init(|| {
        let sources = diameter_codegen::model::Source::embedded(diameter_dictionaries::SOURCES);
        let lenient = Dictionary::load_sources(&sources).expect("bundled dictionaries load");
        let strict = lenient.clone().with_strictness(Strictness::STRICT);
        (lenient, strict)
    })
}

type Verdict = Option<(u32, Option<Bytes>, Vec<String>)>;

fn verdict(r: Result<(), DecodeError>) -> Verdict {
    r.err().map(|e| {
        (
            e.result_code(),
            e.failed_avp().map(|a| a.to_bytes()),
            e.path().map(String::from).collect(),
        )
    })
}

fn generated(frame: &Bytes) -> Option<Verdict> {
    let (request, code, app) = (
        frame[4] & 0x80 != 0,
        u32::from_be_bytes([0, frame[5], frame[6], frame[7]]),
        u32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]),
    );
    let b = frame.clone();
    Some(verdict(match (app, code, request) {
        (4, 272, true) => CreditControlRequest::decode(b).map(drop),
        (4, 272, false) if frame[4] & 0x20 == 0 => CreditControlAnswer::decode(b).map(drop),
        (0, 257, true) => CapabilitiesExchangeRequest::decode(b).map(drop),
        (0, 280, true) => DeviceWatchdogRequest::decode(b).map(drop),
        (0, 282, true) => DisconnectPeerRequest::decode(b).map(drop),
        _ => return None,
    }))
}

/// Feeds the stream to a connection on `side`, in chunks, with time passing between them.
fn connection(side: Side, sizes: &[u8], stream: &[u8]) {
    let (_, strict) = dictionaries();
    let mut caps = Capabilities::new("fuzz.example.net", "example.net");
    caps.applications = vec![AppId::Auth(4), AppId::Acct(3)];
    let config = ConnectionConfig {
        dictionary: Some(Arc::new(strict.clone())),
        max_message_len: 1 << 16,
        ..ConnectionConfig::default()
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut c: Connection<u32> = Connection::new(side, Arc::new(caps), config, now, (1, 1));
    let mut closed = false;
    let mut pos = 0;
    let mut i = 0;
    let mut next_id = 0u32;
    let mut drain = |c: &mut Connection<u32>, now: Instant, closed: &mut bool| {
        let was_closed = *closed;
        while let Some(b) = c.poll_transmit() {
            assert!(!was_closed, "sent after closing");
            Header::parse(&b).expect("what the connection sends is well-formed");
        }
        while let Some(e) = c.poll_event() {
            assert!(!was_closed, "an event after Closed: {e:?}");
            match e {
                Event::CapabilitiesRequest { .. } => c.accept(now),
                Event::Request(r) => {
                    // Answer some, and send a request of our own now and then.
                    let mut a = BytesMut::from(&r.frame[..20]);
                    a[1..4].copy_from_slice(&[0, 0, 20]);
                    a[4] &= 0x40;
                    c.send(a.freeze());
                    next_id += 1;
                    let mut q = BytesMut::from(&r.frame[..]);
                    q[12..16].copy_from_slice(&next_id.to_be_bytes());
                    let _ = c.send_request(q.freeze(), now + Duration::from_secs(1), next_id);
                }
                Event::Closed { .. } => *closed = true,
                _ => {}
            }
        }
        if c.phase() == Phase::Closed {
            *closed = true;
            assert_eq!(c.poll_timeout(), None);
        } else {
            assert!(
                c.poll_timeout().is_some(),
                "an open connection always has a timer"
            );
        }
    };
    drain(&mut c, now, &mut closed);
    while pos < stream.len() {
        let n = (sizes[i % 4] as usize % 97 + 1).min(stream.len() - pos);
        c.handle_input(now, &stream[pos..pos + n]);
        drain(&mut c, now, &mut closed);
        // Time passes by the chunk's first byte, in tenths of a second; due timers fire.
        now += Duration::from_millis(100 * (stream[pos] as u64 % 8));
        if c.poll_timeout().is_some_and(|t| t <= now) {
            c.handle_timeout(now);
            drain(&mut c, now, &mut closed);
        }
        pos += n;
        i += 1;
    }
    c.handle_eof(now);
    drain(&mut c, now, &mut closed);
    assert!(closed);
}

fuzz_target!(|data: &[u8]| {
    // The first four bytes choose the chunk sizes; the rest is the stream.
    if data.len() < 4 {
        return;
    }
    let (sizes, stream) = data.split_at(4);
    connection(Side::Responder, sizes, stream);
    connection(Side::Initiator, sizes, stream);
    let (lenient, strict) = dictionaries();
    let mut framer = Framer::new(1 << 16);
    let mut buf = BytesMut::new();
    let mut pos = 0;
    let mut i = 0;
    let mut failed = false;
    while pos < stream.len() {
        let n = (sizes[i % 4] as usize % 97 + 1).min(stream.len() - pos);
        buf.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
        i += 1;
        loop {
            match framer.next_frame(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(!failed, "a frame after a bad header");
                    let len = u32::from_be_bytes([0, frame[1], frame[2], frame[3]]) as usize;
                    assert!(len == frame.len() && len >= 20 && len % 4 == 0);
                    let frame = frame.freeze();
                    let runtime = verdict(lenient.validate(&frame).map(drop));
                    let _ = strict.validate(&frame);
                    if let Some(g) = generated(&frame) {
                        assert_eq!(g, runtime, "frame {:02x?}", &frame[..]);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(matches!(e.error.result_code(), 5011 | 5015));
                    assert!(buf.is_empty());
                    failed = true;
                    break;
                }
            }
        }
    }
});
