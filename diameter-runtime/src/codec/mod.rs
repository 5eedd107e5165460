//! The lossless codec: headers, AVPs, data types, typed and dynamic messages. No I/O here.

pub mod avp;
pub mod dynamic;
pub mod error;
pub mod frame;
pub mod header;
pub mod message;
pub mod types;

pub use avp::{AvpCode, AvpFlags, AvpReader, RawAvp};
pub use error::DecodeError;
pub use frame::{FrameError, Framer};
pub use header::{CommandCode, CommandFlags, Header, HEADER_LEN};
pub use message::{AvpSet, Fill, FillKind, Fillable, Grouped, Message};
pub use types::*;
