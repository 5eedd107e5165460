//! What generated and derived code uses: one glob import brings it all in.
//!
//! Not a stable API for hand-written code; use the crate root instead.
#![doc(hidden)]

pub use crate::codec::avp::{AvpFlags, AvpReader, AvpRef, RawAvp};
pub use crate::codec::error::DecodeError;
pub use crate::codec::header::CommandFlags;
pub use crate::codec::message::{
    decode_field_into, encode_field, not_allowed, too_few, too_many, unsupported, AvpSet, Grouped,
    Message,
};
pub use crate::codec::types::*;
pub use crate::node::{
    unsupported_command, BoxFuture, Error as NodeError, Filter, Handler, Node, Reply, Request,
    ServiceError, ServiceResult,
};
pub use bytes::{Bytes, BytesMut};
pub use diameter_derive::{Enumerated, Grouped, Message};
pub use std::option::Option::{self, None, Some};
pub use std::result::Result::{self, Err, Ok};
pub use std::sync::Arc;
pub use std::vec::Vec;
