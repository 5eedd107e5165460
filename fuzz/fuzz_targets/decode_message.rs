//! Any bytes through every decoder: typed (CCR, CCA, CER, answer-message) and dynamic. None may
//! panic; decoding in place over an earlier value agrees with a fresh decode; whatever decodes
//! must encode back, to `encoded_len` bytes, that decode to the same value.
#![no_main]

use std::cell::RefCell;

use bytes::Bytes;
use diameter_dictionaries::credit_control::{CreditControlAnswer, CreditControlRequest};
use diameter_runtime::base::{AnswerMessage, CapabilitiesExchangeRequest};
use diameter_runtime::codec::HEADER_LEN;
use diameter_runtime::{dynamic, Message};
use libfuzzer_sys::fuzz_target;

/// `reused` holds whatever the previous input left in it: decoding in place over it must give
/// the verdict and value a fresh decode gives.
fn round_trip<T: Message + PartialEq + std::fmt::Debug>(b: &Bytes, reused: &mut T) {
    let fresh = T::decode(b.clone());
    let in_place = reused.decode_in_place(b);
    match (&fresh, &in_place) {
        (Ok((h, m)), Ok(h2)) => {
            assert_eq!(h, h2);
            assert_eq!(m, reused);
        }
        (Err(e), Err(e2)) => assert!(e == e2, "{e} / {e2}"),
        _ => panic!("fresh {:?}, in place {:?}", fresh.is_ok(), in_place.is_ok()),
    }
    if let Ok((h, m)) = fresh {
        let mut out = bytes::BytesMut::new();
        m.encode_with_header(&h, &mut out);
        assert_eq!(out.len(), HEADER_LEN + m.encoded_len());
        let (_, again) = T::decode(out.freeze()).expect("our encoding decodes");
        assert_eq!(again, m);
    }
}

thread_local! {
    static REUSED: RefCell<(CreditControlRequest, CreditControlAnswer, CapabilitiesExchangeRequest, AnswerMessage)> =
        RefCell::new(Default::default());
}

fuzz_target!(|data: &[u8]| {
    let b = Bytes::copy_from_slice(data);
    REUSED.with_borrow_mut(|(ccr, cca, cer, am)| {
        round_trip(&b, ccr);
        round_trip(&b, cca);
        round_trip(&b, cer);
        round_trip(&b, am);
    });
    if let Ok(m) = dynamic::Message::decode_with(b.clone(), &|_c: u32, _v: u32| true) {
        // Opening every AVP as Grouped is lossless too.
        assert_eq!(m.encode(), b);
    }
});
