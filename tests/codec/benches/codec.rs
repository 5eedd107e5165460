//! Typed encode/decode of the shared 260-byte CCR and of a CCA, side by side with the
//! `diameter` crate (0.7.x) on the same bytes, so the figures are a ratio from one run.
//!
//! cargo bench -p codec-tests --bench codec

use std::hint::black_box;
use std::io::Cursor;
use std::sync::Arc;

use codec_tests::ccr_260;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use diameter_dictionaries::credit_control::{
    CcRequestType, CreditControlAnswer, CreditControlRequest, GrantedServiceUnit,
    MultipleServicesCreditControl, RequestedServiceUnit, SubscriptionId, SubscriptionIdType,
};
use diameter_runtime::app::FromRequest;
use diameter_runtime::base::ResultCode;
use diameter_runtime::Message;

/// Builds the benchmark CCR from typed values (the same bytes as `ccr-260.hex`), as a user
/// writes it: what matters, then `..Default::default()`.
fn build_ccr() -> CreditControlRequest {
    CreditControlRequest {
        session_id: "rs-bench.client.lab;1732275200;42;7".into(),
        origin_host: "rs-bench.client.lab".into(),
        origin_realm: "lab".into(),
        destination_realm: "lab".into(),
        auth_application_id: 4,
        service_context_id: "32251@3gpp.org".into(),
        cc_request_type: CcRequestType::InitialRequest,
        cc_request_number: 0,
        subscription_id: vec![SubscriptionId {
            subscription_id_type: SubscriptionIdType::EndUserE164,
            subscription_id_data: "491711234567".into(),
        }],
        multiple_services_credit_control: vec![MultipleServicesCreditControl {
            requested_service_unit: Some(RequestedServiceUnit {
                cc_total_octets: Some(1_048_576),
                ..Default::default()
            }),
            rating_group: Some(100),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn build_cca(ccr: &CreditControlRequest) -> CreditControlAnswer {
    let mut cca: CreditControlAnswer =
        FromRequest::from_request(ccr, &"ocs.lab".into(), &"lab".into());
    cca.multiple_services_credit_control = vec![MultipleServicesCreditControl {
        granted_service_unit: Some(GrantedServiceUnit {
            cc_time: Some(3600),
            cc_total_octets: Some(1_048_576),
            ..Default::default()
        }),
        rating_group: Some(100),
        validity_time: Some(600),
        result_code: Some(ResultCode::DIAMETER_SUCCESS),
        ..Default::default()
    }];
    cca
}

fn codec(c: &mut Criterion) {
    let wire = ccr_260();
    let built = build_ccr();
    assert_eq!(
        built.encode(0x7a3c0001, 0x5f1e0001),
        wire,
        "typed build matches the shared bytes"
    );
    let cca = build_cca(&built);
    let cca_wire = cca.encode(0x7a3c0001, 0x5f1e0001);

    let dict = Arc::new(diameter::dictionary::Dictionary::new(&[
        &diameter::dictionary::DEFAULT_DICT_XML,
    ]));
    let theirs = diameter::DiameterMessage::decode_from(&mut Cursor::new(&wire[..]), dict.clone())
        .expect("the diameter crate decodes the CCR");
    let mut check = Vec::new();
    theirs.encode_to(&mut check).unwrap();
    assert_eq!(
        &check[..],
        &wire[..],
        "the diameter crate re-encodes the same bytes"
    );

    let mut g = c.benchmark_group("ccr-260");
    g.throughput(Throughput::Elements(1));
    // Decoded values are looked at through a reference and dropped inside the closure:
    // criterion's own `black_box` of a returned value is a volatile copy, which would bill
    // the ~1 KB typed struct ~100 ns for the harness and the other crate's small handle none.
    g.bench_function("ours/decode", |b| {
        b.iter(|| {
            let m = CreditControlRequest::decode_from(black_box(&wire)).unwrap();
            black_box(&m);
        })
    });
    g.bench_function("ours/decode-in-place", |b| {
        let mut m = CreditControlRequest::default();
        b.iter(|| {
            m.decode_in_place(black_box(&wire)).unwrap();
            black_box(&m);
        })
    });
    // Run-time validation of the same bytes against every bundled dictionary, strict, as
    // `diameter serve` does before answering.
    let sources = diameter_codegen::model::Source::embedded(diameter_dictionaries::SOURCES);
    let model = diameter_codegen::model::load(&sources, Default::default()).unwrap();
    let runtime = diameter_runtime::dictionary::Dictionary::from_model(&model)
        .with_strictness(diameter_runtime::dictionary::Strictness::STRICT);
    g.bench_function("ours/validate-runtime", |b| {
        b.iter(|| {
            runtime
                .validate(black_box(&wire))
                .map(|v| v.header.length)
                .unwrap()
        })
    });
    g.bench_function("diameter-0.7/decode", |b| {
        b.iter(|| {
            let m = diameter::DiameterMessage::decode_from(
                &mut Cursor::new(black_box(&wire[..])),
                Arc::clone(&dict),
            )
            .unwrap();
            black_box(&m);
        })
    });
    g.bench_function("ours/encode", |b| b.iter(|| black_box(&built).encode(1, 2)));
    g.bench_function("ours/encode-reused-buffer", |b| {
        let header = built.header(1, 2);
        let mut out = diameter_runtime::bytes::BytesMut::with_capacity(512);
        b.iter(|| {
            out.clear();
            black_box(&built).encode_with_header(&header, &mut out);
            out.len()
        })
    });
    g.bench_function("diameter-0.7/encode-reused-buffer", |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            out.clear();
            black_box(&theirs).encode_to(&mut out).unwrap();
            out.len()
        })
    });
    g.bench_function("ours/build+encode", |b| {
        b.iter(|| build_ccr().encode(black_box(1), 2))
    });
    g.bench_function("diameter-0.7/build+encode", |b| {
        b.iter(|| {
            let m = their_ccr(&dict);
            let mut out = Vec::with_capacity(512);
            m.encode_to(&mut out).unwrap();
            out
        })
    });
    g.finish();

    let mut g = c.benchmark_group("cca");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ours/decode", |b| {
        b.iter(|| {
            let m = CreditControlAnswer::decode_from(black_box(&cca_wire)).unwrap();
            black_box(&m);
        })
    });
    g.bench_function("diameter-0.7/decode", |b| {
        b.iter(|| {
            let m = diameter::DiameterMessage::decode_from(
                &mut Cursor::new(black_box(&cca_wire[..])),
                Arc::clone(&dict),
            )
            .unwrap();
            black_box(&m);
        })
    });
    g.bench_function("ours/encode", |b| b.iter(|| black_box(&cca).encode(1, 2)));
    g.finish();
}

