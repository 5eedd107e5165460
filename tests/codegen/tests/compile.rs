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

#[test]
fn trybuild() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
