//! The bundled Diameter dictionaries as typed Rust, one cargo feature per application.
//!
//! The base protocol (application 0), base accounting (3) and relay live in
//! `diameter_runtime::base`; this crate adds the others.
//!
//! ```
//! # #[cfg(feature = "credit-control")] {
//! use diameter_dictionaries::credit_control::{CcRequestType, CreditControlRequest};
//! use diameter_runtime::Message;
//! assert_eq!(CreditControlRequest::COMMAND_CODE, 272);
//! assert_eq!(CcRequestType::from(1), CcRequestType::InitialRequest);
//! # }
//! ```

#[cfg(feature = "credit-control")]
diameter_runtime::include_dictionary!("credit_control");
#[cfg(feature = "lib-ietf")]
diameter_runtime::include_dictionary!("ietf");
#[cfg(feature = "lib-etsi")]
diameter_runtime::include_dictionary!("etsi");
#[cfg(feature = "lib-3gpp2")]
diameter_runtime::include_dictionary!("3gpp2");
#[cfg(feature = "lib-3gpp")]
diameter_runtime::include_dictionary!("3gpp");
#[cfg(feature = "nasreq")]
diameter_runtime::include_dictionary!("nasreq");
#[cfg(feature = "mobile-ipv4")]
diameter_runtime::include_dictionary!("mobile_ipv4");
#[cfg(feature = "eap")]
diameter_runtime::include_dictionary!("eap");
#[cfg(feature = "sip")]
diameter_runtime::include_dictionary!("sip");
#[cfg(feature = "mip6i")]
diameter_runtime::include_dictionary!("mip6i");
#[cfg(feature = "mip6a")]
diameter_runtime::include_dictionary!("mip6a");
#[cfg(feature = "cx")]
diameter_runtime::include_dictionary!("cx");
#[cfg(feature = "sh")]
diameter_runtime::include_dictionary!("sh");
#[cfg(feature = "gx")]
diameter_runtime::include_dictionary!("gx");
#[cfg(feature = "rx")]
diameter_runtime::include_dictionary!("rx");
#[cfg(feature = "sta")]
diameter_runtime::include_dictionary!("sta");
#[cfg(feature = "s6a")]
diameter_runtime::include_dictionary!("s6a");
#[cfg(feature = "s13")]
diameter_runtime::include_dictionary!("s13");
#[cfg(feature = "slg")]
diameter_runtime::include_dictionary!("slg");
#[cfg(feature = "swm")]
diameter_runtime::include_dictionary!("swm");
#[cfg(feature = "swx")]
diameter_runtime::include_dictionary!("swx");
#[cfg(feature = "gxx")]
diameter_runtime::include_dictionary!("gxx");
#[cfg(feature = "s9")]
diameter_runtime::include_dictionary!("s9");
#[cfg(feature = "s6b")]
diameter_runtime::include_dictionary!("s6b");
#[cfg(feature = "slh")]
diameter_runtime::include_dictionary!("slh");
#[cfg(feature = "s7a")]
diameter_runtime::include_dictionary!("s7a");
#[cfg(feature = "s6c")]
diameter_runtime::include_dictionary!("s6c");
#[cfg(feature = "sgd")]
diameter_runtime::include_dictionary!("sgd");
#[cfg(feature = "sd")]
diameter_runtime::include_dictionary!("sd");
#[cfg(feature = "st")]
diameter_runtime::include_dictionary!("st");
#[cfg(feature = "s15")]
diameter_runtime::include_dictionary!("s15");
#[cfg(feature = "sy")]
diameter_runtime::include_dictionary!("sy");
#[cfg(feature = "np")]
diameter_runtime::include_dictionary!("np");
#[cfg(feature = "gq")]
diameter_runtime::include_dictionary!("gq");
#[cfg(feature = "s6t")]
diameter_runtime::include_dictionary!("s6t");
#[cfg(feature = "t6a")]
diameter_runtime::include_dictionary!("t6a");
#[cfg(feature = "nt")]
diameter_runtime::include_dictionary!("nt");
#[cfg(feature = "s6m")]
diameter_runtime::include_dictionary!("s6m");
#[cfg(feature = "tsp")]
diameter_runtime::include_dictionary!("tsp");
#[cfg(feature = "pc4a")]
diameter_runtime::include_dictionary!("pc4a");
#[cfg(feature = "gmb")]
diameter_runtime::include_dictionary!("gmb");
#[cfg(feature = "sgmb")]
diameter_runtime::include_dictionary!("sgmb");
#[cfg(feature = "mb2c")]
diameter_runtime::include_dictionary!("mb2c");
#[cfg(feature = "zh")]
diameter_runtime::include_dictionary!("zh");
#[cfg(feature = "zn")]
diameter_runtime::include_dictionary!("zn");
#[cfg(feature = "qos")]
diameter_runtime::include_dictionary!("qos");
#[cfg(feature = "nat")]
diameter_runtime::include_dictionary!("nat");

/// The XML source of each bundled dictionary, by file name.
pub const SOURCES: &[(&str, &str)] = &[
    ("base.xml", include_str!("../base.xml")),
    ("accounting.xml", include_str!("../accounting.xml")),
    ("credit_control.xml", include_str!("../credit_control.xml")),
];
