//! Property tests: typed and dynamic round trips are identity, unknown AVPs survive
//! byte-exact, and no input makes a decoder panic.

use bytes::{Bytes, BytesMut};
use codec_tests::ccr_260;
use diameter_dictionaries::credit_control::{
    CcRequestType, CreditControlAnswer, CreditControlRequest, MultipleServicesCreditControl,
    RequestedServiceUnit, SubscriptionId, SubscriptionIdType,
};
use diameter_runtime::codec::avp::AvpFlags;
use diameter_runtime::{dynamic, Address, AvpSet, AvpValue, Message, RawAvp, Time, Utf8String};
use proptest::prelude::*;

fn base_ccr() -> CreditControlRequest {
    CreditControlRequest::decode(ccr_260()).unwrap().1
}

fn text() -> impl Strategy<Value = Utf8String> {
    "\\PC{0,40}".prop_map(Utf8String::from)
}

/// AVPs that no CCR grammar names (vendor 99999), with random flags but no reserved bits.
fn unknown_avp() -> impl Strategy<Value = RawAvp> {
    (
        1u32..5000,
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(code, protected, data)| {
            let flags = if protected {
                AvpFlags::PROTECTED
            } else {
                AvpFlags::NONE
            };
            RawAvp::new(code, flags, 99999, data)
        })
}

