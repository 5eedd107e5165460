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

/// The XML source of each bundled dictionary, by file name.
pub const SOURCES: &[(&str, &str)] = &[
    ("base.xml", include_str!("../base.xml")),
    ("accounting.xml", include_str!("../accounting.xml")),
    ("credit_control.xml", include_str!("../credit_control.xml")),
];
