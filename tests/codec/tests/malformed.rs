//! A corpus of malformed messages, each mapped to its RFC 6733 result code and Failed-AVP.

use bytes::{BufMut, Bytes, BytesMut};
use codec_tests::ccr_260;
use diameter_dictionaries::credit_control::{CreditControlRequest, SubscriptionIdType};
use diameter_runtime::codec::avp::AvpFlags;
use diameter_runtime::dynamic;
use diameter_runtime::{Message, RawAvp};

/// Re-encodes a CCR after editing its dynamic form.
fn edit(f: impl FnOnce(&mut dynamic::Message)) -> Bytes {
    let mut m = dynamic::Message::decode(ccr_260()).unwrap();
    f(&mut m);
    m.encode()
}

fn decode(b: Bytes) -> diameter_runtime::DecodeError {
    CreditControlRequest::decode(b).expect_err("must not decode")
}

fn raw(code: u32, flags: AvpFlags, data: &[u8]) -> dynamic::Avp {
    dynamic::Avp::from_raw(RawAvp::new(code, flags, 0, Bytes::copy_from_slice(data)))
}

const M: AvpFlags = AvpFlags::MANDATORY;

#[test]
fn valid_ccr_decodes_and_reencodes_byte_exact() {
    let (h, ccr) = CreditControlRequest::decode(ccr_260()).unwrap();
    assert_eq!(h.command_code, 272);
    assert_eq!(ccr.session_id, "rs-bench.client.lab;1732275200;42;7");
    assert_eq!(
        ccr.subscription_id[0].subscription_id_type,
        SubscriptionIdType::EndUserE164
    );
    assert_eq!(
        ccr.multiple_services_credit_control[0].rating_group,
        Some(100)
    );
    let again = ccr.encode(h.hop_by_hop, h.end_to_end);
    assert_eq!(again, ccr_260());
}

#[test]
fn version_5011() {
    let mut b = BytesMut::from(&ccr_260()[..]);
    b[0] = 2;
    assert_eq!(decode(b.freeze()).result_code(), 5011);
}

#[test]
fn length_field_mismatch_5015() {
    let mut b = BytesMut::from(&ccr_260()[..]);
    b[3] = b[3].wrapping_add(4);
    assert_eq!(decode(b.freeze()).result_code(), 5015);
    let short = ccr_260().slice(..10);
    assert_eq!(decode(short).result_code(), 5015);
}

#[test]
fn length_not_multiple_of_four_5015() {
    let mut b = BytesMut::from(&ccr_260()[..]);
    b.put_u8(0);
    b[3] = b[3].wrapping_add(1);
    assert_eq!(decode(b.freeze()).result_code(), 5015);
}

#[test]
fn reserved_header_bits_3008() {
    let mut b = BytesMut::from(&ccr_260()[..]);
    b[4] |= 0x01;
    let e = decode(b.freeze());
    assert_eq!(e.result_code(), 3008);
    assert!(e.is_protocol_error());
}

#[test]
fn error_bit_on_request_3008() {
    let mut b = BytesMut::from(&ccr_260()[..]);
    b[4] |= 0x20;
    assert_eq!(decode(b.freeze()).result_code(), 3008);
}

#[test]
fn wrong_command_3001() {
    let mut b = BytesMut::from(&ccr_260()[..]);
    b[7] = 0x11; // 273
    assert_eq!(decode(b.freeze()).result_code(), 3001);
}

#[test]
fn avp_length_too_short_5014() {
    // First AVP (Session-Id) length set to 4: shorter than its own header.
    let mut b = BytesMut::from(&ccr_260()[..]);
    b[20 + 5..20 + 8].copy_from_slice(&[0, 0, 4]);
    let e = decode(b.freeze());
    assert_eq!(e.result_code(), 5014);
    assert_eq!(e.failed_avp().unwrap().code, 263);
}

#[test]
fn avp_length_overruns_message_5014() {
    let mut b = BytesMut::from(&ccr_260()[..]);
    b[20 + 5..20 + 8].copy_from_slice(&[0, 0x10, 0]);
    let e = decode(b.freeze());
    assert_eq!(e.result_code(), 5014);
    assert_eq!(e.failed_avp().unwrap().code, 263);
}

#[test]
fn reserved_avp_bits_3009() {
    let mut b = BytesMut::from(&ccr_260()[..]);
    b[20 + 4] |= 0x01;
    let e = decode(b.freeze());
    assert_eq!(e.result_code(), 3009);
    assert_eq!(e.failed_avp().unwrap().code, 263);
}