prop_compose! {
    fn ccr()(
        session in text(),
        number in any::<u32>(),
        kind in prop_oneof![Just(1), Just(2), Just(3), Just(4), any::<i32>()],
        subs in proptest::collection::vec((0i32..5, "[0-9]{5,15}"), 0..4),
        mscc in proptest::collection::vec((proptest::option::of(any::<u32>()), proptest::option::of(any::<u64>())), 0..4),
        extra in proptest::collection::vec(unknown_avp(), 0..4),
        ts in proptest::option::of(any::<u32>()),
        // Sometimes past the 8 KiB a message is written in before being copied out.
        correlation in proptest::option::of((0usize..12_000, any::<u8>())),
    ) -> CreditControlRequest {
        let mut c = base_ccr();
        c.session_id = session;
        c.cc_request_number = number;
        c.cc_request_type = CcRequestType::from(kind);
        c.event_timestamp = ts.map(Time);
        c.subscription_id = subs.into_iter().map(|(t, d)| SubscriptionId {
            subscription_id_type: SubscriptionIdType::from(t),
            subscription_id_data: d.into(),
        }).collect();
        c.multiple_services_credit_control = mscc.into_iter().map(|(rg, octets)| {
            let mut m = c.multiple_services_credit_control[0].clone();
            m.rating_group = rg;
            m.requested_service_unit = Some(RequestedServiceUnit {
                cc_total_octets: octets,
                ..m.requested_service_unit.clone().unwrap()
            });
            m
        }).collect::<Vec<MultipleServicesCreditControl>>();
        c.avps = extra;
        c.cc_correlation_id = correlation.map(|(n, b)| Bytes::from(vec![b; n]));
        c
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn typed_round_trip(c in ccr(), prev in ccr(), hbh in any::<u32>(), e2e in any::<u32>()) {
        let bytes = c.encode(hbh, e2e);
        prop_assert_eq!(bytes.len(), 20 + c.encoded_len());
        // Decoding in place over another message's value gives the same value.
        let mut reused = prev;
        let h = reused.decode_in_place(&bytes).unwrap();
        prop_assert_eq!((h.hop_by_hop, h.end_to_end), (hbh, e2e));
        prop_assert_eq!(&reused, &c);
        let (h, back) = CreditControlRequest::decode(bytes.clone()).unwrap();
        prop_assert_eq!((h.hop_by_hop, h.end_to_end), (hbh, e2e));
        prop_assert_eq!(&back, &c);
        // Unknown AVPs survive byte-exact, in order.
        prop_assert_eq!(&back.avps, &c.avps);
        // Encoding again gives the same bytes.
        prop_assert_eq!(back.encode(hbh, e2e), bytes.clone());
        // Appended after what a buffer holds, under a given header: the same bytes.
        let mut out = BytesMut::from(&b"held"[..]);
        c.encode_with_header(&h, &mut out);
        prop_assert_eq!(&out[4..], &bytes[..]);
        // The body alone, as a Grouped value's data is encoded.
        let mut body = BytesMut::new();
        c.encode_avps(&mut body);
        prop_assert_eq!(&body[..], &bytes[20..]);
    }

    #[test]
    fn dynamic_round_trip_is_lossless(c in ccr()) {
        let bytes = c.encode(1, 2);
        let lookup = |code: u32, v: u32| v == 0 && matches!(code, 443 | 456 | 437 | 446 | 413 | 445);
        let d = dynamic::Message::decode_with(bytes.clone(), &lookup).unwrap();
        prop_assert_eq!(d.encode(), bytes.clone());
        let raw = dynamic::Message::decode(bytes.clone()).unwrap();
        prop_assert_eq!(raw.encode(), bytes);
        // typed → dynamic → typed.
        let typed: CreditControlRequest = dynamic::Message::from_typed(&c, 1, 2).to_typed().unwrap();
        prop_assert_eq!(typed, c);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let b = Bytes::from(data);
        let _ = CreditControlRequest::decode(b.clone());
        let _ = CreditControlAnswer::decode(b.clone());
        let _ = diameter_runtime::base::CapabilitiesExchangeRequest::decode(b.clone());
        let _ = dynamic::Message::decode_with(b, &|_c: u32, _v: u32| true);
    }

    #[test]
    fn mutated_valid_messages_never_panic(pos in 0usize..260, val in any::<u8>(), cut in 0usize..300) {
        let mut b = BytesMut::from(&ccr_260()[..]);
        b[pos] = val;
        let b = b.freeze();
        let fresh = CreditControlRequest::decode(b.clone());
        // In place, over a value that held the valid message, the verdict is the same.
        let mut reused = base_ccr();
        match (&fresh, reused.decode_in_place(&b)) {
            (Ok((h, m)), Ok(h2)) => {
                prop_assert_eq!(h, &h2);
                prop_assert_eq!(m, &reused);
            }
            (Err(e), Err(e2)) => prop_assert!(*e == e2, "fresh {:?} in place {:?}", e, e2),
            (a, b) => prop_assert!(false, "fresh {:?} in place {:?}", a.is_ok(), b.is_ok()),
        }
        let _ = dynamic::Message::decode_with(b.clone(), &|_c: u32, _v: u32| true);
        let cut = b.slice(..cut.min(b.len()));
        let _ = CreditControlRequest::decode(cut);
    }

    #[test]
    fn address_round_trip(family in any::<u16>(), data in proptest::collection::vec(any::<u8>(), 0..20)) {
        let mut b = BytesMut::new();
        b.extend_from_slice(&family.to_be_bytes());
        b.extend_from_slice(&data);
        let b = b.freeze();
        if let Ok(a) = Address::decode_value(b.clone()) {
            let mut out = BytesMut::new();
            a.encode_value(&mut out);
            prop_assert_eq!(out.freeze(), b.clone());
            // A whole AVP written in place is the one appended, padding included, and needs
            // exactly its room.
            let mut avp = BytesMut::new();
            a.encode_avp(&mut avp, 257, AvpFlags::MANDATORY, 0);
            let mut room = vec![0xaa; avp.len() + 3];
            let rest = a.write_avp(&mut room, 257, AvpFlags::MANDATORY, 0).unwrap();
            prop_assert_eq!(rest.len(), 3);
            prop_assert_eq!(&room[..avp.len()], &avp[..]);
            prop_assert!(a.write_avp(&mut room[..avp.len() - 1], 257, AvpFlags::MANDATORY, 0).is_none());
        }
    }

    #[test]
    fn time_round_trip(unix in 0u64..(1u64 << 33)) {
        match Time::from_unix_seconds(unix) {
            Some(t) => prop_assert_eq!(t.unix_seconds(), unix),
            // After 2104-02-26.
            None => prop_assert!(unix >= 2_085_978_496 + (1 << 31)),
        }
    }
}

#[test]
fn padding_is_zeroed_when_reencoded() {
    // A sender that leaves garbage in its padding: every top-level AVP's padding set to 0xff.
    let wire = ccr_260();
    let mut dirty = wire.to_vec();
    let mut at = 20;
    let mut padded = 0;
    while at < dirty.len() {
        let len = u32::from_be_bytes([0, dirty[at + 5], dirty[at + 6], dirty[at + 7]]) as usize;
        let pad = (4 - len % 4) % 4;
        dirty[at + len..at + len + pad].fill(0xff);
        padded += usize::from(pad > 0);
        at += len + pad;
    }
    assert!(padded >= 3, "the message has padded texts");
    let (h, m) = CreditControlRequest::decode(Bytes::from(dirty)).unwrap();
    // Short texts keep the bytes after them in their inline buffer; encoding writes zeros.
    assert_eq!(m.encode(h.hop_by_hop, h.end_to_end), wire);
    let mut out = BytesMut::new();
    m.encode_with_header(&h, &mut out);
    assert_eq!(&out[..], &wire[..]);
}

#[test]
fn time_era_rollover() {
    // 2036-02-07 06:28:16 UTC is NTP 0 in era 1; one second before is 0xFFFFFFFF in era 0.
    let wrap = 2_085_978_496u64;
    assert_eq!(Time::from_unix_seconds(wrap), Some(Time(0)));
    assert_eq!(Time::from_unix_seconds(wrap - 1), Some(Time(u32::MAX)));
    assert_eq!(
        Time(0xC000_0000).unix_seconds(),
        0xC000_0000u64 - 2_208_988_800
    );
    // 2024-11-22 00:00:00 UTC.
    assert_eq!(
        Time::from_unix_seconds(1_732_233_600).unwrap().0,
        1_732_233_600 + 2_208_988_800
    );
}

#[test]
fn diameter_uri_defaults_and_parts() {
    use diameter_runtime::codec::types::{AaaProtocol, Transport};
    use diameter_runtime::DiameterUri;
    let u = DiameterUri::parse("aaa://host.example.com").unwrap();
    assert_eq!(
        (u.port, u.transport, u.protocol, u.secure),
        (3868, Transport::Tcp, AaaProtocol::Diameter, false)
    );
    let u = DiameterUri::parse("aaas://host.example.com;transport=sctp").unwrap();
    assert_eq!(
        (u.port, u.transport, u.secure),
        (5658, Transport::Sctp, true)
    );
    let u = DiameterUri::parse("aaa://[2001:db8::1]:1812;transport=udp;protocol=radius").unwrap();
    assert_eq!(
        (u.host.as_str(), u.port, u.protocol),
        ("2001:db8::1", 1812, AaaProtocol::Radius)
    );
    assert!(DiameterUri::parse("http://x").is_err());
    assert!(DiameterUri::parse("aaa://x:99999").is_err());
    assert!(DiameterUri::parse("aaa://x;transport=carrier-pigeon").is_err());
    let e = DiameterUri::decode_value(Bytes::from_static(b"aaa://")).unwrap_err();
    assert_eq!(e.result_code(), 5004);
}

#[test]
fn ip_filter_rule_parts() {
    let r =
        diameter_runtime::IpFilterRule::from("permit out 17 from 10.0.0.0/8 53 to assigned frag");
    let p = r.parse().unwrap();
    assert_eq!((p.action, p.direction, p.protocol), ("permit", "out", "17"));
    assert_eq!(p.source, ["10.0.0.0/8", "53"]);
    assert_eq!(p.destination, ["assigned"]);
    assert_eq!(p.options, ["frag"]);
    assert!(
        diameter_runtime::IpFilterRule::from("allow in ip from any to any")
            .parse()
            .is_err()
    );
}

#[test]
fn every_address_family() {
    for (bytes, want) in [
        (&[0u8, 1, 10, 0, 0, 1][..], "10.0.0.1"),
        (
            &[0, 2, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1][..],
            "2001:db8::1",
        ),
        (&[0, 8, b'4', b'6', b'7', b'0'][..], "E.164:4670"),
        (&[0, 6, 0xaa, 0xbb][..], "family 6:aabb"),
    ] {
        let a = Address::decode_value(Bytes::copy_from_slice(bytes)).unwrap();
        assert_eq!(format!("{a:?}"), want);
    }
    assert_eq!(
        Address::decode_value(Bytes::from_static(&[0, 8, b'x']))
            .unwrap_err()
            .result_code(),
        5004
    );
}

/// A hand-written value type (no `write_avp` of its own) whose data is a whole encoded CCR:
/// encoding it encodes a message while another is being written.
#[derive(Debug, Clone, PartialEq)]
struct Nested(CreditControlRequest);

impl AvpValue for Nested {
    fn decode_value(data: Bytes) -> Result<Self, diameter_runtime::DecodeError> {
        CreditControlRequest::decode(data).map(|(_, m)| Nested(m))
    }
    fn encode_value(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.0.encode(7, 8));
    }
    fn placeholder() -> Self {
        Nested(base_ccr())
    }
}

