//! Any bytes through every decoder: typed (CCR, CCA, CER, answer-message) and dynamic. None may
//! panic; whatever decodes must encode back to bytes that decode to the same value.
#![no_main]

use bytes::Bytes;
use diameter_dictionaries::credit_control::{CreditControlAnswer, CreditControlRequest};
use diameter_runtime::base::{AnswerMessage, CapabilitiesExchangeRequest};
use diameter_runtime::{dynamic, Message};
use libfuzzer_sys::fuzz_target;

fn round_trip<T: Message + PartialEq + std::fmt::Debug>(b: &Bytes) {
    if let Ok((h, m)) = T::decode(b.clone()) {
        let mut out = bytes::BytesMut::new();
        m.encode_with_header(&h, &mut out);
        let (_, again) = T::decode(out.freeze()).expect("our encoding decodes");
        assert_eq!(again, m);
    }
}

fuzz_target!(|data: &[u8]| {
    let b = Bytes::copy_from_slice(data);
    round_trip::<CreditControlRequest>(&b);
    round_trip::<CreditControlAnswer>(&b);
    round_trip::<CapabilitiesExchangeRequest>(&b);
    round_trip::<AnswerMessage>(&b);
    if let Ok(m) = dynamic::Message::decode_with(b.clone(), &|_c: u32, _v: u32| true) {
        // Opening every AVP as Grouped is lossless too.
        assert_eq!(m.encode(), b);
    }
});