#[test]
fn unsigned32_wrong_size_5014() {
    let bytes = edit(|m| {
        let a = m.avps.iter_mut().find(|a| a.code == 415).unwrap();
        a.value = dynamic::Value::Raw(Bytes::from_static(&[0, 0, 1]));
    });
    let e = decode(bytes);
    assert_eq!(e.result_code(), 5014);
    let f = e.failed_avp().unwrap();
    assert_eq!((f.code, &f.data[..]), (415, &[0u8, 0, 1][..]));
    assert_eq!(
        e.path().collect::<Vec<_>>(),
        ["Credit-Control-Request", "CC-Request-Number"]
    );
}

#[test]
fn invalid_utf8_5004() {
    let bytes = edit(|m| {
        m.avps[0].value = dynamic::Value::Raw(Bytes::from_static(b"abc\xff"));
    });
    let e = decode(bytes);
    assert_eq!(e.result_code(), 5004);
    assert_eq!(e.failed_avp().unwrap().code, 263);
}

#[test]
fn missing_required_5005_with_minimal_avp() {
    let bytes = edit(|m| m.avps.retain(|a| a.code != 415));
    let e = decode(bytes);
    assert_eq!(e.result_code(), 5005);
    let f = e.failed_avp().unwrap();
    assert_eq!(f.code, 415);
    assert_eq!(
        &f.data[..],
        &[0, 0, 0, 0],
        "zero-filled, minimum length of Unsigned32"
    );
}

#[test]
fn occurs_too_many_times_5009_with_second_copy() {
    let bytes = edit(|m| {
        let extra = raw(263, M, b"second-session");
        m.avps.push(extra);
    });
    let e = decode(bytes);
    assert_eq!(e.result_code(), 5009);
    assert_eq!(&e.failed_avp().unwrap().data[..], b"second-session");
}

#[test]
fn unknown_mandatory_avp_inside_grouped_5001_wrapped() {
    // Subscription-Id has no *[ AVP ]: an unknown M-bit AVP inside it is refused, and the
    // Failed-AVP is the Subscription-Id holding only the offending AVP.
    let bytes = edit(|m| {
        let sub = m.avps.iter_mut().find(|a| a.code == 443).unwrap();
        let mut children = dynamic::Message::decode_with(ccr_260(), &|c: u32, _v: u32| c == 443)
            .unwrap()
            .find(443, 0)
            .unwrap()
            .children()
            .to_vec();
        children.push(raw(9999, M, &[1, 2, 3, 4]));
        *sub = dynamic::Avp::grouped(443, M, 0, children);
    });
    let e = decode(bytes);
    assert_eq!(e.result_code(), 5001);
    let f = e.failed_avp().unwrap();
    assert_eq!(f.code, 443);
    let inner = dynamic::Message::decode(
        // Wrap the Failed-AVP data in a fake header to walk it with the dynamic reader.
        {
            let mut b = BytesMut::new();
            diameter_runtime::Header::new(Default::default(), 1, 0, 0, 0).write(&mut b);
            b.extend_from_slice(&f.data);
            let len = b.len() as u32;
            b[1..4].copy_from_slice(&len.to_be_bytes()[1..]);
            b.freeze()
        },
    )
    .unwrap();
    assert_eq!(inner.avps.len(), 1);
    assert_eq!(inner.avps[0].code, 9999);
}

#[test]
fn unknown_non_mandatory_avp_in_grouped_is_ignored() {
    let bytes = edit(|m| {
        let sub = m.avps.iter_mut().find(|a| a.code == 443).unwrap();
        let mut data = BytesMut::from(&sub.data()[..]);
        raw(9999, AvpFlags::NONE, &[1, 2, 3, 4]).encode(&mut data);
        sub.value = dynamic::Value::Raw(data.freeze());
    });
    assert!(CreditControlRequest::decode(bytes).is_ok());
}

#[test]
fn missing_avp_inside_grouped_5005_has_a_path() {
    let bytes = edit(|m| {
        let sub = m.avps.iter_mut().find(|a| a.code == 443).unwrap();
        // Keep only Subscription-Id-Type (450).
        let d = sub.data();
        sub.value = dynamic::Value::Raw(d.slice(..12));
    });
    let e = decode(bytes);
    assert_eq!(e.result_code(), 5005);
    assert_eq!(
        e.path().collect::<Vec<_>>(),
        [
            "Credit-Control-Request",
            "Subscription-Id",
            "Subscription-Id-Data"
        ]
    );
    let f = e.failed_avp().unwrap();
    assert_eq!(f.code, 443, "Failed-AVP is the outer Grouped AVP");
    assert_eq!(
        &f.data[..4],
        &444u32.to_be_bytes(),
        "holding the missing inner AVP"
    );
    assert!(
        e.to_string()
            .contains("Subscription-Id > Subscription-Id-Data"),
        "{e}"
    );
}

