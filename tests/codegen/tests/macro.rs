//! `diameter_derive::dictionary!` generates types in place from a dictionary file.

diameter_derive::dictionary!("dict/vendor.xml");

use diameter_runtime::{Message, Utf8String};
use example_app::{Color, ExampleRequest, Quota};

#[test]
fn macro_generated_types_round_trip() {
    let req = ExampleRequest {
        session_id: Utf8String::from("a;1"),
        origin_host: "a.example".into(),
        origin_realm: "example".into(),
        destination_realm: "example".into(),
        quota: vec![Quota {
            service: "video".into(),
            amount: Some(1 << 30),
        }],
        color: Some(Color::Green),
        avps: vec![],
    };
    let bytes = req.encode(1, 2);
    // The vendor AVPs carry the application's default vendor and the V flag.
    let d = diameter_runtime::dynamic::Message::decode(bytes.clone()).unwrap();
    let quota = d.find(1, 99999).expect("Quota with vendor 99999");
    assert!(quota.flags.is_vendor() && quota.flags.is_mandatory());
    let (_, back) = ExampleRequest::decode(bytes).unwrap();
    assert_eq!(back, req);
    assert_eq!(ExampleRequest::COMMAND_CODE, 8388999);
    assert_eq!(example_app::APPLICATION_ID, 16777999);
    assert_eq!(
        example_app::avp::QUOTA,
        diameter_runtime::AvpCode::vendor(1, 99999)
    );
    assert_eq!(example_app::command::EXAMPLE, 8388999);
}
