//! Run-time validation (`diameter_runtime::dictionary`) gives the verdicts of generated
//! decoders: on messages of every bundled command built from its grammar, valid or broken
//! (occurrences, values, lengths, flags, bytes), both accept or both refuse with the same
//! Result-Code, Failed-AVP and AVP path. Then what the strict checks add.

use bytes::{BufMut, Bytes, BytesMut};
use diameter_codegen::model::{self, BaseType, Target};
use diameter_dictionaries::credit_control::{CreditControlAnswer, CreditControlRequest};
use diameter_runtime::base::*;
use diameter_runtime::dictionary::{Dictionary, Strictness};
use diameter_runtime::{DecodeError, Message};
use proptest::prelude::*;

type Decode = fn(Bytes) -> Result<(), DecodeError>;

fn typed<M: Message>(b: Bytes) -> Result<(), DecodeError> {
    M::decode(b).map(drop)
}

/// Every bundled command with a generated type: (application, code, request, decoder).
const COMMANDS: &[(u32, u32, bool, Decode)] = &[
    (0, 257, true, typed::<CapabilitiesExchangeRequest>),
    (0, 257, false, typed::<CapabilitiesExchangeAnswer>),
    (0, 280, true, typed::<DeviceWatchdogRequest>),
    (0, 280, false, typed::<DeviceWatchdogAnswer>),
    (0, 282, true, typed::<DisconnectPeerRequest>),
    (0, 282, false, typed::<DisconnectPeerAnswer>),
    (0, 258, true, typed::<ReAuthRequest>),
    (0, 258, false, typed::<ReAuthAnswer>),
    (0, 275, true, typed::<SessionTerminationRequest>),
    (0, 275, false, typed::<SessionTerminationAnswer>),
    (0, 274, true, typed::<AbortSessionRequest>),
    (0, 274, false, typed::<AbortSessionAnswer>),
    (3, 271, true, typed::<AccountingRequest>),
    (3, 271, false, typed::<AccountingAnswer>),
    (4, 272, true, typed::<CreditControlRequest>),
    (4, 272, false, typed::<CreditControlAnswer>),
];

fn model() -> model::Dictionary {
    let sources = model::Source::embedded(diameter_dictionaries::SOURCES);
    model::load(&sources, model::LoadOptions::default()).unwrap()
}

/// A small deterministic generator: proptest picks the seed (and shrinks it).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn put_avp(out: &mut BytesMut, code: u32, flags: u8, vendor: u32, data: &[u8]) {
    let vendor_flag = if vendor != 0 { 0x80 } else { 0 };
    let hlen = if vendor != 0 { 12 } else { 8 };
    out.put_u32(code);
    out.put_u32((((flags | vendor_flag) as u32) << 24) | (hlen + data.len()) as u32);
    if vendor != 0 {
        out.put_u32(vendor);
    }
    out.put_slice(data);
    out.put_bytes(0, (4 - data.len() % 4) % 4);
}

/// A value of the AVP's type: mostly valid, sometimes of a wrong length or content.
fn value(m: &model::Dictionary, a: &model::Avp, r: &mut Rng, depth: usize) -> Vec<u8> {
    if a.ty != BaseType::Grouped && r.chance(6) {
        let n = r.below(10) as usize;
        return r.bytes(n);
    }
    match a.ty {
        BaseType::Integer32 | BaseType::Enumerated | BaseType::Unsigned32 => {
            let v = if !a.items.is_empty() && r.chance(85) {
                a.items[r.below(a.items.len() as u64) as usize].code as u32
            } else {
                r.next() as u32
            };
            v.to_be_bytes().to_vec()
        }
        BaseType::Float32 | BaseType::Time => r.bytes(4),
        BaseType::Integer64 | BaseType::Unsigned64 | BaseType::Float64 => r.bytes(8),
        BaseType::Address => match r.below(3) {
            0 => vec![0, 1, 10, 0, 0, 1],
            1 => {
                let mut v = vec![0, 2];
                v.extend(r.bytes(16));
                v
            }
            _ => {
                let n = r.below(6) as usize;
                let mut v = vec![0, 1];
                v.extend(r.bytes(n));
                v
            }
        },
        BaseType::Utf8String | BaseType::OctetString | BaseType::QosFilterRule => {
            let mut v = b"text-value".to_vec();
            if r.chance(10) {
                v.push(0xff);
            }
            v
        }
        BaseType::DiameterIdentity => {
            if r.chance(8) {
                Vec::new()
            } else {
                b"host.example.net".to_vec()
            }
        }
        BaseType::DiameterUri => {
            if r.chance(10) {
                b"not a uri".to_vec()
            } else {
                b"aaa://host.example.net:3868;transport=tcp".to_vec()
            }
        }
        BaseType::IpFilterRule => {
            if r.chance(10) {
                b"nonsense".to_vec()
            } else {
                b"permit in ip from any to any".to_vec()
            }
        }
        BaseType::Grouped => {
            let mut out = BytesMut::new();
            if depth < 3 {
                avps(m, &a.rules, r, depth + 1, &mut out);
            }
            out.to_vec()
        }
    }
}