#[test]
fn nested_three_levels_path() {
    // Multiple-Services-Credit-Control > Requested-Service-Unit > CC-Total-Octets with 3 bytes.
    let lookup = |c: u32, _v: u32| matches!(c, 456 | 437);
    let mut m = dynamic::Message::decode_with(ccr_260(), &lookup).unwrap();
    let mscc = m.avps.iter_mut().find(|a| a.code == 456).unwrap();
    let dynamic::Value::Grouped(children) = &mut mscc.value else {
        panic!()
    };
    let rsu = children.iter_mut().find(|a| a.code == 437).unwrap();
    let dynamic::Value::Grouped(units) = &mut rsu.value else {
        panic!()
    };
    units[0].value = dynamic::Value::Raw(Bytes::from_static(&[1, 2, 3]));
    let e = decode(m.encode());
    assert_eq!(e.result_code(), 5014);
    assert_eq!(
        e.path().collect::<Vec<_>>(),
        [
            "Credit-Control-Request",
            "Multiple-Services-Credit-Control",
            "Requested-Service-Unit",
            "CC-Total-Octets"
        ]
    );
    assert_eq!(e.failed_avp().unwrap().code, 456);
}

#[test]
fn bad_address_length_5014() {
    use diameter_runtime::base::CapabilitiesExchangeRequest;
    let cer = diameter_runtime::dynamic::Message {
        header: diameter_runtime::Header::new(
            diameter_runtime::CommandFlags::REQUEST,
            257,
            0,
            1,
            1,
        ),
        avps: vec![
            raw(264, M, b"a.example"),
            raw(296, M, b"example"),
            raw(257, M, &[0, 1, 127, 0, 0]), // IPv4 with 3 address bytes
            raw(266, M, &[0, 0, 0, 0]),
            raw(269, AvpFlags::NONE, b"p"),
        ],
    };
    let e = CapabilitiesExchangeRequest::decode(cer.encode()).unwrap_err();
    assert_eq!(e.result_code(), 5014);
    assert_eq!(e.failed_avp().unwrap().code, 257);
}

#[test]
fn forbidden_avp_5008() {
    #[derive(Debug, PartialEq, diameter_runtime::Grouped)]
    #[diameter(forbid(avp = 268, name = "Result-Code"))]
    struct NoResult {
        #[diameter(avp = 263, must, name = "Session-Id")]
        session_id: diameter_runtime::Utf8String,
    }
    let mut body = BytesMut::new();
    raw(263, M, b"s").encode(&mut body);
    raw(268, M, &2001u32.to_be_bytes()).encode(&mut body);
    let e = <NoResult as diameter_runtime::AvpSet>::decode_avps(&body.freeze()).unwrap_err();
    assert_eq!(e.result_code(), 5008);
    assert_eq!(e.failed_avp().unwrap().code, 268);
}

#[test]
fn grouped_nesting_depth_is_bounded() {
    // 40 levels of a self-nested AVP: the dynamic decoder stops at its depth limit.
    let mut avp = raw(1, M, &[0, 0, 0, 1]);
    for _ in 0..40 {
        avp = dynamic::Avp::grouped(7, M, 0, vec![avp]);
    }
    let m = dynamic::Message {
        header: diameter_runtime::Header::new(Default::default(), 1, 0, 0, 0),
        avps: vec![avp],
    };
    let e = dynamic::Message::decode_with(m.encode(), &|c: u32, _v: u32| c == 7).unwrap_err();
    assert_eq!(e.result_code(), 5004);
}

#[test]
fn frame_length_limits() {
    use diameter_runtime::codec::message::DEFAULT_MAX_MESSAGE_LEN as MAX;
    use diameter_runtime::Header;
    assert_eq!(
        Header::frame_length(&[1, 0], MAX).unwrap(),
        None,
        "too few bytes yet"
    );
    assert_eq!(
        Header::frame_length(&ccr_260()[..4], MAX).unwrap(),
        Some(260)
    );
    // 2 MiB announced: refused before the body is read.
    let e = Header::frame_length(&[1, 0x20, 0, 0], MAX).unwrap_err();
    assert_eq!(e.result_code(), 5015);
    assert_eq!(
        Header::frame_length(&[1, 0, 0, 19], MAX)
            .unwrap_err()
            .result_code(),
        5015
    );
    assert_eq!(
        Header::frame_length(&[1, 0, 0, 22], MAX)
            .unwrap_err()
            .result_code(),
        5015
    );
    assert_eq!(
        Header::frame_length(&[2, 0, 0, 20], MAX)
            .unwrap_err()
            .result_code(),
        5011
    );
    // A smaller limit is honoured.
    assert_eq!(
        Header::frame_length(&ccr_260()[..4], 256)
            .unwrap_err()
            .result_code(),
        5015
    );
}
