//! What generated and derived code uses: one glob import brings it all in.
//!
//! Not a stable API for hand-written code; use the crate root instead.
#![doc(hidden)]

pub use crate::app::{
    unsupported_command, BoxFuture, Error as NodeError, FromRequest, Handler, Reply, Request,
    ServiceError, ServiceResult,
};
pub use crate::codec::avp::{write_avp_with, AvpCode, AvpFlags, AvpReader, AvpRef, RawAvp};
pub use crate::codec::error::DecodeError;
pub use crate::codec::header::{CommandCode, CommandFlags};
pub use crate::codec::message::{
    decode_field_into, field_len, misplaced, not_allowed, too_few, too_many, unsupported,
    write_field, write_raw, AvpSet, Fill, FillKind, Fillable, Grouped, Message,
};
pub use crate::codec::types::*;
#[cfg(feature = "node")]
pub use crate::node::{Call, Filter, IntoCall, Node};
pub use bytes::{Bytes, BytesMut};
pub use diameter_derive::{Enumerated, Grouped, Message};
pub use std::option::Option::{self, None, Some};
pub use std::result::Result::{self, Err, Ok};
pub use std::sync::Arc;
pub use std::vec::Vec;

/// Generated typed clients, which need the tokio node: kept with the `node` feature, dropped
/// without it (the feature is the runtime's, so generated code needs no `cfg` of its own).
#[cfg(feature = "node")]
#[macro_export]
#[doc(hidden)]
macro_rules! __with_node {
    ($($item:tt)*) => { $($item)* };
}

/// Generated typed clients, which need the tokio node: dropped without the `node` feature.
#[cfg(not(feature = "node"))]
#[macro_export]
#[doc(hidden)]
macro_rules! __with_node {
    ($($item:tt)*) => {};
}