/// A message carrying [`Nested`] values.
#[derive(Debug, Clone, PartialEq, diameter_runtime::Message)]
#[diameter(command = 9999, request, application = 4, name = "Carrier")]
struct Carrier {
    #[diameter(avp = 263, must, name = "Session-Id")]
    session_id: Utf8String,
    #[diameter(avp = 5000, vendor = 99999, name = "Nested")]
    nested: Vec<Nested>,
}

#[test]
fn a_value_that_encodes_a_message_while_one_is_written() {
    let one = Nested(base_ccr());
    // A few (written in the scratch buffer), then enough to pass it (counted first).
    for n in [1, 2, 40] {
        let c = Carrier {
            session_id: "carrier".into(),
            nested: vec![one.clone(); n],
        };
        let b = c.encode(1, 2);
        assert_eq!(b.len(), 20 + c.encoded_len());
        assert_eq!(b.len() > 8 * 1024, n == 40);
        let (_, back) = Carrier::decode(b.clone()).unwrap();
        assert_eq!(back, c);
        let mut out = BytesMut::new();
        c.encode_with_header(&c.header(1, 2), &mut out);
        assert_eq!(out.freeze(), b);
    }
}

#[test]
fn texts_of_every_length_keep_their_bytes() {
    // Inline texts (up to 38 bytes) are copied in words and a tail; longer ones are shared.
    for n in 0..=45 {
        let s: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let t = Utf8String::from(s.as_str());
        assert_eq!(t.as_str(), s, "length {n}");
        let mut avp = BytesMut::new();
        t.encode_avp(&mut avp, 1, AvpFlags::MANDATORY, 0);
        assert_eq!(avp.len(), 8 + n + (4 - n % 4) % 4, "length {n}");
        assert_eq!(&avp[8..8 + n], s.as_bytes(), "length {n}");
        assert!(
            avp[8 + n..].iter().all(|&b| b == 0),
            "padding of length {n}"
        );
    }
}