/// AVPs for a grammar: each rule's count mostly within bounds, sometimes one short or over,
/// unknown AVPs with and without M, in grammar order or shuffled.
fn avps(
    m: &model::Dictionary,
    rules: &[model::Rule],
    r: &mut Rng,
    depth: usize,
    out: &mut BytesMut,
) {
    let mut items: Vec<BytesMut> = Vec::new();
    for rule in rules {
        match rule.target {
            Target::Wildcard => {
                for _ in 0..r.below(3) {
                    let mut b = BytesMut::new();
                    let flags = if r.chance(30) { 0x40 } else { 0 };
                    let n = r.below(9) as usize;
                    let data = r.bytes(n);
                    put_avp(&mut b, 90000 + r.below(5) as u32, flags, 0, &data);
                    items.push(b);
                }
            }
            Target::Avp(id) => {
                let a = &m.avps[id];
                let hi = rule.max.unwrap_or(rule.min + 2).min(rule.min + 2);
                let mut n = rule.min + r.below((hi - rule.min + 1) as u64) as u32;
                if r.chance(5) {
                    n += 1;
                }
                if n > 0 && r.chance(5) {
                    n -= 1;
                }
                if depth > 1 {
                    n = n.min(2);
                }
                for _ in 0..n {
                    let mut b = BytesMut::new();
                    let mut flags = if a.flags.must_m { 0x40 } else { 0 };
                    if r.chance(1) {
                        flags |= 0x10; // a reserved bit
                    }
                    let data = value(m, a, r, depth);
                    put_avp(&mut b, a.code, flags, a.vendor_id, &data);
                    items.push(b);
                }
            }
        }
    }
    if r.chance(8) {
        // An AVP no grammar names, with M: 5001 where the grammar has no *[ AVP ].
        let mut b = BytesMut::new();
        put_avp(&mut b, 95000, 0x40, 10415, b"m");
        items.push(b);
    }
    if r.chance(30) {
        for i in (1..items.len()).rev() {
            let j = r.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
    for b in items {
        out.extend_from_slice(&b);
    }
}

fn message(m: &model::Dictionary, app: u32, code: u32, request: bool, r: &mut Rng) -> Bytes {
    let c = m
        .applications
        .iter()
        .find(|a| a.id == app)
        .and_then(|a| a.commands.iter().find(|c| c.code == code))
        .expect("bundled command");
    let rules = if request { &c.request } else { &c.answer };
    let mut body = BytesMut::new();
    avps(m, rules, r, 0, &mut body);
    // Byte-level damage inside the body: a changed byte or an AVP length off.
    if !body.is_empty() && r.chance(25) {
        let i = r.below(body.len() as u64) as usize;
        body[i] = r.next() as u8;
    }
    let mut out = BytesMut::new();
    let flags: u32 = if request { 0x80 } else { 0 };
    out.put_u32((1 << 24) | (20 + body.len()) as u32);
    out.put_u32((flags << 24) | code);
    out.put_u32(app);
    out.put_u32(0x1111);
    out.put_u32(0x2222);
    out.extend_from_slice(&body);
    out.freeze()
}

/// What an answer would carry: Result-Code, Failed-AVP bytes, the AVP path.
fn verdict(r: Result<(), DecodeError>) -> Option<(u32, Option<Bytes>, Vec<String>)> {
    r.err().map(|e| {
        (
            e.result_code(),
            e.failed_avp().map(|a| a.to_bytes()),
            e.path().map(String::from).collect(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20000))]

    #[test]
    fn runtime_and_generated_verdicts_agree(seed in 1u64.., pick in 0usize..COMMANDS.len()) {
        thread_local! {
            static DICTS: (model::Dictionary, Dictionary) = {
                let m = model();
                let d = Dictionary::from_model(&m);
                (m, d)
            };
        }
        DICTS.with(|(m, dict)| {
            let (app, code, request, decode) = COMMANDS[pick];
            let mut r = Rng(seed);
            let msg = message(m, app, code, request, &mut r);
            let generated = verdict(decode(msg.clone()));
            let runtime = verdict(dict.validate(&msg).map(drop));
            prop_assert_eq!(generated, runtime, "message {:02x?}", &msg[..]);
            Ok(())
        })?;
    }
}

/// Both kinds of message occur in the generated corpus: valid ones and each error class.
#[test]
fn the_corpus_covers_valid_messages_and_every_error_class() {
    let m = model();
    let dict = Dictionary::from_model(&m);
    let mut seen = std::collections::BTreeMap::new();
    for seed in 1..4000u64 {
        let (app, code, request, _) = COMMANDS[seed as usize % COMMANDS.len()];
        let msg = message(&m, app, code, request, &mut Rng(seed * 7919));
        let rc = dict.validate(&msg).err().map_or(2001, |e| e.result_code());
        *seen.entry(rc).or_insert(0) += 1;
    }
    for rc in [2001, 3009, 5001, 5004, 5005, 5009, 5014] {
        assert!(seen.get(&rc).copied().unwrap_or(0) > 10, "{rc}: {seen:?}");
    }
}

fn ccr(extra: &[u8]) -> Bytes {
    let mut body = BytesMut::new();
    put_avp(&mut body, 263, 0x40, 0, b"s;1");
    put_avp(&mut body, 264, 0x40, 0, b"c.example.net");
    put_avp(&mut body, 296, 0x40, 0, b"example.net");
    put_avp(&mut body, 283, 0x40, 0, b"example.net");
    put_avp(&mut body, 258, 0x40, 0, &4u32.to_be_bytes());
    put_avp(&mut body, 461, 0x40, 0, b"32251@3gpp.org");
    put_avp(&mut body, 415, 0x40, 0, &0u32.to_be_bytes());
    body.extend_from_slice(extra);
    let mut out = BytesMut::new();
    out.put_u32((1 << 24) | (20 + body.len()) as u32);
    out.put_u32((0xc0 << 24) | 272);
    out.put_u32(4);
    out.put_u32(1);
    out.put_u32(2);
    out.extend_from_slice(&body);
    out.freeze()
}

#[test]
fn strict_checks_refuse_unknown_mandatory_avps_and_undefined_enumerated_values() {
    let m = model();
    let lenient = Dictionary::from_model(&m);
    let strict = Dictionary::from_model(&m).with_strictness(Strictness::STRICT);

    let mut ok = BytesMut::new();
    put_avp(&mut ok, 416, 0x40, 0, &1u32.to_be_bytes());
    assert!(strict.validate(&ccr(&ok)).is_ok());

    // An unknown M-bit AVP where *[ AVP ] allows others: kept by generated code, 5001 strict.
    let mut unknown = ok.clone();
    put_avp(&mut unknown, 99999, 0x40, 0, b"x");
    assert!(lenient.validate(&ccr(&unknown)).is_ok());
    assert!(CreditControlRequest::decode(ccr(&unknown)).is_ok());
    let e = strict.validate(&ccr(&unknown)).unwrap_err();
    assert_eq!(e.result_code(), 5001);
    assert_eq!(e.failed_avp().unwrap().code, 99999);

    // Inside a Grouped AVP: the Failed-AVP is the Grouped one holding only the offender.
    let mut inner = BytesMut::new();
    put_avp(&mut inner, 432, 0x40, 0, &7u32.to_be_bytes());
    put_avp(&mut inner, 99999, 0x40, 0, b"x");
    let mut grouped = ok.clone();
    put_avp(&mut grouped, 456, 0x40, 0, &inner);
    let e = strict.validate(&ccr(&grouped)).unwrap_err();
    assert_eq!(e.result_code(), 5001);
    let f = e.failed_avp().unwrap();
    assert_eq!(f.code, 456);
    assert_eq!(&f.data[..4], &99999u32.to_be_bytes());
    assert_eq!(
        e.path().collect::<Vec<_>>(),
        ["Credit-Control-Request", "Multiple-Services-Credit-Control"]
    );

    // CC-Request-Type 9 is no value of the enumeration.
    let mut undefined = BytesMut::new();
    put_avp(&mut undefined, 416, 0x40, 0, &9u32.to_be_bytes());
    assert!(lenient.validate(&ccr(&undefined)).is_ok());
    let e = strict.validate(&ccr(&undefined)).unwrap_err();
    assert_eq!(e.result_code(), 5004);
    assert_eq!(e.failed_avp().unwrap().code, 416);
    assert_eq!(&e.failed_avp().unwrap().data[..], &9u32.to_be_bytes());
}

#[test]
fn unknown_commands_and_inherited_ones() {
    let dict = Dictionary::from_model(&model());
    let mut b = BytesMut::from(&ccr(&[])[..]);
    b[5..8].copy_from_slice(&[0, 3, 0xe7]); // command 999
    let e = dict.validate(&b.freeze()).unwrap_err();
    assert_eq!(e.result_code(), 3001);
    // STR (275) is the base protocol's, sent with the application's id.
    assert_eq!(dict.command(4, 275).unwrap().name, "Session-Termination");
    assert!(dict.command(4, 271).is_none());
    assert_eq!(dict.command(3, 271).unwrap().name, "Accounting");
}
