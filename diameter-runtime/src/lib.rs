//! Diameter (RFC 6733) for Rust: the runtime.
//!
//! - [`codec`]: a lossless codec on [`bytes`] — headers, AVPs, every RFC 6733 data type, typed
//!   messages (generated from dictionaries or derived by hand) and a dynamic message model.
//! - [`base`]: the RFC 6733 base protocol's types (CER/CEA, DWR/DWA, DPR/DPA, RAR/RAA, STR/STA,
//!   ASR/ASA, answer-message and every base AVP), generated from `dictionaries/base.xml`.
//! - [`dictionary`]: dictionaries at run time, validating messages with the verdicts of
//!   generated code (loading XML files with the `xml` feature).
//!
//! # Quick start
//!
//! ```
//! use diameter_runtime::base::{DeviceWatchdogRequest, DeviceWatchdogAnswer};
//! use diameter_runtime::{DiameterIdentity, Message};
//!
//! let dwr = DeviceWatchdogRequest {
//!     origin_host: DiameterIdentity::from("client.example.net"),
//!     origin_realm: DiameterIdentity::from("example.net"),
//!     origin_state_id: Some(7),
//!     avps: vec![],
//! };
//! let bytes = dwr.encode(0x1234, 0x5678);
//! let (header, back) = DeviceWatchdogRequest::decode(bytes).unwrap();
//! assert_eq!(header.hop_by_hop, 0x1234);
//! assert_eq!(back, dwr);
//! # let _ = std::marker::PhantomData::<DeviceWatchdogAnswer>;
//! ```
//!
//! Hand-written types use the same derives as generated ones:
//!
//! ```
//! use diameter_runtime::{Grouped, Message, Utf8String, RawAvp};
//!
//! #[derive(Debug, Clone, PartialEq, Grouped)]
//! struct Subscription {
//!     #[diameter(avp = 450, must, name = "Subscription-Id-Type")]
//!     kind: i32,
//!     #[diameter(avp = 444, must, name = "Subscription-Id-Data")]
//!     data: Utf8String,
//! }
//!
//! #[derive(Debug, Clone, PartialEq, Message)]
//! #[diameter(command = 8388700, request, application = 16777300, name = "Example-Request")]
//! struct ExampleRequest {
//!     #[diameter(avp = 263, must, first, name = "Session-Id")]
//!     session_id: Utf8String,
//!     #[diameter(avp = 443, must, name = "Subscription-Id")]
//!     subscriptions: Vec<Subscription>,
//!     #[diameter(extra)]
//!     avps: Vec<RawAvp>,
//! }
//!
//! let req = ExampleRequest {
//!     session_id: "s;1".into(),
//!     subscriptions: vec![Subscription { kind: 1, data: "001010123456789".into() }],
//!     avps: vec![],
//! };
//! let (_, back) = ExampleRequest::decode(req.encode(1, 2)).unwrap();
//! assert_eq!(back, req);
//! ```
#![deny(unsafe_code)]

extern crate self as diameter_runtime;

pub mod app;
pub mod base;
pub mod codec;
pub mod codegen;
pub mod dictionary;
#[cfg(feature = "node")]
pub mod node;
pub mod peer;

pub use bytes;
pub use codec::dynamic;
pub use codec::{
    Address, AvpCode, AvpFlags, AvpSet, AvpValue, CommandCode, CommandFlags, DecodeError,
    DiameterIdentity, DiameterUri, EnumValue, Grouped, Header, IpFilterRule, Message, OctetString,
    QosFilterRule, RawAvp, Time, Utf8String,
};
pub use diameter_derive::{Enumerated, Grouped, Message};

/// Includes the Rust that `diameter-build` generated for a dictionary file, by its file stem.
///
/// ```ignore
/// diameter_runtime::include_dictionary!("my_vendor"); // from dictionaries/my_vendor.xml
/// ```
#[macro_export]
macro_rules! include_dictionary {
    ($stem:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $stem, ".rs"));
    };
}
