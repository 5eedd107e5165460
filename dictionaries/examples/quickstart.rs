//! The stack end to end, with no external service: a Credit-Control-Request from the shared
//! benchmark bytes is decoded into generated types, answered with a typed
//! Credit-Control-Answer, and the answer is decoded again both typed and dynamically.
//! A malformed copy of the request shows the error answer the codec supports.
//!
//! cargo run --release -p diameter-dictionaries --example quickstart

use std::time::Instant;

use diameter_dictionaries::credit_control::{
    CcRequestType, CreditControlAnswer, CreditControlRequest, GrantedServiceUnit,
    MultipleServicesCreditControl,
};
use diameter_runtime::base::ResultCode;
use diameter_runtime::{dynamic, EnumValue, Message};

const CCR_HEX: &str = "01000104c0000110000000047a3c00015f1e0001000001074000002b72732d62656e63682e636c69656e742e6c61623b313733323237353230303b34323b3700000001084000001b72732d62656e63682e636c69656e742e6c616200000001284000000b6c6162000000011b4000000b6c616200000001024000000c00000004000001cd40000016333232353140336770702e6f72670000000001a04000000c000000010000019f4000000c00000000000001bb40000028000001c24000000c00000000000001bc40000014343931373131323334353637000001c84000002c000001b540000018000001a5400000100000000000100000000001b04000000c00000064";

fn unhex(s: &str) -> diameter_runtime::bytes::Bytes {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect::<Vec<u8>>()
        .into()
}

fn main() {
    let wire = unhex(CCR_HEX);
    let (header, ccr) = CreditControlRequest::decode(wire.clone()).expect("valid CCR");
    println!(
        "decoded {} ({} bytes, hop-by-hop {:#x})",
        <CreditControlRequest as Message>::NAME,
        wire.len(),
        header.hop_by_hop
    );
    println!("  Session-Id        {}", ccr.session_id);
    println!(
        "  CC-Request-Type   {:?} ({})",
        ccr.cc_request_type,
        ccr.cc_request_type.name().unwrap_or("?")
    );
    for s in &ccr.subscription_id {
        println!(
            "  Subscription-Id   {:?} {}",
            s.subscription_id_type, s.subscription_id_data
        );
    }
    for m in &ccr.multiple_services_credit_control {
        println!(
            "  MSCC              rating group {:?}, requested {:?} octets",
            m.rating_group,
            m.requested_service_unit
                .as_ref()
                .and_then(|u| u.cc_total_octets)
        );
    }

    let cca = CreditControlAnswer {
        session_id: ccr.session_id.clone(),
        result_code: ResultCode::DIAMETER_SUCCESS,
        origin_host: "ocs.example.net".into(),
        origin_realm: "example.net".into(),
        auth_application_id: 4,
        cc_request_type: CcRequestType::InitialRequest,
        cc_request_number: ccr.cc_request_number,
        multiple_services_credit_control: vec![MultipleServicesCreditControl {
            granted_service_unit: Some(GrantedServiceUnit {
                cc_total_octets: Some(1 << 20),
                ..empty_gsu()
            }),
            rating_group: Some(100),
            result_code: Some(ResultCode::DIAMETER_SUCCESS),
            ..ccr.multiple_services_credit_control[0].clone()
        }],
        ..empty_cca()
    };
    let mut out = diameter_runtime::bytes::BytesMut::new();
    cca.encode_with_header(&cca.header(header.hop_by_hop, header.end_to_end), &mut out);
    let answer = out.freeze();
    let (_, back) = CreditControlAnswer::decode(answer.clone()).expect("our own answer decodes");
    assert_eq!(back, cca);
    let dynamic = dynamic::Message::decode(answer.clone()).expect("dynamic view");
    println!(
        "answered with {} ({} bytes, {} top-level AVPs), Result-Code {:?}",
        <CreditControlAnswer as Message>::NAME,
        answer.len(),
        dynamic.avps.len(),
        back.result_code.name()
    );

    let mut broken = diameter_runtime::bytes::BytesMut::from(&wire[..]);
    broken[20 + 4] |= 0x01; // a reserved flag bit on the first AVP
    let err = CreditControlRequest::decode(broken.freeze()).unwrap_err();
    println!("a malformed copy is refused: {err}");

    let n = 1_000_000u32;
    let start = Instant::now();
    let mut sessions = 0usize;
    for _ in 0..n {
        let (_, m) = CreditControlRequest::decode(wire.clone()).expect("valid");
        sessions += m.session_id.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "decoded the CCR {n} times in {secs:.2}s: {:.2} million/s on one core ({sessions} bytes of Session-Id seen)",
        n as f64 / secs / 1e6
    );
}

fn empty_gsu() -> GrantedServiceUnit {
    GrantedServiceUnit {
        tariff_time_change: None,
        cc_time: None,
        cc_money: None,
        cc_total_octets: None,
        cc_input_octets: None,
        cc_output_octets: None,
        cc_service_specific_units: None,
        avps: vec![],
    }
}

fn empty_cca() -> CreditControlAnswer {
    CreditControlAnswer {
        session_id: Default::default(),
        result_code: ResultCode::DIAMETER_SUCCESS,
        origin_host: Default::default(),
        origin_realm: Default::default(),
        auth_application_id: 4,
        cc_request_type: CcRequestType::InitialRequest,
        cc_request_number: 0,
        user_name: None,
        cc_session_failover: None,
        cc_sub_session_id: None,
        acct_multi_session_id: None,
        origin_state_id: None,
        event_timestamp: None,
        granted_service_unit: None,
        multiple_services_credit_control: vec![],
        cost_information: None,
        final_unit_indication: None,
        qos_final_unit_indication: None,
        check_balance_result: None,
        credit_control_failure_handling: None,
        direct_debiting_failure_handling: None,
        validity_time: None,
        redirect_host: vec![],
        redirect_host_usage: None,
        redirect_max_cache_time: None,
        proxy_info: vec![],
        route_record: vec![],
        failed_avp: vec![],
        avps: vec![],
    }
}
