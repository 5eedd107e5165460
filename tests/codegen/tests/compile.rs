//! The golden generated code compiles (included here) and behaves: a typed round trip through
//! types generated from the go-diameter reference set.

#[allow(dead_code)]
mod go_diameter {
    include!("../golden/go_diameter.rs");
}

use diameter_runtime::{Message, Utf8String};

#[test]
fn go_diameter_generated_s6a_round_trip() {
    use go_diameter::tgpp_s6a::*;
    let req = PurgeUeRequest {
        session_id: Utf8String::from("mme.example;1;2"),
        drmp: None,
        vendor_specific_application_id: None,
        auth_session_state: go_diameter::base::AuthSessionState::NoStateMaintained,
        origin_host: "mme.example".into(),
        origin_realm: "example".into(),
        destination_host: None,
        destination_realm: "hss.example".into(),
        user_name: Utf8String::from("001010123456789"),
        oc_supported_features: None,
        pur_flags: Some(1),
        supported_features: vec![],
        proxy_info: vec![],
        route_record: vec![],
    };
    let bytes = req.encode(1, 2);
    let (h, back) = PurgeUeRequest::decode(bytes).unwrap();
    assert_eq!(h.command_code, 321);
    assert_eq!(h.application_id, 16777251);
    assert_eq!(back, req);
}

/// S6a puts `*[ AVP ]` before `*[ Proxy-Info ] *[ Route-Record ]`: extension AVPs are
/// encoded there, so a message in grammar order re-encodes byte for byte. A fixed place
/// (`< Session-Id >`) is checked: elsewhere it is 5005 with the AVP as the Failed-AVP.
#[test]
fn extension_avps_keep_their_grammar_position() {
    use diameter_runtime::{AvpFlags, RawAvp};
    use go_diameter::tgpp_s6a::*;
    let ext = |code: u32| RawAvp::new(code, AvpFlags::VENDOR, 10415, vec![1, 2, 3, 4, 5]);
    let ulr = UpdateLocationRequest {
        session_id: "mme.example;1;2".into(),
        origin_host: "mme.example".into(),
        origin_realm: "example".into(),
        destination_realm: "hss.example".into(),
        user_name: "001010123456789".into(),
        ulr_flags: 34,
        visited_plmn_id: vec![0x00, 0xf1, 0x10].into(),
        avps: vec![ext(64000), ext(64001)],
        proxy_info: vec![go_diameter::base::ProxyInfo {
            proxy_host: "dra.example".into(),
            proxy_state: vec![9, 9].into(),
        }],
        route_record: vec!["dra.example".into()],
        ..Default::default()
    };
    let bytes = ulr.encode(7, 8);
    let order: Vec<u32> = diameter_runtime::codec::AvpReader::within(&bytes, 20, bytes.len())
        .map(|a| a.unwrap().code)
        .collect();
    let at = |code: u32| order.iter().position(|c| *c == code).unwrap();
    assert!(
        at(64000) < at(64001) && at(64001) < at(284) && at(284) < at(282),
        "{order:?}"
    );
    let (_, back) = UpdateLocationRequest::decode(bytes.clone()).unwrap();
    assert_eq!(back, ulr);
    assert_eq!(back.encode(7, 8), bytes, "re-encoded byte for byte");

    // Base accounting has `< Session-Id >`: moved after the AVP that follows it, it is
    // refused with 5005 naming it.
    let acr = diameter_runtime::base::AccountingRequest {
        session_id: "pcef.example;1;2".into(),
        origin_host: "pcef.example".into(),
        origin_realm: "example".into(),
        destination_realm: "example".into(),
        accounting_record_number: 1,
        ..Default::default()
    };
    let bytes = acr.encode(1, 2);
    let mut avps: Vec<RawAvp> = diameter_runtime::codec::AvpReader::within(&bytes, 20, bytes.len())
        .map(|a| a.unwrap().to_raw(&bytes))
        .collect();
    avps.swap(0, 1);
    let mut moved = bytes[..20].to_vec();
    let mut body = diameter_runtime::bytes::BytesMut::new();
    for a in &avps {
        a.encode(&mut body);
    }
    moved.extend_from_slice(&body);
    let (_, back) = diameter_runtime::base::AccountingRequest::decode(bytes).unwrap();
    assert_eq!(back, acr);
    let err = diameter_runtime::base::AccountingRequest::decode(moved.into()).unwrap_err();
    assert_eq!(err.result_code(), 5005, "{err}");
    assert_eq!(err.failed_avp().map(|a| a.code), Some(263));
}

#[test]
fn trybuild() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
