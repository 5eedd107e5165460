//! The RFC 6733 base protocol (application 0), base accounting (application 3) and the relay
//! application, generated from `dictionaries/base.xml` and `dictionaries/accounting.xml`.
//!
//! The generated file is checked in; `cargo test -p codegen-tests` fails when it is stale and
//! rewrites it, so a second run passes and `git diff` shows the change.

include!("generated.rs");

pub use self::base::*;
pub use self::base_accounting::{AccountingAnswer, AccountingRequest};
