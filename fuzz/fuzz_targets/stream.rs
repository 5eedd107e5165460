//! A byte stream, split at arbitrary points, through the framer and the run-time dictionary:
//! no panic; frames are whole messages of valid length; nothing is framed after a bad header;
//! every frame gets a verdict, and for the bundled commands with generated types the
//! run-time verdict is the generated decoder's (same Result-Code, Failed-AVP and path).
#![no_main]

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use diameter_dictionaries::credit_control::{CreditControlAnswer, CreditControlRequest};
use diameter_runtime::base::{
    CapabilitiesExchangeRequest, DeviceWatchdogRequest, DisconnectPeerRequest,
};
use diameter_runtime::codec::Framer;
use diameter_runtime::dictionary::{Dictionary, Strictness};
use diameter_runtime::{DecodeError, Message};
use libfuzzer_sys::fuzz_target;

fn dictionaries() -> &'static (Dictionary, Dictionary) {
    static D: OnceLock<(Dictionary, Dictionary)> = OnceLock::new();
    D.get_or_init(|| {
        let sources: Vec<_> = diameter_dictionaries::SOURCES
            .iter()
            .map(|(n, t)| diameter_codegen::model::Source {
                path: n.into(),
                text: t.to_string(),
                external: None,
            })
            .collect();
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

fuzz_target!(|data: &[u8]| {
    // The first four bytes choose the chunk sizes; the rest is the stream.
    if data.len() < 4 {
        return;
    }
    let (sizes, stream) = data.split_at(4);
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