/// The same CCR built with the `diameter` crate's API.
fn their_ccr(dict: &Arc<diameter::dictionary::Dictionary>) -> diameter::DiameterMessage {
    use diameter::avp::flags::M;
    use diameter::avp::{Enumerated, Grouped, Identity, UTF8String, Unsigned32, Unsigned64};
    let mut m = diameter::DiameterMessage::new(
        diameter::CommandCode::CreditControl,
        diameter::ApplicationId::CreditControl,
        diameter::flags::REQUEST | diameter::flags::PROXYABLE,
        0x7a3c0001,
        0x5f1e0001,
        Arc::clone(dict),
    );
    m.add_avp(
        263,
        None,
        M,
        UTF8String::new("rs-bench.client.lab;1732275200;42;7").into(),
    );
    m.add_avp(264, None, M, Identity::new("rs-bench.client.lab").into());
    m.add_avp(296, None, M, Identity::new("lab").into());
    m.add_avp(283, None, M, Identity::new("lab").into());
    m.add_avp(258, None, M, Unsigned32::new(4).into());
    m.add_avp(461, None, M, UTF8String::new("32251@3gpp.org").into());
    m.add_avp(416, None, M, Enumerated::new(1).into());
    m.add_avp(415, None, M, Unsigned32::new(0).into());
    let mut sub = Grouped::new(vec![], Arc::clone(dict));
    sub.add_avp(450, None, M, Enumerated::new(0).into());
    sub.add_avp(444, None, M, UTF8String::new("491711234567").into());
    m.add_avp(443, None, M, sub.into());
    let mut rsu = Grouped::new(vec![], Arc::clone(dict));
    rsu.add_avp(421, None, M, Unsigned64::new(1_048_576).into());
    let mut mscc = Grouped::new(vec![], Arc::clone(dict));
    mscc.add_avp(437, None, M, rsu.into());
    mscc.add_avp(432, None, M, Unsigned32::new(100).into());
    m.add_avp(456, None, M, mscc.into());
    m
}

criterion_group!(benches, codec);
criterion_main!(benches);
